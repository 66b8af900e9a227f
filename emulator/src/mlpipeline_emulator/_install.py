"""Turning the local SageMaker on and off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from . import (
    _accounts,
    _aws_sdk_tasks,
    _cross_account,
    _dashboards,
    _eventbridge,
    _executions,
    _sagemaker_backend,
    _state,
    _stepfunctions_sagemaker,
    _waits,
)
from .runtime import LocalRuntime
from .scripted import ScriptedRuntime

_lock = threading.Lock()


def install(
    runtime: LocalRuntime | None = None,
    *,
    sync_poll_seconds: float = 0.05,
    wait_scale: float = 1.0,
) -> LocalRuntime:
    """Patch moto (once, however often this is called) and make ``runtime`` the active one.

    Patches moto's SageMaker backend (jobs and endpoints that take time, UpdateEndpoint,
    StopTrainingJob, InvokeEndpoint through the runtime) and moto's Step Functions interpreter
    (the optimized ``sagemaker`` integration, ``SageMaker.*`` error names for ``aws-sdk``, a UUID
    for executions started without a name, Wait states scaled by ``wait_scale``), the model
    registry's gaps and events, models created from model packages, moto's EventBridge (rules
    that start state machines, input transformers), S3's SSE-KMS key check and ``S3.*`` error
    names for ``aws-sdk``, reference paths with indexes, and several accounts (tasks act in
    their role's account; another account's model package groups and S3 objects only as their
    resource policies allow), CloudWatch's dashboard checks (:mod:`._dashboards`). Works
    for ``mock_aws`` and for a moto server in this process; state lives in moto's backends, so
    resetting moto resets it.

    :param runtime: Default: a :class:`ScriptedRuntime` whose jobs succeed and endpoints come up.
    :param sync_poll_seconds: How often ``createTrainingJob.sync`` polls the job's status.
    :param wait_scale: Wait states last this fraction of their seconds (1.0: as written; 0.001
        turns a 30-second poll into 30 ms). Nothing else about time changes.
    :returns: The active runtime.
    """
    active = runtime if runtime is not None else ScriptedRuntime()
    with _lock:
        _sagemaker_backend.patch()
        _stepfunctions_sagemaker.patch()
        _stepfunctions_sagemaker.sync_poll_seconds = sync_poll_seconds
        _waits.patch()
        _waits.scale = wait_scale
        _executions.patch()
        _eventbridge.patch()
        _aws_sdk_tasks.patch()
        _accounts.patch()
        _cross_account.patch()
        _dashboards.patch()
        _state.set_runtime(active)
    return active


def uninstall() -> None:
    """Restore moto as it was. Jobs and deployments still running finish against no runtime
    (they fail) and are not waited for."""
    with _lock:
        _stepfunctions_sagemaker.unpatch()
        _sagemaker_backend.unpatch()
        _waits.unpatch()
        _waits.scale = 1.0
        _executions.unpatch()
        _eventbridge.unpatch()
        _aws_sdk_tasks.unpatch()
        _accounts.unpatch()
        _cross_account.unpatch()
        _dashboards.unpatch()
        _state.set_runtime(None)


@contextmanager
def local_sagemaker(
    runtime: LocalRuntime | None = None, *, wait_scale: float = 1.0
) -> Iterator[LocalRuntime]:
    """:func:`install` for the ``with`` block, then :func:`uninstall`."""
    active = install(runtime, wait_scale=wait_scale)
    try:
        yield active
    finally:
        uninstall()
