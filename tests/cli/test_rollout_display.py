"""How the operator tool shows a run's guarded rollout: the strategy of a deployed run, and why
SageMaker rolled a run's update back."""

from __future__ import annotations

from datetime import UTC, datetime

from mlpipeline_cdk.contract import run_output
from mlpipeline_cli._history import summarize_output
from mlpipeline_cli._watch_events import WatchEvent
from mlpipeline_cli._watch_view import final_line

_OUTPUT = {
    run_output.ENDPOINT_NAME: "mnist-endpoint",
    run_output.ENDPOINT_STATUS: "InService",
    run_output.DEPLOYMENT_STATUS: run_output.DEPLOYED,
}


def test_a_deployed_run_names_the_rollout_that_shifted_traffic() -> None:
    line = summarize_output({**_OUTPUT, run_output.ROLLOUT_STRATEGY: "canary"})
    assert "endpoint mnist-endpoint InService after a canary rollout" in line


def test_a_run_that_created_the_endpoint_names_no_rollout() -> None:
    line = summarize_output({**_OUTPUT, run_output.ROLLOUT_STRATEGY: "none"})
    assert line == summarize_output(_OUTPUT)
    assert "rollout" not in line


def test_a_rolled_back_run_shows_the_alarm_and_its_reason() -> None:
    cause = (
        "SageMaker rolled endpoint mnist-endpoint back to mnist-1 instead of mnist-2 because "
        'rollout alarms fired: ["mnist-endpoint-rollout-server-errors"] '
        '(["Threshold Crossed: 3 errors"]). Deployment rolled back.'
    )
    event = WatchEvent(
        type="execution_ended",
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        details={
            "status": "FAILED",
            "error": "EndpointRolloutRolledBack",
            "cause": cause,
            "failedState": "EndpointRolloutRolledBack",
        },
    )
    line = final_line(event)
    assert line.startswith("FAILED in EndpointRolloutRolledBack: EndpointRolloutRolledBack: ")
    assert "mnist-endpoint-rollout-server-errors" in line
    assert "Threshold Crossed: 3 errors" in line
