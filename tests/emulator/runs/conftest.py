"""Fixtures for the local SageMaker: an installed runtime, moto with state machines executed,
and helpers that run an ASL definition to its end."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlpipeline_emulator import ScriptedRuntime, local_sagemaker
from tests.emulator.runs.helpers import MOTO_CONFIG, REGION, ROLE, Execution, RunMachine, wait_for

_machine_numbers = itertools.count()


@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    with local_sagemaker(ScriptedRuntime()) as active:
        assert isinstance(active, ScriptedRuntime)
        yield active


@pytest.fixture
def aws(runtime: ScriptedRuntime) -> Iterator[None]:
    with mock_aws(config=MOTO_CONFIG):
        yield


@pytest.fixture
def sagemaker(aws: None) -> Any:
    return boto3.client("sagemaker", region_name=REGION)


@pytest.fixture
def sfn(aws: None) -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def start_machine(sfn: Any) -> Callable[..., str]:
    """Create a state machine from ``definition`` and start it; returns the execution ARN."""

    def start(definition: dict[str, Any], execution_input: dict[str, Any] | None = None) -> str:
        machine = sfn.create_state_machine(
            name=f"machine-{next(_machine_numbers)}",
            definition=json.dumps(definition),
            roleArn=ROLE,
        )
        started = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], input=json.dumps(execution_input or {})
        )
        return str(started["executionArn"])

    return start


@pytest.fixture
def finish(sfn: Any) -> Callable[[str], Execution]:
    """Wait for an execution to end and return what it ended with."""

    def wait(execution_arn: str) -> Execution:
        described = wait_for(
            lambda: (
                (d := sfn.describe_execution(executionArn=execution_arn))["status"] != "RUNNING"
                and d
            ),
            f"execution {execution_arn}",
        )
        history = sfn.get_execution_history(executionArn=execution_arn)["events"]
        output = described.get("output")
        return Execution(
            status=described["status"],
            output=json.loads(output) if output is not None else None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
        )

    return wait


@pytest.fixture
def run_machine(
    start_machine: Callable[..., str], finish: Callable[[str], Execution]
) -> RunMachine:
    """Create, start and finish a state machine."""

    def run(definition: dict[str, Any], execution_input: dict[str, Any] | None = None) -> Execution:
        return finish(start_machine(definition, execution_input))

    return run
