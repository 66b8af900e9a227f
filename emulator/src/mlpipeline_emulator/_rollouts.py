"""Blue/green updates with deployment guardrails: UpdateEndpoint with ``DeploymentConfig``.

What it models, after SageMaker's documentation:

- https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green.html and the
  service model (``TrafficRoutingConfig``): SageMaker provisions a new fleet (green) on the new
  configuration beside the old one (blue), then shifts traffic: ``ALL_AT_ONCE`` in one step,
  ``CANARY`` ``CanarySize`` first and the rest after ``WaitIntervalInSeconds``, ``LINEAR``
  ``LinearStepSize`` at a time with ``WaitIntervalInSeconds`` between steps; after the last step
  it keeps blue for ``TerminationWaitInSeconds``, then terminates it. InvokeEndpoint answers from
  blue or green by the current share of traffic (:func:`route`).
- https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html: the
  alarms of ``AutoRollbackConfiguration`` are watched during the bake times and the termination
  wait; when one is in ALARM, SageMaker rolls back to blue. The endpoint is ``RollingBack`` while
  traffic returns, then ``InService`` on the old configuration with a ``FailureReason``
  (DescribeEndpoint). The exact wording of that reason is not documented; the emulator names the
  alarms. An alarm that does not exist is never in ALARM here (whether UpdateEndpoint refuses
  one is not documented either).
- DescribeEndpoint shows ``PendingDeploymentSummary`` (the configuration being rolled out, its
  start time) while the update runs, and ``LastDeploymentConfig`` after one (service model).
- Durations are scaled like Wait states (:mod:`._waits`), so a test's bake takes milliseconds.
- Cross-field rules of the service model's documentation: ``CanarySize`` for CANARY and
  ``LinearStepSize`` for LINEAR; as capacity percentages, a canary is at most 50% and a linear
  step 10 to 50% (``TrafficRoutingConfig``).
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError

from . import _waits
from ._state import LOCK, Endpoint, active_runtime, installed_runtime, start_daemon
from .runtime import EndpointSpec, HostingOutcome

#: How often a bake checks the alarms, in scaled seconds at most.
_TICK = 0.02


@dataclass
class Route:
    """Which hosts serve an endpoint: blue, and green with its share during a rollout."""

    blue_host: str
    blue_config: str
    green_host: str | None = None
    green_config: str | None = None
    green_share: float = 0.0
    #: DescribeEndpoint's extra members while and after a rollout.
    extras: dict[str, Any] = field(default_factory=dict)


_ROUTES: dict[str, Route] = {}


def route(endpoint_arn: str, endpoint_name: str, config_name: str) -> tuple[str, str]:
    """The host and configuration that answer this invocation."""
    with LOCK:
        current = _ROUTES.get(endpoint_arn)
        if current is None:
            return endpoint_name, config_name
        if current.green_host and current.green_config and random.random() < current.green_share:
            return current.green_host, current.green_config
        return current.blue_host, current.blue_config


def describe_extras(endpoint_arn: str) -> dict[str, Any]:
    with LOCK:
        current = _ROUTES.get(endpoint_arn)
        return copy.deepcopy(current.extras) if current else {}


def forget(endpoint_arn: str, endpoint_name: str) -> list[str]:
    """The hosts other than ``endpoint_name`` that served the endpoint (DeleteEndpoint, or a
    plain update that replaced them)."""
    with LOCK:
        current = _ROUTES.pop(endpoint_arn, None)
    if current is None:
        return []
    hosts = {current.blue_host, current.green_host} - {None, endpoint_name}
    return sorted(h for h in hosts if h)


def check(deployment_config: dict[str, Any]) -> None:
    """The documented cross-field rules (module docstring)."""
    policy = deployment_config.get("BlueGreenUpdatePolicy") or {}
    routing = policy.get("TrafficRoutingConfiguration") or {}
    kind = routing.get("Type")
    for needed, member, low in (("CANARY", "CanarySize", 1), ("LINEAR", "LinearStepSize", 10)):
        if kind != needed:
            continue
        size = routing.get(member)
        if not size:
            raise ValidationError(message=f"{member} must be specified for {kind} traffic routing.")
        if size.get("Type") == "CAPACITY_PERCENT" and not low <= int(size["Value"]) <= 50:
            raise ValidationError(
                message=f"{member}.Value must be between {low} and 50 for CAPACITY_PERCENT."
            )


def _steps(routing: dict[str, Any]) -> list[float]:
    kind = routing.get("Type", "ALL_AT_ONCE")
    if kind == "CANARY":
        return [int(routing["CanarySize"]["Value"]) / 100, 1.0]
    if kind == "LINEAR":
        step = int(routing["LinearStepSize"]["Value"]) / 100
        shares = [step * n for n in range(1, int(1 / step) + 1)]
        return [s for s in shares if s < 1.0] + [1.0]
    return [1.0]


@dataclass(frozen=True)
class Rollout:
    """One guarded update, run on a daemon thread."""

    endpoint: Endpoint
    spec: EndpointSpec
    config_variants: list[dict[str, Any]]
    deployment_config: dict[str, Any]
    is_current: Callable[[], bool]
    # DescribeEndpoint's DataCaptureConfig once the new configuration serves.
    data_capture_config: Any = None
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def _arn(self) -> str:
        return self.spec.endpoint_arn

    def _alarms_in_alarm(self) -> list[str]:
        names = [
            a["AlarmName"]
            for a in (self.deployment_config.get("AutoRollbackConfiguration") or {}).get(
                "Alarms", []
            )
        ]
        backend = cloudwatch_backends[self.spec.account_id][self.spec.region]
        alarms = backend.alarms
        return [n for n in names if n in alarms and alarms[n].state_value == "ALARM"]

    def _bake(self, seconds: float) -> list[str]:
        """Wait ``seconds`` (scaled), watching the alarms; the alarms in ALARM, if any."""
        deadline = time.monotonic() + seconds * _waits.scale
        while True:
            fired = self._alarms_in_alarm()
            if fired or time.monotonic() >= deadline:
                return fired
            time.sleep(min(_TICK, max(0.0, deadline - time.monotonic())))

    def run(self) -> None:
        policy = self.deployment_config.get("BlueGreenUpdatePolicy") or {}
        routing = policy.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE"}
        green_host = f"{self.spec.endpoint_name}--{self.spec.endpoint_config_name}"
        green_spec = EndpointSpec(**{**self.spec.__dict__, "endpoint_name": green_host})
        try:
            outcome = active_runtime().deploy(green_spec)
        except Exception as error:
            outcome = HostingOutcome.failed(f"InternalServerError: {type(error).__name__}: {error}")
        if not outcome.succeeded:
            self._roll_back(green_host, outcome.failure_reason or "The new fleet failed.")
            return
        with LOCK:
            current_or_none = _ROUTES.get(self._arn) if self.is_current() else None
            if current_or_none is not None:
                current = current_or_none
                current.green_host = green_host
                current.green_config = self.spec.endpoint_config_name
        if current_or_none is None:  # the endpoint was deleted meanwhile
            undeploy(green_host)
            return
        wait = float(routing.get("WaitIntervalInSeconds", 0))
        for share in _steps(routing):
            with LOCK:
                current.green_share = share
            fired = self._bake(wait if share < 1.0 or routing.get("Type") == "ALL_AT_ONCE" else 0)
            if fired:
                self._roll_back(green_host, _reason(fired))
                return
        fired = self._bake(float(policy.get("TerminationWaitInSeconds", 0)))
        if fired:
            self._roll_back(green_host, _reason(fired))
            return
        self._finish(current, green_host)

    def _finish(self, current: Route, green_host: str) -> None:
        with LOCK:
            if not self.is_current():
                undeploy(green_host)
                return
            blue_host = current.blue_host
            _ROUTES[self._arn] = Route(
                blue_host=green_host,
                blue_config=self.spec.endpoint_config_name,
                extras={"LastDeploymentConfig": copy.deepcopy(self.deployment_config)},
            )
            endpoint = self.endpoint
            endpoint.endpoint_config_name = self.spec.endpoint_config_name
            endpoint.production_variants = endpoint._process_production_variants(
                self.config_variants
            )
            endpoint.data_capture_config = self.data_capture_config
            endpoint.endpoint_status = "InService"
            endpoint.failure_reason = None
            endpoint.last_modified_time = utcnow()
        undeploy(blue_host)

    def _roll_back(self, green_host: str, reason: str) -> None:
        with LOCK:
            current = _ROUTES.get(self._arn)
            if current is None or not self.is_current():
                undeploy(green_host)
                return
            self.endpoint.endpoint_status = "RollingBack"
            current.green_share = 0.0
        # Traffic returns to blue, then green is terminated.
        self._bake(0)
        undeploy(green_host)
        with LOCK:
            current.green_host = current.green_config = None
            current.extras = {"LastDeploymentConfig": copy.deepcopy(self.deployment_config)}
            self.endpoint.endpoint_status = "InService"
            self.endpoint.failure_reason = reason
            self.endpoint.last_modified_time = utcnow()


def _reason(fired: list[str]) -> str:
    return (
        "Deployment rolled back: auto-rollback alarm(s) "
        f"{', '.join(fired)} went into ALARM state during the deployment."
    )


def undeploy(host: str) -> None:
    runtime = installed_runtime()
    if runtime is not None:
        try:
            runtime.undeploy(host)
        except Exception:  # terminating a fleet succeeds whatever the host says
            return


def start(rollout: Rollout, previous_config_name: str) -> None:
    """Begin ``rollout`` (the endpoint is ``Updating``); call with :data:`LOCK` held."""
    arn = rollout.spec.endpoint_arn
    current = _ROUTES.get(arn)
    if current is None:
        current = _ROUTES[arn] = Route(
            blue_host=rollout.spec.endpoint_name, blue_config=previous_config_name
        )
    current.extras = {
        "PendingDeploymentSummary": {
            "EndpointConfigName": rollout.spec.endpoint_config_name,
            "StartTime": utcnow(),
        }
    }
    start_daemon(f"rollout-{rollout.spec.endpoint_name}", rollout.run)
