"""Deploy the CDK app into a local AWS emulator, with the real CDK CLI and no AWS account.

From the app's directory (where ``cdk.json`` is)::

    python -m mlpipeline_emulator.deploy deploy    # start the emulator (if it is not running),
                                                    # synth, bootstrap, deploy, print the outputs
    python -m mlpipeline_emulator.deploy destroy   # cdk destroy --force, then stop the emulator
    python -m mlpipeline_emulator.deploy up | down | status | env

The emulator is moto in server mode on ``127.0.0.1`` (a free port), started from this module
(``serve``) so that the patches this package makes to moto run inside it: CloudFormation support
for what the CDK synthesizes (:mod:`.cloudformation`), and the SageMaker emulation when it is
installed. Its log goes to ``.local/moto.log``; its pid, port and endpoint to
``.local/emulator.json``, which is how later commands find it.

The CLI is pointed at it by its environment alone (:func:`cdk_environment`): ``AWS_ENDPOINT_URL``
and dummy credentials in moto's default account. The template is the one that deploys to AWS.

From Python::

    with emulator_session() as emulator:          # stopped at the end, on errors and on Ctrl-C
        cdk(["deploy", "MLPipelineStack", "--require-approval", "never"], emulator)
        outputs = stack_outputs(emulator, "MLPipelineStack")
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

#: moto's default account; any credentials moto does not know act in it.
ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
HOST: Final = "127.0.0.1"
STACK_NAME: Final = "MLPipelineStack"
STATE_DIR: Final = Path(".local")
STATE_FILE: Final = "emulator.json"
LOG_FILE: Final = "moto.log"
#: What the CDK CLI is given to deploy: the assembly ``synth`` writes.
ASSEMBLY_DIR: Final = "cdk.out"
#: The outputs :func:`deploy` prints, in this order.
OUTPUT_KEYS: Final = (
    "StateMachineArn",
    "DataBucketName",
    "DataPrefix",
    "ArtifactsBucketName",
    "EndpointName",
)
_MODULE: Final = "mlpipeline_emulator.deploy"
_START_TIMEOUT: Final = 60.0
_STOP_TIMEOUT: Final = 10.0

log = logging.getLogger(_MODULE)


class EmulatorError(RuntimeError):
    """The emulator did not start, or the CDK CLI failed against it."""


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

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def is_running(self) -> bool:
        if self._process is not None:
            if self._process.poll() is not None:
                return False
        elif not _pid_alive(self.pid):
            return False
        return _port_open(self.port)

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` in the emulator."""
        import boto3

        return boto3.session.Session().client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self, timeout: float = _STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; removes the state file."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        if not self._wait(timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._wait(timeout)
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


def _write_json(path: Path, content: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content, indent=2) + "\n")
    partial.replace(path)


# --- The emulator process ------------------------------------------------------------------------


#: Wait states of deployed state machines last this fraction of their time in the emulator, so
#: a 30-second endpoint poll takes 1.5 s (``MLPIPELINE_LOCAL_WAIT_SCALE`` overrides it).
DEFAULT_WAIT_SCALE: Final = 0.05
#: ``process`` trains and serves for real (:class:`.process_runtime.ProcessRuntime`);
#: ``scripted`` plays back instant outcomes (``MLPIPELINE_LOCAL_RUNTIME`` chooses).
RUNTIMES: Final = ("process", "scripted")


def _install_emulation(endpoint_url: str) -> None:
    """Everything this package adds to moto, installed in the emulator process: CloudFormation
    support for what the CDK synthesizes, and the local SageMaker with a runtime."""
    from ._install import install
    from .cloudformation import install_cloudformation_support

    install_cloudformation_support(endpoint_url=endpoint_url)
    choice = os.environ.get("MLPIPELINE_LOCAL_RUNTIME", "process")
    if choice not in RUNTIMES:
        raise EmulatorError(f"MLPIPELINE_LOCAL_RUNTIME={choice!r}: expected one of {RUNTIMES}")
    runtime: Any
    if choice == "process":
        from .process_runtime import from_environment

        runtime = from_environment()
    else:
        from .scripted import ScriptedRuntime

        runtime = ScriptedRuntime()
    scale = float(os.environ.get("MLPIPELINE_LOCAL_WAIT_SCALE", DEFAULT_WAIT_SCALE))
    install(runtime, wait_scale=scale)
    log.info(
        "local SageMaker installed: %s runtime, Wait states at %s of their time", choice, scale
    )


