"""An emulator's credentials for a second account (what ``env --account`` prints and the CDK CLI
gets): through the server, they act in that account, and every tool gets the same ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlpipeline_emulator import ScriptedRuntime
from mlpipeline_emulator.cdk import cdk_environment
from mlpipeline_emulator.server import LocalServer, serve
from mlpipeline_emulator.session import ACCOUNT, Emulator, EmulatorError, write_json

OTHER = "222222222222"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serve(0, ScriptedRuntime()) as running:
        yield running


def _emulator(server: LocalServer, tmp_path: Path) -> Emulator:
    state = tmp_path / "emulator.json"
    write_json(state, {"pid": os.getpid(), "port": server.port})
    return Emulator(
        port=server.port, pid=os.getpid(), log_path=tmp_path / "emulator.log", state_path=state
    )


def test_a_second_accounts_clients_act_in_it(server: LocalServer, tmp_path: Path) -> None:
    emulator = _emulator(server, tmp_path)
    theirs, ours = emulator.client("s3", account=OTHER), emulator.client("s3")
    assert emulator.client("sts", account=OTHER).get_caller_identity()["Account"] == OTHER
    assert emulator.client("sts").get_caller_identity()["Account"] == ACCOUNT
    theirs.create_bucket(Bucket="their-reports")
    assert "their-reports" in {b["Name"] for b in theirs.list_buckets()["Buckets"]}
    assert "their-reports" not in {b["Name"] for b in ours.list_buckets()["Buckets"]}


def test_the_credentials_are_recorded_and_given_to_every_tool(
    server: LocalServer, tmp_path: Path
) -> None:
    emulator = _emulator(server, tmp_path)
    environment = emulator.environment(OTHER)
    assert environment["AWS_SESSION_TOKEN"]
    again = Emulator(port=server.port, pid=os.getpid(), log_path=tmp_path / "x.log")
    again.state_path = emulator.state_path  # another process finds the same record
    assert again.credentials(OTHER) == emulator.credentials(OTHER)
    cli = cdk_environment(emulator, base={"AWS_SESSION_TOKEN": "a real one"}, account=OTHER)
    assert cli["AWS_ACCESS_KEY_ID"] == environment["AWS_ACCESS_KEY_ID"]
    assert cli["AWS_SESSION_TOKEN"] == environment["AWS_SESSION_TOKEN"]
    assert "AWS_SESSION_TOKEN" not in cdk_environment(emulator, base={"AWS_SESSION_TOKEN": "x"})


@pytest.mark.parametrize("account", ["2222", "22222222222a", "\uff12" * 12, ""])
def test_an_account_id_is_twelve_digits(tmp_path: Path, account: str) -> None:
    emulator = Emulator(port=1, pid=1, log_path=tmp_path / "emulator.log")
    with pytest.raises(EmulatorError, match=r"--account .*: an AWS account id is 12 digits"):
        emulator.environment(account)
