"""The emulator process: start it in the background, find the one that runs, stop it.

One emulator per user at a time, recorded in one place whatever the current folder
(:func:`state_home`): ``$MLPIPELINE_EMULATOR_HOME``, by default
``${XDG_STATE_HOME:-~/.local/state}/mlpipeline-emulator``. There ``emulator.json`` holds its pid,
port and endpoint, and ``emulator.log`` its log; that is how ``env``, ``status`` and ``stop``
find it from any folder.

From Python::

    with emulator_session() as emulator:      # stopped at the end, on errors, Ctrl-C, SIGTERM
        s3 = emulator.client("s3")
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

#: moto's default account; any credentials moto does not know act in it.
ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
#: The (never created) role whose AssumeRole gives credentials in another account.
ROLE_NAME: Final = "mlpipeline-emulator"
HOST: Final = "127.0.0.1"
#: Where the emulator's state lives, when set (else :func:`state_home`'s default).
HOME_VARIABLE: Final = "MLPIPELINE_EMULATOR_HOME"
STATE_FILE: Final = "emulator.json"
LOG_FILE: Final = "emulator.log"
_START_TIMEOUT: Final = 120.0
#: How long a stopping emulator may take to shut down before it is killed.
_STOP_GRACE: Final = 5.0


class EmulatorError(RuntimeError):
    """The emulator did not start, or the CDK CLI failed against it."""


def check_account(account: str) -> str:
    """An AWS account id: twelve digits."""
    if not (len(account) == 12 and account.isascii() and account.isdigit()):
        raise EmulatorError(f"--account {account!r}: an AWS account id is 12 digits")
    return account


def state_home(environ: Mapping[str, str] | None = None) -> Path:
    """Where the emulator's state and log live: ``$MLPIPELINE_EMULATOR_HOME``, else
    ``${XDG_STATE_HOME:-~/.local/state}/mlpipeline-emulator``."""
    environ = os.environ if environ is None else environ
    if environ.get(HOME_VARIABLE):
        return Path(environ[HOME_VARIABLE]).expanduser()
    xdg = environ.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(xdg) / "mlpipeline-emulator"


@dataclass
class Emulator:
    """A running emulator process. ``stop()`` ends it and forgets its state file."""

    port: int
    pid: int
    log_path: Path
    state_path: Path | None = None
    account: str = ACCOUNT
    region: str = REGION
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    _credentials: dict[str, dict[str, str]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def credentials(self, account: str | None = None) -> dict[str, str]:
        """Credentials that act in ``account`` (default: moto's default account): moto maps
        the access key of an STS AssumeRole of a role in that account to it (see
        :mod:`._accounts`). They are recorded with the emulator, so every tool gets the same."""
        account = check_account(account) if account is not None else self.account
        if account == self.account:
            return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        known = self._credentials.get(account)
        if known is None and self.state_path is not None:
            known = _read_state(self.state_path).get("accounts", {}).get(account)
        if known is None:
            assumed = self.client("sts").assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{ROLE_NAME}", RoleSessionName=ROLE_NAME
            )["Credentials"]
            known = {
                "AWS_ACCESS_KEY_ID": assumed["AccessKeyId"],
                "AWS_SECRET_ACCESS_KEY": assumed["SecretAccessKey"],
                "AWS_SESSION_TOKEN": assumed["SessionToken"],
            }
            self._record(account, known)
        self._credentials[account] = known
        return dict(known)

    def _record(self, account: str, credentials: dict[str, str]) -> None:
        if self.state_path is None:
            return
        state = _read_state(self.state_path)
        if state.get("pid") == self.pid:
            state.setdefault("accounts", {})[account] = credentials
            write_json(self.state_path, state)

    def is_running(self) -> bool:
        if self._process is not None:
            if self._process.poll() is not None:
                return False
        elif not _pid_alive(self.pid):
            return False
        return _port_open(self.port)

    def client(self, service: str, account: str | None = None) -> Any:
        """A boto3 client for ``service`` in the emulator, acting in ``account`` (default:
        moto's default account)."""
        import boto3

        credentials = (
            {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
            if account is None
            else self.credentials(account)
        )
        return boto3.session.Session().client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
        )

    def environment(self, account: str | None = None) -> dict[str, str]:
        """What points AWS SDKs and CLIs at the emulator: the endpoint, the region and
        credentials that act in ``account`` (default: moto's default account)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **self.credentials(account),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def stop(self, grace: float = _STOP_GRACE) -> None:
        """SIGTERM; after ``grace`` seconds SIGKILL to its whole process group (the emulator
        leads one). Removes the state file."""
        _signal(self.pid, signal.SIGTERM)
        if not self._wait(grace):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            _signal(self.pid, signal.SIGKILL)
            self._wait(grace)
        if self.state_path is not None:
            with contextlib.suppress(FileNotFoundError):
                if _read_state(self.state_path).get("pid") == self.pid:
                    self.state_path.unlink()

    def _wait(self, timeout: float) -> bool:
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while _pid_alive(self.pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return state if isinstance(state, dict) else {}


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def write_json(path: Path, content: Mapping[str, Any]) -> None:
    """Write ``content`` to ``path`` at once (readers never see half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(content, indent=2) + "\n")
    partial.replace(path)


# --- Starting and finding it ---------------------------------------------------------------------


def _spawn(port: int, ready_file: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlpipeline_emulator._daemon",
                "--port",
                str(port),
                "--ready-file",
                str(ready_file),
            ],
            env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # Its own process group: it outlives the shell that started it (`start`), and
            # stop() can kill it with everything it started.
            start_new_session=True,
        )


def _await_ready(
    process: subprocess.Popen[bytes], ready_file: Path, log_path: Path, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not ready_file.exists():
        if process.poll() is not None:
            raise EmulatorError(
                f"the emulator exited with status {process.returncode}; "
                f"its log ({log_path}) ends:\n{_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            raise EmulatorError(f"the emulator did not start in {timeout:.0f} s; see {log_path}")
        time.sleep(0.05)
    return _read_state(ready_file)


def start_emulator(
    *, port: int = 0, state_dir: Path | None = None, timeout: float = _START_TIMEOUT
) -> Emulator:
    """Start the emulator in the background; returns once it accepts requests. Its log goes to
    ``state_dir/emulator.log`` and its state to ``state_dir/emulator.json`` (default:
    :func:`state_home`)."""
    state_dir = state_home() if state_dir is None else state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / LOG_FILE
    ready_file = state_dir / f"ready-{os.getpid()}-{time.monotonic_ns()}.json"
    process = _spawn(port, ready_file, log_path)
    try:
        ready = _await_ready(process, ready_file, log_path, timeout)
    except BaseException:  # Ctrl-C too: no emulator is left behind half-started
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            ready_file.unlink()
    emulator = Emulator(
        port=int(ready["port"]),
        pid=process.pid,
        log_path=log_path.resolve(),
        state_path=state_dir / STATE_FILE,
        _process=process,
    )
    write_json(
        state_dir / STATE_FILE,
        {
            "pid": emulator.pid,
            "port": emulator.port,
            "endpoint_url": emulator.endpoint_url,
            "log": str(emulator.log_path),
            "account": emulator.account,
            "region": emulator.region,
        },
    )
    return emulator


def running_emulator(state_dir: Path | None = None) -> Emulator | None:
    """The emulator that ``state_dir`` (default: :func:`state_home`) records, if it still runs
    (a stale record is removed)."""
    state_path = (state_home() if state_dir is None else state_dir) / STATE_FILE
    state = _read_state(state_path)
    if not state:
        return None
    emulator = Emulator(
        port=int(state["port"]),
        pid=int(state["pid"]),
        log_path=Path(state["log"]),
        state_path=state_path,
        account=state.get("account", ACCOUNT),
        region=state.get("region", REGION),
    )
    if emulator.is_running():
        return emulator
    state_path.unlink(missing_ok=True)
    return None


def ensure_emulator(state_dir: Path | None = None) -> tuple[Emulator, bool]:
    """The running emulator, or a new one; and whether it was started now."""
    emulator = running_emulator(state_dir)
    if emulator is not None:
        return emulator, False
    return start_emulator(state_dir=state_dir), True


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """SIGTERM (and SIGHUP) raise ``KeyboardInterrupt`` here, as Ctrl-C does, so that
    ``finally`` blocks run."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def emulator_session(state_dir: Path | None = None) -> Iterator[Emulator]:
    """A new emulator for a ``with`` block: stopped when the block ends, however it ends
    (an error, Ctrl-C, SIGTERM). A second signal while it stops does not interrupt the stop."""
    with signals_raise():
        emulator = start_emulator(state_dir=state_dir)
        try:
            yield emulator
        finally:
            _stop_uninterrupted(emulator)


def _stop_uninterrupted(emulator: Emulator) -> None:
    """``emulator.stop()`` with SIGINT and SIGTERM held off until it is done: a second Ctrl-C
    must not leave the emulator running."""
    blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        emulator.stop()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
