"""The ML pipeline's synthesized state machine, executed: every path a run can take.

The definition is the app's own template rendered to ASL (stand-in ARNs, a real topic), run by
moto's Step Functions interpreter against the local SageMaker with a scripted runtime. Wait
states run at a thousandth of their time, so the 30-second endpoint polls take milliseconds.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from mlpipeline_cli.asl import render_definition
from mlpipeline_emulator import HostingOutcome, ScriptedRuntime, TrainingOutcome, local_sagemaker
from tests.emulator.runs.helpers import (
    REGION,
    ROLE,
    Execution,
    finish_execution,
    pipeline_environment,
)

# Slow: executes the state machine in the emulator, scenario after scenario;
# `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

_SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
GOOD = {"test:accuracy": 0.97, "test:loss": 0.1, "train:loss": 0.2}


# conftest's aws, sagemaker and sfn fixtures run on this runtime.
@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    with local_sagemaker(
        ScriptedRuntime(training=TrainingOutcome.success(GOOD)), wait_scale=0.001
    ) as active:
        assert isinstance(active, ScriptedRuntime)
        yield active


@pytest.fixture
def notifications(aws: None) -> Callable[[], list[dict[str, Any]]]:
    """The failure topic, subscribed by a queue; returns a reader of what was published."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="failures")["TopicArn"]
    queue = sqs.create_queue(QueueName="failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )

    def read() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    read.topic_arn = topic  # type: ignore[attr-defined]
    return read


@pytest.fixture
def pipeline(
    ml_template_json: dict[str, Any], notifications: Any, aws: None
) -> Callable[..., Execution]:
    """Create the pipeline's state machine once per test; returns a function running it."""
    topic_id = next(
        k for k, v in ml_template_json["Resources"].items() if v["Type"] == "AWS::SNS::Topic"
    )
    definition = render_definition(
        ml_template_json,
        env=pipeline_environment(ml_template_json, {topic_id: notifications.topic_arn}),
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="MLPipeline", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]

    def run(execution_input: Any = None, *, name: str | None = None) -> Execution:
        started = sfn.start_execution(
            stateMachineArn=machine,
            input=json.dumps({} if execution_input is None else execution_input),
            name=name or f"run-{uuid.uuid4()}",
        )
        arn = started["executionArn"]
        return finish_execution(sfn, arn)

    return run


def _entered(execution: Execution) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in execution.history
        if "stateEnteredEventDetails" in e
    ]


def test_first_run_trains_creates_model_config_and_endpoint_in_service(
    pipeline: Callable[..., Execution], sagemaker: Any, runtime: ScriptedRuntime
) -> None:
    result = pipeline()
    assert result.status == "SUCCEEDED", result.cause
    output = result.output
    (job,) = runtime.training_jobs
    assert output["trainingJobName"] == job.name
    assert output["modelArtifacts"] == job.default_model_artifacts
    assert output["accuracy"] == pytest.approx(0.97)
    assert output["accuracyThreshold"] == 0.9
    assert {m["MetricName"] for m in output["metrics"]} == set(GOOD)
    assert output["endpointName"] == "mnist-endpoint"
    assert output["endpointStatus"] == "InService"
    (model,) = sagemaker.list_models()["Models"]
    assert model["ModelName"] == output["modelName"]
    (config,) = sagemaker.list_endpoint_configs()["EndpointConfigs"]
    assert config["EndpointConfigName"] == output["endpointConfigName"]
    endpoint = sagemaker.describe_endpoint(EndpointName="mnist-endpoint")
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == output["endpointConfigName"]
    assert "CreateEndpoint" in _entered(result) and "UpdateEndpoint" not in _entered(result)
    (deployment,) = runtime.deployments
    (container,) = deployment.variants[0].containers
    assert container.model_data_url == job.default_model_artifacts
    assert container.environment["SAGEMAKER_PROGRAM"] == "mnist.py"


def test_second_run_updates_the_same_endpoint_in_place(
    pipeline: Callable[..., Execution], sagemaker: Any, runtime: ScriptedRuntime
) -> None:
    first = pipeline()
    second = pipeline()
    assert first.status == second.status == "SUCCEEDED", second.cause
    assert "UpdateEndpoint" in _entered(second) and "CreateEndpoint" not in _entered(second)
    (endpoint,) = sagemaker.list_endpoints()["Endpoints"]
    described = sagemaker.describe_endpoint(EndpointName=endpoint["EndpointName"])
    assert described["EndpointConfigName"] == second.output["endpointConfigName"]
    assert second.output["endpointConfigName"] != first.output["endpointConfigName"]
    assert len(sagemaker.list_models()["Models"]) == 2
    assert runtime.deployments[1].previous_config_name == first.output["endpointConfigName"]


