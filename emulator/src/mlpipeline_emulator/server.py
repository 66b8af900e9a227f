"""moto as a server, with the local SageMaker and state machines that really execute.

Run it::

    python -m mlpipeline_emulator.server --port 5000
    python -m mlpipeline_emulator.server --port 5000 --runtime my_package.runtimes:make_runtime

then point any client at it (``AWS_ENDPOINT_URL=http://127.0.0.1:5000``, any credentials), or
start one from Python with :func:`serve`. It listens on 127.0.0.1 only.

moto's Step Functions executes state machines only when its ``stepfunctions``
``execute_state_machine`` setting is on (``mock_aws(config=...)`` in process; the server's
``/moto-api/config`` endpoint sets the same dictionary); :func:`serve` turns it on in this process
while it runs. Tasks reach the other services through ``http://localhost:$MOTO_PORT``, so
:func:`serve` also sets ``MOTO_PORT`` to the port it listens on.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from moto.core.config import default_user_config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from ._install import install, uninstall
from .runtime import LocalRuntime

LOOPBACK = "127.0.0.1"


class LocalServer:
    """A running server; stop it with :meth:`stop` or by leaving a ``with`` block."""

    def __init__(self, server: ThreadedMotoServer, restore: Callable[[], None]) -> None:
        self._server = server
        self._restore = restore
        host, port = server.get_host_and_port()
        self.host: str = host
        self.port: int = port

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._server.stop()
        self._restore()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def serve(port: int = 0, runtime: LocalRuntime | None = None) -> LocalServer:
    """Install the local SageMaker with ``runtime`` and start moto on ``127.0.0.1:port`` (``0``:
    a free port) in a background thread, with state machine execution on."""
    install(runtime)
    previous_sfn = dict(default_user_config.get("stepfunctions", {}))
    previous_port = os.environ.get("MOTO_PORT")
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    os.environ["MOTO_PORT"] = str(server.get_host_and_port()[1])

    def restore() -> None:
        default_user_config["stepfunctions"] = previous_sfn  # type: ignore[typeddict-item]
        if previous_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = previous_port
        uninstall()

    return LocalServer(server, restore)


def _load_runtime(spec: str) -> LocalRuntime:
    """``package.module:attribute``: a runtime, or a callable that makes one; ``process``: the
    :class:`~mlpipeline_emulator.process_runtime.ProcessRuntime`."""
    if spec == "process":
        spec = "mlpipeline_emulator.process_runtime:from_environment"
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise argparse.ArgumentTypeError(f"expected module:attribute, got {spec!r}")
    target: Any = getattr(importlib.import_module(module_name), attribute)
    runtime = target() if callable(target) and not isinstance(target, LocalRuntime) else target
    if not isinstance(runtime, LocalRuntime):
        raise argparse.ArgumentTypeError(f"{spec} is not a LocalRuntime")
    return runtime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mlpipeline_emulator.server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=5000, help="default: 5000; 0 for any")
    parser.add_argument(
        "--runtime",
        type=_load_runtime,
        default=None,
        help="process (train and serve for real), or module:attribute of a LocalRuntime or a "
        "factory of one; default: ScriptedRuntime()",
    )
    args = parser.parse_args(argv)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with serve(args.port, args.runtime) as server:
        print(f"Local AWS (moto + local SageMaker) on {server.endpoint_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while not stopped.wait(0.5):  # a timed wait lets signal handlers run
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
