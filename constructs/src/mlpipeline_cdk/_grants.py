"""What the pipeline grants its SageMaker role and lets services do with its key; the fragments
grant the state machine what their own tasks need."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from .nag import acknowledge, finding_resource
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
        stack = cdk.Stack.of(pipeline)
        rendered = _pasteable(stack, stack.resolve(statement.to_statement_json()))
        placeholders = sorted(set(re.findall(r"<[A-Za-z0-9:.]+>", rendered)))
        fill_in = (
            f"; replace the placeholders {', '.join(placeholders)} with the values of those "
            "pseudo parameters where the stack is deployed (its account, region, partition, "
            "URL suffix)"
            if placeholders
            else ""
        )
        cdk.Annotations.of(pipeline).add_warning_v2(
            "mlpipeline:KeyPolicy",
            f"encryption_key is defined outside this app; add this statement "
            f"({statement.sid}) to its key policy{fill_in}: {rendered}",
        )


def _pasteable(stack: cdk.Stack, value: Any) -> str:
    """A resolved policy statement as JSON for a key policy: pseudo parameters filled in where
    the stack's environment tells them, ``<AWS::Region>``-style placeholders where not."""
    known: dict[str, str | None] = {"AWS::AccountId": stack.account, "AWS::Region": stack.region}
    if not cdk.Token.is_unresolved(stack.region):
        facts = cdk.region_info.RegionInfo.get(stack.region)
        known.update({"AWS::Partition": facts.partition, "AWS::URLSuffix": facts.domain_suffix})

    def fill(node: Any) -> Any:
        if isinstance(node, list):
            return [fill(item) for item in node]
        if not isinstance(node, dict):
            return node
        value = known.get(node["Ref"]) if set(node) == {"Ref"} else None
        if value is not None and not cdk.Token.is_unresolved(value):
            return value
        if set(node) == {"Fn::Join"}:
            separator, parts = node["Fn::Join"]
            return str(separator).join(str(fill(part)) for part in parts)
        if len(node) == 1 and next(iter(node)) in ("Ref", "Fn::GetAtt"):
            return finding_resource(stack, stack.resolve(node))
        return {key: fill(item) for key, item in node.items()}

    return json.dumps(fill(value))


def grant_start_execution(pipeline: MLPipeline, grantee: iam.IGrantable) -> iam.Grant:
    stack = cdk.Stack.of(pipeline)
    state_machine = pipeline.state_machine
    executions = stack.format_arn(
        service="states",
        resource="execution",
        resource_name=f"{state_machine.state_machine_name}:*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    acknowledge_grant(
        grantee,
        lambda: iam.Grant.add_to_principal(
            grantee=grantee,
            # DescribeStateMachineForExecution: the definition a run started with, which
            # `mlpipeline watch` reads to show its steps. Its resource type is the execution
            # (Service Authorization Reference, "Actions defined by AWS Step Functions").
            actions=[
                "states:DescribeExecution",
                "states:DescribeStateMachineForExecution",
                "states:GetExecutionHistory",
            ],
            resource_arns=[executions],
        ),
        "Executions of the pipeline's state machine are named at start; the wildcard covers "
        "this state machine's executions only",
    )
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["states:DescribeStateMachine", "states:ListExecutions"],
        resource_arns=[state_machine.state_machine_arn],
    )
    return state_machine.grant_start_execution(grantee)


def acknowledge_grant(
    grantee: iam.IGrantable, grant: Callable[[], iam.Grant], reason: str
) -> iam.Grant:
    """Make ``grant`` and acknowledge the cdk-nag AwsSolutions-IAM5 findings it added to the
    grantee's policies, on those policies, whatever kind of grantable it was (a role, a user, a
    group, a Lambda function, ...): statements of related grants (the bucket key's, beside a
    bucket grant) included. Findings the policies had before are left alone."""
    before = {policy.node.path: _wildcards(policy) for policy in _policies(grantee)}
    granted = grant()
    for policy in _policies(grantee):
        for finding in sorted(_wildcards(policy) - before.get(policy.node.path, set())):
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
    return granted


def _policies(grantee: iam.IGrantable) -> list[iam.Policy]:
    scope = getattr(grantee.grant_principal, "node", None)
    return [c for c in scope.children if isinstance(c, iam.Policy)] if scope else []


def _wildcards(policy: iam.Policy) -> set[str]:
    """The findings of AwsSolutions-IAM5 in ``policy``, named as the rule names them: each
    action and each flattened resource with a ``*`` of an Allow statement (cdklabs/cdk-nag
    src/rules/iam/IAMNoWildcardPermissions.ts)."""
    document = cdk.Stack.of(policy).resolve(policy.document) or {}
    found: set[str] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action")):
            found.update([f"Action::{action}"] if "*" in action else [])
        for resource in (finding_resource(policy, r) for r in _as_list(statement.get("Resource"))):
            found.update([f"Resource::{resource}"] if "*" in resource else [])
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def grant_write_training_data(pipeline: MLPipeline, grantee: iam.IGrantable) -> iam.Grant:
    return acknowledge_grant(
        grantee,
        lambda: pipeline.data_bucket.grant_put(grantee, f"{pipeline.data_prefix}*"),
        "Granted by MLPipeline.grant_write_training_data: objects under the pipeline's "
        "training-data prefix (their names are the data set's), s3:Abort* to clean up an "
        "interrupted multipart upload, and data keys of the key that encrypts the bucket",
    )


def grant_read_model_artifacts(pipeline: MLPipeline, grantee: iam.IGrantable) -> iam.Grant:
    return acknowledge_grant(
        grantee,
        lambda: pipeline.artifacts_bucket.grant_read(grantee, f"{_MODELS_PREFIX}*"),
        "Granted by MLPipeline.grant_read_model_artifacts: Bucket.grant_read's read-only "
        "object and bucket actions on the models/ prefix, where each training job writes "
        "models/<job name>/ under a name generated per run",
    )
