"""``watch`` of the model registry's runs: the registry's states fall into the steps ``register``
and ``find version``, a run that awaits approval ends naming its version and the command that
approves it, and a run that deploys a version says which one it deploys.

The definition is the app's with the registry's states chained in as issue 14's design lays them
out: after the gate, WriteEvaluationReport (S3 putObject), RegisterModelPackage (the SDK
integration's createModelPackage, whose ModelMetrics read the report's URI) and the Choice
ApprovalMode (manual: AwaitingApproval, then the run's end); a run with ``modelPackage`` skips
training: FindLatestApproved (listModelPackages, for ``latest``), DescribeModelPackage, the
Choice CheckModelPackage, then the deployment.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from mlpipeline_cdk.contract import run_output
from mlpipeline_cli._watch_steps import step_map
from mlpipeline_cli.cli import main
from tests.cli.test_cli_watch import (
    ENDPOINT,
    EXECUTION,
    JOB,
    SUCCESS_OUTPUT,
    FakeClients,
    FakeSageMaker,
    FakeStepFunctions,
    History,
    endpoint_description,
    pipeline_definition,
    utc_clock,
)

__all__ = ["utc_clock"]  # the fixture, used by name

GROUP = "mnist-models"
VERSION_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{GROUP}/3"
SDK = "arn:aws:states:::aws-sdk:"
FAIL = [{"ErrorEquals": ["States.ALL"], "Next": "NotifyFailure"}]


def registry_definition() -> dict[str, Any]:
    definition = copy.deepcopy(pipeline_definition())
    states = definition["States"]
    before_train = next(n for n, s in states.items() if s.get("Next") == "Train")
    states[before_train]["Next"] = "TrainOrDeployVersion"
    states["TrainOrDeployVersion"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.config.modelPackage", "IsPresent": True, "Next": "LatestOrGiven"}
        ],
        "Default": "Train",
    }
    states["LatestOrGiven"] = {
        "Type": "Choice",
        "Choices": [
            {
                "Variable": "$.config.modelPackage",
                "StringEquals": "latest",
                "Next": "FindLatestApproved",
            }
        ],
        "Default": "UseGivenVersion",
    }
    states["FindLatestApproved"] = {
        "Type": "Task",
        "Resource": f"{SDK}sagemaker:listModelPackages",
        "Parameters": {"ModelPackageGroupName": GROUP, "ModelApprovalStatus": "Approved"},
        "ResultPath": "$.latest",
        "Catch": FAIL,
        "Next": "UseLatestApproved",
    }
    states["UseLatestApproved"] = {"Type": "Pass", "Next": "DescribeModelPackage"}
    states["UseGivenVersion"] = {"Type": "Pass", "Next": "DescribeModelPackage"}
    states["DescribeModelPackage"] = {
        "Type": "Task",
        "Resource": f"{SDK}sagemaker:describeModelPackage",
        "Parameters": {"ModelPackageName.$": "$.target.arn"},
        "ResultPath": "$.found",
        "Catch": FAIL,
        "Next": "CheckModelPackage",
    }
    states["CheckModelPackage"] = {
        "Type": "Choice",
        "Choices": [
            {
                "Variable": "$.found.status",
                "StringEquals": "Approved",
                "Next": "ModelPackageFound",
            }
        ],
        "Default": "ModelPackageNotApproved",
    }
    states["ModelPackageNotApproved"] = {"Type": "Pass", "Next": "NotifyFailure"}
    states["ModelPackageFound"] = {"Type": "Pass", "Next": "CreateModel"}
    # The train path: the gate's acceptance leads to registration instead of the deployment.
    states["ModelAccepted"]["Next"] = "PrepareEvaluationReport"
    states["PrepareEvaluationReport"] = {"Type": "Pass", "Next": "WriteEvaluationReport"}
    states["WriteEvaluationReport"] = {
        "Type": "Task",
        "Resource": f"{SDK}s3:putObject",
        "Parameters": {"Bucket": "artifacts", "Key.$": "$$.Execution.Name", "Body.$": "$.report"},
        "ResultSelector": {"uri.$": "States.Format('s3://artifacts/{}', $$.Execution.Name)"},
        "ResultPath": "$.report",
        "Catch": FAIL,
        "Next": "ChooseApprovalStatus",
    }
    states["ChooseApprovalStatus"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.config.approval", "StringEquals": "manual", "Next": "RegisterPending"}
        ],
        "Default": "RegisterApproved",
    }
    states["RegisterPending"] = {"Type": "Pass", "Next": "RegisterModelPackage"}
    states["RegisterApproved"] = {"Type": "Pass", "Next": "RegisterModelPackage"}
    states["RegisterModelPackage"] = {
        "Type": "Task",
        "Resource": f"{SDK}sagemaker:createModelPackage",
        "Parameters": {
            "ModelPackageGroupName": GROUP,
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri.$": "$.report.uri"}
                }
            },
        },
        "ResultPath": "$.modelPackage",
        "Catch": FAIL,
        "Next": "DescribeRegisteredVersion",
    }
    states["DescribeRegisteredVersion"] = {"Type": "Pass", "Next": "ApprovalMode"}
    states["ApprovalMode"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.config.approval", "StringEquals": "manual", "Next": "AwaitingApproval"}
        ],
        "Default": "DeployRegisteredVersion",
    }
    states["AwaitingApproval"] = {"Type": "Pass", "Next": "RunSucceeded"}
    states["DeployRegisteredVersion"] = {"Type": "Pass", "Next": "CreateModel"}
    return definition


def test_the_registrys_states_fall_into_register_and_find_version() -> None:
    steps = step_map(registry_definition())
    expected = {
        "TrainOrDeployVersion": "check input",
        "LatestOrGiven": "check input",
        "UseGivenVersion": "check input",
        "FindLatestApproved": "find version",
        "UseLatestApproved": "find version",
        "DescribeModelPackage": "find version",
        "CheckModelPackage": "find version",
        "ModelPackageFound": "find version",
        "Train": "train",
        "IsModelGoodEnough": "evaluate",
        "PrepareEvaluationReport": "evaluate",
        # The report the registration's ModelMetrics read is part of registering.
        "WriteEvaluationReport": "register",
        "ChooseApprovalStatus": "register",
        "RegisterPending": "register",
        "RegisterModelPackage": "register",
        "DescribeRegisteredVersion": "register",
        "ApprovalMode": "register",
        "AwaitingApproval": "register",
        "DeployRegisteredVersion": "register",
        "CreateModel": "deploy",
        "UpdateEndpoint": "deploy",
        "WaitForEndpoint": "wait for endpoint",
    }
    assert {name: steps.step_of(name) for name in expected} == expected
    assert steps.is_failure_path("ModelPackageNotApproved")


def test_an_s3_task_whose_result_registration_does_not_read_is_a_step_of_its_own() -> None:
    definition = registry_definition()
    registration = definition["States"]["RegisterModelPackage"]["Parameters"]
    registration["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] = "s3://fixed/report"
    del registration["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri.$"]
    steps = step_map(definition)
    assert steps.step_of("WriteEvaluationReport") == "write evaluation report"
    assert steps.step_of("RegisterModelPackage") == "register"


AWAITING_OUTPUT = {
    **{key: SUCCESS_OUTPUT[key] for key in run_output.TRAINING_KEYS},
    run_output.MODEL_PACKAGE_ARN: VERSION_ARN,
    run_output.MODEL_PACKAGE_VERSION: 3,
    run_output.APPROVAL_STATUS: "PendingManualApproval",
    run_output.DEPLOYMENT_STATUS: run_output.AWAITING_APPROVAL,
}


def awaiting_history() -> History:
    """A manual-mode run: trained (the job's events left out), accepted, registered, ended."""
    h = History()
    h.started(0, {"approval": "manual"})
    h.state("Pass", "ApplyRunDefaults", 0.05, 0.1)
    h.state("Choice", "IsModelGoodEnough", 1, 1.1)
    h.enter("Task", "WriteEvaluationReport", 2)
    h.task("aws-sdk:s3", "putObject", {"Bucket": "artifacts", "Key": "evaluations/x.json"}, 2)
    h.task_succeeded("aws-sdk:s3", "putObject", {}, 2.5)
    h.exit("Task", "WriteEvaluationReport", 2.5)
    h.enter("Task", "RegisterModelPackage", 3)
    h.task("aws-sdk:sagemaker", "createModelPackage", {"ModelPackageGroupName": GROUP}, 3)
    h.task_succeeded("aws-sdk:sagemaker", "createModelPackage", {"ModelPackageArn": VERSION_ARN}, 4)
    h.exit("Task", "RegisterModelPackage", 4)
    h.state("Choice", "ApprovalMode", 4.1, 4.2)
    h.state("Pass", "AwaitingApproval", 4.3, 4.4)
    h.state("Pass", "RunSucceeded", 4.5, 4.6)
    h.add(
        "ExecutionSucceeded",
        5,
        "executionSucceededEventDetails",
        output=json.dumps(AWAITING_OUTPUT),
        outputDetails={"truncated": False},
    )
    return h


def test_watch_of_a_run_awaiting_approval_names_the_version_and_how_to_approve_it(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sfn = FakeStepFunctions(awaiting_history().events, registry_definition())
    clients = FakeClients(stepfunctions=sfn, sagemaker=FakeSageMaker())
    assert main(["watch", EXECUTION], clients=clients) == 0
    assert capsys.readouterr().out.splitlines() == [
        "2026-03-01 10:00:00  run nightly started",
        "10:00:01  check input        done in 0.9s",
        "10:00:02  evaluate           done in 1.0s",
        "10:00:05  register           done in 3.0s",
        "10:00:05  SUCCEEDED after 5.0s: accuracy 0.9712 (threshold 0.9), version 3 awaiting "
        f"approval (approve it with: mlpipeline approve 3), training job {JOB}",
    ]


def deploy_history() -> History:
    """A run that deploys version 3 without training, to an existing endpoint."""
    h = History()
    h.started(0, {"modelPackage": VERSION_ARN})
    h.state("Pass", "ApplyRunDefaults", 0.05, 0.1)
    h.enter("Task", "DescribeModelPackage", 1)
    h.task("aws-sdk:sagemaker", "describeModelPackage", {"ModelPackageName": VERSION_ARN}, 1)
    h.task_succeeded("aws-sdk:sagemaker", "describeModelPackage", {}, 1.5)
    h.exit("Task", "DescribeModelPackage", 1.5)
    h.state("Choice", "CheckModelPackage", 1.6, 1.7)
    h.enter("Task", "UpdateEndpoint", 2)
    h.task(
        "sagemaker",
        "updateEndpoint",
        {"EndpointName": ENDPOINT, "EndpointConfigName": "mnist-5a6b"},
        2,
    )
    h.task_succeeded("sagemaker", "updateEndpoint", {}, 3)
    h.exit("Task", "UpdateEndpoint", 3)
    h.state("Wait", "WaitForEndpoint", 3, 60)
    h.enter("Task", "DescribeEndpoint", 60)
    h.task("aws-sdk:sagemaker", "describeEndpoint", {"EndpointName": ENDPOINT}, 60)
    h.task_succeeded("aws-sdk:sagemaker", "describeEndpoint", endpoint_description("InService"), 61)
    h.exit("Task", "DescribeEndpoint", 61)
    h.state("Pass", "RunSucceeded", 61, 61.5)
    output = {
        **SUCCESS_OUTPUT,
        run_output.MODEL_PACKAGE_ARN: VERSION_ARN,
        run_output.MODEL_PACKAGE_VERSION: 3,
        run_output.APPROVAL_STATUS: "Approved",
        run_output.DEPLOYMENT_STATUS: run_output.DEPLOYED,
    }
    h.add(
        "ExecutionSucceeded",
        62,
        "executionSucceededEventDetails",
        output=json.dumps(output),
        outputDetails={"truncated": False},
    )
    return h


def test_watch_of_a_deploy_run_says_which_version_it_deploys(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sfn = FakeStepFunctions(deploy_history().events, registry_definition())
    clients = FakeClients(stepfunctions=sfn, sagemaker=FakeSageMaker())
    assert main(["watch", EXECUTION], clients=clients) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"2026-03-01 10:00:00  run nightly started: deploys version 3 of {GROUP}"
    assert lines[1:3] == [
        "10:00:01  check input        done in 0.9s",
        "10:00:02  find version       done in 1.0s",
    ]
    assert lines[-1] == (
        "10:01:02  SUCCEEDED after 1m 02s: accuracy 0.9712 (threshold 0.9), version 3, "
        f"endpoint {ENDPOINT} InService, model mnist-7c8d, training job {JOB}"
    )
