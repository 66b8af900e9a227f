"""``mlpipeline dashboard``: the console URL of the pipeline's dashboard, from the stack output."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto import mock_aws

from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli.cli import main as cli_main

REGION = "us-east-1"
URL = (
    "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
    "#dashboards:name=mnist-pipeline"
)


@pytest.fixture(scope="module")
def clients() -> AwsClients:
    return AwsClients(region=REGION)


def _stack(clients: AwsClients, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    clients.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_dashboard_prints_the_stack_s_dashboard_url(
    clients: AwsClients, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:P"
    _stack(clients, "MLPipelineStack", {"StateMachineArn": machine, "DashboardUrl": URL})
    assert cli_main(["dashboard"], clients=clients) == 0
    assert capsys.readouterr().out == URL + "\n"


def test_dashboard_without_one_says_why(
    clients: AwsClients, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _stack(clients, "Other", {"StateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:P"})
    assert cli_main(["--stack-name", "Other", "dashboard"], clients=clients) == 1
    error = capsys.readouterr().err
    assert "has no output DashboardUrl" in error and "monitoring.dashboard" in error
