"""The state machine definition, rendered to plain ASL and asserted as data.

What the definition does when it runs is tested by executing it (test_state_machine_runs.py);
these tests pin its shape: states, order, integrations, parameters.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import botocore.session
import pytest

from mlpipeline_cdk.contract.script import METRIC_DEFINITIONS
from mlpipeline_cdk.steps import RUN_INPUT_KEYS
from mlpipeline_cli.asl import render_definition


@pytest.fixture(scope="module")
def asl(ml_template_json: dict[str, Any]) -> dict[str, Any]:
    return render_definition(ml_template_json)


def _next_states(state: dict[str, Any]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [catch["Next"] for catch in state.get("Catch", [])]
    return [t for t in targets if t]


def _reaches_without_failing(asl: dict[str, Any], start: str, goal: str) -> bool:
    """Whether ``goal`` follows ``start`` on some path that does not go through a failure."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name == goal:
            return True
        if name in seen or name == "NotifyFailure":
            continue
        seen.add(name)
        state = asl["States"][name]
        todo.extend(
            t for t in _next_states(state) if t not in {c["Next"] for c in state.get("Catch", [])}
        )
    return False


def test_main_path_prepares_trains_evaluates_and_deploys(asl: dict[str, Any]) -> None:
    landmarks = [
        "ApplyRunDefaults",
        "ValidateRunInput",
        "CheckHyperparameterValues",
        "RunConfigured",
        "Train",
        "IsModelGoodEnough",
        "ModelAccepted",
        "CreateModel",
        "CreateEndpointConfig",
        "FindEndpoint",
        "CreateOrUpdate",
        "UpdateEndpoint",
        "WaitForEndpoint",
        "DescribeEndpoint",
        "CheckEndpoint",
        "EndpointInService",
    ]
    assert asl["StartAt"] == landmarks[0]
    for start, goal in itertools.pairwise(landmarks):
        assert _reaches_without_failing(asl, start, goal), (start, goal)
    # The endpoint does not exist yet: the failed lookup leads to CreateEndpoint.
    assert _reaches_without_failing(asl, "EndpointExists", "CreateEndpoint")
    assert asl["States"]["FindEndpoint"]["Catch"][0]["Next"] == "EndpointExists"
    assert _reaches_without_failing(asl, "CreateEndpoint", "WaitForEndpoint")
    assert asl["States"]["EndpointInService"]["Next"] == "RunSucceeded"
    assert asl["States"]["RunSucceeded"]["End"] is True


def test_every_state_is_reachable_and_every_end_is_success_or_run_failed(
    asl: dict[str, Any],
) -> None:
    states = asl["States"]
    seen, todo = set(), [asl["StartAt"]]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_next_states(states[name]))
    assert seen == set(states)
    ends = {n for n, s in states.items() if s.get("End") or s["Type"] in {"Fail", "Succeed"}}
    # A run in manual approval mode succeeds without deploying, and so does one the approval
    # rule started for a version that its own run deploys.
    assert ends == {"RunSucceeded", "RunAwaitingApproval", "RunLeftToItsRun", "RunFailed"}


def test_each_sagemaker_state_calls_its_integration(asl: dict[str, Any]) -> None:
    resources = {
        name: state["Resource"] for name, state in asl["States"].items() if state["Type"] == "Task"
    }
    assert resources == {
        "Train": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "CreateModel": "arn:aws:states:::sagemaker:createModel",
        "CreateEndpointConfig": "arn:aws:states:::sagemaker:createEndpointConfig",
        "FindEndpoint": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
        "CreateEndpoint": "arn:aws:states:::sagemaker:createEndpoint",
        "UpdateEndpoint": "arn:aws:states:::sagemaker:updateEndpoint",
        "DeleteFailedEndpoint": "arn:aws:states:::aws-sdk:sagemaker:deleteEndpoint",
        "DescribeEndpoint": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
        "ReadDeployedRun": "arn:aws:states:::aws-sdk:sagemaker:listTags",
        "ReadServingRun": "arn:aws:states:::aws-sdk:sagemaker:listTags",
        "NotifyFailure": "arn:aws:states:::sns:publish",
        "WriteEvaluationReport": "arn:aws:states:::aws-sdk:s3:putObject",
        "RegisterModelPackage": "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
        "FindLatestApproved": "arn:aws:states:::aws-sdk:sagemaker:listModelPackages",
        "DescribeModelPackage": "arn:aws:states:::aws-sdk:sagemaker:describeModelPackage",
        "PublishRunMetrics": "arn:aws:states:::aws-sdk:cloudwatch:putMetricData",
        "FindFiredRolloutAlarms": "arn:aws:states:::aws-sdk:cloudwatch:describeAlarms",
    }


