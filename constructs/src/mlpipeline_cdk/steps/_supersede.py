"""Overlapping runs: which run's endpoint configuration is the newer one.

Every endpoint configuration a run creates carries the tag :data:`RUN_START_TAG`, the start time
of the run (``$$.Execution.StartTime``, ISO 8601 in UTC with milliseconds, so the strings sort
as the times do). Before it updates the endpoint, a run reads the tag of the configuration the
endpoint serves; when that run started later, it leaves the endpoint alone. After its update, a
run that finds the endpoint on another configuration reads that configuration's tag: a newer
run's means this run was superseded, not rolled back.

Tagging on create needs ``sagemaker:AddTags`` as well as the create action:
https://docs.aws.amazon.com/sagemaker/latest/dg/api-permissions-reference.html
(and ListTags returns ``{"Tags": [{"Key", "Value"}], "NextToken"}``:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTags.html).
"""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ..contract import run_output
from ._retries import add_sdk_retry

#: The tag naming the start time of the run that created an endpoint configuration.
RUN_START_TAG: Final = "mlpipeline:run-start"


class Supersession:
    """The states that compare this run with the run behind an endpoint configuration."""

    def __init__(self, scope: Construct, *, name_prefix: str) -> None:
        self._scope = scope
        stack = cdk.Stack.of(scope)
        self._config_arn_prefix = (
            f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:endpoint-config/"
        )
        self.config_arns = stack.format_arn(
            service="sagemaker", resource="endpoint-config", resource_name=f"{name_prefix}-*"
        )
        #: Records the run's start time in ``$.deployment.runStart`` and the tags every endpoint
        #: configuration of this run gets in ``$.deployment.tags``.
        self.record_start = sfn.Pass(
            scope,
            "RecordRunStart",
            parameters={
                "runStart": sfn.JsonPath.string_at("$$.Execution.StartTime"),
                "tags": [
                    {
                        "Key": RUN_START_TAG,
                        "Value": sfn.JsonPath.string_at("$$.Execution.StartTime"),
                    }
                ],
            },
            result_path="$.deployment",
        )
        self.tags = sfn.TaskInput.from_json_path_at("$.deployment.tags")
        self.deployed = self._outcome("EndpointInService", run_output.DEPLOYED)
        self.superseded = self._outcome("DeploymentSuperseded", run_output.SUPERSEDED)

    def _outcome(self, state_id: str, status: str) -> sfn.Pass:
        return sfn.Pass(
            self._scope,
            state_id,
            parameters={
                "status": status,
                "runStart": sfn.JsonPath.string_at("$.deployment.runStart"),
            },
            result_path="$.deployment",
        )

    def if_newer(
        self,
        state_id: str,
        *,
        config_name_path: str,
        newer: sfn.IChainable,
        otherwise: sfn.IChainable,
    ) -> sfn.IChainable:
        """Reads the run start of the configuration at ``config_name_path``; continues at
        ``newer`` when that run started after this one, else (or when it cannot tell: no tag,
        or a configuration this pipeline did not create) at ``otherwise``."""
        read = tasks.CallAwsService(
            self._scope,
            f"Read{state_id}",
            service="sagemaker",
            action="listTags",
            parameters={
                "ResourceArn": sfn.JsonPath.format(
                    f"{self._config_arn_prefix}{{}}", sfn.JsonPath.string_at(config_name_path)
                )
            },
            iam_resources=[self.config_arns],
            iam_action="sagemaker:ListTags",
            additional_iam_statements=[
                iam.PolicyStatement(actions=["sagemaker:AddTags"], resources=[self.config_arns])
            ],
            result_selector={
                "runStart": sfn.JsonPath.list_at(f"$.Tags[?(@.Key == '{RUN_START_TAG}')].Value")
            },
            result_path="$.deployedRun",
        )
        add_sdk_retry(read)
        read.add_catch(otherwise, errors=["States.ALL"], result_path=sfn.JsonPath.DISCARD)
        is_newer = sfn.Choice(self._scope, f"{state_id}IsNewer")
        read.next(is_newer)
        is_newer.when(
            sfn.Condition.and_(
                sfn.Condition.is_present("$.deployedRun.runStart[0]"),
                sfn.Condition.string_greater_than_json_path(
                    "$.deployedRun.runStart[0]", "$.deployment.runStart"
                ),
            ),
            newer,
        ).otherwise(otherwise)
        return read
