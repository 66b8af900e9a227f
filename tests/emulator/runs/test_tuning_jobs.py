"""Hyperparameter tuning jobs of the local SageMaker, with scripted trials: launching, counting,
picking the best, failing, stopping and listing, as SageMaker's API reference describes them."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome
from tests.emulator.runs.helpers import SAGEMAKER_ROLE, TIMEOUT

OBJECTIVE = "test:accuracy"


def tuning_request(name: str = "tune-1", **config: Any) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request; ``config`` replaces members of its
    HyperParameterTuningJobConfig."""
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": OBJECTIVE},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {
                        "Name": "lr",
                        "MinValue": "0.0001",
                        "MaxValue": "0.1",
                        "ScalingType": "Logarithmic",
                    }
                ],
                "IntegerParameterRanges": [
                    {"Name": "batch-size", "MinValue": "16", "MaxValue": "256"}
                ],
            },
            "TrainingJobEarlyStoppingType": "Off",
            "RandomSeed": 7,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "2", "sagemaker_program": '"mnist.py"'},
            "AlgorithmSpecification": {
                "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2",
                "TrainingInputMode": "File",
                "MetricDefinitions": [
                    {"Name": OBJECTIVE, "Regex": r"test_accuracy=([0-9.]+)"},
                    {"Name": "test:loss", "Regex": r"test_loss=([0-9.]+)"},
                ],
            },
            "RoleArn": SAGEMAKER_ROLE,
            "InputDataConfig": [
                {
                    "ChannelName": "training",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/mnist/"}
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": "s3://artifacts/models/"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "EnableNetworkIsolation": True,
            "EnableInterContainerTrafficEncryption": True,
            "CheckpointConfig": {"S3Uri": "s3://artifacts/checkpoints/"},
        },
        "Tags": [{"Key": "project", "Value": "mnist"}],
    }
    request["HyperParameterTuningJobConfig"].update(config)
    return request


def finished(sagemaker: Any, name: str = "tune-1") -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        job: dict[str, Any] = sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name
        )
        if job["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
            return job
        time.sleep(0.02)
    raise AssertionError(f"tuning job {name} did not end")


def trials(sagemaker: Any, name: str = "tune-1", **params: Any) -> list[dict[str, Any]]:
    params.setdefault("MaxResults", 100)
    found: list[dict[str, Any]] = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, **params
    )["TrainingJobSummaries"]
    return found


def test_a_tuning_job_runs_its_trials_as_training_jobs_and_picks_the_best(
    runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.91}), job_name="tune-1-001-*")
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.97}), job_name="tune-1-002-*")
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.93}), job_name="tune-1-00[34]-*")

    sagemaker.create_hyper_parameter_tuning_job(**tuning_request())
    job = finished(sagemaker)

    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"] == {
        "Completed": 4,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    best = job["BestTrainingJob"]
    assert re.fullmatch(r"tune-1-002-[0-9a-f]{8}", best["TrainingJobName"])
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "MetricName": OBJECTIVE,
        "Value": pytest.approx(0.97),
    }
    assert best["ObjectiveStatus"] == "Succeeded"
    assert job["CreationTime"] <= job["HyperParameterTuningEndTime"]
    # Each trial is a training job of the runtime, with the definition and its own values.
    assert len(runtime.training_jobs) == 4
    names = sorted(t["TrainingJobName"] for t in trials(sagemaker))
    assert [n.split("-")[2] for n in names] == ["001", "002", "003", "004"]
    described = sagemaker.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert described["TuningJobArn"] == job["HyperParameterTuningJobArn"]
    assert described["EnableNetworkIsolation"] is True
    assert described["CheckpointConfig"] == {"S3Uri": "s3://artifacts/checkpoints/"}
    hyperparameters = described["HyperParameters"]
    assert hyperparameters["epochs"] == "2"
    assert hyperparameters["_tuning_objective_metric"] == OBJECTIVE
    assert {k: hyperparameters[k] for k in ("lr", "batch-size")} == best["TunedHyperParameters"]
    assert 0.0001 <= float(hyperparameters["lr"]) <= 0.1
    assert 16 <= int(hyperparameters["batch-size"]) <= 256
    tags = sagemaker.list_tags(ResourceArn=described["TrainingJobArn"])["Tags"]
    assert {"Key": "project", "Value": "mnist"} in tags


