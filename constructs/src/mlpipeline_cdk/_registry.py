"""The pipeline's model package group, who may read it, and the rule that deploys approvals.

Cross-account promotion follows SageMaker's cross-account model registry: the owner's group
policy lets the consumer account describe the group, describe and list its versions (the
actions and the two resources, the group's ARN and ``model-package/<group>/*``, of AWS's example
policy, https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-ram-discover.html) and
create models from them; its bucket policy lets it read the model archives and its key policy
lets it decrypt them. The consumer's own roles need the same actions on the owner's resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct

from . import steps
from ._grants import add_to_key_policy
from ._group_resource import model_package_group
from .contract import registry as contract
from .contract import run_input, run_output
from .steps.training import MODELS_PREFIX

if TYPE_CHECKING:
    from .ml_pipeline import MLPipeline
    from .registry_settings import RegistrySettings
    from .settings import ServingSettings

#: SageMaker's event on a model package's creation and approval status changes
#: (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html).
STATE_CHANGE: Final = "SageMaker Model Package State Change"
#: What a consumer account may do with the group's versions (the model package group policy of
#: SageMaker's cross-account deployment example, without UpdateModelPackage: approval stays
#: with the owner).
CONSUMER_READ_ACTIONS: Final = (
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:DescribeModelPackage",
    "sagemaker:ListModelPackages",
)


@dataclass(frozen=True)
class Registry:
    group: IConstruct
    group_name: str
    group_arn: str
    #: ``arn:...:model-package/<group>/*``: every version of the group.
    versions_arn: str
    #: ``promote_from``.
    source_group_arn: str | None
    #: The same patterns, for IAM: the versions a run may deploy.
    deployable_versions: tuple[str, ...]
    #: ARN prefixes of the versions a run may deploy (``...:model-package/<group>/``).
    deployable_prefixes: tuple[str, ...]
    #: How a message names the groups runs may deploy from.
    groups_text: str
    #: The group ``modelPackage: latest`` deploys from.
    latest_group: str


def create_group(pipeline: MLPipeline, settings: RegistrySettings) -> Registry:
    stack = cdk.Stack.of(pipeline)
    name = settings.model_package_group_name or f"{pipeline.name_prefix}-models"
    group_arn = stack.format_arn(
        service="sagemaker", resource="model-package-group", resource_name=name
    )
    prefix = stack.format_arn(service="sagemaker", resource="model-package", resource_name=name)
    group = model_package_group(
        pipeline,
        name=name,
        group_arn=group_arn,
        policy=_group_policy(stack.partition, group_arn, f"{prefix}/*", settings.consumer_accounts),
    )
    _let_consumers_read_artifacts(pipeline, settings.consumer_accounts)
    source = settings.promote_from
    source_prefix = None if source is None else _versions_prefix(source)
    prefixes = (f"{prefix}/",) + (() if source_prefix is None else (f"{source_prefix}/",))
    return Registry(
        group=group,
        group_name=name,
        group_arn=group_arn,
        versions_arn=f"{prefix}/*",
        source_group_arn=source,
        deployable_prefixes=prefixes,
        deployable_versions=tuple(f"{p}*" for p in prefixes),
        groups_text=name if source is None else f"{name} or {source}",
        latest_group=source or name,
    )


def _group_policy(partition: str, group_arn: str, versions_arn: str, accounts: Any) -> Any:
    if not accounts:
        return None
    principal = {"AWS": [f"arn:{partition}:iam::{account}:root" for account in accounts]}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ConsumersReadVersions",
                "Effect": "Allow",
                "Principal": principal,
                "Action": list(CONSUMER_READ_ACTIONS),
                "Resource": [group_arn, versions_arn],
            },
            {
                "Sid": "ConsumersCreateModelsFromVersions",
                "Effect": "Allow",
                "Principal": principal,
                "Action": ["sagemaker:CreateModel"],
                "Resource": versions_arn,
            },
        ],
    }


def _let_consumers_read_artifacts(pipeline: MLPipeline, accounts: Any) -> None:
    if not accounts:
        return
    principals = [iam.AccountPrincipal(account) for account in accounts]
    pipeline.artifacts_bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="ConsumerAccountsReadModels",
            principals=principals,
            actions=["s3:GetObject"],
            resources=[pipeline.artifacts_bucket.arn_for_objects(f"{MODELS_PREFIX}*")],
        )
    )
    add_to_key_policy(
        pipeline,
        iam.PolicyStatement(
            sid="ConsumerAccountsDecryptModels",
            principals=principals,
            actions=["kms:Decrypt"],
            resources=["*"],
            # Only through S3, as SageMaker reads a model archive.
            conditions={
                "StringEquals": {
                    "kms:ViaService": f"s3.{cdk.Stack.of(pipeline).region}.amazonaws.com"
                }
            },
        ),
    )


def _versions_prefix(group_arn: str) -> str:
    """``arn:...:model-package/<group>`` of a group's ARN."""
    return group_arn.replace(":model-package-group/", ":model-package/", 1)


def promoted_model_resources(pipeline: MLPipeline) -> tuple[str, ...]:
    """The model archives and keys of ``promote_from``'s account: any bucket's ``models/``
    prefix (the other stack names its bucket) and any key of that account and region."""
    source = pipeline.registry.source_group_arn
    if source is None:
        return ()
    _, partition, _, region, account, _ = source.split(":", 5)
    return (
        f"arn:{partition}:s3:::*/{MODELS_PREFIX}*",
        f"arn:{partition}:kms:{region}:{account}:key/*",
    )


