"""createTrainingJob through the local SageMaker integration, executed by moto's Step Functions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from mlpipeline_emulator import (
    MetricDefinition,
    ScriptedRuntime,
    TrainingOutcome,
    final_metrics,
)
from tests.emulator.runs.helpers import (
    SAGEMAKER_ROLE,
    Execution,
    RunMachine,
    machine,
    task,
    wait_for,
)

# Slow: executes training tasks in the emulator; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

TRAIN = "arn:aws:states:::sagemaker:createTrainingJob"
TRAIN_SYNC = f"{TRAIN}.sync"
METRICS = [
    {"Name": "test:accuracy", "Regex": r"test_accuracy=([0-9.]+)"},
    {"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
]


def training_parameters(**overrides: Any) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "TrainingJobName.$": "$.job",
        "RoleArn": SAGEMAKER_ROLE,
        "AlgorithmSpecification": {
            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6",
            "TrainingInputMode": "File",
            "MetricDefinitions": METRICS,
        },
        "HyperParameters": {"epochs": "2", "sagemaker_program": "mnist.py"},
        "Environment": {"LOG_LEVEL": "debug"},
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": "s3://data-bucket/mnist/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://artifacts-bucket/models/"},
        "ResourceConfig": {
            "InstanceCount": 2,
            "InstanceType": "ml.m5.xlarge",
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CheckpointConfig": {"S3Uri": "s3://artifacts-bucket/checkpoints/"},
        "EnableManagedSpotTraining": False,
        "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
        "Tags": [{"Key": "project", "Value": "mnist"}],
    }
    parameters.update(overrides)
    return parameters


def train_sync(**fields: Any) -> dict[str, Any]:
    return machine("Train", Train=task(TRAIN_SYNC, training_parameters(), **fields))


def test_sync_outputs_the_completed_job_with_artifacts_and_metrics(
    runtime: ScriptedRuntime,
    sagemaker: Any,
    start_machine: Callable[..., str],
    finish: Callable[[str], Execution],
) -> None:
    runtime.script_training(
        TrainingOutcome.success({"test:accuracy": 0.97, "train:loss": 0.12}), seconds=0.5
    )
    arn = start_machine(train_sync(), {"job": "mnist-1"})
    seen = wait_for(
        lambda: sagemaker.list_training_jobs()["TrainingJobSummaries"], "the job to exist"
    )
    assert seen[0]["TrainingJobStatus"] == "InProgress"

    result = finish(arn)

    assert result.status == "SUCCEEDED", result.cause
    job = result.output
    assert job["TrainingJobName"] == "mnist-1"
    assert job["TrainingJobStatus"] == "Completed"
    assert job["SecondaryStatus"] == "Completed"
    assert job["ModelArtifacts"] == {
        "S3ModelArtifacts": "s3://artifacts-bucket/models/mnist-1/output/model.tar.gz"
    }
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert metrics == {"test:accuracy": 0.97, "train:loss": 0.12}
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]


def test_sync_output_renders_timestamps_as_epoch_milliseconds(run_machine: RunMachine) -> None:
    job = run_machine(train_sync(), {"job": "mnist-2"}).output

    for field in ("CreationTime", "TrainingStartTime", "TrainingEndTime", "LastModifiedTime"):
        assert isinstance(job[field], int), field
    assert job["CreationTime"] <= job["TrainingStartTime"] <= job["TrainingEndTime"]
    assert job["TrainingEndTime"] > 1_600_000_000_000
    assert all(isinstance(t["StartTime"], int) for t in job["SecondaryStatusTransitions"])


def test_describe_training_job_keeps_everything_the_request_carried(
    run_machine: RunMachine, sagemaker: Any
) -> None:
    run_machine(train_sync(), {"job": "mnist-3"})

    job = sagemaker.describe_training_job(TrainingJobName="mnist-3")
    expected = training_parameters()
    for field in (
        "AlgorithmSpecification",
        "HyperParameters",
        "Environment",
        "InputDataConfig",
        "OutputDataConfig",
        "ResourceConfig",
        "StoppingCondition",
        "CheckpointConfig",
        "VpcConfig",
    ):
        assert job[field] == expected[field], field
    assert job["EnableManagedSpotTraining"] is False
    assert job["RoleArn"] == SAGEMAKER_ROLE


def test_runner_receives_the_job_as_a_spec(
    runtime: ScriptedRuntime, run_machine: RunMachine
) -> None:
    run_machine(train_sync(), {"job": "mnist-4"})

    (spec,) = runtime.training_jobs
    assert spec.name == "mnist-4"
    assert spec.hyperparameters == {"epochs": "2", "sagemaker_program": "mnist.py"}
    assert spec.environment == {"LOG_LEVEL": "debug"}
    assert [(c.name, c.s3_uri) for c in spec.input_channels] == [
        ("training", "s3://data-bucket/mnist/")
    ]
    assert spec.output_path == "s3://artifacts-bucket/models/"
    assert spec.instance_count == 2
    assert spec.metric_definitions[0] == MetricDefinition("test:accuracy", METRICS[0]["Regex"])
    assert spec.checkpoint is not None
    assert spec.checkpoint.s3_uri == "s3://artifacts-bucket/checkpoints/"
    assert spec.max_runtime_seconds == 3600


def test_only_defined_metrics_reach_the_final_metric_data_list(
    runtime: ScriptedRuntime, run_machine: RunMachine
) -> None:
    runtime.script_training(TrainingOutcome.success({"test:accuracy": 0.9, "undefined": 1.0}))

    job = run_machine(train_sync(), {"job": "mnist-5"}).output

    assert [m["MetricName"] for m in job["FinalMetricDataList"]] == ["test:accuracy"]


def test_sync_failure_fails_the_task_with_the_job_as_cause(
    runtime: ScriptedRuntime, run_machine: RunMachine
) -> None:
    runtime.script_training(
        TrainingOutcome.failure("AlgorithmError: ExecuteUserScriptError: exit code 1"),
        job_name="broken-*",
    )

    result = run_machine(train_sync(), {"job": "broken-1"})

    assert result.status == "FAILED"
    assert result.error == "States.TaskFailed"
    assert result.cause is not None
    cause = json.loads(result.cause)
    assert cause["TrainingJobStatus"] == "Failed"
    assert cause["FailureReason"] == "AlgorithmError: ExecuteUserScriptError: exit code 1"
    assert cause["SecondaryStatusTransitions"][-1]["Status"] == "Failed"


def test_catch_on_task_failed_receives_error_and_cause(
    runtime: ScriptedRuntime, run_machine: RunMachine
) -> None:
    runtime.script_training(TrainingOutcome.failure("AlgorithmError: diverged"))
    definition = machine(
        "Train",
        Train=task(
            TRAIN_SYNC,
            training_parameters(),
            Catch=[
                {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"}
            ],
            End=True,
        ),
        Failed={"Type": "Pass", "End": True},
    )

    result = run_machine(definition, {"job": "mnist-6"})

    assert result.status == "SUCCEEDED"
    assert result.output["error"]["Error"] == "States.TaskFailed"
    assert (
        json.loads(result.output["error"]["Cause"])["FailureReason"] == "AlgorithmError: diverged"
    )


def test_request_response_returns_the_arn_while_the_job_runs(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any
) -> None:
    runtime.script_training(TrainingOutcome.success(), seconds=1)

    result = run_machine(machine("Train", Train=task(TRAIN, training_parameters())), {"job": "j7"})

    assert result.output == {
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/j7"
    }
    assert sagemaker.describe_training_job(TrainingJobName="j7")["TrainingJobStatus"] == (
        "InProgress"
    )
    wait_for(
        lambda: (
            sagemaker.describe_training_job(TrainingJobName="j7")["TrainingJobStatus"]
            == "Completed"
        ),
        "the job to complete",
    )


def test_stopped_job_fails_the_sync_task(
    runtime: ScriptedRuntime,
    sagemaker: Any,
    start_machine: Callable[..., str],
    finish: Callable[[str], Execution],
) -> None:
    runtime.script_training(TrainingOutcome.success(), seconds=5)
    arn = start_machine(train_sync(), {"job": "mnist-8"})
    wait_for(lambda: sagemaker.list_training_jobs()["TrainingJobSummaries"], "the job to exist")

    sagemaker.stop_training_job(TrainingJobName="mnist-8")
    result = finish(arn)

    assert result.error == "States.TaskFailed"
    assert result.cause is not None
    cause = json.loads(result.cause)
    assert cause["TrainingJobStatus"] == "Stopped"
    assert [t["Status"] for t in cause["SecondaryStatusTransitions"]][-2:] == [
        "Stopping",
        "Stopped",
    ]


def test_stopping_a_finished_job_is_refused(run_machine: RunMachine, sagemaker: Any) -> None:
    run_machine(train_sync(), {"job": "mnist-9"})

    with pytest.raises(sagemaker.exceptions.ClientError, match="in status Completed"):
        sagemaker.stop_training_job(TrainingJobName="mnist-9")


def test_task_timeout_stops_the_training_job(
    runtime: ScriptedRuntime, run_machine: RunMachine, sagemaker: Any
) -> None:
    runtime.script_training(TrainingOutcome.success(), seconds=5)

    result = run_machine(train_sync(TimeoutSeconds=1), {"job": "mnist-10"})

    assert result.error == "States.Timeout"
    wait_for(
        lambda: (
            sagemaker.describe_training_job(TrainingJobName="mnist-10")["TrainingJobStatus"]
            == "Stopped"
        ),
        "the job to be stopped",
    )


def test_stopping_the_execution_stops_the_training_job(
    runtime: ScriptedRuntime,
    sagemaker: Any,
    sfn: Any,
    start_machine: Callable[..., str],
    finish: Callable[[str], Execution],
) -> None:
    runtime.script_training(TrainingOutcome.success(), seconds=5)
    arn = start_machine(train_sync(), {"job": "mnist-12"})
    wait_for(lambda: sagemaker.list_training_jobs()["TrainingJobSummaries"], "the job to exist")

    sfn.stop_execution(executionArn=arn)

    result = finish(arn)
    assert result.status == "ABORTED"
    assert "TaskSucceeded" not in [event["type"] for event in result.history]
    wait_for(
        lambda: (
            sagemaker.describe_training_job(TrainingJobName="mnist-12")["TrainingJobStatus"]
            == "Stopped"
        ),
        "the job to be stopped",
    )


def test_max_runtime_stops_the_job_as_max_runtime_exceeded(
    runtime: ScriptedRuntime, run_machine: RunMachine
) -> None:
    runtime.script_training(TrainingOutcome.success(), seconds=5)
    parameters = training_parameters(StoppingCondition={"MaxRuntimeInSeconds": 1})

    result = run_machine(machine("Train", Train=task(TRAIN_SYNC, parameters)), {"job": "slow"})

    assert result.error == "States.TaskFailed"
    assert result.cause is not None
    cause = json.loads(result.cause)
    assert cause["TrainingJobStatus"] == "Stopped"
    assert cause["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_tags_are_listed_for_the_job(run_machine: RunMachine, sagemaker: Any) -> None:
    job = run_machine(train_sync(), {"job": "mnist-13"}).output

    assert sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"] == [
        {"Key": "project", "Value": "mnist"}
    ]


def test_duplicate_job_name_is_a_resource_in_use_error(run_machine: RunMachine) -> None:
    run_machine(train_sync(), {"job": "mnist-11"})

    result = run_machine(train_sync(), {"job": "mnist-11"})

    assert result.error == "SageMaker.ResourceInUseException"
    assert result.cause is not None
    assert result.cause.startswith("Training job names must be unique")
    assert "(Service: AmazonSageMaker; Status Code: 400; Error Code: ResourceInUse;" in result.cause


def test_final_metrics_reads_logs_as_sagemaker_does() -> None:
    definitions = [MetricDefinition(d["Name"], d["Regex"]) for d in METRICS]
    log = ["epoch 1 train_loss=0.9", "epoch 2 train_loss=0.4", "test_accuracy=0.95 done"]

    assert final_metrics(log, definitions) == {"train:loss": 0.4, "test:accuracy": 0.95}
