"""``mlpipeline-emulator``, used as its README says: a tiny CDK app of another team, in a folder of
its own, deployed under its own stack name, looked at through ``env`` from another folder, and
destroyed. The emulator runs with the scripted runtime (nothing trains here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from mlpipeline_emulator.cli import parser
from mlpipeline_emulator.session import HOME_VARIABLE
from tests.emulator.processes import kill_recorded_emulator

ROOT = Path(__file__).resolve().parents[2]
COMMAND = str(Path(sys.executable).parent / "mlpipeline-emulator")
STACK = "TinyTeamStack"
TIMEOUT = 600

APP = """
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "{stack}")
bucket = s3.Bucket(stack, "Reports", removal_policy=cdk.RemovalPolicy.DESTROY)
cdk.CfnOutput(stack, "ReportsBucketName", value=bucket.bucket_name)
cdk.CfnOutput(stack, "Team", value="tiny")
app.synth()
"""


def test_the_command_has_the_subcommands_of_its_readme() -> None:
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]

    assert list(commands) == ["start", "deploy", "env", "status", "destroy", "stop", "preflight"]
    assert parser().parse_args(["deploy", "A", "B"]).stacks == ["A", "B"]
    assert parser().parse_args(["destroy"]).stacks == []


def test_status_and_env_say_when_no_emulator_runs(emulator_home: Path, tmp_path: Path) -> None:
    status = _run(["status"], tmp_path)
    env = _run(["env"], tmp_path)

    assert (status.returncode, status.stdout.strip()) == (1, "No emulator is running.")
    assert env.returncode == 1 and "mlpipeline-emulator start" in env.stderr


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "emulator-home"
    try:
        yield home
    finally:
        kill_recorded_emulator(home)


def _run(args: list[str], cwd: Path, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLPIPELINE_LOCAL_RUNTIME": "scripted"}
    if home is not None:
        env[HOME_VARIABLE] = str(home)
    return subprocess.run(
        [COMMAND, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def _tiny_app(folder: Path) -> Path:
    folder.mkdir()
    (folder / "app.py").write_text(textwrap.dedent(APP.format(stack=STACK)))
    (folder / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py"}))
    # The app's own CDK CLI: this repository's pinned one (no download).
    (folder / "node_modules").symlink_to(ROOT / "node_modules")
    return folder


def _exports(text: str) -> dict[str, str]:
    return dict(
        line.removeprefix("export ").split("=", 1)
        for line in text.splitlines()
        if line.startswith("export ")
    )


@pytest.mark.slow
def test_another_apps_stack_deploys_from_its_folder_and_is_destroyed(
    tmp_path: Path, home: Path
) -> None:
    app, elsewhere = _tiny_app(tmp_path / "team-app"), tmp_path / "elsewhere"
    elsewhere.mkdir()

    deployed = _run(["deploy"], app, home)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert f"{STACK} outputs:" in deployed.stdout
    assert "  Team               tiny" in deployed.stdout

    # From another folder: the same emulator, through its home.
    status = _run(["status"], elsewhere, home)
    assert status.returncode == 0 and "Emulator running on http://127.0.0.1:" in status.stdout
    env = _exports(_run(["env"], elsewhere, home).stdout)
    assert set(env) == {
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    }
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    cloudformation = session.client("cloudformation", endpoint_url=env["AWS_ENDPOINT_URL"])
    s3 = session.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    [stack] = cloudformation.describe_stacks(StackName=STACK)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs["Team"] == "tiny"
    assert outputs["ReportsBucketName"] in deployed.stdout
    s3.head_bucket(Bucket=outputs["ReportsBucketName"])

    destroyed = _run(["destroy", STACK], app, home)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.describe_stacks(StackName=STACK)
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=outputs["ReportsBucketName"])

    stopped = _run(["stop"], elsewhere, home)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert _run(["status"], elsewhere, home).returncode == 1
