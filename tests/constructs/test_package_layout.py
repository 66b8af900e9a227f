"""The construct library must never shadow the `constructs` package that aws-cdk-lib imports."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_import_constructs_resolves_to_the_pypi_package() -> None:
    # A fresh interpreter started in the repository root, where a `constructs/` folder exists.
    code = (
        "import constructs, sys; "
        "print(constructs.__file__); print(hasattr(constructs, 'Construct'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "site-packages" in out[0]
    assert Path(out[0]).resolve().parent != (ROOT / "constructs").resolve()
    assert out[1] == "True"


def test_constructs_folder_is_not_a_package() -> None:
    assert not (ROOT / "constructs" / "__init__.py").exists()


def test_library_is_installed_under_its_own_name() -> None:
    import mlpipeline_cdk

    assert Path(mlpipeline_cdk.__file__).resolve().is_relative_to(ROOT / "constructs" / "src")
    assert importlib.metadata.version("mlpipeline-cdk") == mlpipeline_cdk.__version__
    assert (Path(mlpipeline_cdk.__file__).parent / "py.typed").exists()


def test_every_public_name_resolves() -> None:
    import mlpipeline_cdk

    for name in mlpipeline_cdk.__all__:
        assert getattr(mlpipeline_cdk, name) is not None, name


def test_run_time_tools_start_without_aws_cdk_lib() -> None:
    # The local emulator and the operator tools run where no CDK is needed; importing
    # aws-cdk-lib would start its JavaScript runtime for nothing.
    code = "import sys, mlpipeline_emulator, mlpipeline_cli; print('aws_cdk' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
