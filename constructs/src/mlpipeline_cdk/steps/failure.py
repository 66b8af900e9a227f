"""Where every failed run ends: a notification, then a Fail state a person can act on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct


class FailureHandler(Construct):
    """Publishes ``$.error`` to ``topic`` and fails the execution with that error and cause
    (an error named ``States.*``, which a Fail state may not raise, as ``StepFailed`` with the
    original name at the start of the cause).

    Route a failure here with :meth:`reject` (an error of your own) or :meth:`catch` (the error a
    state raised). If publishing fails, the execution still fails with the original error.
    """

    def __init__(self, scope: Construct, construct_id: str, *, topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.failed = sfn.Fail(
            self,
            "RunFailed",
            error_path="$.error.Error",
            cause_path="$.error.Cause",
        )
        self.notify = tasks.SnsPublish(
            self,
            "NotifyFailure",
            topic=topic,
            subject=failure_subject(scope),
            message=sfn.TaskInput.from_object(
                {
                    "execution": sfn.JsonPath.execution_id,
                    "stateMachine": sfn.JsonPath.state_machine_id,
                    "error": sfn.JsonPath.string_at("$.error.Error"),
                    "cause": sfn.JsonPath.string_at("$.error.Cause"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        # The optimized SNS integration names SNS's declared errors after the AWS SDK for Java's
        # classes, SNS.<Shape>: ThrottledException and InternalErrorException are shapes of the
        # SNS API model (botocore data sns/2010-03-31/service-2.json; errors of Publish).
        self.notify.add_retry(
            errors=["SNS.ThrottledException", "SNS.InternalErrorException"],
            max_attempts=3,
            backoff_rate=2,
        )
        # Error names starting with "States." are reserved: a Fail state cannot raise them again,
        # so they end the run as StepFailed, the original name kept in the cause.
        reserved = sfn.Choice(self, "IsReservedErrorName")
        rename = sfn.Pass(
            self,
            "RenameReservedError",
            parameters={
                "Error": "StepFailed",
                "Cause": sfn.JsonPath.format(
                    "{}: {}",
                    sfn.JsonPath.string_at("$.error.Error"),
                    sfn.JsonPath.string_at("$.error.Cause"),
                ),
            },
            result_path="$.error",
        )
        reserved.when(
            sfn.Condition.string_matches("$.error.Error", "States.*"), rename.next(self.failed)
        ).otherwise(self.failed)
        self.notify.add_catch(reserved, result_path="$.notificationError")
        self.notify.next(reserved)

    @property
    def entry(self) -> sfn.IChainable:
        """The state to continue with once ``$.error`` is set."""
        return self.notify

    def catch(
        self,
        state: sfn.TaskStateBase | sfn.CustomState | sfn.Map,
        *,
        errors: list[str] | None = None,
    ) -> None:
        """Send ``errors`` (default: all) raised by ``state`` here, keeping the state's input."""
        state.add_catch(self.notify, errors=errors or ["States.ALL"], result_path="$.error")

    def reject(self, scope: Construct, state_id: str, *, error: str, cause: str) -> sfn.Pass:
        """A Pass state that sets ``$.error`` and continues here.

        ``cause`` is literal text or a run-time expression such as
        ``sfn.JsonPath.format("accuracy {} is below {}", ...)``.
        """
        rejected = sfn.Pass(
            scope,
            state_id,
            parameters={"Error": error, "Cause": cause},
            result_path="$.error",
        )
        rejected.next(self.notify)
        return rejected


#: SNS Publish: "Subjects must be UTF-8 text with no line breaks or control characters, and less
#: than 100 characters long" (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html, and
#: botocore's sns model, Publish.Subject); kept to printable ASCII, which every e-mail client shows.
SUBJECT_MAX: Final = 99


def failure_subject(scope: Construct) -> str:
    """``ML pipeline run failed: <stack name>/<path of scope in it>``, so that the notifications
    of two pipelines can be told apart; printable ASCII only, cut at the front of the name to
    stay under SNS's limit."""
    stack = cdk.Stack.of(scope)
    path = scope.node.path.removeprefix(f"{stack.node.path}/")
    name = f"{stack.stack_name}/{path}" if not cdk.Token.is_unresolved(stack.stack_name) else path
    name = "".join(c if " " <= c <= "~" else "?" for c in name)
    lead = "ML pipeline run failed: "
    if len(lead) + len(name) > SUBJECT_MAX:
        name = "..." + name[len(lead) + len(name) + 3 - SUBJECT_MAX :]
    return lead + name


def with_defaults(
    scope: Construct,
    *,
    prepare_id: str,
    read_id: str,
    defaults: Mapping[str, Any],
    defaults_path: str,
    value: Any,
    key: str,
    result_path: str,
) -> sfn.Chain:
    """Two Pass states that write ``{key: value}`` at ``result_path`` with ``defaults`` filling
    in the fields ``value`` lacks (SageMaker leaves ``FailureReason`` out at times).

    Intrinsic functions take no object literals, so the defaults are put in the state first
    (at ``defaults_path``) and merged from there.
    """
    prepare = sfn.Pass(
        scope,
        prepare_id,
        result=sfn.Result.from_object(dict(defaults)),
        result_path=defaults_path,
    )
    read = sfn.Pass(
        scope,
        read_id,
        parameters={key: sfn.JsonPath.json_merge(sfn.JsonPath.object_at(defaults_path), value)},
        result_path=result_path,
    )
    return sfn.Chain.start(prepare).next(read)
