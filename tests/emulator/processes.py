"""Ending what a test started: processes and their groups, emulators recorded in a home, and
lines read from a process with a timeout."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from mlpipeline_emulator.session import STATE_FILE, _read_state


def kill_group(pid: int) -> None:
    """SIGKILL to the process group ``pid`` leads, and to ``pid`` itself."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def kill_recorded_emulator(home: Path) -> None:
    """Kill the emulator ``home`` records, if any (with what it started)."""
    pid = _read_state(home / STATE_FILE).get("pid")
    if isinstance(pid, int):
        kill_group(pid)


@contextlib.contextmanager
def process_group(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """``process`` (started with ``start_new_session=True``), killed with its group at the end."""
    try:
        yield process
    finally:
        kill_group(process.pid)
        process.wait(timeout=30)


class Lines:
    """The lines a process writes to ``stream``, read by a thread, so that waiting for one has a
    timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")  # the end

    def next(self, timeout: float) -> str:
        """The next line (``""`` at the end), or an assertion error after ``timeout`` s."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output in {timeout:.0f} s") from None

    def rest(self, timeout: float) -> str:
        """Everything until the end."""
        self._thread.join(timeout)
        text = []
        while not self._lines.empty():
            text.append(self._lines.get())
        return "".join(text)
