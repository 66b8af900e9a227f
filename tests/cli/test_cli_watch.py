"""``mlpipeline watch``: histories of realistic shape, a training job and an endpoint, faked.

The fakes answer GetExecutionHistory as Step Functions does (newest first on request, in pages
with a next token), and DescribeTrainingJob / DescribeEndpoint from scripted answers, so both a
finished execution and one followed live can be rendered and checked line by line.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from mlpipeline_cli._display import JsonDisplay, LineDisplay, TerminalDisplay
from mlpipeline_cli._watch import ExecutionWatcher, WatchEvent
from mlpipeline_cli.asl import render_definition
from mlpipeline_cli.cli import EXIT_NOT_SUCCEEDED, main

UTC = timezone.utc  # noqa: UP017 - the library supports Python 3.10
T0 = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Pipeline"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:Pipeline:nightly"
JOB = "mnist-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
ENDPOINT = "mnist-endpoint"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def millis(seconds: float) -> int:
    """A time as Step Functions' service integrations write dates: epoch milliseconds."""
    return int(at(seconds).timestamp() * 1000)


class History:
    """Builds an execution history: ids, previous ids and event details as Step Functions does."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def add(
        self, kind: str, seconds: float, details_key: str | None = None, **details: Any
    ) -> None:
        event: dict[str, Any] = {
            "timestamp": at(seconds),
            "type": kind,
            "id": len(self.events) + 1,
            "previousEventId": len(self.events),
        }
        if details_key:
            event[details_key] = details
        self.events.append(event)

    def started(self, seconds: float, run_input: Any) -> None:
        self.add(
            "ExecutionStarted",
            seconds,
            "executionStartedEventDetails",
            input=json.dumps(run_input),
            inputDetails={"truncated": False},
            roleArn="arn:aws:iam::123456789012:role/StateMachineRole",
        )

    def enter(self, kind: str, name: str, seconds: float, state_input: Any = None) -> None:
        self.add(
            f"{kind}StateEntered",
            seconds,
            "stateEnteredEventDetails",
            name=name,
            input=json.dumps(state_input if state_input is not None else {}),
            inputDetails={"truncated": False},
        )

    def exit(self, kind: str, name: str, seconds: float, output: Any = None) -> None:
        self.add(
            f"{kind}StateExited",
            seconds,
            "stateExitedEventDetails",
            name=name,
            output=json.dumps(output if output is not None else {}),
            outputDetails={"truncated": False},
        )

    def state(self, kind: str, name: str, start: float, end: float, **io_: Any) -> None:
        self.enter(kind, name, start, io_.get("state_input"))
        self.exit(kind, name, end, io_.get("output"))

    def task(
        self, resource_type: str, resource: str, parameters: dict[str, Any], seconds: float
    ) -> None:
        self.add(
            "TaskScheduled",
            seconds,
            "taskScheduledEventDetails",
            resourceType=resource_type,
            resource=resource,
            region="us-east-1",
            parameters=json.dumps(parameters),
        )
        self.add(
            "TaskStarted",
            seconds,
            "taskStartedEventDetails",
            resourceType=resource_type,
            resource=resource,
        )

    def task_succeeded(
        self, resource_type: str, resource: str, output: Any, seconds: float
    ) -> None:
        self.add(
            "TaskSucceeded",
            seconds,
            "taskSucceededEventDetails",
            resourceType=resource_type,
            resource=resource,
            output=json.dumps(output),
            outputDetails={"truncated": False},
        )


def training_parameters() -> dict[str, Any]:
    return {
        "TrainingJobName": JOB,
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {
            "TrainingImage": "763104351884.dkr.ecr...",
            "TrainingInputMode": "File",
        },
        "HyperParameters": {"epochs": "2", "sagemaker_program": "mnist.py"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 2,
            "VolumeSizeInGB": 30,
        },
        "Tags": [{"Key": "mlpipeline:execution", "Value": EXECUTION}],
    }


TRANSITIONS = [
    ("Starting", 3, "Launching requested ML instances"),
    ("Downloading", 120, "Downloading input data"),
    ("Training", 180, "Training image download completed. Training in progress."),
    ("Uploading", 700, "Uploading generated training model"),
    ("Completed", 720, "Training job completed"),
]
METRICS = [
    {"MetricName": "test:accuracy", "Value": 0.9712, "Timestamp": millis(690)},
    {"MetricName": "test:loss", "Value": 0.0865, "Timestamp": millis(690)},
]


def job_description(
    status: str, transitions: int, *, metrics: bool, dates: Any = millis
) -> dict[str, Any]:
    description: dict[str, Any] = {
        "TrainingJobName": JOB,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}",
        "TrainingJobStatus": status,
        "SecondaryStatus": TRANSITIONS[transitions - 1][0],
        "SecondaryStatusTransitions": [
            {"Status": name, "StartTime": dates(start), "StatusMessage": message}
            for name, start, message in TRANSITIONS[:transitions]
        ],
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://artifacts/models/{JOB}/output/model.tar.gz"},
    }
    if metrics:
        description["FinalMetricDataList"] = [{**m, "Timestamp": dates(690)} for m in METRICS]
    if status in ("Completed", "Failed"):
        description["TrainingEndTime"] = dates(720)
    return description


def endpoint_description(status: str, dates: Any = millis) -> dict[str, Any]:
    return {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}",
        "EndpointConfigName": "mnist-5a6b",
        "EndpointStatus": status,
        "CreationTime": dates(730),
        "LastModifiedTime": dates(740),
    }


SUCCESS_OUTPUT = {
    "trainingJobName": JOB,
    "modelArtifacts": f"s3://artifacts/models/{JOB}/output/model.tar.gz",
    "metrics": METRICS,
    "accuracy": 0.9712,
    "accuracyThreshold": 0.9,
    "modelName": "mnist-7c8d",
    "endpointConfigName": "mnist-5a6b",
    "endpointName": ENDPOINT,
    "endpointStatus": "InService",
}


def successful_history(*, with_job_output: bool = True) -> History:
    h = History()
    h.started(0, {"hyperparameters": {"epochs": "2"}})
    h.state("Pass", "ApplyRunDefaults", 0.05, 0.1)
    h.enter("Task", "Train", 1)
    h.task("sagemaker", "createTrainingJob.sync", training_parameters(), 1)
    h.add(
        "TaskSubmitted",
        2,
        "taskSubmittedEventDetails",
        resourceType="sagemaker",
        resource="createTrainingJob.sync",
        output=json.dumps(
            {"TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{JOB}"}
        ),
    )
    output: Any = job_description("Completed", 5, metrics=True) if with_job_output else {}
    h.task_succeeded("sagemaker", "createTrainingJob.sync", output, 722)
    h.exit("Task", "Train", 722)
    h.state("Choice", "IsModelGoodEnough", 722.5, 722.6)
    h.enter("Task", "CreateEndpoint", 725)
    h.task(
        "sagemaker",
        "createEndpoint",
        {"EndpointName": ENDPOINT, "EndpointConfigName": "mnist-5a6b"},
        725,
    )
    h.task_succeeded("sagemaker", "createEndpoint", {"EndpointArn": "arn:..."}, 726)
    h.exit("Task", "CreateEndpoint", 726)
    for start, status in ((726, "Creating"), (1026, "InService")):
        h.state("Wait", "WaitForEndpoint", start, start + 300)
        h.enter("Task", "DescribeEndpoint", start + 300)
        h.task("aws-sdk:sagemaker", "describeEndpoint", {"EndpointName": ENDPOINT}, start + 300)
        h.task_succeeded(
            "aws-sdk:sagemaker", "describeEndpoint", endpoint_description(status), start + 301
        )
        h.exit("Task", "DescribeEndpoint", start + 301)
    h.state("Pass", "RunSucceeded", 1327, 1327.2)
    h.add(
        "ExecutionSucceeded",
        1327.2,
        "executionSucceededEventDetails",
        output=json.dumps(SUCCESS_OUTPUT),
        outputDetails={"truncated": False},
    )
    return h


FAILURE_CAUSE = f"training job {JOB} ended Failed: AlgorithmError: ExecuteUserScriptError: exit 1"


def failed_history() -> History:
    h = History()
    h.started(0, {"hyperparameters": {"lr": "9"}})
    h.enter("Task", "Train", 1)
    h.task("sagemaker", "createTrainingJob.sync", training_parameters(), 1)
    failed_job = job_description("Failed", 3, metrics=False)
    failed_job["FailureReason"] = "AlgorithmError: ExecuteUserScriptError: exit 1"
    failed_job["TrainingEndTime"] = millis(299)
    failed_job["SecondaryStatusTransitions"].append(
        {"Status": "Failed", "StartTime": millis(300), "StatusMessage": "Training job failed"}
    )
    h.add(
        "TaskFailed",
        300,
        "taskFailedEventDetails",
        resourceType="sagemaker",
        resource="createTrainingJob.sync",
        error="States.TaskFailed",
        cause=json.dumps(failed_job),
    )
    h.exit("Task", "Train", 300)
    caught = {"error": {"Error": "States.TaskFailed", "Cause": json.dumps(failed_job)}}
    h.state("Choice", "ExplainTrainingFailure", 300.1, 300.2, state_input=caught)
    error = {"Error": "TrainingJobFailed", "Cause": FAILURE_CAUSE}
    h.state("Pass", "TrainingJobFailed", 300.3, 300.4, state_input=caught, output={"error": error})
    h.enter("Task", "NotifyFailure", 300.5, {"error": error})
    h.task("sns", "publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:failures"}, 300.5)
    h.task_succeeded("sns", "publish", {"MessageId": "m-1"}, 300.6)
    h.exit("Task", "NotifyFailure", 300.6)
    h.enter("Fail", "RunFailed", 300.7, {"error": error})
    h.add(
        "ExecutionFailed",
        300.7,
        "executionFailedEventDetails",
        error="TrainingJobFailed",
        cause=FAILURE_CAUSE,
    )
    return h


#: The app's state machine, as the CLI reads it back (the template of its snapshot, rendered).
SNAPSHOT = (
    Path(__file__).resolve().parents[1]
    / "app/__snapshots__/test_snapshots/test_ml_pipeline_stack_snapshot.json"
)


def pipeline_definition() -> dict[str, Any]:
    return render_definition(json.loads(SNAPSHOT.read_text()))


class FakeStepFunctions:
    """GetExecutionHistory, DescribeExecution and DescribeStateMachineForExecution over a history
    that can grow between polls."""

    def __init__(
        self, events: list[dict[str, Any]], definition: dict[str, Any] | None = None
    ) -> None:
        self.events = events
        self.history_calls: list[dict[str, Any]] = []
        self.definition = definition if definition is not None else pipeline_definition()
        self.definition_calls = 0

    def describe_state_machine_for_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803
        assert executionArn == EXECUTION
        self.definition_calls += 1
        return {"stateMachineArn": MACHINE, "definition": json.dumps(self.definition)}

    def get_execution_history(self, **request: Any) -> dict[str, Any]:
        self.history_calls.append(request)
        assert request["executionArn"] == EXECUTION
        ordered = list(reversed(self.events)) if request.get("reverseOrder") else list(self.events)
        start = int(request.get("nextToken") or 0)
        size = int(request.get("maxResults") or 1000)
        page: dict[str, Any] = {"events": ordered[start : start + size]}
        if start + size < len(ordered):
            page["nextToken"] = str(start + size)
        return page

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803 - boto3's
        assert executionArn == EXECUTION
        return {"executionArn": EXECUTION, "stateMachineArn": MACHINE, "status": "RUNNING"}


class FakeSageMaker:
    def __init__(self) -> None:
        self.jobs: list[dict[str, Any]] = []
        self.endpoints: list[dict[str, Any]] = []
        self.calls: list[tuple[str, str]] = []

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("describe_training_job", TrainingJobName))
        return self.jobs.pop(0) if len(self.jobs) > 1 else self.jobs[0]

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append(("describe_endpoint", EndpointName))
        return self.endpoints.pop(0) if len(self.endpoints) > 1 else self.endpoints[0]


class FakeClients:
    region = "us-east-1"

    def __init__(self, **clients: Any) -> None:
        self._clients = clients

    def client(self, service: str) -> Any:
        return self._clients[service.replace("-", "_")]

    def use_region_of(self, arn: str) -> None:
        pass


@pytest.fixture
def utc_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC, so that the rendered times are the same on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


SUCCESS_LINES = [
    "2026-03-01 10:00:00  run nightly started",
    "10:00:00  started  ApplyRunDefaults",
    "10:00:00  done     ApplyRunDefaults (0.1s)",
    "10:00:01  started  Train",
    f"10:00:01           training job {JOB} requested",
    f"10:00:03           training job {JOB}: Starting - Launching requested ML instances",
    f"10:02:00           training job {JOB}: Downloading - Downloading input data",
    f"10:03:00           training job {JOB}: Training - Training image download completed. "
    "Training in progress.",
    f"10:11:30           training job {JOB} metrics: test:accuracy=0.9712, test:loss=0.0865",
    f"10:11:40           training job {JOB}: Uploading - Uploading generated training model",
    f"10:12:00           training job {JOB}: Completed - Training job completed",
    "10:12:02  done     Train (12m 01s)",
    "10:12:02  started  IsModelGoodEnough",
    "10:12:02  done     IsModelGoodEnough (0.1s)",
    "10:12:05  started  CreateEndpoint",
    "10:12:06  done     CreateEndpoint (1.0s)",
    "10:12:06  started  WaitForEndpoint",
    "10:17:06  done     WaitForEndpoint (5m 00s)",
    "10:17:06  started  DescribeEndpoint",
    "10:17:07           endpoint mnist-endpoint: Creating",
    "10:17:07  done     DescribeEndpoint (1.0s)",
    "10:17:06  started  WaitForEndpoint",
    "10:22:06  done     WaitForEndpoint (5m 00s)",
    "10:22:06  started  DescribeEndpoint",
    "10:22:07           endpoint mnist-endpoint: InService",
    "10:22:07  done     DescribeEndpoint (1.0s)",
    "10:22:07  started  RunSucceeded",
    "10:22:07  done     RunSucceeded (0.2s)",
    "10:22:07  SUCCEEDED after 22m 07s: accuracy 0.9712 (threshold 0.9), endpoint mnist-endpoint "
    f"InService, model mnist-7c8d, training job {JOB}",
]


def test_watch_renders_a_finished_successful_execution(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sfn, sagemaker = FakeStepFunctions(successful_history().events), FakeSageMaker()
    clients = FakeClients(stepfunctions=sfn, sagemaker=sagemaker)
    assert main(["watch", EXECUTION, "--verbose"], clients=clients) == 0
    assert capsys.readouterr().out.splitlines() == SUCCESS_LINES
    # All of it came from the history: the job's description is the training task's output.
    assert sagemaker.calls == []


def test_watch_of_a_finished_run_describes_the_job_once_when_the_history_lacks_it(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sfn = FakeStepFunctions(successful_history(with_job_output=False).events)
    sagemaker = FakeSageMaker()
    # boto3 gives datetimes where the history's JSON gives epoch milliseconds.
    sagemaker.jobs = [job_description("Completed", 5, metrics=True, dates=at)]
    assert (
        main(
            ["watch", EXECUTION, "--verbose"],
            clients=FakeClients(stepfunctions=sfn, sagemaker=sagemaker),
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == SUCCESS_LINES
    assert sagemaker.calls == [("describe_training_job", JOB)]


def test_watch_json_gives_one_object_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    sfn = FakeStepFunctions(successful_history().events)
    clients = FakeClients(stepfunctions=sfn, sagemaker=FakeSageMaker())
    assert main(["watch", EXECUTION, "--json"], clients=clients) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(events) == len(SUCCESS_LINES)
    assert events[0] == {
        "type": "execution_started",
        "timestamp": "2026-03-01T10:00:00Z",
        "state": None,
        "details": {
            "executionArn": EXECUTION,
            "name": "nightly",
            "input": {"hyperparameters": {"epochs": "2"}},
        },
    }
    train_exit = next(e for e in events if e["type"] == "state_exited" and e["state"] == "Train")
    assert train_exit == {
        "type": "state_exited",
        "timestamp": "2026-03-01T10:12:02Z",
        "state": "Train",
        "elapsedSeconds": 721.0,
        "details": {"stateType": "Task"},
    }
    downloading = [e for e in events if e["details"].get("secondaryStatus") == "Downloading"]
    assert downloading == [
        {
            "type": "training_job_status",
            "timestamp": "2026-03-01T10:02:00Z",
            "state": "Train",
            "details": {
                "trainingJobName": JOB,
                "secondaryStatus": "Downloading",
                "message": "Downloading input data",
            },
        }
    ]
    metrics = [e for e in events if e["type"] == "training_metrics"]
    assert [m["details"] for m in metrics] == [
        {"trainingJobName": JOB, "metrics": {"test:accuracy": 0.9712, "test:loss": 0.0865}}
    ]
    endpoint = [
        (e["state"], e["details"]["status"]) for e in events if e["type"] == "endpoint_status"
    ]
    assert endpoint == [("DescribeEndpoint", "Creating"), ("DescribeEndpoint", "InService")]
    assert events[-1] == {
        "type": "execution_ended",
        "timestamp": "2026-03-01T10:22:07.200000Z",
        "state": None,
        "elapsedSeconds": 1327.2,
        "details": {"status": "SUCCEEDED", "output": SUCCESS_OUTPUT},
    }


def test_watch_renders_a_failed_execution_with_the_failing_state_and_cause(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sfn, sagemaker = FakeStepFunctions(failed_history().events), FakeSageMaker()
    clients = FakeClients(stepfunctions=sfn, sagemaker=sagemaker)
    status = main(["watch", EXECUTION, "--verbose"], clients=clients)
    assert status == EXIT_NOT_SUCCEEDED
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        "2026-03-01 10:00:00  run nightly started",
        "10:00:01  started  Train",
        f"10:00:01           training job {JOB} requested",
        f"10:00:03           training job {JOB}: Starting - Launching requested ML instances",
    ]
    assert f"10:05:00           training job {JOB}: Failed - Training job failed" in lines
    assert (
        f"10:04:59           training job {JOB}: Failed - AlgorithmError: ExecuteUserScriptError: "
        "exit 1"
    ) in lines
    # The task's cause is the whole job description; the line gives its FailureReason.
    assert (
        "10:05:00  error    Train: States.TaskFailed: AlgorithmError: ExecuteUserScriptError: "
        "exit 1"
    ) in lines
    assert "10:05:00  started  RunFailed" in lines
    assert lines[-1] == (
        "10:05:00  FAILED after 5m 00s in TrainingJobFailed: TrainingJobFailed: " + FAILURE_CAUSE
    )
    assert sagemaker.calls == []


def test_watch_json_of_a_failed_execution_ends_with_error_cause_and_state(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clients = FakeClients(stepfunctions=FakeStepFunctions(failed_history().events), sagemaker=None)
    assert main(["watch", EXECUTION, "--json"], clients=clients) == EXIT_NOT_SUCCEEDED
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["type"] == "execution_ended"
    assert events[-1]["state"] == "TrainingJobFailed"
    assert events[-1]["details"] == {
        "status": "FAILED",
        "error": "TrainingJobFailed",
        "cause": FAILURE_CAUSE,
        "failedState": "TrainingJobFailed",
    }
    errors = [e for e in events if e["type"] == "state_error"]
    assert [(e["state"], e["details"]["event"], e["details"]["error"]) for e in errors] == [
        ("Train", "TaskFailed", "States.TaskFailed")
    ]


def test_watch_latest_follows_the_newest_execution(
    utc_clock: None, capsys: pytest.CaptureFixture[str]
) -> None:
    class WithList(FakeStepFunctions):
        def list_executions(self, **request: Any) -> dict[str, Any]:
            assert request == {"stateMachineArn": MACHINE, "maxResults": 1}
            return {"executions": [{"executionArn": EXECUTION, "status": "SUCCEEDED"}]}

    clients = FakeClients(stepfunctions=WithList(successful_history().events), sagemaker=None)
    assert (
        main(["--state-machine-arn", MACHINE, "watch", "--latest", "--verbose"], clients=clients)
        == 0
    )
    assert capsys.readouterr().out.splitlines()[-1] == SUCCESS_LINES[-1]


# --- following a running execution ---------------------------------------------------------------


def _live_run() -> tuple[FakeStepFunctions, FakeSageMaker, list[Callable[[], None]]]:
    """An execution seen at five polls: training starts, progresses, ends; the endpoint comes up."""
    full = successful_history(with_job_output=True).events
    cut = {
        e["type"] + str(e.get("stateEnteredEventDetails", {}).get("name")): e["id"] for e in full
    }
    submitted = next(e["id"] for e in full if e["type"] == "TaskSubmitted")
    create_endpoint = cut["TaskStateEnteredCreateEndpoint"]
    sfn = FakeStepFunctions(full[:submitted])
    sagemaker = FakeSageMaker()
    sagemaker.jobs = [job_description("InProgress", 1, metrics=False, dates=at)]
    sagemaker.endpoints = [endpoint_description("Creating", dates=at)]

    def downloading() -> None:
        sagemaker.jobs = [job_description("InProgress", 2, metrics=False, dates=at)]

    def training_with_metrics() -> None:
        sagemaker.jobs = [job_description("InProgress", 3, metrics=True, dates=at)]

    def deploying() -> None:
        sfn.events = full[: create_endpoint + 2]  # CreateEndpoint entered and scheduled

    def in_service() -> None:
        sagemaker.endpoints = [endpoint_description("InService", dates=at)]

    def finished() -> None:
        sfn.events = full

    return sfn, sagemaker, [downloading, training_with_metrics, deploying, in_service, finished]


def test_watcher_follows_a_running_execution_poll_by_poll() -> None:
    sfn, sagemaker, steps = _live_run()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        steps.pop(0)()

    watcher = ExecutionWatcher(
        sfn, lambda: sagemaker, EXECUTION, interval=7, sleep=sleep, clock=lambda: at(5000)
    )
    events = list(watcher.events())
    assert sleeps == [7, 7, 7, 7, 7]
    assert watcher.result is not None and watcher.result.succeeded
    training = [
        (e.details.get("secondaryStatus") or e.details.get("status"), e.state)
        for e in events
        if e.type == "training_job_status"
    ]
    # Each status once, though the job was described at several polls and then read from the
    # history's task output.
    assert training == [
        ("Starting", "Train"),
        ("Downloading", "Train"),
        ("Training", "Train"),
        ("Uploading", "Train"),
        ("Completed", "Train"),
    ]
    assert [e.type for e in events].count("training_metrics") == 1
    # The job is described while Train runs (polls 1-3), the endpoint once the run deploys.
    assert sagemaker.calls == [
        ("describe_training_job", JOB),
        ("describe_training_job", JOB),
        ("describe_training_job", JOB),
        ("describe_endpoint", ENDPOINT),
        ("describe_endpoint", ENDPOINT),
    ]
    endpoint = [(e.details["status"], e.timestamp) for e in events if e.type == "endpoint_status"]
    # Live answers are stamped when seen; those from the history, when they happened.
    assert endpoint == [("Creating", at(5000)), ("InService", at(5000))]
    ids = [e["id"] for e in sfn.events]
    assert ids == sorted(ids)


def test_watcher_reads_only_new_history_pages_newest_first() -> None:
    history = successful_history().events
    sfn = FakeStepFunctions(history[:10])
    grow = [lambda: setattr(sfn, "events", history)]

    def sleep(_: float) -> None:
        grow.pop(0)()

    sagemaker = FakeSageMaker()
    sagemaker.jobs = [job_description("InProgress", 1, metrics=False, dates=at)]
    watcher = ExecutionWatcher(sfn, lambda: sagemaker, EXECUTION, sleep=sleep, page_size=4)
    states = [e.state for e in watcher.events() if e.type == "state_entered"]
    assert states == [
        "ApplyRunDefaults",
        "Train",
        "IsModelGoodEnough",
        "CreateEndpoint",
        "WaitForEndpoint",
        "DescribeEndpoint",
        "WaitForEndpoint",
        "DescribeEndpoint",
        "RunSucceeded",
    ]
    assert all(call["reverseOrder"] is True for call in sfn.history_calls)
    first_poll = [call for call in sfn.history_calls if call["maxResults"] == 4][:3]
    assert [call.get("nextToken") for call in first_poll] == [None, "4", "8"]
    # The second poll stops at the first page that reaches back to events already seen.
    second_poll = sfn.history_calls[3:]
    assert len(second_poll) == -(-(len(history) - 10) // 4)


def test_watcher_waits_for_a_job_that_does_not_exist_yet() -> None:
    from botocore.exceptions import ClientError

    history = successful_history().events
    submitted = next(e["id"] for e in history if e["type"] == "TaskSubmitted")
    sfn = FakeStepFunctions(history[:submitted])
    answers: list[Any] = [
        ClientError(
            {"Error": {"Code": "ValidationException", "Message": f"Could not find job {JOB}"}},
            "DescribeTrainingJob",
        ),
        job_description("InProgress", 1, metrics=False, dates=at),
    ]

    class NotYet(FakeSageMaker):
        def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:  # noqa: N803
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if not answers:
                sfn.events = history
            return dict(answer)

    watcher = ExecutionWatcher(sfn, NotYet, EXECUTION, sleep=lambda _: None)
    statuses = [
        e.details.get("secondaryStatus")
        for e in watcher.events()
        if e.type == "training_job_status"
    ]
    assert statuses[0] == "Starting"
    assert answers == []


# --- the terminal display ------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_display_keeps_one_status_line_under_the_event_lines(utc_clock: None) -> None:
    screen = Terminal()
    now = [at(100)]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += timedelta(seconds=seconds)

    display = TerminalDisplay(screen, sleep=sleep, clock=lambda: now[0], width=lambda: 60)
    display.show(WatchEvent("execution_started", at(0), details={"name": "nightly"}))
    display.show(WatchEvent("state_entered", at(1), "Train"))
    display.show(
        WatchEvent(
            "training_job_status",
            at(90),
            "Train",
            details={"trainingJobName": JOB, "secondaryStatus": "Training"},
        )
    )
    display.wait(2.5)
    display.show(WatchEvent("execution_ended", at(103), None, 103, {"status": "SUCCEEDED"}))
    display.close()
    text = screen.getvalue()
    assert sleeps == [1.0, 1.0, 0.5]
    assert "\r\x1b[Krunning 1m 40s | Train 1m 39s | training Training" in text
    # Redrawn while waiting: the elapsed times move on.
    assert "\r\x1b[Krunning 1m 42s | Train 1m 41s | training Training" in text
    # Event lines are printed over a cleared status line, and the last line is no status line.
    assert "\r\x1b[K10:01:43  SUCCEEDED after 1m 43s: no output\n" in text
    assert text.endswith("SUCCEEDED after 1m 43s: no output\n")
    # Never wider than the terminal.
    drawn = [part for part in text.split("\r\x1b[K") if part and "\n" not in part]
    assert drawn and all(len(part) <= 59 for part in drawn)


def test_plain_and_json_displays_are_picked_by_the_stream() -> None:
    from mlpipeline_cli._display import display_for

    assert isinstance(display_for(Terminal(), json_lines=False), TerminalDisplay)
    assert type(display_for(io.StringIO(), json_lines=False)) is LineDisplay
    assert isinstance(display_for(Terminal(), json_lines=True), JsonDisplay)
