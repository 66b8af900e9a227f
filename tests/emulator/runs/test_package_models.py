"""Models created from a versioned model package (CreateModel with ``ModelPackageName``), through
boto3 and through the optimized Step Functions task, and the endpoints that serve them."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlpipeline_emulator import ScriptedRuntime
from tests.emulator.runs.helpers import (
    ACCOUNT,
    REGION,
    SAGEMAKER_ROLE,
    RunMachine,
    machine,
    task,
    wait_for,
)

GROUP = "mnist-models"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312"
MODEL_DATA = "s3://artifacts/models/job-7/output/model.tar.gz"
INFERENCE = {
    "Containers": [
        {
            "Image": IMAGE,
            "ModelDataUrl": MODEL_DATA,
            "Environment": {"SAGEMAKER_PROGRAM": "mnist.py", "LOG_LEVEL": "info"},
        }
    ],
    "SupportedContentTypes": ["application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}
UNKNOWN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/9"


@pytest.fixture
def version(sagemaker: Any) -> str:
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification=INFERENCE,
            ModelApprovalStatus="Approved",
        )["ModelPackageArn"]
    )


def _deploy(sagemaker: Any, model: str) -> None:
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{model}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=model, EndpointConfigName=f"{model}-config")
    wait_for(
        lambda: sagemaker.describe_endpoint(EndpointName=model)["EndpointStatus"] == "InService",
        "the endpoint in service",
    )


def test_a_model_of_a_package_that_does_not_exist_is_refused(sagemaker: Any, version: str) -> None:
    with pytest.raises(ClientError) as refused:
        sagemaker.create_model(
            ModelName="from-nothing",
            ExecutionRoleArn=SAGEMAKER_ROLE,
            PrimaryContainer={"ModelPackageName": UNKNOWN},
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == f"ModelPackage {UNKNOWN} does not exist."
    assert sagemaker.list_models()["Models"] == []
    with pytest.raises(ClientError, match="does not exist"):
        sagemaker.create_model(
            ModelName="from-nothing",
            ExecutionRoleArn=SAGEMAKER_ROLE,
            Containers=[{"ModelPackageName": version}, {"ModelPackageName": UNKNOWN}],
        )


def test_describe_model_answers_the_package_container_as_created(
    sagemaker: Any, version: str
) -> None:
    sagemaker.create_model(
        ModelName="from-package",
        ExecutionRoleArn=SAGEMAKER_ROLE,
        PrimaryContainer={"ModelPackageName": version},
        EnableNetworkIsolation=True,
    )
    described = sagemaker.describe_model(ModelName="from-package")
    assert described["PrimaryContainer"] == {"ModelPackageName": version}
    assert described["EnableNetworkIsolation"] is True
    assert described["ExecutionRoleArn"] == SAGEMAKER_ROLE
    assert "Containers" not in described and "VpcConfig" not in described


def test_the_endpoint_serves_the_packages_container(
    runtime: ScriptedRuntime, sagemaker: Any, version: str
) -> None:
    sagemaker.create_model(
        ModelName="from-package",
        ExecutionRoleArn=SAGEMAKER_ROLE,
        PrimaryContainer={"ModelPackageName": version, "Environment": {"LOG_LEVEL": "debug"}},
    )
    _deploy(sagemaker, "from-package")
    (deployment,) = runtime.deployments
    (container,) = deployment.variants[0].containers
    assert container.image == IMAGE
    assert container.model_data_url == MODEL_DATA
    assert container.environment == {"SAGEMAKER_PROGRAM": "mnist.py", "LOG_LEVEL": "debug"}


def test_a_version_is_also_named_group_slash_version(
    runtime: ScriptedRuntime, sagemaker: Any, version: str
) -> None:
    sagemaker.create_model(
        ModelName="by-name",
        ExecutionRoleArn=SAGEMAKER_ROLE,
        Containers=[{"ModelPackageName": f"{GROUP}/1"}],
    )
    _deploy(sagemaker, "by-name")
    (container,) = runtime.deployments[0].variants[0].containers
    assert container.model_data_url == MODEL_DATA


def _create_model_task(package: str) -> dict[str, Any]:
    return machine(
        "CreateModel",
        CreateModel=task(
            "arn:aws:states:::sagemaker:createModel",
            {
                "ModelName": "deployed",
                "ExecutionRoleArn": SAGEMAKER_ROLE,
                "PrimaryContainer": {"ModelPackageName": package},
                "EnableNetworkIsolation": True,
            },
        ),
    )


def test_optimized_create_model_from_a_package(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any, version: str
) -> None:
    execution = run_machine(_create_model_task(version))
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output == {"ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/deployed"}
    assert sagemaker.describe_model(ModelName="deployed")["EnableNetworkIsolation"] is True
    _deploy(sagemaker, "deployed")
    (container,) = runtime.deployments[0].variants[0].containers
    assert (container.image, container.model_data_url) == (IMAGE, MODEL_DATA)


def test_optimized_create_model_of_an_unknown_package_fails_the_task(
    run_machine: RunMachine, version: str
) -> None:
    execution = run_machine(_create_model_task(UNKNOWN))
    assert execution.status == "FAILED"
    assert execution.error == "SageMaker.AmazonSageMakerException"
    assert execution.cause is not None
    assert execution.cause.startswith(f"ModelPackage {UNKNOWN} does not exist. (Service: ")
