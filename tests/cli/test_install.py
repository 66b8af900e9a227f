"""The operator tool installs alone: ``./constructs`` and ``./cli`` from a clean clone into a
fresh virtual environment, with only their declared dependencies (no moto, no torch)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import clean_clone, fresh_venv, pip_install

_CHECK = """
import importlib.util, sys
import mlpipeline_cli
from mlpipeline_cli.cli import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_NOT_SUCCEEDED, build_parser, main
from mlpipeline_cdk.contract import outputs, run_input, run_output
assert "aws_cdk" not in sys.modules, "the CLI imported aws_cdk"
for name in ("moto", "torch", "PIL"):
    assert importlib.util.find_spec(name) is None, name + " was installed"
print(sorted(build_parser()._subparsers._group_actions[0].choices))
"""


def _run(*argv: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.slow
def test_cli_installs_from_a_clean_clone_into_a_fresh_venv(tmp_path: Path) -> None:
    clone = clean_clone(tmp_path / "clone")
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, "./constructs", "./cli", cwd=clone)
    commands = _run(python, "-c", _CHECK, cwd=tmp_path)
    assert commands.strip() == str(
        sorted(
            [
                "run",
                "watch",
                "list",
                "describe",
                "predict",
                "upload-data",
                "dashboard",
                "graph",
                "export",
                "models",
                "approve",
                "reject",
                "capture",
                "endpoint",
                "deploy",
            ]
        )
    )
    usage = _run(python.parent / "mlpipeline", "--help", cwd=tmp_path)
    assert usage.startswith("usage: mlpipeline")
    for command in ("run", "watch", "predict", "upload-data", "export", "models", "deploy"):
        assert command in usage
