"""Reading Step Functions execution histories and outputs: times, JSON payloads, summaries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Final

from mlpipeline_cdk.contract import run_input, run_output

from ._context import PROG

#: The history events that end an execution, and the status each one means.
EXECUTION_END_EVENTS: Final = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionTimedOut": "TIMED_OUT",
    "ExecutionAborted": "ABORTED",
}
# datetime.UTC needs Python 3.11; the library supports 3.10.
UTC: Final = timezone.utc  # noqa: UP017
# Epoch numbers above this are milliseconds (service integrations report dates so).
_MILLISECONDS_FROM: Final = 10**11


def as_datetime(value: Any) -> datetime | None:
    """A timezone-aware time from a boto3 datetime, epoch seconds or milliseconds, or ISO text."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = value / 1000 if abs(value) >= _MILLISECONDS_FROM else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def iso(value: datetime | None) -> str | None:
    """``value`` in UTC as ISO 8601 text, as the JSON output gives every time."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_time(value: datetime, *, date: bool = False) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{max(seconds, 0):.1f}s"
    whole = int(seconds)  # a clock: 59.9 seconds are not yet a minute
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def loads(text: Any) -> Any:
    """The JSON value of ``text``; ``None`` when it is absent or not JSON (e.g. truncated)."""
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def event_details(event: Mapping[str, Any]) -> dict[str, Any]:
    """The ``...EventDetails`` member of a history event (each event type has its own)."""
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _endpoint_part(output: dict[str, Any]) -> str:
    endpoint = f"endpoint {output[run_output.ENDPOINT_NAME]}"
    if output.get(run_output.ENDPOINT_STATUS):
        endpoint += f" {output[run_output.ENDPOINT_STATUS]}"
    if output.get(run_output.DEPLOYMENT_STATUS) == run_output.SUPERSEDED:
        endpoint += " (superseded: a run that started later serves its model)"
    elif output.get(run_output.ROLLOUT_STRATEGY) not in (None, "none"):
        endpoint += f" after a {output[run_output.ROLLOUT_STRATEGY]} rollout"
    return endpoint


def approve_command(version: Any) -> str:
    """The command that approves a version: ``mlpipeline approve 3``."""
    return f"{PROG} approve {version}"


def deploy_target(model_package: Any) -> str:
    """What a run's ``modelPackage`` input deploys: ``version 3 of GROUP`` or ``latest``."""
    text = str(model_package)
    parts = text.split(":model-package/", 1)[-1].split("/")
    if text.startswith("arn:") and len(parts) == 2:
        return f"version {parts[1]} of {parts[0]}"
    return text


def version_part(output: dict[str, Any]) -> str | None:
    """What a run's output says of the model registry: the version it registered or deployed,
    and for a run that awaits approval, the command that approves it."""
    version = output.get(run_output.MODEL_PACKAGE_VERSION)
    if version is None:
        return None
    if output.get(run_output.DEPLOYMENT_STATUS) == run_output.AWAITING_APPROVAL:
        return f"version {version} awaiting approval (approve it with: {approve_command(version)})"
    return f"version {version}"


def summarize_output(output: Any, *, limit: int = 200) -> str:
    """One line for a run's output: accuracy, the registry's version, endpoint, model and
    training job when present."""
    parts = []
    if isinstance(output, dict):
        if run_output.ACCURACY in output:
            accuracy = f"accuracy {_number(output[run_output.ACCURACY])}"
            if run_output.ACCURACY_THRESHOLD in output:
                accuracy += f" (threshold {_number(output[run_output.ACCURACY_THRESHOLD])})"
            parts.append(accuracy)
        version = version_part(output)
        if version:
            parts.append(version)
        if output.get(run_output.ENDPOINT_NAME):
            parts.append(_endpoint_part(output))
        if output.get(run_output.MODEL_NAME):
            parts.append(f"model {output[run_output.MODEL_NAME]}")
        if output.get(run_output.TRAINING_JOB_NAME):
            parts.append(f"training job {output[run_output.TRAINING_JOB_NAME]}")
    if parts:
        return ", ".join(parts)
    if output is None:
        return "no output"
    return "output " + shorten(json.dumps(output, separators=(",", ":")), limit)


