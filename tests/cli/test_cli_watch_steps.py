"""``mlpipeline watch`` by steps: the steps read from the state machine's definition (the app's
own, and one with a construct user's hooks), and the lines a run prints by default."""

from __future__ import annotations

import copy
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mlpipeline_cli._display import TerminalDisplay
from mlpipeline_cli._watch import WatchEvent
from mlpipeline_cli._watch_steps import step_map
from mlpipeline_cli._watch_view import StepView
from mlpipeline_cli.cli import EXIT_NOT_SUCCEEDED, main
from tests.cli.test_cli_watch import (
    ENDPOINT,
    EXECUTION,
    FAILURE_CAUSE,
    JOB,
    MACHINE,
    SUCCESS_LINES,
    FakeClients,
    FakeSageMaker,
    FakeStepFunctions,
    History,
    at,
    endpoint_description,
    failed_history,
    job_description,
    pipeline_definition,
    successful_history,
    training_parameters,
    utc_clock,
)

__all__ = ["utc_clock"]  # the fixture, used by name

# --- the steps of a definition -------------------------------------------------------------------


def test_the_pipelines_states_fall_into_its_steps() -> None:
    steps = step_map(pipeline_definition())
    expected = {
        "ApplyRunDefaults": "check input",
        "ValidateRunInput": "check input",
        "CheckHyperparameterValues": "check input",
        "IsHyperparameterValueString": "check input",  # inside the Map: the Map's step
        "RunConfigured": "check input",
        "Train": "train",
        # The retry loop after a caught training error is training, not evaluation.
        "TrainingClassifyTrain": "train",
        "TrainingWait": "train",
        "TrainingRetryTask": "train",
        "HasFinalMetrics": "evaluate",
        "AddMetricSentinel": "evaluate",
        "CollectMetrics": "evaluate",
        "IsModelGoodEnough": "evaluate",
        "CreateModel": "deploy",
        "CreateEndpointConfig": "deploy",
        "DeployWait": "deploy",
        "FindEndpoint": "deploy",
        "WaitForIdleEndpoint": "deploy",
        "ReadDeployedRun": "deploy",
        "NewerRunAlreadyDeployed": "deploy",
        "CreateEndpoint": "deploy",
        "UpdateEndpoint": "deploy",
        "StartPollingEndpoint": "wait for endpoint",
        "WaitForEndpoint": "wait for endpoint",
        "DescribeEndpoint": "wait for endpoint",
        "CountPoll": "wait for endpoint",
        "ReadServingRun": "wait for endpoint",
    }
    assert {name: steps.step_of(name) for name in expected} == expected
    # The failure path belongs to no step: the run fails in the step it was in.
    for name in ("RejectTrainingDataUri", "ModelBelowThreshold", "NotifyFailure", "RunFailed"):
        assert steps.is_failure_path(name), name
    assert not steps.knows("NoSuchState")


def with_hooks(definition: dict[str, Any]) -> dict[str, Any]:
    """``definition`` with a data check before training and a model record after evaluation,
    chained in as hooks are (tests/constructs/consumer/team_stack.py)."""
    hooked = copy.deepcopy(definition)
    states = hooked["States"]
    before_train = next(n for n, s in states.items() if s.get("Next") == "Train")
    states[before_train]["Next"] = "CheckTrainingData"
    states["CheckTrainingData"] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
        "Parameters": {"Bucket": "data", "Prefix": "training-data/"},
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "NotifyFailure"}],
        "Next": "HasTrainingData",
    }
    states["HasTrainingData"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.dataCheck.count", "NumericEquals": 0, "Next": "NoTrainingData"}
        ],
        "Default": "TrainingDataFound",
    }
    states["NoTrainingData"] = {"Type": "Pass", "Next": "NotifyFailure"}
    states["TrainingDataFound"] = {"Type": "Pass", "Next": "Train"}
    states["ModelAccepted"]["Next"] = "ComposeModelRecord"
    states["ComposeModelRecord"] = {"Type": "Pass", "Next": "RecordModel"}
    states["RecordModel"] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
        "Parameters": {"Bucket": "artifacts", "Key": "registry/x.json", "Body": "{}"},
        "Next": "CreateModel",
    }
    return hooked


