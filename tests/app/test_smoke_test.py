"""scripts/smoke_test.py against Step Functions and STS as moto runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scripts import smoke_test

REGION = "eu-west-1"
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
FAIL = {
    "StartAt": "Broken",
    "States": {"Broken": {"Type": "Fail", "Error": "TrainingFailed", "Cause": "accuracy 0.1"}},
}


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",  # not the state machine's: the ARN's region is used
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STATE_MACHINE_ARN", raising=False)
    monkeypatch.delenv("SMOKE_TEST_ROLE_ARN", raising=False)


@pytest.fixture
def executing_aws() -> Iterator[None]:
    """moto, running the state machine definitions it is given."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def _role(name: str) -> str:
    iam = boto3.client("iam")
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])


def _state_machine(definition: dict[str, Any]) -> str:
    client = boto3.client("stepfunctions", region_name=REGION)
    return str(
        client.create_state_machine(
            name="ml-pipeline", definition=json.dumps(definition), roleArn=_role("states")
        )["stateMachineArn"]
    )


def _no_sleep(seconds: float) -> None:
    pass


def test_succeeds_when_the_execution_succeeds(
    executing_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = _state_machine(PASS)
    code = smoke_test.main(["--state-machine-arn", arn, "--poll-interval", "0"], sleep=_no_sleep)
    out = capsys.readouterr().out
    assert code == 0
    assert "started execution arn:aws:states:eu-west-1:123456789012:execution:ml-pipeline:" in out
    assert "SUCCEEDED" in out
    assert out.rstrip().endswith("smoke test passed")


def test_starts_the_execution_with_the_given_input_and_a_unique_name(executing_aws: None) -> None:
    arn = _state_machine(PASS)
    for _ in range(2):
        assert smoke_test.main(["--state-machine-arn", arn, "--poll-interval", "0"]) == 0
    client = boto3.client("stepfunctions", region_name=REGION)
    executions = client.list_executions(stateMachineArn=arn)["executions"]
    assert len({e["name"] for e in executions}) == 2
    for execution in executions:
        assert execution["name"].startswith("smoke-test-") and len(execution["name"]) <= 80
        described = client.describe_execution(executionArn=execution["executionArn"])
        assert json.loads(described["input"]) == {
            "hyperparameters": {"epochs": "1"},
            "trainingInstanceCount": 1,
        }


def test_fails_with_the_error_and_cause_when_the_execution_fails(
    executing_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = _state_machine(FAIL)
    code = smoke_test.main(["--state-machine-arn", arn, "--poll-interval", "0"], sleep=_no_sleep)
    err = capsys.readouterr().err
    assert code == 1
    assert "ended FAILED: error=TrainingFailed cause=accuracy 0.1" in err
    assert "Traceback" not in err


def test_assumes_the_role_and_reads_both_arns_from_the_environment(
    executing_aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATE_MACHINE_ARN", _state_machine(PASS))
    monkeypatch.setenv("SMOKE_TEST_ROLE_ARN", _role("smoke-test"))
    assert smoke_test.main(["--poll-interval", "0"]) == 0
    assert "smoke test passed" in capsys.readouterr().out


def test_gives_up_after_the_timeout_while_the_execution_still_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with mock_aws():  # without execute_state_machine, moto's executions stay RUNNING
        arn = _state_machine(PASS)
        code = smoke_test.main(
            ["--state-machine-arn", arn, "--timeout", "0.2", "--poll-interval", "0.05"]
        )
    err = capsys.readouterr().err
    assert code == 1
    assert "still RUNNING after 0 s" in err


def test_run_polls_until_finished_and_prints_progress() -> None:
    statuses = iter(["RUNNING", "RUNNING", "SUCCEEDED"])
    sleeps: list[float] = []
    clock = iter([0.0, 0.0, 30.0, 60.0])

    class Client:
        def start_execution(self, **kwargs: Any) -> dict[str, str]:
            assert kwargs["stateMachineArn"] == "arn"
            return {"executionArn": "arn:execution"}

        def describe_execution(self, executionArn: str) -> dict[str, str]:  # noqa: N803
            return {"status": next(statuses)}

    import io

    out = io.StringIO()
    status = smoke_test.run(
        Client(),
        state_machine_arn="arn",
        execution_input="{}",
        timeout=3600,
        poll_interval=30,
        out=out,
        sleep=sleeps.append,
        clock=lambda: next(clock),
    )
    assert status == "SUCCEEDED"
    assert sleeps == [30, 30]
    assert out.getvalue().splitlines() == [
        "started execution arn:execution",
        "[     0 s] RUNNING",
        "[    30 s] RUNNING",
        "[    60 s] SUCCEEDED",
    ]


def test_an_aws_error_is_one_line_without_traceback(
    executing_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = f"arn:aws:states:{REGION}:123456789012:stateMachine:missing"
    assert smoke_test.main(["--state-machine-arn", arn]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("smoke test failed: An error occurred (StateMachineDoesNotExist)")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "--state-machine-arn is required (or set STATE_MACHINE_ARN)"),
        (["--state-machine-arn", "ml-pipeline"], "is not a state machine ARN"),
        (
            [
                "--state-machine-arn",
                "arn:aws:states:eu-west-1:123456789012:stateMachine:x",
                "--input",
                "{epochs: 1}",
            ],
            "--input is not valid JSON",
        ),
        (
            [
                "--state-machine-arn",
                "arn:aws:states:eu-west-1:123456789012:stateMachine:x",
                "--role-arn",
                "smoke-test",
            ],
            "--role-arn 'smoke-test' is not an IAM role ARN",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_clear_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        smoke_test.main(argv)
    assert exited.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("smoke_test.py: error: ")
    assert expected in last_line
