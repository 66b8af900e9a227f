"""The states that keep the endpoint's variant scaled across deployments (``autoscaling``).

SageMaker's rules for an endpoint whose variant is a scalable target
(https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html): an update that
changes the variant's instance type fails unless the variant is deregistered first; an update
that changes the model only is allowed; after the update the variant is registered again and its
policy attached. Hence, with ``autoscaling`` on, a run:

- before UpdateEndpoint, reads the served configuration (DescribeEndpointConfig) and, when its
  instance type differs from the new one (or cannot be read), deregisters the variant
  (``ObjectNotFoundException``, nothing registered, is fine);
- once the endpoint is ``InService`` on the run's configuration (created or updated), registers
  the variant (RegisterScalableTarget: registering again updates the target, and puts the
  current count back within min..max) and puts the target tracking policy (PutScalingPolicy
  replaces a policy of the same name); a failure there fails the run;
- when SageMaker rolled the update back, registers the variant and its policy again on the
  configuration it went back to (the run may have deregistered it) and then fails as before.

Step Functions names an ``aws-sdk`` error ``ServiceName.ErrorName`` with an ``Exception`` suffix
(https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html); the
error names matched here end with botocore's ``application-autoscaling`` error shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IConstruct

from .. import autoscaling
from ..autoscaling import AutoscalingSettings
from ..nag import acknowledge, finding_resource
from .failure import FailureHandler

_SERVICE: Final = "applicationautoscaling"
_IAM_PREFIX: Final = "application-autoscaling"
#: The retriable errors of RegisterScalableTarget / PutScalingPolicy / DeregisterScalableTarget
#: (botocore's application-autoscaling model: ConcurrentUpdateException, InternalServiceException)
#: and the name of the codes the model does not declare (throttling among them).
_RETRIED: Final = (
    "ApplicationAutoScaling.ConcurrentUpdateException",
    "ApplicationAutoScaling.InternalServiceException",
    "ApplicationAutoScaling.ApplicationAutoScalingException",
)


class EndpointScaling(Construct):
    """Builds the scaling states of one endpoint; see the module's documentation."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: AutoscalingSettings,
        endpoint_name: str,
        name_prefix: str,
        instance_type: str,
        endpoint_arn: str,
        failure: FailureHandler,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._endpoint_name = endpoint_name
        self._instance_type = instance_type
        self._failure = failure
        self._endpoint_arn = endpoint_arn
        stack = cdk.Stack.of(self)
        # The scalable target's ARN ends with an id Application Auto Scaling generates, so the
        # target is named by pattern within this account and Region.
        self.target_arn = stack.format_arn(
            service="application-autoscaling",
            resource="scalable-target",
            resource_name="*",
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )
        self._config_arn = stack.format_arn(
            service="sagemaker", resource="endpoint-config", resource_name=f"{name_prefix}-*"
        )

    # --- the three places the deployment calls ------------------------------------------------

    def before_update(self, update: sfn.IChainable) -> sfn.IChainable:
        """DescribeEndpointConfig of the served configuration, then DeregisterScalableTarget when
        the instance type changes, then ``update``."""
        served = tasks.CallAwsService(
            self,
            "ReadServedInstanceType",
            service="sagemaker",
            action="describeEndpointConfig",
            parameters={
                "EndpointConfigName": sfn.JsonPath.string_at("$.existingEndpoint.configName")
            },
            iam_resources=[self._config_arn],
            iam_action="sagemaker:DescribeEndpointConfig",
            result_selector={"variants": sfn.JsonPath.list_at("$.ProductionVariants")},
            result_path="$.servedConfig",
        )
        served.add_retry(
            errors=["SageMaker.SageMakerException"],
            interval=Duration.seconds(2),
            max_attempts=3,
            backoff_rate=2,
        )
        self._failure.catch(served)
        same_type = sfn.Choice(self, "InstanceTypeChanges")
        deregister = self._call(
            "DeregisterBeforeUpdate",
            "deregisterScalableTarget",
            autoscaling.target(self._endpoint_name),
        )
        not_registered = sfn.Choice(self, "WasRegistered")
        deregister.add_catch(not_registered, errors=["States.ALL"], result_path="$.scalingError")
        not_registered.when(
            sfn.Condition.string_matches("$.scalingError.Error", "*.ObjectNotFoundException"),
            update,
        ).otherwise(self._failure_from("$.scalingError", "DeregisterFailed"))
        variant_type = "$.servedConfig.variants[0].InstanceType"
        served.next(same_type)
        same_type.when(
            sfn.Condition.and_(
                sfn.Condition.is_present(variant_type),
                sfn.Condition.string_equals(variant_type, self._instance_type),
            ),
            update,
        ).otherwise(deregister)
        deregister.next(update)
        return served

    def after_deploy(self) -> tuple[sfn.State, sfn.INextable]:
        """Register the variant and put its policy; a failure fails the run."""
        register, put = self._register_and_put("Apply")
        for state in (register, put):
            self._failure.catch(state)
        return register, put

    def restore(self, then: sfn.IChainable) -> sfn.IChainable:
        """Register the variant and put its policy again, then ``then`` whatever happens."""
        register, put = self._register_and_put("Restore")
        for state in (register, put):
            state.add_catch(then, errors=["States.ALL"], result_path="$.scalingError")
        put.next(then)
        return register

    # --- building blocks ----------------------------------------------------------------------

    def _register_and_put(self, prefix: str) -> tuple[tasks.CallAwsService, tasks.CallAwsService]:
        register = self._call(
            f"{prefix}RegisterScalableTarget",
            "registerScalableTarget",
            autoscaling.register_request(self._settings, self._endpoint_name),
            extra=self._registration_statements(),
        )
        put = self._call(
            f"{prefix}PutScalingPolicy",
            "putScalingPolicy",
            autoscaling.policy_request(self._settings, self._endpoint_name),
        )
        register.next(put)
        return register, put

    def _call(
        self,
        state_id: str,
        action: str,
        parameters: dict[str, Any],
        *,
        extra: list[iam.PolicyStatement] | None = None,
    ) -> tasks.CallAwsService:
        state = tasks.CallAwsService(
            self,
            state_id,
            service=_SERVICE,
            action=action,
            parameters=parameters,
            iam_resources=[self.target_arn],
            iam_action=f"{_IAM_PREFIX}:{action[0].upper()}{action[1:]}",
            result_path=sfn.JsonPath.DISCARD,
            additional_iam_statements=extra,
        )
        state.add_retry(
            errors=list(_RETRIED),
            interval=Duration.seconds(2),
            max_attempts=4,
            backoff_rate=2,
            max_delay=Duration.seconds(20),
            jitter_strategy=sfn.JitterType.FULL,
        )
        return state

    def _failure_from(self, path: str, state_id: str) -> sfn.IChainable:
        moved = sfn.Pass(self, state_id, input_path=path, result_path="$.error")
        moved.next(self._failure.entry)
        return moved

    def _registration_statements(self) -> list[iam.PolicyStatement]:
        """What registering a SageMaker variant needs besides RegisterScalableTarget itself.

        https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-prerequisites.html
        lists, for whoever configures scaling: ``sagemaker:DescribeEndpoint`` (the deployment
        has it), ``DescribeEndpointConfig`` and ``UpdateEndpointWeightsAndCapacities``, and
        ``iam:CreateServiceLinkedRole`` on the SageMaker endpoint service-linked role with the
        condition ``iam:AWSServiceName`` ``sagemaker.application-autoscaling.amazonaws.com``. The
        target tracking policy's alarms are created and deleted by that service-linked role (AWS
        managed policy AWSApplicationAutoscalingSageMakerEndpointPolicy), not by the run.
        """
        stack = cdk.Stack.of(self)
        role_name = (
            f"aws-service-role/{autoscaling.SERVICE_LINKED_ROLE_PRINCIPAL}/"
            f"{autoscaling.SERVICE_LINKED_ROLE}"
        )
        return [
            iam.PolicyStatement(
                actions=["sagemaker:UpdateEndpointWeightsAndCapacities"],
                resources=[self._endpoint_arn],
            ),
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpointConfig"], resources=[self._config_arn]
            ),
            iam.PolicyStatement(
                actions=["iam:CreateServiceLinkedRole"],
                resources=[
                    stack.format_arn(
                        service="iam", region="", resource="role", resource_name=role_name
                    )
                ],
                conditions={
                    "StringEquals": {
                        "iam:AWSServiceName": autoscaling.SERVICE_LINKED_ROLE_PRINCIPAL
                    }
                },
            ),
        ]


#: Why the scalable target is named by pattern: https://docs.aws.amazon.com/service-authorization/
#: latest/reference/list_awsapplicationautoscaling.html (resource type ``scalable-target``,
#: ``arn:${Partition}:application-autoscaling:${Region}:${Account}:scalable-target/
#: ${ScalableTargetId}``, the id generated by Application Auto Scaling).
SCALABLE_TARGET_REASON: Final = (
    "A scalable target's ARN ends with an id Application Auto Scaling generates when the run "
    "registers the endpoint's variant; limited to this account and Region, and the requests name "
    "the one variant endpoint/<endpoint>/variant/AllTraffic"
)


def acknowledge_scaling(scaling: EndpointScaling | None, policies: Sequence[IConstruct]) -> None:
    """The cdk-nag finding of the scalable-target pattern, on each of ``policies``."""
    if scaling is None:
        return
    finding = f"AwsSolutions-IAM5[Resource::{finding_resource(scaling, scaling.target_arn)}]"
    for policy in policies:
        acknowledge(policy, finding, SCALABLE_TARGET_REASON)
