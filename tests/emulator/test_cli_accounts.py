"""``mlpipeline-emulator`` with a second account: the same tiny app deployed into the default
account and into 222222222222 of one emulator, each stack, bucket and bootstrap in its own
account, each destroyed on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from mlpipeline_emulator.session import ACCOUNT
from tests.emulator.processes import kill_recorded_emulator
from tests.emulator.test_cli import STACK, _exports, _run, _tiny_app

OTHER = "222222222222"


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "emulator-home"
    try:
        yield home
    finally:
        kill_recorded_emulator(home)


def _clients(env: dict[str, str]) -> tuple[Any, Any, Any]:
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=env.get("AWS_SESSION_TOKEN"),
        region_name=env["AWS_REGION"],
    )
    url = env["AWS_ENDPOINT_URL"]
    return (
        session.client("sts", endpoint_url=url),
        session.client("cloudformation", endpoint_url=url),
        session.client("s3", endpoint_url=url),
    )


def test_an_account_that_is_not_twelve_digits_is_refused(tmp_path: Path, home: Path) -> None:
    refused = _run(["deploy", "--account", "2222"], tmp_path, home)
    assert refused.returncode == 1
    assert "--account '2222': an AWS account id is 12 digits" in refused.stderr
    assert not (home / "emulator.json").exists()  # nothing was started for it


@pytest.mark.slow
def test_the_app_deploys_into_two_accounts_of_one_emulator(tmp_path: Path, home: Path) -> None:
    app = _tiny_app(tmp_path / "team-app")
    ours = _run(["deploy"], app, home)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    theirs = _run(["deploy", "--account", OTHER], app, home)
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    assert "Emulator already running" in theirs.stdout
    assert f"{STACK} outputs:" in theirs.stdout

    env_a = _exports(_run(["env"], tmp_path, home).stdout)
    env_b = _exports(_run(["env", "--account", OTHER], tmp_path, home).stdout)
    assert "AWS_SESSION_TOKEN" in env_b and env_b["AWS_ACCESS_KEY_ID"] != env_a["AWS_ACCESS_KEY_ID"]
    sts_a, cfn_a, s3_a = _clients(env_a)
    sts_b, cfn_b, s3_b = _clients(env_b)
    assert sts_a.get_caller_identity()["Account"] == ACCOUNT
    assert sts_b.get_caller_identity()["Account"] == OTHER

    bucket = {}
    for account, cfn, s3 in ((ACCOUNT, cfn_a, s3_a), (OTHER, cfn_b, s3_b)):
        [stack] = cfn.describe_stacks(StackName=STACK)["Stacks"]
        assert stack["StackId"].split(":")[4] == account
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        [toolkit] = cfn.describe_stacks(StackName="CDKToolkit")["Stacks"]  # bootstrapped there
        assert toolkit["StackId"].split(":")[4] == account
        bucket[account] = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}[
            "ReportsBucketName"
        ]
        assert bucket[account] in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert bucket[ACCOUNT] != bucket[OTHER]
    assert bucket[OTHER] in theirs.stdout
    assert bucket[OTHER] not in {b["Name"] for b in s3_a.list_buckets()["Buckets"]}

    destroyed = _run(["destroy", STACK, "--account", OTHER], app, home)
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    with pytest.raises(ClientError, match="does not exist"):
        cfn_b.describe_stacks(StackName=STACK)
    assert cfn_a.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert _run(["stop"], tmp_path, home).returncode == 0
