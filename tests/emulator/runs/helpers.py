"""Plain helpers for the local SageMaker tests: constants, ASL builders, bounded polling."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/StateMachineRole"
SAGEMAKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"
#: Upper bound for anything the tests wait for; scripted jobs take tens of milliseconds.
TIMEOUT = 10.0


#: moto with state machines executed. moto's default is to drop boto3's default session on every
#: start, which costs each test a fresh load of the SageMaker API model; keeping it saves seconds.
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "core": {
        "mock_credentials": True,
        "passthrough": {"urls": [], "services": []},
        "reset_boto3_session": False,
        "service_whitelist": None,
    },
}


@dataclass(frozen=True)
class Execution:
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]


RunMachine = Callable[..., Execution]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def task(resource: str, parameters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A Task state; ``fields`` such as ``Next``, ``End``, ``Catch``, ``ResultPath``."""
    state: dict[str, Any] = {"Type": "Task", "Resource": resource, "Parameters": parameters}
    state.update(fields)
    if "Next" not in state:
        state.setdefault("End", True)
    return state


def machine(start: str, **states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": start, "States": states}


def provision(template: dict[str, Any]) -> None:
    """Create, in the mocked account, what the rendered definition of ``template`` calls by name
    besides SageMaker's jobs and endpoints: its buckets (named by the renderer's stand-in, the
    logical id in lowercase) and its model package groups."""
    import boto3

    s3 = boto3.client("s3", region_name=REGION)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::S3::Bucket":
            s3.create_bucket(Bucket=logical_id.lower())
        elif resource["Type"] == "AWS::SageMaker::ModelPackageGroup":
            sagemaker.create_model_package_group(
                ModelPackageGroupName=resource["Properties"]["ModelPackageGroupName"]
            )


def kms_keys_for(template: dict[str, Any], region: str = REGION) -> dict[str, dict[str, str]]:
    """Create a KMS key (in the active moto) for each ``AWS::KMS::Key`` of ``template``, and
    return the ``refs`` and ``attributes`` that resolve the template's references to them
    (S3 refuses SSE-KMS with a key that does not exist)."""
    import boto3

    kms = boto3.client("kms", region_name=region)
    refs: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::KMS::Key":
            key = kms.create_key()["KeyMetadata"]
            refs[logical_id] = key["KeyId"]
            attributes[f"{logical_id}.Arn"] = key["Arn"]
    return {"refs": refs, "attributes": attributes}


def pipeline_environment(template: dict[str, Any], refs: dict[str, str]) -> Any:
    """Provision what the rendered definition of ``template`` names (its buckets, model package
    groups and KMS keys) and return the renderer's Environment with ``refs`` and the keys."""
    from mlpipeline_cli.asl import Environment

    keys = kms_keys_for(template)
    provision(template)
    return Environment(refs={**refs, **keys["refs"]}, attributes=keys["attributes"])


def finish_execution(sfn: Any, arn: str, *, timeout: float = 30, history: bool = True) -> Execution:
    """Wait for the execution ``arn`` to end and return what it ended with."""
    described = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
        f"execution {arn}",
        timeout=timeout,
    )
    output = described.get("output")
    return Execution(
        status=described["status"],
        output=json.loads(output) if output else None,
        error=described.get("error"),
        cause=described.get("cause"),
        history=sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        if history
        else [],
    )
