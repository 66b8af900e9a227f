"""The model package group as a CloudFormation resource, or, in the regions whose CloudFormation
does not offer ``AWS::SageMaker::ModelPackageGroup``, as a custom resource that calls SageMaker.

The regions come from AWS's CloudFormation resource specification per region, as cfn-lint ships
it (``cfnlint/data/schemas/providers/<region>.json``); a test keeps the list equal to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import custom_resources as cr
from constructs import IConstruct

from ._teardown import custom_resource_role

if TYPE_CHECKING:
    from .ml_pipeline import MLPipeline

#: Regions whose CloudFormation has no ``AWS::SageMaker::ModelPackageGroup``.
REGIONS_WITHOUT_GROUP_TYPE: Final = frozenset(
    {
        "ap-east-2",
        "ap-south-2",
        "ap-southeast-4",
        "ap-southeast-6",
        "cn-north-1",
        "cn-northwest-1",
        "us-gov-east-1",
    }
)
DESCRIPTION: Final = (
    "Every model of the ML pipeline that passed its evaluation gate, with its lineage and "
    "evaluation report"
)


def model_package_group(
    pipeline: MLPipeline, *, name: str, group_arn: str, policy: dict[str, Any] | None
) -> IConstruct:
    """The group (retained when the stack is deleted: its versions are the record of what was
    trained and served)."""
    region = cdk.Stack.of(pipeline).region
    if cdk.Token.is_unresolved(region) or region not in REGIONS_WITHOUT_GROUP_TYPE:
        group = sagemaker.CfnModelPackageGroup(
            pipeline,
            "ModelPackageGroup",
            model_package_group_name=name,
            model_package_group_description=DESCRIPTION,
            model_package_group_policy=policy,
        )
        group.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
        return group
    return _created_by_api(pipeline, name=name, group_arn=group_arn, policy=policy)


def _created_by_api(
    pipeline: MLPipeline, *, name: str, group_arn: str, policy: dict[str, Any] | None
) -> IConstruct:
    actions = ["sagemaker:CreateModelPackageGroup"]
    if policy is not None:
        actions.append("sagemaker:PutModelPackageGroupPolicy")
    role, log_group = custom_resource_role(
        pipeline, "creates the ML pipeline's model package group where CloudFormation cannot"
    )
    on_create = cr.AwsSdkCall(
        service="SageMaker",
        action="createModelPackageGroup",
        parameters={"ModelPackageGroupName": name, "ModelPackageGroupDescription": DESCRIPTION},
        physical_resource_id=cr.PhysicalResourceId.of(name),
    )
    # No on_delete: the group is kept, like the CloudFormation resource's RETAIN.
    group = cr.AwsCustomResource(
        pipeline,
        "ModelPackageGroup",
        on_create=on_create,
        policy=cr.AwsCustomResourcePolicy.from_statements(
            [iam.PolicyStatement(actions=actions, resources=[group_arn])]
        ),
        role=role,
        log_group=log_group,
        install_latest_aws_sdk=False,
        resource_type="Custom::ModelPackageGroup",
    )
    if policy is not None:
        put_policy = cr.AwsSdkCall(
            service="SageMaker",
            action="putModelPackageGroupPolicy",
            parameters={
                "ModelPackageGroupName": name,
                "ResourcePolicy": cdk.Stack.of(pipeline).to_json_string(policy),
            },
            physical_resource_id=cr.PhysicalResourceId.of(f"{name}-policy"),
        )
        group_policy = cr.AwsCustomResource(
            pipeline,
            "ModelPackageGroupPolicy",
            on_create=put_policy,
            on_update=put_policy,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=actions, resources=[group_arn])]
            ),
            role=role,
            log_group=log_group,
            install_latest_aws_sdk=False,
            resource_type="Custom::ModelPackageGroupPolicy",
        )
        group_policy.node.add_dependency(group)
    return group
