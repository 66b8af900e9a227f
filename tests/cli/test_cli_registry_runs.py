"""``list`` and ``describe`` of the model registry's runs, against moto executing a stand-in
with the pipeline's output shapes (contract/run_output.py): a manual-mode run that awaits
approval, a run that deploys a version without training, and one refused a version that does
not exist."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from mlpipeline_cdk.contract import registry, run_output
from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli.cli import main

REGION = "us-east-1"
GROUP = "mnist-models"


def arn_of(version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/{version}"


TRAINED = {
    run_output.TRAINING_JOB_NAME: "mnist-3",
    run_output.MODEL_ARTIFACTS: "s3://artifacts/models/mnist-3/output/model.tar.gz",
    run_output.METRICS: [],
    run_output.ACCURACY: 0.9712,
    run_output.ACCURACY_THRESHOLD: 0.9,
}
DEPLOYED = {
    run_output.MODEL_NAME: "mnist-model-2",
    run_output.ENDPOINT_CONFIG_NAME: "mnist-config-2",
    run_output.ENDPOINT_NAME: "mnist-endpoint",
    run_output.ENDPOINT_STATUS: "InService",
}
DEFINITION = {
    "StartAt": "DeployAVersion",
    "States": {
        "DeployAVersion": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.modelPackage", "IsPresent": True},
                        {"Variable": "$.modelPackage", "StringEquals": arn_of(9)},
                    ],
                    "Next": "ModelPackageNotFound",
                },
                {"Variable": "$.modelPackage", "IsPresent": True, "Next": "Deployed"},
            ],
            "Default": "AwaitingApproval",
        },
        "ModelPackageNotFound": {
            "Type": "Fail",
            "Error": registry.MODEL_PACKAGE_NOT_FOUND,
            "Cause": f"model package {arn_of(9)} does not exist",
        },
        "Deployed": {
            "Type": "Pass",
            "Result": {
                **TRAINED,
                **DEPLOYED,
                run_output.TRAINING_JOB_NAME: "mnist-2",
                run_output.ACCURACY: 0.9633,
                run_output.MODEL_PACKAGE_ARN: arn_of(2),
                run_output.MODEL_PACKAGE_VERSION: 2,
                run_output.APPROVAL_STATUS: registry.APPROVED,
                run_output.DEPLOYMENT_STATUS: run_output.DEPLOYED,
            },
            "End": True,
        },
        "AwaitingApproval": {
            "Type": "Pass",
            "Result": {
                **TRAINED,
                run_output.MODEL_PACKAGE_ARN: arn_of(3),
                run_output.MODEL_PACKAGE_VERSION: 3,
                run_output.APPROVAL_STATUS: registry.PENDING,
                run_output.DEPLOYMENT_STATUS: run_output.AWAITING_APPROVAL,
            },
            "End": True,
        },
    },
}


@pytest.fixture(scope="module")
def clients() -> AwsClients:
    return AwsClients(region=REGION)


@pytest.fixture
def machine(clients: AwsClients, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Three finished runs: ``manual`` (awaits approval), ``rollback`` (deploys version 2),
    ``unknown`` (refused version 9)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = clients.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="Pipeline",
            roleArn="arn:aws:iam::123456789012:role/pipeline",
            definition=json.dumps(DEFINITION),
        )["stateMachineArn"]
        for name, run_input in (
            ("manual", {"approval": "manual"}),
            ("rollback", {"modelPackage": arn_of(2)}),
            ("unknown", {"modelPackage": arn_of(9)}),
        ):
            execution = sfn.start_execution(
                stateMachineArn=arn, name=name, input=json.dumps(run_input)
            )["executionArn"]
            deadline = time.monotonic() + 30  # moto runs the execution in a thread
            while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            time.sleep(0.01)  # distinct start dates: list is newest first
        yield str(arn)


def _run(clients: AwsClients, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv, clients=clients) == 0
    return capsys.readouterr().out


def test_list_shows_each_runs_version(
    clients: AwsClients, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(clients, ["--state-machine-arn", machine, "list"], capsys)
    header, *rows = out.splitlines()
    start = header.index("VERSION")
    versions = {row.split()[0]: row[start:].split("  ")[0].strip() for row in rows}
    assert versions == {
        "manual": "3 awaiting approval",
        "rollback": "deploy 2",
        "unknown": "deploy 9",
    }


def test_list_json_gives_the_version_keys_and_the_requested_version(
    clients: AwsClients, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(clients, ["--state-machine-arn", machine, "list", "--json"], capsys)
    records = {record["name"]: record for record in json.loads(out)}
    manual, rollback, unknown = records["manual"], records["rollback"], records["unknown"]
    assert (manual["modelPackageVersion"], manual["approvalStatus"]) == (3, "PendingManualApproval")
    assert manual["deploymentStatus"] == "AwaitingApproval"
    assert manual["modelPackage"] is None
    assert (rollback["modelPackage"], rollback["modelPackageArn"]) == (arn_of(2), arn_of(2))
    assert (unknown["modelPackage"], unknown["error"]) == (arn_of(9), "ModelPackageNotFound")


def test_describe_of_a_run_awaiting_approval_says_how_to_approve_it(
    clients: AwsClients, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(clients, ["--state-machine-arn", machine, "describe", "manual"], capsys)
    assert (
        "result:    accuracy 0.9712 (threshold 0.9), version 3 awaiting approval (approve it "
        "with: mlpipeline approve 3), training job mnist-3"
    ) in out.splitlines()


def test_describe_of_a_deploy_run_names_the_version_it_deploys(
    clients: AwsClients, machine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _run(clients, ["--state-machine-arn", machine, "describe", "rollback"], capsys)
    assert f"deploys:   version 2 of {GROUP} ({arn_of(2)})" in lines.splitlines()
    assert (
        "result:    accuracy 0.9633 (threshold 0.9), version 2, endpoint mnist-endpoint "
        "InService, model mnist-model-2, training job mnist-2"
    ) in lines.splitlines()
    failed = _run(clients, ["--state-machine-arn", machine, "describe", "unknown"], capsys)
    assert f"deploys:   version 9 of {GROUP} ({arn_of(9)})" in failed.splitlines()
    assert "error:     ModelPackageNotFound" in failed.splitlines()


def test_the_output_summary_of_a_run_without_a_registry_is_unchanged() -> None:
    from mlpipeline_cli._history import summarize_output

    output: dict[str, Any] = {**TRAINED, **DEPLOYED}
    assert summarize_output(output) == (
        "accuracy 0.9712 (threshold 0.9), endpoint mnist-endpoint InService, model "
        "mnist-model-2, training job mnist-3"
    )
