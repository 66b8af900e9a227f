"""Optional triggers and subscriptions: a schedule, new training data, e-mail on failure."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from aws_cdk import aws_events as events
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from mlpipeline_cdk import MLPipeline, NotificationSettings, ServingSettings, TriggerSettings

from conftest import ROOT, new_app


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app = new_app()
    stack = cdk.Stack(app, "Triggered")
    MLPipeline(
        stack,
        "Pipeline",
        source_dir=str(ROOT / "training_code"),
        entry_point="mnist.py",
        triggers=TriggerSettings(
            schedule=events.Schedule.cron(minute="0", hour="3", week_day="MON"),
            retrain_on_new_data=True,
        ),
        notifications=NotificationSettings(emails=["ml-team@example.com"]),
        serving=ServingSettings(delete_endpoint_with_stack=False),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return dict(app.synth().get_stack_by_name("Triggered").template)


def _starts_the_state_machine() -> dict[str, Any]:
    return {
        "Arn": {"Ref": Match.string_like_regexp("^PipelineStateMachine")},
        "Input": "{}",
        "RoleArn": Match.any_value(),
    }


def test_schedule_starts_a_run_with_empty_input(template: dict[str, Any]) -> None:
    Template.from_json(template).has_resource_properties(
        "AWS::Events::Rule",
        {"ScheduleExpression": "cron(0 3 ? * MON *)", "Targets": [_starts_the_state_machine()]},
    )


def test_new_objects_under_the_data_prefix_start_a_run(template: dict[str, Any]) -> None:
    t = Template.from_json(template)
    t.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [{"Ref": Match.string_like_regexp("^PipelineDataBucket")}]},
                    "object": {"key": [{"wildcard": "training-data/*"}]},
                },
            },
            "Targets": [_starts_the_state_machine()],
        },
    )
    template_text = str(template)
    assert "EventBridgeConfiguration" in template_text


def test_failure_emails_are_subscribed(template: dict[str, Any]) -> None:
    Template.from_json(template).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ml-team@example.com"}
    )


def test_endpoint_can_be_kept_when_the_stack_is_deleted(template: dict[str, Any]) -> None:
    Template.from_json(template).resource_count_is("Custom::EndpointTeardown", 0)


@pytest.mark.slow
def test_triggered_stack_passes_cfn_lint(template: dict[str, Any]) -> None:
    import json

    assert [str(m) for m in cfnlint.api.lint(json.dumps(template), regions=["us-east-1"])] == []
