"""The MLPipeline construct: buckets, roles and a Step Functions state machine that trains a
PyTorch model with SageMaker, checks it, registers it and deploys it to an endpoint."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import aws_cdk as cdk
import jsii
from aws_cdk import Duration, Size
from aws_cdk import aws_ec2 as ec2
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
from ._props import HyperparameterValue, hyperparameter_string, validate_props
from .contract import outputs as stack_outputs
from .contract import run_output, script
from .contract.script import ACCURACY_METRIC, METRIC_DEFINITIONS
from .dlc_images import (
    PYTORCH_INFERENCE_REPOSITORY,
    PYTORCH_INFERENCE_TAG,
    PYTORCH_TRAINING_REPOSITORY,
    PYTORCH_TRAINING_TAG,
    dlc_image,
)
from .nag import acknowledge, finding_resource, policies_of
from .source_asset import source_dir_asset

#: Builds states to put into the pipeline's state machine, given the pipeline (its buckets,
#: roles, key and :attr:`MLPipeline.failure` are ready when it is called).
StepFactory = Callable[["MLPipeline"], sfn.IChainable]

_MODELS_PREFIX: Final = steps.training.MODELS_PREFIX
_CHECKPOINTS_PREFIX: Final = steps.training.CHECKPOINTS_PREFIX


class MLPipeline(Construct):
    """Trains a model with a SageMaker training job, checks it, registers it and deploys it to a
    long-lived endpoint, orchestrated by a Step Functions state machine.

    Creates (unless given) a customer managed KMS key, a training-data bucket, a model-artifacts
    bucket and a server-access-log bucket, the SageMaker execution role and an SNS topic for
    failures; and a STANDARD state machine (full execution logging to an encrypted log group,
    X-Ray tracing) made of the fragments in :mod:`mlpipeline_cdk.steps`:
    :class:`~mlpipeline_cdk.steps.PrepareRun` (checks the run input) → ``before_training`` →
    :class:`~mlpipeline_cdk.steps.TrainModel` → :class:`~mlpipeline_cdk.steps.EvaluateModel`
    (accuracy threshold) → ``after_evaluation`` → :class:`~mlpipeline_cdk.steps.DeployToEndpoint`
    (create or update, wait until in service) or your own ``deployment``.
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
        data_bucket: s3.IBucket | None = None,
        data_bucket_props: Mapping[str, Any] | None = None,
        data_prefix: str = "training-data/",
        artifacts_bucket: s3.IBucket | None = None,
        artifacts_bucket_props: Mapping[str, Any] | None = None,
        encryption_key: kms.IKey | None = None,
        encryption_key_props: Mapping[str, Any] | None = None,
        sagemaker_role: iam.IRole | None = None,
        failure_topic: sns.ITopic | None = None,
        failure_topic_props: Mapping[str, Any] | None = None,
        notification_emails: Sequence[str] = (),
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        enable_network_isolation: bool = False,
        encrypt_inter_container_traffic: bool = False,
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
        before_training: StepFactory | None = None,
        after_evaluation: StepFactory | None = None,
        deployment: StepFactory | None = None,
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
        :param data_bucket: An existing bucket with the training data; it is granted to the
            SageMaker role (read, under ``data_prefix``). Default: a bucket is created with
            :func:`mlpipeline_cdk.defaults.data_bucket_props`.
        :param data_bucket_props: ``s3.Bucket`` keyword arguments laid over those defaults for
            the created data bucket. Not with ``data_bucket``.
        :param data_prefix: Key prefix of the training data in the data bucket; a run's
            ``trainingDataUri`` must lie under it. Default: ``training-data/``.
        :param artifacts_bucket: An existing bucket for model artifacts and checkpoints (written
            under ``models/`` and ``checkpoints/``). Default: a bucket is created like the data
            bucket.
        :param artifacts_bucket_props: ``s3.Bucket`` keyword arguments for the created artifacts
            bucket. Not with ``artifacts_bucket``.
        :param encryption_key: An existing KMS key for the created buckets, the logs, the
            failure topic, training volumes, model artifacts and the endpoint's volume. Its key
            policy must let CloudWatch Logs and EventBridge use it when it is not defined in this
            app (the pipeline adds those statements to keys it can change). Default: a key is
            created, with yearly rotation, retained.
        :param encryption_key_props: ``kms.Key`` keyword arguments for the created key. Not
            with ``encryption_key``.
        :param sagemaker_role: An existing execution role for training jobs and models; it is
            granted what the pipeline needs. Default: a role trusted by SageMaker is created.
        :param failure_topic: An existing SNS topic for failures. Default: a topic encrypted
            with the pipeline key, refusing plain HTTP, is created.
        :param failure_topic_props: ``sns.Topic`` keyword arguments for the created topic. Not
            with ``failure_topic``.
        :param notification_emails: Addresses subscribed to the failure topic (each must confirm
            the subscription). Default: none.
        :param vpc: Run training jobs and the model in this VPC. Default: SageMaker's network.
        :param vpc_subnets: Subnets of ``vpc`` to use. Default: the VPC's private subnets.
        :param security_groups: Security groups of the jobs and the model. Default: one is
            created that lets the training instances reach each other (distributed training).
        :param enable_network_isolation: No network access from the training and serving
            containers (data and model still move through SageMaker). Default: off.
        :param encrypt_inter_container_traffic: Encrypt traffic between training instances in
            distributed training. Default: off (it slows training down).
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
        :param before_training: Builds states run after the input is checked and before
            training (e.g. data processing). Default: none.
        :param after_evaluation: Builds states run after the model passed evaluation and before
            deployment (e.g. an approval or a model registry entry). Default: none.
        :param deployment: Builds states that replace the endpoint deployment (e.g. a batch
            transform); then no endpoint is created or deleted with the stack. Default: deploy
            to ``endpoint_name``.
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

        validate_props(
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
            pairs={
                "data_bucket": (data_bucket, data_bucket_props),
                "artifacts_bucket": (artifacts_bucket, artifacts_bucket_props),
                "encryption_key": (encryption_key, encryption_key_props),
                "failure_topic": (failure_topic, failure_topic_props),
            },
            bucket_props={
                "data_bucket_props": data_bucket_props,
                "artifacts_bucket_props": artifacts_bucket_props,
            },
            vpc_given=vpc is not None,
            vpc_options={"vpc_subnets": vpc_subnets, "security_groups": security_groups},
        )
        if state_machine_timeout is None:
            state_machine_timeout = Duration.seconds(
                2 * max_runtime.to_seconds() + deploy_timeout.to_seconds() + 3600
            )

        self.name_prefix = name_prefix
        self.data_prefix = data_prefix
        self.entry_point = entry_point

        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self, "Key", **{**defaults.encryption_key_props(), **(encryption_key_props or {})}
        )
        #: Receives S3 server access logs of the buckets the pipeline creates; None when both
        #: buckets were given.
        self.access_logs_bucket: s3.IBucket | None = None
        if data_bucket is None or artifacts_bucket is None:
            self.access_logs_bucket = s3.Bucket(
                self, "AccessLogsBucket", **defaults.access_logs_bucket_props()
            )
        self.data_bucket: s3.IBucket = data_bucket or self._make_bucket(
            "DataBucket", "data-bucket/", data_bucket_props
        )
        self.artifacts_bucket: s3.IBucket = artifacts_bucket or self._make_bucket(
            "ArtifactsBucket", "artifacts-bucket/", artifacts_bucket_props
        )
        self.source_asset: s3_assets.Asset = source_dir_asset(
            self, "SourceDir", source_dir=source_dir
        )
        self.sagemaker_role: iam.IRole = sagemaker_role or iam.Role(
            self,
            "SageMakerRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="Execution role of the pipeline's training jobs and models",
        )
        self._grant_sagemaker_role()
        self.failure_topic: sns.ITopic = failure_topic or sns.Topic(
            self,
            "FailureTopic",
            **{
                "master_key": self.encryption_key,
                "enforce_ssl": True,
                "display_name": "ML pipeline failures",
                **(failure_topic_props or {}),
            },
        )
        for address in notification_emails:
            self.failure_topic.add_subscription(subscriptions.EmailSubscription(address))

        self.vpc = vpc
        self.security_groups: list[ec2.ISecurityGroup] = list(security_groups or [])
        subnet_ids: list[str] = []
        if vpc is not None:
            if not self.security_groups:
                group = ec2.SecurityGroup(
                    self,
                    "SecurityGroup",
                    vpc=vpc,
                    description="ML pipeline training jobs and model",
                    allow_all_outbound=True,
                )
                # Distributed training: the instances of a job talk to each other.
                group.connections.allow_internally(
                    ec2.Port.all_traffic(), "between the instances of a training job"
                )
                self.security_groups.append(group)
            selection = vpc_subnets or ec2.SubnetSelection()
            subnet_ids = vpc.select_subnets(
                availability_zones=selection.availability_zones,
                one_per_az=selection.one_per_az,
                subnet_filters=selection.subnet_filters,
                subnet_group_name=selection.subnet_group_name,
                subnets=selection.subnets,
                subnet_type=selection.subnet_type,
            ).subnet_ids
            self._grant_vpc_access(vpc)

        self.training_image = training_image or dlc_image(
            self, "TrainingRepository", PYTORCH_TRAINING_REPOSITORY, PYTORCH_TRAINING_TAG
        )
        self.inference_image = inference_image or dlc_image(
            self, "InferenceRepository", PYTORCH_INFERENCE_REPOSITORY, PYTORCH_INFERENCE_TAG
        )

        #: Where failures go: set ``$.error`` and continue at ``failure.entry``, or use
        #: ``failure.catch(state)`` / ``failure.reject(...)`` in your own steps.
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
                hyperparameters={k: hyperparameter_string(v) for k, v in hyperparameters.items()},
                reserved_hyperparameters=script.training_hyperparameters(
                    entry_point=entry_point,
                    submit_directory=self.source_asset.s3_object_url,
                    region=cdk.Stack.of(self).region,
                ),
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
            subnet_ids=subnet_ids,
            security_group_ids=[g.security_group_id for g in self.security_groups],
            enable_network_isolation=enable_network_isolation,
            encrypt_inter_container_traffic=encrypt_inter_container_traffic,
        )
        self.evaluation = steps.EvaluateModel(
            self, "Evaluation", metric_name=ACCURACY_METRIC, failure=self.failure
        )
        #: The default deployment, or None when ``deployment`` replaced it.
        self.deployment: steps.DeployToEndpoint | None = None
        #: The endpoint runs deploy to, or None when ``deployment`` replaced the deployment.
        self.endpoint_name: str | None = None
        output = {
            run_output.TRAINING_JOB_NAME: sfn.JsonPath.string_at("$.training.jobName"),
            run_output.MODEL_ARTIFACTS: sfn.JsonPath.string_at("$.training.modelArtifacts"),
            run_output.METRICS: sfn.JsonPath.list_at("$.training.metrics"),
            run_output.ACCURACY: sfn.JsonPath.number_at("$.evaluation.accuracy"),
            run_output.ACCURACY_THRESHOLD: sfn.JsonPath.number_at("$.evaluation.threshold"),
        }
        if deployment is None:
            self.endpoint_name = endpoint_name
            self.deployment = steps.DeployToEndpoint(
                self,
                "Deployment",
                name_prefix=name_prefix,
                endpoint_name=endpoint_name,
                role=self.sagemaker_role,
                inference_image=self.inference_image,
                environment=script.serving_environment(
                    entry_point=entry_point, region=cdk.Stack.of(self).region
                ),
                artifacts_bucket=self.artifacts_bucket,
                encryption_key=self.encryption_key,
                instance_type=inference_instance_type,
                instance_count=inference_instance_count,
                poll_interval=endpoint_poll_interval,
                deploy_timeout=deploy_timeout,
                failure=self.failure,
                vpc=vpc,
                subnet_selection=vpc_subnets,
                security_groups=self.security_groups,
                enable_network_isolation=enable_network_isolation,
            )
            deploy: sfn.IChainable = self.deployment
            output.update(
                {
                    run_output.MODEL_NAME: sfn.JsonPath.string_at("$.model.name"),
                    run_output.ENDPOINT_CONFIG_NAME: sfn.JsonPath.string_at(
                        "$.endpointConfig.name"
                    ),
                    run_output.ENDPOINT_NAME: sfn.JsonPath.string_at("$.endpoint.EndpointName"),
                    run_output.ENDPOINT_STATUS: sfn.JsonPath.string_at("$.endpoint.EndpointStatus"),
                }
            )
        else:
            deploy = deployment(self)
        succeeded = sfn.Pass(self, "RunSucceeded", parameters=output)

        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            encryption_key=self.encryption_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self._allow_logs_to_use_key()

        definition = sfn.Chain.start(self.prepare)
        if before_training is not None:
            definition = definition.next(before_training(self))
        definition = definition.next(self.training).next(self.evaluation)
        if after_evaluation is not None:
            definition = definition.next(after_evaluation(self))
        definition = definition.next(deploy).next(succeeded)
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
            comment="Train a model with SageMaker, check it, and deploy it",
        )
        self.training.grant_start(self.state_machine)
        # The endpoint configuration's volume is encrypted with the pipeline key; SageMaker
        # creates a grant on it on behalf of the caller of CreateEndpoint.
        self._grant_key_grants(self.state_machine.role)
        _accept_redundant_dependency(self.state_machine)

        self._add_triggers(schedule=schedule, retrain_on_new_data=retrain_on_new_data)
        self._notify_on_unhandled_endings()
        self.endpoint_teardown: cr.AwsCustomResource | None = None
        if self.deployment is not None and delete_endpoint_with_stack:
            self.endpoint_teardown = self._delete_endpoint_on_stack_delete(self.deployment)
        self._acknowledge_findings()

    # --- what other teams call -----------------------------------------------------------------

    def add_outputs(self, scope: Construct | None = None) -> dict[str, cdk.CfnOutput]:
        """Export what the operator tool (``mlpipeline``) and people need, under the names of
        :mod:`mlpipeline_cdk.contract.outputs`, as outputs of ``scope`` (default: this
        pipeline's stack). ``EndpointName`` only when the pipeline deploys to its endpoint."""
        values: dict[str, str] = {
            stack_outputs.STATE_MACHINE_ARN: self.state_machine.state_machine_arn,
            stack_outputs.DATA_BUCKET_NAME: self.data_bucket.bucket_name,
            stack_outputs.DATA_PREFIX: self.data_prefix,
            stack_outputs.ARTIFACTS_BUCKET_NAME: self.artifacts_bucket.bucket_name,
        }
        if self.endpoint_name is not None:
            values[stack_outputs.ENDPOINT_NAME] = self.endpoint_name
        target = scope or cdk.Stack.of(self)
        return {
            key: cdk.CfnOutput(target, key, value=value, description=stack_outputs.OUTPUTS[key])
            for key, value in values.items()
        }

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start runs and follow them: list this state machine's executions,
        describe them and read their history."""
        stack = cdk.Stack.of(self)
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine.state_machine_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["states:DescribeExecution", "states:GetExecutionHistory"],
            resource_arns=[executions],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["states:DescribeStateMachine", "states:ListExecutions"],
            resource_arns=[self.state_machine.state_machine_arn],
        )
        if isinstance(grantee, iam.Role):
            for policy in policies_of(grantee):
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[Resource::{finding_resource(self, executions)}]",
                    "Executions of the pipeline's state machine are named at start; the "
                    "wildcard covers this state machine's executions only",
                )
        return self.state_machine.grant_start_execution(grantee)

    def grant_write_training_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` put objects under the data prefix (encrypting with the key)."""
        return self.data_bucket.grant_put(grantee, f"{self.data_prefix}*")

    def grant_read_model_artifacts(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read the model archives training jobs wrote."""
        return self.artifacts_bucket.grant_read(grantee, f"{_MODELS_PREFIX}*")

    def grant_invoke_endpoint(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` call InvokeEndpoint on the pipeline's endpoint."""
        if self.deployment is None:
            raise ValueError("this pipeline has no endpoint: its deployment was replaced")
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint"],
            resource_arns=[self.deployment.endpoint_arn],
        )

    # --- resources -----------------------------------------------------------------------------

    def _make_bucket(
        self, construct_id: str, log_prefix: str, overrides: Mapping[str, Any] | None
    ) -> s3.Bucket:
        assert self.access_logs_bucket is not None
        props = defaults.data_bucket_props(
            encryption_key=self.encryption_key,
            access_logs_bucket=self.access_logs_bucket,
            access_logs_prefix=log_prefix,
        )
        return s3.Bucket(self, construct_id, **{**props, **(overrides or {})})

    def _grant_sagemaker_role(self) -> None:
        stack = cdk.Stack.of(self)
        role = self.sagemaker_role
        # The training code object alone, not the whole bootstrap assets bucket.
        role.add_to_principal_policy(
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
        role.add_to_principal_policy(
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
        role.add_to_principal_policy(
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

    def _grant_vpc_access(self, vpc: ec2.IVpc) -> None:
        # What SageMaker needs to attach jobs and models to the VPC: network interfaces in this
        # VPC only; the Describe calls have no resource-level permissions.
        stack = cdk.Stack.of(self)
        principal = self.sagemaker_role.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DescribeNetwork",
                actions=[
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                ],
                resources=["*"],
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ManageNetworkInterfacesInVpc",
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=["*"],
                conditions={
                    "ArnEquals": {
                        "ec2:Vpc": stack.format_arn(
                            service="ec2", resource="vpc", resource_name=vpc.vpc_id
                        )
                    }
                },
            )
        )

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
        self._add_to_key_policy(
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

    def _add_to_key_policy(self, statement: iam.PolicyStatement) -> None:
        added = self.encryption_key.add_to_resource_policy(statement)
        if not added.statement_added:
            cdk.Annotations.of(self).add_warning_v2(
                "mlpipeline:KeyPolicy",
                f"encryption_key is defined outside this app; its key policy must allow what "
                f"statement {statement.sid} grants: {statement.to_json()}",
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
        self._add_to_key_policy(
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

    def _delete_endpoint_on_stack_delete(
        self, deployment: steps.DeployToEndpoint
    ) -> cr.AwsCustomResource:
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
                parameters={"EndpointName": deployment.endpoint_name},
                # Nothing to delete when no run ever deployed.
                ignore_error_codes_matching="ValidationException",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["sagemaker:DeleteEndpoint"],
                        resources=[deployment.endpoint_arn],
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
        data = finding_resource(self, self.data_bucket.bucket_arn)
        artifacts = finding_resource(self, self.artifacts_bucket.bucket_arn)
        stack = cdk.Stack.of(self)
        # Written from the same ARNs as the policies, so they match whether the stack's account
        # and region are known at synth time or not.
        logs_arn = finding_resource(
            self,
            stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name="/aws/sagemaker/*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            ),
        ).removesuffix(":/aws/sagemaker/*")
        no_resource_level = [
            "ecr:GetAuthorizationToken has no resource-level permissions",
            "cloudwatch:PutMetricData has none either (limited here by a cloudwatch:namespace "
            "condition to /aws/sagemaker/*)",
        ]
        if self.vpc is not None:
            no_resource_level.append(
                "the EC2 Describe calls SageMaker makes to attach to the VPC have none, and "
                "network interface changes are limited to the VPC by an ec2:Vpc condition"
            )
        sagemaker_findings = {
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
            f"Resource::{data}/{self.data_prefix}*": "Training jobs read every object under the "
            "training-data prefix; object names are the data set's",
            f"Resource::{artifacts}/{_MODELS_PREFIX}*": "Each training job writes under "
            "models/<job name>/, and job names are generated per execution",
            f"Resource::{artifacts}/{_CHECKPOINTS_PREFIX}*": "Training jobs sync their "
            "checkpoints under checkpoints/<execution name>/, one folder per run",
            f"Resource::{logs_arn}:/aws/sagemaker/*": "SageMaker writes to "
            "/aws/sagemaker/TrainingJobs and /aws/sagemaker/Endpoints/<endpoint name>, created "
            "on first use",
            f"Resource::{logs_arn}:/aws/sagemaker/*:log-stream:*": "One log stream per training "
            "instance or endpoint instance, named by SageMaker at run time",
            "Resource::*": "; ".join(no_resource_level),
        }
        for policy in policies_of(self.sagemaker_role):
            for finding, reason in sagemaker_findings.items():
                acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)

        sagemaker_arn = finding_resource(
            self, stack.format_arn(service="sagemaker", resource="x", resource_name="y")
        ).removesuffix(":x/y")
        state_machine_findings = {
            f"Resource::{sagemaker_arn}:training-job/{self.name_prefix}-*": "Training job names "
            "are generated per attempt as <name_prefix>-<uuid>; limited to that prefix",
            "Resource::*": "X-Ray trace submission, CloudWatch Logs log delivery and "
            "sagemaker:ListTags have no resource-level permissions",
        }
        if self.deployment is not None:
            state_machine_findings.update(
                {
                    f"Resource::{sagemaker_arn}:model/*": "Model names are generated per "
                    "execution (<name_prefix>-<uuid>); policy written by the CDK SageMaker task",
                    f"Resource::{sagemaker_arn}:endpoint-config/*": "Endpoint configuration "
                    "names are generated per execution (<name_prefix>-<uuid>); policy written "
                    "by the CDK SageMaker task",
                }
            )
        for policy in policies_of(self.state_machine.role):
            for finding, reason in state_machine_findings.items():
                acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)


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
