"""UpdateEndpoint with a blue/green DeploymentConfig, called directly: what the emulator refuses as
SageMaker does, how traffic moves between the fleets, and a rollback on an alarm."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from mlpipeline_emulator import (
    InvocationRequest,
    InvocationResult,
    ScriptedRuntime,
    local_sagemaker,
)
from tests.emulator.runs.helpers import REGION, SAGEMAKER_ROLE, wait_for

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6"


@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    # SageMaker-side waits are scaled like Wait states: an hour's bake takes 3.6 s.
    with local_sagemaker(ScriptedRuntime(), wait_scale=0.001) as active:
        assert isinstance(active, ScriptedRuntime)
        yield active


def _answer_with_config(request: InvocationRequest) -> InvocationResult:
    return InvocationResult(body=request.endpoint_config_name.encode(), content_type="text/plain")


def _config(sagemaker: Any, name: str) -> None:
    sagemaker.create_model(
        ModelName=f"model-{name}",
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://artifacts/model.tar.gz"},
        ExecutionRoleArn=SAGEMAKER_ROLE,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"model-{name}",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )


def _in_service(sagemaker: Any) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: (
                (e := sagemaker.describe_endpoint(EndpointName="mnist"))["EndpointStatus"]
                == "InService"
                and e
            ),
            "the endpoint in service",
        )
    )


@pytest.fixture
def endpoint(sagemaker: Any, runtime: ScriptedRuntime) -> Any:
    runtime.respond_with(_answer_with_config)
    _config(sagemaker, "cfg-1")
    _config(sagemaker, "cfg-2")
    sagemaker.create_endpoint(EndpointName="mnist", EndpointConfigName="cfg-1")
    _in_service(sagemaker)
    return sagemaker


def _answers(times: int = 30) -> set[str]:
    client = boto3.client("sagemaker-runtime", region_name=REGION)
    return {
        client.invoke_endpoint(EndpointName="mnist", Body=b"{}")["Body"].read().decode()
        for _ in range(times)
    }


def _blue_green(routing: dict[str, Any], **policy: Any) -> dict[str, Any]:
    return {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": routing, **policy}}


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        (
            _blue_green({"Type": "CANARY", "WaitIntervalInSeconds": 3601}),
            "WaitIntervalInSeconds",
        ),
        (_blue_green({"Type": "CANARY", "WaitIntervalInSeconds": 60}), "CanarySize"),
        (_blue_green({"Type": "LINEAR", "WaitIntervalInSeconds": 60}), "LinearStepSize"),
        (
            _blue_green(
                {
                    "Type": "CANARY",
                    "WaitIntervalInSeconds": 60,
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 60},
                }
            ),
            "CanarySize.Value must be between 1 and 50",
        ),
        (
            _blue_green(
                {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}, TerminationWaitInSeconds=3601
            ),
            "TerminationWaitInSeconds",
        ),
    ],
)
def test_what_sagemaker_refuses_is_refused(
    endpoint: Any, deployment: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError, match=f"(?i){message}") as refused:
        endpoint.update_endpoint(
            EndpointName="mnist", EndpointConfigName="cfg-2", DeploymentConfig=deployment
        )
    assert refused.value.response["Error"]["Code"] in {"ValidationException", "ValidationError"}
    assert endpoint.describe_endpoint(EndpointName="mnist")["EndpointStatus"] == "InService"


def test_a_linear_rollout_answers_from_both_fleets_then_from_the_new_one(endpoint: Any) -> None:
    deployment = _blue_green(
        {
            "Type": "LINEAR",
            "WaitIntervalInSeconds": 3600,
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
        },
        TerminationWaitInSeconds=0,
    )
    endpoint.update_endpoint(
        EndpointName="mnist", EndpointConfigName="cfg-2", DeploymentConfig=deployment
    )
    updating = endpoint.describe_endpoint(EndpointName="mnist")
    assert updating["EndpointStatus"] == "Updating"
    assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == "cfg-2"
    wait_for(lambda: _answers() == {"cfg-1", "cfg-2"}, "half the traffic on each fleet")
    done = _in_service(endpoint)
    assert done["EndpointConfigName"] == "cfg-2"
    assert done["LastDeploymentConfig"] == deployment
    assert "PendingDeploymentSummary" not in done
    assert _answers() == {"cfg-2"}


def test_an_alarm_in_alarm_rolls_the_update_back_to_the_old_fleet(
    endpoint: Any, runtime: ScriptedRuntime
) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName="errors",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="errors", StateValue="ALARM", StateReason="3 errors")
    endpoint.update_endpoint(
        EndpointName="mnist",
        EndpointConfigName="cfg-2",
        DeploymentConfig={
            **_blue_green(
                {
                    "Type": "CANARY",
                    "WaitIntervalInSeconds": 600,
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                }
            ),
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "errors"}]},
        },
    )
    rolled_back = wait_for(
        lambda: (
            (e := endpoint.describe_endpoint(EndpointName="mnist")).get("FailureReason")
            and e["EndpointStatus"] == "InService"
            and e
        ),
        "the rollback",
    )
    assert rolled_back["EndpointConfigName"] == "cfg-1"
    assert "errors" in rolled_back["FailureReason"]
    assert _answers() == {"cfg-1"}
    # The new fleet was brought up beside the old one, then taken down.
    green = runtime.deployments[-1].endpoint_name
    assert green != "mnist" and green in runtime.undeployed


def test_deleting_the_endpoint_mid_rollout_takes_the_new_fleet_down(
    endpoint: Any, runtime: ScriptedRuntime
) -> None:
    endpoint.update_endpoint(
        EndpointName="mnist",
        EndpointConfigName="cfg-2",
        DeploymentConfig=_blue_green(
            {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 3600,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            }
        ),
    )
    wait_for(lambda: len(runtime.deployments) == 2, "the new fleet")
    green = runtime.deployments[-1].endpoint_name
    endpoint.delete_endpoint(EndpointName="mnist")
    wait_for(lambda: green in runtime.undeployed, "the new fleet taken down")
