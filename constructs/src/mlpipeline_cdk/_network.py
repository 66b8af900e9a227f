"""The security groups of the pipeline's jobs and models, when it runs in a VPC."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import aws_ec2 as ec2

from . import _grants

if TYPE_CHECKING:
    from .ml_pipeline import MLPipeline
    from .settings import NetworkSettings


def security_groups(pipeline: MLPipeline, network: NetworkSettings) -> list[ec2.ISecurityGroup]:
    """The given security groups, or one created for the VPC; none without a VPC."""
    groups: list[ec2.ISecurityGroup] = list(network.security_groups or [])
    if network.vpc is None:
        return groups
    if not groups:
        group = ec2.SecurityGroup(
            pipeline,
            "SecurityGroup",
            vpc=network.vpc,
            description="ML pipeline training jobs and model",
            allow_all_outbound=True,
        )
        # Distributed training: the instances of a job talk to each other.
        group.connections.allow_internally(
            ec2.Port.all_traffic(), "between the instances of a training job"
        )
        groups.append(group)
    _grants.grant_vpc_access(pipeline, network.vpc)
    return groups
