"""Invocation metrics: every InvokeEndpoint the emulator serves is recorded as SageMaker records
it (AWS/SageMaker, dimensions EndpointName and VariantName; monitoring-cloudwatch.html), so
GetMetricData answers what the idle check and people ask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from mlpipeline_emulator import InvocationResult, ModelError, ScriptedRuntime
from mlpipeline_emulator._endpoint_metrics import age
from tests.emulator.runs.helpers import ACCOUNT, REGION, SAGEMAKER_ROLE, wait_for

pytestmark = pytest.mark.slow

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6"
NAMES = ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors", "ModelLatency",
         "OverheadLatency")  # fmt: skip


@pytest.fixture
def endpoint(sagemaker: Any) -> str:
    sagemaker.create_model(
        ModelName="model-1",
        ExecutionRoleArn=SAGEMAKER_ROLE,
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": "s3://artifacts/models/job/output/model.tar.gz",
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="cfg-1",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "model-1",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="mnist", EndpointConfigName="cfg-1")
    wait_for(
        lambda: sagemaker.describe_endpoint(EndpointName="mnist")["EndpointStatus"] == "InService",
        "the endpoint",
    )
    return "mnist"


def _query(name: str, stat: str) -> dict[str, Any]:
    return {
        "Id": name.lower(),
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/SageMaker",
                "MetricName": name,
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "mnist"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
            },
            "Period": 3600,
            "Stat": stat,
        },
    }


def _sums(start: datetime) -> dict[str, float]:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[_query(n, "Sum") for n in NAMES],
        StartTime=start,
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
    )
    ids = {n.lower(): n for n in NAMES}
    return {ids[r["Id"]]: sum(r["Values"]) for r in answer["MetricDataResults"]}


def _invoke() -> None:
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    runtime.invoke_endpoint(EndpointName="mnist", Body=b"[1]", ContentType="application/json")


def test_each_request_is_counted_with_its_latencies_in_microseconds(
    runtime: ScriptedRuntime, endpoint: str
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    for _ in range(3):
        _invoke()

    sums = _sums(start)

    assert sums["Invocations"] == 3
    assert sums["Invocation4XXErrors"] == 0 and sums["Invocation5XXErrors"] == 0
    # Microseconds: a scripted answer takes well under a second, but not zero microseconds.
    assert 0 < sums["ModelLatency"] < 3_000_000
    assert sums["OverheadLatency"] >= 0


def test_a_model_error_counts_as_an_invocation_and_a_5xx(
    runtime: ScriptedRuntime, endpoint: str
) -> None:
    def fail(request: Any) -> InvocationResult:
        raise ModelError("the model raised")

    runtime.respond_with(fail)
    start = datetime.now(UTC) - timedelta(minutes=1)
    runtime_client = boto3.client("sagemaker-runtime", region_name=REGION)
    with pytest.raises(runtime_client.exceptions.ModelError):
        _invoke()

    sums = _sums(start)

    assert sums["Invocations"] == 1 and sums["Invocation5XXErrors"] == 1


def test_requests_refused_before_the_endpoint_are_not_counted(
    runtime: ScriptedRuntime, endpoint: str
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    runtime_client = boto3.client("sagemaker-runtime", region_name=REGION)
    with pytest.raises(runtime_client.exceptions.ClientError):
        runtime_client.invoke_endpoint(EndpointName="nope", Body=b"[1]")

    assert _sums(start).get("Invocations", 0) == 0


def test_aged_data_points_fall_out_of_a_recent_window(
    runtime: ScriptedRuntime, endpoint: str
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    _invoke()

    assert age(ACCOUNT, REGION, "mnist", timedelta(hours=2)) == len(NAMES)

    assert _sums(start).get("Invocations", 0) == 0
    assert _sums(start - timedelta(hours=3))["Invocations"] == 1
