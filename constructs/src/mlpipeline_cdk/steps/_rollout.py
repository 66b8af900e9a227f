"""The guarded update of an existing endpoint (see :mod:`mlpipeline_cdk.rollout_settings`): its
alarms, the UpdateEndpoint request with ``DeploymentConfig``, and the explanation of a rollback.

- UpdateEndpoint goes through the optimized integration
  (``arn:aws:states:::sagemaker:updateEndpoint``), whose parameters are the API's request fields
  (https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html, "Supported
  SageMaker AI APIs and syntax": UpdateEndpoint). aws-cdk's ``SageMakerUpdateEndpoint`` renders
  only ``EndpointName`` and ``EndpointConfigName`` (aws/aws-cdk,
  packages/aws-cdk-lib/aws-stepfunctions-tasks/lib/sagemaker/update-endpoint.ts,
  ``renderParameters``), so the task is a ``CustomState`` with the policy that task would have.
  It keeps the optimized integration's error names, so throttling and a busy endpoint are still
  told apart by the cause (:mod:`._retries`).
- The alarms watch ``AWS/SageMaker`` metrics of the endpoint's variant (dimensions EndpointName,
  VariantName): ``ModelLatency`` (microseconds) and ``Invocation5XXErrors``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html).
- During a blue/green update with auto-rollback, an alarm that fires makes SageMaker roll back:
  the endpoint goes ``RollingBack``, then ``InService`` on its old configuration with a
  ``FailureReason`` (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-
  configuration.html; DescribeEndpoint's ``EndpointStatus`` and ``FailureReason``,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeEndpoint.html). The run
  then asks CloudWatch (DescribeAlarms with ``AlarmNames`` and ``StateValue: ALARM``) which of the
  rollout's alarms fired and why (``StateReason``). The same guide asks that the caller may
  ``cloudwatch:DescribeAlarms`` the auto-rollback alarms: the grant is scoped to their ARNs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ..rollout_settings import ROUTING_TYPES, RolloutSettings
from .failure import FailureHandler

VARIANT_NAME: Final = "AllTraffic"
#: The error of a run whose update SageMaker rolled back because a rollout alarm fired.
ROLLED_BACK_ERROR: Final = "EndpointRolloutRolledBack"


def create_alarms(
    scope: Construct, *, endpoint_name: str, settings: RolloutSettings
) -> list[cloudwatch.IAlarm]:
    """The alarms the pipeline creates on its endpoint, named after it so runs find them."""
    dimensions = {"EndpointName": endpoint_name, "VariantName": VARIANT_NAME}
    minute = Duration.minutes(1)
    latency = cloudwatch.Alarm(
        scope,
        "RolloutLatencyAlarm",
        alarm_name=f"{endpoint_name}-rollout-model-latency",
        alarm_description=f"Rolls back a rollout to {endpoint_name} when its model is slow.",
        metric=cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name="ModelLatency",
            dimensions_map=dimensions,
            statistic="Average",
            period=minute,
        ),
        # ModelLatency is in microseconds.
        threshold=settings.latency_threshold.to_milliseconds() * 1000,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=settings.evaluation_periods,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    errors = cloudwatch.Alarm(
        scope,
        "RolloutServerErrorsAlarm",
        alarm_name=f"{endpoint_name}-rollout-server-errors",
        alarm_description=f"Rolls back a rollout to {endpoint_name} when its model fails.",
        metric=cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name="Invocation5XXErrors",
            dimensions_map=dimensions,
            statistic="Sum",
            period=minute,
        ),
        threshold=settings.server_error_threshold,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=settings.evaluation_periods,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    return [latency, errors, *settings.alarms]


def plan_states(scope: Construct) -> tuple[sfn.Choice, list[sfn.Pass]]:
    """A Choice on ``$.config.rollout.strategy`` and one Pass per strategy writing it and its
    ``TrafficRoutingConfiguration`` to ``$.rolloutPlan`` (``strategy``, ``routing``)."""
    config = "$.config.rollout"
    choose = sfn.Choice(scope, "ChooseRolloutStrategy")
    common = {
        "Type": "",
        "WaitIntervalInSeconds": sfn.JsonPath.number_at(f"{config}.waitIntervalSeconds"),
    }
    sizes = {
        "canary": {
            "CanarySize": {
                "Type": "CAPACITY_PERCENT",
                "Value": sfn.JsonPath.number_at(f"{config}.canarySizePercent"),
            }
        },
        "linear": {
            "LinearStepSize": {
                "Type": "CAPACITY_PERCENT",
                "Value": sfn.JsonPath.number_at(f"{config}.linearStepPercent"),
            }
        },
    }
    plans = []
    for strategy, routing_type in ROUTING_TYPES.items():
        plan = sfn.Pass(
            scope,
            f"Plan{routing_type.title().replace('_', '')}Rollout",
            parameters={
                "strategy": strategy,
                "routing": {**common, "Type": routing_type, **sizes.get(strategy, {})},
            },
            result_path="$.rolloutPlan",
        )
        plans.append(plan)
        if strategy != "all_at_once":
            choose.when(sfn.Condition.string_equals(f"{config}.strategy", strategy), plan)
        else:
            choose.otherwise(plan)
    return choose, plans


def update_state(
    scope: Construct,
    *,
    endpoint_name: str,
    settings: RolloutSettings,
    alarms: Sequence[cloudwatch.IAlarm],
) -> sfn.CustomState:
    """UpdateEndpoint with a blue/green DeploymentConfig and auto-rollback on ``alarms``."""
    policy: dict[str, object] = {
        "TrafficRoutingConfiguration.$": "$.rolloutPlan.routing",
        "TerminationWaitInSeconds.$": "$.config.rollout.terminationWaitSeconds",
    }
    timeout = settings.maximum_execution_timeout
    if timeout is not None:
        policy["MaximumExecutionTimeoutInSeconds"] = int(timeout.to_seconds())
    return sfn.CustomState(
        scope,
        "UpdateEndpoint",
        state_json={
            "Type": "Task",
            "Resource": f"arn:{cdk.Aws.PARTITION}:states:::sagemaker:updateEndpoint",
            "Parameters": {
                "EndpointName": endpoint_name,
                "EndpointConfigName.$": "$.endpointConfig.name",
                "DeploymentConfig": {
                    "BlueGreenUpdatePolicy": policy,
                    "AutoRollbackConfiguration": {
                        "Alarms": [{"AlarmName": a.alarm_name} for a in alarms]
                    },
                },
            },
            # jsii drops a None, so the response (EndpointArn) is kept aside rather than
            # discarded.
            "ResultPath": "$.rolloutPlan.update",
        },
    )


def explain_rollback(
    scope: Construct,
    *,
    failure: FailureHandler,
    alarms: Sequence[cloudwatch.IAlarm],
    otherwise: sfn.IChainable,
) -> sfn.IChainable:
    """States that read which rollout alarms are in ALARM after a rollback; the run fails with
    :data:`ROLLED_BACK_ERROR` naming them and their reasons, or goes to ``otherwise`` (a rollback
    no alarm explains) when none is."""
    describe = tasks.CallAwsService(
        scope,
        "FindFiredRolloutAlarms",
        service="cloudwatch",
        action="describeAlarms",
        parameters={"AlarmNames": [a.alarm_name for a in alarms], "StateValue": "ALARM"},
        iam_resources=[a.alarm_arn for a in alarms],
        iam_action="cloudwatch:DescribeAlarms",
        result_selector={
            "names": sfn.JsonPath.list_at("$.MetricAlarms[*].AlarmName"),
            "reasons": sfn.JsonPath.list_at("$.MetricAlarms[*].StateReason"),
        },
        result_path="$.firedAlarms",
    )
    describe.add_retry(
        errors=["CloudWatch.CloudWatchException"],
        interval=Duration.seconds(2),
        max_attempts=3,
        backoff_rate=2,
    )
    failure.catch(describe)
    any_fired = sfn.Choice(scope, "RolloutAlarmFired")
    rolled_back = failure.reject(
        scope,
        ROLLED_BACK_ERROR,
        error=ROLLED_BACK_ERROR,
        cause=sfn.JsonPath.format(
            "SageMaker rolled endpoint {} back to {} instead of {} because rollout alarms fired: "
            "{} ({}). {}",
            sfn.JsonPath.string_at("$.failedEndpoint.endpoint.EndpointName"),
            sfn.JsonPath.string_at("$.failedEndpoint.endpoint.EndpointConfigName"),
            sfn.JsonPath.string_at("$.endpointConfig.name"),
            sfn.JsonPath.json_to_string(sfn.JsonPath.list_at("$.firedAlarms.names")),
            sfn.JsonPath.json_to_string(sfn.JsonPath.list_at("$.firedAlarms.reasons")),
            sfn.JsonPath.string_at("$.failedEndpoint.endpoint.FailureReason"),
        ),
    )
    describe.next(any_fired)
    any_fired.when(sfn.Condition.is_present("$.firedAlarms.names[0]"), rolled_back).otherwise(
        otherwise
    )
    return describe


def no_rollout_yet(scope: Construct) -> sfn.Pass:
    """``$.rolloutPlan.strategy`` is ``none`` until the run updates the endpoint (a run that
    creates it, or finds a newer run's model there, rolls nothing out)."""
    return sfn.Pass(
        scope, "NoRolloutYet", parameters={"strategy": "none"}, result_path="$.rolloutPlan"
    )


def update_policies(
    scope: Construct, *, endpoint_arn: str, name_prefix: str
) -> list[iam.PolicyStatement]:
    """What aws-cdk's SageMakerUpdateEndpoint grants, narrowed to this endpoint and the
    pipeline's endpoint configurations."""
    stack = cdk.Stack.of(scope)
    return [
        iam.PolicyStatement(
            actions=["sagemaker:UpdateEndpoint"],
            resources=[
                endpoint_arn,
                stack.format_arn(
                    service="sagemaker",
                    resource="endpoint-config",
                    resource_name=f"{name_prefix}-*",
                ),
            ],
        )
    ]
