"""The MLPipeline construct: buckets, roles and a Step Functions state machine that trains a
PyTorch model with SageMaker, checks it, registers it and deploys it to an endpoint."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import Duration, Size
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
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
from constructs import Construct

from . import _acknowledgements, _grants, _teardown, _triggers, defaults, steps
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
            refused=_triggers.changes_to_given_resources(
                data_bucket=data_bucket, retrain_on_new_data=retrain_on_new_data
            ),
        )
        self._created_data_bucket = data_bucket is None
        if state_machine_timeout is None:
            state_machine_timeout = Duration.seconds(
                2 * max_runtime.to_seconds() + deploy_timeout.to_seconds() + 3600
            )

        self.name_prefix = name_prefix
        self.data_prefix = data_prefix
        self.entry_point = entry_point

        self.encryption_key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            **self._secure(
                defaults.encryption_key_props(), encryption_key_props, "encryption_key_props"
            ),
        )
        #: Receives S3 server access logs of the buckets the pipeline creates; None when both
        #: buckets were given.
        self.access_logs_bucket: s3.IBucket | None = None
        if data_bucket is None or artifacts_bucket is None:
            self.access_logs_bucket = s3.Bucket(
                self, "AccessLogsBucket", **defaults.access_logs_bucket_props()
            )
        self.data_bucket: s3.IBucket = data_bucket or self._make_bucket(
            "DataBucket", "data-bucket/", data_bucket_props, "data_bucket_props"
        )
        self.artifacts_bucket: s3.IBucket = artifacts_bucket or self._make_bucket(
            "ArtifactsBucket", "artifacts-bucket/", artifacts_bucket_props, "artifacts_bucket_props"
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
        _grants.grant_sagemaker_role(self)
        self.failure_topic: sns.ITopic = failure_topic or sns.Topic(
            self,
            "FailureTopic",
            **self._secure(
                defaults.failure_topic_props(encryption_key=self.encryption_key),
                failure_topic_props,
                "failure_topic_props",
            ),
        )
        for address in notification_emails:
            self.failure_topic.add_subscription(subscriptions.EmailSubscription(address))

        self.vpc = vpc
        self.security_groups: list[ec2.ISecurityGroup] = list(security_groups or [])
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
            _grants.grant_vpc_access(self, vpc)

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
            training_image=self.training_image,
            metric_definitions=METRIC_DEFINITIONS,
            artifacts_bucket=self.artifacts_bucket,
            encryption_key=self.encryption_key,
            volume_size=training_volume_size,
            failure=self.failure,
            vpc=vpc,
            subnet_selection=vpc_subnets,
            security_groups=self.security_groups,
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
        _grants.allow_logs_to_use_key(self)

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
        _grants.grant_key_grants(self, self.state_machine.role)
        _teardown.accept_redundant_dependency(self.state_machine)

        _triggers.add_triggers(self, schedule=schedule, retrain_on_new_data=retrain_on_new_data)
        _triggers.notify_on_unhandled_endings(self)
        self.endpoint_teardown: cr.AwsCustomResource | None = None
        if self.deployment is not None and delete_endpoint_with_stack:
            self.endpoint_teardown = _teardown.delete_endpoint_on_stack_delete(
                self, self.deployment
            )
        _acknowledgements.acknowledge_findings(self)

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
        self,
        construct_id: str,
        log_prefix: str,
        overrides: Mapping[str, Any] | None,
        setting: str,
    ) -> s3.Bucket:
        assert self.access_logs_bucket is not None
        props = defaults.data_bucket_props(
            encryption_key=self.encryption_key,
            access_logs_bucket=self.access_logs_bucket,
            access_logs_prefix=log_prefix,
        )
        return s3.Bucket(self, construct_id, **self._secure(props, overrides, setting))

    def _secure(
        self, props: dict[str, Any], overrides: Mapping[str, Any] | None, setting: str
    ) -> dict[str, Any]:
        """``props`` with ``overrides`` laid over them; a warning names each secure default
        that an override switches off."""
        kind = {"encryption_key_props": "key", "failure_topic_props": "topic"}.get(
            setting, "bucket"
        )
        for default in defaults.switched_off(props, overrides, kind=kind):
            key = default.split("=", 1)[0]
            cdk.Annotations.of(self).add_warning_v2(
                "mlpipeline:SecureDefaultOverridden",
                f"{setting}[{key!r}]={(overrides or {})[key]!r} switches off the secure default "
                f"{default}",
            )
        return {**props, **(overrides or {})}
