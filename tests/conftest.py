"""Shared fixtures: every stack is synthesized once per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk.assertions import Template

ROOT = Path(__file__).resolve().parent.parent


def cdk_json_context() -> dict[str, Any]:
    """The feature flags and context of cdk.json, which the CLI passes to the app."""
    return dict(json.loads((ROOT / "cdk.json").read_text())["context"])


def new_app(**context: Any) -> cdk.App:
    """An app configured as `cdk synth` would configure it, with ``context`` on top."""
    return cdk.App(context={**cdk_json_context(), **context})


@pytest.fixture(scope="session")
def app_assembly(tmp_path_factory: pytest.TempPathFactory) -> cdk.cx_api.CloudAssembly:
    """The app exactly as app.py builds it, cdk-nag included, synthesized once."""
    from app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(cdk.App(context=cdk_json_context(), outdir=str(outdir)))
    return app.synth()


@pytest.fixture(scope="session")
def ml_template_json(app_assembly: cdk.cx_api.CloudAssembly) -> dict[str, Any]:
    return dict(app_assembly.get_stack_by_name("MLPipelineStack").template)


@pytest.fixture(scope="session")
def ml_template(ml_template_json: dict[str, Any]) -> Template:
    return Template.from_json(ml_template_json)


#: Regions the stack is pinned to in tests: the default registry account, two other ones, China.
REGIONS = ["us-east-1", "af-south-1", "me-south-1", "cn-north-1"]


@pytest.fixture(scope="session")
def regional_assembly() -> cdk.cx_api.CloudAssembly:
    """The ML pipeline stack pinned to a few regions, cdk-nag included, in one app synthesized
    once."""
    from cdk_nag import AwsSolutionsChecks

    from stacks.ml_pipeline_stack import MLPipelineStack

    app = new_app()
    for region in REGIONS:
        MLPipelineStack(
            app,
            f"Stack-{region}",
            env=cdk.Environment(account="123456789012", region=region),
        )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app.synth()


@pytest.fixture(scope="session")
def regional_templates(regional_assembly: cdk.cx_api.CloudAssembly) -> dict[str, dict[str, Any]]:
    return {r: dict(regional_assembly.get_stack_by_name(f"Stack-{r}").template) for r in REGIONS}


@pytest.fixture
def chdir_tmp(tmp_path: Path) -> Iterator[Path]:
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(cwd)


# --- fresh installs: each distribution installs alone from a clean clone ----------------------


def clean_clone(destination: Path) -> Path:
    """A clone of the repository's committed HEAD: what a user (or CI) checks out."""
    subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(destination)], check=True, timeout=300
    )
    return destination


def fresh_venv(directory: Path) -> Path:
    """A new virtual environment with nothing in it; returns its interpreter."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(directory)], check=True, timeout=300
    )
    return directory / "bin" / "python"


def pip_install(python: Path, *requirements: str, cwd: Path | None = None) -> None:
    """``pip install`` into the environment of ``python``, with this environment's pip
    (``--python``). ``--no-compile`` skips writing bytecode for aws-cdk-lib's thousands of
    modules (three quarters of the install's time); what is installed is the same."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-compile", "--disable-pip-version-check", *requirements),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"pip install {requirements}: {done.stderr[-3000:]}"