def serve(port: int = 0, ready_file: Path | None = None) -> int:
    """Run the emulator in this process until SIGTERM or SIGINT: moto on ``127.0.0.1:port``
    (``0``: a free port) with state machines that execute. Writes ``{"port", "pid"}`` to
    ``ready_file`` once it accepts requests."""
    from moto.core.config import default_user_config
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())

    # moto's Step Functions only executes state machines when this is on (mock_aws(config=...)
    # in process; the same dictionary in a server).
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    # Where moto's Step Functions tasks and custom resources reach the other services.
    os.environ["MOTO_PORT"] = str(port)
    _install_emulation(f"http://{HOST}:{port}")
    log.info("emulator listening on http://%s:%d (pid %d)", HOST, port, os.getpid())
    if ready_file is not None:
        _write_json(ready_file, {"port": port, "pid": os.getpid()})
    try:
        # Waits with a timeout: a signal may be delivered to one of the server's threads, and
        # Python runs its handler only once the main thread runs again.
        while not stopped.wait(0.2):
            pass
    finally:
        log.info("emulator stopping")
        server.stop()
    return 0


def start_emulator(
    *, port: int = 0, state_dir: Path = STATE_DIR, timeout: float = _START_TIMEOUT
) -> Emulator:
    """Start the emulator in the background; returns once it accepts requests. Its log goes to
    ``state_dir/moto.log`` and its state to ``state_dir/emulator.json``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state_path = state_dir / STATE_FILE
    log_path = state_dir / LOG_FILE
    ready_file = state_dir / f"ready-{os.getpid()}-{time.monotonic_ns()}.json"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                _MODULE,
                "serve",
                "--port",
                str(port),
                "--ready-file",
                str(ready_file),
            ],
            env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives the shell that started it (make deploy-local)
        )
    deadline = time.monotonic() + timeout
    try:
        while not ready_file.exists():
            if process.poll() is not None:
                raise EmulatorError(
                    f"the emulator exited with status {process.returncode}; "
                    f"its log ({log_path}) ends:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise EmulatorError(
                    f"the emulator did not start in {timeout:.0f} s; see {log_path}"
                )
            time.sleep(0.05)
        ready = _read_state(ready_file)
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            ready_file.unlink()
    emulator = Emulator(
        port=int(ready["port"]),
        pid=process.pid,
        log_path=log_path,
        state_path=state_path,
        _process=process,
    )
    _write_json(
        state_path,
        {
            "pid": emulator.pid,
            "port": emulator.port,
            "endpoint_url": emulator.endpoint_url,
            "log": str(log_path.resolve()),
            "account": emulator.account,
            "region": emulator.region,
        },
    )
    return emulator


def running_emulator(state_dir: Path = STATE_DIR) -> Emulator | None:
    """The emulator that ``state_dir`` records, if it still runs (a stale record is removed)."""
    state_path = state_dir / STATE_FILE
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


def ensure_emulator(state_dir: Path = STATE_DIR) -> tuple[Emulator, bool]:
    """The running emulator, or a new one; and whether it was started now."""
    emulator = running_emulator(state_dir)
    if emulator is not None:
        return emulator, False
    return start_emulator(state_dir=state_dir), True


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
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
def emulator_session(state_dir: Path = STATE_DIR) -> Iterator[Emulator]:
    """A new emulator for a ``with`` block: stopped when the block ends, however it ends
    (an error, Ctrl-C, SIGTERM)."""
    with _signals_raise():
        emulator = start_emulator(state_dir=state_dir)
        try:
            yield emulator
        finally:
            emulator.stop()


# --- The CDK CLI against the emulator ------------------------------------------------------------


def cdk_environment(emulator: Emulator, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment that points the CDK CLI (AWS SDK for JavaScript v3) at the emulator:
    ``AWS_ENDPOINT_URL`` for every service (S3 included: on an IP address the SDK addresses
    buckets path-style), dummy credentials, the region; no profile, config file or instance
    metadata that could send it elsewhere; and this interpreter first on ``PATH``, for the
    app."""
    env = dict(os.environ if base is None else base)
    for name in list(env):
        if name.startswith(("AWS_ENDPOINT_URL_", "CDK_DEPLOY_")) or name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        ):
            del env[name]
    state_dir = emulator.log_path.parent.resolve()
    # cdk.json runs `python3 app.py`: with this interpreter's environment (the project's venv).
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(
        AWS_ENDPOINT_URL=emulator.endpoint_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=emulator.region,
        AWS_DEFAULT_REGION=emulator.region,
        AWS_CONFIG_FILE=str(state_dir / "aws-config-none"),
        AWS_SHARED_CREDENTIALS_FILE=str(state_dir / "aws-credentials-none"),
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
    )
    return env