def grant_source_reads(pipeline: MLPipeline) -> None:
    """Let the SageMaker role read and decrypt the model archives of ``promote_from``'s account,
    scoped to that account (its bucket and key are named by the other stack)."""
    source = pipeline.registry.source_group_arn
    if source is None:
        return
    region, account = source.split(":")[3:5]
    objects, keys = promoted_model_resources(pipeline)  # both, as promote_from is set
    pipeline.sagemaker_role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="ReadPromotedModels",
            actions=["s3:GetObject"],
            resources=[objects],
            conditions={"StringEquals": {"s3:ResourceAccount": account}},
        )
    )
    pipeline.sagemaker_role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="DecryptPromotedModels",
            actions=["kms:Decrypt"],
            resources=[keys],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        )
    )


def add_approval_rule(pipeline: MLPipeline, registry: Registry) -> events.Rule:
    """Deploy a version registered by a ``manual`` run once it is approved."""
    return events.Rule(
        pipeline,
        "ApprovalRule",
        description="Deploys a model version of the ML pipeline when a person approves it",
        event_pattern=events.EventPattern(
            source=["aws.sagemaker"],
            detail_type=[STATE_CHANGE],
            # The documented event (automating-sagemaker-with-eventbridge.html#eventbridge-model-
            # package) carries the package as DescribeModelPackage describes it, but its example
            # has no CustomerMetadataProperties: versions registered in automatic mode are left
            # out when the field is there, and every approval matches when it is not; the run
            # then reads the version's approval mode itself (``onApproval``).
            detail={
                "ModelPackageGroupName": [registry.group_name],
                "ModelApprovalStatus": [contract.APPROVED],
                "CustomerMetadataProperties": {
                    contract.APPROVAL_MODE: [contract.MANUAL, {"exists": False}]
                },
            },
        ),
        targets=[
            targets.SfnStateMachine(
                pipeline.state_machine,
                input=events.RuleTargetInput.from_object(
                    {
                        run_input.MODEL_PACKAGE: events.EventField.from_path(
                            "$.detail.ModelPackageArn"
                        ),
                        run_input.ON_APPROVAL: True,
                    }
                ),
            )
        ],
    )


def fragments(
    pipeline: MLPipeline,
    settings: RegistrySettings,
    serving: ServingSettings,
    environment: Mapping[str, str],
) -> tuple[steps.RegisterModel, steps.FindModelPackage]:
    """The registration after the gate, and the look-up of a version a run deploys instead."""
    registry = pipeline.registry
    # Models are created from versions: SageMaker reads the archive with the execution role.
    pipeline.artifacts_bucket.grant_read(pipeline.sagemaker_role, f"{MODELS_PREFIX}*")
    grant_source_reads(pipeline)
    registration = steps.RegisterModel(
        pipeline,
        "Registry",
        group_name=registry.group_name,
        group_arn=registry.group_arn,
        versions_arn=registry.versions_arn,
        artifacts_bucket=pipeline.artifacts_bucket,
        encryption_key=pipeline.encryption_key,
        role=pipeline.sagemaker_role,
        inference_image=pipeline.inference_image,
        environment=environment,
        content_types=settings.content_types,
        response_types=settings.response_types,
        instance_type=serving.instance_type if isinstance(serving.instance_type, str) else None,
        code_asset_hash=pipeline.source_asset.asset_hash,
        failure=pipeline.failure,
    )
    find_version = steps.FindModelPackage(
        pipeline,
        "FindVersion",
        latest_group=registry.latest_group,
        versions_arns=registry.deployable_versions,
        group_arns=tuple(a for a in (registry.group_arn, registry.source_group_arn) if a),
        failure=pipeline.failure,
    )
    return registration, find_version


def grant_state_machine(pipeline: MLPipeline) -> None:
    """What the state machine needs beyond its tasks' own grants: create models from the
    versions it may deploy (SageMaker authorizes CreateModel on the model package too, which is
    why the owner's group policy names it), and encrypt the evaluation report."""
    role = pipeline.state_machine.role
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="CreateModelsFromVersions",
            actions=["sagemaker:CreateModel"],
            resources=list(pipeline.registry.deployable_versions),
        )
    )
    pipeline.encryption_key.grant(role, "kms:GenerateDataKey")
    pipeline.state_machine.node.add_dependency(pipeline.registry.group)


def end_runs_that_deploy_nothing(
    pipeline: MLPipeline, run_output_values: Mapping[str, Any]
) -> None:
    """The outputs of a run in manual mode (``AwaitingApproval``) and of a run the approval rule
    started for a version its own run deploys (``LeftToItsRun``)."""
    awaiting = {k: v for k, v in run_output_values.items() if k in run_output.AWAITING_KEYS}
    awaiting[run_output.DEPLOYMENT_STATUS] = run_output.AWAITING_APPROVAL
    pipeline.registration.awaiting.next(
        sfn.Pass(pipeline, "RunAwaitingApproval", parameters=awaiting)
    )
    pipeline.find_version.left_to_its_run.next(
        sfn.Pass(
            pipeline,
            "RunLeftToItsRun",
            parameters={
                run_output.MODEL_PACKAGE_ARN: sfn.JsonPath.string_at("$.target.arn"),
                run_output.DEPLOYMENT_STATUS: run_output.LEFT_TO_ITS_RUN,
            },
        )
    )
