"""Show a watched execution: lines of text, a live status line on a terminal, or JSON lines."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TextIO

from ._history import format_duration, loads, local_time, shorten, summarize_output
from ._watch_events import WatchEvent, utcnow

_CAUSE_LIMIT = 240


class Display(Protocol):
    def show(self, event: WatchEvent) -> None: ...

    def wait(self, seconds: float) -> None: ...

    def close(self) -> None: ...


def _error_text(error: Any, cause: Any, *, limit: int | None = None) -> str:
    parsed = loads(cause)
    if isinstance(parsed, dict) and parsed.get("FailureReason"):
        # A task's cause can be a whole resource description (a failed training job).
        cause = parsed["FailureReason"]
    text = ": ".join(str(part) for part in (error, cause) if part)
    return shorten(text, limit) if limit else " ".join(text.split())


def describe_event(event: WatchEvent) -> str:
    """The text of one event, without its time."""
    details = event.details
    if event.type == "execution_started":
        return f"run {details.get('name')} started"
    if event.type == "state_entered":
        return f"started  {event.state}"
    if event.type == "state_exited":
        return f"done     {event.state} ({format_duration(event.elapsed)})"
    if event.type == "state_error":
        error = _error_text(details.get("error"), details.get("cause"), limit=_CAUSE_LIMIT)
        return f"error    {event.state}: {error}"
    if event.type == "training_job_requested":
        return f"         training job {details['trainingJobName']} requested"
    if event.type == "training_job_status":
        status = details.get("status") or details.get("secondaryStatus")
        text = f"         training job {details['trainingJobName']}: {status}"
        extra = details.get("failureReason") or details.get("message")
        return f"{text} - {' '.join(str(extra).split())}" if extra else text
    if event.type == "training_metrics":
        metrics = ", ".join(f"{k}={_metric(v)}" for k, v in sorted(details["metrics"].items()))
        return f"         training job {details['trainingJobName']} metrics: {metrics}"
    if event.type == "endpoint_status":
        text = f"         endpoint {details.get('endpointName')}: {details.get('status')}"
        return f"{text} - {details['failureReason']}" if details.get("failureReason") else text
    if event.type == "execution_ended":
        return final_line(event)
    return f"{event.type} {json.dumps(dict(details), default=str)}"


def final_line(event: WatchEvent) -> str:
    details = event.details
    status = details.get("status")
    took = f" after {format_duration(event.elapsed)}" if event.elapsed is not None else ""
    if status == "SUCCEEDED":
        return f"SUCCEEDED{took}: {summarize_output(details.get('output'))}"
    where = f" in {details['failedState']}" if details.get("failedState") else ""
    error = _error_text(details.get("error"), details.get("cause"))
    return f"{status}{took}{where}" + (f": {error}" if error else "")


def _metric(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class LineDisplay:
    """One line per event, for logs and pipes."""

    def __init__(self, stream: TextIO, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._stream = stream
        self._sleep = sleep

    def show(self, event: WatchEvent) -> None:
        date = event.type == "execution_started"
        print(
            f"{local_time(event.timestamp, date=date)}  {describe_event(event)}", file=self._stream
        )
        self._stream.flush()

    def wait(self, seconds: float) -> None:
        self._sleep(seconds)

    def close(self) -> None:
        pass


class JsonDisplay(LineDisplay):
    """One JSON object per event: ``type``, ``timestamp``, ``state``, ``details``."""

    def show(self, event: WatchEvent) -> None:
        print(json.dumps(event.to_json(), default=str), file=self._stream)
        self._stream.flush()


class TerminalDisplay(LineDisplay):
    """The lines, plus a status line at the bottom that is redrawn while waiting."""

    def __init__(
        self,
        stream: TextIO,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = utcnow,
        width: Callable[[], int] = lambda: shutil.get_terminal_size().columns,
    ) -> None:
        super().__init__(stream, sleep=sleep)
        self._clock = clock
        self._width = width
        self._started: datetime | None = None
        self._state: tuple[str, datetime] | None = None
        self._training = ""
        self._metrics = ""
        self._endpoint = ""
        self._drawn = False

    def show(self, event: WatchEvent) -> None:
        self._clear()
        super().show(event)
        self._track(event)
        if event.type != "execution_ended":
            self._draw()

    def _track(self, event: WatchEvent) -> None:
        details = event.details
        if event.type == "execution_started":
            self._started = event.timestamp
        elif event.type == "state_entered" and event.state:
            self._state = (event.state, event.timestamp)
        elif event.type == "training_job_status":
            self._training = str(details.get("status") or details.get("secondaryStatus"))
        elif event.type == "training_metrics":
            self._metrics = " ".join(
                f"{k}={_metric(v)}" for k, v in sorted(details["metrics"].items())
            )
        elif event.type == "endpoint_status":
            self._endpoint = str(details.get("status"))

    def status_line(self) -> str:
        now = self._clock()
        parts = []
        if self._started is not None:
            parts.append(f"running {format_duration((now - self._started).total_seconds())}")
        if self._state is not None:
            name, since = self._state
            parts.append(f"{name} {format_duration((now - since).total_seconds())}")
        if self._training:
            parts.append(f"training {self._training}")
        if self._metrics:
            parts.append(self._metrics)
        if self._endpoint:
            parts.append(f"endpoint {self._endpoint}")
        return " | ".join(parts)

    def _draw(self) -> None:
        width = max(self._width() - 1, 10)
        self._stream.write("\r\x1b[K" + self.status_line()[:width])
        self._stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._drawn = False

    def wait(self, seconds: float) -> None:
        # Redraw every second so that the elapsed times keep counting.
        remaining = seconds
        while remaining > 0:
            step = min(1.0, remaining)
            self._sleep(step)
            remaining -= step
            self._draw()

    def close(self) -> None:
        self._clear()
        self._stream.flush()


def display_for(
    stream: TextIO, *, json_lines: bool, sleep: Callable[[float], None] = time.sleep
) -> Display:
    if json_lines:
        return JsonDisplay(stream, sleep=sleep)
    if stream.isatty():
        return TerminalDisplay(stream, sleep=sleep)
    return LineDisplay(stream, sleep=sleep)
