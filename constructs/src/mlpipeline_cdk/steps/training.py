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

from ._retries import ThrottleRetry
from .failure import FailureHandler, with_defaults

#: Where SageMaker syncs ``/opt/ml/checkpoints`` in the artifacts bucket, one folder per run.
CHECKPOINTS_PREFIX: Final = "checkpoints/"
MODELS_PREFIX: Final = "models/"


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
    ) -> None:
        super().__init__(scope, construct_id)
        self.name_prefix = name_prefix
        self.role = role
        self._failure = failure
        stack = cdk.Stack.of(self)
        training_image_uri = training_image.bind(self).image_uri
        self.train = sfn.CustomState(
            self,
            "Train",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{stack.partition}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {
                    "TrainingJobName.$": f"States.Format('{{}}-{{}}', '{name_prefix}', "
                    "States.UUID())",
                    "RoleArn": role.role_arn,
                    "AlgorithmSpecification": {
                        "TrainingImage": training_image_uri,
                        "TrainingInputMode": "File",
                        "MetricDefinitions": [dict(m) for m in metric_definitions],
                    },
                    "HyperParameters.$": "$.run.hyperparameters",
                    "InputDataConfig": [
                        {
                            "ChannelName": "training",
                            "DataSource": {
                                "S3DataSource": {
                                    "S3DataType": "S3Prefix",
                                    "S3Uri.$": "$.config.trainingDataUri",
                                    "S3DataDistributionType": "FullyReplicated",
                                }
                            },
                        }
                    ],
                    "OutputDataConfig": {
                        "S3OutputPath": artifacts_bucket.s3_url_for_object(MODELS_PREFIX),
                        "KmsKeyId": encryption_key.key_arn,
                    },
                    "ResourceConfig": {
                        "InstanceType.$": "$.config.trainingInstanceType",
                        "InstanceCount.$": "$.config.trainingInstanceCount",
                        "VolumeSizeInGB": int(volume_size.to_gibibytes()),
                        "VolumeKmsKeyId": encryption_key.key_arn,
                    },
                    "StoppingCondition.$": "$.run.stoppingCondition",
                    "EnableManagedSpotTraining.$": "$.config.spot",
                    "CheckpointConfig": {
                        "S3Uri.$": "States.Format('{}{}/', "
                        f"'{artifacts_bucket.s3_url_for_object(CHECKPOINTS_PREFIX)}', "
                        "$$.Execution.Name)",
                        "LocalPath": "/opt/ml/checkpoints",
                    },
                    "Tags": [{"Key": "mlpipeline:execution", "Value.$": "$$.Execution.Id"}],
                    **_optional_parameters(
                        subnet_ids=_subnet_ids(vpc, subnet_selection),
                        security_group_ids=[g.security_group_id for g in security_groups],
                        enable_network_isolation=enable_network_isolation,
                        encrypt_inter_container_traffic=encrypt_inter_container_traffic,
                    ),
                },
                "ResultSelector": {
                    "jobName.$": "$.TrainingJobName",
                    "modelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
                    "description.$": "$",
                },
                "ResultPath": "$.training",
            },
        )
        ThrottleRetry(self, "Training", failure).add(self.train, "Train")
        self._add_failure_routes()
        if state_machine_role is not None:
            self.grant_start(state_machine_role)

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

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The training role: what the job itself may do (e.g. pull the training image)."""
        return self.role.grant_principal

    @property
    def start_state(self) -> sfn.State:
        return self.train

    @property
    def end_states(self) -> list[sfn.INextable]:
        return [self.train]


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
