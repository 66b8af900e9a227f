"""The operator tool's view of a run's tuning job: found in the history, its trials read with
DescribeHyperParameterTuningJob and ListTrainingJobsForHyperParameterTuningJob (answers shaped as
botocore's SageMaker model says), shown by ``watch`` as they change and by ``describe``."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from mlpipeline_cdk.contract import run_input as contract
from mlpipeline_cli._tuning import TuningFollower, tuning_job_name, tuning_lines, tuning_record
from mlpipeline_cli.cli import main

NAME = "mlpipeline-0a1b2c3dffffffffffff"
# TaskScheduled as Step Functions records it: the resolved parameters as JSON text
# (https://docs.aws.amazon.com/step-functions/latest/apireference/API_TaskScheduledEventDetails.html).
SCHEDULED = {
    "id": 12,
    "type": "TaskScheduled",
    "taskScheduledEventDetails": {
        "resourceType": "sagemaker",
        "resource": "createHyperParameterTuningJob.sync",
        "region": "us-east-1",
        "parameters": json.dumps({"HyperParameterTuningJobName": NAME, "Tags": []}),
    },
}
TRAINING = {
    "id": 8,
    "type": "TaskScheduled",
    "taskScheduledEventDetails": {
        "resourceType": "sagemaker",
        "resource": "createTrainingJob.sync",
        "region": "us-east-1",
        "parameters": json.dumps({"TrainingJobName": "mlpipeline-x"}),
    },
}
T0 = datetime(2026, 11, 30, 12, 0, 0)


def _summary(number: int, status: str, lr: str, value: float | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "TrainingJobName": f"{NAME}-00{number}-1a2b3c4d",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/"
        f"{NAME}-00{number}",
        "CreationTime": T0,
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"lr": lr, "batch-size": "64"},
    }
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "MetricName": "test:accuracy",
            "Value": value,
        }
    if status == "Failed":
        summary["FailureReason"] = "AlgorithmError: loss is nan"
    return summary


def _tuning_job(status: str, best: dict[str, Any] | None, completed: int) -> dict[str, Any]:
    job: dict[str, Any] = {
        "HyperParameterTuningJobName": NAME,
        "HyperParameterTuningJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:"
        f"hyper-parameter-tuning-job/{NAME}",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "test:accuracy"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
        },
        "HyperParameterTuningJobStatus": status,
        "CreationTime": T0,
        "TrainingJobStatusCounters": {
            "Completed": completed,
            "InProgress": 1,
            "NonRetryableError": 1,
        },
        "ObjectiveStatusCounters": {"Succeeded": completed, "Pending": 1, "Failed": 1},
    }
    if best is not None:
        job["BestTrainingJob"] = best
    return job


def _stubbed(*rounds: tuple[dict[str, Any], list[dict[str, Any]]]) -> tuple[Any, Stubber]:
    """A SageMaker client answering each round with the job and its trials; the Stubber checks
    every request and answer against botocore's model."""
    client = botocore.session.get_session().create_client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    for job, trials in rounds:
        stubber.add_response(
            "describe_hyper_parameter_tuning_job", job, {"HyperParameterTuningJobName": NAME}
        )
        stubber.add_response(
            "list_training_jobs_for_hyper_parameter_tuning_job",
            {"TrainingJobSummaries": trials},
            {"HyperParameterTuningJobName": NAME, "MaxResults": 100},
        )
    stubber.activate()
    return client, stubber


def test_the_tuning_job_is_found_in_the_history_and_training_jobs_are_not() -> None:
    assert tuning_job_name([TRAINING, SCHEDULED]) == NAME
    assert tuning_job_name([TRAINING]) is None


def test_describe_shows_the_job_the_best_trial_and_every_trial() -> None:
    failed = _summary(1, "Failed", "0.5", None)
    best = _summary(2, "Completed", "0.003", 0.9812)
    client, stubber = _stubbed((_tuning_job("Completed", best, 1), [failed, best]))
    record = tuning_record(client, NAME)
    stubber.assert_no_pending_responses()
    assert record["best"]["trainingJobName"] == best["TrainingJobName"]
    assert record["best"]["objective"] == 0.9812
    assert [t["status"] for t in record["trials"]] == ["Failed", "Completed"]
    lines = tuning_lines(record)
    assert lines[0].startswith(f"tuning:    {NAME} Completed (Bayesian, Maximize test:accuracy;")
    assert lines[1] == (
        f"  best:    {best['TrainingJobName']} Completed batch-size=64 lr=0.003 "
        "test:accuracy=0.9812"
    )
    assert lines[2].endswith("lr=0.5 (AlgorithmError: loss is nan)")
    json.dumps(record, default=str)


