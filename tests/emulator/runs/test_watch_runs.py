"""``mlpipeline watch`` of the pipeline's own state machine, executed in the emulator: the run by
its steps, with nothing of the normal path (no endpoint yet, a newer run deployed, a throttled
call) shown as an error, in far fewer lines than every state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto.sagemaker.exceptions import SagemakerClientError
from moto.sagemaker.models import SageMakerModelBackend

from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli.cli import main
from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome
from tests.emulator.runs import test_pipeline_runs as _runs
from tests.emulator.runs import test_run_lifecycle as _lifecycle
from tests.emulator.runs.helpers import REGION, Execution

# The pipeline's fixtures, shared with its other scenarios.
runtime = _runs.runtime
notifications = _runs.notifications
pipeline = _runs.pipeline
newer_config = _lifecycle.newer_config

pytestmark = pytest.mark.slow


def _watch(capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, list[str]]:
    """``watch`` of the latest execution, as plain lines (stdout is no terminal here)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    (machine,) = sfn.list_state_machines()["stateMachines"]
    latest = sfn.list_executions(stateMachineArn=machine["stateMachineArn"], maxResults=1)
    arn = latest["executions"][0]["executionArn"]
    capsys.readouterr()
    status = main(["watch", arn, "--interval", "0.01", *options], clients=AwsClients(region=REGION))
    out = capsys.readouterr().out
    assert "\x1b" not in out  # no escape codes in a pipe
    return status, out.splitlines()


def _steps(lines: list[str]) -> list[tuple[str, str]]:
    """(step, what) of the lines between the first and the last."""
    found = []
    for line in lines[1:-1]:
        _, rest = line.split("  ", 1)
        step, what = rest.split("  ", 1)
        found.append((step.strip(), what.strip()))
    return found


def test_a_first_run_shows_its_steps_and_no_error(
    pipeline: Callable[..., Execution], capsys: pytest.CaptureFixture[str]
) -> None:
    result = pipeline({"hyperparameters": {"epochs": "1"}})
    assert result.status == "SUCCEEDED", result.cause
    # The normal create path: FindEndpoint's DescribeEndpoint fails, the run creates it.
    assert any(
        "Could not find endpoint" in e["taskFailedEventDetails"].get("cause", "")
        for e in result.history
        if "taskFailedEventDetails" in e
    )
    status, lines = _watch(capsys)
    assert status == 0
    steps = _steps(lines)
    assert [step for step, what in steps if what.startswith("done in")] == [
        "check input",
        "train",
        "evaluate",
        "register",
        "deploy",
        "wait for endpoint",
    ]
    assert ("deploy", "creating the endpoint") in steps
    assert ("wait for endpoint", "endpoint mnist-endpoint: InService") in steps
    assert any(
        step == "train" and what.startswith("metrics test:accuracy=0.97") for step, what in steps
    )
    assert not any("error" in line.lower() or "Could not find" in line for line in lines)
    assert lines[-1].split("  ", 1)[1].startswith("SUCCEEDED after ")
    verbose_status, verbose = _watch(capsys, "--verbose")
    assert verbose_status == 0
    # 16 lines instead of 95 when this was written.
    assert len(lines) * 4 < len(verbose)


class _ThrottledError(SagemakerClientError):
    code = "ThrottlingException"

    def __init__(self) -> None:
        super().__init__("Rate exceeded")


def test_a_second_run_updates_and_a_throttled_call_is_tried_again_not_failed(
    pipeline: Callable[..., Execution],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert pipeline().status == "SUCCEEDED"
    throttles = [_ThrottledError()]
    original = SageMakerModelBackend.create_endpoint_config

    def create_endpoint_config(self: Any, *args: Any, **kwargs: Any) -> Any:
        if throttles:
            raise throttles.pop(0)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SageMakerModelBackend, "create_endpoint_config", create_endpoint_config)
    second = pipeline()
    assert second.status == "SUCCEEDED", second.cause
    status, lines = _watch(capsys)
    assert status == 0
    steps = _steps(lines)
    deploy = [what for step, what in steps if step == "deploy"]
    assert deploy[0].startswith(
        "create endpoint config again after SageMaker.AmazonSageMakerException: Rate exceeded"
    )
    assert "updating the endpoint" in deploy
    assert "endpoint mnist-endpoint: InService" in deploy  # the first run's, before the update
    assert not any(" error " in line for line in lines)


def test_a_superseded_run_succeeds_without_an_error_line(
    pipeline: Callable[..., Execution],
    sagemaker: Any,
    newer_config: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sagemaker.update_endpoint(EndpointName="mnist-endpoint", EndpointConfigName=newer_config)
    _lifecycle._wait_in_service(sagemaker, newer_config)
    older = pipeline()
    assert older.status == "SUCCEEDED", older.cause
    status, lines = _watch(capsys)
    assert status == 0
    assert [step for step, what in _steps(lines) if what.startswith("done in")] == [
        "check input",
        "train",
        "evaluate",
        "register",
        "deploy",
    ]
    assert "(superseded: a run that started later serves its model)" in lines[-1]
    assert not any(" error " in line for line in lines)


def test_a_run_below_the_threshold_fails_in_evaluate_in_one_line(
    pipeline: Callable[..., Execution],
    runtime: ScriptedRuntime,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime.script_training(TrainingOutcome.success({"test:accuracy": 0.42}))
    assert pipeline().status == "FAILED"
    status, lines = _watch(capsys)
    assert status == 3
    assert _steps(lines)[-1][0] == "evaluate"
    assert _steps(lines)[-1][1].startswith("failed after ")
    final = lines[-1].split("  ", 1)[1]
    assert final.startswith("FAILED after ")
    assert " in evaluate: ModelBelowThreshold: test:accuracy 0.42 " in final


def test_invalid_input_fails_in_check_input(
    pipeline: Callable[..., Execution], capsys: pytest.CaptureFixture[str]
) -> None:
    assert pipeline({"hyperparameters": {"epochs": 2}}).status == "FAILED"
    status, lines = _watch(capsys)
    assert status == 3
    assert len(lines) == 3
    assert _steps(lines) == [("check input", _steps(lines)[0][1])]
    assert (
        " in check input: InvalidInput: hyperparameters: every value must be a string"
        in (lines[-1])
    )
