"""The pipeline's dashboard, run metrics and their IAM, as synthesized."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch

from mlpipeline_cdk import MLPipeline, MonitoringSettings
from mlpipeline_cdk.contract.outputs import DASHBOARD_URL

CODE = str(Path(__file__).resolve().parents[2] / "training_code")
ENV = cdk.Environment(account="123456789012", region="eu-west-1")


def _synth(
    monitoring: MonitoringSettings | None = None, alarms: int = 0, **props: Any
) -> tuple[dict[str, Any], MLPipeline]:
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=ENV)
    extra = {"monitoring": monitoring} if monitoring is not None else {}
    pipeline = MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py", **extra, **props)
    pipeline.add_outputs()
    return app.synth().get_stack_by_name("S").template, pipeline


def _resolve(value: Any) -> str:
    """The dashboard body with its references written as ``<Ref>``/``<GetAtt>``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_resolve(part) for part in value["Fn::Join"][1])
    if "Ref" in value:
        return "<ref>"
    if "Fn::GetAtt" in value:
        return "<name>"
    raise AssertionError(value)


def _body(template: dict[str, Any]) -> dict[str, Any]:
    (dashboard,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    return dict(json.loads(_resolve(dashboard["Properties"]["DashboardBody"])))


def _metrics(body: dict[str, Any]) -> dict[str, list[list[Any]]]:
    return {
        w["properties"]["title"]: w["properties"]["metrics"]
        for w in body["widgets"]
        if w["type"] == "metric"
    }


def test_the_dashboard_graphs_runs_accuracy_training_time_and_the_endpoint() -> None:
    template, _ = _synth()
    body = _body(template)
    metrics = _metrics(body)
    runs = [m[:3] for m in metrics["Runs"]]
    assert runs == [
        ["AWS/States", "ExecutionsStarted", "StateMachineArn"],
        ["AWS/States", "ExecutionsSucceeded", "StateMachineArn"],
        ["AWS/States", "ExecutionsFailed", "StateMachineArn"],
    ]
    accuracy = metrics["Accepted accuracy"]
    assert [m[:4] for m in accuracy] == [
        ["MLPipeline", "Accuracy", "Pipeline", "<name>"],
        ["MLPipeline", "AccuracyThreshold", "Pipeline", "<name>"],
    ]
    (widget,) = [w for w in body["widgets"] if w["properties"].get("title") == "Accepted accuracy"]
    assert widget["properties"]["annotations"]["horizontal"][0]["value"] == 0.9
    assert metrics["Training time (seconds)"][0][:2] == ["MLPipeline", "TrainingTime"]
    endpoint = ["EndpointName", "mlpipeline-endpoint", "VariantName", "AllTraffic"]
    for title, name in (
        ("Invocations", "Invocations"),
        ("Model latency (microseconds)", "ModelLatency"),
        ("Errors", "Invocation4XXErrors"),
    ):
        assert metrics[title][0][:6] == ["AWS/SageMaker", name, *endpoint], title
    assert metrics["Errors"][1][1] == "Invocation5XXErrors"
    instances = metrics["Instances"]
    assert instances[0][0]["expression"] == "invocations / perInstance"
    assert {m[1] for m in instances[1:]} == {"Invocations", "InvocationsPerInstance"}
    for widget in body["widgets"]:
        assert 1 <= widget["width"] <= 24 and 0 <= widget["x"] <= 23


def test_the_threshold_line_follows_the_training_setting() -> None:
    from mlpipeline_cdk import TrainingSettings

    template, _ = _synth(training=TrainingSettings(accuracy_threshold=0.8))
    (widget,) = [
        w for w in _body(template)["widgets"] if w["properties"].get("title") == "Accepted accuracy"
    ]
    assert widget["properties"]["annotations"]["horizontal"][0]["value"] == 0.8


def test_the_rollout_alarms_get_an_alarm_status_widget() -> None:
    template, _ = _synth()
    alarms = {
        logical_id
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm" and "Rollout" in logical_id
    }
    assert len(alarms) == 2  # model latency and server errors
    (dashboard,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    referenced = {
        part["Fn::GetAtt"][0]
        for part in parts
        if isinstance(part, dict) and "Fn::GetAtt" in part and part["Fn::GetAtt"][1] == "Arn"
    }
    assert alarms <= referenced
    (widget,) = [w for w in _body(template)["widgets"] if w["type"] == "alarm"]
    assert widget["properties"]["title"] == "Rollout alarms"
    assert widget["properties"]["alarms"] == ["<name>", "<name>"]


def test_more_alarms_than_a_widget_shows_are_refused() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=ENV)
    pipeline = MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py")
    alarm = cloudwatch.Alarm(
        stack,
        "Errors",
        metric=cloudwatch.Metric(namespace="AWS/SageMaker", metric_name="Invocation5XXErrors"),
        threshold=1,
        evaluation_periods=1,
    )
    from mlpipeline_cdk import _dashboard

    with pytest.raises(ValueError, match="at most 100 alarms"):
        _dashboard.create_dashboard(
            stack,
            pipeline.monitoring_settings,
            state_machine=pipeline.state_machine,
            endpoint_name=pipeline.endpoint_name,
            accuracy_threshold=0.9,
            alarms=[alarm] * 101,
        )


def test_the_dashboard_url_is_written_out_for_a_pinned_region() -> None:
    template, _ = _synth(MonitoringSettings(dashboard_name="mnist-pipeline"))
    parts = template["Outputs"][DASHBOARD_URL]["Value"]["Fn::Join"][1]
    assert parts[0] == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#dashboards:name="
    )
    assert "Ref" in parts[1]
    assert "Mappings" not in template
    (dashboard,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert dashboard["Properties"]["DashboardName"] == "mnist-pipeline"


def test_the_dashboard_url_is_for_each_partition_china_included() -> None:
    app = cdk.App()
    china = cdk.Stack(
        app, "China", env=cdk.Environment(account="123456789012", region="cn-north-1")
    )
    anywhere = cdk.Stack(app, "Anywhere")
    for stack in (china, anywhere):
        MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py").add_outputs()
    assembly = app.synth()
    parts = assembly.get_stack_by_name("China").template["Outputs"][DASHBOARD_URL]["Value"]
    assert parts["Fn::Join"][1][0] == (
        "https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#dashboards:name="
    )
    template = assembly.get_stack_by_name("Anywhere").template
    parts = template["Outputs"][DASHBOARD_URL]["Value"]["Fn::Join"][1]
    assert parts[0] == "https://"
    assert parts[1]["Fn::If"][1:] == [{"Fn::Join": ["", [{"Ref": "AWS::Region"}, "."]]}, ""]
    hosts = template["Mappings"][parts[2]["Fn::FindInMap"][0]]
    assert hosts == {
        "aws": {"host": "console.aws.amazon.com"},
        "aws-cn": {"host": "console.amazonaws.cn"},
        "aws-us-gov": {"host": "console.amazonaws-us-gov.com"},
    }


def test_put_metric_data_is_allowed_in_the_namespace_only() -> None:
    template, _ = _synth(MonitoringSettings(namespace="Team/Models"))
    statements = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Condition", {}).get("StringEquals", {}).get("cloudwatch:namespace")
    ]
    (statement,) = statements
    assert statement["Action"] == "cloudwatch:PutMetricData"
    assert statement["Resource"] == "*"
    assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Team/Models"}}
    machine = next(
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    )
    definition = _resolve(machine["Properties"]["DefinitionString"])
    state = json.loads(definition)["States"]["PublishRunMetrics"]
    assert state["Parameters"]["Namespace"] == "Team/Models"
    names = [d["MetricName"] for d in state["Parameters"]["MetricData"]]
    assert names == ["Accuracy", "AccuracyThreshold", "TrainingTime"]
    assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert state["Catch"][0]["Next"] == "RunMetricsNotPublished"


