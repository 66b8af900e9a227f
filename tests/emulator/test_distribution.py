"""mlpipeline-emulator installs alone into a fresh virtual environment, from a clean copy of its
folder, with only the dependencies it declares, and its public names import there."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import clean_clone, fresh_venv, pip_install

CHECK = """
import sys
import mlpipeline_emulator
import mlpipeline_emulator.cdk, mlpipeline_emulator.cli, mlpipeline_emulator.cloudformation
import mlpipeline_emulator.process_runtime, mlpipeline_emulator.server, mlpipeline_emulator.session
missing = [name for name in mlpipeline_emulator.__all__ if not hasattr(mlpipeline_emulator, name)]
assert not missing, missing
print(sorted(m for m in ("aws_cdk", "mlpipeline_cdk", "numpy", "torch") if m in sys.modules))
"""


@pytest.mark.slow
def test_the_distribution_installs_alone_and_its_public_names_import(tmp_path: Path) -> None:
    clone = clean_clone(tmp_path / "clone")
    python = fresh_venv(tmp_path / "venv")
    command = python.parent / "mlpipeline-emulator"
    pip_install(python, str(clone / "emulator"))

    imported = subprocess.run(
        [python, "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    helped = subprocess.run([command, "--help"], capture_output=True, text=True, timeout=300)

    assert imported.returncode == 0, imported.stderr[-3000:]
    assert imported.stdout.strip() == "[]"  # no CDK, no torch: an emulator, not an app
    assert helped.returncode == 0, helped.stderr
    for subcommand in ("start", "deploy", "env", "status", "destroy", "stop"):
        assert subcommand in helped.stdout