def _cdk_executable(app_dir: Path) -> str:
    local = app_dir / "node_modules" / ".bin" / "cdk"
    if local.exists():
        return str(local)
    raise EmulatorError(f"{local} not found: install the pinned CDK CLI (make setup, or npm ci)")


def cdk(
    args: Sequence[str],
    emulator: Emulator,
    *,
    app_dir: Path | None = None,
    capture: bool = False,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run the pinned CDK CLI (``node_modules/.bin/cdk``) in ``app_dir`` (default: the current
    directory) against ``emulator``. ``capture``: collect stdout and stderr (as text) instead of
    passing them through."""
    app_dir = Path.cwd() if app_dir is None else app_dir
    command = [_cdk_executable(app_dir), *args, "--no-notices"]
    result = subprocess.run(
        command,
        cwd=app_dir,
        env=cdk_environment(emulator),
        stdin=subprocess.DEVNULL,
        capture_output=capture,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        detail = f"\n{result.stdout}{result.stderr}" if capture else ""
        raise EmulatorError(f"`cdk {' '.join(args)}` exited with {result.returncode}{detail}")
    return result


def synth(
    emulator: Emulator,
    *,
    app_dir: Path | None = None,
    output: str = ASSEMBLY_DIR,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``cdk synth`` into ``output`` (relative to ``app_dir``), as ``make synth`` does."""
    return cdk(["synth", "--quiet", "--output", output], emulator, app_dir=app_dir, capture=capture)


def bootstrap(
    emulator: Emulator,
    *,
    app_dir: Path | None = None,
    assembly: str = ASSEMBLY_DIR,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``cdk bootstrap`` of the emulator's account and region (the CLI reads the synthesized
    ``assembly`` rather than running the app again)."""
    return cdk(
        ["bootstrap", f"aws://{emulator.account}/{emulator.region}", "--app", assembly],
        emulator,
        app_dir=app_dir,
        capture=capture,
    )


def deploy(
    emulator: Emulator,
    stack_name: str = STACK_NAME,
    *,
    app_dir: Path | None = None,
    assembly: str = ASSEMBLY_DIR,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``cdk deploy`` of ``stack_name`` from the synthesized ``assembly``, without prompts."""
    return cdk(
        ["deploy", stack_name, "--app", assembly, "--require-approval", "never"],
        emulator,
        app_dir=app_dir,
        capture=capture,
    )


def destroy(
    emulator: Emulator,
    stack_name: str = STACK_NAME,
    *,
    app_dir: Path | None = None,
    assembly: str = ASSEMBLY_DIR,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``cdk destroy --force`` of ``stack_name``."""
    return cdk(
        ["destroy", stack_name, "--app", assembly, "--force"],
        emulator,
        app_dir=app_dir,
        capture=capture,
    )


def stack_outputs(emulator: Emulator, stack_name: str = STACK_NAME) -> dict[str, str]:
    """The deployed stack's outputs, ``{OutputKey: OutputValue}``."""
    stacks = emulator.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


# --- Commands ------------------------------------------------------------------------------------


def _print_outputs(outputs: Mapping[str, str]) -> None:
    width = max(map(len, outputs), default=0)
    keys = [k for k in OUTPUT_KEYS if k in outputs] + sorted(set(outputs) - set(OUTPUT_KEYS))
    for key in keys:
        print(f"  {key:<{width}}  {outputs[key]}")


def _stop_hint(emulator: Emulator) -> str:
    return (
        f"The emulator keeps running on {emulator.endpoint_url} (pid {emulator.pid}, log "
        f"{emulator.log_path}). Stop it with `make destroy-local` "
        "(or `python -m mlpipeline_emulator.deploy down`)."
    )


def _command_deploy(args: argparse.Namespace) -> int:
    app_dir = Path(args.app_dir).resolve()
    state_dir = app_dir / STATE_DIR
    with _signals_raise():
        emulator, started = ensure_emulator(state_dir)
        print(
            f"Emulator {'started' if started else 'already running'} on {emulator.endpoint_url}",
            flush=True,
        )
        try:
            timings: dict[str, float] = {}
            for name, step in (("synth", synth), ("bootstrap", bootstrap)):
                begin = time.monotonic()
                step(emulator, app_dir=app_dir)
                timings[name] = time.monotonic() - begin
            begin = time.monotonic()
            deploy(emulator, args.stack, app_dir=app_dir)
            timings["deploy"] = time.monotonic() - begin
        except BaseException:
            if started:  # leave no emulator behind that nothing was deployed to
                emulator.stop()
            raise
    print(f"\n{args.stack} outputs (emulator {emulator.endpoint_url}):")
    _print_outputs(stack_outputs(emulator, args.stack))
    print("\nTimes: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items()))
    print(_stop_hint(emulator))
    return 0


def _command_destroy(args: argparse.Namespace) -> int:
    app_dir = Path(args.app_dir).resolve()
    emulator = running_emulator(app_dir / STATE_DIR)
    if emulator is None:
        print("No emulator is running: nothing is deployed.")
        return 0
    with _signals_raise():
        try:
            if not (app_dir / ASSEMBLY_DIR / "manifest.json").exists():
                synth(emulator, app_dir=app_dir)
            begin = time.monotonic()
            destroy(emulator, args.stack, app_dir=app_dir)
            print(f"Destroyed {args.stack} in {time.monotonic() - begin:.1f} s")
        finally:
            emulator.stop()
            print(f"Emulator on {emulator.endpoint_url} stopped.")
    return 0


def _command_up(args: argparse.Namespace) -> int:
    emulator, started = ensure_emulator(Path(args.app_dir).resolve() / STATE_DIR)
    print(f"Emulator {'started' if started else 'already running'} on {emulator.endpoint_url}")
    print(_stop_hint(emulator))
    return 0


def _command_down(args: argparse.Namespace) -> int:
    emulator = running_emulator(Path(args.app_dir).resolve() / STATE_DIR)
    if emulator is None:
        print("No emulator is running.")
    else:
        emulator.stop()
        print(f"Emulator on {emulator.endpoint_url} stopped.")
    return 0


def _command_status(args: argparse.Namespace) -> int:
    emulator = running_emulator(Path(args.app_dir).resolve() / STATE_DIR)
    if emulator is None:
        print("No emulator is running.")
        return 1
    print(
        f"Emulator running on {emulator.endpoint_url} (pid {emulator.pid}, log {emulator.log_path})"
    )
    return 0


def _command_env(args: argparse.Namespace) -> int:
    emulator = running_emulator(Path(args.app_dir).resolve() / STATE_DIR)
    if emulator is None:
        print("No emulator is running.", file=sys.stderr)
        return 1
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ):
        print(f"export {name}={cdk_environment(emulator, {})[name]}")
    return 0


def _command_serve(args: argparse.Namespace) -> int:
    return serve(args.port, Path(args.ready_file) if args.ready_file else None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlpipeline_emulator.deploy",
        description="Deploy the CDK app into a local AWS emulator (moto) with the real CDK CLI.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, run, text in (
        ("deploy", _command_deploy, "start the emulator if needed, synth, bootstrap, deploy"),
        ("destroy", _command_destroy, "cdk destroy --force, then stop the emulator"),
        ("up", _command_up, "start the emulator if it is not running"),
        ("down", _command_down, "stop the emulator"),
        ("status", _command_status, "whether the emulator runs, and where"),
        ("env", _command_env, "print shell exports that point AWS tools at the emulator"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--app-dir", default=".", help="where cdk.json is (default: .)")
        if name in ("deploy", "destroy"):
            command.add_argument("--stack", default=STACK_NAME, help=f"default: {STACK_NAME}")
        command.set_defaults(run=run)
    command = commands.add_parser("serve", help="run the emulator in the foreground")
    command.add_argument("--port", type=int, default=0, help="default: 0, a free port")
    command.add_argument("--ready-file", help="where to write the port once serving")
    command.set_defaults(run=_command_serve)
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
