"""The MLPipeline construct: buckets, roles and a Step Functions state machine that trains a
PyTorch model with SageMaker, checks it, registers it and deploys it to an endpoint."""

from __future__ import annotations

from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import Duration, Size
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from . import (
    _acknowledgements,
    _app_checks,
    _dashboard,
    _grants,
    _hooks,
    _idle_check,
    _network,
    _registry,
    _resources,
    _teardown,
    _triggers,
    serverless,
    steps,
)
from ._images import code_delivery, pipeline_images
from ._props import default_timeout, hyperparameter_string, max_runtime, validate_props
from .autoscaling import AutoscalingSettings
from .capture import CaptureSettings, capture_config
from .contract import outputs as stack_outputs
from .contract import run_input, run_output, script
from .contract.script import ACCURACY_METRIC, METRIC_DEFINITIONS
from .idle_stop import IdleStopSettings, refused
from .monitoring import MonitoringSettings
from .rollout_settings import RolloutSettings, rollout_refusals
from .settings import (
    Hook,
    HookContext,
    Hooks,
    NetworkSettings,
    NotificationSettings,
    RegistrySettings,
    ServingSettings,
    StorageSettings,
    TrainingSettings,
    TriggerSettings,
)
from .source_asset import source_dir_asset
from .steps._tuning_input import tuning_defaults
from .tuning import TuningSettings

#: Each group's defaults (frozen dataclasses, so one instance serves every pipeline).
_DEFAULT_TRAINING: Final = TrainingSettings()
_DEFAULT_SERVING: Final = ServingSettings()
_DEFAULT_STORAGE: Final = StorageSettings()
_DEFAULT_NETWORK: Final = NetworkSettings()
_DEFAULT_TRIGGERS: Final = TriggerSettings()
_DEFAULT_NOTIFICATIONS: Final = NotificationSettings()
_DEFAULT_HOOKS: Final = Hooks()
_DEFAULT_REGISTRY: Final = RegistrySettings()
_DEFAULT_MONITORING: Final = MonitoringSettings()
_DEFAULT_ROLLOUT: Final = RolloutSettings()

#: Kept for hooks written against the context: builds states from a :class:`HookContext`.
StepFactory = Hook


