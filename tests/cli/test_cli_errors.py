"""Every problem a person can hit ends with one ``mlpipeline: error: ...`` line, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from mlpipeline_cli._aws import AwsClients, CliError
from mlpipeline_cli._pipeline import Pipeline
from mlpipeline_cli.cli import EXIT_INTERRUPTED, main

REGION = "us-east-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Pipeline"


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mlpipeline: error: ")
    return lines[0].removeprefix("mlpipeline: error: ")


@pytest.fixture(scope="module")
def clients() -> AwsClients:
    return AwsClients(region=REGION)


@pytest.fixture
def moto(clients: AwsClients) -> Iterator[AwsClients]:
    with mock_aws():
        yield clients


def _stack(clients: AwsClients, outputs: dict[str, str], name: str = "MLPipelineStack") -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    clients.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def _machine(clients: AwsClients) -> str:
    return str(
        clients.client("stepfunctions").create_state_machine(
            name="Pipeline",
            roleArn="arn:aws:iam::123456789012:role/pipeline",
            definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
    )


# --- credentials, profile, region ----------------------------------------------------------------


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_no_credentials(no_credentials: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--region", REGION, "list"]) == 1
    assert one_error_line(capsys).startswith("no AWS credentials found: configure a profile")


def test_no_region(no_credentials: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 1
    assert one_error_line(capsys) == (
        "no AWS region: pass --region or set AWS_DEFAULT_REGION (or a region in your profile)"
    )


def test_unknown_profile(no_credentials: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile", "nope", "list"]) == 1
    assert one_error_line(capsys) == (
        "The config profile (nope) could not be found; list the configured ones with: "
        "aws configure list-profiles"
    )


def test_region_comes_from_an_arn_when_none_is_configured(no_credentials: None) -> None:
    clients = AwsClients()
    clients.use_region_of("arn:aws:states:eu-west-1:123456789012:execution:P:x")
    assert clients.region == "eu-west-1"
    assert clients.client("stepfunctions").meta.region_name == "eu-west-1"


# --- the stack -----------------------------------------------------------------------------------


def test_stack_not_found(moto: AwsClients, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack-name", "Nope", "list"], clients=moto) == 1
    assert one_error_line(capsys) == (
        "stack Nope not found in us-east-1: deploy it (npx cdk deploy), or name yours with "
        "--stack-name (and --region), or pass --state-machine-arn"
    )


def test_stack_without_the_outputs(moto: AwsClients, capsys: pytest.CaptureFixture[str]) -> None:
    _stack(moto, {"DataBucketName": "data"})
    assert main(["run"], clients=moto) == 1
    assert one_error_line(capsys) == (
        "stack MLPipelineStack has no output StateMachineArn (stack status CREATE_COMPLETE); "
        "its outputs: DataBucketName. A pipeline stack exports StateMachineArn, DataBucketName, "
        "DataPrefix, ArtifactsBucketName, EndpointName, ModelPackageGroupName, DashboardUrl; "
        "or pass --state-machine-arn"
    )


def test_predict_without_an_endpoint_output(
    moto: AwsClients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    _stack(moto, {"StateMachineArn": MACHINE})
    np.save(tmp_path / "d.npy", np.zeros((28, 28)))
    assert main(["predict", str(tmp_path / "d.npy")], clients=moto) == 1
    assert one_error_line(capsys).endswith("; or pass --endpoint-name")


def test_state_machine_that_no_stack_holds(
    moto: AwsClients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "train.csv").write_text("1,2\n")
    argv = ["--state-machine-arn", MACHINE, "upload-data", str(tmp_path)]
    assert main(argv, clients=moto) == 1
    assert one_error_line(capsys) == (
        f"no CloudFormation stack holds the state machine {MACHINE}; pass --stack-name, or give "
        "the values its outputs would (see --help)"
    )


def test_state_machine_arn_finds_its_stack_for_the_other_outputs() -> None:
    class CloudFormation:
        def describe_stack_resources(self, PhysicalResourceId: str) -> dict[str, Any]:  # noqa: N803
            assert PhysicalResourceId == MACHINE
            return {"StackResources": [{"StackName": "TeamStack", "LogicalResourceId": "SM"}]}

        def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803
            assert StackName == "TeamStack"
            output = {"OutputKey": "EndpointName", "OutputValue": "team-endpoint"}
            return {"Stacks": [{"StackStatus": "CREATE_COMPLETE", "Outputs": [output]}]}

    class Clients:
        region = REGION

        def client(self, service: str) -> Any:
            assert service == "cloudformation"
            return CloudFormation()

        def use_region_of(self, arn: str) -> None:
            pass

    pipeline = Pipeline(Clients(), state_machine_arn=MACHINE)
    assert pipeline.state_machine_arn == MACHINE
    assert pipeline.output("EndpointName", "--endpoint-name") == "team-endpoint"
    assert pipeline.stack_name == "TeamStack"


def test_state_machine_that_does_not_exist(
    moto: AwsClients, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-machine-arn", MACHINE, "list"], clients=moto) == 1
    assert one_error_line(capsys) == f"state machine {MACHINE} does not exist"


# --- executions ----------------------------------------------------------------------------------


def test_execution_not_found(moto: AwsClients, capsys: pytest.CaptureFixture[str]) -> None:
    machine = _machine(moto)
    _stack(moto, {"StateMachineArn": machine})
    execution = machine.replace(":stateMachine:", ":execution:") + ":nope"
    for command in (["describe", "nope"], ["watch", execution]):
        assert main(command, clients=moto) == 1
        assert one_error_line(capsys) == (
            f"execution {execution} not found (list them with: mlpipeline list)"
        )


def test_latest_of_a_pipeline_without_runs(
    moto: AwsClients, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = _machine(moto)
    assert main(["--state-machine-arn", machine, "watch", "--latest"], clients=moto) == 1
    assert one_error_line(capsys) == (
        f"the state machine {machine} has no executions yet; start one with: mlpipeline run"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["describe", MACHINE], f"{MACHINE} is not an execution ARN"),
        (["watch"], "name an execution (its ARN or its name) or pass --latest"),
        (["describe", "x", "--latest"], "name an execution or pass --latest, not both"),
        (
            ["run", "--hyperparameter", "epochs=1", "--hyperparameter", "epochs=2"],
            "--hyperparameter epochs is given twice",
        ),
        (["export", "--account", "1"], "--account sets the stand-in values of --template"),
    ],
)
def test_command_line_mistakes(
    moto: AwsClients, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    _stack(moto, {"StateMachineArn": _machine(moto)})
    assert main(argv, clients=moto) == 2  # usage errors exit as argparse's do
    assert message in one_error_line(capsys)


def test_execution_name_taken(moto: AwsClients, capsys: pytest.CaptureFixture[str]) -> None:
    _stack(moto, {"StateMachineArn": _machine(moto)})
    assert main(["run", "--name", "nightly"], clients=moto) == 0
    capsys.readouterr()
    # Step Functions starts a name twice only with the same input (an idempotent retry).
    assert main(["run", "--name", "nightly", "--spot"], clients=moto) == 1
    assert one_error_line(capsys) == (
        "an execution named nightly already exists; choose another --name"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--hyperparameter", "epochs"], "expected NAME=VALUE, got 'epochs'"),
        (["run", "--threshold", "1.5"], "accuracyThreshold must be a number from 0 to 1"),
        (["run", "--instance-type", "m5.large"], "trainingInstanceType must be a SageMaker"),
        (
            ["run", "--instance-count", "0"],
            "trainingInstanceCount must be a whole number from 1 to 100",
        ),
        (["run", "--data-uri", "/local/path"], "expected an s3://BUCKET/PREFIX URI"),
        (["watch", "--interval", "0"], "expected a number of seconds above 0"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert message in err.splitlines()[-1]


# --- AWS answers ---------------------------------------------------------------------------------


class Refusing:
    """A client whose every call fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> Any:
            raise self.error

        return call