def test_model_below_threshold_is_not_deployed(
    pipeline: Callable[..., Execution], sagemaker: Any, runtime: ScriptedRuntime, notifications: Any
) -> None:
    runtime.script_training(TrainingOutcome.success({"test:accuracy": 0.42}))
    result = pipeline()
    assert result.status == "FAILED"
    assert result.error == "ModelBelowThreshold"
    assert "test:accuracy 0.42" in result.cause and "below the threshold 0.9" in result.cause
    assert sagemaker.list_models()["Models"] == []
    assert sagemaker.list_endpoints()["Endpoints"] == []
    (message,) = notifications()
    assert message["error"] == "ModelBelowThreshold"


def test_run_threshold_overrides_the_default(
    pipeline: Callable[..., Execution], runtime: ScriptedRuntime
) -> None:
    runtime.script_training(TrainingOutcome.success({"test:accuracy": 0.42}))
    result = pipeline({"accuracyThreshold": 0.4})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["accuracyThreshold"] == 0.4


def test_job_without_the_accuracy_metric_fails_metric_missing(
    pipeline: Callable[..., Execution], sagemaker: Any, runtime: ScriptedRuntime
) -> None:
    runtime.script_training(TrainingOutcome.success({"train:loss": 0.3}))
    result = pipeline()
    assert result.error == "MetricMissing", result.cause
    assert "reported no test:accuracy metric" in result.cause
    assert sagemaker.list_models()["Models"] == []


def test_failed_training_job_fails_with_its_reason_and_notifies(
    pipeline: Callable[..., Execution], runtime: ScriptedRuntime, notifications: Any
) -> None:
    runtime.script_training(
        TrainingOutcome.failure("AlgorithmError: train-images-idx3-ubyte is truncated")
    )
    result = pipeline()
    assert result.status == "FAILED"
    assert result.error == "TrainingJobFailed"
    (job,) = runtime.training_jobs
    assert result.cause == (
        f"training job {job.name} ended Failed: "
        "AlgorithmError: train-images-idx3-ubyte is truncated"
    )
    (message,) = notifications()
    assert message["error"] == "TrainingJobFailed"
    assert message["cause"] == result.cause
    assert message["execution"].startswith("arn:aws:states:")


def test_endpoint_that_fails_fails_the_run_with_its_reason(
    pipeline: Callable[..., Execution], runtime: ScriptedRuntime, notifications: Any
) -> None:
    runtime.script_hosting(
        HostingOutcome.failed("The primary container did not pass the ping health check")
    )
    result = pipeline()
    assert result.error == "EndpointFailed"
    assert result.cause == (
        "endpoint mnist-endpoint is Failed: The primary container did not pass the ping "
        "health check"
    )
    assert [m["error"] for m in notifications()] == ["EndpointFailed"]