def test_a_hooks_states_fall_under_the_step_they_sit_in_or_their_own() -> None:
    steps = step_map(with_hooks(pipeline_definition()))
    assert {
        name: steps.step_of(name)
        for name in (
            "RunConfigured",
            "CheckTrainingData",
            "HasTrainingData",
            "TrainingDataFound",
            "Train",
            "HasFinalMetrics",
            "ComposeModelRecord",
            "RecordModel",
            "CreateModel",
            "WaitForEndpoint",
        )
    } == {
        "RunConfigured": "check input",
        "CheckTrainingData": "check training data",  # a task of its own: a step of its own
        "HasTrainingData": "check training data",
        "TrainingDataFound": "check training data",
        "Train": "train",
        "HasFinalMetrics": "evaluate",
        "ComposeModelRecord": "evaluate",
        "RecordModel": "record model",
        "CreateModel": "deploy",
        "WaitForEndpoint": "wait for endpoint",
    }
    assert steps.is_failure_path("NoTrainingData")


# --- what a run prints ---------------------------------------------------------------------------

STEP_LINES = [
    "2026-03-01 10:00:00  run nightly started",
    "10:00:01  check input        done in 0.9s",
    f"10:00:01  train              training job {JOB}",
    "10:00:03  train              Starting - Launching requested ML instances",
    "10:02:00  train              Downloading - Downloading input data",
    "10:03:00  train              Training - Training image download completed. Training in "
    "progress.",
    "10:11:30  train              metrics test:accuracy=0.9712, test:loss=0.0865",
    "10:11:40  train              Uploading - Uploading generated training model",
    "10:12:00  train              Completed - Training job completed",
    "10:12:02  train              done in 12m 01s",
    "10:12:05  evaluate           done in 2.5s",
    "10:12:05  deploy             creating the endpoint",
    "10:12:06  deploy             done in 1.0s",
    "10:17:07  wait for endpoint  endpoint mnist-endpoint: Creating",
    "10:22:07  wait for endpoint  endpoint mnist-endpoint: InService",
    "10:22:07  wait for endpoint  done in 10m 01s",
    SUCCESS_LINES[-1],
]


