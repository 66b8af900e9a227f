"""The pipeline's CloudWatch dashboard, its console URL, and the run metrics it reads.

What it shows, and where each metric comes from:

- Runs started, succeeded and failed: Step Functions' ``ExecutionsStarted``,
  ``ExecutionsSucceeded`` and ``ExecutionsFailed`` in ``AWS/States``, dimension
  ``StateMachineArn`` (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html).
- The accepted accuracy of each run against the threshold, and the training time: the metrics
  runs publish (:mod:`.steps._metrics`), with the configured threshold as a horizontal
  annotation (a run's input may set another; its own ``AccuracyThreshold`` is drawn too).
- The endpoint's ``Invocations``, ``ModelLatency`` (microseconds), ``Invocation4XXErrors`` and
  ``Invocation5XXErrors`` in ``AWS/SageMaker``, dimensions ``EndpointName`` and ``VariantName``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html). The endpoint is
  created by runs, not by the stack: the dashboard names it, and its graphs fill in once it
  exists.
- Its instances: SageMaker publishes no instance count for an endpoint variant, but
  ``InvocationsPerInstance`` adds ``1/numberOfInstances`` per request ("1/numberOfInstances is
  sent as the value on each request", ScalingPolicyMetric,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ScalingPolicyMetric.html), so
  ``Invocations / InvocationsPerInstance`` is the number of instances serving, while there is
  traffic.
- The rollout alarms, in an alarm status widget (at most 100 alarms,
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html).

The console URL: ``https://<region>.console.aws.amazon.com/cloudwatch/home?region=<region>
#dashboards:name=<name>`` in the ``aws`` partition; the China and GovCloud partitions have their
own console hosts (``console.amazonaws.cn``, ``console.amazonaws-us-gov.com``), chosen by the
stack's partition at deploy time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from .contract.outputs import DASHBOARD_URL
from .monitoring import MonitoringSettings
from .steps import _metrics

if TYPE_CHECKING:
    from .ml_pipeline import MLPipeline

#: The production variant every deployment creates (steps/deployment.py).
VARIANT_NAME: Final = "AllTraffic"
#: An alarm status widget shows 1 to 100 alarms.
MAX_ALARMS: Final = 100
#: The console's host in each partition.
CONSOLE_HOSTS: Final = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
_RUN_METRICS_ID: Final = "RunMetrics"
_WIDE: Final = 24
_GRAPH: Final = 8
_HEIGHT: Final = 6


def run_metric(
    settings: MonitoringSettings, name: str, state_machine: sfn.StateMachine, label: str
) -> cloudwatch.Metric:
    """A metric runs publish, of this pipeline's state machine."""
    return cloudwatch.Metric(
        namespace=settings.namespace,
        metric_name=name,
        dimensions_map={_metrics.PIPELINE_DIMENSION: state_machine.state_machine_name},
        statistic="Maximum",
        period=settings.period,
        label=label,
    )


def endpoint_metric(
    settings: MonitoringSettings, endpoint_name: str, name: str, statistic: str
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/SageMaker",
        metric_name=name,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": VARIANT_NAME},
        statistic=statistic,
        period=settings.period,
    )


def _run_widgets(
    settings: MonitoringSettings, state_machine: sfn.StateMachine, threshold: float
) -> list[cloudwatch.IWidget]:
    period = settings.period
    runs = cloudwatch.GraphWidget(
        title="Runs",
        left=[
            state_machine.metric_started(period=period, label="started"),
            state_machine.metric_succeeded(period=period, label="succeeded"),
            state_machine.metric_failed(period=period, label="failed"),
        ],
        width=_GRAPH,
        height=_HEIGHT,
    )
    accuracy = cloudwatch.GraphWidget(
        title="Accepted accuracy",
        left=[
            run_metric(settings, _metrics.ACCURACY, state_machine, "accuracy"),
            run_metric(settings, _metrics.ACCURACY_THRESHOLD, state_machine, "run's threshold"),
        ],
        left_annotations=[
            cloudwatch.HorizontalAnnotation(value=threshold, label="threshold (default)")
        ],
        left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
        width=_GRAPH,
        height=_HEIGHT,
    )
    training = cloudwatch.GraphWidget(
        title="Training time (seconds)",
        left=[run_metric(settings, _metrics.TRAINING_TIME, state_machine, "training time")],
        width=_GRAPH,
        height=_HEIGHT,
    )
    return [runs, accuracy, training]


def _endpoint_widgets(settings: MonitoringSettings, endpoint_name: str) -> list[cloudwatch.IWidget]:
    def metric(name: str, statistic: str) -> cloudwatch.Metric:
        return endpoint_metric(settings, endpoint_name, name, statistic)

    instances = cloudwatch.MathExpression(
        expression="invocations / perInstance",
        using_metrics={
            "invocations": metric("Invocations", "Sum"),
            "perInstance": metric("InvocationsPerInstance", "Sum"),
        },
        label="instances (while invoked)",
        period=settings.period,
    )

    def graph(title: str, *metrics: cloudwatch.IMetric) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title=title, left=list(metrics), width=_WIDE // 4, height=_HEIGHT
        )

    return [
        graph("Invocations", metric("Invocations", "Sum")),
        graph(
            "Model latency (microseconds)",
            metric("ModelLatency", "Average"),
            metric("ModelLatency", "p99"),
        ),
        graph("Errors", metric("Invocation4XXErrors", "Sum"), metric("Invocation5XXErrors", "Sum")),
        graph("Instances", instances),
    ]


