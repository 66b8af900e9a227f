"""The tuning pipeline's own states run by moto's ASL interpreter (the emulator's Step
Functions): the run input ``tuning`` and its messages, the tuned names a run may not set, the
static hyperparameters, and the tuning job's name for odd execution names. The tuning job itself
is replaced by a Pass state here (its emulation and the end-to-end runs live with the emulator)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from moto import mock_aws
from test_tuning import MNIST_TUNING

from mlpipeline_cdk import MLPipeline, TrainingSettings
from mlpipeline_cdk.contract import run_input as contract
from mlpipeline_cli.asl import render_definition
from mlpipeline_emulator import ScriptedRuntime, local_sagemaker
from tests.emulator.runs.helpers import MOTO_CONFIG, REGION, ROLE, wait_for

from conftest import ROOT, new_app

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
_ENDS = ("Train", "Tune")


def _reachable(states: dict[str, Any], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        todo.extend(t for t in (state.get("Next"), state.get("Default")) if t)
        todo.extend(c["Next"] for c in state.get("Choices", []) + state.get("Catch", []))
    return seen


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    """The tuning pipeline's whole definition, failures ending at once with the error the
    failure handler would raise (no SNS here)."""
    stack = cdk.Stack(new_app(), "Runs")
    MLPipeline(
        stack,
        "P",
        source_dir=str(ROOT / "training_code"),
        entry_point="mnist.py",
        name_prefix="team-a-" + "x" * 19,
        training=TrainingSettings(hyperparameters={"epochs": 2, "lr": 0.01}),
        tuning=MNIST_TUNING,
    )
    asl = render_definition(cdk.assertions.Template.from_stack(stack).to_json())
    asl["States"]["NotifyFailure"] = {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }
    return asl


def _ending(name: str) -> dict[str, Any]:
    return {"Type": "Pass", "Parameters": {"ended": name, "state.$": "$"}, "End": True}


def _pruned(start: str, states: dict[str, Any]) -> dict[str, Any]:
    keep = _reachable(states, start)
    return {"StartAt": start, "States": {k: v for k, v in states.items() if k in keep}}


@pytest.fixture(scope="module")
def definition(pipeline: dict[str, Any]) -> dict[str, Any]:
    """Up to the training job or the tuning job, each replaced by a Pass state that ends the
    run with what it would have been given."""
    states = json.loads(json.dumps(pipeline["States"]))
    states.update({name: _ending(name) for name in _ENDS})
    return _pruned(pipeline["StartAt"], states)


@pytest.fixture(scope="module")
def sfn() -> Iterator[Any]:
    with local_sagemaker(ScriptedRuntime()), mock_aws(config=MOTO_CONFIG):
        yield boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture(scope="module")
def machine(sfn: Any, definition: dict[str, Any]) -> str:
    created = sfn.create_state_machine(
        name="tuning", definition=json.dumps(definition), roleArn=ROLE
    )
    return str(created["stateMachineArn"])


def _run(sfn: Any, machine: str, run_input: Any, name: str | None = None) -> dict[str, Any]:
    extra = {"name": name} if name else {}
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(run_input), **extra)[
        "executionArn"
    ]
    return dict(
        wait_for(
            lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
            arn,
        )
    )


def _output(described: dict[str, Any]) -> dict[str, Any]:
    assert described["status"] == "SUCCEEDED", (described.get("error"), described.get("cause"))
    return dict(json.loads(described["output"]))


def test_a_run_tunes_with_a_valid_name_and_the_static_hyperparameters(
    sfn: Any, machine: str
) -> None:
    names = set()
    for execution in ("plain", "odd.name-with_(brackets)!'", "x" * 80):
        output = _output(_run(sfn, machine, {}, name=execution))
        assert output["ended"] == "Tune"
        state = output["state"]
        name = state["tuningJob"]["name"]
        assert len(name) <= 32 and _NAME.fullmatch(name), name
        names.add(name)
        assert state["config"]["tuning"] == {"enabled": True, "maxJobs": 6, "maxParallelJobs": 2}
        static = state["run"]["staticHyperparameters"]
        assert static["epochs"] == "2" and "lr" not in static and "batch-size" not in static
        assert static["sagemaker_program"] == "mnist.py"
        assert state["run"]["hyperparameters"]["lr"] == "0.01"
    assert len(names) == 3


def test_the_run_input_changes_the_counts_or_trains_once(sfn: Any, machine: str) -> None:
    state = _output(_run(sfn, machine, {"tuning": {"maxJobs": 4, "maxParallelJobs": 4}}))["state"]
    assert state["config"]["tuning"] == {"enabled": True, "maxJobs": 4, "maxParallelJobs": 4}
    once = _output(
        _run(sfn, machine, {"tuning": {"enabled": False}, "hyperparameters": {"lr": "0.1"}})
    )
    assert once["ended"] == "Train"
    assert once["state"]["run"]["hyperparameters"]["lr"] == "0.1"


@pytest.mark.parametrize(
    ("run_input", "cause"),
    [
        ({"tuning": []}, contract.BY_NAME[contract.TUNING].message),
        ({"tuning": "off"}, contract.BY_NAME[contract.TUNING].message),
        ({"tuning": {"jobs": 3}}, contract.BY_NAME[contract.TUNING].message),
        ({"tuning": {"enabled": "no"}}, contract.TUNING_ENABLED_MESSAGE),
        ({"tuning": {"maxJobs": 751}}, contract.tuning_max_jobs_message(1, 750)),
        ({"tuning": {"maxJobs": 2.5}}, contract.tuning_max_jobs_message(1, 750)),
        ({"tuning": {"maxParallelJobs": 101}}, contract.TUNING_MAX_PARALLEL_JOBS_MESSAGE),
        ({"tuning": {"maxJobs": 2, "maxParallelJobs": 3}}, contract.TUNING_PARALLEL_ABOVE_JOBS),
        ({"tuning": {"maxJobs": 1}}, contract.TUNING_PARALLEL_ABOVE_JOBS),
        ({"hyperparameters": {"lr": "0.1"}}, "hyperparameters: lr, batch-size are tuned"),
        ({"hyperparameters": {"batch-size": "8"}}, "hyperparameters: lr, batch-size are tuned"),
    ],
)
def test_bad_tuning_input_fails_the_run_with_the_contracts_message(
    sfn: Any, machine: str, run_input: dict[str, Any], cause: str
) -> None:
    described = _run(sfn, machine, run_input)
    assert described["status"] == "FAILED"
    assert described["error"] == contract.INVALID_INPUT
    assert described["cause"].startswith(cause)


def test_a_value_that_only_mentions_a_tuned_name_is_not_refused(sfn: Any, machine: str) -> None:
    output = _output(_run(sfn, machine, {"hyperparameters": {"note": 'x,"lr":1'}}))
    assert output["ended"] == "Tune"
    assert output["state"]["run"]["staticHyperparameters"]["note"] == 'x,"lr":1'


def _ended_tuning(
    pipeline: dict[str, Any], tune: dict[str, Any], then: str = "HasBestTrial"
) -> dict[str, Any]:
    """The pipeline with its tuning job replaced by ``tune`` (going on at ``then``), the best
    trial's description by a Pass that ends, and the single training job by one too."""
    states = json.loads(json.dumps(pipeline["States"]))
    states["Tune"] = {**tune, "Next": then}
    states.update({name: _ending(name) for name in ("Train", "DescribeBestTrainingJob")})
    return _pruned(pipeline["StartAt"], states)


