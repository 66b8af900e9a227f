"""``mlpipeline-emulator preflight``: the command line of :mod:`.preflight`.

Nothing heavy is imported here until the command runs, so that the other commands start fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

_EXAMPLE = """\
example (this repository's script, on a small sample):
  python -m scripts.mnist_data write /tmp/mnist
  mlpipeline-emulator preflight training_code --entry-point mnist.py --data /tmp/mnist \\
      --hyperparameter epochs=1 --checkpoint-arg checkpoint-dir
"""


def _pair(option: str) -> Any:
    def parse(text: str) -> tuple[str, str]:
        name, equals, value = text.partition("=")
        if not equals or not name.strip():
            raise argparse.ArgumentTypeError(f"{option} takes NAME=VALUE, got {text!r}")
        return name.strip(), value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EXAMPLE
    parser.add_argument("script_dir", metavar="SCRIPT_DIR", type=Path, help="the source_dir")
    parser.add_argument(
        "--entry-point", required=True, help="the script SageMaker runs, e.g. mnist.py"
    )
    parser.add_argument(
        "--data",
        required=True,
        type=Path,
        metavar="DIR",
        help="a small sample of the training data: the training channel",
    )
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        type=_pair("--channel"),
        metavar="NAME=DIR",
        help="another input channel (repeatable)",
    )
    parser.add_argument(
        "--hyperparameter",
        action="append",
        default=[],
        type=_pair("--hyperparameter"),
        metavar="NAME=VALUE",
        help="passed as --NAME VALUE, as the training toolkit does (repeatable); keep the "
        "run short, e.g. epochs=1",
    )
    parser.add_argument(
        "--checkpoint-arg",
        metavar="NAME",
        help="the script's argument for its checkpoint folder (e.g. checkpoint-dir): each host "
        "gets a folder of its own; without it the script writes where it writes",
    )
    parser.add_argument(
        "--request",
        type=Path,
        metavar="FILE",
        help="the body of the one request sent to the handlers (default: a JSON batch of one "
        "28 x 28 image, as `mlpipeline predict` sends)",
    )
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--accept", default="application/json")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per training run (default: 300)"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        metavar="DIR",
        help="keep the logs and each host's /opt/ml here (default: a temporary folder, deleted)",
    )


def _settings(args: argparse.Namespace) -> Any:
    from ._preflight_serving import Request
    from .preflight import DEFAULT_REQUEST, PreflightError, PreflightSettings

    try:
        from mlpipeline_cdk.contract import script as contract
    except ImportError:
        raise PreflightError(
            "the preflight checks the script contract of mlpipeline-cdk: pip install ./constructs"
        ) from None
    channels = {"training": args.data, **{name: Path(d) for name, d in args.channel}}
    if args.request is not None:
        try:
            body = args.request.read_bytes()
        except OSError as error:
            raise PreflightError(f"--request {args.request}: {error.strerror}") from None
    else:
        body = DEFAULT_REQUEST
    return PreflightSettings(
        script_dir=args.script_dir,
        entry_point=args.entry_point,
        channels=channels,
        metric_definitions=contract.METRIC_DEFINITIONS,
        accuracy_metric=contract.ACCURACY_METRIC,
        hyperparameters=dict(args.hyperparameter),
        checkpoint_arg=args.checkpoint_arg,
        request=Request(body, args.content_type, args.accept),
        timeout=args.timeout,
        workdir=args.workdir,
    )


def run_command(args: argparse.Namespace) -> int:
    """Print one line per rule; 0 when none is broken, 1 when one is, 2 for unusable settings."""
    from .preflight import PreflightError, run_preflight

    try:
        settings = _settings(args)
        print(
            f"Preflight of {settings.script_dir}/{settings.entry_point} under the SageMaker "
            "script contract (one host, two hosts, one request)",
            flush=True,
        )
        report = run_preflight(settings)
    except PreflightError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for finding in report.findings:
        print(finding.line())
    broken = len(report.broken)
    where = f" (work folder: {report.workdir})" if report.workdir else ""
    print(f"{broken} rule{'s' if broken != 1 else ''} broken{where}.")
    return 1 if broken else 0
