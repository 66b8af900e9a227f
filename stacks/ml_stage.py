"""One deployment of the ML pipeline stack, as a stage of the delivery pipeline."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from stacks._nag import acknowledge, default_policy, partition, ref
from stacks.ml_pipeline_stack import MNIST_REGISTRY, MLPipelineStack

#: Construct id (and, prefixed with the stage name, stack name) of the stack in every stage.
ML_STACK_ID = "MLPipelineStack"


def smoke_test_role_name(*, stage_name: str, region: str) -> str:
    """Name of the role a stage's smoke test assumes; fixed, so that the pipeline (another stack,
    possibly another account) can be allowed to assume it without a cross-stack reference."""
    return f"mlpipeline-smoke-test-{stage_name}-{region}"


class MLStage(cdk.Stage):
    """Holds one :class:`MLPipelineStack`; optionally lets another account's principals run its
    state machine for a smoke test."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: cdk.Environment,
        name_prefix: str = "mnist",
        endpoint_name: str | None = None,
        smoke_test_principal: iam.IPrincipal | None = None,
        consumer_accounts: Sequence[str] = (),
        promote_from: str | None = None,
        model_package_group_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        """
        :param env: Account and region of the stage; both must be concrete.
        :param name_prefix: Prefix of every SageMaker resource a run creates.
        :param endpoint_name: Default: ``<name_prefix>-endpoint``.
        :param smoke_test_principal: Who may assume the smoke-test role, which starts and
            watches executions of this stage's state machine and nothing else. Default: no such
            role is created.
        :param consumer_accounts: Accounts of later stages that deploy this stage's model
            versions (the model registry's ``consumer_accounts``).
        :param promote_from: The model package group whose Approved versions this stage deploys
            (the model registry's ``promote_from``).
        :param model_package_group_name: Default: ``<name_prefix>-models``.
        """
        super().__init__(scope, construct_id, env=env, **kwargs)
        self.ml_stack = MLPipelineStack(
            self,
            ML_STACK_ID,
            name_prefix=name_prefix,
            endpoint_name=endpoint_name,
            registry=dataclasses.replace(
                MNIST_REGISTRY,
                consumer_accounts=tuple(consumer_accounts),
                promote_from=promote_from,
                model_package_group_name=model_package_group_name,
            ),
            description="SageMaker training and deployment pipeline orchestrated by Step "
            f"Functions ({construct_id} stage of the delivery pipeline)",
        )
        #: The output a post-deployment step reads the state machine's ARN from.
        self.state_machine_arn_output = self.ml_stack.state_machine_arn_output
        self.smoke_test_role: iam.Role | None = None
        if smoke_test_principal is not None:
            assert env.region is not None
            self.smoke_test_role = self._make_smoke_test_role(
                smoke_test_principal,
                role_name=smoke_test_role_name(stage_name=construct_id, region=env.region),
            )

    def _make_smoke_test_role(self, principal: iam.IPrincipal, *, role_name: str) -> iam.Role:
        stack = self.ml_stack
        state_machine = stack.pipeline.state_machine
        role = iam.Role(
            stack,
            "SmokeTestRole",
            role_name=role_name,
            assumed_by=principal,
            description="Lets the delivery pipeline start a run of the ML pipeline's state "
            "machine (the smoke test, or the promotion of an approved model) and follow it",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StartExecution",
                actions=["states:StartExecution"],
                resources=[state_machine.state_machine_arn],
            )
        )
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeExecution",
                actions=["states:DescribeExecution"],
                resources=[executions],
            )
        )
        acknowledge(
            default_policy(role),
            f"AwsSolutions-IAM5[Resource::arn:{partition(stack)}:states:"
            f"{stack.region}:{stack.account}:execution:{ref(state_machine, 'Name')}:*]",
            "Execution names are chosen per run by the smoke test; the statement allows only "
            "DescribeExecution, on executions of this one state machine",
        )
        return role
