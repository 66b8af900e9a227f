"""Running ``training_code/mnist.py`` the way SageMaker's training toolkit runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts.training_script import SCRIPT

ROOT = Path(__file__).resolve().parents[3]
#: The entry point and the modules it imports: every file training copies to the model's code/.
SCRIPT_FILES = tuple(sorted(path.name for path in SCRIPT.parent.glob("*.py")))
TRAIN_SAMPLES = 960
TEST_SAMPLES = 240

#: Every hyperparameter, given as the toolkit passes them: ``--name value`` strings.
ONE_EPOCH_ARGS: tuple[str, ...] = (
    *("--epochs", "1", "--batch-size", "64", "--test-batch-size", "100"),
    *("--lr", "0.002", "--momentum", "0.9", "--seed", "3"),
    *("--log-interval", "5", "--backend", "gloo"),
)


def with_epochs(args: Sequence[str], epochs: int) -> list[str]:
    changed = list(args)
    changed[changed.index("--epochs") + 1] = str(epochs)
    return changed


def script_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment less SageMaker and rendezvous variables, plus ``overrides``.

    One intra-op thread: the network is tiny, and on a busy two-core machine several OpenMP
    threads per process slow training down by an order of magnitude.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SM_") and key not in {"MASTER_ADDR", "MASTER_PORT"}
    }
    # No __pycache__ in training_code/ from the modules the script imports either.
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(overrides)
    return env


def sagemaker_env(
    tmp: Path, channel: Path, host: str = "algo-1", hosts: str = '["algo-1"]'
) -> dict[str, str]:
    """The SM_* variables of one host of a CPU training job, its folders under ``tmp``."""
    return {
        "SM_MODEL_DIR": str(tmp / "model"),
        "SM_CHANNEL_TRAINING": str(channel),
        "SM_HOSTS": hosts,
        "SM_CURRENT_HOST": host,
        "SM_NUM_GPUS": "0",
        "SM_OUTPUT_DIR": str(tmp / "output"),
        "SM_OUTPUT_DATA_DIR": str(tmp / "output" / "data" / host),
    }


@dataclass(frozen=True)
class Run:
    """A finished ``python mnist.py`` process and the folders it was given."""

    process: subprocess.CompletedProcess[str]
    model_dir: Path
    checkpoint_dir: Path
    output_dir: Path

    @property
    def stdout(self) -> str:
        return self.process.stdout

    def assert_succeeded(self) -> None:
        assert self.process.returncode == 0, self.process.stderr[-3000:]


def _command(tmp: Path, args: Sequence[str]) -> list[str]:
    return [sys.executable, str(SCRIPT), *args, "--checkpoint-dir", str(tmp / "checkpoints")]


def _run(tmp: Path, process: subprocess.CompletedProcess[str]) -> Run:
    return Run(process, tmp / "model", tmp / "checkpoints", tmp / "output")


def run_script(tmp: Path, channel: Path, args: Sequence[str], **env: str) -> Run:
    """Run one single-host job with its folders (and checkpoints) under ``tmp``."""
    process = subprocess.run(
        _command(tmp, args),
        env=script_env({**sagemaker_env(tmp, channel), **env}),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return _run(tmp, process)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_two_hosts(tmp: Path, channel: Path, args: Sequence[str]) -> list[Run]:
    """Run algo-1 and algo-2 of a two-instance job side by side, rendezvous on 127.0.0.1."""
    hosts = ("algo-1", "algo-2")
    rendezvous = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    processes = [
        subprocess.Popen(
            _command(tmp / host, args),
            env=script_env(
                {**sagemaker_env(tmp / host, channel, host, '["algo-1","algo-2"]'), **rendezvous}
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for host in hosts
    ]
    runs = []
    try:
        for host, process in zip(hosts, processes, strict=True):
            stdout, stderr = process.communicate(timeout=300)
            completed = subprocess.CompletedProcess(
                process.args, process.returncode, stdout, stderr
            )
            runs.append(_run(tmp / host, completed))
    finally:
        for process in processes:  # a rank left waiting for a dead peer must not outlive the test
            if process.poll() is None:
                process.kill()
                process.wait()
    return runs