def _tuning_job(status: str, completed: int, best: bool) -> dict[str, Any]:
    job: dict[str, Any] = {
        "HyperParameterTuningJobName": "x",
        "HyperParameterTuningJobStatus": status,
        "TrainingJobStatusCounters": {"Completed": completed, "NonRetryableError": 2},
    }
    if best:
        job["BestTrainingJob"] = {"TrainingJobName": "x-002-1a2b3c4d"}
    if status == "Failed":
        job["FailureReason"] = "All training jobs failed"
    return job


@pytest.mark.parametrize(
    ("job", "ended", "error", "cause"),
    [
        (_tuning_job("Completed", 1, True), "DescribeBestTrainingJob", None, None),
        (
            _tuning_job("Completed", 0, False),
            None,
            "NoCompletedTrial",
            "ended Completed with no completed trial",
        ),
    ],
)
def test_a_tuning_job_that_ends_goes_on_with_its_best_trial_or_fails_clearly(
    sfn: Any,
    pipeline: dict[str, Any],
    job: dict[str, Any],
    ended: str | None,
    error: str | None,
    cause: str | None,
) -> None:
    tune = {"Type": "Pass", "Result": {"description": job}, "ResultPath": "$.tuning"}
    created = sfn.create_state_machine(
        name=f"ended-{ended or error}",
        definition=json.dumps(_ended_tuning(pipeline, tune)),
        roleArn=ROLE,
    )
    described = _run(sfn, created["stateMachineArn"], {})
    if ended:
        output = _output(described)
        assert output["ended"] == ended
        assert output["state"]["tuning"]["description"]["BestTrainingJob"]["TrainingJobName"]
    else:
        assert described["status"] == "FAILED"
        assert described["error"] == error and cause in described["cause"]


@pytest.mark.parametrize(
    ("job", "error", "cause"),
    [
        (_tuning_job("Failed", 0, False), "NoCompletedTrial", "with no completed trial: All"),
        (_tuning_job("Failed", 2, True), "TuningFailed", "ended Failed: All training jobs failed"),
        (_tuning_job("Stopped", 1, True), "TuningFailed", "ended Stopped: SageMaker gave no"),
    ],
)
def test_a_failed_tuning_job_fails_the_run_with_sagemakers_reason(
    sfn: Any,
    pipeline: dict[str, Any],
    job: dict[str, Any],
    error: str,
    cause: str,
) -> None:
    # A .sync task whose job failed raises States.TaskFailed with the job's description as the
    # cause (https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html), which
    # the task's catch-all puts in $.error on the way to ExplainTuningFailure. moto's Fail states
    # may not raise States.* names, so a Pass writes what that Catch would.
    (catch_all,) = [
        c for c in pipeline["States"]["Tune"]["Catch"] if c["ErrorEquals"] == ["States.ALL"]
    ]
    assert catch_all["ResultPath"] == "$.error"
    tune = {
        "Type": "Pass",
        "Result": {"Error": "States.TaskFailed", "Cause": json.dumps(job)},
        "ResultPath": "$.error",
    }
    created = sfn.create_state_machine(
        name=f"failed-{job['HyperParameterTuningJobStatus']}-{len(cause)}",
        definition=json.dumps(_ended_tuning(pipeline, tune, then=catch_all["Next"])),
        roleArn=ROLE,
    )
    described = _run(sfn, created["stateMachineArn"], {})
    assert described["status"] == "FAILED"
    assert described["error"] == error, described["cause"]
    assert cause in described["cause"]
