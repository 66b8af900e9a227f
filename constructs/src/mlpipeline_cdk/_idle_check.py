"""The idle check: a small STANDARD state machine, started on a schedule, that deletes the
pipeline's endpoint when nobody called it for ``idle_stop.idle_period``.

Step Functions has no date arithmetic, so the check does not compute "now minus the idle
period": it looks at the endpoint when it starts, waits the idle period, and then reads the
invocations between its own start and now. The endpoint is deleted only if it was ``InService``
at both looks, on the same configuration and with the same ``LastModifiedTime`` (no run created
or updated it meanwhile, so it existed for the whole period and the metric covers it), and
SageMaker counted no invocation in the window. One check starts every ``check_interval``, so
the windows overlap and an endpoint idle for the period is stopped at most one interval late.

A run that deploys while a check waits changes the endpoint's status or ``LastModifiedTime``,
and the check leaves the endpoint alone; one that is ``Creating`` or ``Updating`` when a check
starts is not watched at all. The last look is the state just before DeleteEndpoint, so the
only remaining overlap is a run's UpdateEndpoint between those two calls; that run then fails
(its endpoint is gone) and the next run creates the endpoint again.

The two looks compare ``LastModifiedTime`` as text: the AWS SDK integration returns timestamps
as ISO 8601 strings (``"CreationTime": "2013-08-23T01:02:15.422Z"``, reported in
sam-goodwin/functionless#489 for DescribeStacks), and Step Functions has no timestamp arithmetic.

Metrics: SageMaker publishes ``Invocations`` in ``AWS/SageMaker`` with the dimensions
``EndpointName`` and ``VariantName``, and the ``Sum`` statistic is the number of requests
(https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html). GetMetricData
returns only periods that have data points; the period asked for is the idle period plus two
minutes (CloudWatch rounds the start time down to the minute), so an idle window answers no
value, or one value of 0, and anything else counts as in use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ._teardown import accept_redundant_dependency
from .contract import endpoint_stops as record
from .nag import acknowledge, finding_resource, policies_of
from .steps._retries import SDK_UNDECLARED_ERROR, add_sdk_retry
from .steps.failure import FailureHandler

if TYPE_CHECKING:
    from .idle_stop import IdleStopSettings
    from .ml_pipeline import MLPipeline

#: SageMaker's endpoint invocation metrics (monitoring-cloudwatch.html).
NAMESPACE: Final = "AWS/SageMaker"
INVOCATIONS: Final = "Invocations"
VARIANT: Final = "AllTraffic"
#: Added to the idle period in the GetMetricData period: CloudWatch rounds StartTime down to
#: the minute (API_GetMetricData.html, "StartTime"), so the window is up to a minute longer.
_PERIOD_SLACK: Final = 120


def add(pipeline: MLPipeline, settings: IdleStopSettings | None) -> IdleCheck | None:
    """The pipeline's idle check, or None when ``idle_stop`` is off."""
    return None if settings is None else IdleCheck(pipeline, "IdleCheck", settings=settings)


