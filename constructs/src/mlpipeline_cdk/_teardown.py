"""Delete the endpoint runs created when the stack is deleted, so it stops billing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import IConstruct

from . import steps

if TYPE_CHECKING:
    from .ml_pipeline import MLPipeline


def delete_endpoint_on_stack_delete(
    pipeline: MLPipeline, deployment: steps.DeployToEndpoint
) -> cr.AwsCustomResource:
    # The endpoint is created by runs, not by CloudFormation, so deleting the stack would
    # leave it running and billing; this resource deletes it then.
    log_group = logs.LogGroup(
        pipeline,
        "EndpointTeardownLogs",
        encryption_key=pipeline.encryption_key,
        retention=logs.RetentionDays.ONE_YEAR,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    # A role of our own, so the function gets no managed policy: it may write its log group
    # and delete this one endpoint.
    role = iam.Role(
        pipeline,
        "EndpointTeardownRole",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Deletes the ML pipeline's endpoint when the stack is deleted",
    )
    log_group.grant_write(role)
    teardown = cr.AwsCustomResource(
        pipeline,
        "EndpointTeardown",
        on_delete=cr.AwsSdkCall(
            service="SageMaker",
            action="deleteEndpoint",
            parameters={"EndpointName": deployment.endpoint_name},
            # Nothing to delete when no run ever deployed.
            ignore_error_codes_matching="ValidationException",
        ),
        policy=cr.AwsCustomResourcePolicy.from_statements(
            [
                iam.PolicyStatement(
                    actions=["sagemaker:DeleteEndpoint"],
                    resources=[deployment.endpoint_arn],
                )
            ]
        ),
        role=role,
        log_group=log_group,
        install_latest_aws_sdk=False,
        resource_type="Custom::EndpointTeardown",
    )
    # The provider function is a singleton at the stack's root.
    provider = cdk.Stack.of(pipeline).node.find_child(_AWS_CUSTOM_RESOURCE_PROVIDER_ID)
    accept_redundant_dependency(provider)
    return teardown


#: The construct id aws-cdk-lib gives the singleton function behind every AwsCustomResource.
_AWS_CUSTOM_RESOURCE_PROVIDER_ID: Final = "AWS679f53fac002430cb0da5b7982bd2287"


def accept_redundant_dependency(construct: IConstruct) -> None:
    """Tell cfn-lint that this resource's DependsOn on its role is deliberate.

    aws-cdk-lib makes a state machine or function depend explicitly on its role (so the role's
    policy exists before first use) while also referencing the role by GetAtt; cfn-lint's W3005
    flags the redundancy, which is harmless.
    """
    resource = construct.node.default_child
    assert isinstance(resource, cdk.CfnResource), construct.node.path
    resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
