"""The emulator process that :func:`.session.start_emulator` runs in the background:
``python -m mlpipeline_emulator._daemon --port 0 --ready-file PATH``.

moto in server mode on ``127.0.0.1``, started here so that the patches this package makes to moto
run inside it: CloudFormation support for what the CDK synthesizes (:mod:`.cloudformation`), and
the local SageMaker with a runtime (``MLPIPELINE_LOCAL_RUNTIME``: ``process``, the default,
trains and serves for real; ``scripted`` plays back instant outcomes).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from .session import HOST, EmulatorError, write_json

#: Wait states of deployed state machines last this fraction of their time in the emulator, so
#: a 30-second endpoint poll takes 1.5 s (``MLPIPELINE_LOCAL_WAIT_SCALE`` overrides it).
DEFAULT_WAIT_SCALE: Final = 0.05
RUNTIMES: Final = ("process", "scripted")
#: How long a graceful shutdown may take before the process exits regardless: a stop must be
#: prompt on a loaded machine, and nothing the emulator holds outlives it.
_SHUTDOWN_TIMEOUT: Final = 3.0

log = logging.getLogger("mlpipeline_emulator")


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


def _exit_after(seconds: float) -> None:
    """Exit the process in ``seconds`` whatever is still running (a daemon timer)."""
    timer = threading.Timer(seconds, lambda: os._exit(0))
    timer.daemon = True
    timer.start()


def serve(port: int = 0, ready_file: Path | None = None) -> int:
    """Run the emulator in this process until SIGTERM or SIGINT: moto on ``127.0.0.1:port``
    (``0``: a free port) with state machines that execute. Writes ``{"port", "pid"}`` to
    ``ready_file`` once it accepts requests."""
    from moto.core.config import default_user_config
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if ready_file is not None:
        # Training logs and model files beside the emulator's own log, where they can be found.
        os.environ.setdefault("MLPIPELINE_LOCAL_WORKDIR", str(ready_file.parent / "runtime"))
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
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
        write_json(ready_file, {"port": port, "pid": os.getpid()})
    # Waits with a timeout: a signal may be delivered to one of the server's threads, and
    # Python runs its handler only once the main thread runs again.
    while not stopped.wait(0.2):
        pass
    log.info("emulator stopping")
    _exit_after(_SHUTDOWN_TIMEOUT)
    server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlpipeline_emulator._daemon")
    parser.add_argument("--port", type=int, default=0, help="default: 0, a free port")
    parser.add_argument("--ready-file", help="where to write the port once serving")
    args = parser.parse_args(argv)
    return serve(args.port, Path(args.ready_file) if args.ready_file else None)


if __name__ == "__main__":
    sys.exit(main())
