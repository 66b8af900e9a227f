"""The MLPipeline construct: buckets, roles and a Step Functions state machine that trains a
PyTorch model with SageMaker, registers it as a SageMaker model and deploys it to an endpoint."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import aws_cdk as cdk
import jsii
from aws_cdk import Duration, Size
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from . import defaults, steps
from ._nag import acknowledge, bucket_arn_ref, default_policy
from ._validation import Problems, is_token
from .dlc_images import (
    PYTORCH_INFERENCE_REPOSITORY,
    PYTORCH_INFERENCE_TAG,
    PYTORCH_TRAINING_REPOSITORY,
    PYTORCH_TRAINING_TAG,
    dlc_image,
)
from .metrics import ACCURACY_METRIC, METRIC_DEFINITIONS
from .source_asset import source_dir_asset

HyperparameterValue = str | int | float | bool

#: SageMaker names: at most 63 characters of ``[a-zA-Z0-9](-*[a-zA-Z0-9])*``.
SAGEMAKER_NAME_MAX: Final = 63
_SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
_LOWER_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9])*$")
#: Every run names its SageMaker resources ``<name_prefix>-<uuid>`` (36 characters of UUID).
_UUID_SUFFIX: Final = 1 + 36
NAME_PREFIX_MAX: Final = SAGEMAKER_NAME_MAX - _UUID_SUFFIX
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$")
_MAX_VOLUME_GIB: Final = 16384
_MAX_RUNTIME: Final = Duration.days(28)
#: Where the PyTorch serving containers find the user code inside the unpacked model archive.
_SERVING_CODE_DIR: Final = "/opt/ml/model/code"
_MODELS_PREFIX: Final = steps.training.MODELS_PREFIX
_CHECKPOINTS_PREFIX: Final = steps.training.CHECKPOINTS_PREFIX
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class MLPipeline(Construct):
    """Trains a model with a SageMaker training job, checks it, registers it and deploys it to a
    long-lived endpoint, orchestrated by a Step Functions state machine.

    Creates a customer managed KMS key, a training-data bucket, a model-artifacts bucket and a
    server-access-log bucket, the SageMaker execution role, an SNS topic for failures, and a
    STANDARD state machine (full execution logging to an encrypted log group, X-Ray tracing) made
    of the fragments in :mod:`mlpipeline_cdk.steps`: :class:`~mlpipeline_cdk.steps.PrepareRun`
    (checks the run input) → :class:`~mlpipeline_cdk.steps.TrainModel` →
    :class:`~mlpipeline_cdk.steps.EvaluateModel` (accuracy threshold) →
    :class:`~mlpipeline_cdk.steps.DeployToEndpoint` (create or update, wait until in service).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_dir: str,
        entry_point: str,
        hyperparameters: Mapping[str, HyperparameterValue] | None = None,
        name_prefix: str = "mlpipeline",
        endpoint_name: str | None = None,
        data_prefix: str = "training-data/",
        training_instance_type: str = "ml.m5.xlarge",
        training_instance_count: int = 1,
        training_volume_size: Size | None = None,
        max_runtime: Duration | None = None,
        spot_training: bool = False,
        accuracy_threshold: float = 0.9,
        inference_instance_type: str = "ml.m5.large",
        inference_instance_count: int = 1,
        training_image: tasks.DockerImage | None = None,
        inference_image: tasks.DockerImage | None = None,
        notification_emails: Sequence[str] = (),
        schedule: events.Schedule | None = None,
        retrain_on_new_data: bool = False,
        delete_endpoint_with_stack: bool = True,
        endpoint_poll_interval: Duration | None = None,
        deploy_timeout: Duration | None = None,
        state_machine_timeout: Duration | None = None,
    ) -> None:
        """
        :param source_dir: Directory with the training and serving script; packed into a
            gzipped tar and passed to the training job as ``sagemaker_submit_directory``.
        :param entry_point: The script in ``source_dir`` that SageMaker runs, e.g. ``mnist.py``.
            It also serves the model (``SAGEMAKER_PROGRAM``), so it must copy itself to
            ``$SM_MODEL_DIR/code/``.
        :param hyperparameters: Passed to the script as ``--name value`` arguments; a run's
            input may override them. Default: none, the script's own defaults apply.
        :param name_prefix: Lowercase prefix of every SageMaker resource a run creates
            (``<prefix>-<uuid>``); at most 26 characters. Default: ``mlpipeline``.
        :param endpoint_name: Lowercase name of the endpoint every run deploys to (created by the
            first run, updated in place by later ones). Default: ``<name_prefix>-endpoint``.
        :param data_prefix: Key prefix of the training data in the data bucket; a run's
            ``trainingDataUri`` must lie under it. Default: ``training-data/``.
        :param training_instance_type: Default: ``ml.m5.xlarge``; a run may override it.
        :param training_instance_count: More than one runs distributed training. Default: 1.
        :param training_volume_size: Storage attached to each training instance. Default: 30 GiB.
        :param max_runtime: Training job's stopping condition. Default: 2 hours.
        :param spot_training: Run training on managed spot capacity (the job may wait up to
            twice ``max_runtime`` for capacity and resumes from its checkpoints); a run may
            override it. Default: on-demand capacity.
        :param accuracy_threshold: Minimum final test accuracy (0 to 1) a model needs to be
            deployed; a run may override it. Default: 0.9.
        :param inference_instance_type: Default: ``ml.m5.large``.
        :param inference_instance_count: Default: 1.
        :param training_image: Default: the SageMaker PyTorch training Deep Learning Container of
            the stack's region (CPU).
        :param inference_image: Default: the SageMaker PyTorch inference Deep Learning Container
            of the stack's region (CPU).
        :param notification_emails: Addresses subscribed to the failure topic (each must confirm
            the subscription). Default: none; subscribe what you like to ``failure_topic``.
        :param schedule: Start a run (input ``{}``) on this schedule. Default: no schedule.
        :param retrain_on_new_data: Start a run (input ``{}``) whenever an object is created
            under ``data_prefix`` (S3 → EventBridge). Default: off.
        :param delete_endpoint_with_stack: Delete the endpoint the pipeline created when the
            stack is deleted, so it stops billing. Default: true; buckets and key are kept anyway.
        :param endpoint_poll_interval: How often a run checks the endpoint while it deploys.
            Default: 30 seconds.
        :param deploy_timeout: How long a run waits for the endpoint to come into service.
            Default: 60 minutes.
        :param state_machine_timeout: Overall limit of one execution. Default: max_runtime times
            two (spot may wait) plus deploy_timeout plus one hour.
        """
        super().__init__(scope, construct_id)
        # Deliver server access logs under a bucket policy rather than the legacy ACL, whatever
        # the consuming app's feature flags say (context set here applies to this subtree only).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        training_volume_size = training_volume_size or Size.gibibytes(30)
        max_runtime = max_runtime or Duration.hours(2)
        endpoint_poll_interval = endpoint_poll_interval or Duration.seconds(30)
        deploy_timeout = deploy_timeout or Duration.minutes(60)
        endpoint_name = endpoint_name if endpoint_name is not None else f"{name_prefix}-endpoint"
        hyperparameters = dict(hyperparameters or {})

        _validate(
            source_dir=source_dir,
            entry_point=entry_point,
            hyperparameters=hyperparameters,
            name_prefix=name_prefix,
            endpoint_name=endpoint_name,
            data_prefix=data_prefix,
            training_instance_type=training_instance_type,
            training_instance_count=training_instance_count,
            training_volume_size=training_volume_size,
            max_runtime=max_runtime,
            accuracy_threshold=accuracy_threshold,
            inference_instance_type=inference_instance_type,
            inference_instance_count=inference_instance_count,
            notification_emails=notification_emails,
            endpoint_poll_interval=endpoint_poll_interval,
            deploy_timeout=deploy_timeout,
        )
        if state_machine_timeout is None:
            state_machine_timeout = Duration.seconds(
                2 * max_runtime.to_seconds() + deploy_timeout.to_seconds() + 3600
            )

        self.name_prefix = name_prefix
        self.endpoint_name = endpoint_name
        self.data_prefix = data_prefix
        self.entry_point = entry_point

        self.encryption_key = kms.Key(self, "Key", **defaults.encryption_key_props())
        self.access_logs_bucket = s3.Bucket(
            self, "AccessLogsBucket", **defaults.access_logs_bucket_props()
        )
        self.data_bucket = s3.Bucket(
            self,
            "DataBucket",
            **defaults.data_bucket_props(
                encryption_key=self.encryption_key,
                access_logs_bucket=self.access_logs_bucket,
                access_logs_prefix="data-bucket/",
            ),
        )
        self.artifacts_bucket = s3.Bucket(
            self,
            "ArtifactsBucket",
            **defaults.data_bucket_props(
                encryption_key=self.encryption_key,
                access_logs_bucket=self.access_logs_bucket,
                access_logs_prefix="artifacts-bucket/",
            ),
        )
        self.source_asset: s3_assets.Asset = source_dir_asset(
            self, "SourceDir", source_dir=source_dir
        )
        self.sagemaker_role = self._make_sagemaker_role()
        self.failure_topic = sns.Topic(
            self,
            "FailureTopic",
            master_key=self.encryption_key,
            enforce_ssl=True,
            display_name="ML pipeline failures",
        )
        for address in notification_emails:
            self.failure_topic.add_subscription(subscriptions.EmailSubscription(address))

        self.training_image = training_image or dlc_image(
            self, "TrainingRepository", PYTORCH_TRAINING_REPOSITORY, PYTORCH_TRAINING_TAG
        )
        self.inference_image = inference_image or dlc_image(
            self, "InferenceRepository", PYTORCH_INFERENCE_REPOSITORY, PYTORCH_INFERENCE_TAG
        )

        self.failure = steps.FailureHandler(self, "Failure", topic=self.failure_topic)
        self.prepare = steps.PrepareRun(
            self,
            "Prepare",
            defaults=steps.RunDefaults(
                training_instance_type=training_instance_type,
                training_instance_count=training_instance_count,
                training_data_uri=self.data_bucket.s3_url_for_object(data_prefix),
                max_runtime_seconds=int(max_runtime.to_seconds()),
                spot=spot_training,
                accuracy_threshold=accuracy_threshold,
                hyperparameters={k: _hyperparameter_string(v) for k, v in hyperparameters.items()},
                reserved_hyperparameters={
                    "sagemaker_program": entry_point,
                    "sagemaker_submit_directory": self.source_asset.s3_object_url,
                    "sagemaker_region": cdk.Stack.of(self).region,
                    "sagemaker_container_log_level": "20",
                },
            ),
            allowed_data_uri_prefix=self.data_bucket.s3_url_for_object(data_prefix),
            failure=self.failure,
        )
        self.training = steps.TrainModel(
            self,
            "Training",
            name_prefix=name_prefix,
            role=self.sagemaker_role,
            training_image_uri=_bind_image(self.training_image, self.sagemaker_role),
            metric_definitions=METRIC_DEFINITIONS,
            artifacts_bucket=self.artifacts_bucket,
            encryption_key=self.encryption_key,
            volume_size_gib=int(training_volume_size.to_gibibytes()),
            failure=self.failure,
        )
        self.evaluation = steps.EvaluateModel(
            self, "Evaluation", metric_name=ACCURACY_METRIC, failure=self.failure
        )
        self.deployment = steps.DeployToEndpoint(
            self,
            "Deployment",
            name_prefix=name_prefix,
            endpoint_name=endpoint_name,
            role=self.sagemaker_role,
            inference_image=self.inference_image,
            environment={
                "SAGEMAKER_PROGRAM": entry_point,
                "SAGEMAKER_SUBMIT_DIRECTORY": _SERVING_CODE_DIR,
                "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                "SAGEMAKER_REGION": cdk.Stack.of(self).region,
            },
            artifacts_bucket=self.artifacts_bucket,
            encryption_key=self.encryption_key,
            instance_type=inference_instance_type,
            instance_count=inference_instance_count,
            poll_interval=endpoint_poll_interval,
            deploy_timeout=deploy_timeout,
            failure=self.failure,
        )
        succeeded = sfn.Pass(
            self,
            "RunSucceeded",
            parameters={
                "trainingJobName": sfn.JsonPath.string_at("$.training.jobName"),
                "modelArtifacts": sfn.JsonPath.string_at("$.training.modelArtifacts"),
                "metrics": sfn.JsonPath.list_at("$.training.metrics"),
                "accuracy": sfn.JsonPath.number_at("$.evaluation.accuracy"),
                "accuracyThreshold": sfn.JsonPath.number_at("$.evaluation.threshold"),
                "modelName": sfn.JsonPath.string_at("$.model.name"),
                "endpointConfigName": sfn.JsonPath.string_at("$.endpointConfig.name"),
                "endpointName": sfn.JsonPath.string_at("$.endpoint.EndpointName"),
                "endpointStatus": sfn.JsonPath.string_at("$.endpoint.EndpointStatus"),
            },
        )

        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            encryption_key=self.encryption_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self._allow_logs_to_use_key()

        definition = (
            self.prepare.next(self.training)
            .next(self.evaluation)
            .next(self.deployment)
            .next(succeeded)
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=state_machine_timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
            comment="Train a model with SageMaker, check it, and deploy it to an endpoint",
        )
        self.training.grant_start(self.state_machine)
        # The endpoint configuration's volume is encrypted with the pipeline key; SageMaker
        # creates a grant on it on behalf of the caller of CreateEndpoint.
        self._grant_key_grants(self.state_machine.role)
        _accept_redundant_dependency(self.state_machine)

        self._add_triggers(schedule=schedule, retrain_on_new_data=retrain_on_new_data)
        self._notify_on_unhandled_endings()
        self.endpoint_teardown: cr.AwsCustomResource | None = (
            self._delete_endpoint_on_stack_delete() if delete_endpoint_with_stack else None
        )
        self._acknowledge_findings()

    def _make_sagemaker_role(self) -> iam.Role:
        stack = cdk.Stack.of(self)
        role = iam.Role(
            self,
            "SageMakerRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Execution role of the pipeline's training jobs and models",
        )
        # The training code object alone, not the whole bootstrap assets bucket.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadSourceArchive",
                actions=["s3:GetObject"],
                resources=[
                    stack.format_arn(
                        service="s3",
                        region="",
                        account="",
                        resource=self.source_asset.s3_bucket_name,
                        resource_name=self.source_asset.s3_object_key,
                    )
                ],
            )
        )
        log_groups = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteSageMakerLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                resources=[log_groups, f"{log_groups}:log-stream:*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PublishSageMakerMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            )
        )
        self.data_bucket.grant_read(role, f"{self.data_prefix}*")
        self.artifacts_bucket.grant_put(role, f"{_MODELS_PREFIX}*")
        self.artifacts_bucket.grant_read(role, f"{_MODELS_PREFIX}*")
        # Spot jobs sync /opt/ml/checkpoints to checkpoints/<execution>/ and resume from it.
        self.artifacts_bucket.grant_read(role, f"{_CHECKPOINTS_PREFIX}*")
        self.artifacts_bucket.grant_put(role, f"{_CHECKPOINTS_PREFIX}*")
        self._grant_key_for_sagemaker(role)
        return role

    def _grant_key_for_sagemaker(self, grantee: iam.IGrantable) -> None:
        self.encryption_key.grant_encrypt_decrypt(grantee)
        self._grant_key_grants(grantee)

    def _grant_key_grants(self, grantee: iam.IGrantable) -> None:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:CreateGrant", "kms:DescribeKey"],
                resources=[self.encryption_key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )

    def _allow_logs_to_use_key(self) -> None:
        stack = cdk.Stack.of(self)
        self.encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.{stack.url_suffix}")],
                actions=[
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:GenerateDataKey*",
                    "kms:ReEncrypt*",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )

    def _add_triggers(self, *, schedule: events.Schedule | None, retrain_on_new_data: bool) -> None:
        start_run = targets.SfnStateMachine(
            self.state_machine, input=events.RuleTargetInput.from_object({})
        )
        if schedule is not None:
            events.Rule(
                self,
                "ScheduledRun",
                schedule=schedule,
                targets=[start_run],
                description="Starts a training run of the ML pipeline on a schedule",
            )
        if retrain_on_new_data:
            # Set natively on the bucket: Bucket(event_bridge_enabled=True) would add a
            # notifications custom resource (a Lambda function with a managed policy) instead.
            bucket_resource = self.data_bucket.node.default_child
            assert isinstance(bucket_resource, s3.CfnBucket)
            bucket_resource.notification_configuration = (
                s3.CfnBucket.NotificationConfigurationProperty(
                    event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                        event_bridge_enabled=True
                    )
                )
            )
            events.Rule(
                self,
                "NewDataRun",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={
                        "bucket": {"name": [self.data_bucket.bucket_name]},
                        "object": {"key": [{"wildcard": f"{self.data_prefix}*"}]},
                    },
                ),
                targets=[start_run],
                description="Starts a training run of the ML pipeline when training data arrives",
            )

    def _notify_on_unhandled_endings(self) -> None:
        # Failures inside the state machine notify from the definition; a run that times out
        # or is stopped never gets there, so EventBridge reports those.
        rule = events.Rule(
            self,
            "RunTimedOutOrAborted",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ["TIMED_OUT", "ABORTED"],
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                },
            ),
            description="Notifies the failure topic when a pipeline run times out or is stopped",
        )
        rule.add_target(
            targets.SnsTopic(
                self.failure_topic,
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
        self.encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeToPublishFailures",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],
                # The rule's ARN would make key, topic, state machine and rule depend on each
                # other in a cycle; the account scopes it instead.
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
            )
        )

    def _delete_endpoint_on_stack_delete(self) -> cr.AwsCustomResource:
        # The endpoint is created by runs, not by CloudFormation, so deleting the stack would
        # leave it running and billing; this resource deletes it then.
        log_group = logs.LogGroup(
            self,
            "EndpointTeardownLogs",
            encryption_key=self.encryption_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # A role of our own, so the function gets no managed policy: it may write its log group
        # and delete this one endpoint.
        role = iam.Role(
            self,
            "EndpointTeardownRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Deletes the ML pipeline's endpoint when the stack is deleted",
        )
        log_group.grant_write(role)
        teardown = cr.AwsCustomResource(
            self,
            "EndpointTeardown",
            on_delete=cr.AwsSdkCall(
                service="SageMaker",
                action="deleteEndpoint",
                parameters={"EndpointName": self.endpoint_name},
                # Nothing to delete when no run ever deployed.
                ignore_error_codes_matching="ValidationException",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["sagemaker:DeleteEndpoint"],
                        resources=[self.deployment.endpoint_arn],
                    )
                ]
            ),
            role=role,
            log_group=log_group,
            install_latest_aws_sdk=False,
            resource_type="Custom::EndpointTeardown",
        )
        # The provider function is a singleton at the stack's root.
        provider = cdk.Stack.of(self).node.find_child(_AWS_CUSTOM_RESOURCE_PROVIDER_ID)
        _accept_redundant_dependency(provider)
        return teardown

    def _acknowledge_findings(self) -> None:
        """cdk-nag findings that are acknowledged, each with its reason, on its own resource."""
        sagemaker_policy = default_policy(self.sagemaker_role)
        for finding, reason in {
            "Action::s3:GetObject*": "Read-only object actions (GetObject, GetObjectVersion, "
            "...) as granted by Bucket.grant_read, limited to the data prefix and models prefix",
            "Action::s3:GetBucket*": "Read-only bucket metadata (location, versioning) that "
            "SageMaker reads before downloading a channel; limited to the two pipeline buckets",
            "Action::s3:List*": "SageMaker lists the training-data prefix to download the channel "
            "(S3Prefix) and the model prefix; limited to the two pipeline buckets",
            "Action::s3:Abort*": "s3:AbortMultipartUpload, so an interrupted upload of model "
            "artifacts can be cleaned up; limited to the models prefix",
            "Action::kms:GenerateDataKey*": "Encrypting model artifacts, checkpoints and training "
            "volumes needs data keys of the pipeline key; limited to that one key",
            "Action::kms:ReEncrypt*": "Part of Key.grant_encrypt_decrypt on the pipeline key; "
            "limited to that one key",
            f"Resource::{bucket_arn_ref(self.data_bucket)}/{self.data_prefix}*": "Training jobs "
            "read every object under the training-data prefix; object names are the data set's",
            f"Resource::{bucket_arn_ref(self.artifacts_bucket)}/{_MODELS_PREFIX}*": "Each training "
            "job writes under models/<job name>/, and job names are generated per execution",
            f"Resource::{bucket_arn_ref(self.artifacts_bucket)}/{_CHECKPOINTS_PREFIX}*": "Training "
            "jobs sync their checkpoints under checkpoints/<execution name>/, one folder per run",
            "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
            "/aws/sagemaker/*": "SageMaker writes to /aws/sagemaker/TrainingJobs and "
            "/aws/sagemaker/Endpoints/<endpoint name>, created on first use",
            "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
            "/aws/sagemaker/*:log-stream:*": "One log stream per training instance or endpoint "
            "instance, named by SageMaker at run time",
            "Resource::*": "ecr:GetAuthorizationToken has no resource-level permissions, and "
            "cloudwatch:PutMetricData has none either (it is limited here by a "
            "cloudwatch:namespace condition to /aws/sagemaker/*)",
        }.items():
            acknowledge(sagemaker_policy, f"AwsSolutions-IAM5[{finding}]", reason)

        state_machine_policy = default_policy(self.state_machine.role)
        sagemaker_arn = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>"
        for finding, reason in {
            f"Resource::{sagemaker_arn}:training-job/{self.name_prefix}-*": "Training job names "
            "are generated per attempt as <name_prefix>-<uuid>; limited to that prefix",
            f"Resource::{sagemaker_arn}:model/*": "Model names are generated per execution "
            "(<name_prefix>-<uuid>); policy written by the CDK SageMaker task",
            f"Resource::{sagemaker_arn}:endpoint-config/*": "Endpoint configuration names are "
            "generated per execution (<name_prefix>-<uuid>); policy written by the CDK "
            "SageMaker task",
            "Resource::*": "X-Ray trace submission, CloudWatch Logs log delivery and "
            "sagemaker:ListTags have no resource-level permissions",
        }.items():
            acknowledge(state_machine_policy, f"AwsSolutions-IAM5[{finding}]", reason)


