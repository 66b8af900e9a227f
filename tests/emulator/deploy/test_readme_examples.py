"""The README's operating examples work as written: pasted into a clean shell in a fresh clone,
after the README's set-up, against the app's stack deployed into the local emulator.

The examples are read from README.md, so they cannot drift from what this runs: the fenced block
after each ``<!-- readme-example: NAME -->`` marker. ``make deploy-local``'s closing hint
(``scripts/demo.py``'s ``NEXT_STEPS``) must be one of those blocks and made of commands the
operating examples run, so it is covered too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlpipeline_emulator.cdk import bootstrap, deploy, synth
from mlpipeline_emulator.session import Emulator, start_emulator

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
STACK = "MLPipelineStack"
#: The blocks a person pastes, in the order they paste them.
LOCAL_SHELL, OPERATING, APPROVAL, HINT = "local-shell", "operating", "approval", "deploy-local-hint"
#: What the CDK CLI must not print in ``make demo`` and ``make deploy-local``.
NOISE = re.compile(
    r"DeprecationWarning|\(node:\d+\)|end-of-life|feature flags? (is|are) not configured|NOTICES",
    re.I,
)

sys.path.insert(0, str(ROOT / "scripts"))
from demo import NEXT_STEPS  # noqa: E402  (scripts/ is not a package)


def readme_block(name: str) -> list[str]:
    """The commands of the fenced block after ``<!-- readme-example: NAME -->`` in README.md,
    one per command (a line ending in a backslash continues on the next)."""
    text = README.read_text(encoding="utf-8")
    found = re.findall(
        rf"^<!-- readme-example: {re.escape(name)} -->\n```sh\n(.*?)^```$", text, re.M | re.S
    )
    assert len(found) == 1, f"README.md has {len(found)} blocks marked {name!r}, expected one"
    return [c.strip() for c in re.sub(r"\\\n", " ", found[0]).splitlines() if c.strip()]


def words(command: str) -> list[str]:
    """A command as the shell splits it, comments dropped and the venv's path to a command left
    out (``.venv/bin/mlpipeline`` is what ``source .venv/bin/activate`` makes ``mlpipeline``)."""
    split = shlex.split(command, comments=True)
    return [split[0].removeprefix(".venv/bin/"), *split[1:]] if split else []


# --- The blocks themselves (fast) -------------------------------------------------------------


def test_readme_marks_the_blocks_this_test_runs() -> None:
    assert [words(c)[0] for c in readme_block(LOCAL_SHELL)] == ["eval"]
    operating = [words(c)[:2] for c in readme_block(OPERATING)]
    assert operating[0] == ["source", ".venv/bin/activate"]
    for command in ("upload-data", "run", "list", "describe", "predict"):
        assert ["mlpipeline", command] in operating, command
    approval = [words(c)[:2] for c in readme_block(APPROVAL)]
    for command in ("run", "models", "approve", "deploy"):
        assert ["mlpipeline", command] in approval, command


def test_deploy_local_hint_is_the_readme_block_made_of_the_operating_examples() -> None:
    executed = [words(c) for c in readme_block(LOCAL_SHELL) + readme_block(OPERATING)]

    assert list(NEXT_STEPS) == readme_block(HINT)
    for line in NEXT_STEPS:
        assert words(line) in executed, f"{line!r} is not among the examples the test runs"


# --- The blocks, run (slow: the real CDK CLI and a real training run) ------------------------


@dataclass
class Deployment:
    emulator: Emulator
    cdk_output: str


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    emulator = start_emulator(state_dir=tmp_path_factory.mktemp("emulator-home"))
    try:
        assembly = str(tmp_path_factory.mktemp("cdk.out"))
        output = []
        for step in (
            lambda: synth(emulator, app_dir=ROOT, output=assembly, capture=True),
            lambda: bootstrap(emulator, app_dir=ROOT, assembly=assembly, capture=True),
            lambda: deploy(emulator, [STACK], app_dir=ROOT, assembly=assembly, capture=True),
        ):
            result = step()
            output.append(result.stdout + result.stderr)
        yield Deployment(emulator, "".join(output))
    finally:
        emulator.stop()


def _fresh_clone(folder: Path) -> Path:
    """A folder that looks like a clone after ``make setup``: the app's scripts and the
    virtual environment, and nothing else (no data written yet)."""
    folder.mkdir()
    for name in (".venv", "scripts"):
        (folder / name).symlink_to(ROOT / name)
    return folder


def _clean_shell(emulator: Emulator, home: Path) -> dict[str, str]:
    """A login-free shell's environment: no AWS settings, no activated venv, nothing on PATH
    but the system's. Only the emulator's home is set, as `make deploy-local` left it."""
    home.mkdir()
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "MLPIPELINE_EMULATOR_HOME": str(emulator.log_path.parent),
    }


@pytest.mark.slow
def test_the_cdk_cli_deploys_quietly(deployment: Deployment) -> None:
    """`make demo` shows one line per stage: the CLI prints no Node deprecation warnings, no
    notices and no unconfigured feature flags."""
    noise = [line for line in deployment.cdk_output.splitlines() if NOISE.search(line)]

    assert noise == []


@pytest.mark.slow
def test_operating_examples_work_as_written_against_the_emulator(
    deployment: Deployment, tmp_path: Path
) -> None:
    commands = readme_block(LOCAL_SHELL) + readme_block(OPERATING) + readme_block(APPROVAL)
    script = ["set -euo pipefail"]
    for number, command in enumerate(commands):
        script += [command, f"echo '::done {number}'"]

    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=_fresh_clone(tmp_path / "clone"),
        env=_clean_shell(deployment.emulator, tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )

    done = [int(n) for n in re.findall(r"^::done (\d+)$", result.stdout, re.M)]
    failed = commands[len(done)] if len(done) < len(commands) else None
    assert failed is None and result.returncode == 0, (
        f"README example failed: {failed}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    assert done == list(range(len(commands)))
    assert "SUCCEEDED" in result.stdout
    assert os.path.isdir(tmp_path / "clone" / ".local" / "demo-data")
    # The approval block: version 2 was registered for approval, approved and deployed by the
    # approval rule's run, then the endpoint was rolled back to version 1.
    sagemaker = deployment.emulator.client("sagemaker")
    summaries = sagemaker.list_model_packages(ModelPackageGroupName="mnist-models")
    versions = sorted(
        (s["ModelPackageArn"].rsplit("/", 1)[1], s["ModelApprovalStatus"])
        for s in summaries["ModelPackageSummaryList"]
    )
    assert versions == [("1", "Approved"), ("2", "Approved")]
    described = sagemaker.describe_model_package(
        ModelPackageName=summaries["ModelPackageSummaryList"][0]["ModelPackageArn"]
    )
    assert described.get("ApprovalDescription") in (None, "checked on the sample digits")
    endpoint = sagemaker.describe_endpoint(EndpointName="mnist-endpoint")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"].endswith("/mnist-models/1")
    sfn = deployment.emulator.client("stepfunctions")
    (machine,) = sfn.list_state_machines()["stateMachines"]
    inputs = [
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    ]
    # The operating run, the manual run, the approval rule's run for version 2, the rollback.
    assert sum(1 for i in inputs if i.get("onApproval")) == 1
    assert sum(1 for i in inputs if str(i.get("modelPackage", "")).endswith("/1")) == 1