def test_watch_shows_a_successful_run_by_its_steps(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sfn = FakeStepFunctions(successful_history().events)
    clients = FakeClients(stepfunctions=sfn, sagemaker=FakeSageMaker())
    assert main(["watch", EXECUTION], clients=clients) == 0
    assert capsys.readouterr().out.splitlines() == STEP_LINES
    assert sfn.definition_calls == 1


def test_watch_shows_a_failed_run_in_one_line_naming_the_step(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sfn = FakeStepFunctions(failed_history().events)
    clients = FakeClients(stepfunctions=sfn, sagemaker=FakeSageMaker())
    assert main(["watch", EXECUTION], clients=clients) == EXIT_NOT_SUCCEEDED
    assert capsys.readouterr().out.splitlines() == [
        "2026-03-01 10:00:00  run nightly started",
        f"10:00:01  train              training job {JOB}",
        "10:00:03  train              Starting - Launching requested ML instances",
        "10:02:00  train              Downloading - Downloading input data",
        "10:03:00  train              Training - Training image download completed. Training in "
        "progress.",
        "10:04:59  train              Failed - AlgorithmError: ExecuteUserScriptError: exit 1",
        "10:05:00  train              Failed - Training job failed",
        "10:05:00  train              failed after 4m 59s",
        f"10:05:00  FAILED after 5m 00s in train: TrainingJobFailed: {FAILURE_CAUSE}",
    ]


def first_deployment_history() -> History:
    """A run's deployment where the endpoint does not exist yet: FindEndpoint's DescribeEndpoint
    fails, the error is caught, and the run creates the endpoint; a throttled CreateEndpoint is
    tried again on the way."""
    h = History()
    h.started(0, {})
    h.state("Pass", "ApplyRunDefaults", 0.1, 0.2)
    h.enter("Task", "CreateModel", 1)
    h.task("sagemaker", "createModel", {"ModelName": "mnist-7c8d"}, 1)
    h.task_succeeded("sagemaker", "createModel", {"ModelArn": "arn:..."}, 2)
    h.exit("Task", "CreateModel", 2)
    h.enter("Task", "FindEndpoint", 3)
    h.task("aws-sdk:sagemaker", "describeEndpoint", {"EndpointName": ENDPOINT}, 3)
    missing = f"Could not find endpoint '{ENDPOINT}'. (Service: SageMaker, Status Code: 400)"
    h.add(
        "TaskFailed",
        4,
        "taskFailedEventDetails",
        resourceType="aws-sdk:sagemaker",
        resource="describeEndpoint",
        error="SageMaker.SageMakerException",
        cause=missing,
    )
    h.exit("Task", "FindEndpoint", 4)
    h.state("Choice", "EndpointExists", 4.1, 4.2)
    parameters = {"EndpointName": ENDPOINT, "EndpointConfigName": "mnist-5a6b"}
    h.enter("Task", "CreateEndpoint", 5)
    h.task("sagemaker", "createEndpoint", parameters, 5)
    h.add(
        "TaskFailed",
        6,
        "taskFailedEventDetails",
        resourceType="sagemaker",
        resource="createEndpoint",
        error="SageMaker.AmazonSageMakerException",
        cause="Rate exceeded (Service: SageMaker, Status Code: 400, Error Code: Throttling)",
    )
    h.exit("Task", "CreateEndpoint", 6)
    for name in ("DeployClassifyCreateEndpoint", "DeployMarkCreateEndpoint", "DeployWait"):
        h.state("Pass", name, 6.1, 6.2)
    h.state("Choice", "DeployRetryTask", 8, 8.1)
    h.enter("Task", "CreateEndpoint", 9)
    h.task("sagemaker", "createEndpoint", parameters, 9)
    h.task_succeeded("sagemaker", "createEndpoint", {"EndpointArn": "arn:..."}, 10)
    h.exit("Task", "CreateEndpoint", 10)
    h.state("Pass", "StartPollingEndpoint", 10, 10.1)
    h.state("Wait", "WaitForEndpoint", 10.1, 40)
    h.enter("Task", "DescribeEndpoint", 40)
    h.task("aws-sdk:sagemaker", "describeEndpoint", {"EndpointName": ENDPOINT}, 40)
    h.task_succeeded("aws-sdk:sagemaker", "describeEndpoint", endpoint_description("InService"), 41)
    h.exit("Task", "DescribeEndpoint", 41)
    h.state("Pass", "RunSucceeded", 41, 41.5)
    h.add(
        "ExecutionSucceeded",
        41.5,
        "executionSucceededEventDetails",
        output=json.dumps({"endpointName": ENDPOINT, "endpointStatus": "InService"}),
    )
    return h


def test_a_caught_error_on_the_normal_path_is_no_error_line(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    events = first_deployment_history().events
    clients = FakeClients(stepfunctions=FakeStepFunctions(events), sagemaker=FakeSageMaker())
    assert main(["watch", EXECUTION], clients=clients) == 0
    assert capsys.readouterr().out.splitlines() == [
        "2026-03-01 10:00:00  run nightly started",
        "10:00:01  check input        done in 0.9s",
        "10:00:05  deploy             creating the endpoint",
        "10:00:09  deploy             create endpoint again after "
        "SageMaker.AmazonSageMakerException: Rate exceeded (Service: SageMaker, Status Code: "
        "400, Error Code: Throttling)",
        "10:00:09  deploy             creating the endpoint",
        "10:00:10  deploy             done in 9.0s",
        "10:00:41  wait for endpoint  endpoint mnist-endpoint: InService",
        "10:00:41  wait for endpoint  done in 31s",
        "10:00:41  SUCCEEDED after 41s: endpoint mnist-endpoint InService",
    ]
    # --verbose shows every state and every error, as before.
    assert main(["watch", EXECUTION, "--verbose"], clients=clients) == 0
    verbose = capsys.readouterr().out
    assert "error    FindEndpoint: SageMaker.SageMakerException: Could not find endpoint" in verbose
    assert "started  DeployWait" in verbose


def test_a_hooks_own_task_is_a_step_of_its_own(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    h = History()
    h.started(0, {})
    h.state("Pass", "ApplyRunDefaults", 0.1, 0.2)
    h.enter("Task", "CheckTrainingData", 1)
    h.task("aws-sdk:s3", "listObjectsV2", {"Bucket": "data"}, 1)
    h.task_succeeded("aws-sdk:s3", "listObjectsV2", {"KeyCount": 3}, 2)
    h.exit("Task", "CheckTrainingData", 2)
    h.state("Choice", "HasTrainingData", 2, 2.5)
    h.enter("Task", "Train", 3)
    h.task("sagemaker", "createTrainingJob.sync", training_parameters(), 3)
    h.add("ExecutionAborted", 4, "executionAbortedEventDetails")
    sfn = FakeStepFunctions(h.events, with_hooks(pipeline_definition()))
    sagemaker = FakeSageMaker()
    sagemaker.jobs = [job_description("InProgress", 1, metrics=False, dates=at)]
    clients = FakeClients(stepfunctions=sfn, sagemaker=sagemaker)
    assert main(["watch", EXECUTION], clients=clients) == EXIT_NOT_SUCCEEDED
    assert capsys.readouterr().out.splitlines() == [
        "2026-03-01 10:00:00  run nightly started",
        "10:00:01  check input          done in 0.9s",
        "10:00:03  check training data  done in 2.0s",
        f"10:00:03  train                training job {JOB}",
        "10:00:03  train                Starting - Launching requested ML instances",
        "10:00:04  train                stopped after 1.0s",
        "10:00:04  ABORTED after 4.0s in train",
    ]


class Denied(FakeStepFunctions):
    """A caller without states:DescribeStateMachineForExecution."""

    def describe_state_machine_for_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
            "DescribeStateMachineForExecution",
        )

    def describe_state_machine(self, stateMachineArn: str) -> dict[str, Any]:  # noqa: N803
        assert stateMachineArn == MACHINE
        return {"stateMachineArn": MACHINE, "definition": json.dumps(self.definition)}


def test_without_the_executions_definition_the_state_machines_is_read(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    clients = FakeClients(
        stepfunctions=Denied(successful_history().events), sagemaker=FakeSageMaker()
    )
    assert main(["watch", EXECUTION], clients=clients) == 0
    assert capsys.readouterr() == ("\n".join(STEP_LINES) + "\n", "")


def test_without_any_definition_every_state_is_shown(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    class DeniedBoth(Denied):
        def describe_state_machine(self, stateMachineArn: str) -> dict[str, Any]:  # noqa: N803
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
                "DescribeStateMachine",
            )

    clients = FakeClients(
        stepfunctions=DeniedBoth(successful_history().events), sagemaker=FakeSageMaker()
    )
    assert main(["watch", EXECUTION], clients=clients) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == SUCCESS_LINES
    assert err == (
        "mlpipeline: could not read the state machine's definition (AccessDeniedException); "
        "showing every state\n"
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_status_line_on_a_terminal_names_the_step(utc_clock: None) -> None:
    screen = Terminal()
    now = [at(100)]

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    view = StepView(lambda: step_map(pipeline_definition()))
    display = TerminalDisplay(
        screen, sleep=sleep, clock=lambda: now[0], width=lambda: 80, view=view
    )
    display.show(WatchEvent("execution_started", at(0), details={"name": "nightly"}))
    display.show(WatchEvent("state_entered", at(0.5), "ApplyRunDefaults"))
    display.show(WatchEvent("state_entered", at(1), "Train"))
    display.show(
        WatchEvent(
            "training_job_status",
            at(90),
            "Train",
            details={"trainingJobName": JOB, "secondaryStatus": "Training"},
        )
    )
    display.wait(2)
    display.close()
    text = screen.getvalue()
    assert "\r\x1b[Krunning 1m 40s | train 1m 39s | training Training" in text
    assert "\r\x1b[Krunning 1m 42s | train 1m 41s | training Training" in text
    assert "\r\x1b[K00:00:01  check input        done in 0.5s\n" not in text  # local time: UTC
    assert "\r\x1b[K10:00:01  check input        done in 0.5s\n" in text
