"""The pipeline's state machine, executed, where SageMaker pushes back or another run overlaps:
throttled and invalid requests, and a newer run deploying before or during this run's update."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.sagemaker.exceptions import SagemakerClientError, ValidationError
from moto.sagemaker.models import SageMakerModelBackend

from mlpipeline_cdk.contract import run_output
from mlpipeline_cdk.steps._supersede import RUN_START_TAG
from mlpipeline_emulator import ScriptedRuntime
from tests.emulator.runs import test_pipeline_runs as _runs
from tests.emulator.runs.helpers import Execution, wait_for

# The pipeline's fixtures, shared with its other scenarios.
runtime = _runs.runtime
notifications = _runs.notifications
pipeline = _runs.pipeline
_entered = _runs._entered

pytestmark = pytest.mark.slow

#: A run start no real run has yet: the configuration tagged with it is a newer run's.
_LATER_RUN = "2999-01-01T00:00:00.000Z"


class _ThrottledError(SagemakerClientError):
    code = "ThrottlingException"

    def __init__(self) -> None:
        super().__init__("Rate exceeded")


def _failing(monkeypatch: pytest.MonkeyPatch, method: str, errors: list[Exception]) -> list[str]:
    """Make SageMaker's ``method`` raise ``errors`` one call at a time, then work again;
    returns the list of calls made."""
    original = getattr(SageMakerModelBackend, method)
    calls: list[str] = []

    def failing(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        if errors:
            raise errors.pop(0)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SageMakerModelBackend, method, failing)
    return calls


def _failed_tasks(execution: Execution) -> list[str]:
    return [
        e["taskFailedEventDetails"]["error"]
        for e in execution.history
        if "taskFailedEventDetails" in e
    ]


def test_throttled_endpoint_polls_are_retried_and_the_run_succeeds(
    pipeline: Callable[..., Execution], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = SageMakerModelBackend.describe_endpoint
    throttles = [_ThrottledError(), _ThrottledError()]

    def describe(self: Any, endpoint_name: str) -> Any:
        described = original(self, endpoint_name)  # "Could not find" before the endpoint exists
        if throttles:
            raise throttles.pop(0)
        return described

    monkeypatch.setattr(SageMakerModelBackend, "describe_endpoint", describe)
    result = pipeline()
    assert result.status == "SUCCEEDED", result.cause
    assert _failed_tasks(result).count("SageMaker.SageMakerException") >= 2
    assert result.output[run_output.DEPLOYMENT_STATUS] == run_output.DEPLOYED


def test_invalid_request_fails_the_run_at_once_without_retries(
    pipeline: Callable[..., Execution], monkeypatch: pytest.MonkeyPatch, notifications: Any
) -> None:
    calls = _failing(
        monkeypatch,
        "create_model",
        [ValidationError("1 validation error detected: Value 'x' at 'executionRoleArn'")],
    )
    started = time.monotonic()
    result = pipeline()
    assert result.status == "FAILED"
    assert result.error == "SageMaker.AmazonSageMakerException"
    assert "Error Code: ValidationException" in result.cause
    assert calls == ["create_model"]
    assert time.monotonic() - started < 20
    assert [m["error"] for m in notifications()] == ["SageMaker.AmazonSageMakerException"]


def test_throttled_optimized_request_waits_and_tries_again(
    pipeline: Callable[..., Execution], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _failing(monkeypatch, "create_endpoint_config", [_ThrottledError(), _ThrottledError()])
    result = pipeline()
    assert result.status == "SUCCEEDED", result.cause
    assert calls == ["create_endpoint_config"] * 3
    assert _entered(result).count("DeployWait") == 2


def test_throttling_beyond_the_budget_fails_the_run(
    pipeline: Callable[..., Execution], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _failing(monkeypatch, "create_model", [_ThrottledError() for _ in range(20)])
    result = pipeline()
    assert result.status == "FAILED"
    assert result.error == "SageMaker.AmazonSageMakerException"
    assert "Error Code: ThrottlingException" in result.cause
    assert len(calls) == 7  # the first call and six retries


@pytest.fixture
def newer_config(pipeline: Callable[..., Execution], sagemaker: Any) -> Iterator[str]:
    """After a first run, an endpoint configuration a later run made (its model, tagged as
    that run's): its name."""
    first = pipeline()
    assert first.status == "SUCCEEDED", first.cause
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=first.output[run_output.ENDPOINT_CONFIG_NAME]
    )
    name = "mnist-newer-run"
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=config["ProductionVariants"],
        Tags=[{"Key": RUN_START_TAG, "Value": _LATER_RUN}],
    )
    yield name


def _wait_in_service(sagemaker: Any, config_name: str) -> None:
    wait_for(
        lambda: (
            (d := sagemaker.describe_endpoint(EndpointName="mnist-endpoint"))["EndpointStatus"]
            == "InService"
            and d["EndpointConfigName"] == config_name
        ),
        f"endpoint on {config_name}",
    )


def test_run_that_finds_a_newer_run_deployed_leaves_the_endpoint_alone(
    pipeline: Callable[..., Execution],
    sagemaker: Any,
    newer_config: str,
    notifications: Any,
) -> None:
    sagemaker.update_endpoint(EndpointName="mnist-endpoint", EndpointConfigName=newer_config)
    _wait_in_service(sagemaker, newer_config)
    older = pipeline()
    assert older.status == "SUCCEEDED", older.cause
    assert older.output[run_output.DEPLOYMENT_STATUS] == run_output.SUPERSEDED
    assert "UpdateEndpoint" not in _entered(older)
    _wait_in_service(sagemaker, newer_config)
    assert notifications() == []


def test_run_superseded_while_it_waits_for_its_update_is_not_a_rollback(
    pipeline: Callable[..., Execution],
    sagemaker: Any,
    newer_config: str,
    notifications: Any,
    monkeypatch: pytest.MonkeyPatch,
    runtime: ScriptedRuntime,
) -> None:
    original = SageMakerModelBackend.describe_endpoint
    superseded: list[str] = []

    def describe(self: Any, endpoint_name: str) -> Any:
        described = original(self, endpoint_name)
        in_service = described["EndpointStatus"] == "InService"
        own_update_done = (
            in_service
            and described["EndpointConfigName"] != newer_config
            and len(runtime.deployments) >= 2
        )
        if own_update_done and not superseded:
            # The run's own update is done; a newer run updates before the run's next poll.
            superseded.append(described["EndpointConfigName"])
            SageMakerModelBackend.update_endpoint(self, endpoint_name, newer_config)
            return original(self, endpoint_name)
        return described

    monkeypatch.setattr(SageMakerModelBackend, "describe_endpoint", describe)
    older = pipeline()
    assert superseded == [older.output[run_output.ENDPOINT_CONFIG_NAME]]
    assert older.status == "SUCCEEDED", older.cause
    assert older.output[run_output.DEPLOYMENT_STATUS] == run_output.SUPERSEDED
    assert "EndpointUpdateRolledBack" not in _entered(older)
    _wait_in_service(sagemaker, newer_config)
    assert notifications() == []
