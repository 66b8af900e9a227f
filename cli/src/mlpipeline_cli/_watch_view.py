"""What ``watch`` prints: the run by its steps (the default), or every state (``--verbose``).

A view turns each :class:`WatchEvent` into the lines to print (none, one or a few) and keeps what
the live status line on a terminal shows. :class:`StepView` groups the states into the steps of
:mod:`._watch_steps` (check input, train, evaluate, deploy, wait for the endpoint, and a hook's
own steps): a line when a step is done, with its duration; the training job's secondary statuses
and metrics; the endpoint's statuses; and the end of the run. Errors that the state machine
catches and goes on from (the endpoint does not exist yet, so it is created; an endpoint busy
with another update is waited for; a throttled call is tried again) are not shown as errors: the
run did not fail there. An error on the way to failing the run is shown once, at the end, with
the step the run failed in. :class:`StateView` prints every state, as ``--verbose``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from mlpipeline_cdk.contract.registry import LATEST
from mlpipeline_cdk.contract.run_input import MODEL_PACKAGE

from ._history import deploy_target, format_duration, loads, shorten, summarize_output
from ._watch_events import WatchEvent
from ._watch_steps import StepMap, humanize

_CAUSE_LIMIT = 240
_STEP_WIDTH_LIMIT = 24


@dataclass(frozen=True)
class Line:
    timestamp: datetime
    text: str
    #: Show the date too (the first line of a run).
    dated: bool = False


class View(Protocol):
    def render(self, event: WatchEvent) -> list[Line]: ...

    def status(self, now: datetime) -> str: ...


def error_text(error: Any, cause: Any, *, limit: int | None = None) -> str:
    parsed = loads(cause)
    if isinstance(parsed, dict) and parsed.get("FailureReason"):
        # A task's cause can be a whole resource description (a failed training job).
        cause = parsed["FailureReason"]
    text = ": ".join(str(part) for part in (error, cause) if part)
    return shorten(text, limit) if limit else " ".join(text.split())


def metric_text(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _metrics(details: Any, separator: str) -> str:
    return separator.join(f"{k}={metric_text(v)}" for k, v in sorted(details["metrics"].items()))


def _training_status(details: Any) -> str:
    status = str(details.get("status") or details.get("secondaryStatus"))
    extra = details.get("failureReason") or details.get("message")
    return f"{status} - {' '.join(str(extra).split())}" if extra else status


def _endpoint_status(details: Any) -> str:
    text = f"endpoint {details.get('endpointName')}: {details.get('status')}"
    return f"{text} - {details['failureReason']}" if details.get("failureReason") else text


class _Progress:
    """What the status line shows besides where the run is: training, metrics, endpoint."""

    def __init__(self) -> None:
        self.started: datetime | None = None
        self.training = ""
        self.metrics = ""
        self.endpoint = ""

    def track(self, event: WatchEvent) -> None:
        details = event.details
        if event.type == "execution_started":
            self.started = event.timestamp
        elif event.type == "training_job_status":
            self.training = str(details.get("status") or details.get("secondaryStatus"))
        elif event.type == "training_metrics":
            self.metrics = _metrics(details, " ")
        elif event.type == "endpoint_status":
            self.endpoint = str(details.get("status"))

    def line(self, now: datetime, where: tuple[str, datetime] | None) -> str:
        parts = []
        if self.started is not None:
            parts.append(f"running {format_duration((now - self.started).total_seconds())}")
        if where is not None:
            name, since = where
            parts.append(f"{name} {format_duration((now - since).total_seconds())}")
        if self.training:
            parts.append(f"training {self.training}")
        if self.metrics:
            parts.append(self.metrics)
        if self.endpoint:
            parts.append(f"endpoint {self.endpoint}")
        return " | ".join(parts)


# ------------------------------------------------------------------------------ every state


def describe_event(event: WatchEvent) -> str:
    """The text of one event, without its time, as ``--verbose`` prints it."""
    details = event.details
    if event.type == "execution_started":
        return f"run {details.get('name')} started" + _deploys(details.get("input"))
    if event.type == "state_entered":
        return f"started  {event.state}"
    if event.type == "state_exited":
        return f"done     {event.state} ({format_duration(event.elapsed)})"
    if event.type == "state_error":
        error = error_text(details.get("error"), details.get("cause"), limit=_CAUSE_LIMIT)
        return f"error    {event.state}: {error}"
    if event.type == "training_job_requested":
        return f"         training job {details['trainingJobName']} requested"
    if event.type == "training_job_status":
        return f"         training job {details['trainingJobName']}: {_training_status(details)}"
    if event.type == "training_metrics":
        metrics = _metrics(details, ", ")
        return f"         training job {details['trainingJobName']} metrics: {metrics}"
    if event.type == "endpoint_status":
        return f"         {_endpoint_status(details)}"
    if event.type == "execution_ended":
        return final_line(event)
    return f"{event.type} {dict(details)}"


def _deploys(run_input: Any) -> str:
    """``: deploys version 3 of GROUP`` for a run that trains nothing and deploys a version."""
    if isinstance(run_input, dict) and run_input.get(MODEL_PACKAGE):
        target = deploy_target(run_input[MODEL_PACKAGE])
        return f": deploys {target}" + (" (the newest Approved)" if target == LATEST else "")
    return ""


def final_line(event: WatchEvent, where: str | None = None) -> str:
    """The last line: how the run ended, after how long; ``where`` it failed, and why."""
    details = event.details
    status = details.get("status")
    took = f" after {format_duration(event.elapsed)}" if event.elapsed is not None else ""
    if status == "SUCCEEDED":
        return f"SUCCEEDED{took}: {summarize_output(details.get('output'))}"
    where = where or details.get("failedState")
    place = f" in {where}" if where else ""
    error = error_text(details.get("error"), details.get("cause"))
    return f"{status}{took}{place}" + (f": {error}" if error else "")


class StateView:
    """Every event on a line of its own (``--verbose``)."""

    def __init__(self) -> None:
        self._progress = _Progress()
        self._state: tuple[str, datetime] | None = None

    def render(self, event: WatchEvent) -> list[Line]:
        self._progress.track(event)
        if event.type == "state_entered" and event.state:
            self._state = (event.state, event.timestamp)
        return [Line(event.timestamp, describe_event(event), event.type == "execution_started")]

    def status(self, now: datetime) -> str:
        return self._progress.line(now, self._state)


# ------------------------------------------------------------------------------ the steps


@dataclass
class _Step:
    name: str
    started: datetime


class StepView:
    """The run by its steps. ``steps`` gives the map once, on first need (it reads the
    definition); when it gives ``None``, every state is shown as :class:`StateView` does."""

    def __init__(self, steps: Callable[[], StepMap | None]) -> None:
        self._load = steps
        self._map: StepMap | None = None
        self._loaded = False
        self._fallback = StateView()
        self._progress = _Progress()
        self._step: _Step | None = None
        self._done: set[str] = set()
        self._failing: datetime | None = None
        self._caught: tuple[str | None, str] | None = None
        self._width = 0

    @property
    def steps(self) -> StepMap | None:
        if not self._loaded:
            self._loaded = True
            self._map = self._load()
            if self._map is not None:
                named = [len(s) for s in self._map.steps.values() if s is not None]
                self._width = min(max(named, default=0), _STEP_WIDTH_LIMIT)
        return self._map

    def render(self, event: WatchEvent) -> list[Line]:
        if event.type == "execution_started":
            self._progress.track(event)
            self._fallback.render(event)
            return [Line(event.timestamp, describe_event(event), dated=True)]
        steps = self.steps
        if steps is None:
            return self._fallback.render(event)
        self._progress.track(event)
        if event.type == "state_entered":
            return self._entered(steps, event)
        if event.type == "state_error":
            error = error_text(event.details.get("error"), event.details.get("cause"), limit=160)
            self._caught = (event.state, error)
            return []
        if event.type == "execution_ended":
            return self._ended(event)
        text = self._detail(event)
        return [self._line(event.timestamp, text)] if text else []

    def _detail(self, event: WatchEvent) -> str | None:
        details = event.details
        if event.type == "training_job_requested":
            return f"training job {details['trainingJobName']}"
        if event.type == "training_job_status":
            return _training_status(details)
        if event.type == "training_metrics":
            return f"metrics {_metrics(details, ', ')}"
        if event.type == "endpoint_status":
            return _endpoint_status(details)
        return None  # a state's end: the step's end says how long it took

    def _line(self, when: datetime, text: str, step: str | None = None) -> Line:
        name = step or (self._step.name if self._step else "")
        return Line(when, f"{name:<{self._width}}  {text}")

    def _entered(self, steps: StepMap, event: WatchEvent) -> list[Line]:
        name, when = event.state, event.timestamp
        if steps.is_failure_path(name):
            # The run fails in the step it is in; the end says why.
            self._failing = self._failing or when
            return []
        lines: list[Line] = []
        step = steps.step_of(name)
        new_step = step is not None and (self._step is None or step != self._step.name)
        if new_step and step is not None and self._failing is None and step not in self._done:
            lines.extend(self._close(when, "done"))
            self._step = _Step(step, when)
            self._caught = None
        caught = self._caught
        if caught is not None and caught[0] == name:
            # Caught, and the state is tried again (a retry loop of the state machine's own).
            self._caught = None
            lines.append(self._line(when, f"{humanize(name or '')} again after {caught[1]}"))
        action = steps.actions.get(name or "")
        if action == ("sagemaker", "createEndpoint"):
            lines.append(self._line(when, "creating the endpoint"))
        elif action == ("sagemaker", "updateEndpoint"):
            lines.append(self._line(when, "updating the endpoint"))
        return lines

    def _close(self, when: datetime, how: str) -> list[Line]:
        step = self._step
        if step is None:
            return []
        self._done.add(step.name)
        self._step = None
        took = format_duration((when - step.started).total_seconds())
        text = f"done in {took}" if how == "done" else f"{how} after {took}"
        return [self._line(when, text, step.name)]

    def _ended(self, event: WatchEvent) -> list[Line]:
        where = self._step.name if self._step else None
        status = event.details.get("status")
        if status == "SUCCEEDED":
            lines = self._close(event.timestamp, "done")
        else:
            how = "stopped" if status == "ABORTED" else "failed"
            lines = self._close(self._failing or event.timestamp, how)
        return [*lines, Line(event.timestamp, final_line(event, where))]

    def status(self, now: datetime) -> str:
        if self._map is None:
            return self._fallback.status(now)
        where = (self._step.name, self._step.started) if self._step else None
        return self._progress.line(now, where)
