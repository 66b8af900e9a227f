"""A pipeline that tunes, executed end to end in the emulator: its tuning job runs scripted
trials, the best one goes through the gate, the registry and the deployment like a single
training job; failures of the tuning job end the run clearly."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import aws_cdk as cdk
import boto3
import pytest

from mlpipeline_cdk import MLPipeline, TrainingSettings
from mlpipeline_cdk.tuning import CategoricalRange, ContinuousRange, TuningSettings
from mlpipeline_cli.asl import render_definition
from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome, local_sagemaker
from tests.emulator.runs.helpers import (
    REGION,
    ROLE,
    Execution,
    finish_execution,
    pipeline_environment,
)

from conftest import ROOT, new_app

# Slow: synthesizes a tuning pipeline and executes it, scenario after scenario.
pytestmark = pytest.mark.slow

ACCURACY = "test:accuracy"


@pytest.fixture(scope="module")
def tuned_template() -> dict[str, Any]:
    stack = cdk.Stack(
        new_app(), "Tuned", env=cdk.Environment(account="123456789012", region=REGION)
    )
    MLPipeline(
        stack,
        "Pipeline",
        source_dir=str(ROOT / "training_code"),
        entry_point="mnist.py",
        name_prefix="mnist",
        training=TrainingSettings(hyperparameters={"epochs": 2}),
        tuning=TuningSettings(
            parameter_ranges={
                "lr": ContinuousRange(0.0005, 0.05, scaling="Logarithmic"),
                "batch-size": CategoricalRange([32, 64, 128]),
            },
            strategy="Random",
            max_jobs=4,
            max_parallel_jobs=2,
        ),
    )
    return cdk.assertions.Template.from_stack(stack).to_json()


@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    with local_sagemaker(
        ScriptedRuntime(training=TrainingOutcome.success({ACCURACY: 0.93, "test:loss": 0.2})),
        wait_scale=0.001,
    ) as active:
        assert isinstance(active, ScriptedRuntime)
        yield active


@pytest.fixture
def run(tuned_template: dict[str, Any], aws: None) -> Callable[..., Execution]:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="failures")["TopicArn"]
    topic_id = next(
        k for k, v in tuned_template["Resources"].items() if v["Type"] == "AWS::SNS::Topic"
    )
    env = pipeline_environment(tuned_template, {topic_id: topic})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="Tuned",
        definition=json.dumps(render_definition(tuned_template, env=env)),
        roleArn=ROLE,
    )["stateMachineArn"]

    def start(execution_input: Any = None) -> Execution:
        arn = sfn.start_execution(
            stateMachineArn=machine,
            input=json.dumps(execution_input or {}),
            name=f"run-{uuid.uuid4()}",
        )["executionArn"]
        return finish_execution(sfn, arn, timeout=60)

    return start


def _tuning_job(sagemaker: Any) -> dict[str, Any]:
    (summary,) = sagemaker.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    return dict(
        sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=summary["HyperParameterTuningJobName"]
        )
    )


def test_a_tuned_run_registers_and_deploys_the_best_trials_model(
    run: Callable[..., Execution], runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    runtime.script_training(TrainingOutcome.success({ACCURACY: 0.98}), job_name="*-003-*")
    result = run()
    assert result.status == "SUCCEEDED", result.cause
    job = _tuning_job(sagemaker)
    best = job["BestTrainingJob"]["TrainingJobName"]
    assert "-003-" in best
    assert result.output["trainingJobName"] == best
    assert result.output["accuracy"] == pytest.approx(0.98)
    assert result.output["deploymentStatus"] == "Deployed"
    version = sagemaker.describe_model_package(ModelPackageName=result.output["modelPackageArn"])
    trial = sagemaker.describe_training_job(TrainingJobName=best)
    (container,) = version["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == trial["ModelArtifacts"]["S3ModelArtifacts"]
    assert job["TrainingJobStatusCounters"]["Completed"] == 4
    # The report records the best trial's tuned values.
    report_uri = version["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket, _, key = report_uri.removeprefix("s3://").partition("/")
    report = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    recorded = report["mlpipeline"]["hyperparameters"]
    assert recorded["lr"] == trial["HyperParameters"]["lr"]
    assert recorded["batch-size"] == trial["HyperParameters"]["batch-size"]


def test_the_gate_refuses_a_best_trial_below_the_threshold(
    run: Callable[..., Execution], runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    runtime.script_training(TrainingOutcome.success({ACCURACY: 0.5}))
    result = run()
    assert (result.status, result.error) == ("FAILED", "ModelBelowThreshold")
    assert (
        sagemaker.list_model_packages(ModelPackageGroupName="mnist-models")[
            "ModelPackageSummaryList"
        ]
        == []
    )


def test_failing_trials_leave_the_best_of_the_completed_ones(
    run: Callable[..., Execution], runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    runtime.script_training(
        TrainingOutcome.failure("AlgorithmError: out of memory"), job_name="*-00[12]-*"
    )
    runtime.script_training(TrainingOutcome.success({ACCURACY: 0.95}), job_name="*-004-*")
    result = run()
    assert result.status == "SUCCEEDED", result.cause
    assert "-004-" in result.output["trainingJobName"]
    counters = _tuning_job(sagemaker)["TrainingJobStatusCounters"]
    assert (counters["Completed"], counters["NonRetryableError"]) == (2, 2)


def test_no_completed_trial_ends_the_run_clearly(
    run: Callable[..., Execution], runtime: ScriptedRuntime
) -> None:
    runtime.script_training(TrainingOutcome.failure("AlgorithmError: exit code: 1"))
    result = run()
    assert (result.status, result.error) == ("FAILED", "NoCompletedTrial")
    assert "No training job succeeded" in (result.cause or "")


def test_the_run_input_switches_tuning_off(
    run: Callable[..., Execution], runtime: ScriptedRuntime, sagemaker: Any
) -> None:
    result = run({"tuning": {"enabled": False}})
    assert result.status == "SUCCEEDED", result.cause
    assert sagemaker.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
    (job,) = runtime.training_jobs
    assert result.output["trainingJobName"] == job.name
