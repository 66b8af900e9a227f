"""Models, endpoint configurations and endpoints through the local SageMaker integration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from mlpipeline_emulator import (
    HostingOutcome,
    InvocationResult,
    ModelError,
    ScriptedRuntime,
)
from tests.emulator.runs.helpers import (
    ACCOUNT,
    REGION,
    SAGEMAKER_ROLE,
    RunMachine,
    machine,
    task,
    wait_for,
)

# Slow: executes endpoint tasks in the emulator; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

SM = "arn:aws:states:::sagemaker"
SDK = "arn:aws:states:::aws-sdk:sagemaker"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6"
ENDPOINT_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/mnist"


def deploy_machine(config: str = "cfg-1") -> dict[str, Any]:
    """createModel → createEndpointConfig → createEndpoint, then describeEndpoint in a Wait loop
    until the endpoint leaves Creating, the way a deployment state machine does."""
    return machine(
        "CreateModel",
        CreateModel=task(
            f"{SM}:createModel",
            {
                "ModelName": f"model-{config}",
                "ExecutionRoleArn": SAGEMAKER_ROLE,
                "PrimaryContainer": {
                    "Image": IMAGE,
                    "ModelDataUrl": "s3://artifacts/models/job/output/model.tar.gz",
                    "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
                },
            },
            ResultPath="$.model",
            Next="CreateEndpointConfig",
        ),
        CreateEndpointConfig=task(
            f"{SM}:createEndpointConfig",
            {
                "EndpointConfigName": config,
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": f"model-{config}",
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 1,
                    }
                ],
            },
            ResultPath="$.config",
            Next="CreateEndpoint",
        ),
        CreateEndpoint=task(
            f"{SM}:createEndpoint",
            {"EndpointName": "mnist", "EndpointConfigName": config},
            ResultPath="$.endpoint",
            Next="Wait",
        ),
        Wait={"Type": "Wait", "Seconds": 0, "Next": "Describe"},
        Describe=task(
            f"{SDK}:describeEndpoint",
            {"EndpointName": "mnist"},
            ResultPath="$.status",
            Next="Done?",
        ),
        **{
            "Done?": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.status.EndpointStatus",
                        "StringEquals": "Creating",
                        "Next": "Wait",
                    },
                    {
                        "Variable": "$.status.EndpointStatus",
                        "StringEquals": "InService",
                        "Next": "Ok",
                    },
                ],
                "Default": "DeployFailed",
            },
            "Ok": {"Type": "Succeed"},
            "DeployFailed": {
                "Type": "Fail",
                "Error": "DeploymentFailed",
                "CausePath": "$.status.FailureReason",
            },
        },
    )


def config_machine(config: str) -> dict[str, Any]:
    """Just the model and endpoint configuration of ``deploy_machine``."""
    definition = deploy_machine(config)
    definition["States"]["CreateEndpointConfig"].pop("Next")
    definition["States"]["CreateEndpointConfig"]["End"] = True
    return definition


def update_machine(config: str) -> dict[str, Any]:
    return machine(
        "Update",
        Update=task(
            f"{SM}:updateEndpoint", {"EndpointName": "mnist", "EndpointConfigName": config}
        ),
    )


def in_service(sagemaker: Any) -> Callable[[], bool]:
    return lambda: (
        sagemaker.describe_endpoint(EndpointName="mnist")["EndpointStatus"] == ("InService")
    )


def test_deploy_chain_reaches_in_service(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any
) -> None:
    runtime.script_hosting(HostingOutcome.in_service(), seconds=0.5)

    result = run_machine(deploy_machine("cfg-1"))

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["model"] == {
        "ModelArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/model-cfg-1"
    }
    assert result.output["config"] == {
        "EndpointConfigArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/cfg-1"
    }
    assert result.output["endpoint"] == {"EndpointArn": ENDPOINT_ARN}
    polls = [e for e in result.history if e["type"] == "TaskSucceeded"]
    assert len(polls) >= 4, "the endpoint was Creating when first described"
    endpoint = sagemaker.describe_endpoint(EndpointName="mnist")
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == "cfg-1"
    assert endpoint["EndpointArn"] == ENDPOINT_ARN
    assert "FailureReason" not in endpoint
    assert endpoint["ProductionVariants"][0]["VariantName"] == "AllTraffic"
    assert endpoint["LastModifiedTime"] >= endpoint["CreationTime"]


def test_host_receives_the_models_containers(
    runtime: ScriptedRuntime, run_machine: RunMachine
) -> None:
    run_machine(deploy_machine("cfg-1"))

    (deployment,) = runtime.deployments
    assert deployment.endpoint_name == "mnist"
    assert deployment.endpoint_config_name == "cfg-1"
    assert deployment.previous_config_name is None
    (variant,) = deployment.variants
    assert variant.model_name == "model-cfg-1"
    assert variant.initial_instance_count == 1
    (container,) = variant.containers
    assert container.image == IMAGE
    assert container.model_data_url == "s3://artifacts/models/job/output/model.tar.gz"
    assert container.environment == {"SAGEMAKER_PROGRAM": "inference.py"}


def test_failed_deployment_ends_failed_with_its_reason(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any
) -> None:
    runtime.script_hosting(HostingOutcome.failed("The primary container failed to start."))

    result = run_machine(deploy_machine("cfg-1"))

    assert result.status == "FAILED"
    assert result.error == "DeploymentFailed"
    assert result.cause == "The primary container failed to start."
    endpoint = sagemaker.describe_endpoint(EndpointName="mnist")
    assert endpoint["EndpointStatus"] == "Failed"
    assert endpoint["FailureReason"] == "The primary container failed to start."


def test_update_endpoint_serves_the_new_configuration(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any
) -> None:
    run_machine(deploy_machine("cfg-1"))
    run_machine(config_machine("cfg-2"))
    runtime.script_hosting(HostingOutcome.in_service(), seconds=1)

    result = run_machine(update_machine("cfg-2"))

    assert result.output == {"EndpointArn": ENDPOINT_ARN}
    assert sagemaker.describe_endpoint(EndpointName="mnist")["EndpointStatus"] == "Updating"
    wait_for(in_service(sagemaker), "the update")
    endpoint = sagemaker.describe_endpoint(EndpointName="mnist")
    assert endpoint["EndpointConfigName"] == "cfg-2"
    assert "FailureReason" not in endpoint
    assert runtime.deployments[-1].previous_config_name == "cfg-1"


def test_failed_update_rolls_back_to_the_old_configuration(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any
) -> None:
    run_machine(deploy_machine("cfg-1"))
    run_machine(config_machine("cfg-2"))
    runtime.script_hosting(
        HostingOutcome.failed("Model cfg-2 failed health checks."), config_name="cfg-2"
    )

    run_machine(update_machine("cfg-2"))
    wait_for(in_service(sagemaker), "the rollback")

    endpoint = sagemaker.describe_endpoint(EndpointName="mnist")
    assert endpoint["EndpointConfigName"] == "cfg-1"
    assert endpoint["FailureReason"] == "Model cfg-2 failed health checks."


def test_update_while_creating_is_refused(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any
) -> None:
    runtime.script_hosting(HostingOutcome.in_service(), seconds=5)
    run_machine(config_machine("cfg-1"))
    sagemaker.create_endpoint(EndpointName="mnist", EndpointConfigName="cfg-1")

    result = run_machine(update_machine("cfg-1"))

    assert result.error == "SageMaker.AmazonSageMakerException"
    assert result.cause is not None
    assert result.cause.startswith(f'Cannot update in-progress endpoint "{ENDPOINT_ARN}".')


def test_updating_a_failed_or_missing_endpoint_is_refused(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any
) -> None:
    with pytest.raises(sagemaker.exceptions.ClientError, match="Could not find endpoint"):
        sagemaker.update_endpoint(EndpointName="mnist", EndpointConfigName="cfg-1")
    runtime.script_hosting(HostingOutcome.failed("no capacity"))
    run_machine(deploy_machine("cfg-1"))

    with pytest.raises(sagemaker.exceptions.ClientError, match="Cannot update failed endpoint"):
        sagemaker.update_endpoint(EndpointName="mnist", EndpointConfigName="cfg-1")


def test_describing_a_missing_endpoint_fails_with_could_not_find(run_machine: RunMachine) -> None:
    definition = machine(
        "Describe", Describe=task(f"{SDK}:describeEndpoint", {"EndpointName": "mnist"})
    )

    result = run_machine(definition)

    assert result.status == "FAILED"
    assert result.error == "SageMaker.SageMakerException"
    assert result.cause is not None
    assert result.cause.startswith(f"Could not find endpoint '{ENDPOINT_ARN}'.")


def test_missing_endpoint_is_detected_by_matching_the_cause(run_machine: RunMachine) -> None:
    definition = machine(
        "Describe",
        Describe=task(
            f"{SDK}:describeEndpoint",
            {"EndpointName": "mnist"},
            Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Missing?"}],
            ResultPath="$.endpoint",
            Next="Exists",
        ),
        **{
            "Missing?": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Variable": "$.error.Cause",
                        "StringMatches": "*Could not find endpoint*",
                        "Next": "Create",
                    }
                ],
                "Default": "Broken",
            },
            "Create": {"Type": "Pass", "Result": {"action": "create"}, "End": True},
            "Exists": {"Type": "Pass", "Result": {"action": "update"}, "End": True},
            "Broken": {"Type": "Fail"},
        },
    )

    assert run_machine(definition).output == {"action": "create"}


def test_client_error_names_the_amazon_sagemaker_exception(run_machine: RunMachine) -> None:
    definition = machine(
        "Create",
        Create=task(
            f"{SM}:createEndpoint", {"EndpointName": "mnist", "EndpointConfigName": "nope"}
        ),
    )

    result = run_machine(definition)

    assert result.error == "SageMaker.AmazonSageMakerException"
    config_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint-config/nope"
    assert result.cause is not None
    assert result.cause.startswith(f"Could not find endpoint configuration '{config_arn}'.")
    assert (
        "(Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; "
        "Request ID: " in result.cause
    )
    assert result.cause.endswith("; Proxy: null)")


def test_creating_an_existing_endpoint_is_refused(run_machine: RunMachine, sagemaker: Any) -> None:
    run_machine(deploy_machine("cfg-1"))

    with pytest.raises(sagemaker.exceptions.ClientError, match="Cannot create already existing"):
        sagemaker.create_endpoint(EndpointName="mnist", EndpointConfigName="cfg-1")


def test_delete_endpoint_works_while_creating(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any
) -> None:
    runtime.script_hosting(HostingOutcome.in_service(), seconds=5)
    run_machine(config_machine("cfg-1"))
    sagemaker.create_endpoint(EndpointName="mnist", EndpointConfigName="cfg-1")
    definition = machine(
        "Delete",
        Delete=task(f"{SDK}:deleteEndpoint", {"EndpointName": "mnist"}, Next="DeleteConfig"),
        DeleteConfig=task(
            f"{SDK}:deleteEndpointConfig", {"EndpointConfigName": "cfg-1"}, Next="DeleteModel"
        ),
        DeleteModel=task(f"{SDK}:deleteModel", {"ModelName": "model-cfg-1"}),
    )

    result = run_machine(definition)

    assert result.status == "SUCCEEDED", result.cause
    assert runtime.undeployed == ["mnist"]
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []


def test_invoke_endpoint_goes_to_the_host(
    runtime: ScriptedRuntime, run_machine: RunMachine, aws: None
) -> None:
    run_machine(deploy_machine("cfg-1"))
    client = boto3.client("sagemaker-runtime", region_name=REGION)

    echoed = client.invoke_endpoint(
        EndpointName="mnist", Body=b'{"x": 1}', ContentType="application/json"
    )
    assert echoed["Body"].read() == b'{"x": 1}'
    assert runtime.invocations[0].endpoint_config_name == "cfg-1"

    runtime.respond_with(lambda request: InvocationResult(body=b"7", content_type="text/csv"))
    assert client.invoke_endpoint(EndpointName="mnist", Body=b"...")["Body"].read() == b"7"

    def fail(request: Any) -> InvocationResult:
        raise ModelError("tensor shape mismatch")

    runtime.respond_with(fail)
    with pytest.raises(client.exceptions.ModelError, match="tensor shape mismatch"):
        client.invoke_endpoint(EndpointName="mnist", Body=b"...")
    with pytest.raises(client.exceptions.ClientError, match="Endpoint other of account"):
        client.invoke_endpoint(EndpointName="other", Body=b"...")