def test_minimize_picks_the_lowest_objective(runtime: ScriptedRuntime, sagemaker: Any) -> None:
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.9}))
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.5}), job_name="tune-1-003-*")
    request = tuning_request(
        HyperParameterTuningJobObjective={"Type": "Minimize", "MetricName": OBJECTIVE}
    )

    sagemaker.create_hyper_parameter_tuning_job(**request)

    assert finished(sagemaker)["BestTrainingJob"]["TrainingJobName"].startswith("tune-1-003-")


def test_at_most_max_parallel_trials_run_at_once(runtime: ScriptedRuntime, sagemaker: Any) -> None:
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.9}), seconds=0.3)
    request = tuning_request(
        ResourceLimits={"MaxNumberOfTrainingJobs": 5, "MaxParallelTrainingJobs": 2}
    )

    sagemaker.create_hyper_parameter_tuning_job(**request)
    seen: list[int] = []
    while True:
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
        seen.append(job["TrainingJobStatusCounters"]["InProgress"])
        if job["HyperParameterTuningJobStatus"] != "InProgress":
            break
        time.sleep(0.02)

    assert max(seen) == 2
    assert job["TrainingJobStatusCounters"]["Completed"] == 5
    assert len(runtime.training_jobs) == 5


def test_failed_trials_are_counted_and_the_best_is_among_the_completed(
    runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.8}))
    runtime.script_training(
        TrainingOutcome.failure("AlgorithmError: out of memory"), job_name="tune-1-00[12]-*"
    )
    runtime.script_training(
        TrainingOutcome.failure("InternalServerError: lost the instance"), job_name="tune-1-003-*"
    )
    # Completed without the objective metric: its objective failed.
    runtime.script_training(TrainingOutcome.success({"test:loss": 0.1}), job_name="tune-1-005-*")
    request = tuning_request(
        ResourceLimits={"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 1}
    )

    sagemaker.create_hyper_parameter_tuning_job(**request)
    job = finished(sagemaker)

    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"] == {
        "Completed": 3,
        "InProgress": 0,
        "RetryableError": 1,
        "NonRetryableError": 2,
        "Stopped": 0,
    }
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 2, "Pending": 0, "Failed": 4}
    assert job["BestTrainingJob"]["TrainingJobName"].startswith("tune-1-004-")
    failed = trials(sagemaker, StatusEquals="Failed", SortBy="Name")
    assert [t["FailureReason"] for t in failed] == [
        "AlgorithmError: out of memory",
        "AlgorithmError: out of memory",
        "InternalServerError: lost the instance",
    ]
    assert all(t["ObjectiveStatus"] == "Failed" for t in failed)
    assert all("FinalHyperParameterTuningJobObjectiveMetric" not in t for t in failed)


def test_with_no_successful_trial_the_job_fails_as_sagemaker_words_it(
    runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    runtime.script_training(TrainingOutcome.failure("AlgorithmError: exit code: 1"))
    request = tuning_request(
        ResourceLimits={"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2}
    )

    sagemaker.create_hyper_parameter_tuning_job(**request)
    job = finished(sagemaker)

    assert job["HyperParameterTuningJobStatus"] == "Failed"
    assert job["FailureReason"] == (
        "No training job succeeded after 3 attempts. Please take a look at the training job "
        "failures to get more details."
    )
    assert "BestTrainingJob" not in job
    assert job["TrainingJobStatusCounters"]["NonRetryableError"] == 3


def test_five_failures_with_no_success_end_the_job_before_its_limit(
    runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    runtime.script_training(TrainingOutcome.failure("AlgorithmError: exit code: 1"))
    request = tuning_request(
        ResourceLimits={"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 1}
    )

    sagemaker.create_hyper_parameter_tuning_job(**request)
    job = finished(sagemaker)

    assert job["HyperParameterTuningJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("No training job succeeded after 5 attempts.")
    assert len(runtime.training_jobs) == 5


def test_grid_runs_every_categorical_combination_once(
    runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.9}))
    request = tuning_request(
        Strategy="Grid",
        ResourceLimits={"MaxParallelTrainingJobs": 3},
        ParameterRanges={
            "CategoricalParameterRanges": [
                {"Name": "batch-size", "Values": ["32", "64", "128"]},
                {"Name": "optimizer", "Values": ["adam", "sgd"]},
            ]
        },
    )

    sagemaker.create_hyper_parameter_tuning_job(**request)
    job = finished(sagemaker)

    assert job["TrainingJobStatusCounters"]["Completed"] == 6
    combinations = sorted(
        (t["TunedHyperParameters"]["batch-size"], t["TunedHyperParameters"]["optimizer"])
        for t in trials(sagemaker)
    )
    assert combinations == sorted((b, o) for b in ("32", "64", "128") for o in ("adam", "sgd"))


def test_stop_stops_the_trials_and_ends_stopped(runtime: ScriptedRuntime, sagemaker: Any) -> None:
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.9}), seconds=5.0)
    sagemaker.create_hyper_parameter_tuning_job(**tuning_request())
    deadline = time.monotonic() + TIMEOUT
    while len(runtime.training_jobs) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)

    sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    stopping = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    job = finished(sagemaker)

    assert stopping["HyperParameterTuningJobStatus"] == "Stopping"
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    assert job["TrainingJobStatusCounters"]["Stopped"] == 2
    assert len(runtime.training_jobs) == 2
    assert {t["TrainingJobStatus"] for t in trials(sagemaker)} == {"Stopped"}
    with pytest.raises(ClientError) as again:
        sagemaker.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1")
    assert again.value.response["Error"]["Code"] == "ValidationException"


