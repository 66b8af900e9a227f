"""The emulator refuses the SageMaker requests SageMaker refuses, on every path a request takes:
API calls in process and over HTTP, and both Step Functions integrations for SageMaker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mlpipeline_emulator import ScriptedRuntime
from mlpipeline_emulator._stepfunctions_sagemaker import error_name
from mlpipeline_emulator.server import LocalServer, serve
from tests.emulator.runs.helpers import (
    REGION,
    SAGEMAKER_ROLE,
    RunMachine,
    machine,
    task,
    wait_for,
)

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BAD_NAME_MESSAGE = (
    "1 validation error detected: Value 'a b' at 'trainingJobName' failed to satisfy "
    "constraint: Member must satisfy regular expression pattern: "
    "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
)
LOCAL_STORAGE_MESSAGE = (
    "You can't request a VolumeKmsKeyId when using an instance type with local storage"
)


def job(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": "job-1",
        "RoleArn": SAGEMAKER_ROLE,
        "AlgorithmSpecification": {"TrainingImage": "image", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://artifacts/models"},
        "ResourceConfig": {
            "InstanceCount": 1,
            "InstanceType": "ml.m5.xlarge",
            "VolumeSizeInGB": 10,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    request.update(overrides)
    return request


def local_storage_with_key() -> dict[str, Any]:
    return {
        "InstanceCount": 1,
        "InstanceType": "ml.g5.xlarge",
        "VolumeSizeInGB": 10,
        "VolumeKmsKeyId": KEY,
    }


def unchecked(service: str, **kwargs: Any) -> Any:
    """A client that sends whatever it is given, as Step Functions' integrations do."""
    return boto3.client(
        service, region_name=REGION, config=Config(parameter_validation=False), **kwargs
    )


def assert_validation(caught: pytest.ExceptionInfo[ClientError], message: str) -> None:
    response = caught.value.response
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"].startswith(message)


# --- direct calls -----------------------------------------------------------------------------


def test_an_invalid_request_is_refused_in_process(aws: None) -> None:
    with pytest.raises(ClientError) as caught:
        unchecked("sagemaker").create_training_job(**job(TrainingJobName="a b"))
    assert_validation(caught, BAD_NAME_MESSAGE)


def test_a_cross_field_rule_is_refused_in_process(aws: None) -> None:
    with pytest.raises(ClientError) as caught:
        unchecked("sagemaker").create_training_job(**job(ResourceConfig=local_storage_with_key()))
    assert_validation(caught, LOCAL_STORAGE_MESSAGE)


def test_a_refused_request_creates_nothing(aws: None, sagemaker: Any) -> None:
    with pytest.raises(ClientError):
        unchecked("sagemaker").create_model(
            ModelName="m", ExecutionRoleArn="not-a-role", PrimaryContainer={"Image": "i"}
        )
    assert sagemaker.list_models()["Models"] == []


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serve(0, ScriptedRuntime()) as running:
        yield running


def test_an_invalid_request_is_refused_over_http(server: LocalServer) -> None:
    client = unchecked(
        "sagemaker",
        endpoint_url=server.endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    with pytest.raises(ClientError) as caught:
        client.create_training_job(**job(TrainingJobName="a b"))
    assert_validation(caught, BAD_NAME_MESSAGE)
    with pytest.raises(ClientError) as caught:
        client.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.nope.large"}
            ],
        )
    assert_validation(
        caught,
        "1 validation error detected: Value 'ml.nope.large' at "
        "'productionVariants.1.member.instanceType' failed to satisfy constraint: Member must "
        "satisfy enum value set: [",
    )


# --- Step Functions ---------------------------------------------------------------------------

OPTIMIZED = "arn:aws:states:::sagemaker:createTrainingJob"
AWS_SDK = "arn:aws:states:::aws-sdk:sagemaker:createTrainingJob"


@pytest.mark.parametrize("resource", [OPTIMIZED, f"{OPTIMIZED}.sync"])
def test_the_optimized_integration_gets_sagemakers_refusal(
    run_machine: RunMachine, resource: str
) -> None:
    ended = run_machine(machine("Train", Train=task(resource, job(TrainingJobName="a b"))))
    assert ended.status == "FAILED"
    assert ended.error == error_name("ValidationException")
    assert ended.cause is not None
    assert ended.cause.startswith(BAD_NAME_MESSAGE)
    assert "Status Code: 400; Error Code: ValidationException" in ended.cause


def test_the_optimized_integration_gets_the_local_storage_refusal(run_machine: RunMachine) -> None:
    parameters = job(ResourceConfig=local_storage_with_key())
    ended = run_machine(machine("Train", Train=task(OPTIMIZED, parameters)))
    assert ended.status == "FAILED"
    assert ended.cause is not None
    assert ended.cause.startswith(LOCAL_STORAGE_MESSAGE)


def test_the_aws_sdk_integration_gets_sagemakers_refusal(run_machine: RunMachine) -> None:
    ended = run_machine(machine("Train", Train=task(AWS_SDK, job(TrainingJobName="a b"))))
    assert ended.status == "FAILED"
    assert ended.error is not None
    assert ended.error.startswith("SageMaker.")
    assert ended.cause is not None
    assert BAD_NAME_MESSAGE in ended.cause


def test_a_valid_request_still_trains(run_machine: RunMachine) -> None:
    ended = run_machine(machine("Train", Train=task(f"{OPTIMIZED}.sync", job())))
    assert ended.status == "SUCCEEDED", ended.cause
    assert ended.output["TrainingJobStatus"] == "Completed"


def test_invoke_endpoint_is_checked_against_the_runtime_api(
    runtime: ScriptedRuntime, aws: None, sagemaker: Any
) -> None:
    sagemaker.create_model(
        ModelName="m", ExecutionRoleArn=SAGEMAKER_ROLE, PrimaryContainer={"Image": "i"}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="c",
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": "m",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="c")
    wait_for(
        lambda: sagemaker.describe_endpoint(EndpointName="e")["EndpointStatus"] == "InService",
        "the endpoint",
    )
    client = unchecked("sagemaker-runtime")
    assert client.invoke_endpoint(EndpointName="e", Body=b"{}")["Body"].read() == b"{}"

    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName="e", Body=b"x" * (6 * 1024 * 1024 + 1))
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["Error"]["Message"] == (
        "1 validation error detected: Value at 'body' failed to satisfy constraint: "
        "Member must have length less than or equal to 6291456"
    )
    with pytest.raises(ClientError, match="at 'contentType' failed to satisfy constraint"):
        client.invoke_endpoint(EndpointName="e", Body=b"{}", ContentType="x" * 1025)
