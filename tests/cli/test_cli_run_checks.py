"""``run`` refuses, before anything starts, what the state machine would refuse, in its words.

The messages are the run-input contract's (what the state machine fails a run with); the data
URI is checked against the bucket and prefix the stack's outputs name. A refused run starts no
execution, so it leaves no FAILED execution and no failure notification behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import botocore.session
import pytest
from moto import mock_aws

from mlpipeline_cdk.contract import run_input as contract
from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli._run_checks import check_run_value
from mlpipeline_cli.cli import main

REGION = "us-east-1"
DEFINITION = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


@pytest.fixture(scope="module")
def clients() -> AwsClients:
    return AwsClients(region=REGION)


@pytest.fixture
def machine(clients: AwsClients) -> Iterator[str]:
    """A deployed pipeline in moto whose stack names its data bucket and prefix."""
    with mock_aws():
        arn = str(
            clients.client("stepfunctions").create_state_machine(
                name="Pipeline",
                roleArn="arn:aws:iam::123456789012:role/pipeline",
                definition=json.dumps(DEFINITION),
            )["stateMachineArn"]
        )
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "StateMachineArn": {"Value": arn},
                "DataBucketName": {"Value": "data-bucket"},
                "DataPrefix": {"Value": "training-data/"},
            },
        }
        clients.client("cloudformation").create_stack(
            StackName="MLPipelineStack", TemplateBody=json.dumps(template)
        )
        yield arn


def _executions(clients: AwsClients, machine: str) -> list[object]:
    listed = clients.client("stepfunctions").list_executions(stateMachineArn=machine)
    return list(listed["executions"])


def _last_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.splitlines()[-1]


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
@pytest.mark.parametrize(
    "uri",
    [
        "s3://other-bucket/training-data/",
        "s3://data-bucket/elsewhere/",
        "s3://data-bucket/training-data",  # the prefix without its slash: not under it
    ],
)
def test_a_data_uri_outside_the_data_prefix_is_refused_before_starting(
    clients: AwsClients,
    machine: str,
    capsys: pytest.CaptureFixture[str],
    uri: str,
    dry_run: list[str],
) -> None:
    assert main(["run", "--data-uri", uri, *dry_run], clients=clients) == 2
    message = contract.BY_NAME[contract.TRAINING_DATA_URI].message.format(
        prefix="s3://data-bucket/training-data/"
    )
    assert capsys.readouterr().err == f"mlpipeline: error: --data-uri: {message}\n"
    assert message == "trainingDataUri must be an S3 URI under s3://data-bucket/training-data/"
    assert _executions(clients, machine) == []


def test_a_data_uri_under_the_data_prefix_starts(
    clients: AwsClients, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = "s3://data-bucket/training-data/small/"
    assert main(["run", "--data-uri", uri], clients=clients) == 0
    capsys.readouterr()
    assert len(_executions(clients, machine)) == 1


@pytest.mark.parametrize(
    ("option", "value", "key"),
    [
        ("--instance-type", "ml.m5.notasize", contract.TRAINING_INSTANCE_TYPE),
        ("--instance-type", "m5.large", contract.TRAINING_INSTANCE_TYPE),
        ("--instance-count", "0", contract.TRAINING_INSTANCE_COUNT),
        ("--instance-count", "101", contract.TRAINING_INSTANCE_COUNT),
        ("--instance-count", "two", contract.TRAINING_INSTANCE_COUNT),
        ("--threshold", "1.5", contract.ACCURACY_THRESHOLD),
        ("--threshold", "-0.1", contract.ACCURACY_THRESHOLD),
        ("--threshold", "nan", contract.ACCURACY_THRESHOLD),
        ("--threshold", "high", contract.ACCURACY_THRESHOLD),
        ("--max-runtime", "0", contract.MAX_RUNTIME_SECONDS),
        ("--max-runtime", str(contract.MAX_RUNTIME_LIMIT + 1), contract.MAX_RUNTIME_SECONDS),
    ],
)
def test_run_values_are_refused_with_the_state_machines_message(
    clients: AwsClients,
    machine: str,
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    key: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", option, value], clients=clients)
    assert exited.value.code == 2
    assert _last_line(capsys) == (
        f"mlpipeline: error: argument {option}: {contract.BY_NAME[key].message} "
        "(see: mlpipeline run --help)"
    )
    assert _executions(clients, machine) == []


def test_the_allowed_instance_types_are_the_ones_sagemaker_trains_on(
    clients: AwsClients, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    offered = model.shape_for("TrainingInstanceType").enum
    assert all(check_run_value(contract.TRAINING_INSTANCE_TYPE, t) is None for t in offered)
    assert check_run_value(contract.TRAINING_INSTANCE_TYPE, "ml.t2.medium") == (
        contract.BY_NAME[contract.TRAINING_INSTANCE_TYPE].message
    )
    assert main(["run", "--instance-type", "ml.g5.xlarge", "--dry-run"], clients=clients) == 0
    assert json.loads(capsys.readouterr().out)["input"] == {
        contract.TRAINING_INSTANCE_TYPE: "ml.g5.xlarge"
    }


def test_dry_run_shows_the_name_and_checks_it(
    clients: AwsClients, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--dry-run", "--name", "nightly-7", "--spot"], clients=clients) == 0
    assert json.loads(capsys.readouterr().out) == {
        "stateMachineArn": machine,
        "name": "nightly-7",
        "input": {contract.SPOT: True},
    }
    assert main(["run", "--dry-run", "--name", "nightly 7"], clients=clients) == 2
    assert capsys.readouterr().err == (
        "mlpipeline: error: 'nightly 7' is not a valid execution name: up to 80 letters, "
        "digits, - and _\n"
    )
    assert _executions(clients, machine) == []


def test_without_a_stack_the_state_machine_checks_the_data_uri(
    clients: AwsClients, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Only --state-machine-arn, of a state machine no stack holds: nothing names the prefix.
    clients.client("cloudformation").delete_stack(StackName="MLPipelineStack")
    argv = ["--state-machine-arn", machine, "run", "--data-uri", "s3://other/x/"]
    assert main(argv, clients=clients) == 0
    capsys.readouterr()
    assert len(_executions(clients, machine)) == 1
