"""Acknowledge cdk-nag findings one at a time, each on the resource it concerns, with its reason.

Public so that stacks built on the library acknowledge their own findings the same way: one
finding, one resource, one reason, written from the same ARNs the policies use.
"""

from __future__ import annotations

import json
from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import IConstruct

#: The validation plugin (cdk-nag's AwsSolutions pack) whose findings are acknowledged here.
PLUGIN: Final = "AwsSolutions"


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge ``finding`` (e.g. ``AwsSolutions-IAM5[Action::s3:List*]``) on ``scope``.

    The acknowledgement is recorded in the cloud assembly's metadata with its reason, and only
    suppresses that finding on ``scope`` and its children.
    """
    cdk.Validations.of(scope).acknowledge(
        cdk.Acknowledgment(id=f"{PLUGIN}::{finding}", reason=reason)
    )


def default_policy(role: iam.IRole) -> IConstruct:
    """The inline policy that grants and CDK constructs add a role's statements to."""
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is None:
        raise LookupError(f"{role.node.path} has no default policy")
    return policy


def policies_of(role: iam.IRole) -> list[iam.Policy]:
    """The policies that grants added to ``role`` (its DefaultPolicy, or for a role imported
    as mutable, the policy attached to it); empty for an immutable imported role."""
    return [child for child in role.node.children if isinstance(child, iam.Policy)]


def finding_resource(scope: IConstruct, value: str) -> str:
    """``value`` (a resource ARN, possibly a token) written the way cdk-nag names it in a
    finding: ``<LogicalId.Arn>`` for GetAtt, ``<AWS::Partition>`` for Ref, joins concatenated."""
    return _render(cdk.Stack.of(scope).resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            return f"<{argument}>"
        if key == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if key == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_render(part) for part in parts)
        # Other intrinsics appear in findings as their compact JSON.
        return json.dumps(value, separators=(",", ":"))
    raise ValueError(f"cannot name {value!r} as cdk-nag does")
