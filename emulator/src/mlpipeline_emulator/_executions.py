"""StartExecution as Step Functions treats it: the execution's name and its start time.

- Started without ``name``, an execution is named with a fresh UUID; moto's executing backend
  names every such execution ``None``, so the second one fails with ``ExecutionAlreadyExists``.
- A name must be 1 to 80 characters and "must not contain: white space; brackets < > { } [ ];
  wildcard characters ? *; special characters " # % \\ ^ | ~ ` $ & , ; : /; control characters
  (U+0000-001F, U+007F-009F)" (AWS Step Functions API Reference, StartExecution, ``name``:
  https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html);
  any other character, e.g. ``( ) ! '`` or a letter of any script, is allowed. A name that
  breaks the rule is refused with ``InvalidName`` (HTTP 400; "The provided name is not valid.",
  the same page's Errors). moto's executing backend checks nothing.
- The context object's ``$$.Execution.StartTime`` is rendered as Step Functions does, an ISO 8601
  string with milliseconds (``2019-03-26T20:14:13.192Z``,
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html); moto
  leaves a ``datetime`` there, which no state can pass on.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Final

from moto.stepfunctions.exceptions import InvalidName
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

MAX_NAME_LENGTH: Final = 80
_FORBIDDEN: Final = frozenset(
    '<>{}[]?*"#%\\^|~`$&,;:/'
    + "".join(chr(c) for c in range(0x00, 0x20))
    + "".join(chr(c) for c in range(0x7F, 0xA0))
)

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


def is_valid_name(name: str) -> bool:
    """True for a name StartExecution accepts."""
    return 1 <= len(name) <= MAX_NAME_LENGTH and not any(
        c in _FORBIDDEN or c.isspace() for c in name
    )


def check_name(name: str) -> None:
    if not is_valid_name(name):
        raise InvalidName(f"Invalid Name: '{name}'")


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
        if name is not None:
            check_name(name)
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
