"""Acknowledging cdk-nag findings in the stacks: one finding, one resource, one reason."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import IConstruct

#: The validation plugin (cdk-nag's AwsSolutions pack) whose findings are acknowledged here.
PLUGIN = "AwsSolutions"
_ACKNOWLEDGED_RULES = "aws:cdk:acknowledged-rules"


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge ``finding`` (e.g. ``AwsSolutions-IAM5[Action::s3:List*]``) on ``scope``."""
    cdk.Validations.of(scope).acknowledge(
        cdk.Acknowledgment(id=f"{PLUGIN}::{finding}", reason=reason)
    )


def default_policy(role: iam.IRole) -> IConstruct:
    """The inline policy that grants and CDK Pipelines add statements to."""
    policy = role.node.try_find_child("DefaultPolicy")
    if policy is None:
        raise LookupError(f"{role.node.path} has no default policy")
    return policy


def ref(resource: IConstruct, attribute: str | None = None) -> str:
    """``<LogicalId>`` or ``<LogicalId.Attribute>``, the way cdk-nag names a reference."""
    stack = cdk.Stack.of(resource)
    cfn = resource.node.default_child if not isinstance(resource, cdk.CfnElement) else resource
    assert isinstance(cfn, cdk.CfnElement), resource.node.path
    logical_id = stack.resolve(stack.get_logical_id(cfn))
    return f"<{logical_id}.{attribute}>" if attribute else f"<{logical_id}>"


def acknowledge_in_pinned_environment(stack: cdk.Stack) -> None:
    """Repeat, for ``stack``'s own account and region, the acknowledgements that name them as
    ``<AWS::AccountId>`` and ``<AWS::Region>``.

    The construct library writes its findings the way cdk-nag spells them in an
    environment-agnostic stack. In a stack with a concrete account and region (every stage of
    the delivery pipeline), cdk-nag spells the same ARNs with the literal values, so those
    acknowledgements would match nothing. Each one is repeated here, on the same construct and
    with the same reason. A no-op once the library writes them for the stack's environment.
    """
    if cdk.Token.is_unresolved(stack.account) or cdk.Token.is_unresolved(stack.region):
        return
    for construct in stack.node.find_all():
        for entry in list(construct.node.metadata):
            if entry.type != _ACKNOWLEDGED_RULES or not isinstance(entry.data, dict):
                continue
            for rule, reason in entry.data.items():
                pinned = rule.replace("<AWS::AccountId>", stack.account).replace(
                    "<AWS::Region>", stack.region
                )
                if pinned != rule:
                    cdk.Validations.of(construct).acknowledge(
                        cdk.Acknowledgment(id=pinned, reason=reason)
                    )