def test_unknown_tuning_jobs_are_resource_not_found(sagemaker: Any) -> None:
    for call in (
        sagemaker.stop_hyper_parameter_tuning_job,
        sagemaker.list_training_jobs_for_hyper_parameter_tuning_job,
        sagemaker.describe_hyper_parameter_tuning_job,
    ):
        with pytest.raises(ClientError) as missing:
            call(HyperParameterTuningJobName="nothing-here")
        assert missing.value.response["Error"]["Code"] == "ResourceNotFound"


def test_listing_trials_sorts_filters_and_pages(runtime: ScriptedRuntime, sagemaker: Any) -> None:
    values = {"001": 0.7, "002": 0.95, "004": 0.85}
    for number, value in values.items():
        runtime.script_training(
            TrainingOutcome.success({OBJECTIVE: value}), job_name=f"tune-1-{number}-*"
        )
    runtime.script_training(TrainingOutcome.failure("AlgorithmError: x"), job_name="tune-1-003-*")
    sagemaker.create_hyper_parameter_tuning_job(**tuning_request())
    finished(sagemaker)

    by_value = trials(sagemaker, SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    default = trials(sagemaker, MaxResults=10)
    first = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-1", MaxResults=3
    )
    rest = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="tune-1", MaxResults=3, NextToken=first["NextToken"]
    )

    # FinalObjectiveMetricValue leaves out the trial without an objective metric.
    assert [t["TrainingJobName"].split("-")[2] for t in by_value] == ["002", "004", "001"]
    assert [t["TrainingJobName"] for t in default] == sorted(t["TrainingJobName"] for t in default)
    assert len(first["TrainingJobSummaries"]) == 3
    assert "NextToken" not in rest
    paged = first["TrainingJobSummaries"] + rest["TrainingJobSummaries"]
    assert [t["TrainingJobName"] for t in paged] == [t["TrainingJobName"] for t in default]
    assert [t["TrainingJobStatus"] for t in trials(sagemaker, StatusEquals="Completed")] == [
        "Completed"
    ] * 3


def test_moto_lists_the_tuning_job_with_its_real_status(
    runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    runtime.script_training(TrainingOutcome.failure("AlgorithmError: x"))
    sagemaker.create_hyper_parameter_tuning_job(**tuning_request())
    finished(sagemaker)

    [summary] = sagemaker.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]

    assert summary["HyperParameterTuningJobStatus"] == "Failed"
    assert summary["TrainingJobStatusCounters"]["NonRetryableError"] == 4


def test_a_taken_name_is_resource_in_use(runtime: ScriptedRuntime, sagemaker: Any) -> None:
    sagemaker.create_hyper_parameter_tuning_job(**tuning_request())

    with pytest.raises(ClientError) as taken:
        sagemaker.create_hyper_parameter_tuning_job(**copy.deepcopy(tuning_request()))

    assert taken.value.response["Error"]["Code"] == "ResourceInUse"
    finished(sagemaker)
