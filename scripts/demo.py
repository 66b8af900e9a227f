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
#: What ``make deploy-local`` prints to do next, pasted into a shell in this folder. The README's
#: "Local deployment" and "Operating" examples run the same commands (a test keeps them equal).
NEXT_STEPS = (
    'eval "$(.venv/bin/mlpipeline-emulator env)"',
    ".venv/bin/mlpipeline run --hyperparameter epochs=4 --threshold 0.9 --wait",
)
#: The width of a stage's name in the demo's lines.
_LABEL = 12


def _stage(label: str, text: str, seconds: float) -> None:
    """One line of the story: the stage, what happened, how long it took."""
    print(f"{label:<{_LABEL}}{text}  ({seconds:.1f} s)", flush=True)


def _mlpipeline(emulator: local.Emulator, *args: str, capture: bool = False) -> str:
    """Run the project's own command line tool against the emulator; with ``capture`` its
    output is collected (and shown only when it fails)."""
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
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
    )
    if result.returncode != 0:
        if capture:
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
        raise subprocess.CalledProcessError(result.returncode, command)
    return result.stdout or ""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _deploy(emulator: local.Emulator) -> str:
    """cdk synth, bootstrap and deploy, quietly: the CDK CLI's output is shown only when it
    fails (in the :class:`~mlpipeline_emulator.EmulatorError`). Returns what happened to the
    stack."""
    local.synth(emulator, app_dir=ROOT, capture=True)
    local.bootstrap(emulator, app_dir=ROOT, capture=True)
    deployed = local.deploy(emulator, [STACK_NAME], app_dir=ROOT, capture=True)
    # What the CLI prints for a stack whose template and assets did not change.
    unchanged = "(no changes)" in deployed.stdout + deployed.stderr
    return "unchanged" if unchanged else "deployed by the CDK CLI"


def _upload(emulator: local.Emulator) -> None:
    """The sample digits (written once) to the data bucket."""
    if not (DATA_DIR / "t10k-labels-idx1-ubyte.gz").exists():
        write_dataset(DATA_DIR)
    _mlpipeline(emulator, "upload-data", str(DATA_DIR), capture=True)


def _predict(emulator: local.Emulator) -> dict[str, float]:
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
    return {"accuracy": float(report["accuracy"]), "total": float(report["total"])}


def _registered(emulator: local.Emulator) -> str:
    """The model registry's newest version, as ``mlpipeline models --json`` lists it."""
    versions = json.loads(_mlpipeline(emulator, "models", "--json", capture=True))
    newest = versions[0]
    accuracy = newest.get("accuracy")
    return (
        f"version {newest['modelPackageVersion']} of {newest['modelPackageGroupName']}: "
        f"{newest['approvalStatus']}"
        + (f", accuracy {accuracy:.1%}" if isinstance(accuracy, int | float) else "")
        + (", live on the endpoint" if newest.get("live") else "")
    )


def _print_next_steps(emulator: local.Emulator) -> None:
    print(f"\n{STACK_NAME} outputs:")
    for key, value in local.stack_outputs(emulator, STACK_NAME).items():
        print(f"  {key:<20} {value}")
    print("\nRun the pipeline from this folder:")
    for line in NEXT_STEPS:
        print(f"  {line}")


def run_demo(*, epochs: int, keep: bool, deploy_only: bool = False) -> dict[str, float]:
    """Deploy, train, deploy the model and predict; returns the accuracy and the timings.
    ``deploy_only`` stops after uploading the data and leaves the emulator running."""
    keep = keep or deploy_only
    timings: dict[str, float] = {}
    # Training logs and model files of the emulated jobs and endpoints, kept for a look.
    os.environ.setdefault("MLPIPELINE_LOCAL_WORKDIR", str(STATE_DIR / "runtime"))
    begin = time.monotonic()
    emulator, started = local.ensure_emulator()
    timings["emulator"] = time.monotonic() - begin
    verb = "started" if started else "reused"
    _stage("Emulator", f"{verb} on {emulator.endpoint_url}", timings["emulator"])
    try:
        begin = time.monotonic()
        outcome = _deploy(emulator)
        timings["deploy"] = time.monotonic() - begin
        _stage("Stack", f"{STACK_NAME} {outcome}", timings["deploy"])

        begin = time.monotonic()
        _upload(emulator)
        timings["data"] = time.monotonic() - begin
        _stage("Data", f"sample digits ({DATA_DIR.relative_to(ROOT)}) uploaded", timings["data"])
        if deploy_only:
            _print_next_steps(emulator)
            return timings

        print(f"{'Run':<{_LABEL}}{epochs} epochs on two hosts, then the endpoint:", flush=True)
        begin = time.monotonic()
        _mlpipeline(emulator, "run", "--hyperparameter", f"epochs={epochs}", "--wait")
        timings["run"] = time.monotonic() - begin
        _stage("", "run succeeded", timings["run"])

        begin = time.monotonic()
        registered = _registered(emulator)
        _stage("Registry", registered, time.monotonic() - begin)

        begin = time.monotonic()
        report = _predict(emulator)
        timings["predict"] = time.monotonic() - begin
        timings["accuracy"] = report["accuracy"]
        _stage(
            "Predict",
            f"accuracy {report['accuracy']:.1%} on {report['total']:,.0f} digits the model "
            "never saw",
            timings["predict"],
        )
    finally:
        if started and not keep:
            emulator.stop()
            print(f"{'Emulator':<{_LABEL}}stopped")
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
        run_demo(epochs=args.epochs, keep=args.keep, deploy_only=args.deploy_only)
    except subprocess.CalledProcessError as error:
        print(f"demo: error: {' '.join(error.cmd[:1] + error.cmd[5:])} failed", file=sys.stderr)
        return 1
    except local.EmulatorError as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("demo: interrupted", file=sys.stderr)
        return 130
    print(f"Done in {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