def test_update_that_sagemaker_rolls_back_fails_the_run(
    pipeline: Callable[..., Execution], runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    first = pipeline()
    runtime.script_hosting(HostingOutcome.failed("new model failed its health check"))
    second = pipeline()
    assert second.error == "EndpointUpdateRolledBack", second.cause
    assert "new model failed its health check" in second.cause
    described = sagemaker.describe_endpoint(EndpointName="mnist-endpoint")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == first.output["endpointConfigName"]


def test_failed_endpoint_is_replaced_by_the_next_run(
    pipeline: Callable[..., Execution], runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    runtime.script_hosting(HostingOutcome.failed("out of capacity"))
    assert pipeline().error == "EndpointFailed"
    runtime.script_hosting(HostingOutcome.in_service())
    result = pipeline()
    assert result.status == "SUCCEEDED", result.cause
    assert "DeleteFailedEndpoint" in _entered(result)
    assert (
        sagemaker.describe_endpoint(EndpointName="mnist-endpoint")["EndpointStatus"] == "InService"
    )


def test_long_execution_names_with_underscores_still_give_valid_sagemaker_names(
    pipeline: Callable[..., Execution], sagemaker: Any, runtime: ScriptedRuntime
) -> None:
    name = ("nightly_retrain_" * 6)[:80]
    assert len(name) == 80
    result = pipeline(name=name)
    assert result.status == "SUCCEEDED", result.cause
    names = [
        result.output["trainingJobName"],
        result.output["modelName"],
        result.output["endpointConfigName"],
    ]
    for sagemaker_name in names:
        assert _SAGEMAKER_NAME.match(sagemaker_name) and len(sagemaker_name) <= 63, sagemaker_name
        assert sagemaker_name.startswith("mnist-")
    (job,) = runtime.training_jobs
    assert job.checkpoint is not None and job.checkpoint.s3_uri.endswith(f"/checkpoints/{name}/")


@pytest.mark.parametrize(
    ("execution_input", "cause"),
    [
        ("not an object", "the run input must be a JSON object"),
        ([1, 2], "the run input must be a JSON object"),
        ({"epochs": "2"}, "the run input may only have the keys hyperparameters, "),
        ({"hyperparameters": "epochs=2"}, "hyperparameters must be an object of strings"),
        ({"hyperparameters": {"epochs": 2}}, "hyperparameters: every value must be a string"),
        ({"trainingInstanceType": "m5.large"}, "trainingInstanceType must be a SageMaker"),
        ({"trainingInstanceCount": 0}, "trainingInstanceCount must be a whole number"),
        ({"trainingInstanceCount": 1.5}, "trainingInstanceCount must be a whole number"),
        ({"trainingInstanceCount": "2"}, "trainingInstanceCount must be a whole number"),
        (
            {"trainingDataUri": "s3://someone-elses-bucket/data/"},
            "trainingDataUri must be an S3 URI under s3://",
        ),
        ({"maxRuntimeSeconds": 0}, "maxRuntimeSeconds must be a whole number"),
        ({"spot": "yes"}, "spot must be true or false"),
        ({"accuracyThreshold": 1.5}, "accuracyThreshold must be a number from 0 to 1"),
    ],
)
def test_invalid_input_fails_at_once_without_calling_sagemaker(
    pipeline: Callable[..., Execution],
    runtime: ScriptedRuntime,
    sagemaker: Any,
    execution_input: Any,
    cause: str,
) -> None:
    result = pipeline(execution_input)
    assert result.status == "FAILED"
    assert result.error == "InvalidInput"
    assert result.cause is not None and result.cause.startswith(cause), result.cause
    assert runtime.training_jobs == []
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []
    assert "Train" not in _entered(result)


def test_per_run_overrides_reach_the_training_job(
    pipeline: Callable[..., Execution],
    runtime: ScriptedRuntime,
    ml_template_json: dict[str, Any],
) -> None:
    data_uri = render_definition(ml_template_json)["States"]["ApplyRunDefaults"]["Parameters"][
        "defaults"
    ]["trainingDataUri"]
    result = pipeline(
        {
            "hyperparameters": {"epochs": "2", "lr": "0.01", "sagemaker_program": "evil.py"},
            "trainingInstanceType": "ml.c5.2xlarge",
            "trainingInstanceCount": 3,
            "trainingDataUri": f"{data_uri}v2/",
            "maxRuntimeSeconds": 600,
            "spot": True,
        }
    )
    assert result.status == "SUCCEEDED", result.cause
    (job,) = runtime.training_jobs
    request = job.request
    assert request["HyperParameters"]["epochs"] == "2"
    assert request["HyperParameters"]["lr"] == "0.01"
    # The pipeline's own keys win over the run's.
    assert request["HyperParameters"]["sagemaker_program"] == "mnist.py"
    assert request["ResourceConfig"]["InstanceType"] == "ml.c5.2xlarge"
    assert request["ResourceConfig"]["InstanceCount"] == 3
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == f"{data_uri}v2/"
    assert request["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 600,
        "MaxWaitTimeInSeconds": 1200,
    }
    assert request["EnableManagedSpotTraining"] is True


def test_defaults_reach_the_training_job(
    pipeline: Callable[..., Execution], runtime: ScriptedRuntime
) -> None:
    assert pipeline().status == "SUCCEEDED"
    (job,) = runtime.training_jobs
    request = job.request
    assert request["HyperParameters"]["epochs"] == "6"
    assert request["ResourceConfig"]["InstanceCount"] == 2
    assert request["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}
    assert request["EnableManagedSpotTraining"] is False


def test_executions_started_without_a_name_get_a_unique_one(
    ml_template_json: dict[str, Any], aws: None
) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="Unnamed",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
    )["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    assert first != second
    assert uuid.UUID(first.rsplit(":", 1)[1]) and uuid.UUID(second.rsplit(":", 1)[1])
