"""Renaming the entry point must not break serving: training copies the script's files to the
model's code/ under their own names, and the endpoint imports SAGEMAKER_PROGRAM from there.

The script once copied itself as the hard-coded ``code/mnist.py``: renamed to ``train.py`` it
trained, passed the gate, and then every endpoint failed its health check, because the inference
toolkit found no ``code/train.py`` and fell back on its default handlers.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlpipeline_cdk.contract import script as contract
from mlpipeline_emulator.preflight import PreflightSettings, run_preflight

from .helpers import SCRIPT, script_env

# Slow: trains the real script (one host, two hosts) through the emulator's training path.
pytestmark = pytest.mark.slow


def test_a_renamed_entry_point_trains_and_serves(tmp_path: Path, gz_channel: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for path in SCRIPT.parent.glob("*.py"):
        name = "train.py" if path == SCRIPT else path.name
        shutil.copyfile(path, source / name)

    report = run_preflight(
        PreflightSettings(
            script_dir=source,
            entry_point="train.py",
            channels={"training": gz_channel},
            metric_definitions=contract.METRIC_DEFINITIONS,
            accuracy_metric=contract.ACCURACY_METRIC,
            hyperparameters={"epochs": "1", "test-batch-size": "100"},
            checkpoint_arg="checkpoint-dir",
            workdir=tmp_path / "preflight",
        )
    )

    assert [finding.line() for finding in report.broken] == []
    served = {finding.rule for finding in report.findings if finding.status == "ok"}
    assert {"code", "serving", "two-hosts"} <= served
    code = tmp_path / "preflight" / "serving" / "model" / "code"
    assert (code / "train.py").read_bytes() == SCRIPT.read_bytes()
    assert not (code / "mnist.py").exists()


def test_a_renamed_entry_point_names_itself_in_usage_errors(tmp_path: Path) -> None:
    for path in SCRIPT.parent.glob("*.py"):
        shutil.copyfile(path, tmp_path / ("train.py" if path == SCRIPT else path.name))
    (tmp_path / "output").mkdir()
    result = subprocess.run(
        [sys.executable, "-B", str(tmp_path / "train.py"), "--epochs", "zero"],
        env=script_env({"SM_OUTPUT_DIR": str(tmp_path / "output")}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "train.py: error: argument --epochs: expected a positive integer" in result.stderr
    assert (tmp_path / "output" / "failure").read_text().startswith("train.py: error:")
