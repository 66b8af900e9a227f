"""Name executions that are started without a name, as Step Functions does.

Step Functions names an execution started without ``name`` with a fresh UUID; moto's executing
backend names every such execution ``None``, so the second one fails with
``ExecutionAlreadyExists``.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_original: Any = None


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


def unpatch() -> None:
    global _original
    if _original is None:
        return
    setattr(StepFunctionsParserBackend, "start_execution", _original)  # noqa: B010
    _original = None