class RefusingClients:
    region = REGION

    def __init__(self, error: Exception) -> None:
        self.error = error

    def client(self, service: str) -> Any:
        return Refusing(self.error)

    def use_region_of(self, arn: str) -> None:
        pass


def _client_error(code: str, message: str, operation: str = "DescribeStacks") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            _client_error("ThrottlingException", "Rate exceeded"),
            "AWS throttled DescribeStacks (ThrottlingException) even after retries; wait a "
            "minute and try again, or poll less often (--interval)",
        ),
        (
            _client_error("AccessDenied", "User: arn:aws:iam::1:user/x is not authorized"),
            "access denied to DescribeStacks: User: arn:aws:iam::1:user/x is not authorized",
        ),
        (
            _client_error("ExpiredToken", "The security token included in the request is expired"),
            "AWS refused the credentials (ExpiredToken): The security token included in the "
            "request is expired",
        ),
        (
            _client_error("InternalFailure", "oops"),
            "DescribeStacks failed: InternalFailure: oops",
        ),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:5000/"),
            "cannot reach http://127.0.0.1:5000/: is the emulator running there? "
            ".venv/bin/mlpipeline-emulator status says where it runs; make deploy-local starts "
            "it and deploys the stack",
        ),
    ],
)
def test_aws_errors_are_explained(
    capsys: pytest.CaptureFixture[str], error: Exception, message: str
) -> None:
    assert main(["list"], clients=RefusingClients(error)) == 1
    assert one_error_line(capsys) == message


def test_debug_shows_the_traceback_instead(moto: AwsClients) -> None:
    with pytest.raises(CliError, match="stack Nope not found"):
        main(["--debug", "--stack-name", "Nope", "list"], clients=moto)


def test_interrupted_watch_says_the_execution_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    execution = MACHINE.replace(":stateMachine:", ":execution:") + ":x"

    class StepFunctions:
        def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803
            return {"status": "RUNNING"}

        def get_execution_history(self, **request: Any) -> dict[str, Any]:
            raise KeyboardInterrupt

    class Clients(RefusingClients):
        def client(self, service: str) -> Any:
            return StepFunctions()

    assert main(["watch", execution], clients=Clients(Exception())) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == (
        f"mlpipeline: stopped watching; the execution goes on: {execution}\n"
    )


def test_the_console_script_reports_one_line(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("mlpipeline")
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run(
        [str(script), "graph", "--template", str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"mlpipeline: error: {tmp_path / 'missing.json'}: cannot be read: No such file or directory"
    ]


def test_output_piped_into_a_closed_reader_ends_quietly(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("mlpipeline")
    template = tmp_path / "t.json"
    machine = {
        "StartAt": "A",
        "States": {f"S{i}": {"Type": "Pass", "End": True} for i in range(3000)},
    }
    machine["States"]["A"] = {"Type": "Pass", "End": True}
    template.write_text(
        json.dumps(
            {
                "Resources": {
                    "M": {
                        "Type": "AWS::StepFunctions::StateMachine",
                        "Properties": {"DefinitionString": json.dumps(machine)},
                    }
                }
            }
        )
    )
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run(
        f"'{script}' export --template '{template}' | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.stdout == "{\n"
    assert "Traceback" not in result.stderr and "Error" not in result.stderr
