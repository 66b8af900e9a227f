"""A tuning job of the local SageMaker with ProcessRuntime: its trials run the real MNIST script
(training_code/mnist.py) on the sample digits, two at once, and the best is picked by the
accuracy each one logged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlpipeline_cdk.contract.script import ACCURACY_METRIC, METRIC_DEFINITIONS
from mlpipeline_cdk.source_asset import build_source_archive
from mlpipeline_emulator import ProcessRuntime, local_sagemaker
from scripts.mnist_data import MnistSplits, load_sample_digits, split_digits, write_splits
from tests.emulator.runs.helpers import MOTO_CONFIG, REGION, SAGEMAKER_ROLE

# Slow: real training, two processes at once.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
BUCKET = "mlpipeline-tuning"
#: Real training takes seconds; leave room for a loaded two-core machine.
TIMEOUT = 300.0


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A two-trial tuning job over lr and batch-size, run to its end."""
    tmp = tmp_path_factory.mktemp("tuning-process")
    runtime = ProcessRuntime(workdir=tmp / "work", stop_grace_seconds=2.0)
    with closing(runtime), local_sagemaker(runtime), mock_aws(config=MOTO_CONFIG):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        full = split_digits(*load_sample_digits(), test_fraction=0.2, seed=0)
        digits = MnistSplits(
            full.train_images[:600],
            full.train_labels[:600],
            full.test_images[:200],
            full.test_labels[:200],
        )
        for path in write_splits(tmp / "mnist", digits, compress=True):
            s3.upload_file(str(path), BUCKET, f"mnist/{path.name}")
        code = build_source_archive(ROOT / "training_code", tmp)
        s3.upload_file(str(code), BUCKET, "code/mnist.tar.gz")
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_hyper_parameter_tuning_job(**_request())
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="mnist")
            if job["HyperParameterTuningJobStatus"] != "InProgress":
                break
            time.sleep(0.2)
        yield sagemaker, job


def _request() -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": "mnist",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": ACCURACY_METRIC},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {
                        "Name": "lr",
                        "MinValue": "0.0005",
                        "MaxValue": "0.05",
                        "ScalingType": "Logarithmic",
                    }
                ],
                "CategoricalParameterRanges": [{"Name": "batch-size", "Values": ["16", "64"]}],
            },
            "RandomSeed": 1,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "epochs": "1",
                "test-batch-size": "100",
                "log-interval": "5",
                "sagemaker_program": '"mnist.py"',
                "sagemaker_submit_directory": f'"s3://{BUCKET}/code/mnist.tar.gz"',
                "sagemaker_region": f'"{REGION}"',
            },
            "AlgorithmSpecification": {
                "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2",
                "TrainingInputMode": "File",
                "MetricDefinitions": [dict(d) for d in METRIC_DEFINITIONS],
            },
            "RoleArn": SAGEMAKER_ROLE,
            "InputDataConfig": [
                {
                    "ChannelName": "training",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/mnist/",
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 1,
                "VolumeSizeInGB": 5,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }


def _accuracy(training_job: dict[str, Any]) -> float:
    [value] = [
        m["Value"]
        for m in training_job["FinalMetricDataList"]
        if m["MetricName"] == ACCURACY_METRIC
    ]
    return float(value)


def test_the_trials_train_the_real_script_and_the_best_accuracy_wins(
    tuned: tuple[Any, dict[str, Any]],
) -> None:
    sagemaker, job = tuned
    trials = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="mnist"
    )["TrainingJobSummaries"]
    described = [
        sagemaker.describe_training_job(TrainingJobName=t["TrainingJobName"]) for t in trials
    ]

    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert [d["TrainingJobStatus"] for d in described] == ["Completed", "Completed"]
    accuracies = {d["TrainingJobName"]: _accuracy(d) for d in described}
    # Each trial's objective is the accuracy its own log reported, and the best is the highest.
    for trial in trials:
        objective = trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert objective == pytest.approx(accuracies[trial["TrainingJobName"]])
    best = job["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
        max(accuracies.values())
    )
    assert 0.3 < max(accuracies.values()) <= 1.0
    # The tuned values reached the script: each trial trained with its own hyperparameters.
    for d, trial in zip(described, trials, strict=True):
        assert d["HyperParameters"]["lr"] == trial["TunedHyperParameters"]["lr"]
        assert d["ModelArtifacts"]["S3ModelArtifacts"].endswith(
            f"/{d['TrainingJobName']}/output/model.tar.gz"
        )
    # Two at once: the second started before the first ended.
    first, second = sorted(described, key=lambda d: d["TrainingStartTime"])
    assert second["TrainingStartTime"] < first["TrainingEndTime"]