def test_watch_prints_trials_as_they_change_and_the_best_so_far() -> None:
    running = _summary(1, "InProgress", "0.01", None)
    done = _summary(1, "Completed", "0.01", 0.97)
    second = _summary(2, "Completed", "0.003", 0.98)
    client, stubber = _stubbed(
        (_tuning_job("InProgress", None, 0), [running]),
        (_tuning_job("InProgress", done, 1), [done]),
        (_tuning_job("Completed", second, 2), [done, second]),
    )

    class History:
        def get_execution_history(self, **request: Any) -> dict[str, Any]:
            return {"events": [TRAINING, SCHEDULED]}

    out = io.StringIO()
    follower = TuningFollower(History(), lambda: client, "arn:x", json_lines=False, out=out)
    for _ in range(4):  # the fourth poll after the job ended calls nothing
        follower.poll()
    stubber.assert_no_pending_responses()
    # Each line starts with the local time, as watch's own lines do.
    lines = [line.split("  ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        f"tuning trial {NAME}-001-1a2b3c4d InProgress batch-size=64 lr=0.01",
        f"tuning trial {NAME}-001-1a2b3c4d Completed batch-size=64 lr=0.01 test:accuracy=0.9700",
        f"tuning best so far: {NAME}-001-1a2b3c4d Completed batch-size=64 lr=0.01 "
        "test:accuracy=0.9700",
        f"tuning trial {NAME}-002-1a2b3c4d Completed batch-size=64 lr=0.003 test:accuracy=0.9800",
        f"tuning best so far: {NAME}-002-1a2b3c4d Completed batch-size=64 lr=0.003 "
        "test:accuracy=0.9800",
        f"tuning job {NAME} Completed",
    ]


def test_watch_json_prints_one_object_per_change() -> None:
    best = _summary(1, "Completed", "0.01", 0.97)
    client, _ = _stubbed((_tuning_job("Completed", best, 1), [best]))

    class History:
        def get_execution_history(self, **request: Any) -> dict[str, Any]:
            return {"events": [SCHEDULED]}

    out = io.StringIO()
    TuningFollower(History(), lambda: client, "arn:x", json_lines=True, out=out).poll()
    objects = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [o["type"] for o in objects] == ["tuning_trial", "tuning_best", "tuning_job_status"]
    assert objects[2]["details"]["status"] == "Completed"
    assert objects[1]["details"]["objective"] == 0.97
    assert {"timestamp", "state", "elapsedSeconds"} <= set(objects[0])


# --- run's tuning options ----------------------------------------------------------------------


@pytest.fixture
def machine() -> Iterator[str]:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        yield str(
            sfn.create_state_machine(
                name="Pipeline",
                roleArn="arn:aws:iam::123456789012:role/pipeline",
                definition=json.dumps(
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
                ),
            )["stateMachineArn"]
        )


def test_run_sends_the_tuning_options_as_the_run_input_tuning(
    machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--state-machine-arn", machine, "--region", "us-east-1", "run", "--dry-run"]
    assert main([*base, "--no-tuning"]) == 0
    assert json.loads(capsys.readouterr().out)["input"] == {"tuning": {"enabled": False}}
    assert main([*base, "--max-jobs", "8", "--max-parallel-jobs", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["input"] == {
        "tuning": {"maxJobs": 8, "maxParallelJobs": 2}
    }
    assert main([*base]) == 0
    assert json.loads(capsys.readouterr().out)["input"] == {}


def test_run_refuses_tuning_counts_the_state_machine_would_refuse(
    machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--state-machine-arn", machine, "--region", "us-east-1", "run"]
    assert main([*base, "--max-jobs", "2", "--max-parallel-jobs", "3"]) == 2
    assert capsys.readouterr().err.endswith(f"{contract.TUNING_PARALLEL_ABOVE_JOBS}\n")
    assert main([*base, "--max-parallel-jobs", "0"]) == 2
    assert capsys.readouterr().err.endswith(f"{contract.TUNING_MAX_PARALLEL_JOBS_MESSAGE}\n")
    listed = boto3.client("stepfunctions", region_name="us-east-1").list_executions(
        stateMachineArn=machine
    )
    assert listed["executions"] == []
