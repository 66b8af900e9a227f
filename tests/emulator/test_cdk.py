"""The CDK CLI against the emulator: which CLI runs, what environment points it there, and which
stacks of a synthesized assembly a deploy names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlpipeline_emulator.cdk import (
    CDK_CLI_VERSION,
    assembly_stacks,
    cdk_command,
    cdk_environment,
)
from mlpipeline_emulator.session import Emulator, EmulatorError

ROOT = Path(__file__).resolve().parents[2]


def test_the_pinned_cli_is_the_one_this_repository_pins() -> None:
    package = json.loads((ROOT / "package.json").read_text())

    assert package["devDependencies"]["aws-cdk"] == CDK_CLI_VERSION


def test_the_apps_own_cli_is_preferred(tmp_path: Path) -> None:
    cli = tmp_path / "node_modules" / ".bin" / "cdk"
    cli.parent.mkdir(parents=True)
    cli.touch()

    assert cdk_command(tmp_path) == [str(cli)]


def test_without_one_the_pinned_cli_runs_through_npx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    npx = tmp_path / "bin" / "npx"
    npx.parent.mkdir()
    npx.touch(mode=0o755)
    monkeypatch.setenv("PATH", str(npx.parent))

    assert cdk_command(tmp_path) == [str(npx), "--yes", f"aws-cdk@{CDK_CLI_VERSION}"]


def test_without_node_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(EmulatorError, match=f"npm install aws-cdk@{CDK_CLI_VERSION}"):
        cdk_command(tmp_path)


def test_the_environment_points_every_sdk_at_the_emulator_only(tmp_path: Path) -> None:
    emulator = Emulator(port=4567, pid=1, log_path=tmp_path / "emulator.log")
    base = {
        "AWS_PROFILE": "prod",
        "AWS_ENDPOINT_URL_S3": "https://elsewhere",
        "CDK_DEPLOY_ACCOUNT": "999999999999",
        "HOME": "/home/me",
        "PATH": "/usr/bin",
    }

    env = cdk_environment(emulator, base)

    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4567"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_REGION"]) == ("testing", "us-east-1")
    assert not {"AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "CDK_DEPLOY_ACCOUNT"} & set(env)
    assert env["AWS_CONFIG_FILE"] == str(tmp_path / "aws-config-none")
    assert env["HOME"] == "/home/me"
    # Outside a virtual environment the emulator's interpreter runs the app...
    assert env["PATH"].split(os.pathsep)[1:] == ["/usr/bin"]
    # ...inside one, the environment's own.
    assert cdk_environment(emulator, {**base, "VIRTUAL_ENV": "/venv"})["PATH"] == "/usr/bin"


def _assembly(folder: Path, stacks: dict[str, str]) -> Path:
    artifacts: dict[str, object] = {"Tree": {"type": "cdk:tree"}}
    for artifact_id, name in stacks.items():
        artifacts[artifact_id] = {
            "type": "aws:cloudformation:stack",
            "displayName": artifact_id,
            "properties": {"stackName": name, "templateFile": f"{artifact_id}.template.json"},
        }
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return folder


def test_the_stacks_of_an_assembly_by_name_pattern_or_all(tmp_path: Path) -> None:
    assembly = _assembly(
        tmp_path / "cdk.out", {"Api": "ApiStack", "Data": "DataStack", "Web": "team-web"}
    )

    assert assembly_stacks(assembly) == ["ApiStack", "DataStack", "team-web"]
    assert assembly_stacks(assembly, ["DataStack"]) == ["DataStack"]
    assert assembly_stacks(assembly, ["Web"]) == ["team-web"]  # by artifact id
    assert assembly_stacks(assembly, ["*Stack"]) == ["ApiStack", "DataStack"]
