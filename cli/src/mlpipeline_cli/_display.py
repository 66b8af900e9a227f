"""Show a watched execution: lines of text, a live status line on a terminal, or JSON lines.

What the lines say is up to a view (:mod:`._watch_view`): the run by its steps, or every state.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol, TextIO

from ._history import local_time
from ._watch_events import WatchEvent, utcnow
from ._watch_view import StateView, View, describe_event, final_line

__all__ = [
    "Display",
    "JsonDisplay",
    "LineDisplay",
    "TerminalDisplay",
    "describe_event",
    "display_for",
    "final_line",
]


class Display(Protocol):
    def show(self, event: WatchEvent) -> None: ...

    def wait(self, seconds: float) -> None: ...

    def close(self) -> None: ...


class LineDisplay:
    """Plain lines, for logs and pipes: no escape codes."""

    def __init__(
        self,
        stream: TextIO,
        *,
        sleep: Callable[[float], None] = time.sleep,
        view: View | None = None,
    ) -> None:
        self._stream = stream
        self._sleep = sleep
        self._view: View = view if view is not None else StateView()

    def show(self, event: WatchEvent) -> None:
        for line in self._view.render(event):
            print(f"{local_time(line.timestamp, date=line.dated)}  {line.text}", file=self._stream)
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
        view: View | None = None,
    ) -> None:
        super().__init__(stream, sleep=sleep, view=view)
        self._clock = clock
        self._width = width
        self._drawn = False

    def show(self, event: WatchEvent) -> None:
        self._clear()
        super().show(event)
        if event.type != "execution_ended":
            self._draw()

    def status_line(self) -> str:
        return self._view.status(self._clock())

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
    stream: TextIO,
    *,
    json_lines: bool,
    sleep: Callable[[float], None] = time.sleep,
    view: View | None = None,
) -> Display:
    """JSON lines; else lines with a live status line when ``stream`` is a terminal, plain
    lines (no escape codes) when it is not."""
    if json_lines:
        return JsonDisplay(stream, sleep=sleep)
    if stream.isatty():
        return TerminalDisplay(stream, sleep=sleep, view=view)
    return LineDisplay(stream, sleep=sleep, view=view)