def _alarm_widget(alarms: Sequence[cloudwatch.IAlarm]) -> cloudwatch.IWidget:
    if not alarms:
        return cloudwatch.TextWidget(
            markdown="**Rollout alarms**: none configured.", width=_WIDE, height=2
        )
    return cloudwatch.AlarmStatusWidget(
        title="Rollout alarms", alarms=list(alarms), width=_WIDE, height=_HEIGHT
    )


def create_dashboard(
    scope: Construct,
    settings: MonitoringSettings,
    *,
    state_machine: sfn.StateMachine,
    endpoint_name: str | None,
    accuracy_threshold: float,
    alarms: Sequence[cloudwatch.IAlarm] = (),
) -> cloudwatch.Dashboard:
    """The pipeline's dashboard (``settings.dashboard`` must be true)."""
    if len(alarms) > MAX_ALARMS:
        raise ValueError(f"a dashboard's alarm status widget shows at most {MAX_ALARMS} alarms")
    header = cloudwatch.TextWidget(
        markdown=(
            "# ML pipeline\nCreated by the MLPipeline construct (CloudFormation): changes made "
            "in the console are lost at the next deployment. "
            + (f"Endpoint: `{endpoint_name}`." if endpoint_name is not None else "No endpoint.")
        ),
        width=_WIDE,
        height=2,
    )
    rows: list[list[cloudwatch.IWidget]] = [
        [header],
        _run_widgets(settings, state_machine, accuracy_threshold),
    ]
    if endpoint_name is not None:
        rows.append(_endpoint_widgets(settings, endpoint_name))
    rows.append([_alarm_widget(alarms)])
    return cloudwatch.Dashboard(
        scope,
        "Dashboard",
        dashboard_name=settings.dashboard_name,
        default_interval=cdk.Duration.days(7),
        widgets=rows,
    )


def console_url(scope: Construct, dashboard_name: str) -> str:
    """The dashboard's console URL for the stack's partition and region: written out when the
    stack's region (so its partition) is known at synth time, else chosen at deploy time."""
    stack = cdk.Stack.of(scope)
    region = stack.region
    tail = [f"/cloudwatch/home?region={region}#dashboards:name=", dashboard_name]
    partition = None if cdk.Token.is_unresolved(region) else RegionInfo.get(region).partition
    if partition in CONSOLE_HOSTS:
        host = CONSOLE_HOSTS[partition]
        # Regional hosts (<region>.console.aws.amazon.com) in the aws partition only.
        prefix = f"{region}." if partition == "aws" else ""
        return cdk.Fn.join("", [f"https://{prefix}{host}", *tail])
    mapping = cdk.CfnMapping(
        scope,
        "ConsoleHosts",
        mapping={partition: {"host": host} for partition, host in CONSOLE_HOSTS.items()},
    )
    in_aws = cdk.CfnCondition(
        scope, "InAwsPartition", expression=cdk.Fn.condition_equals(cdk.Aws.PARTITION, "aws")
    )
    return cdk.Fn.join(
        "",
        [
            "https://",
            cdk.Fn.condition_if(in_aws.logical_id, f"{region}.", "").to_string(),
            mapping.find_in_map(cdk.Aws.PARTITION, "host"),
            *tail,
        ],
    )


# --- what MLPipeline calls -----------------------------------------------------------------------


def after_evaluation(pipeline: MLPipeline, chain: sfn.Chain) -> sfn.Chain:
    """``chain`` (training and evaluation), then the run metrics when they are published."""
    settings = pipeline.monitoring_settings
    if not settings.publish_metrics:
        return chain
    return chain.next(
        _metrics.PublishRunMetrics(pipeline, _RUN_METRICS_ID, namespace=settings.namespace)
    )


def add_dashboard(pipeline: MLPipeline, accuracy_threshold: float) -> cloudwatch.Dashboard | None:
    """Grant the run metrics to the state machine and create the dashboard, as set."""
    settings = pipeline.monitoring_settings
    run_metrics = pipeline.node.try_find_child(_RUN_METRICS_ID)
    if isinstance(run_metrics, _metrics.PublishRunMetrics):
        run_metrics.grant(pipeline.state_machine)
    if not settings.dashboard:
        return None
    deployment = pipeline.deployment
    return create_dashboard(
        pipeline,
        settings,
        state_machine=pipeline.state_machine,
        endpoint_name=pipeline.endpoint_name,
        accuracy_threshold=accuracy_threshold,
        # DeployToEndpoint's rollout alarms, when it has them.
        alarms=list(getattr(deployment, "rollout_alarms", None) or []),
    )


def outputs(pipeline: MLPipeline) -> dict[str, str]:
    """``DashboardUrl`` when the pipeline has a dashboard."""
    dashboard = pipeline.dashboard
    if dashboard is None:
        return {}
    return {DASHBOARD_URL: console_url(pipeline, dashboard.dashboard_name)}
