"""The construct library installs alone: a fresh virtual environment, a clean clone, its declared
dependencies only, and none of the run-time tools' heavy packages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import clean_clone, fresh_venv, pip_install

#: Packages of the emulator, the training code and the operator tool, which the library must not
#: pull in.
_NOT_INSTALLED = ("moto", "torch", "numpy", "boto3")

_IMPORT_PUBLIC_NAMES = """
import importlib.metadata, json, sys
import mlpipeline_cdk
from mlpipeline_cdk.contract import outputs, run_input, run_output, script
assert outputs.OUTPUTS and run_input and run_output and script.METRIC_DEFINITIONS
for name in mlpipeline_cdk.__all__:
    assert getattr(mlpipeline_cdk, name) is not None, name
missing = []
for dist in sys.argv[1:]:
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        missing.append(dist)
print(json.dumps(missing))
"""


@pytest.mark.slow
def test_library_installs_into_a_fresh_venv_without_the_tools_dependencies(
    tmp_path: Path,
) -> None:
    clone = clean_clone(tmp_path / "clone")
    python = fresh_venv(tmp_path / "venv")
    pip_install(python, str(clone / "constructs"))
    out = subprocess.run(
        [str(python), "-c", _IMPORT_PUBLIC_NAMES, *_NOT_INSTALLED],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip().splitlines()[-1] == '["moto", "torch", "numpy", "boto3"]'
    assert sys.prefix != str(python.parent.parent)
