"""What following an execution reports: one :class:`WatchEvent` per thing that happened, and
the :class:`ExecutionResult` at its end (made by :class:`._watch.ExecutionWatcher`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ._history import UTC, iso


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WatchEvent:
    """One thing that happened to the execution.

    ``type`` is one of ``execution_started``, ``state_entered``, ``state_exited``,
    ``state_error``, ``training_job_requested``, ``training_job_status``, ``training_metrics``,
    ``endpoint_status`` and ``execution_ended``.
    """

    type: str
    timestamp: datetime
    state: str | None = None
    #: Seconds the state took (``state_exited``) or the execution took (``execution_ended``).
    elapsed: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": self.type,
            "timestamp": iso(self.timestamp),
            "state": self.state,
        }
        if self.elapsed is not None:
            document["elapsedSeconds"] = round(self.elapsed, 3)
        document["details"] = dict(self.details)
        return document


@dataclass
class ExecutionResult:
    status: str
    error: str | None = None
    cause: str | None = None
    output: Any = None
    failed_state: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"
