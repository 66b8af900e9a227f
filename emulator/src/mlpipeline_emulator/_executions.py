"""Name executions that are started without a name, as Step Functions does.

Step Functions names an execution started without ``name`` with a fresh UUID; moto's executing
backend names every such execution ``None``, so the second one fails with
``ExecutionAlreadyExists``.

Also renders the context object's ``$$.Execution.StartTime`` as Step Functions does, an ISO 8601
string with milliseconds (``2019-03-26T20:14:13.192Z``,
https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html); moto
leaves a ``datetime`` there, which no state can pass on.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_original: Any = None
_original_environment: Any = None


def _iso_start_time(value: Any) -> Any:
    if not isinstance(value, datetime.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    utc = value.astimezone(datetime.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _patch_start_time() -> None:
    global _original_environment
    _original_environment = ExecutionWorker._get_evaluation_environment

    def environment(self: Any) -> Any:
        env = _original_environment(self)
        execution = env.states.context_object.context_object_data["Execution"]
        execution["StartTime"] = _iso_start_time(execution.get("StartTime"))
        return env

    setattr(ExecutionWorker, "_get_evaluation_environment", environment)  # noqa: B010


def patch() -> None:
    global _original
    if _original is not None:
        return
    _original = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        return _original(
            self, state_machine_arn, name or str(uuid.uuid4()), execution_input, trace_header
        )

    setattr(StepFunctionsParserBackend, "start_execution", start_execution)  # noqa: B010
    _patch_start_time()


def unpatch() -> None:
    global _original
    if _original is None:
        return
    setattr(StepFunctionsParserBackend, "start_execution", _original)  # noqa: B010
    _original = None
    global _original_environment
    setattr(ExecutionWorker, "_get_evaluation_environment", _original_environment)  # noqa: B010
    _original_environment = None
