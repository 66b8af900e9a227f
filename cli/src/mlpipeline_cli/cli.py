"""``mlpipeline``: operate a deployed pipeline from the command line.

::

    mlpipeline run --hyperparameter epochs=2 --spot --wait
    mlpipeline watch --latest
    mlpipeline list
    mlpipeline describe --latest
    mlpipeline predict inputs.npy --labels labels.npy --limit 100
    mlpipeline predict --reader scripts.mnist_data:read_idx t10k-images-idx3-ubyte.gz
    mlpipeline upload-data data/
    mlpipeline graph --template cdk.out/MLPipelineStack.template.json
    mlpipeline export > state-machine.asl.json
    mlpipeline models
    mlpipeline approve 3 --description "checked on the holdout set"
    mlpipeline reject 4 --reason "worse on rotated digits"
    mlpipeline deploy 2 --watch

The pipeline is found from the outputs of its CloudFormation stack (``--stack-name``, default
``MLPipelineStack``), named in :mod:`mlpipeline_cdk.contract.outputs`; or by
``--state-machine-arn``. ``--region``, ``--profile`` and ``--endpoint-url`` (a local emulator)
apply to every AWS call. Each command lives in :mod:`mlpipeline_cli.commands`.

Exit status: 0 on success; 1 on an error (one ``mlpipeline: error: ...`` line on stderr);
2 on a usage error; 3 when a watched execution (``run --wait``, ``watch``, ``deploy --watch``)
ended other than SUCCEEDED; 130 when interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ._aws import Clients, CliError, UsageError
from ._context import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_NOT_SUCCEEDED, EXIT_USAGE, PROG, Context
from ._explain import explain_aws_error
from ._parser import build_parser
from .commands.run import run_input

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_SUCCEEDED",
    "EXIT_USAGE",
    "PROG",
    "build_parser",
    "main",
    "run_input",
]


def main(argv: Sequence[str] | None = None, *, clients: Clients | None = None) -> int:
    """Run the command line; return the exit status. ``clients`` replaces the boto3 session."""
    args = build_parser().parse_args(argv)
    context = Context(args, clients)
    try:
        result: int = args.handler(context)
        return result
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`mlpipeline list | head`); Python would complain again at exit
        # while flushing stdout, unless stdout goes nowhere from now on.
        _silence_stdout()
        return EXIT_ERROR
    except CliError as exc:
        if args.debug:
            raise
        return _fail(str(exc), EXIT_USAGE if isinstance(exc, UsageError) else EXIT_ERROR)
    except Exception as exc:
        if args.debug:
            raise
        message = explain_aws_error(exc, context.target())
        if message is None and isinstance(exc, OSError):
            message = str(exc)  # a file or the system refused: its own words name it
        if message is None:
            # A fault of the tool itself: still one line, and the way to the traceback.
            message = (
                f"unexpected {type(exc).__name__}: {exc} (run again with --debug for the "
                "traceback, and report it)"
            )
        return _fail(message)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's capture): nothing to flush at exit


def _fail(message: str, status: int = EXIT_ERROR) -> int:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
