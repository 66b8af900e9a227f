"""``list`` and ``describe`` show the accuracy of a run that failed the threshold.

Such a run ends FAILED without an output, but the accuracy is known: the pipeline's
EvaluateModel keeps ``$.evaluation`` (``accuracy``, ``threshold``) in the state data up to the
end (mlpipeline_cdk/steps/evaluation.py). moto runs a stand-in with the same shape, so the
history is a real one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from moto import mock_aws

from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli.cli import main

REGION = "us-east-1"
DEFINITION = {
    "StartAt": "SummariseTraining",
    "States": {
        "SummariseTraining": {
            "Type": "Pass",
            "Parameters": {
                "training": {"jobName": "mnist-1"},
                "evaluation": {"accuracy": 0.9312, "threshold.$": "$.accuracyThreshold"},
            },
            "Next": "IsModelGoodEnough",
        },
        "IsModelGoodEnough": {
            "Type": "Choice",
            "Choices": [
                {
                    "Variable": "$.evaluation.accuracy",
                    "NumericLessThanPath": "$.evaluation.threshold",
                    "Next": "ModelBelowThreshold",
                }
            ],
            "Default": "RunSucceeded",
        },
        "ModelBelowThreshold": {
            "Type": "Pass",
            "Parameters": {"Error": "ModelBelowThreshold", "Cause": "below the threshold"},
            "ResultPath": "$.error",
            "Next": "RunFailed",
        },
        "RunFailed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        "RunSucceeded": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture(scope="module")
def clients() -> AwsClients:
    return AwsClients(region=REGION)


@pytest.fixture
def failed_run(clients: AwsClients, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A run of the stand-in that ended FAILED below its threshold 0.95."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = clients.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="Pipeline",
            roleArn="arn:aws:iam::123456789012:role/pipeline",
            definition=json.dumps(DEFINITION),
        )["stateMachineArn"]
        execution = sfn.start_execution(
            stateMachineArn=machine, name="strict", input=json.dumps({"accuracyThreshold": 0.95})
        )["executionArn"]
        deadline = time.monotonic() + 30  # moto runs the execution in a thread
        while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert sfn.describe_execution(executionArn=execution)["status"] == "FAILED"
        yield str(machine)


def test_list_shows_the_accuracy_of_a_run_below_the_threshold(
    clients: AwsClients, failed_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-machine-arn", failed_run, "list"], clients=clients) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "NAME",
        "STATUS",
        "STARTED",
        "DURATION",
        "ACCURACY",
        "VERSION",
        "ENDPOINT",
        "ERROR",
    ]
    assert row.split()[0:2] == ["strict", "FAILED"]
    assert "0.9312" in row.split()
    assert row.split()[-1] == "ModelBelowThreshold"


def test_list_json_gives_the_accuracy_and_threshold(
    clients: AwsClients, failed_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-machine-arn", failed_run, "list", "--json"], clients=clients) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["accuracy"] == 0.9312
    assert record["accuracyThreshold"] == 0.95
    assert record["error"] == "ModelBelowThreshold"


def test_describe_shows_the_accuracy_of_a_run_below_the_threshold(
    clients: AwsClients, failed_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-machine-arn", failed_run, "describe", "strict"], clients=clients) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "accuracy:  0.9312 (threshold 0.9500)" in lines


def test_the_sentinel_of_a_job_without_the_metric_is_no_accuracy() -> None:
    from mlpipeline_cli._history import evaluation_of

    sentinel = {
        "stateExitedEventDetails": {
            "output": json.dumps({"evaluation": {"accuracy": -1, "threshold": 0.9}})
        }
    }
    assert evaluation_of([sentinel]) == {}
