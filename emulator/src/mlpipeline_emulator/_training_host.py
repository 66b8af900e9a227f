"""One instance of a training job: its ``/opt/ml`` folder and its process."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

#: SageMaker shows the first 1,024 characters of ``/opt/ml/output/failure`` as FailureReason.
FAILURE_REASON_LIMIT: Final = 1024
#: The training toolkit exits with 1 whenever the script fails (a ``ClientError``).
TOOLKIT_EXIT_CODE: Final = 1
#: Where the toolkit starts quoting stderr in its ``ErrorMessage``: the first line naming an error.
_ERROR_LINE: Final = re.compile(r"Traceback|\w*(?:Error|Exception)\b")


@dataclass(frozen=True)
class HostDirs:
    """One instance's ``/opt/ml``."""

    root: Path

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def input_config(self) -> Path:
        return self.input / "config"

    def channel(self, name: str) -> Path:
        return self.input / "data" / name

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def output_data(self) -> Path:
        return self.output / "data"

    @property
    def output_intermediate(self) -> Path:
        return self.output / "intermediate"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def create(self) -> None:
        for directory in (
            self.code,
            self.input_config,
            self.input / "data",
            self.model,
            self.output_data,
            self.output_intermediate,
            self.checkpoints,
        ):
            directory.mkdir(parents=True, exist_ok=True)


class HostProcess:
    """The script running for one instance, its output copied line by line to the instance's
    log (the CloudWatch stream ``<job>/algo-N``)."""

    def __init__(
        self,
        host: str,
        dirs: HostDirs,
        command: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
    ) -> None:
        self.host = host
        self.dirs = dirs
        self.command = list(command)
        self.log_path = log_path
        self.stderr_tail: deque[str] = deque(maxlen=1000)
        self._log = log_path.open("a", encoding="utf-8")
        self._log_lock = threading.Lock()
        self.write_log(f"Invoking script with the following command:\n\n{shlex.join(command)}\n")
        try:
            # A session of its own: stopping the job signals the script and what it started.
            self.process = subprocess.Popen(
                self.command,
                cwd=dirs.code,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError:
            self._log.close()
            raise
        self.finished_at: float | None = None
        self._readers = [
            threading.Thread(target=self._copy, args=(self.process.stdout, False), daemon=True),
            threading.Thread(target=self._copy, args=(self.process.stderr, True), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def write_log(self, text: str) -> None:
        with self._log_lock:
            if not self._log.closed:  # a process the script left behind may still write
                self._log.write(text if text.endswith("\n") else text + "\n")
                self._log.flush()

    def _copy(self, stream: IO[bytes] | None, is_stderr: bool) -> None:
        if stream is None:
            return
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.write_log(line)
            if is_stderr:
                self.stderr_tail.append(line)

    def poll(self) -> int | None:
        code = self.process.poll()
        if code is not None and self.finished_at is None:
            self.finished_at = time.monotonic()
        return code

    @property
    def exit_code(self) -> int:
        """The exit status as a shell reports it (128 + signal for a killed process)."""
        code = self.process.returncode
        return 128 - code if code is not None and code < 0 else int(code or 0)

    def send(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def close(self, timeout: float = 5.0) -> None:
        for reader in self._readers:
            reader.join(timeout)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        with self._log_lock:
            self._log.close()

    def failure_reason(self) -> str:
        """FailureReason as SageMaker builds it for a framework container: ``AlgorithmError:``,
        the first 1,024 characters of the failure file (the script's, else the one the toolkit
        writes: ``ExecuteUserScriptError`` with the stderr from the first error on), and the
        toolkit's exit code."""
        failure_file = self.dirs.output / "failure"
        text = ""
        if failure_file.is_file():
            text = failure_file.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            text = (
                f"ExecuteUserScriptError:\nExitCode {self.exit_code}\n"
                f'ErrorMessage "{self._error_message()}"\nCommand "{" ".join(self.command)}"'
            )
        text = text[:FAILURE_REASON_LIMIT].rstrip()
        return f"AlgorithmError: {text}, exit code: {TOOLKIT_EXIT_CODE}"

    def _error_message(self) -> str:
        lines = list(self.stderr_tail)
        start = next((i for i, line in enumerate(lines) if _ERROR_LINE.search(line)), len(lines))
        quoted = dict.fromkeys(line.strip(" :") for line in lines[start:] if line.strip())
        return "\n".join(quoted)

    def metrics_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def terminate(processes: Sequence[HostProcess], grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL whatever still runs after ``grace_seconds`` (as StopTrainingJob)."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.send(signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while any(p.poll() is None for p in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    for process in running:
        if process.poll() is None:
            process.send(signal.SIGKILL)
            process.process.wait()
            process.poll()


class LiveProcesses:
    """The instances' processes a runtime has running, so that closing the runtime ends them
    (they run in sessions of their own, which nothing else would end)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._processes: set[HostProcess] = set()

    def add(self, process: HostProcess) -> None:
        with self._lock:
            self._processes.add(process)

    def discard(self, process: HostProcess) -> None:
        with self._lock:
            self._processes.discard(process)

    def kill_all(self) -> None:
        """SIGKILL to every process group still running."""
        with self._lock:
            running = list(self._processes)
        for process in running:
            if process.poll() is None:
                process.send(signal.SIGKILL)
