"""How the operator tool shows a run whose deployment a later run superseded."""

from __future__ import annotations

from mlpipeline_cdk.contract import run_output
from mlpipeline_cli._history import summarize_output

_OUTPUT = {
    run_output.ACCURACY: 0.97,
    run_output.ACCURACY_THRESHOLD: 0.9,
    run_output.ENDPOINT_NAME: "mnist-endpoint",
    run_output.ENDPOINT_STATUS: "InService",
    run_output.MODEL_NAME: "mnist-2",
}


def test_a_superseded_run_says_that_a_later_run_serves_its_model() -> None:
    line = summarize_output({**_OUTPUT, run_output.DEPLOYMENT_STATUS: run_output.SUPERSEDED})
    assert "endpoint mnist-endpoint InService (superseded: a run that started later serves" in line


def test_a_deployed_run_reads_as_before() -> None:
    line = summarize_output({**_OUTPUT, run_output.DEPLOYMENT_STATUS: run_output.DEPLOYED})
    assert line == summarize_output(_OUTPUT)
    assert "superseded" not in line
