"""What the local SageMaker keeps: the active runtime, one lock, and per-backend bookkeeping.

The bookkeeping lives on each moto backend (so resetting moto clears it), never among a
resource's attributes, which moto turns into response fields.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from moto.sagemaker.models import SageMakerModelBackend

from .runtime import LocalRuntime

#: One lock for every resource the emulation mutates: moto builds responses by iterating a
#: resource's attributes, which must not change under it.
LOCK: Final = threading.RLock()
_STATE_ATTRIBUTE: Final = "_mlpipeline_local_state"

#: moto's FakeTrainingJob and FakeEndpoint, typed loosely: the emulation sets attributes moto does
#: not declare on them, since moto builds the Describe responses from a resource's attributes.
TrainingJob = Any
Endpoint = Any


class NoRuntimeError(RuntimeError):
    pass


_active_runtime: LocalRuntime | None = None


def set_runtime(runtime: LocalRuntime | None) -> None:
    global _active_runtime
    _active_runtime = runtime


def installed_runtime() -> LocalRuntime | None:
    return _active_runtime


def active_runtime() -> LocalRuntime:
    runtime = _active_runtime
    if runtime is None:
        raise NoRuntimeError("mlpipeline_emulator is not installed")
    return runtime


@dataclass
class JobControl:
    """A training job's request as received, and how to stop it."""

    request: dict[str, Any]
    stop: threading.Event = field(default_factory=threading.Event)
    stop_status: str = "Stopped"


@dataclass
class BackendState:
    jobs: dict[str, JobControl] = field(default_factory=dict)


def state_of(backend: SageMakerModelBackend) -> BackendState:
    state = backend.__dict__.get(_STATE_ATTRIBUTE)
    if not isinstance(state, BackendState):
        state = BackendState()
        backend.__dict__[_STATE_ATTRIBUTE] = state
    return state


def start_daemon(name: str, target: Callable[[], None]) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()
