"""Run a SageMaker training job and wait for it (``createTrainingJob.sync``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import aws_cdk as cdk
import jsii
from aws_cdk import Size
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ..contract.run_input import INVALID_INPUT
from ..instance_types import arm_types, gpu_types, local_storage_types
from ..tuning import TuningSettings
from ._retries import ThrottleRetry
from ._tuning import TuningBranch
from .failure import FailureHandler, with_defaults

#: Where SageMaker syncs ``/opt/ml/checkpoints`` in the artifacts bucket, one folder per run.
CHECKPOINTS_PREFIX: Final = "checkpoints/"
MODELS_PREFIX: Final = "models/"
#: The tag that links a training job to its run: the SHA-256 (hex) of the execution ARN.
#: An execution name may hold characters SageMaker's tag values refuse (``( ) ! '``, symbols;
#: botocore ``TagValue`` pattern ``[\p{L}\p{Z}\p{N}_.:/=+\-@]*``), a hex digest never does.
EXECUTION_TAG: Final = "mlpipeline:execution-arn-sha256"
#: The input channel that carries the code archive when the job runs network-isolated.
CODE_CHANNEL: Final = "code"


@jsii.implements(tasks.ISageMakerTask)
class TrainModel(sfn.StateMachineFragment):
    """Runs one training job from ``$.config`` and ``$.run`` and waits for it to end.

    With ``vpc`` the job runs in the ``subnet_selection`` subnets of it (default: its private
    subnets) with ``security_groups``; network isolation and inter-container traffic encryption
    are off unless asked for. ``role`` is granted pulls of ``training_image`` (the fragment is
    the image's user, as a CDK SageMaker task would be).

    Written as the raw ``createTrainingJob.sync`` task, because it takes per-run values the CDK
    task cannot (instance type and count, data URI, spot capacity with checkpoints) — so its IAM is
    written here too, scoped to jobs named ``<name_prefix>-*``.

    On success ``$.training`` holds ``jobName``, ``modelArtifacts`` and ``description`` (the
    DescribeTrainingJob result, read by :class:`EvaluateModel`). A failed or stopped job, or a
    failed call, goes to ``failure`` with a cause naming the job and SageMaker's FailureReason.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        role: iam.IRole,
        training_image: tasks.DockerImage,
        metric_definitions: Sequence[Mapping[str, str]],
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        volume_size: Size,
        failure: FailureHandler,
        vpc: ec2.IVpc | None = None,
        subnet_selection: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] = (),
        enable_network_isolation: bool = False,
        encrypt_inter_container_traffic: bool = False,
        state_machine_role: iam.IGrantable | None = None,
        gpu_training_image: tasks.DockerImage | None = None,
        code_uri: str | None = None,
        tuning: TuningSettings | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name_prefix = name_prefix
        self.role = role
        self._failure = failure
        stack = cdk.Stack.of(self)
        self._choose_resources(
            encryption_key=encryption_key,
            volume_size=volume_size,
            training_image=training_image,
            gpu_training_image=gpu_training_image,
        )
        channels: list[dict[str, object]] = [
            _s3_channel("training", {"S3Uri.$": "$.config.trainingDataUri"})
        ]
        if code_uri is not None:
            # Under network isolation the container cannot fetch sagemaker_submit_directory from
            # S3; SageMaker delivers the archive as the "code" channel, as the SageMaker Python
            # SDK does for isolated jobs (src/sagemaker/estimator.py, Framework:
            # code_channel_name "code", CONTAINER_CODE_CHANNEL_SOURCEDIR_PATH).
            channels.append(_s3_channel(CODE_CHANNEL, {"S3Uri": code_uri}))
        # What a training job and every trial of a tuning job share.
        definition = {
            "RoleArn": role.role_arn,
            "AlgorithmSpecification": {
                "TrainingImage.$": "$.trainingResources.image",
                "TrainingInputMode": "File",
                "MetricDefinitions": [dict(m) for m in metric_definitions],
            },
            "InputDataConfig": channels,
            "OutputDataConfig": {
                "S3OutputPath": artifacts_bucket.s3_url_for_object(MODELS_PREFIX),
                "KmsKeyId": encryption_key.key_arn,
            },
            "ResourceConfig.$": "$.trainingResources.resourceConfig",
            "StoppingCondition.$": "$.run.stoppingCondition",
            "EnableManagedSpotTraining.$": "$.config.spot",
            **_optional_parameters(
                subnet_ids=_subnet_ids(vpc, subnet_selection),
                security_group_ids=[g.security_group_id for g in security_groups],
                enable_network_isolation=enable_network_isolation,
                encrypt_inter_container_traffic=encrypt_inter_container_traffic,
            ),
        }
        tags = [{"Key": EXECUTION_TAG, "Value.$": "States.Hash($$.Execution.Id, 'SHA-256')"}]
        self.train = sfn.CustomState(
            self,
            "Train",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{stack.partition}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": _in_order(
                    {
                        "TrainingJobName.$": f"States.Format('{{}}-{{}}', '{name_prefix}', "
                        "States.UUID())",
                        **definition,
                        "HyperParameters.$": "$.run.hyperparameters",
                        "CheckpointConfig": {
                            "S3Uri.$": "States.Format('{}{}/', "
                            f"'{artifacts_bucket.s3_url_for_object(CHECKPOINTS_PREFIX)}', "
                            "$$.Execution.Name)",
                            "LocalPath": "/opt/ml/checkpoints",
                        },
                        "Tags": tags,
                    }
                ),
                "ResultSelector": {
                    "jobName.$": "$.TrainingJobName",
                    "modelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
                    "description.$": "$",
                },
                "ResultPath": "$.training",
            },
        )
        ThrottleRetry(self, "Training", failure).add(self.train, "Train")
        #: The tuning job's states, when the pipeline tunes.
        self.tuning: TuningBranch | None = None
        if tuning is None:
            self._choose_image.next(self.train)
        else:
            # No CheckpointConfig for trials: the request has one for all of them, and parallel
            # trials resuming from each other's checkpoints would mix their hyperparameters.
            self.tuning = TuningBranch(
                self,
                "Tuning",
                settings=tuning,
                name_prefix=name_prefix,
                job_definition=definition,
                tags=tags,
                failure=failure,
            )
            self._choose_image.next(
                sfn.Choice(self, "TrainOrTune")
                .when(
                    sfn.Condition.boolean_equals("$.config.tuning.enabled", True),
                    self.tuning.start,
                )
                .otherwise(self.train)
            )
        self._add_failure_routes()
        if state_machine_role is not None:
            self.grant_start(state_machine_role)

    def _choose_resources(
        self,
        *,
        encryption_key: kms.IKey,
        volume_size: Size,
        training_image: tasks.DockerImage,
        gpu_training_image: tasks.DockerImage | None,
    ) -> None:
        """States that write ``$.trainingResources``: the ``ResourceConfig`` and the image for
        the run's instance type, which comes from the run input.

        Types with local instance storage get no ``VolumeKmsKeyId``: "Local storage volumes are
        encrypted using a hardware module on the instance. You can't request a VolumeKmsKeyId
        when using an instance type with local storage" (CreateTrainingJob, ResourceConfig;
        botocore's sagemaker service model). GPU types train on ``gpu_training_image`` when given.
        """
        classify = sfn.Pass(
            self,
            "ListInstanceTypeClasses",
            parameters={
                "localStorage": list(local_storage_types()),
                "gpu": list(gpu_types()),
                "arm": list(arm_types()),
            },
            result_path="$.trainingResources",
        )
        resources = {
            "InstanceType.$": "$.config.trainingInstanceType",
            "InstanceCount.$": "$.config.trainingInstanceCount",
            "VolumeSizeInGB": int(volume_size.to_gibibytes()),
        }
        classified = sfn.Pass(
            self,
            "ClassifyInstanceType",
            parameters={
                "localStorage": sfn.JsonPath.array_contains(
                    sfn.JsonPath.list_at("$.trainingResources.localStorage"),
                    sfn.JsonPath.string_at("$.config.trainingInstanceType"),
                ),
                "gpu": sfn.JsonPath.array_contains(
                    sfn.JsonPath.list_at("$.trainingResources.gpu"),
                    sfn.JsonPath.string_at("$.config.trainingInstanceType"),
                ),
                "arm": sfn.JsonPath.array_contains(
                    sfn.JsonPath.list_at("$.trainingResources.arm"),
                    sfn.JsonPath.string_at("$.config.trainingInstanceType"),
                ),
            },
            result_path="$.trainingResources",
        )
        storage = sfn.Choice(self, "ChooseVolumeEncryption")
        instance_storage = sfn.Pass(
            self,
            "UseInstanceStorage",
            parameters=dict(resources),
            result_path="$.trainingResources.resourceConfig",
        )
        encrypted_volume = sfn.Pass(
            self,
            "UseEncryptedVolume",
            parameters={**resources, "VolumeKmsKeyId": encryption_key.key_arn},
            result_path="$.trainingResources.resourceConfig",
        )
        cpu_image = sfn.Pass(
            self,
            "UseTrainingImage",
            parameters={"uri": training_image.bind(self).image_uri},
            result_path="$.trainingResources.imageChoice",
        )
        self._choose_image: sfn.INextable = sfn.Pass(
            self,
            "TrainingResourcesChosen",
            parameters={
                "resourceConfig": sfn.JsonPath.object_at("$.trainingResources.resourceConfig"),
                "image": sfn.JsonPath.string_at("$.trainingResources.imageChoice.uri"),
            },
            result_path="$.trainingResources",
        )
        classify.next(classified)
        if gpu_training_image is None:
            classified.next(storage)
        else:
            # The default images are x86_64 only; a type with Arm CPUs needs the user's image.
            architecture = sfn.Choice(self, "CheckImageArchitecture")
            architecture.when(
                sfn.Condition.boolean_equals("$.trainingResources.arm", True),
                self._failure.reject(
                    self,
                    "RejectArmInstanceType",
                    error=INVALID_INPUT,
                    cause=sfn.JsonPath.format(
                        "trainingInstanceType {} has Arm CPUs, and the default training images "
                        "are built for x86_64: choose another type, or pass an arm64 image as "
                        "training.image",
                        sfn.JsonPath.string_at("$.config.trainingInstanceType"),
                    ),
                ),
            ).otherwise(storage)
            classified.next(architecture)
        storage.when(
            sfn.Condition.boolean_equals("$.trainingResources.localStorage", True),
            instance_storage,
        ).otherwise(encrypted_volume)
        if gpu_training_image is None:
            instance_storage.next(cpu_image)
            encrypted_volume.next(cpu_image)
        else:
            image = sfn.Choice(self, "ChooseTrainingImage")
            gpu_image = sfn.Pass(
                self,
                "UseGpuTrainingImage",
                parameters={"uri": gpu_training_image.bind(self).image_uri},
                result_path="$.trainingResources.imageChoice",
            )
            instance_storage.next(image)
            encrypted_volume.next(image)
            image.when(
                sfn.Condition.boolean_equals("$.trainingResources.gpu", True), gpu_image
            ).otherwise(cpu_image)
            gpu_image.next(self._choose_image)
        cpu_image.next(self._choose_image)
        self._start: sfn.State = classify

    def _add_failure_routes(self) -> None:
        # A job that ran and failed comes back as States.TaskFailed with the job's description
        # (JSON) as the cause; anything else (a refused request) keeps its own error and cause.
        explain = sfn.Choice(self, "ExplainTrainingFailure")
        read_job = with_defaults(
            self,
            prepare_id="PrepareTrainingFailure",
            read_id="ReadFailedTrainingJob",
            defaults={"FailureReason": "SageMaker gave no reason", "TrainingJobStatus": "Failed"},
            defaults_path="$.jobDefaults",
            value=sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.error.Cause")),
            key="job",
            result_path="$.failedJob",
        )
        describe = self._failure.reject(
            self,
            "TrainingJobFailed",
            error="TrainingJobFailed",
            cause=sfn.JsonPath.format(
                "training job {} ended {}: {}",
                sfn.JsonPath.string_at("$.failedJob.job.TrainingJobName"),
                sfn.JsonPath.string_at("$.failedJob.job.TrainingJobStatus"),
                sfn.JsonPath.string_at("$.failedJob.job.FailureReason"),
            ),
        )
        explain.when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.error.Error", "States.TaskFailed"),
                sfn.Condition.string_matches("$.error.Cause", "{*"),
            ),
            read_job.next(describe),
        ).otherwise(self._failure.entry)
        self.train.add_catch(explain, errors=["States.ALL"], result_path="$.error")

    def grant_start(self, grantee: iam.IGrantable) -> None:
        """What Step Functions needs to run this task's ``createTrainingJob.sync``."""
        stack = cdk.Stack.of(self)
        jobs = stack.format_arn(
            service="sagemaker", resource="training-job", resource_name=f"{self.name_prefix}-*"
        )
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RunTrainingJobs",
                actions=[
                    "sagemaker:AddTags",
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                ],
                resources=[jobs],
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ListTrainingJobTags",
                actions=["sagemaker:ListTags"],
                resources=["*"],
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassTrainingRole",
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="FollowTrainingJobEvents",
                actions=["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                resources=[
                    stack.format_arn(
                        service="events",
                        resource="rule",
                        resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule",
                    )
                ],
            )
        )
        if self.tuning is not None:
            self.tuning.grant_start(grantee, self.role)

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The training role: what the job itself may do (e.g. pull the training image)."""
        return self.role.grant_principal

    @property
    def start_state(self) -> sfn.State:
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        if self.tuning is not None:
            return [self.train, self.tuning.describe_best]
        return [self.train]


#: The order of the training job's request fields in the definition, as written before tuning
#: shared them (a stable definition keeps the template's snapshot unchanged).
_FIELD_ORDER: Final = (
    "TrainingJobName.$",
    "RoleArn",
    "AlgorithmSpecification",
    "HyperParameters.$",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig.$",
    "StoppingCondition.$",
    "EnableManagedSpotTraining.$",
    "CheckpointConfig",
    "Tags",
)


def _in_order(parameters: Mapping[str, object]) -> dict[str, object]:
    first = {k: parameters[k] for k in _FIELD_ORDER if k in parameters}
    return {**first, **{k: v for k, v in parameters.items() if k not in first}}


def _s3_channel(name: str, uri: Mapping[str, str]) -> dict[str, object]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                **uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }


def _optional_parameters(
    *,
    subnet_ids: Sequence[str],
    security_group_ids: Sequence[str],
    enable_network_isolation: bool,
    encrypt_inter_container_traffic: bool,
) -> dict[str, object]:
    parameters: dict[str, object] = {}
    if subnet_ids:
        parameters["VpcConfig"] = {
            "Subnets": list(subnet_ids),
            "SecurityGroupIds": list(security_group_ids),
        }
    if enable_network_isolation:
        parameters["EnableNetworkIsolation"] = True
    if encrypt_inter_container_traffic:
        parameters["EnableInterContainerTrafficEncryption"] = True
    return parameters


def _subnet_ids(vpc: ec2.IVpc | None, selection: ec2.SubnetSelection | None) -> list[str]:
    if vpc is None:
        return []
    chosen = selection or ec2.SubnetSelection()
    return vpc.select_subnets(
        availability_zones=chosen.availability_zones,
        one_per_az=chosen.one_per_az,
        subnet_filters=chosen.subnet_filters,
        subnet_group_name=chosen.subnet_group_name,
        subnets=chosen.subnets,
        subnet_type=chosen.subnet_type,
    ).subnet_ids