def test_turned_off_there_is_no_dashboard_no_output_and_no_metrics() -> None:
    template, pipeline = _synth(MonitoringSettings(dashboard=False, publish_metrics=False))
    types = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::CloudWatch::Dashboard" not in types
    assert DASHBOARD_URL not in template["Outputs"]
    assert pipeline.dashboard is None
    assert '"cloudwatch:namespace": "MLPipeline"' not in json.dumps(template)
    assert "putMetricData" not in json.dumps(template)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (MonitoringSettings(dashboard_name="has space"), "monitoring.dashboard_name"),
        (MonitoringSettings(dashboard_name="x" * 256), "monitoring.dashboard_name"),
        (MonitoringSettings(namespace="AWS/SageMaker"), "monitoring.namespace"),
        (MonitoringSettings(namespace=""), "monitoring.namespace"),
        (MonitoringSettings(period=cdk.Duration.seconds(90)), "monitoring.period"),
        (MonitoringSettings(period=cdk.Duration.days(2)), "monitoring.period"),
        (MonitoringSettings(dashboard="yes"), "monitoring.dashboard"),  # type: ignore[arg-type]
    ],
)
def test_bad_settings_are_refused_naming_the_setting(
    settings: MonitoringSettings, named: str
) -> None:
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        _synth(settings)
