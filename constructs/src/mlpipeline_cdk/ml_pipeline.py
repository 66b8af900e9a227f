"""The MLPipeline construct: buckets, roles and a Step Functions state machine that trains a
PyTorch model with SageMaker, registers it as a SageMaker model and deploys it to an endpoint."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import aws_cdk as cdk
from aws_cdk import Duration, Size
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from . import defaults
from ._nag import acknowledge, bucket_arn_ref, default_policy
from ._s3_location import ScopedS3Location
from ._validation import Problems, is_token
from .dlc_images import (
    PYTORCH_INFERENCE_REPOSITORY,
    PYTORCH_INFERENCE_TAG,
    PYTORCH_TRAINING_REPOSITORY,
    PYTORCH_TRAINING_TAG,
    dlc_image,
)
from .metrics import METRIC_DEFINITIONS
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
#: Where training jobs write their model archives in the artifacts bucket.
_MODELS_PREFIX: Final = "models/"


class MLPipeline(Construct):
    """Trains a model with a SageMaker training job, registers it and deploys it to an endpoint,
    orchestrated by a Step Functions state machine.

    Creates a customer managed KMS key, a training-data bucket, a model-artifacts bucket and a
    server-access-log bucket, the SageMaker execution role, and a STANDARD state machine that
    runs ``Train`` (``createTrainingJob.sync``) → ``CreateModel`` → ``CreateEndpointConfig`` →
    ``CreateEndpoint``, with full execution logging to an encrypted log group and X-Ray tracing.
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
        inference_instance_type: str = "ml.m5.large",
        inference_instance_count: int = 1,
        training_image: tasks.DockerImage | None = None,
        inference_image: tasks.DockerImage | None = None,
        state_machine_timeout: Duration | None = None,
    ) -> None:
        """
        :param source_dir: Directory with the training and serving script; packed into a
            gzipped tar and passed to the training job as ``sagemaker_submit_directory``.
        :param entry_point: The script in ``source_dir`` that SageMaker runs, e.g. ``mnist.py``.
            It also serves the model (``SAGEMAKER_PROGRAM``), so it must copy itself to
            ``$SM_MODEL_DIR/code/``.
        :param hyperparameters: Passed to the script as ``--name value`` arguments. Default: none,
            the script's own defaults apply.
        :param name_prefix: Lowercase prefix of every SageMaker resource a run creates
            (``<prefix>-<uuid>``); at most 26 characters. Default: ``mlpipeline``.
        :param endpoint_name: Name of the endpoint the pipeline deploys to. Default:
            ``<name_prefix>-endpoint``.
        :param data_prefix: Key prefix of the training data in the data bucket. Default:
            ``training-data/``.
        :param training_instance_type: Default: ``ml.m5.xlarge``.
        :param training_instance_count: More than one runs distributed training. Default: 1.
        :param training_volume_size: Storage attached to each training instance. Default: 30 GiB.
        :param max_runtime: Training job's stopping condition. Default: 2 hours.
        :param inference_instance_type: Default: ``ml.m5.large``.
        :param inference_instance_count: Default: 1.
        :param training_image: Default: the SageMaker PyTorch training Deep Learning Container of
            the stack's region (CPU).
        :param inference_image: Default: the SageMaker PyTorch inference Deep Learning Container
            of the stack's region (CPU).
        :param state_machine_timeout: Overall limit of one execution. Default: 6 hours.
        """
        super().__init__(scope, construct_id)
        # Deliver server access logs under a bucket policy rather than the legacy ACL, whatever
        # the consuming app's feature flags say (context set here applies to this subtree only).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        training_volume_size = training_volume_size or Size.gibibytes(30)
        max_runtime = max_runtime or Duration.hours(2)
        state_machine_timeout = state_machine_timeout or Duration.hours(6)
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
            inference_instance_type=inference_instance_type,
            inference_instance_count=inference_instance_count,
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

        self.training_image = training_image or dlc_image(
            self, "TrainingRepository", PYTORCH_TRAINING_REPOSITORY, PYTORCH_TRAINING_TAG
        )
        self.inference_image = inference_image or dlc_image(
            self, "InferenceRepository", PYTORCH_INFERENCE_REPOSITORY, PYTORCH_INFERENCE_TAG
        )

        self.train_task = self._make_training_task(
            hyperparameters=hyperparameters,
            instance_type=training_instance_type,
            instance_count=training_instance_count,
            volume_size=training_volume_size,
            max_runtime=max_runtime,
        )
        self.create_model_task = self._make_create_model_task()
        self.create_endpoint_config_task = self._make_endpoint_config_task(
            instance_type=inference_instance_type, instance_count=inference_instance_count
        )
        self.create_endpoint_task = tasks.SageMakerCreateEndpoint(
            self,
            "CreateEndpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=sfn.JsonPath.string_at("$.endpointConfig.name"),
            result_path="$.endpoint",
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
            self.train_task.next(self.create_model_task)
            .next(self.create_endpoint_config_task)
            .next(self.create_endpoint_task)
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
            comment="Train a model with SageMaker, register it and deploy it to an endpoint",
        )
        # The endpoint configuration's volume is encrypted with the pipeline key; SageMaker
        # creates a grant on it on behalf of the caller of CreateEndpoint.
        self._grant_key_grants(self.state_machine.role)
        # The state machine depends on its role twice, by GetAtt and by the explicit DependsOn
        # that aws-cdk-lib adds (so the role's policy exists first); cfn-lint's W3005 flags the
        # redundancy, which is harmless.
        state_machine_resource = self.state_machine.node.default_child
        assert isinstance(state_machine_resource, cdk.CfnResource)
        state_machine_resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        self._acknowledge_findings()

    # --- resources -------------------------------------------------------------------------

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

    def _make_training_task(
        self,
        *,
        hyperparameters: Mapping[str, HyperparameterValue],
        instance_type: str,
        instance_count: int,
        volume_size: Size,
        max_runtime: Duration,
    ) -> tasks.SageMakerCreateTrainingJob:
        stack = cdk.Stack.of(self)
        all_hyperparameters = {
            **{key: _hyperparameter_string(value) for key, value in hyperparameters.items()},
            "sagemaker_program": self.entry_point,
            "sagemaker_submit_directory": self.source_asset.s3_object_url,
            "sagemaker_region": stack.region,
            "sagemaker_container_log_level": "20",
        }
        return tasks.SageMakerCreateTrainingJob(
            self,
            "Train",
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            training_job_name=sfn.JsonPath.format("{}-{}", self.name_prefix, sfn.JsonPath.uuid()),
            role=self.sagemaker_role,
            algorithm_specification=tasks.AlgorithmSpecification(
                training_image=self.training_image,
                training_input_mode=tasks.InputMode.FILE,
                metric_definitions=[
                    tasks.MetricDefinition(name=m["Name"], regex=m["Regex"])
                    for m in METRIC_DEFINITIONS
                ],
            ),
            hyperparameters=all_hyperparameters,
            input_data_config=[
                tasks.Channel(
                    channel_name="training",
                    data_source=tasks.DataSource(
                        s3_data_source=tasks.S3DataSource(
                            s3_location=ScopedS3Location(self.data_bucket, self.data_prefix),
                            s3_data_type=tasks.S3DataType.S3_PREFIX,
                            s3_data_distribution_type=tasks.S3DataDistributionType.FULLY_REPLICATED,
                        )
                    ),
                )
            ],
            output_data_config=tasks.OutputDataConfig(
                s3_output_location=ScopedS3Location(self.artifacts_bucket, _MODELS_PREFIX),
                encryption_key=self.encryption_key,
            ),
            resource_config=tasks.ResourceConfig(
                instance_count=instance_count,
                instance_type=ec2.InstanceType(instance_type.removeprefix("ml.")),
                volume_size=volume_size,
                volume_encryption_key=self.encryption_key,
            ),
            stopping_condition=tasks.StoppingCondition(max_runtime=max_runtime),
            result_selector={
                "name": sfn.JsonPath.string_at("$.TrainingJobName"),
                "modelArtifacts": sfn.JsonPath.string_at("$.ModelArtifacts.S3ModelArtifacts"),
            },
            result_path="$.training",
        )

    def _make_create_model_task(self) -> tasks.SageMakerCreateModel:
        stack = cdk.Stack.of(self)
        return tasks.SageMakerCreateModel(
            self,
            "CreateModel",
            model_name=sfn.JsonPath.format("{}-{}", self.name_prefix, sfn.JsonPath.uuid()),
            role=self.sagemaker_role,
            primary_container=tasks.ContainerDefinition(
                image=self.inference_image,
                model_s3_location=ScopedS3Location(
                    self.artifacts_bucket,
                    _MODELS_PREFIX,
                    uri=sfn.JsonPath.string_at("$.training.modelArtifacts"),
                ),
                environment_variables=sfn.TaskInput.from_object(
                    {
                        "SAGEMAKER_PROGRAM": self.entry_point,
                        "SAGEMAKER_SUBMIT_DIRECTORY": _SERVING_CODE_DIR,
                        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                        "SAGEMAKER_REGION": stack.region,
                    }
                ),
            ),
            # SageMaker ARNs carry the name in lowercase; names here are lowercase by design, so
            # the name is the ARN's last segment.
            result_selector={
                "arn": sfn.JsonPath.string_at("$.ModelArn"),
                "name": sfn.JsonPath.array_get_item(
                    sfn.JsonPath.string_split(sfn.JsonPath.string_at("$.ModelArn"), "/"), 1
                ),
            },
            result_path="$.model",
        )

    def _make_endpoint_config_task(
        self, *, instance_type: str, instance_count: int
    ) -> tasks.SageMakerCreateEndpointConfig:
        return tasks.SageMakerCreateEndpointConfig(
            self,
            "CreateEndpointConfig",
            endpoint_config_name=sfn.JsonPath.format(
                "{}-{}", self.name_prefix, sfn.JsonPath.uuid()
            ),
            kms_key=self.encryption_key,
            production_variants=[
                tasks.ProductionVariant(
                    model_name=sfn.JsonPath.string_at("$.model.name"),
                    variant_name="AllTraffic",
                    instance_type=ec2.InstanceType(instance_type.removeprefix("ml.")),
                    initial_instance_count=instance_count,
                    initial_variant_weight=1,
                )
            ],
            result_selector={
                "arn": sfn.JsonPath.string_at("$.EndpointConfigArn"),
                "name": sfn.JsonPath.array_get_item(
                    sfn.JsonPath.string_split(sfn.JsonPath.string_at("$.EndpointConfigArn"), "/"),
                    1,
                ),
            },
            result_path="$.endpointConfig",
        )

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
            f"Resource::{sagemaker_arn}:training-job/*": "Training job names are generated per "
            "execution (<name_prefix>-<uuid>); policy written by the CDK SageMaker task",
            f"Resource::{sagemaker_arn}:model/*": "Model names are generated per execution "
            "(<name_prefix>-<uuid>); policy written by the CDK SageMaker task",
            f"Resource::{sagemaker_arn}:endpoint-config/*": "Endpoint configuration names are "
            "generated per execution (<name_prefix>-<uuid>); policy written by the CDK "
            "SageMaker task",
            "Resource::*": "X-Ray trace submission, CloudWatch Logs log delivery and "
            "sagemaker:ListTags have no resource-level permissions",
        }.items():
            acknowledge(state_machine_policy, f"AwsSolutions-IAM5[{finding}]", reason)


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
    inference_instance_type: str,
    inference_instance_count: int,
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
        not _SAGEMAKER_NAME.match(endpoint_name) or len(endpoint_name) > SAGEMAKER_NAME_MAX
    ):
        problems.add(
            "endpoint_name",
            endpoint_name,
            f"must be 1 to {SAGEMAKER_NAME_MAX} characters of letters, digits and hyphens, "
            "starting and ending with a letter or digit",
        )
    if not is_token(data_prefix) and (data_prefix.startswith("/") or ".." in data_prefix):
        problems.add("data_prefix", data_prefix, "must be a key prefix without a leading '/'")

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
