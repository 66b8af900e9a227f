"""What the pipeline grants its SageMaker role and lets services do with its key; the fragments
grant the state machine what their own tasks need."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from .steps.training import CHECKPOINTS_PREFIX as _CHECKPOINTS_PREFIX
from .steps.training import MODELS_PREFIX as _MODELS_PREFIX

if TYPE_CHECKING:
    from .ml_pipeline import MLPipeline


def grant_sagemaker_role(pipeline: MLPipeline) -> None:
    stack = cdk.Stack.of(pipeline)
    role = pipeline.sagemaker_role
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
                    resource=pipeline.source_asset.s3_bucket_name,
                    resource_name=pipeline.source_asset.s3_object_key,
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
    pipeline.data_bucket.grant_read(role, f"{pipeline.data_prefix}*")
    pipeline.artifacts_bucket.grant_put(role, f"{_MODELS_PREFIX}*")
    pipeline.artifacts_bucket.grant_read(role, f"{_MODELS_PREFIX}*")
    # Spot jobs sync /opt/ml/checkpoints to checkpoints/<execution>/ and resume from it.
    pipeline.artifacts_bucket.grant_read(role, f"{_CHECKPOINTS_PREFIX}*")
    pipeline.artifacts_bucket.grant_put(role, f"{_CHECKPOINTS_PREFIX}*")
    grant_key_for_sagemaker(pipeline, role)


def grant_vpc_access(pipeline: MLPipeline, vpc: ec2.IVpc) -> None:
    # What SageMaker needs to attach jobs and models to the VPC: network interfaces in this
    # VPC only; the Describe calls have no resource-level permissions.
    stack = cdk.Stack.of(pipeline)
    principal = pipeline.sagemaker_role.grant_principal
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


def grant_key_for_sagemaker(pipeline: MLPipeline, grantee: iam.IGrantable) -> None:
    pipeline.encryption_key.grant_encrypt_decrypt(grantee)
    grant_key_grants(pipeline, grantee)


def grant_key_grants(pipeline: MLPipeline, grantee: iam.IGrantable) -> None:
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:CreateGrant", "kms:DescribeKey"],
            resources=[pipeline.encryption_key.key_arn],
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        )
    )


def allow_logs_to_use_key(pipeline: MLPipeline) -> None:
    stack = cdk.Stack.of(pipeline)
    add_to_key_policy(
        pipeline,
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
        ),
    )


def add_to_key_policy(pipeline: MLPipeline, statement: iam.PolicyStatement) -> None:
    added = pipeline.encryption_key.add_to_resource_policy(statement)
    if not added.statement_added:
        cdk.Annotations.of(pipeline).add_warning_v2(
            "mlpipeline:KeyPolicy",
            f"encryption_key is defined outside this app; its key policy must allow what "
            f"statement {statement.sid} grants: {statement.to_json()}",
        )
