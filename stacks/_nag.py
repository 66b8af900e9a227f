"""Acknowledging cdk-nag findings in the stacks: one finding, one resource, one reason.

The helpers themselves come from the construct library (:mod:`mlpipeline_cdk.nag`).
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

from mlpipeline_cdk.nag import acknowledge, default_policy

__all__ = ["acknowledge", "default_policy", "partition", "ref"]


def ref(resource: IConstruct, attribute: str | None = None) -> str:
    """``<LogicalId>`` or ``<LogicalId.Attribute>``, the way cdk-nag names a reference."""
    stack = cdk.Stack.of(resource)
    cfn = resource.node.default_child if not isinstance(resource, cdk.CfnElement) else resource
    assert isinstance(cfn, cdk.CfnElement), resource.node.path
    logical_id = stack.resolve(stack.get_logical_id(cfn))
    return f"<{logical_id}.{attribute}>" if attribute else f"<{logical_id}>"


def partition(scope: IConstruct) -> str:
    """The partition of ``scope``'s stack the way cdk-nag names it in a finding: the literal
    (``aws``) where aws-cdk-lib writes one (the ``@aws-cdk/core:enablePartitionLiterals`` flag,
    in a stack whose region is known), else ``<AWS::Partition>``."""
    stack = cdk.Stack.of(scope)
    value = stack.resolve(stack.partition)
    return value if isinstance(value, str) else f"<{value['Ref']}>"