def _declared_errors(service: str) -> set[str]:
    """``<Service>.<Shape>Exception`` for each error shape the service's API model declares."""
    model = botocore.session.get_session().get_service_model(service)
    return {
        s.name if s.name.endswith("Exception") else f"{s.name}Exception" for s in model.error_shapes
    }


def _producible_errors(resource: str) -> set[str]:
    """The error names a Task with this Resource can raise, besides ``States.*``.

    Optimized integrations name SageMaker's undeclared error codes
    ``SageMaker.AmazonSageMakerException`` (the AWS SDK for Java's class); AWS SDK integrations
    ``SageMaker.SageMakerException``; both name declared ones ``SageMaker.<Shape>Exception``
    (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
    """
    sagemaker = {f"SageMaker.{e}" for e in _declared_errors("sagemaker")}
    if resource.startswith("arn:aws:states:::sagemaker:"):
        return sagemaker | {"SageMaker.AmazonSageMakerException"}
    if resource.startswith("arn:aws:states:::aws-sdk:sagemaker:"):
        return sagemaker | {"SageMaker.SageMakerException"}
    if resource == "arn:aws:states:::sns:publish":
        return {f"SNS.{e}" for e in _declared_errors("sns")} | {"SNS.AmazonSNSException"}
    if resource.startswith("arn:aws:states:::aws-sdk:s3:"):
        return {f"S3.{e}" for e in _declared_errors("s3")} | {"S3.S3Exception"}
    if resource.startswith("arn:aws:states:::aws-sdk:cloudwatch:"):
        cloudwatch = {f"CloudWatch.{e}" for e in _declared_errors("cloudwatch")}
        return cloudwatch | {"CloudWatch.CloudWatchException"}
    raise AssertionError(f"no error naming known for {resource}")


def test_every_retried_or_caught_error_name_is_one_its_task_can_raise(
    asl: dict[str, Any],
) -> None:
    tasks = {n: s for n, s in asl["States"].items() if s["Type"] == "Task"}
    assert tasks
    for name, state in tasks.items():
        producible = _producible_errors(state["Resource"])
        for handler in (*state.get("Retry", []), *state.get("Catch", [])):
            for error in handler["ErrorEquals"]:
                assert error.startswith("States.") or error in producible, (name, error)


def test_invalid_optimized_requests_are_never_retried_by_name(asl: dict[str, Any]) -> None:
    # Throttling and invalid requests share SageMaker.AmazonSageMakerException in the optimized
    # integration: a Retry on it would retry invalid requests; the Catch tells them apart.
    for name, state in asl["States"].items():
        if state["Type"] != "Task" or not state["Resource"].startswith(
            "arn:aws:states:::sagemaker:"
        ):
            continue
        assert "Retry" not in state, name
        first, *_, last = state["Catch"]
        assert first["ErrorEquals"] == ["SageMaker.AmazonSageMakerException"], name
        classify = asl["States"][first["Next"]]
        assert classify["Type"] == "Choice", name
        assert "ThrottlingException" in json.dumps(classify["Choices"]), name
        assert last["ErrorEquals"] == ["States.ALL"], name