class MLPipeline(Construct):
    """Trains a model with a SageMaker training job, checks it, registers it and deploys it to a
    long-lived endpoint, orchestrated by a Step Functions state machine.

    Creates (unless given) a customer managed KMS key, a training-data bucket, a model-artifacts
    bucket and a server-access-log bucket, the SageMaker execution role and an SNS topic for
    failures; and a STANDARD state machine (full execution logging to an encrypted log group,
    X-Ray tracing) made of the fragments in :mod:`mlpipeline_cdk.steps`:
    :class:`~mlpipeline_cdk.steps.PrepareRun` (checks the run input) → ``hooks.before_training``
    → :class:`~mlpipeline_cdk.steps.TrainModel` → :class:`~mlpipeline_cdk.steps.EvaluateModel`
    (accuracy threshold) → ``hooks.after_evaluation`` →
    :class:`~mlpipeline_cdk.steps.RegisterModel` (a version of the pipeline's model package
    group; in ``manual`` approval mode the run ends here) →
    :class:`~mlpipeline_cdk.steps.DeployToEndpoint` (create or update, wait until in service) or
    your own ``hooks.deployment``. A run given ``modelPackage`` skips training:
    :class:`~mlpipeline_cdk.steps.FindModelPackage` → the deployment. An EventBridge rule starts
    such a run when a version registered in ``manual`` mode is approved.

    Every setting is declared once, in :mod:`mlpipeline_cdk.settings`, with its default, its
    documentation and its check; the README's tables are generated from those declarations.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source_dir: str,
        entry_point: str,
        name_prefix: str = "mlpipeline",
        sagemaker_role: iam.IRole | None = None,
        training: TrainingSettings = _DEFAULT_TRAINING,
        serving: ServingSettings = _DEFAULT_SERVING,
        storage: StorageSettings = _DEFAULT_STORAGE,
        network: NetworkSettings = _DEFAULT_NETWORK,
        triggers: TriggerSettings = _DEFAULT_TRIGGERS,
        notifications: NotificationSettings = _DEFAULT_NOTIFICATIONS,
        hooks: Hooks = _DEFAULT_HOOKS,
        registry: RegistrySettings = _DEFAULT_REGISTRY,
        state_machine_timeout: Duration | None = None,
        tuning: TuningSettings | None = None,
        monitoring: MonitoringSettings = _DEFAULT_MONITORING,
        capture: CaptureSettings | None = None,
        idle_stop: IdleStopSettings | None = None,
        autoscaling: AutoscalingSettings | None = None,
        rollout: RolloutSettings = _DEFAULT_ROLLOUT,
    ) -> None:
        """
        :param source_dir: Directory with the training and serving script; packed into a
            gzipped tar and passed to the training job as ``sagemaker_submit_directory``.
        :param entry_point: The script in ``source_dir`` that SageMaker runs and serves with
            (see :mod:`mlpipeline_cdk.contract.script`).
        :param name_prefix: Lowercase prefix of every SageMaker resource a run creates
            (``<prefix>-<uuid>``); at most 26 characters. Default: ``mlpipeline``.
        :param sagemaker_role: An existing execution role for training jobs and models; it is
            granted what the pipeline needs. Default: a role trusted by SageMaker is created.
        :param training: See :class:`~mlpipeline_cdk.settings.TrainingSettings`.
        :param serving: See :class:`~mlpipeline_cdk.settings.ServingSettings`.
        :param storage: See :class:`~mlpipeline_cdk.settings.StorageSettings`.
        :param network: See :class:`~mlpipeline_cdk.settings.NetworkSettings`.
        :param triggers: See :class:`~mlpipeline_cdk.settings.TriggerSettings`.
        :param notifications: See :class:`~mlpipeline_cdk.settings.NotificationSettings`.
        :param hooks: See :class:`~mlpipeline_cdk.settings.Hooks`; each hook receives a
            :class:`~mlpipeline_cdk.settings.HookContext`.
        :param registry: See :class:`~mlpipeline_cdk.settings.RegistrySettings`.
        :param state_machine_timeout: Overall limit of one execution. Default: max_runtime times
            two (spot may wait), times the waves of trials when tuning, plus the deploy timeout
            plus one hour.
        :param tuning: See :class:`~mlpipeline_cdk.tuning.TuningSettings`. Default: no tuning,
            every run trains one job.
        :param monitoring: See :class:`~mlpipeline_cdk.monitoring.MonitoringSettings`.
        :param capture: See :class:`~mlpipeline_cdk.capture.CaptureSettings`. Default: none.
        :param idle_stop: See :class:`~mlpipeline_cdk.idle_stop.IdleStopSettings`. Default: off.
        :param autoscaling: See :class:`~mlpipeline_cdk.autoscaling.AutoscalingSettings`.
            Default: no autoscaling, the endpoint keeps ``serving.instance_count`` instances.
        :param rollout: See :class:`~mlpipeline_cdk.rollout_settings.RolloutSettings`.
        """
        super().__init__(scope, construct_id)
        # Deliver server access logs under a bucket policy rather than the legacy ACL, whatever
        # the consuming app's feature flags say (context set here applies to this subtree only).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        groups = {
            "training": training,
            "serving": serving,
            "storage": storage,
            "network": network,
            "triggers": triggers,
            "notifications": notifications,
            "hooks": hooks,
            "registry": registry,
            **({"tuning": tuning} if tuning is not None else {}),
            "monitoring": monitoring,
            **({"capture": capture} if capture is not None else {}),
            **({"idle_stop": idle_stop} if idle_stop is not None else {}),
            **({"autoscaling": autoscaling} if autoscaling is not None else {}),
            "rollout": rollout,
        }
        validate_props(
            source_dir=source_dir,
            entry_point=entry_point,
            name_prefix=name_prefix,
            groups=groups,
            refused={
                **_triggers.changes_to_given_resources(storage=storage, triggers=triggers),
                **serverless.serverless_problems(groups),
                **refused(idle_stop, own_deployment=hooks.deployment is None),
                **rollout_refusals(groups),
            },
            sagemaker_role=sagemaker_role,
            state_machine_timeout=state_machine_timeout,
        )
        self.name_prefix = name_prefix
        self.data_prefix = storage.data_prefix
        self.entry_point = entry_point
        self._created_data_bucket = storage.data_bucket is None

        stored = _resources.key_and_buckets(self, storage)
        self.encryption_key: kms.IKey = stored.encryption_key
        #: Receives S3 server access logs of the buckets the pipeline creates; None when both
        #: buckets were given.
        self.access_logs_bucket: s3.IBucket | None = stored.access_logs_bucket
        self.data_bucket: s3.IBucket = stored.data_bucket
        self.artifacts_bucket: s3.IBucket = stored.artifacts_bucket
        self.source_asset: s3_assets.Asset = source_dir_asset(
            self, "SourceDir", source_dir=source_dir
        )
        self.sagemaker_role: iam.IRole = _resources.sagemaker_role(self, sagemaker_role)
        _grants.grant_sagemaker_role(self)
        self.failure_topic: sns.ITopic = _resources.failure_topic(
            self, notifications, self.encryption_key
        )
        self._create_network(network)
        self._create_images(training, serving)
        self.registry = _registry.create_group(self, registry)
        #: Where failures go: set ``$.error`` and continue at ``failure.entry``, or use
        #: ``failure.catch(state)`` / ``failure.reject(...)`` in your own steps.
        self.failure = steps.FailureHandler(self, "Failure", topic=self.failure_topic)
        self.hook_context = HookContext(
            scope=self,
            data_bucket=self.data_bucket,
            artifacts_bucket=self.artifacts_bucket,
            role=self.sagemaker_role,
            encryption_key=self.encryption_key,
            failure=self.failure,
            name_prefix=name_prefix,
            data_prefix=storage.data_prefix,
        )
        self.tuning_settings = tuning
        self.monitoring_settings = monitoring
        self.capture_settings = capture
        self.autoscaling_settings = autoscaling
        self.rollout_settings = None if hooks.deployment else rollout
        self._create_fragments(training, serving, network, hooks, registry)
        self._create_state_machine(training, serving, hooks, state_machine_timeout)
        self.dashboard = _dashboard.add_dashboard(self, training.accuracy_threshold)

        _triggers.add_triggers(
            self, schedule=triggers.schedule, retrain_on_new_data=triggers.retrain_on_new_data
        )
        _triggers.notify_on_unhandled_endings(self)
        #: Starts a run that deploys a version registered in ``manual`` mode once it is approved.
        self.approval_rule = _registry.add_approval_rule(self, self.registry)
        self.endpoint_teardown: cr.AwsCustomResource | None = None
        if self.deployment is not None and serving.delete_endpoint_with_stack:
            self.endpoint_teardown = _teardown.delete_endpoint_on_stack_delete(
                self, self.deployment
            )
        self.idle_check = _idle_check.add(self, idle_stop)  # idle_stop; None when off
        _app_checks.refuse_shared_endpoints(self)
        _acknowledgements.acknowledge_findings(self)

    # --- the steps of the constructor ----------------------------------------------------------

    def _create_network(self, network: NetworkSettings) -> None:
        self.vpc = network.vpc
        self.security_groups: list[ec2.ISecurityGroup] = _network.security_groups(self, network)

    def _create_images(self, training: TrainingSettings, serving: ServingSettings) -> None:
        images = pipeline_images(self, training, serving)
        self.training_image = images.training
        #: What GPU instance types train on (None when ``training.image`` was given).
        self.gpu_training_image = images.gpu_training
        self.inference_image = images.serving

    def _create_fragments(
        self,
        training: TrainingSettings,
        serving: ServingSettings,
        network: NetworkSettings,
        hooks: Hooks,
        registry: RegistrySettings,
    ) -> None:
        data_uri = self.data_bucket.s3_url_for_object(self.data_prefix)
        submit_directory, code_uri = code_delivery(
            self.source_asset, isolated=network.enable_network_isolation
        )
        self.prepare = steps.PrepareRun(
            self,
            "Prepare",
            defaults=steps.RunDefaults(
                training_instance_type=training.instance_type,
                training_instance_count=training.instance_count,
                training_data_uri=data_uri,
                max_runtime_seconds=int(max_runtime(training).to_seconds()),
                spot=training.spot,
                accuracy_threshold=training.accuracy_threshold,
                approval=registry.approval,
                hyperparameters={
                    k: hyperparameter_string(v) for k, v in training.hyperparameters.items()
                },
                reserved_hyperparameters=script.training_hyperparameters(
                    entry_point=self.entry_point,
                    submit_directory=submit_directory,
                    region=cdk.Stack.of(self).region,
                ),
                tuning=tuning_defaults(self.tuning_settings, training.hyperparameters),
                rollout=self.rollout_settings.as_input() if self.rollout_settings else None,
            ),
            allowed_data_uri_prefix=data_uri,
            failure=self.failure,
            model_package_prefixes=self.registry.deployable_prefixes,
            model_package_groups=self.registry.groups_text,
        )
        self.training = steps.TrainModel(
            self,
            "Training",
            name_prefix=self.name_prefix,
            role=self.sagemaker_role,
            training_image=self.training_image,
            gpu_training_image=self.gpu_training_image,
            code_uri=code_uri,
            metric_definitions=METRIC_DEFINITIONS,
            artifacts_bucket=self.artifacts_bucket,
            encryption_key=self.encryption_key,
            volume_size=training.volume_size or Size.gibibytes(30),
            failure=self.failure,
            vpc=network.vpc,
            subnet_selection=network.vpc_subnets,
            security_groups=self.security_groups,
            enable_network_isolation=network.enable_network_isolation,
            encrypt_inter_container_traffic=network.encrypt_inter_container_traffic,
            tuning=self.tuning_settings,
        )
        self.evaluation = steps.EvaluateModel(
            self, "Evaluation", metric_name=ACCURACY_METRIC, failure=self.failure
        )
        environment = script.serving_environment(
            entry_point=self.entry_point, region=cdk.Stack.of(self).region
        )
        self.registration, self.find_version = _registry.fragments(
            self, registry, serving, environment
        )
        #: The default deployment, or None when ``hooks.deployment`` replaced it.
        self.deployment: steps.DeployToEndpoint | None = None
        #: The endpoint runs deploy to, or None when ``hooks.deployment`` replaced it.
        self.endpoint_name: str | None = None
        if hooks.deployment is not None:
            self._deploy = _hooks.build(hooks, "deployment", self.hook_context)
            return
        self.endpoint_name = serving.endpoint_name or f"{self.name_prefix}-endpoint"
        self.deployment = steps.DeployToEndpoint(
            self,
            "Deployment",
            name_prefix=self.name_prefix,
            endpoint_name=self.endpoint_name,
            role=self.sagemaker_role,
            encryption_key=self.encryption_key,
            instance_type=serving.instance_type,
            instance_count=serving.instance_count,
            poll_interval=serving.poll_interval,
            deploy_timeout=serving.deploy_timeout,
            failure=self.failure,
            vpc=network.vpc,
            subnet_selection=network.vpc_subnets,
            security_groups=self.security_groups,
            enable_network_isolation=network.enable_network_isolation,
            serverless_config=serverless.variant_config(serving.serverless),
            data_capture_config=capture_config(self, self.capture_settings),
            autoscaling=self.autoscaling_settings,
            rollout=self.rollout_settings,
        )
        self._deploy = self.deployment

    def _run_output(self) -> dict[str, str | list[str] | int | float]:
        output: dict[str, Any] = {
            run_output.TRAINING_JOB_NAME: sfn.JsonPath.string_at("$.training.jobName"),
            run_output.MODEL_ARTIFACTS: sfn.JsonPath.string_at("$.training.modelArtifacts"),
            run_output.METRICS: sfn.JsonPath.list_at("$.training.metrics"),
            run_output.ACCURACY: sfn.JsonPath.number_at("$.evaluation.accuracy"),
            run_output.ACCURACY_THRESHOLD: sfn.JsonPath.number_at("$.evaluation.threshold"),
            run_output.MODEL_PACKAGE_ARN: sfn.JsonPath.string_at("$.modelPackage.arn"),
            run_output.MODEL_PACKAGE_VERSION: sfn.JsonPath.number_at("$.modelPackage.version"),
            run_output.APPROVAL_STATUS: sfn.JsonPath.string_at("$.modelPackage.status"),
        }
        if self.deployment is not None:
            output.update(self.deployment.run_output())
        return output

    def _create_state_machine(
        self,
        training: TrainingSettings,
        serving: ServingSettings,
        hooks: Hooks,
        timeout: Duration | None,
    ) -> None:
        succeeded = sfn.Pass(self, "RunSucceeded", parameters=self._run_output())
        self.log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            encryption_key=self.encryption_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        _grants.allow_logs_to_use_key(self)

        context = self.hook_context
        train: sfn.Chain = sfn.Chain.start(self.training)
        if hooks.before_training is not None:
            train = sfn.Chain.start(_hooks.build(hooks, "before_training", context)).next(train)
        train = _dashboard.after_evaluation(self, train.next(self.evaluation))
        if hooks.after_evaluation is not None:
            train = train.next(_hooks.build(hooks, "after_evaluation", context))
        route = sfn.Choice(self, "TrainOrDeployVersion")
        route.when(
            sfn.Condition.string_equals(f"$.config.{run_input.MODEL_PACKAGE}", ""),
            train.next(self.registration),
        ).otherwise(self.find_version)
        _registry.end_runs_that_deploy_nothing(self, self._run_output())
        deploy = sfn.Chain.start(self._deploy).next(succeeded)
        self.registration.next(deploy)
        self.find_version.next(deploy)
        definition = sfn.Chain.start(self.prepare).next(route)
        if timeout is None:
            timeout = default_timeout(training, serving, self.tuning_settings)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=True,
            ),
            comment="Train a model with SageMaker, check it, and deploy it",
        )
        self.training.grant_start(self.state_machine)
        for statement in self.deployment.policy_statements if self.deployment else ():
            self.state_machine.add_to_role_policy(statement)
        _registry.grant_state_machine(self)
        # The endpoint configuration's volume is encrypted with the pipeline key; SageMaker
        # creates a grant on it on behalf of the caller of CreateEndpoint.
        _grants.grant_key_grants(self, self.state_machine.role)
        _teardown.accept_redundant_dependency(self.state_machine)

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
            stack_outputs.MODEL_PACKAGE_GROUP_NAME: self.registry.group_name,
        }
        if self.endpoint_name is not None:
            values[stack_outputs.ENDPOINT_NAME] = self.endpoint_name
        values.update(_dashboard.outputs(self))
        target = scope or cdk.Stack.of(self)
        return {
            key: cdk.CfnOutput(target, key, value=value, description=stack_outputs.OUTPUTS[key])
            for key, value in values.items()
        }

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start runs and follow them: list this state machine's executions,
        describe them and read their history."""
        return _grants.grant_start_execution(self, grantee)

    def grant_write_training_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` put objects under the data prefix (encrypting with the key)."""
        return _grants.grant_write_training_data(self, grantee)

    def grant_read_model_artifacts(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read the model archives training jobs wrote."""
        return _grants.grant_read_model_artifacts(self, grantee)

    def grant_invoke_endpoint(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` call InvokeEndpoint on the pipeline's endpoint."""
        if self.deployment is None:
            raise ValueError("this pipeline has no endpoint: its deployment was replaced")
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint"],
            resource_arns=[self.deployment.endpoint_arn],
        )
