"""Idle stop: the settings' checks, the idle check's state machine, its requests against
botocore's models, its schedule, its IAM, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore.session
import cfnlint.api
import pytest
from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from botocore.validate import ParamValidator
from cdk_nag import AwsSolutionsChecks

from mlpipeline_cdk import Hooks, MLPipeline
from mlpipeline_cdk.idle_stop import IdleStopSettings
from mlpipeline_cli.asl import render_definition

from conftest import ROOT, new_app

CODE = str(ROOT / "training_code")


def _synth(idle_stop: IdleStopSettings | None, **kwargs: Any) -> cdk.cx_api.CloudAssembly:
    app = new_app()
    stack = cdk.Stack(app, "Idle")
    MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py", idle_stop=idle_stop, **kwargs)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app.synth()


@pytest.fixture(scope="module")
def assembly() -> cdk.cx_api.CloudAssembly:
    return _synth(IdleStopSettings())


@pytest.fixture(scope="module")
def template(assembly: cdk.cx_api.CloudAssembly) -> dict[str, Any]:
    return dict(assembly.get_stack_by_name("Idle").template)


def _of_type(template: dict[str, Any], kind: str, part: str = "") -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind and part in k}


@pytest.fixture(scope="module")
def definition(template: dict[str, Any]) -> dict[str, Any]:
    (logical_id,) = _of_type(template, "AWS::StepFunctions::StateMachine", "IdleCheck")
    return render_definition(template, logical_id)


def _refusal(**settings: Any) -> str:
    with pytest.raises(ValueError) as raised:
        MLPipeline(
            cdk.Stack(new_app(), "S"),
            "P",
            source_dir=CODE,
            entry_point="mnist.py",
            **settings,
        )
    return str(raised.value)


@pytest.mark.parametrize(
    ("settings", "named", "allowed"),
    [
        (
            IdleStopSettings(idle_period=Duration.seconds(90)),
            "idle_stop.idle_period",
            "whole minutes",
        ),
        (
            IdleStopSettings(idle_period=Duration.minutes(5), check_interval=Duration.minutes(1)),
            "idle_stop.idle_period",
            "10 minutes to 15 days",
        ),
        (IdleStopSettings(idle_period=Duration.days(16)), "idle_stop.idle_period", "15 days"),
        (
            IdleStopSettings(check_interval=Duration.seconds(30)),
            "idle_stop.check_interval",
            "at least 1",
        ),
        (
            IdleStopSettings(check_interval=Duration.seconds(90)),
            "idle_stop.check_interval",
            "whole minutes",
        ),
        (
            IdleStopSettings(idle_period=Duration.minutes(30), check_interval=Duration.hours(1)),
            "idle_stop.check_interval",
            "at most idle_stop.idle_period (30 minutes)",
        ),
        (IdleStopSettings(idle_period=60), "idle_stop.idle_period", "must be a Duration"),  # type: ignore[arg-type]
    ],
)
def test_bad_idle_stop_settings_are_refused_naming_the_setting(
    settings: IdleStopSettings, named: str, allowed: str
) -> None:
    message = _refusal(idle_stop=settings)
    line = next(line for line in message.splitlines() if named in line)
    assert allowed in line


def test_idle_stop_needs_the_pipelines_own_endpoint() -> None:
    def deploy(context: Any) -> sfn.IChainable:
        return sfn.Pass(context.scope, "OwnDeployment")

    message = _refusal(idle_stop=IdleStopSettings(), hooks=Hooks(deployment=deploy))
    assert "idle_stop" in message and "hooks.deployment" in message


def test_without_idle_stop_there_is_no_check() -> None:
    template = _synth(None).get_stack_by_name("Idle").template
    assert not _of_type(template, "AWS::StepFunctions::StateMachine", "IdleCheck")
    assert not _of_type(template, "AWS::Events::Rule", "IdleCheck")


def test_the_check_starts_on_its_interval(template: dict[str, Any]) -> None:
    (rule,) = _of_type(template, "AWS::Events::Rule", "IdleCheck").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = rule["Properties"]["Targets"]
    (machine,) = _of_type(template, "AWS::StepFunctions::StateMachine", "IdleCheck")
    assert target["Arn"] == {"Ref": machine}


def test_the_check_logs_everything_and_traces(template: dict[str, Any]) -> None:
    (machine,) = _of_type(template, "AWS::StepFunctions::StateMachine", "IdleCheck").values()
    properties = machine["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True


def test_the_check_reads_the_documented_metric_over_the_idle_period(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    assert states["WatchForIdlePeriod"]["Seconds"] == 3600
    count = states["CountInvocations"]
    assert count["Resource"] == "arn:aws:states:::aws-sdk:cloudwatch:getMetricData"
    (query,) = count["Parameters"]["MetricDataQueries"]
    metric = query["MetricStat"]["Metric"]
    assert metric == {
        "Namespace": "AWS/SageMaker",
        "MetricName": "Invocations",
        "Dimensions": [
            {"Name": "EndpointName", "Value": "mlpipeline-endpoint"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
    }
    assert query["MetricStat"]["Stat"] == "Sum"
    assert query["MetricStat"]["Period"] % 60 == 0
    assert query["MetricStat"]["Period"] >= 3600


def test_the_check_requests_satisfy_botocore(definition: dict[str, Any]) -> None:
    """Each SDK task's parameters, with sample values for the paths, against the service model."""
    session = botocore.session.get_session()
    samples = {
        "$$.Execution.StartTime": "2026-01-01T00:00:00Z",
        "$$.State.EnteredTime": "2026-01-01T01:00:05Z",
        "$.before.configName": "mlpipeline-config",
    }
    checked = 0
    for name, state in definition["States"].items():
        resource = state.get("Resource", "")
        if not resource.startswith("arn:aws:states:::aws-sdk:"):
            continue
        service, action = resource.removeprefix("arn:aws:states:::aws-sdk:").split(":")
        model = session.get_service_model(service)
        operation = model.operation_model(action[0].upper() + action[1:])
        parameters = {
            k.removesuffix(".$"): (samples[v] if k.endswith(".$") and v in samples else v)
            for k, v in state["Parameters"].items()
            if not (k.endswith(".$") and v not in samples)
        }
        if service == "s3":
            parameters["Body"] = "{}"
        report = ParamValidator().validate(parameters, operation.input_shape)
        assert not report.has_errors(), (name, report.generate_report())
        checked += 1
    assert checked == 6