class IdleCheck(Construct):
    """The check's state machine, its log group and the rule that starts it."""

    def __init__(self, scope: MLPipeline, construct_id: str, *, settings: IdleStopSettings) -> None:
        super().__init__(scope, construct_id)
        deployment = scope.deployment
        assert deployment is not None  # refused at synth otherwise (idle_stop.refused)
        self.endpoint_name = deployment.endpoint_name
        self.endpoint_arn = deployment.endpoint_arn
        self.record_key = record.record_key(self.endpoint_name)
        self._pipeline = scope
        self._settings = settings
        stack = cdk.Stack.of(self)
        self._config_arns = stack.format_arn(
            service="sagemaker",
            resource="endpoint-config",
            resource_name=f"{scope.name_prefix}-*",
        )
        self.failure = FailureHandler(self, "Failure", topic=scope.failure_topic)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=scope.encryption_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        idle = settings.idle_period
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            state_machine_type=sfn.StateMachineType.STANDARD,
            # One check waits the idle period, then makes a handful of calls.
            timeout=idle.plus(Duration.hours(1)),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            comment=f"Delete endpoint {self.endpoint_name} when it has had no invocations "
            f"for {idle.to_human_string()}",
        )
        accept_redundant_dependency(self.state_machine)
        # The topic and the stop records are encrypted with the pipeline key.
        scope.encryption_key.grant(self.state_machine.role, "kms:GenerateDataKey", "kms:Decrypt")
        self.rule = events.Rule(
            self,
            "Schedule",
            schedule=events.Schedule.rate(settings.check_interval),
            targets=[
                targets.SfnStateMachine(
                    self.state_machine, input=events.RuleTargetInput.from_object({})
                )
            ],
            description=f"Starts the idle check of the ML pipeline's endpoint every "
            f"{settings.check_interval.to_human_string()}",
        )
        self._acknowledge()

    # --- the definition ---------------------------------------------------------------------

    def _describe(self, state_id: str, result_path: str) -> tasks.CallAwsService:
        return tasks.CallAwsService(
            self,
            state_id,
            service="sagemaker",
            action="describeEndpoint",
            parameters={"EndpointName": self.endpoint_name},
            iam_resources=[self.endpoint_arn],
            iam_action="sagemaker:DescribeEndpoint",
            result_selector={
                "status": sfn.JsonPath.string_at("$.EndpointStatus"),
                "configName": sfn.JsonPath.string_at("$.EndpointConfigName"),
                "lastModified": sfn.JsonPath.string_at("$.LastModifiedTime"),
            },
            result_path=result_path,
        )

    def _definition(self) -> sfn.IChainable:
        first = self._describe("LookAtEndpoint", "$.before")
        nothing = sfn.Succeed(self, "NoEndpoint", comment="Nothing to stop")
        not_found = sfn.Choice(self, "EndpointFound")
        # DescribeEndpoint of a missing endpoint is a ValidationException: the AWS SDK
        # integration names it SageMaker.SageMakerException (steps/_retries.py).
        not_found.when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.error.Error", SDK_UNDECLARED_ERROR),
                sfn.Condition.string_matches("$.error.Cause", "*Could not find endpoint*"),
            ),
            nothing,
        ).otherwise(self.failure.entry)
        first.add_catch(not_found, errors=["States.ALL"], result_path="$.error")
        serving = sfn.Choice(self, "InServiceAtStart")
        left = sfn.Succeed(self, "LeftToRuns", comment="Creating, updating or failed: runs own it")
        watch = sfn.Wait(
            self, "WatchForIdlePeriod", time=sfn.WaitTime.duration(self._settings.idle_period)
        )
        count = self._count_invocations()
        counted = sfn.Pass(
            self,
            "CountDataPoints",
            parameters={
                "values": sfn.JsonPath.list_at("$.invocations.values"),
                "points": sfn.JsonPath.array_length(sfn.JsonPath.list_at("$.invocations.values")),
            },
            result_path="$.invocations",
        )
        idle = sfn.Choice(self, "NoInvocations")
        in_use = sfn.Succeed(self, "InUse")
        read_config = tasks.CallAwsService(
            self,
            "ReadEndpointConfig",
            service="sagemaker",
            action="describeEndpointConfig",
            parameters={"EndpointConfigName": sfn.JsonPath.string_at("$.before.configName")},
            iam_resources=[self._config_arns],
            iam_action="sagemaker:DescribeEndpointConfig",
            result_selector={"variants": sfn.JsonPath.list_at("$.ProductionVariants")},
            result_path="$.config",
        )
        last = self._describe("LookAgain", "$.after")
        last.add_catch(not_found, errors=["States.ALL"], result_path="$.error")
        unchanged = sfn.Choice(self, "UnchangedSinceStart")
        changed = sfn.Succeed(self, "ChangedDuringCheck", comment="A run or a person changed it")
        delete = tasks.CallAwsService(
            self,
            "StopIdleEndpoint",
            service="sagemaker",
            action="deleteEndpoint",
            parameters={"EndpointName": self.endpoint_name},
            iam_resources=[self.endpoint_arn],
            iam_action="sagemaker:DeleteEndpoint",
            result_path=sfn.JsonPath.DISCARD,
        )
        add_sdk_retry(delete)
        write = self._record_stop()
        notify = self._notify()
        for state in (count, read_config, delete, self._write):
            self.failure.catch(state)

        first.next(serving)
        serving.when(sfn.Condition.string_equals("$.before.status", "InService"), watch).otherwise(
            left
        )
        watch.next(count).next(counted).next(idle)
        idle.when(
            sfn.Condition.or_(
                sfn.Condition.number_equals("$.invocations.points", 0),
                sfn.Condition.and_(
                    sfn.Condition.number_equals("$.invocations.points", 1),
                    sfn.Condition.number_equals("$.invocations.values[0]", 0),
                ),
            ),
            read_config,
        ).otherwise(in_use)
        read_config.next(last).next(unchanged)
        unchanged.when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.after.status", "InService"),
                sfn.Condition.string_equals_json_path("$.after.configName", "$.before.configName"),
                sfn.Condition.string_equals_json_path(
                    "$.after.lastModified", "$.before.lastModified"
                ),
            ),
            delete,
        ).otherwise(changed)
        delete.next(write).next(notify).next(sfn.Succeed(self, "EndpointStopped"))
        return first

    def _count_invocations(self) -> tasks.CallAwsService:
        period = int(self._settings.idle_period.to_seconds()) + _PERIOD_SLACK
        return tasks.CallAwsService(
            self,
            "CountInvocations",
            service="cloudwatch",
            action="getMetricData",
            parameters={
                "MetricDataQueries": [
                    {
                        "Id": "invocations",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": NAMESPACE,
                                "MetricName": INVOCATIONS,
                                "Dimensions": [
                                    {"Name": "EndpointName", "Value": self.endpoint_name},
                                    {"Name": "VariantName", "Value": VARIANT},
                                ],
                            },
                            "Period": period,
                            "Stat": "Sum",
                        },
                        "ReturnData": True,
                    }
                ],
                "StartTime": sfn.JsonPath.string_at("$$.Execution.StartTime"),
                "EndTime": sfn.JsonPath.string_at("$$.State.EnteredTime"),
            },
            # GetMetricData has no resource-level permissions: its Resource must be "*"
            # (https://docs.aws.amazon.com/service-authorization/latest/reference/
            # list_amazoncloudwatch.html, GetMetricData has no resource type).
            iam_resources=["*"],
            iam_action="cloudwatch:GetMetricData",
            result_selector={"values": sfn.JsonPath.list_at("$.MetricDataResults[0].Values")},
            result_path="$.invocations",
        )

    def _stop_record(self) -> dict[str, object]:
        minutes = int(self._settings.idle_period.to_seconds() // 60)
        return {
            record.ENDPOINT_NAME: self.endpoint_name,
            record.ENDPOINT_CONFIG_NAME: sfn.JsonPath.string_at("$.before.configName"),
            record.VARIANTS: sfn.JsonPath.list_at("$.config.variants"),
            record.STOPPED_AT: sfn.JsonPath.string_at("$$.State.EnteredTime"),
            record.STOPPED_BY: record.IDLE_CHECK,
            record.REASON: f"no invocations for {minutes} minutes",
            "execution": sfn.JsonPath.execution_id,
        }

    def _record_stop(self) -> sfn.IChainable:
        pipeline = self._pipeline
        prepare = sfn.Pass(
            self, "DescribeStop", parameters=self._stop_record(), result_path="$.stop"
        )
        write = tasks.CallAwsService(
            self,
            "RecordStop",
            service="s3",
            action="putObject",
            parameters={
                "Bucket": pipeline.artifacts_bucket.bucket_name,
                "Key": self.record_key,
                "Body": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.stop")),
                "ContentType": "application/json",
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": pipeline.encryption_key.key_arn,
            },
            iam_resources=[pipeline.artifacts_bucket.arn_for_objects(self.record_key)],
            iam_action="s3:PutObject",
            result_path=sfn.JsonPath.DISCARD,
        )
        # S3's undeclared errors (throttling's SlowDown) are S3.S3Exception (steps/registry.py).
        write.add_retry(
            errors=["S3.S3Exception"],
            interval=Duration.seconds(2),
            max_attempts=4,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        prepare.next(write)
        self._write = write
        return sfn.Chain.custom(prepare, [write], write)

    def _notify(self) -> tasks.SnsPublish:
        notify = tasks.SnsPublish(
            self,
            "NotifyStop",
            topic=self._pipeline.failure_topic,
            subject=f"Endpoint {self.endpoint_name} stopped: idle"[:100],
            message=sfn.TaskInput.from_object(
                {
                    "event": "EndpointStoppedWhenIdle",
                    "message": sfn.JsonPath.format(
                        "Endpoint {} had no invocations for {}; it was deleted, its "
                        "configuration {} and model kept. The next run, or `mlpipeline endpoint "
                        "start`, brings it back.",
                        self.endpoint_name,
                        self._settings.idle_period.to_human_string(),
                        sfn.JsonPath.string_at("$.before.configName"),
                    ),
                    "stop": sfn.JsonPath.object_at("$.stop"),
                    "record": f"s3://{self._pipeline.artifacts_bucket.bucket_name}/"
                    f"{self.record_key}",
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        # SNS's declared transient errors (steps/failure.py).
        notify.add_retry(
            errors=["SNS.ThrottledException", "SNS.InternalErrorException"],
            max_attempts=3,
            backoff_rate=2,
        )
        return notify

    # --- cdk-nag ------------------------------------------------------------------------------

    def _acknowledge(self) -> None:
        config_arns = finding_resource(self, self._config_arns)
        findings = {
            "Resource::*": "cloudwatch:GetMetricData has no resource-level permissions; X-Ray "
            "trace submission and CloudWatch Logs log delivery have none either",
            f"Resource::{config_arns}": "Endpoint configuration names are generated per run "
            "(<name_prefix>-<uuid>); the check reads the one the endpoint serves",
        }
        for policy in policies_of(self.state_machine.role):
            for finding, reason in findings.items():
                acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
