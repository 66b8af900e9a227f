"""Follow one execution: its states from the history, its training job and endpoint live.

:class:`ExecutionWatcher` turns GetExecutionHistory events (fetched newest first, only the ones
not seen yet) and DescribeTrainingJob / DescribeEndpoint answers into :class:`WatchEvent` s,
polling until the execution ends. Nothing here depends on a state's name: the states during
which the endpoint is polled are given (``watch`` takes them from the definition, see
:mod:`._watch_steps`; :data:`ENDPOINT_STATES` are the pipeline's, for when it cannot be read);
the training job and the endpoint are found from the tasks the execution schedules:

- a ``sagemaker:createTrainingJob`` task's ``TaskScheduled`` event carries the resolved
  ``TrainingJobName`` in its parameters (``TaskSubmitted`` carries its ARN); the task's result
  (``TaskSucceeded`` output, or the cause of ``TaskFailed``) is the final DescribeTrainingJob;
- a ``sagemaker`` create/update/describe/delete-endpoint task carries ``EndpointName``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ._aws import error_code, error_message, is_client_error
from ._history import (
    EXECUTION_END_EVENTS,
    as_datetime,
    event_details,
    failing_state,
    iso,
    loads,
    metrics_of,
)
from ._watch_events import ExecutionResult, WatchEvent, utcnow

__all__ = ["ENDPOINT_STATES", "ExecutionResult", "ExecutionWatcher", "WatchEvent", "utcnow"]

#: States of the pipeline's deployment fragment; while one runs, the endpoint is polled. Used
#: when the definition cannot be read.
ENDPOINT_STATES: Final = frozenset(
    {
        "FindEndpoint",
        "WaitForIdleEndpoint",
        "CreateEndpoint",
        "UpdateEndpoint",
        "StartPollingEndpoint",
        "WaitForEndpoint",
        "DescribeEndpoint",
        "CheckEndpoint",
        "CountPoll",
        "KeepWaiting",
    }
)
_ENDPOINT_ACTIONS: Final = frozenset(
    {"createEndpoint", "updateEndpoint", "describeEndpoint", "deleteEndpoint"}
)
# Once the run creates or updates the endpoint, its status is what the rest of the run waits on.
_ENDPOINT_CHANGES: Final = frozenset({"createEndpoint", "updateEndpoint"})
_TRAINING_ENDED: Final = frozenset({"Completed", "Failed", "Stopped"})


@dataclass
class _TrainingJob:
    state: str | None
    name: str | None
    seen_transitions: set[tuple[str, str, str]] = field(default_factory=set)
    secondary: str | None = None
    status: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    observed: bool = False
    finished: bool = False


class ExecutionWatcher:
    """Yields :class:`WatchEvent` s for ``execution_arn`` until the execution has ended.

    ``sagemaker`` makes the SageMaker client, on first need only (a run that never gets to
    training costs no SageMaker calls). ``sleep`` is called with ``interval`` between polls (the
    terminal display redraws while it waits). ``endpoint_name`` is used while a deployment state
    runs whose task parameters did not name the endpoint. A finished execution is rendered from
    its history alone, plus at most one DescribeTrainingJob when the history does not hold the
    job's description. ``endpoint_states`` may be a function giving them, called on the first
    state entered.
    """

    def __init__(
        self,
        stepfunctions: Any,
        sagemaker: Callable[[], Any],
        execution_arn: str,
        *,
        interval: float = 5.0,
        endpoint_name: str | None = None,
        endpoint_states: frozenset[str] | Callable[[], frozenset[str]] = ENDPOINT_STATES,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utcnow,
        page_size: int = 100,
    ) -> None:
        self._sfn = stepfunctions
        self._make_sagemaker = sagemaker
        self._sagemaker_client: Any = None
        self.execution_arn = execution_arn
        self._interval = interval
        self._fallback_endpoint = endpoint_name
        self._endpoint_states_given = endpoint_states
        self._endpoint_states: frozenset[str] | None = None
        self._sleep = sleep
        self._clock = clock
        self._page_size = page_size
        self._seen_id = 0
        self.history: list[dict[str, Any]] = []
        self._active: list[tuple[str, datetime]] = []
        self._started: datetime | None = None
        self._training: _TrainingJob | None = None
        self._task: tuple[str | None, str, str] | None = None
        self._endpoint_name: str | None = None
        self._endpoint_active = False
        self._last_endpoint: tuple[Any, ...] | None = None
        self._last_endpoint_at: datetime | None = None
        self.result: ExecutionResult | None = None

    @property
    def _sagemaker(self) -> Any:
        if self._sagemaker_client is None:
            self._sagemaker_client = self._make_sagemaker()
        return self._sagemaker_client

    # ------------------------------------------------------------------ the loop

    def events(self) -> Iterator[WatchEvent]:
        while True:
            for raw in self._new_history():
                yield from self._on_history_event(raw)
            if self.result is not None:
                return
            yield from self._poll_resources()
            self._sleep(self._interval)

    def _new_history(self) -> list[dict[str, Any]]:
        """History events not seen yet, oldest first.

        Pages are read newest first and reading stops at the first page that reaches back to an
        event already seen, so a long run costs one call per poll.
        """
        fresh: dict[int, dict[str, Any]] = {}
        token: str | None = None
        while True:
            request: dict[str, Any] = {
                "executionArn": self.execution_arn,
                "reverseOrder": True,
                "maxResults": self._page_size,
                "includeExecutionData": True,
            }
            if token:
                request["nextToken"] = token
            page = self._sfn.get_execution_history(**request)
            events = page.get("events", [])
            for event in events:
                if int(event["id"]) > self._seen_id:
                    fresh[int(event["id"])] = event
            token = page.get("nextToken")
            if not token or any(int(event["id"]) <= self._seen_id for event in events):
                break
        ordered = [fresh[i] for i in sorted(fresh)]
        if ordered:
            self._seen_id = int(ordered[-1]["id"])
        self.history.extend(ordered)
        return ordered

    # ------------------------------------------------------------------ history events

    @property
    def _current_state(self) -> str | None:
        return self._active[-1][0] if self._active else None

    def _on_history_event(self, raw: Mapping[str, Any]) -> Iterator[WatchEvent]:
        kind = str(raw["type"])
        when = as_datetime(raw.get("timestamp")) or self._clock()
        details = event_details(raw)
        if kind == "ExecutionStarted":
            self._started = when
            yield WatchEvent(
                "execution_started",
                when,
                details={
                    "executionArn": self.execution_arn,
                    "name": self.execution_arn.rsplit(":", 1)[-1],
                    "input": loads(details.get("input")),
                },
            )
        elif kind.endswith("StateEntered"):
            yield self._on_state_entered(kind, details, when)
        elif kind.endswith("StateExited"):
            yield from self._on_state_exited(kind, details, when)
        elif kind == "TaskScheduled":
            yield from self._on_task_scheduled(details, when)
        elif kind == "TaskSubmitted":
            self._on_task_submitted(details)
        elif kind == "TaskSucceeded":
            yield from self._on_task_result(loads(details.get("output")), when)
        elif kind in EXECUTION_END_EVENTS:
            yield from self._on_end(kind, details, when)
        elif kind.endswith(("Failed", "TimedOut")) and not kind.startswith("Execution"):
            yield from self._on_state_failure(kind, details, when)

    def _on_state_entered(
        self, kind: str, details: Mapping[str, Any], when: datetime
    ) -> WatchEvent:
        name = str(details.get("name"))
        self._active.append((name, when))
        if self._endpoint_states is None:
            given = self._endpoint_states_given
            self._endpoint_states = given if isinstance(given, frozenset) else given()
        if name in self._endpoint_states:
            self._endpoint_active = True
        return WatchEvent(
            "state_entered", when, name, details={"stateType": kind[: -len("StateEntered")]}
        )

    def _on_state_exited(
        self, kind: str, details: Mapping[str, Any], when: datetime
    ) -> Iterator[WatchEvent]:
        name = str(details.get("name"))
        entered = self._leave(name)
        yield from self._finish_training(name, when)
        yield WatchEvent(
            "state_exited",
            when,
            name,
            elapsed=(when - entered).total_seconds() if entered else None,
            details={"stateType": kind[: -len("StateExited")]},
        )

    def _on_state_failure(
        self, kind: str, details: Mapping[str, Any], when: datetime
    ) -> Iterator[WatchEvent]:
        error, cause = details.get("error"), details.get("cause")
        yield from self._on_task_result(loads(cause), when)
        if error or cause:
            yield WatchEvent(
                "state_error",
                when,
                self._current_state,
                details={"event": kind, "error": error, "cause": cause},
            )

    def _leave(self, name: str) -> datetime | None:
        for index in range(len(self._active) - 1, -1, -1):
            if self._active[index][0] == name:
                return self._active.pop(index)[1]
        return None

    def _on_task_scheduled(
        self, details: Mapping[str, Any], when: datetime
    ) -> Iterator[WatchEvent]:
        service = str(details.get("resourceType", "")).removeprefix("aws-sdk:")
        action = str(details.get("resource", "")).split(".", 1)[0]
        parameters = loads(details.get("parameters"))
        parameters = parameters if isinstance(parameters, dict) else {}
        state = self._current_state
        self._task = (state, service, action)
        if service != "sagemaker":
            return
        if action == "createTrainingJob":
            name = parameters.get("TrainingJobName")
            # Each attempt (a retry included) creates a job of its own.
            self._training = _TrainingJob(state=state, name=str(name) if name else None)
            if name:
                yield WatchEvent(
                    "training_job_requested", when, state, details={"trainingJobName": name}
                )
        elif action in _ENDPOINT_ACTIONS:
            if parameters.get("EndpointName"):
                self._endpoint_name = str(parameters["EndpointName"])
            if action in _ENDPOINT_CHANGES:
                self._endpoint_active = True

    def _on_task_submitted(self, details: Mapping[str, Any]) -> None:
        job = self._training
        if job is None or job.name or self._task is None or self._task[2] != "createTrainingJob":
            return
        output = loads(details.get("output"))
        arn = output.get("TrainingJobArn") if isinstance(output, dict) else None
        if isinstance(arn, str) and "/" in arn:
            job.name = arn.rsplit("/", 1)[-1]

    def _on_task_result(self, result: Any, when: datetime) -> Iterator[WatchEvent]:
        if not isinstance(result, dict) or self._task is None:
            return
        _, service, action = self._task
        if service != "sagemaker":
            return
        if action == "createTrainingJob" and "TrainingJobStatus" in result:
            yield from self._observe_training(result, when)
        elif action in _ENDPOINT_ACTIONS and "EndpointStatus" in result:
            yield from self._observe_endpoint(result, when)

    def _finish_training(self, state: str, when: datetime) -> Iterator[WatchEvent]:
        job = self._training
        if job is None or job.finished or job.state != state:
            return
        if not job.observed and job.name:
            # The history did not hold the job's description (execution data withheld).
            description = self._describe_training_job(job.name)
            if description is not None:
                yield from self._observe_training(description, when)
        job.finished = True

    def _on_end(
        self, kind: str, details: Mapping[str, Any], when: datetime
    ) -> Iterator[WatchEvent]:
        if self._training is not None and self._training.state is not None:
            yield from self._finish_training(self._training.state, when)
        status = EXECUTION_END_EVENTS[kind]
        output = loads(details.get("output"))
        if status == "SUCCEEDED" and output is None and "output" not in details:
            described = self._sfn.describe_execution(executionArn=self.execution_arn)
            output = loads(described.get("output"))
        result = ExecutionResult(
            status=status,
            error=details.get("error"),
            cause=details.get("cause"),
            output=output,
            failed_state=None if status == "SUCCEEDED" else failing_state(self.history),
        )
        self.result = result
        elapsed = (when - self._started).total_seconds() if self._started else None
        body: dict[str, Any] = {"status": status}
        if status == "SUCCEEDED":
            body["output"] = output
        else:
            body.update(error=result.error, cause=result.cause, failedState=result.failed_state)
        yield WatchEvent("execution_ended", when, result.failed_state, elapsed, body)

    # ------------------------------------------------------------------ live resources

    def _poll_resources(self) -> Iterator[WatchEvent]:
        now = self._clock()
        job = self._training
        active = {name for name, _ in self._active}
        if job is not None and job.name and not job.finished and job.state in active:
            description = self._describe_training_job(job.name)
            if description is not None:
                yield from self._observe_training(description, now)
        endpoint = self._endpoint_name or self._fallback_endpoint
        if self._endpoint_active and endpoint:
            try:
                description = self._sagemaker.describe_endpoint(EndpointName=endpoint)
            except Exception as exc:
                if not _is_missing(exc):
                    raise
                return  # not created yet
            yield from self._observe_endpoint(description, now)

    def _describe_training_job(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self._sagemaker.describe_training_job(TrainingJobName=name))
        except Exception as exc:
            if _is_missing(exc):
                return None  # scheduled, not created yet
            raise

    def _observe_training(
        self, description: Mapping[str, Any], when: datetime
    ) -> Iterator[WatchEvent]:
        """What is new in a DescribeTrainingJob answer, in the order it happened."""
        job = self._training
        if job is None:
            return
        job.observed = True
        name = str(description.get("TrainingJobName") or job.name)
        job.name = name
        found: list[WatchEvent] = []
        transitions = description.get("SecondaryStatusTransitions") or []
        for transition in transitions:
            if not isinstance(transition, dict):
                continue
            started = as_datetime(transition.get("StartTime"))
            # The same time comes as a datetime from boto3, as epoch milliseconds in the history.
            key = (
                str(transition.get("Status")),
                iso(started) or str(transition.get("StartTime")),
                str(transition.get("StatusMessage", "")),
            )
            if key in job.seen_transitions:
                continue
            job.seen_transitions.add(key)
            job.secondary = key[0]
            found.append(
                WatchEvent(
                    "training_job_status",
                    started or when,
                    job.state,
                    details={
                        "trainingJobName": name,
                        "secondaryStatus": transition.get("Status"),
                        "message": transition.get("StatusMessage"),
                    },
                )
            )
        secondary = description.get("SecondaryStatus")
        if not transitions and secondary and secondary != job.secondary:
            job.secondary = str(secondary)
            found.append(
                WatchEvent(
                    "training_job_status",
                    when,
                    job.state,
                    details={"trainingJobName": name, "secondaryStatus": secondary},
                )
            )
        metrics_list = description.get("FinalMetricDataList") or []
        metrics = metrics_of(metrics_list)
        if metrics and metrics != job.metrics:
            job.metrics = metrics
            stamps = [as_datetime(m.get("Timestamp")) for m in metrics_list if isinstance(m, dict)]
            known = [stamp for stamp in stamps if stamp is not None]
            found.append(
                WatchEvent(
                    "training_metrics",
                    max(known) if known else when,
                    job.state,
                    details={"trainingJobName": name, "metrics": metrics},
                )
            )
        status = description.get("TrainingJobStatus")
        reason = description.get("FailureReason")
        if status in _TRAINING_ENDED and status != job.status:
            job.status = str(status)
            # Worth a line of its own when it says more than the last secondary status did.
            if reason or status != job.secondary:
                body: dict[str, Any] = {"trainingJobName": name, "status": status}
                if reason:
                    body["failureReason"] = reason
                found.append(
                    WatchEvent(
                        "training_job_status",
                        as_datetime(description.get("TrainingEndTime")) or when,
                        job.state,
                        details=body,
                    )
                )
        yield from sorted(found, key=lambda event: event.timestamp)

    def _observe_endpoint(
        self, description: Mapping[str, Any], when: datetime
    ) -> Iterator[WatchEvent]:
        name = description.get("EndpointName") or self._endpoint_name or self._fallback_endpoint
        status = description.get("EndpointStatus")
        reason = description.get("FailureReason")
        key = (name, status, reason)
        # A status the history reports from before the last live answer is old news.
        if key == self._last_endpoint or (
            self._last_endpoint_at is not None and when < self._last_endpoint_at
        ):
            return
        self._last_endpoint = key
        self._last_endpoint_at = when
        body: dict[str, Any] = {"endpointName": name, "status": status}
        if reason:
            body["failureReason"] = reason
        yield WatchEvent("endpoint_status", when, self._current_state, details=body)


def _is_missing(exc: Exception) -> bool:
    """SageMaker's answer for a job or endpoint that does not exist (yet)."""
    return (
        is_client_error(exc)
        and error_code(exc) in {"ValidationException", "ResourceNotFound"}
        and ("Could not find" in error_message(exc) or "not found" in error_message(exc))
    )
