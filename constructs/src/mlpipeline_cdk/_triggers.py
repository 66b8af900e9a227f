"""What starts a run (a schedule, new training data) and what reports a run that ended before
its own failure handling could."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from ._app_checks import refuse_silenced_new_data
from ._given import sends_events
from ._grants import add_to_key_policy

if TYPE_CHECKING:
    from .ml_pipeline import MLPipeline
    from .settings import StorageSettings, TriggerSettings


def add_triggers(
    pipeline: MLPipeline, *, schedule: events.Schedule | None, retrain_on_new_data: bool
) -> None:
    start_run = targets.SfnStateMachine(
        pipeline.state_machine, input=events.RuleTargetInput.from_object({})
    )
    if schedule is not None:
        events.Rule(
            pipeline,
            "ScheduledRun",
            schedule=schedule,
            targets=[start_run],
            description="Starts a training run of the ML pipeline on a schedule",
        )
    if retrain_on_new_data:
        bucket_resource = pipeline.data_bucket.node.default_child
        if pipeline._created_data_bucket and isinstance(bucket_resource, s3.CfnBucket):
            # Set natively on the bucket we created: Bucket(event_bridge_enabled=True) would
            # add a notifications custom resource (a Lambda function with a managed policy).
            bucket_resource.notification_configuration = (
                s3.CfnBucket.NotificationConfigurationProperty(
                    event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                        event_bridge_enabled=True
                    )
                )
            )
        # Notifications added to the bucket later would switch EventBridge off again.
        refuse_silenced_new_data(pipeline)
        # A given bucket was checked before anything was created: it sends its events.
        events.Rule(
            pipeline,
            "NewDataRun",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [pipeline.data_bucket.bucket_name]},
                    "object": {"key": [{"wildcard": f"{pipeline.data_prefix}*"}]},
                },
            ),
            targets=[start_run],
            description="Starts a training run of the ML pipeline when training data arrives",
        )


def notify_on_unhandled_endings(pipeline: MLPipeline) -> None:
    # Failures inside the state machine notify from the definition; a run that times out
    # or is stopped never gets there, so EventBridge reports those.
    rule = events.Rule(
        pipeline,
        "RunTimedOutOrAborted",
        event_pattern=events.EventPattern(
            source=["aws.states"],
            detail_type=["Step Functions Execution Status Change"],
            detail={
                "status": ["TIMED_OUT", "ABORTED"],
                "stateMachineArn": [pipeline.state_machine.state_machine_arn],
            },
        ),
        description="Notifies the failure topic when a pipeline run times out or is stopped",
    )
    rule.add_target(
        targets.SnsTopic(
            pipeline.failure_topic,
            message=events.RuleTargetInput.from_object(
                {
                    "execution": events.EventField.from_path("$.detail.executionArn"),
                    "error": events.EventField.from_path("$.detail.status"),
                    "cause": "the run ended before its own failure handling ran",
                }
            ),
        )
    )
    # EventBridge publishes to the encrypted topic with the pipeline key.
    add_to_key_policy(
        pipeline,
        iam.PolicyStatement(
            sid="AllowEventBridgeToPublishFailures",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
            # The rule's ARN would make key, topic, state machine and rule depend on each
            # other in a cycle; the account scopes it instead.
            conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(pipeline).account}},
        ),
    )


def changes_to_given_resources(
    *, storage: StorageSettings, triggers: TriggerSettings
) -> dict[str, tuple[object, str]]:
    """Settings that would need the pipeline to change a resource it was given, with what to do
    instead: the pipeline never changes what it was passed."""
    refused: dict[str, tuple[object, str]] = {}
    bucket = getattr(storage, "data_bucket", None)
    wanted = getattr(triggers, "retrain_on_new_data", False)
    if wanted and bucket is not None and not sends_events(bucket):
        refused["triggers.retrain_on_new_data"] = (
            wanted,
            f"needs storage.data_bucket {bucket.node.path!r} to send its events to "
            "EventBridge, and the pipeline does not change a bucket it was given: enable "
            "EventBridge on your bucket (s3.Bucket(..., event_bridge_enabled=True)), or leave "
            "retrain_on_new_data off and start runs from your own rule (pipeline.state_machine "
            "as its target)",
        )
    return refused
