"""``mlpipeline run``, ``list`` and ``describe`` against moto: a stack, a state machine, runs.

moto executes the state machine (``execute_state_machine``), so executions really end, with
real histories, in SUCCEEDED or FAILED.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from mlpipeline_cdk.contract import run_input as run_input_contract
from mlpipeline_cli._aws import AwsClients, CliError
from mlpipeline_cli.cli import EXIT_NOT_SUCCEEDED, run_input
from mlpipeline_cli.cli import main as cli_main

REGION = "us-east-1"
Main = Callable[[list[str]], int]
# Stands in for the pipeline: the threshold decides success, as the real accuracy gate does.
DEFINITION = {
    "StartAt": "IsModelGoodEnough",
    "States": {
        "IsModelGoodEnough": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.accuracyThreshold", "IsPresent": True},
                        {"Variable": "$.accuracyThreshold", "NumericGreaterThan": 0.97},
                    ],
                    "Next": "ModelBelowThreshold",
                }
            ],
            "Default": "RunSucceeded",
        },
        "ModelBelowThreshold": {
            "Type": "Pass",
            "Parameters": {
                "Error": "ModelBelowThreshold",
                "Cause": "test:accuracy 0.97 of training job mnist-1 is below the threshold",
            },
            "ResultPath": "$.error",
            "Next": "NotifyFailure",
        },
        "NotifyFailure": {"Type": "Pass", "Next": "RunFailed"},
        "RunFailed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"},
        "RunSucceeded": {
            "Type": "Pass",
            "Parameters": {
                "trainingJobName": "mnist-1",
                "modelArtifacts": "s3://artifacts/models/mnist-1/output/model.tar.gz",
                "metrics": [{"MetricName": "test:accuracy", "Value": 0.97}],
                "accuracy": 0.97,
                "accuracyThreshold": 0.9,
                "modelName": "mnist-2",
                "endpointConfigName": "mnist-3",
                "endpointName": "mnist-endpoint",
                "endpointStatus": "InService",
            },
            "End": True,
        },
    },
}


@pytest.fixture(scope="module")
def clients() -> AwsClients:
    # One boto3 session for the module: a session per command would load the service models
    # again each time (a new process does that once; tests run dozens of commands).
    return AwsClients(region=REGION)


@pytest.fixture
def main(clients: AwsClients) -> Main:
    return lambda argv: cli_main(argv, clients=clients)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, clients: AwsClients) -> Iterator[dict[str, str]]:
    """A deployed pipeline in moto: its state machine and a stack exporting the five outputs."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = clients.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="Pipeline",
            roleArn="arn:aws:iam::123456789012:role/pipeline",
            definition=json.dumps(DEFINITION),
        )["stateMachineArn"]
        template = {
            "Resources": {"Data": {"Type": "AWS::S3::Bucket"}},
            "Outputs": {
                "StateMachineArn": {"Value": arn},
                "DataBucketName": {"Value": "data"},
                "DataPrefix": {"Value": "training-data/"},
                "ArtifactsBucketName": {"Value": "artifacts"},
                "EndpointName": {"Value": "mnist-endpoint"},
            },
        }
        clients.client("cloudformation").create_stack(
            StackName="MLPipelineStack", TemplateBody=json.dumps(template)
        )
        yield {"stateMachineArn": arn}


def _input_of(clients: AwsClients, execution_arn: str) -> Any:
    described = clients.client("stepfunctions").describe_execution(executionArn=execution_arn)
    return json.loads(described["input"])


def test_run_sends_the_overrides_as_the_execution_input(
    clients: AwsClients, main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "run",
            "--hyperparameter",
            "epochs=2",
            "--hyperparameter",
            "lr=0.01",
            "--instance-type",
            "ml.c5.2xlarge",
            "--instance-count",
            "1",
            "--data-uri",
            "s3://data/training-data/small/",
            "--max-runtime",
            "3600",
            "--spot",
            "--threshold",
            "0.9",
            "--name",
            "overrides",
        ]
    )
    out, err = capsys.readouterr()
    assert status == 0
    execution_arn = out.strip()
    assert execution_arn == aws["stateMachineArn"].replace(":stateMachine:", ":execution:") + (
        ":overrides"
    )
    assert f"mlpipeline watch {execution_arn}" in err
    assert _input_of(clients, execution_arn) == {
        "hyperparameters": {"epochs": "2", "lr": "0.01"},
        "trainingInstanceType": "ml.c5.2xlarge",
        "trainingInstanceCount": 1,
        "trainingDataUri": "s3://data/training-data/small/",
        "maxRuntimeSeconds": 3600,
        "spot": True,
        "accuracyThreshold": 0.9,
    }


