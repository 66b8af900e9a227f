"""The failure path, executed: notification first, then a Fail state that may not raise a
reserved ``States.*`` error name again."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from moto import mock_aws

from mlpipeline_cdk.steps import FailureHandler
from mlpipeline_cli.asl import Environment, render_definition
from tests.emulator.runs.helpers import MOTO_CONFIG, REGION, ROLE, wait_for

from conftest import new_app


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app = new_app()
    stack = cdk.Stack(app, "S")
    handler = FailureHandler(stack, "Failure", topic=sns.Topic(stack, "Topic"))
    choose = sfn.Choice(stack, "Choose")
    choose.when(
        sfn.Condition.string_equals("$.kind", "reserved"),
        handler.reject(stack, "TimedOut", error="States.Timeout", cause="the job took too long"),
    ).otherwise(handler.reject(stack, "Own", error="DataMissing", cause="no data"))
    sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(choose))
    return dict(app.synth().get_stack_by_name("S").template)


@pytest.mark.parametrize(
    ("kind", "error", "cause"),
    [
        ("reserved", "StepFailed", "States.Timeout: the job took too long"),
        ("own", "DataMissing", "no data"),
    ],
)
def test_run_fails_with_the_error_after_notifying(
    template: dict[str, Any], kind: str, error: str, cause: str
) -> None:
    with mock_aws(config=MOTO_CONFIG):
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="failures")["TopicArn"]
        topic_id = next(
            k for k, v in template["Resources"].items() if v["Type"] == "AWS::SNS::Topic"
        )
        definition = render_definition(template, env=Environment(refs={topic_id: topic}))
        client = boto3.client("stepfunctions", region_name=REGION)
        machine = client.create_state_machine(
            name="m", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        arn = client.start_execution(
            stateMachineArn=machine, name=str(uuid.uuid4()), input=json.dumps({"kind": kind})
        )["executionArn"]
        described = wait_for(
            lambda: (d := client.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
            "the run",
        )
        history = client.get_execution_history(executionArn=arn)["events"]
    assert described["status"] == "FAILED"
    assert (described["error"], described["cause"]) == (error, cause)
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert "NotifyFailure" in entered