def test_the_check_may_touch_only_the_endpoint_and_its_record(template: dict[str, Any]) -> None:
    (role_id,) = [
        k
        for k in _of_type(template, "AWS::IAM::Role", "IdleCheckStateMachineRole")
        if "Events" not in k
    ]
    (policy,) = [
        p
        for p in _of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    by_action: dict[str, Any] = {}
    for statement in statements:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            by_action[action] = statement["Resource"]
    text = json.dumps(by_action)
    assert "sagemaker:CreateEndpoint" not in text and "sagemaker:UpdateEndpoint" not in text
    for action in ("sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint"):
        assert json.dumps(by_action[action]).endswith(':endpoint/mlpipeline-endpoint"]]}'), action
    assert "endpoint-config/mlpipeline-*" in json.dumps(
        by_action["sagemaker:DescribeEndpointConfig"]
    )
    assert by_action["cloudwatch:GetMetricData"] == "*"
    assert json.dumps(by_action["s3:PutObject"]).endswith(
        '/endpoint-stops/mlpipeline-endpoint.json"]]}'
    )


def test_an_idle_stop_pipeline_passes_cdk_nag_with_narrow_acknowledgements(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert nag["conclusion"] == "success" and nag["violations"] == []


def test_cfn_lint_finds_nothing_in_an_idle_stop_pipeline(template: dict[str, Any]) -> None:
    matches = cfnlint.api.lint(json.dumps(template), regions=["us-east-1", "eu-west-1"])
    assert [str(m) for m in matches] == []
