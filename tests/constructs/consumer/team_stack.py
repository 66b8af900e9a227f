"""Another team's pipeline: their own bucket and key, a data check before training and a model
record after evaluation. Imports only public names of ``mlpipeline_cdk``."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from mlpipeline_cdk import (
    HookContext,
    Hooks,
    MLPipeline,
    ServingSettings,
    StorageSettings,
    TrainingSettings,
)

TRAINING_CODE = Path(__file__).resolve().parents[3] / "training_code"


def check_training_data(context: HookContext) -> sfn.IChainable:
    """Fail early, with a clear error, when the data prefix holds no objects."""
    listing = tasks.CallAwsService(
        context.scope,
        "ListTrainingData",
        service="s3",
        action="listObjectsV2",
        parameters={
            "Bucket": context.data_bucket.bucket_name,
            "Prefix": context.data_prefix,
            "MaxKeys": 1,
        },
        iam_resources=[context.data_bucket.bucket_arn],
        iam_action="s3:ListBucket",
        result_selector={"count": sfn.JsonPath.number_at("$.KeyCount")},
        result_path="$.dataCheck",
    )
    context.failure.catch(listing)
    has_data = sfn.Choice(context.scope, "HasTrainingData")
    empty = context.failure.reject(
        context.scope,
        "NoTrainingData",
        error="NoTrainingData",
        cause=f"no objects under {context.data_prefix} in the data bucket",
    )
    found = sfn.Pass(context.scope, "TrainingDataFound")
    has_data.when(sfn.Condition.number_equals("$.dataCheck.count", 0), empty).otherwise(found)
    listing.next(has_data)
    return sfn.Chain.custom(listing, [found], found)


def record_model(context: HookContext) -> sfn.IChainable:
    """Write a small model record next to the artifacts before the model is deployed."""
    compose = sfn.Pass(
        context.scope,
        "ComposeModelRecord",
        parameters={
            "trainingJob": sfn.JsonPath.string_at("$.training.jobName"),
            "modelArtifacts": sfn.JsonPath.string_at("$.training.modelArtifacts"),
            "accuracy": sfn.JsonPath.number_at("$.evaluation.accuracy"),
        },
        result_path="$.modelRecord",
    )
    record = tasks.CallAwsService(
        context.scope,
        "RecordModel",
        service="s3",
        action="putObject",
        parameters={
            "Bucket": context.artifacts_bucket.bucket_name,
            "Key": sfn.JsonPath.format(
                "registry/{}.json", sfn.JsonPath.string_at("$.training.jobName")
            ),
            "Body": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.modelRecord")),
            "ContentType": "application/json",
        },
        iam_resources=[context.artifacts_bucket.arn_for_objects("registry/*")],
        iam_action="s3:PutObject",
        result_path=sfn.JsonPath.DISCARD,
    )
    context.failure.catch(record)
    return sfn.Chain.start(compose).next(record)


class TeamPipelineStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        key = kms.Key(
            self, "TeamKey", enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN
        )
        logs = s3.Bucket(
            self,
            "TeamLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        data = s3.Bucket(
            self,
            "TeamData",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=logs,
            server_access_logs_prefix="team-data/",
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.pipeline = MLPipeline(
            self,
            "Pipeline",
            source_dir=str(TRAINING_CODE),
            entry_point="mnist.py",
            name_prefix="team-mnist",
            storage=StorageSettings(data_bucket=data, data_prefix="digits/", encryption_key=key),
            training=TrainingSettings(hyperparameters={"epochs": 1}, accuracy_threshold=0.5),
            serving=ServingSettings(
                poll_interval=cdk.Duration.seconds(1), deploy_timeout=cdk.Duration.minutes(2)
            ),
            hooks=Hooks(before_training=check_training_data, after_evaluation=record_model),
        )
        runner = iam.Role(
            self, "Scheduler", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com")
        )
        self.pipeline.grant_start_execution(runner)
        # Our model records are named after their training job.
        cdk.Validations.of(
            self.pipeline.state_machine.role.node.find_child("DefaultPolicy")
        ).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5"
                "[Resource::<PipelineArtifactsBucket22248F97.Arn>/registry/*]",
                reason="Model records are written as registry/<training job>.json, one per run",
            )
        )
        cdk.CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine.state_machine_arn)
