"""The whole pipeline on this machine, with no AWS account: ``make demo``.

1. Start the local AWS emulator (moto on 127.0.0.1 with the local SageMaker), or reuse the one
   ``make deploy-local`` left running.
2. ``cdk bootstrap`` and ``cdk deploy`` the app's ML pipeline stack into it with the real CDK CLI.
3. Write the sample digits (``.local/demo-data``, kept for the next run) and upload them to the
   deployed data bucket with ``mlpipeline upload-data``.
4. Start an execution of the deployed state machine with a short run and follow it with
   ``mlpipeline run --wait``: real training of ``training_code/mnist.py`` (two hosts, distributed),
   evaluation, then the endpoint, served by the script's own handlers.
5. Send the test digits, which the model did not train on, to the endpoint with
   ``mlpipeline predict`` and print the accuracy.

An emulator this script started is stopped at the end, also on failure or Ctrl-C; one that was
already running is left running, so a second ``make demo`` against ``make deploy-local`` updates
the endpoint in place.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from mnist_data import write_dataset  # scripts/mnist_data.py: this app's sample digits

import mlpipeline_emulator as local

ROOT = Path(__file__).resolve().parent.parent
#: This app's stack, and where the demo keeps its data and the emulated jobs' files.
STACK_NAME = "MLPipelineStack"
STATE_DIR = ROOT / ".local"
DATA_DIR = STATE_DIR / "demo-data"


def _step(title: str) -> float:
    print(f"\n==> {title}", flush=True)
    return time.monotonic()


def _mlpipeline(emulator: local.Emulator, *args: str, capture: bool = False) -> str:
    """Run the project's own command line tool against the emulator."""
    command = [
        str(Path(sys.executable).parent / "mlpipeline"),
        "--endpoint-url",
        emulator.endpoint_url,
        "--region",
        emulator.region,
        *args,
    ]
    env = local.cdk_environment(emulator, os.environ)
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_demo(*, epochs: int, keep: bool, deploy_only: bool = False) -> dict[str, float]:
    """Deploy, train, deploy the model and predict; returns the accuracy and the timings.
    ``deploy_only`` stops after uploading the data and leaves the emulator running."""
    keep = keep or deploy_only
    timings: dict[str, float] = {}
    # Training logs and model files of the emulated jobs and endpoints, kept for a look.
    os.environ.setdefault("MLPIPELINE_LOCAL_WORKDIR", str(STATE_DIR / "runtime"))
    begin = _step("Local AWS emulator")
    emulator, started = local.ensure_emulator()
    print(f"{'Started' if started else 'Reusing'} the emulator on {emulator.endpoint_url}")
    timings["emulator"] = time.monotonic() - begin
    try:
        begin = _step("cdk synth, bootstrap and deploy into the emulator")
        local.synth(emulator, app_dir=ROOT)
        local.bootstrap(emulator, app_dir=ROOT)
        local.deploy(emulator, [STACK_NAME], app_dir=ROOT)
        timings["deploy"] = time.monotonic() - begin

        begin = _step("Sample digits to the data bucket")
        if not (DATA_DIR / "t10k-labels-idx1-ubyte.gz").exists():
            write_dataset(DATA_DIR)
        _mlpipeline(emulator, "upload-data", str(DATA_DIR))
        timings["data"] = time.monotonic() - begin
        if deploy_only:
            print(f"\n{STACK_NAME} outputs:")
            for key, value in local.stack_outputs(emulator, STACK_NAME).items():
                print(f"  {key:<20} {value}")
            print(
                f"\nRun the pipeline: .venv/bin/mlpipeline --endpoint-url {emulator.endpoint_url} "
                "run --wait"
            )
            return timings

        begin = _step(f"A training run ({epochs} epochs, two hosts) through the state machine")
        _mlpipeline(emulator, "run", "--hyperparameter", f"epochs={epochs}", "--wait")
        timings["run"] = time.monotonic() - begin

        begin = _step("Test digits the model did not train on, sent to the endpoint")
        report = json.loads(
            _mlpipeline(
                emulator,
                "predict",
                "--reader",
                "scripts.mnist_data:read_idx",
                str(DATA_DIR / "t10k-images-idx3-ubyte.gz"),
                "--labels",
                str(DATA_DIR / "t10k-labels-idx1-ubyte.gz"),
                "--json",
                capture=True,
            )
        )
        timings["predict"] = time.monotonic() - begin
        accuracy = float(report["accuracy"])
        print(f"Accuracy on {report['total']} unseen digits: {accuracy:.1%}")
        timings["accuracy"] = accuracy
    finally:
        if started and not keep:
            emulator.stop()
            print(f"\nStopped the emulator on {emulator.endpoint_url}.")
        else:
            print(f"\nThe emulator keeps running on {emulator.endpoint_url}; `make destroy-local`")
            print("deletes the stack and stops it.")
    return timings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="default: 4")
    parser.add_argument(
        "--keep", action="store_true", help="leave a newly started emulator running"
    )
    parser.add_argument(
        "--deploy-only",
        action="store_true",
        help="deploy and upload the data, then stop, leaving the emulator running",
    )
    args = parser.parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    started = time.monotonic()
    try:
        timings = run_demo(epochs=args.epochs, keep=args.keep, deploy_only=args.deploy_only)
    except subprocess.CalledProcessError as error:
        print(f"demo: error: {' '.join(error.cmd[:1] + error.cmd[5:])} failed", file=sys.stderr)
        return 1
    except local.EmulatorError as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items() if k != "accuracy")
    print(f"\nDemo done in {time.monotonic() - started:.0f} s ({steps}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
