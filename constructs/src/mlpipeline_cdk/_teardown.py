"""Delete the endpoint runs created when the stack is deleted, so it stops billing."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Final

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import IConstruct

from . import steps
from .steps._scaling import acknowledge_scaling

if TYPE_CHECKING:
    from .ml_pipeline import MLPipeline


def delete_endpoint_on_stack_delete(
    pipeline: MLPipeline, deployment: steps.DeployToEndpoint
) -> cr.AwsCustomResource:
    # The endpoint is created by runs, not by CloudFormation, so deleting the stack would
    # leave it running and billing; this resource deletes it then.
    role, log_group = custom_resource_role(
        pipeline, "deletes the ML pipeline's endpoint when the stack is deleted"
    )
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
                ),
                *_scaling_statements(deployment),
            ]
        ),
        role=role,
        log_group=log_group,
        install_latest_aws_sdk=False,
        resource_type="Custom::EndpointTeardown",
    )
    if deployment.scaling is not None:
        policy = teardown.node.find_child("CustomResourcePolicy")
        acknowledge_scaling(deployment.scaling, [policy])
    # The provider function is a singleton at the stack's root.
    provider = cdk.Stack.of(pipeline).node.find_child(_AWS_CUSTOM_RESOURCE_PROVIDER_ID)
    accept_redundant_dependency(provider)
    return teardown


def _scaling_statements(deployment: steps.DeployToEndpoint) -> list[iam.PolicyStatement]:
    # Deleting an endpoint deregisters its scalable targets only if the caller may call
    # DeregisterScalableTarget; otherwise the delete fails (https://docs.aws.amazon.com/sagemaker/
    # latest/dg/endpoint-delete-with-scaling.html). So no scalable target outlives the endpoint.
    if deployment.scaling is None:
        return []
    return [
        iam.PolicyStatement(
            actions=["application-autoscaling:DeregisterScalableTarget"],
            resources=[deployment.scaling.target_arn],
        )
    ]


#: Each pipeline's custom resource role, log group and what its custom resources use it for.
_ROLES: Final[weakref.WeakKeyDictionary[MLPipeline, tuple[iam.Role, logs.LogGroup, list[str]]]] = (
    weakref.WeakKeyDictionary()
)


def custom_resource_role(pipeline: MLPipeline, purpose: str) -> tuple[iam.IRole, logs.ILogGroup]:
    """The role and log group of the function behind the pipeline's AwsCustomResources.

    One function serves every AwsCustomResource of a stack (aws-cdk-lib's SingletonFunction,
    made with the role and log group of the first), and each resource's statements are attached
    to that function's role; so the pipeline's custom resources share one role, a role of our
    own that gets no managed policy, whose description says what it is used for.
    """
    if pipeline not in _ROLES:
        purposes: list[str] = []
        log_group = logs.LogGroup(
            pipeline,
            _LOG_GROUP_ID,
            encryption_key=pipeline.encryption_key,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        role = iam.Role(
            pipeline,
            _ROLE_ID,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=cdk.Lazy.string(_Purposes(purposes)),
        )
        log_group.grant_write(role)
        _ROLES[pipeline] = (role, log_group, purposes)
    role, log_group, purposes = _ROLES[pipeline]
    purposes.append(purpose)
    return role, log_group


@jsii.implements(cdk.IStableStringProducer)
class _Purposes:
    """The role's description, once every custom resource has said what it uses it for."""

    def __init__(self, purposes: list[str]) -> None:
        self._purposes = purposes

    def produce(self) -> str:
        text = "; ".join(self._purposes)
        return text[:1].upper() + text[1:]


#: Construct ids kept from when the endpoint's teardown was the only custom resource, so that
#: deployed stacks keep their role and log group.
_ROLE_ID: Final = "EndpointTeardownRole"
_LOG_GROUP_ID: Final = "EndpointTeardownLogs"

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
