"""StartExecution refuses the names Step Functions refuses, with its error, and runs the others."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.emulator.runs.helpers import REGION, ROLE, machine


@pytest.fixture
def state_machine(sfn: Any) -> str:
    created = sfn.create_state_machine(
        name="names",
        definition=json.dumps(machine("Done", Done={"Type": "Succeed"})),
        roleArn=ROLE,
    )
    return str(created["stateMachineArn"])


@pytest.mark.parametrize("name", ["a b/c", "x" * 81, "tab\there", "q?", "bell\x07"])
def test_start_execution_refuses_illegal_names(state_machine: str, name: str) -> None:
    with pytest.raises(ClientError) as caught:
        boto3.client(
            "stepfunctions", region_name=REGION, config=Config(parameter_validation=False)
        ).start_execution(stateMachineArn=state_machine, name=name)
    assert caught.value.response["Error"]["Code"] == "InvalidName"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("name", ["run(1)!'x", "étape-1", "x" * 80])
def test_start_execution_accepts_legal_names(sfn: Any, state_machine: str, name: str) -> None:
    started = sfn.start_execution(stateMachineArn=state_machine, name=name)
    assert started["executionArn"].endswith(f":{name}")