def test_sdk_reads_retry_what_the_sdk_integration_names_throttling(asl: dict[str, Any]) -> None:
    for name in ("DescribeEndpoint", "DeleteFailedEndpoint", "ReadDeployedRun", "ReadServingRun"):
        (retry,) = asl["States"][name]["Retry"]
        assert retry["ErrorEquals"] == ["SageMaker.SageMakerException"], name
        assert retry["BackoffRate"] == 2 and retry["JitterStrategy"] == "FULL", name
    (catch,) = asl["States"]["FindEndpoint"]["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]


def test_failures_notify_then_fail_with_the_recorded_error(asl: dict[str, Any]) -> None:
    notify = asl["States"]["NotifyFailure"]
    assert notify["Next"] == "IsReservedErrorName"
    assert notify["Catch"][0]["Next"] == "IsReservedErrorName"
    reserved = asl["States"]["IsReservedErrorName"]
    assert reserved["Choices"] == [
        {"Variable": "$.error.Error", "StringMatches": "States.*", "Next": "RenameReservedError"}
    ]
    assert reserved["Default"] == "RunFailed"
    assert asl["States"]["RenameReservedError"]["Next"] == "RunFailed"
    assert notify["Parameters"]["Message"] == {
        "execution.$": "$$.Execution.Id",
        "stateMachine.$": "$$.StateMachine.Id",
        "error.$": "$.error.Error",
        "cause.$": "$.error.Cause",
    }
    assert asl["States"]["RunFailed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }
    rejects = [n for n, s in asl["States"].items() if n.startswith("Reject")]
    # One per input rule and the input's shape, and Arm types with the default images; the
    # run input `rollout`: its shape, its keys, its strategy and its four numbers.
    assert len(rejects) == 20
    for name in rejects:
        state = asl["States"][name]
        assert state["Next"] == "NotifyFailure"
        assert state["Parameters"]["Error"] == "InvalidInput"


def test_run_defaults_come_from_the_construct(asl: dict[str, Any]) -> None:
    params = asl["States"]["ApplyRunDefaults"]["Parameters"]
    assert params["input.$"] == "$"
    assert params["defaults"] == {
        "hyperparameters": {},
        "trainingInstanceType": "ml.m5.xlarge",
        "trainingInstanceCount": 2,
        "trainingDataUri": "s3://pipelinedatabucketa8862201/training-data/",
        "maxRuntimeSeconds": 7200,
        "spot": False,
        "accuracyThreshold": 0.9,
        "approval": "automatic",
        # Empty: the run trains rather than deploying a registered version.
        "modelPackage": "",
        "onApproval": False,
        "rollout": {
            "strategy": "canary",
            "canarySizePercent": 10,
            "linearStepPercent": 20,
            "waitIntervalSeconds": 300,
            "terminationWaitSeconds": 300,
        },
    }
    # `tuning` only with tuning settings (tests/constructs/test_tuning.py).
    assert set(params["defaults"]) == set(RUN_INPUT_KEYS) - {"tuning"}
    assert params["baseHyperparameters"] == {"epochs": "6"}
    reserved = params["reservedHyperparameters"]
    assert reserved["sagemaker_program"] == "mnist.py"
    assert reserved["sagemaker_submit_directory"].startswith(
        "s3://cdk-hnb659fds-assets-123456789012-us-east-1/"
    )
    assert reserved["sagemaker_submit_directory"].endswith(".gz")
    assert reserved["sagemaker_region"] == "us-east-1"


def test_reserved_hyperparameters_are_merged_last(asl: dict[str, Any]) -> None:
    expression = asl["States"]["ResolveHyperparameters"]["Parameters"]["hyperparameters.$"]
    assert expression == (
        "States.JsonMerge(States.JsonMerge($.baseHyperparameters, $.config.hyperparameters, "
        "false), $.reservedHyperparameters, false)"
    )


def test_training_job_takes_per_run_values(asl: dict[str, Any]) -> None:
    params = asl["States"]["Train"]["Parameters"]
    assert params["TrainingJobName.$"] == "States.Format('{}-{}', 'mnist', States.UUID())"
    assert params["RoleArn"].startswith("arn:aws:iam::123456789012:role/PipelineSageMakerRole")
    assert params["AlgorithmSpecification"] == {
        "TrainingImage.$": "$.trainingResources.image",
        "TrainingInputMode": "File",
        "MetricDefinitions": list(METRIC_DEFINITIONS),
    }
    assert params["HyperParameters.$"] == "$.run.hyperparameters"
    assert params["ResourceConfig.$"] == "$.trainingResources.resourceConfig"
    assert params["Tags"] == [
        {
            "Key": "mlpipeline:execution-arn-sha256",
            "Value.$": "States.Hash($$.Execution.Id, 'SHA-256')",
        }
    ]
    assert params["StoppingCondition.$"] == "$.run.stoppingCondition"
    assert params["EnableManagedSpotTraining.$"] == "$.config.spot"
    assert params["CheckpointConfig"] == {
        "S3Uri.$": "States.Format('{}{}/', 's3://pipelineartifactsbucket22248f97/checkpoints/', "
        "$$.Execution.Name)",
        "LocalPath": "/opt/ml/checkpoints",
    }
    (channel,) = params["InputDataConfig"]
    assert channel["ChannelName"] == "training"
    assert channel["DataSource"]["S3DataSource"]["S3Uri.$"] == "$.config.trainingDataUri"
    assert params["OutputDataConfig"] == {
        "S3OutputPath": "s3://pipelineartifactsbucket22248f97/models/",
        "KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/pipelinekeyf48ee773",
    }
    assert asl["States"]["Train"]["ResultSelector"] == {
        "jobName.$": "$.TrainingJobName",
        "modelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
        "description.$": "$",
    }


_KEY = "arn:aws:kms:us-east-1:123456789012:key/pipelinekeyf48ee773"
_RESOURCES = {
    "InstanceType.$": "$.config.trainingInstanceType",
    "InstanceCount.$": "$.config.trainingInstanceCount",
    "VolumeSizeInGB": 30,
}


def test_volume_key_only_for_types_without_local_storage(asl: dict[str, Any]) -> None:
    from mlpipeline_cdk.instance_types import local_storage_types

    states = asl["States"]
    listed = states["ListInstanceTypeClasses"]["Parameters"]["localStorage"]
    assert set(listed) == set(local_storage_types())
    assert {"ml.g5.xlarge", "ml.g4dn.xlarge", "ml.p4d.24xlarge", "ml.r5d.large"} <= set(listed)
    assert "ml.m5.xlarge" not in listed and "ml.p3.2xlarge" not in listed
    (rule,) = states["ChooseVolumeEncryption"]["Choices"]
    assert rule == {
        "Variable": "$.trainingResources.localStorage",
        "BooleanEquals": True,
        "Next": "UseInstanceStorage",
    }
    assert states["ChooseVolumeEncryption"]["Default"] == "UseEncryptedVolume"
    assert states["UseInstanceStorage"]["Parameters"] == _RESOURCES
    assert states["UseEncryptedVolume"]["Parameters"] == {**_RESOURCES, "VolumeKmsKeyId": _KEY}


def test_gpu_types_train_on_the_gpu_image(asl: dict[str, Any]) -> None:
    states = asl["States"]
    registry = "763104351884.dkr.ecr.us-east-1.amazonaws.com"
    assert states["UseGpuTrainingImage"]["Parameters"] == {
        "uri": f"{registry}/pytorch:2.13.0-cu133-amzn2023-sagemaker"
    }
    assert states["UseTrainingImage"]["Parameters"] == {
        "uri": f"{registry}/pytorch:2.13.0-cpu-amzn2023-sagemaker"
    }
    gpu = states["ListInstanceTypeClasses"]["Parameters"]["gpu"]
    assert {"ml.g5.xlarge", "ml.p3.2xlarge", "ml.g4dn.xlarge"} <= set(gpu)
    assert "ml.m5.xlarge" not in gpu and "ml.trn1.2xlarge" not in gpu
    assert _reaches_without_failing(asl, "ListInstanceTypeClasses", "Train")
    # The default images are x86_64: Arm types are refused before any SageMaker call.
    (arm_rule,) = states["CheckImageArchitecture"]["Choices"]
    assert arm_rule["Variable"] == "$.trainingResources.arm"
    assert arm_rule["Next"] == "RejectArmInstanceType"
    assert states["ListInstanceTypeClasses"]["Parameters"]["arm"] == ["ml.p6e-gb200.36xlarge"]


def test_spot_runs_may_wait_twice_their_runtime(asl: dict[str, Any]) -> None:
    assert asl["States"]["UseSpotCapacity"]["Parameters"] == {
        "MaxRuntimeInSeconds.$": "$.config.maxRuntimeSeconds",
        "MaxWaitTimeInSeconds.$": "States.MathAdd($.config.maxRuntimeSeconds, "
        "$.config.maxRuntimeSeconds)",
    }
    assert asl["States"]["UseOnDemandCapacity"]["Parameters"] == {
        "MaxRuntimeInSeconds.$": "$.config.maxRuntimeSeconds"
    }


def test_model_serves_from_the_inference_image_with_code_from_the_model_archive(
    asl: dict[str, Any],
) -> None:
    params = asl["States"]["CreateModel"]["Parameters"]
    assert params["ModelName.$"] == "States.Format('{}-{}', 'mnist', States.UUID())"
    # The model is made from the registered version, whose container is this one.
    assert params["PrimaryContainer"] == {"ModelPackageName.$": "$.modelPackage.arn"}
    register = asl["States"]["RegisterModelPackage"]["Parameters"]
    (container,) = register["InferenceSpecification"]["Containers"]
    assert container["Image"] == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
        "pytorch-inference:2.6.0-cpu-py312-ubuntu22.04-sagemaker"
    )
    assert container["ModelDataUrl.$"] == "$.training.modelArtifacts"
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "mnist.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"


def test_endpoint_keeps_its_name_and_moves_to_the_new_config(asl: dict[str, Any]) -> None:
    config = asl["States"]["CreateEndpointConfig"]
    (variant,) = config["Parameters"]["ProductionVariants"]
    assert variant["ModelName.$"] == "$.model.name"
    assert variant["InstanceType"] == "ml.m5.large"
    # The key id (a Ref of the pipeline key), which SageMaker accepts as well as an ARN.
    assert config["Parameters"]["KmsKeyId"].startswith("pipelinekey")
    assert asl["States"]["CreateEndpoint"]["Parameters"] == {
        "EndpointName": "mnist-endpoint",
        "EndpointConfigName.$": "$.endpointConfig.name",
    }
    update = asl["States"]["UpdateEndpoint"]["Parameters"]
    assert update["EndpointName"] == "mnist-endpoint"
    assert update["EndpointConfigName.$"] == "$.endpointConfig.name"
    # A guarded rollout (tests/constructs/test_rollouts.py).
    assert set(update["DeploymentConfig"]) == {
        "BlueGreenUpdatePolicy",
        "AutoRollbackConfiguration",
    }
    assert asl["States"]["FindEndpoint"]["Parameters"] == {"EndpointName": "mnist-endpoint"}


def test_endpoint_is_polled_with_a_wait_state_until_a_bounded_number_of_polls(
    asl: dict[str, Any],
) -> None:
    assert asl["States"]["WaitForEndpoint"] == {
        "Type": "Wait",
        "Seconds": 30,
        "Next": "DescribeEndpoint",
    }
    keep_waiting = asl["States"]["KeepWaiting"]
    assert keep_waiting["Choices"][0] == {
        "Variable": "$.deploy.polls",
        "NumericGreaterThanEquals": 120,
        "Next": "EndpointDeployTimeout",
    }
    assert keep_waiting["Default"] == "WaitForEndpoint"


def test_state_machine_has_an_overall_timeout(asl: dict[str, Any]) -> None:
    # 2 x 2 h training (spot may wait) + 1 h deployment + 1 h.
    assert asl["TimeoutSeconds"] == 6 * 3600