def _carries_error(value: Any, error: str, cause: str | None, depth: int = 0) -> bool:
    if depth > 4:
        return False
    if isinstance(value, dict):
        if value.get("Error") == error and (cause is None or value.get("Cause") == cause):
            return True
        return any(_carries_error(v, error, cause, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_carries_error(v, error, cause, depth + 1) for v in value[:50])
    return False


def failing_state(events: Sequence[Mapping[str, Any]]) -> str | None:
    """The state a failed execution failed in, from its history (events in ascending order).

    That is the last state entered before ``ExecutionFailed``; but where the error was caught
    and handed on (to a notification and then a ``Fail`` state that re-raises ``$.error``),
    the states that only carried the error on are passed over: the answer is the last state
    whose input did not yet hold the execution's error and cause. When inputs are missing or
    truncated, it is the last state entered.
    """
    end = next(
        (i for i in range(len(events) - 1, -1, -1) if events[i]["type"] in EXECUTION_END_EVENTS),
        len(events),
    )
    details = event_details(events[end]) if end < len(events) else {}
    error, cause = details.get("error"), details.get("cause")
    entered = [
        event_details(event)
        for event in events[:end]
        if str(event["type"]).endswith("StateEntered")
    ]
    if not entered:
        return None
    if error:
        for state in reversed(entered):
            state_input = loads(state.get("input"))
            if state_input is None and state.get("input") != "null":
                break
            if not _carries_error(state_input, str(error), cause):
                return str(state.get("name"))
    return str(entered[-1].get("name"))


def execution_record(execution: Mapping[str, Any]) -> dict[str, Any]:
    """The fields ``list`` and ``describe`` print for a DescribeExecution or ListExecutions item."""
    start = as_datetime(execution.get("startDate"))
    stop = as_datetime(execution.get("stopDate"))
    output = loads(execution.get("output"))
    record: dict[str, Any] = {
        "name": execution.get("name"),
        "executionArn": execution.get("executionArn"),
        "status": execution.get("status"),
        "startDate": iso(start),
        "stopDate": iso(stop),
        "durationSeconds": (stop - start).total_seconds() if start and stop else None,
    }
    summary = output if isinstance(output, dict) else {}
    for key in (
        run_output.ACCURACY,
        run_output.ACCURACY_THRESHOLD,
        run_output.ENDPOINT_NAME,
        run_output.ENDPOINT_STATUS,
        run_output.DEPLOYMENT_STATUS,
        run_output.TRAINING_JOB_NAME,
        run_output.MODEL_NAME,
        run_output.MODEL_PACKAGE_ARN,
        run_output.MODEL_PACKAGE_VERSION,
        run_output.APPROVAL_STATUS,
    ):
        record[key] = summary.get(key)
    # A run that deploys a version without training names it in its input.
    run_input_document = loads(execution.get("input"))
    record[run_input.MODEL_PACKAGE] = (
        run_input_document.get(run_input.MODEL_PACKAGE)
        if isinstance(run_input_document, dict)
        else None
    )
    record["error"] = execution.get("error")
    record["cause"] = execution.get("cause")
    return record


def _number_or_none(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def evaluation_of(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The accuracy and threshold a run was evaluated with, from its history: the first event
    (give them newest first) whose state input or output holds ``evaluation`` with both, as the
    pipeline's EvaluateModel keeps them (``$.evaluation.accuracy``, ``$.evaluation.threshold``:
    mlpipeline_cdk/steps/evaluation.py) up to the end of a run that failed the threshold, or
    ``{}``. The accuracy -1 is the sentinel of a job that reported none."""
    for event in events:
        details = event_details(event)
        for key in ("input", "output"):
            document = loads(details.get(key))
            evaluation = document.get("evaluation") if isinstance(document, dict) else None
            if not isinstance(evaluation, dict):
                continue
            accuracy = _number_or_none(evaluation.get("accuracy"))
            threshold = _number_or_none(evaluation.get("threshold"))
            if accuracy is not None and threshold is not None and accuracy >= 0:
                return {run_output.ACCURACY: accuracy, run_output.ACCURACY_THRESHOLD: threshold}
    return {}


def metrics_of(metric_list: Iterable[Any]) -> dict[str, Any]:
    """``{MetricName: Value}`` of a FinalMetricDataList."""
    return {
        str(m["MetricName"]): m.get("Value")
        for m in metric_list
        if isinstance(m, dict) and "MetricName" in m
    }