#: The construct id aws-cdk-lib gives the singleton function behind every AwsCustomResource.
_AWS_CUSTOM_RESOURCE_PROVIDER_ID: Final = "AWS679f53fac002430cb0da5b7982bd2287"


def _accept_redundant_dependency(construct: IConstruct) -> None:
    """Tell cfn-lint that this resource's DependsOn on its role is deliberate.

    aws-cdk-lib makes a state machine or function depend explicitly on its role (so the role's
    policy exists before first use) while also referencing the role by GetAtt; cfn-lint's W3005
    flags the redundancy, which is harmless.
    """
    resource = construct.node.default_child
    assert isinstance(resource, cdk.CfnResource), construct.node.path
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})


@jsii.implements(tasks.ISageMakerTask)
class _ImageUser:
    """Stands in for a SageMaker task so a DockerImage can grant pulls to ``role``."""

    def __init__(self, role: iam.IRole) -> None:
        self._role = role

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self._role.grant_principal


def _bind_image(image: tasks.DockerImage, role: iam.IRole) -> str:
    """The image's URI, with pull access granted to ``role`` (for the raw training task)."""
    return image.bind(_ImageUser(role)).image_uri


def _hyperparameter_string(value: HyperparameterValue) -> str:
    # SageMaker takes strings only; the training toolkit JSON-decodes each value again, so
    # booleans are written the JSON way.
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _validate(
    *,
    source_dir: str,
    entry_point: str,
    hyperparameters: Mapping[str, HyperparameterValue],
    name_prefix: str,
    endpoint_name: str,
    data_prefix: str,
    training_instance_type: str,
    training_instance_count: int,
    training_volume_size: Size,
    max_runtime: Duration,
    accuracy_threshold: float,
    inference_instance_type: str,
    inference_instance_count: int,
    notification_emails: Sequence[str],
    endpoint_poll_interval: Duration,
    deploy_timeout: Duration,
) -> None:
    problems = Problems("MLPipeline")
    source = Path(source_dir)
    if not source.is_dir():
        problems.add("source_dir", source_dir, "must be an existing directory")
    if not entry_point.endswith(".py") or Path(entry_point).is_absolute() or ".." in entry_point:
        problems.add("entry_point", entry_point, "must be a relative path to a .py file")
    elif source.is_dir() and not (source / entry_point).is_file():
        problems.add("entry_point", entry_point, f"no such file in source_dir {source_dir!r}")

    if not is_token(name_prefix) and (
        not _LOWER_NAME.match(name_prefix) or len(name_prefix) > NAME_PREFIX_MAX
    ):
        problems.add(
            "name_prefix",
            name_prefix,
            f"must be 1 to {NAME_PREFIX_MAX} characters of lowercase letters, digits and "
            "hyphens, starting and ending with a letter or digit (SageMaker names are "
            f"'<prefix>-<36-character uuid>', at most {SAGEMAKER_NAME_MAX} characters)",
        )
    if not is_token(endpoint_name) and (
        not _LOWER_NAME.match(endpoint_name) or len(endpoint_name) > SAGEMAKER_NAME_MAX
    ):
        problems.add(
            "endpoint_name",
            endpoint_name,
            f"must be 1 to {SAGEMAKER_NAME_MAX} characters of lowercase letters, digits and "
            "hyphens, starting and ending with a letter or digit (SageMaker writes names in "
            "lowercase in ARNs, which the pipeline's IAM policies name)",
        )
    if not is_token(data_prefix) and (
        data_prefix.startswith("/") or ".." in data_prefix or any(c in data_prefix for c in "*?\\")
    ):
        problems.add(
            "data_prefix",
            data_prefix,
            "must be a key prefix without a leading '/', '..', '*', '?' or '\\'",
        )

    for prop, instance_type in (
        ("training_instance_type", training_instance_type),
        ("inference_instance_type", inference_instance_type),
    ):
        if not is_token(instance_type) and not _INSTANCE_TYPE.match(instance_type):
            problems.add(
                prop, instance_type, "must be a SageMaker instance type such as 'ml.m5.xlarge'"
            )
    for prop, count in (
        ("training_instance_count", training_instance_count),
        ("inference_instance_count", inference_instance_count),
    ):
        if not is_token(count) and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            problems.add(prop, count, "must be a whole number of at least 1")

    if not training_volume_size.is_unresolved():
        gib = training_volume_size.to_gibibytes()
        if not 1 <= gib <= _MAX_VOLUME_GIB:
            problems.add(
                "training_volume_size", f"{gib} GiB", f"must be 1 to {_MAX_VOLUME_GIB} GiB"
            )
    if not max_runtime.is_unresolved():
        seconds = max_runtime.to_seconds()
        if not 1 <= seconds <= _MAX_RUNTIME.to_seconds():
            problems.add("max_runtime", f"{seconds} s", "must be 1 second to 28 days")

    if (
        isinstance(accuracy_threshold, bool)
        or not isinstance(accuracy_threshold, int | float)
        or not (0 <= accuracy_threshold <= 1)
    ):
        problems.add("accuracy_threshold", accuracy_threshold, "must be a number from 0 to 1")
    for address in notification_emails:
        if not is_token(address) and not _EMAIL.match(address):
            problems.add("notification_emails", address, "must be an e-mail address")
    if not endpoint_poll_interval.is_unresolved() and not (
        1 <= endpoint_poll_interval.to_seconds() <= 3600
    ):
        problems.add(
            "endpoint_poll_interval",
            f"{endpoint_poll_interval.to_seconds()} s",
            "must be 1 second to 1 hour",
        )
    if not deploy_timeout.is_unresolved() and not (
        endpoint_poll_interval.is_unresolved()
        or deploy_timeout.to_seconds() >= endpoint_poll_interval.to_seconds()
    ):
        problems.add(
            "deploy_timeout",
            f"{deploy_timeout.to_seconds()} s",
            "must be at least endpoint_poll_interval",
        )

    for key, value in hyperparameters.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 256:
            problems.add("hyperparameters", key, "keys must be strings of 1 to 256 characters")
        elif key.startswith("sagemaker_"):
            problems.add(
                "hyperparameters",
                key,
                "keys starting with 'sagemaker_' are reserved for the pipeline itself",
            )
        if not isinstance(value, str | int | float):
            problems.add(f"hyperparameters[{key!r}]", value, "must be a str, int, float or bool")
        elif len(_hyperparameter_string(value)) > 2500:
            problems.add(f"hyperparameters[{key!r}]", value, "must be at most 2500 characters")
    problems.raise_if_any()
