"""Acknowledge cdk-nag findings one at a time, each on the resource it concerns, with its reason."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

#: The validation plugin (cdk-nag's AwsSolutions pack) whose findings are acknowledged here.
PLUGIN = "AwsSolutions"


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge ``finding`` (e.g. ``AwsSolutions-IAM5[Action::s3:List*]``) on ``scope``.

    The acknowledgement is recorded in the cloud assembly's metadata with its reason, and only
    suppresses that finding on ``scope`` and its children.
    """
    cdk.Validations.of(scope).acknowledge(
        cdk.Acknowledgment(id=f"{PLUGIN}::{finding}", reason=reason)
    )


def default_policy(role: iam.IRole) -> IConstruct:
    """The inline policy that grants and CDK tasks add statements to."""
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is None:
        raise LookupError(f"{role.node.path} has no default policy")
    return policy


def bucket_arn_ref(bucket: s3.IBucket) -> str:
    """``<LogicalId.Arn>``, the way cdk-nag names a bucket's ARN in a finding."""
    stack = cdk.Stack.of(bucket)
    logical_id = stack.resolve(stack.get_logical_id(bucket.node.default_child))  # type: ignore[arg-type]
    return f"<{logical_id}.Arn>"
