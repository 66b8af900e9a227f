"""``arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync`` executed by moto's Step
Functions with the local SageMaker: wait for the tuning job, answer with its description, fail
the task as Step Functions does, stop the job when the execution stops."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome
from tests.emulator.runs.helpers import Execution, RunMachine, machine, task, wait_for
from tests.emulator.runs.test_tuning_jobs import OBJECTIVE, tuning_request

TUNE_SYNC = "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync"


def tune(**fields: Any) -> dict[str, Any]:
    parameters = tuning_request()
    del parameters["HyperParameterTuningJobName"]
    parameters["HyperParameterTuningJobName.$"] = "$.job"
    return machine("Tune", Tune=task(TUNE_SYNC, parameters, **fields))


def test_sync_waits_and_outputs_the_tuning_jobs_description(
    runtime: ScriptedRuntime, run_machine: RunMachine
) -> None:
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.9}))
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.99}), job_name="tuned-003-*")

    execution = run_machine(tune(ResultPath="$.tuning"), {"job": "tuned"})

    assert execution.status == "SUCCEEDED", execution.cause
    result = execution.output["tuning"]
    assert result["HyperParameterTuningJobName"] == "tuned"
    assert result["HyperParameterTuningJobStatus"] == "Completed"
    assert result["BestTrainingJob"]["TrainingJobName"].startswith("tuned-003-")
    assert result["TrainingJobStatusCounters"]["Completed"] == 4
    assert isinstance(result["CreationTime"], int)  # epoch milliseconds, as for training jobs
    assert "ResponseMetadata" not in result
    submitted = [e for e in execution.history if e["type"] == "TaskSubmitted"]
    assert json.loads(submitted[0]["taskSubmittedEventDetails"]["output"])[
        "HyperParameterTuningJobArn"
    ].endswith(":hyper-parameter-tuning-job/tuned")


def test_a_failed_tuning_job_fails_the_task_with_states_task_failed(
    runtime: ScriptedRuntime, run_machine: RunMachine
) -> None:
    runtime.script_training(TrainingOutcome.failure("AlgorithmError: exit code: 1"))

    execution = run_machine(tune(), {"job": "doomed"})

    assert execution.status == "FAILED"
    assert execution.error == "States.TaskFailed"
    cause = json.loads(execution.cause or "{}")
    assert cause["HyperParameterTuningJobStatus"] == "Failed"
    assert cause["FailureReason"].startswith("No training job succeeded after 4 attempts.")


def test_a_failed_tuning_job_can_be_caught(
    runtime: ScriptedRuntime, run_machine: RunMachine
) -> None:
    runtime.script_training(TrainingOutcome.failure("AlgorithmError: exit code: 1"))
    definition = tune(
        Catch=[{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Caught"}]
    )
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}

    execution = run_machine(definition, {"job": "caught"})

    assert execution.status == "SUCCEEDED"
    assert execution.output["error"]["Error"] == "States.TaskFailed"


def test_stopping_the_execution_stops_the_tuning_job(
    runtime: ScriptedRuntime,
    sagemaker: Any,
    sfn: Any,
    start_machine: Callable[..., str],
    finish: Callable[[str], Execution],
) -> None:
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.9}), seconds=5.0)
    execution_arn = start_machine(tune(), {"job": "halted"})
    wait_for(lambda: len(runtime.training_jobs) >= 1, "the first trial")

    sfn.stop_execution(executionArn=execution_arn)
    finish(execution_arn)

    def stopped() -> bool:
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="halted")
        return job["HyperParameterTuningJobStatus"] == "Stopped"

    wait_for(stopped, "the tuning job to stop")
    time.sleep(0.1)
    assert len(runtime.training_jobs) <= 2


def test_the_best_trial_is_described_as_a_single_training_job_is(
    runtime: ScriptedRuntime, run_machine: RunMachine
) -> None:
    # The pipeline's path after tuning: DescribeTrainingJob of the best trial, whose artifacts
    # and final metrics the evaluation gate and the deployment read.
    runtime.script_training(TrainingOutcome.success({OBJECTIVE: 0.9, "test:loss": 0.3}))
    runtime.script_training(
        TrainingOutcome.success({OBJECTIVE: 0.97, "test:loss": 0.1}), job_name="best-002-*"
    )
    definition = tune(ResultPath="$.tuning", Next="DescribeBest")
    definition["States"]["DescribeBest"] = task(
        "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob",
        {"TrainingJobName.$": "$.tuning.BestTrainingJob.TrainingJobName"},
        ResultPath="$.training",
    )

    execution = run_machine(definition, {"job": "best"})

    assert execution.status == "SUCCEEDED", execution.cause
    training = execution.output["training"]
    assert training["TrainingJobName"].startswith("best-002-")
    assert training["TrainingJobStatus"] == "Completed"
    assert training["ModelArtifacts"]["S3ModelArtifacts"] == (
        f"s3://artifacts/models/{training['TrainingJobName']}/output/model.tar.gz"
    )
    metrics = {m["MetricName"]: m["Value"] for m in training["FinalMetricDataList"]}
    assert metrics == {OBJECTIVE: 0.97, "test:loss": 0.1}
    assert training["TuningJobArn"].endswith(":hyper-parameter-tuning-job/best")
