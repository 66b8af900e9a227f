"""Serverless endpoints, executed: a pipeline built with ``serving.serverless`` creates its
endpoint serverless, updates it on the next run, serves ``mlpipeline predict`` through the same
handlers; and the emulator refuses what SageMaker documents it refuses of serverless variants."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from mlpipeline_cdk import ServerlessSettings, ServingSettings
from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli.cli import main
from tests.emulator.runs.helpers import REGION, SAGEMAKER_ROLE, wait_for
from tests.emulator.runs.serving_runs import ENDPOINT, Pipeline, running, template

pytestmark = pytest.mark.slow

SERVERLESS = {"MemorySizeInMB": 3072, "MaxConcurrency": 8, "ProvisionedConcurrency": 1}


@pytest.fixture(scope="module")
def synthesized() -> dict[str, Any]:
    settings = ServerlessSettings(memory_size_mb=3072, max_concurrency=8, provisioned_concurrency=1)
    return template(serving=ServingSettings(serverless=settings))


@pytest.fixture
def pipeline(synthesized: dict[str, Any]) -> Iterator[Pipeline]:
    yield from running(synthesized)


def _variant(pipeline: Pipeline) -> dict[str, Any]:
    (variant,) = pipeline.sagemaker.describe_endpoint(EndpointName=ENDPOINT)["ProductionVariants"]
    return dict(variant)


def test_a_run_creates_a_serverless_endpoint_and_the_next_updates_it(
    pipeline: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = pipeline.run()
    assert first.status == "SUCCEEDED", first.cause
    assert first.output["deploymentStatus"] == "Deployed"
    variant = _variant(pipeline)
    assert variant["VariantName"] == "AllTraffic"
    assert variant["CurrentServerlessConfig"] == variant["DesiredServerlessConfig"] == SERVERLESS
    assert "CurrentInstanceCount" not in variant
    (deployed,) = pipeline.runtime.deployments
    assert deployed.variants[0].instance_type is None
    config = pipeline.sagemaker.describe_endpoint_config(
        EndpointConfigName=first.output["endpointConfigName"]
    )
    (configured,) = config["ProductionVariants"]
    assert configured["ServerlessConfig"] == SERVERLESS and "InstanceType" not in configured

    second = pipeline.run()
    assert second.status == "SUCCEEDED", second.cause
    assert second.output["endpointConfigName"] != first.output["endpointConfigName"]
    described = pipeline.sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert described["EndpointConfigName"] == second.output["endpointConfigName"]
    assert _variant(pipeline)["CurrentServerlessConfig"] == SERVERLESS
    assert [d.previous_config_name for d in pipeline.runtime.deployments] == [
        None,
        first.output["endpointConfigName"],
    ]

    np.save(tmp_path / "digits.npy", np.zeros((2, 784), dtype=np.uint8))
    argv = ["predict", str(tmp_path / "digits.npy"), "--endpoint-name", ENDPOINT, "--json"]
    assert main(argv, clients=AwsClients(region=REGION)) == 0
    report = json.loads(capsys.readouterr().out)
    assert [p["label"] for p in report["predictions"]] == [7, 7]


def _wait_in_service(sagemaker: Any, name: str) -> None:
    wait_for(
        lambda: sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService",
        f"endpoint {name}",
    )


def _instance_config(sagemaker: Any, name: str, **variant: Any) -> None:
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m", **variant}],
    )


def test_an_instance_endpoint_cannot_be_updated_to_serverless_but_back_it_can(
    pipeline: Pipeline,
) -> None:
    sagemaker = pipeline.sagemaker
    sagemaker.create_model(
        ModelName="m",
        ExecutionRoleArn=SAGEMAKER_ROLE,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/i:1"},
    )
    _instance_config(sagemaker, "on-instances", InstanceType="ml.m5.large", InitialInstanceCount=1)
    _instance_config(
        sagemaker, "serverless", ServerlessConfig={"MemorySizeInMB": 2048, "MaxConcurrency": 2}
    )
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="on-instances")
    _wait_in_service(sagemaker, "e")
    with pytest.raises(ClientError) as refused:
        sagemaker.update_endpoint(EndpointName="e", EndpointConfigName="serverless")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "cannot be converted to serverless" in refused.value.response["Error"]["Message"]

    sagemaker.create_endpoint(EndpointName="s", EndpointConfigName="serverless")
    _wait_in_service(sagemaker, "s")
    sagemaker.update_endpoint(EndpointName="s", EndpointConfigName="on-instances")


@pytest.mark.parametrize(
    ("variant", "extra", "message"),
    [
        (
            {
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2},
                "InstanceType": "ml.m5.large",
            },
            {},
            "has both ServerlessConfig and InstanceType",
        ),
        (
            {
                "ServerlessConfig": {
                    "MemorySizeInMB": 2048,
                    "MaxConcurrency": 2,
                    "ProvisionedConcurrency": 3,
                }
            },
            {},
            "must be less than or equal to MaxConcurrency (2)",
        ),
        (
            {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2}},
            {
                "DataCaptureConfig": {
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": "s3://b/capture",
                    "CaptureOptions": [{"CaptureMode": "Input"}],
                }
            },
            "do not support data capture",
        ),
    ],
)
def test_the_emulator_refuses_what_sagemaker_refuses_of_serverless_variants(
    pipeline: Pipeline, variant: dict[str, Any], extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ClientError) as refused:
        pipeline.sagemaker.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "m", **variant}],
            **extra,
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert message in refused.value.response["Error"]["Message"]
