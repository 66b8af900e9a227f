"""A runtime that plays back what a test scripted, and records what it was asked.

>>> runtime = ScriptedRuntime(training=TrainingOutcome.success({"test:accuracy": 0.97}))
>>> runtime.script_training(TrainingOutcome.failure("AlgorithmError: out of memory"),
...                         job_name="bad-*")
>>> runtime.script_hosting(HostingOutcome.failed("Model failed to load"), config_name="cfg-v2")

Training jobs and deployments take ``seconds`` (a few tens of milliseconds by default), so a
caller sees them ``InProgress``, ``Creating`` or ``Updating`` first. Rules are matched newest
first, with shell-style patterns (:func:`fnmatch.fnmatchcase`); with no match the defaults apply.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .runtime import (
    RUNNING_STATUSES,
    EndpointSpec,
    HostingOutcome,
    InvocationRequest,
    InvocationResult,
    TrainingJobSpec,
    TrainingOutcome,
    TrainingProgress,
)

DEFAULT_SECONDS = 0.05

Responder = Callable[[InvocationRequest], InvocationResult]


@dataclass(frozen=True)
class _TrainingRule:
    job_name: str
    outcome: TrainingOutcome
    seconds: float


@dataclass(frozen=True)
class _HostingRule:
    endpoint_name: str
    config_name: str
    outcome: HostingOutcome
    seconds: float


def echo(request: InvocationRequest) -> InvocationResult:
    """The default responder: the request's body back, as its own content type."""
    return InvocationResult(body=request.body, content_type=request.content_type or "text/plain")


class ScriptedRuntime:
    """A :class:`~mlpipeline_emulator.runtime.LocalRuntime` that runs nothing.

    :param training: Outcome of jobs no rule matches. Default: success with no metrics.
    :param training_seconds: How long such a job stays ``InProgress``.
    :param hosting: Outcome of deployments no rule matches. Default: ``InService``.
    :param hosting_seconds: How long such an endpoint stays ``Creating`` or ``Updating``.
    :param responder: Answers InvokeEndpoint. Default: :func:`echo`.
    """

    def __init__(
        self,
        *,
        training: TrainingOutcome | None = None,
        training_seconds: float = DEFAULT_SECONDS,
        hosting: HostingOutcome | None = None,
        hosting_seconds: float = DEFAULT_SECONDS,
        responder: Responder = echo,
    ) -> None:
        self._lock = threading.Lock()
        self._training_rules = [
            _TrainingRule("*", training or TrainingOutcome.success(), training_seconds)
        ]
        self._hosting_rules = [
            _HostingRule("*", "*", hosting or HostingOutcome.in_service(), hosting_seconds)
        ]
        self._responder = responder
        #: Every training job run, in order.
        self.training_jobs: list[TrainingJobSpec] = []
        #: Every deployment (creation or update), in order.
        self.deployments: list[EndpointSpec] = []
        #: Every endpoint taken down, in order.
        self.undeployed: list[str] = []
        #: Every InvokeEndpoint request, in order.
        self.invocations: list[InvocationRequest] = []

    def script_training(
        self, outcome: TrainingOutcome, *, job_name: str = "*", seconds: float = DEFAULT_SECONDS
    ) -> None:
        """Jobs whose name matches ``job_name`` end with ``outcome`` after ``seconds``."""
        with self._lock:
            self._training_rules.append(_TrainingRule(job_name, outcome, seconds))

    def script_hosting(
        self,
        outcome: HostingOutcome,
        *,
        endpoint_name: str = "*",
        config_name: str = "*",
        seconds: float = DEFAULT_SECONDS,
    ) -> None:
        """Deployments of a matching endpoint to a matching configuration end with ``outcome``."""
        with self._lock:
            self._hosting_rules.append(_HostingRule(endpoint_name, config_name, outcome, seconds))

    def respond_with(self, responder: Responder) -> None:
        """Answer InvokeEndpoint with ``responder`` from now on."""
        self._responder = responder

    # --- TrainingRunner ----------------------------------------------------------------------

    def run(self, job: TrainingJobSpec, progress: TrainingProgress) -> TrainingOutcome:
        with self._lock:
            self.training_jobs.append(job)
            rule = next(
                r for r in reversed(self._training_rules) if fnmatchcase(job.name, r.job_name)
            )
        step = rule.seconds / len(RUNNING_STATUSES)
        for status in RUNNING_STATUSES:
            if not rule.outcome.succeeded and status == "Uploading":
                break
            progress.enter(status)
            if progress.wait_for_stop(step):
                break
        return rule.outcome

    # --- EndpointHost ------------------------------------------------------------------------

    def deploy(self, endpoint: EndpointSpec) -> HostingOutcome:
        with self._lock:
            self.deployments.append(endpoint)
            rule = next(
                r
                for r in reversed(self._hosting_rules)
                if fnmatchcase(endpoint.endpoint_name, r.endpoint_name)
                and fnmatchcase(endpoint.endpoint_config_name, r.config_name)
            )
        time.sleep(rule.seconds)
        return rule.outcome

    def undeploy(self, endpoint_name: str) -> None:
        with self._lock:
            self.undeployed.append(endpoint_name)

    def invoke(self, request: InvocationRequest) -> InvocationResult:
        with self._lock:
            self.invocations.append(request)
            responder = self._responder
        return responder(request)

    def __repr__(self) -> str:
        counts = {
            "training_jobs": len(self.training_jobs),
            "deployments": len(self.deployments),
            "undeployed": len(self.undeployed),
            "invocations": len(self.invocations),
        }
        return f"ScriptedRuntime({json.dumps(counts)})"