def test_run_without_options_sends_an_empty_input(
    clients: AwsClients, main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # The default path: a boto3 session made from the options and the environment.
    assert cli_main(["run"]) == 0
    assert _input_of(clients, capsys.readouterr().out.strip()) == {}


def test_run_no_spot_sends_false_and_hyperparameter_values_stay_strings(
    clients: AwsClients, main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--no-spot", "--hyperparameter", "seed=7", "--name", "strings"]) == 0
    assert _input_of(clients, capsys.readouterr().out.strip()) == {
        "hyperparameters": {"seed": "7"},
        "spot": False,
    }


def test_run_dry_run_prints_the_input_and_starts_nothing(
    clients: AwsClients, main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--dry-run", "--hyperparameter", "epochs=1", "--threshold", "0.5"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {
        "stateMachineArn": aws["stateMachineArn"],
        "input": {"hyperparameters": {"epochs": "1"}, "accuracyThreshold": 0.5},
    }
    listed = clients.client("stepfunctions").list_executions(stateMachineArn=aws["stateMachineArn"])
    assert listed["executions"] == []


def test_run_approval_chooses_the_runs_approval_mode(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--dry-run", "--approval", "manual"]) == 0
    assert json.loads(capsys.readouterr().out)["input"] == {"approval": "manual"}
    with pytest.raises(SystemExit) as refused:
        main(["run", "--dry-run", "--approval", "sometimes"])
    assert refused.value.code == 2
    assert "approval must be 'automatic' or 'manual'" in capsys.readouterr().err


def test_run_refuses_a_bad_execution_name_before_starting(
    clients: AwsClients, main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--name", "nightly run"]) == 2  # a usage error
    assert capsys.readouterr().err == (
        "mlpipeline: error: 'nightly run' is not a valid execution name: up to 80 letters, "
        "digits, - and _\n"
    )
    listed = clients.client("stepfunctions").list_executions(stateMachineArn=aws["stateMachineArn"])
    assert listed["executions"] == []


def test_run_input_is_checked_by_the_run_input_contract() -> None:
    args = argparse.Namespace(
        hyperparameters=[],
        instance_type="gpu.large",
        instance_count=0,
        data_uri=None,
        max_runtime=None,
        spot=None,
        threshold=None,
        approval=None,
    )
    with pytest.raises(CliError) as raised:
        run_input(args)
    expected = run_input_contract.check(
        {"trainingInstanceType": "gpu.large", "trainingInstanceCount": 0}
    )
    assert len(expected) == 2
    assert str(raised.value) == "; ".join(expected)


def test_run_json_prints_the_execution(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--json", "--name", "scripted", "--instance-count", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["executionArn"].endswith(":execution:Pipeline:scripted")
    assert printed["input"] == {"trainingInstanceCount": 3}
    assert printed["startDate"].endswith("Z")


def test_global_options_may_follow_the_command(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--region", REGION, "--stack-name", "MLPipelineStack", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["stateMachineArn"] == aws["stateMachineArn"]


def test_run_by_state_machine_arn_needs_no_stack(
    clients: AwsClients, main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    clients.client("cloudformation").delete_stack(StackName="MLPipelineStack")
    assert main(["--state-machine-arn", aws["stateMachineArn"], "run", "--name", "by-arn"]) == 0
    assert capsys.readouterr().out.strip().endswith(":execution:Pipeline:by-arn")


def test_run_wait_follows_a_successful_run_and_exits_0(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["run", "--threshold", "0.9", "--name", "good", "--wait", "--interval", "0.02"])
    out, err = capsys.readouterr()
    assert status == 0
    assert "started arn:aws:states:us-east-1:123456789012:execution:Pipeline:good" in err
    lines = out.splitlines()
    assert "run good started" in lines[0]
    # The stand-in machine has no training or deployment task: all of it is its first step.
    assert [line.split()[1:5] for line in lines[1:-1]] == [["check", "input", "done", "in"]]
    assert lines[-1].split("  ", 1)[1].startswith("SUCCEEDED after ")
    assert lines[-1].endswith(
        ": accuracy 0.97 (threshold 0.9), endpoint mnist-endpoint InService, model mnist-2, "
        "training job mnist-1"
    )


def test_run_wait_follows_a_failed_run_and_exits_non_zero(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--threshold", "0.99", "--name", "bad", "--wait", "--interval", "0.02"]
    status = main([*argv, "--verbose"])
    out = capsys.readouterr().out
    assert status == EXIT_NOT_SUCCEEDED
    final = out.splitlines()[-1]
    assert " FAILED after " in final
    assert final.endswith(
        " in ModelBelowThreshold: ModelBelowThreshold: test:accuracy 0.97 of training job "
        "mnist-1 is below the threshold"
    )


def test_run_wait_json_prints_events_then_the_end(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["run", "--name", "j", "--threshold", "0.99", "--wait", "--json", "--interval", "0.01"]
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == EXIT_NOT_SUCCEEDED
    assert events[0]["type"] == "execution_started"
    assert events[0]["details"]["input"] == {"accuracyThreshold": 0.99}
    assert [e["state"] for e in events if e["type"] == "state_entered"] == [
        "IsModelGoodEnough",
        "ModelBelowThreshold",
        "NotifyFailure",
        "RunFailed",
    ]
    assert events[-1]["type"] == "execution_ended"
    assert events[-1]["details"]["status"] == "FAILED"
    assert events[-1]["details"]["error"] == "ModelBelowThreshold"
    assert events[-1]["details"]["failedState"] == "ModelBelowThreshold"


# --- list, describe ------------------------------------------------------------------------------


def _start_and_finish(main: Main, *runs: tuple[str, float]) -> None:
    for name, threshold in runs:
        assert main(
            [
                "run",
                "--name",
                name,
                "--threshold",
                str(threshold),
                "--wait",
                "--interval",
                "0.01",
                "--json",
            ]
        ) in (
            0,
            EXIT_NOT_SUCCEEDED,
        )


def test_list_shows_recent_executions_newest_first(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _start_and_finish(main, ("first", 0.5), ("second", 0.99))
    capsys.readouterr()
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "NAME",
        "STATUS",
        "STARTED",
        "DURATION",
        "ACCURACY",
        "VERSION",
        "ENDPOINT",
        "ERROR",
    ]
    assert lines[1].split()[:2] == ["second", "FAILED"]
    assert lines[1].split()[-1] == "ModelBelowThreshold"
    assert lines[2].split()[:2] == ["first", "SUCCEEDED"]
    assert lines[2].split()[-3:] == ["0.9700", "-", "mnist-endpoint"]


def test_list_json_has_status_times_accuracy_and_endpoint(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _start_and_finish(main, ("ok", 0.5), ("low", 0.99))
    capsys.readouterr()
    assert main(["list", "--json", "--status", "SUCCEEDED"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["name"] == "ok"
    assert record["status"] == "SUCCEEDED"
    assert record["accuracy"] == 0.97
    assert record["accuracyThreshold"] == 0.9
    assert record["endpointName"] == "mnist-endpoint"
    assert record["trainingJobName"] == "mnist-1"
    assert record["durationSeconds"] >= 0
    assert record["startDate"].endswith("Z") and record["stopDate"].endswith("Z")


def test_list_of_a_pipeline_without_runs_says_so(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list"]) == 0
    assert capsys.readouterr().out.startswith("no executions of arn:aws:states:")


def test_list_respects_max(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _start_and_finish(main, ("a", 0.5), ("b", 0.5), ("c", 0.5))
    capsys.readouterr()
    assert main(["list", "--max", "2", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["c", "b"]


def test_describe_a_failed_execution_names_the_failing_state_and_cause(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _start_and_finish(main, ("low", 0.99))
    capsys.readouterr()
    assert main(["describe", "low"]) == 0
    out = capsys.readouterr().out
    assert "status:    FAILED" in out
    # RunFailed only re-raises the error that ModelBelowThreshold set.
    assert "failed in: ModelBelowThreshold" in out
    assert "error:     ModelBelowThreshold" in out
    assert "cause:     test:accuracy 0.97 of training job mnist-1 is below the threshold" in out
    assert '"accuracyThreshold": 0.99' in out


def test_describe_latest_json_has_input_and_output(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _start_and_finish(main, ("old", 0.99), ("new", 0.5))
    capsys.readouterr()
    assert main(["describe", "--latest", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["name"] == "new"
    assert record["status"] == "SUCCEEDED"
    assert record["input"] == {"accuracyThreshold": 0.5}
    assert record["output"]["endpointConfigName"] == "mnist-3"
    assert record["failedState"] is None
    assert record["stateMachineArn"] == aws["stateMachineArn"]


def test_describe_by_arn_of_a_succeeded_run_prints_its_result(
    main: Main, aws: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _start_and_finish(main, ("fine", 0.5))
    capsys.readouterr()
    arn = aws["stateMachineArn"].replace(":stateMachine:", ":execution:") + ":fine"
    assert main(["describe", arn]) == 0
    out = capsys.readouterr().out
    assert "result:    accuracy 0.97 (threshold 0.9), endpoint mnist-endpoint InService" in out
    assert '"modelName": "mnist-2"' in out
