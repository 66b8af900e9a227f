"""Idle stop, executed: a pipeline with ``idle_stop`` runs in the emulator, its idle check (both
state machines from the synthesized template) deletes the endpoint nobody called, leaves alone
one that is called or being deployed, and the next run brings the endpoint back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk import Duration

from mlpipeline_cdk import MLPipeline
from mlpipeline_cdk.contract import endpoint_stops
from mlpipeline_cdk.idle_stop import IdleStopSettings
from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli.asl import render_definition
from mlpipeline_cli.cli import main
from mlpipeline_emulator import HostingOutcome, ScriptedRuntime, TrainingOutcome, local_sagemaker
from tests.conftest import ROOT, new_app
from tests.emulator.runs.helpers import (
    ACCOUNT,
    REGION,
    ROLE,
    Execution,
    finish_execution,
    pipeline_environment,
    wait_for,
)

# Slow: executes the state machines in the emulator.
pytestmark = pytest.mark.slow

GOOD = {"test:accuracy": 0.97, "test:loss": 0.1, "train:loss": 0.2}
ENDPOINT = "mlpipeline-endpoint"
#: The idle period: one hour, which the emulator's wait scale turns into 3.6 seconds.
IDLE = Duration.hours(1)
WAIT_SCALE = 0.001


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    app = new_app()
    stack = cdk.Stack(app, "IdleStack", env=cdk.Environment(account=ACCOUNT, region=REGION))
    MLPipeline(
        stack,
        "Pipeline",
        source_dir=str(ROOT / "training_code"),
        entry_point="mnist.py",
        idle_stop=IdleStopSettings(idle_period=IDLE, check_interval=Duration.minutes(15)),
    )
    return dict(app.synth().get_stack_by_name("IdleStack").template)


@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    with local_sagemaker(
        ScriptedRuntime(training=TrainingOutcome.success(GOOD)), wait_scale=WAIT_SCALE
    ) as active:
        assert isinstance(active, ScriptedRuntime)
        yield active


@dataclass
class Pipeline:
    machine: str
    check: str
    bucket: str
    topic: str
    sfn: Any
    sagemaker: Any

    def start(self, machine: str) -> str:
        return str(
            self.sfn.start_execution(stateMachineArn=machine, input="{}", name=f"x-{uuid.uuid4()}")[
                "executionArn"
            ]
        )

    def run(self) -> Execution:
        return finish_execution(self.sfn, self.start(self.machine))

    def check_idle(self) -> Execution:
        return finish_execution(self.sfn, self.start(self.check))

    def invoke(self) -> None:
        runtime = boto3.client("sagemaker-runtime", region_name=REGION)
        runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"[0]", ContentType="application/json")

    def endpoint(self) -> dict[str, Any] | None:
        try:
            return dict(self.sagemaker.describe_endpoint(EndpointName=ENDPOINT))
        except self.sagemaker.exceptions.ClientError:
            return None

    def notifications(self) -> list[dict[str, Any]]:
        """What the failure topic was sent (moto keeps it)."""
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][REGION].topics[self.topic]
        return [{"message": m, "subject": s} for _, m, s, *_ in topic.sent_notifications]

    def stop_record(self) -> dict[str, Any] | None:
        s3 = boto3.client("s3", region_name=REGION)
        try:
            body = s3.get_object(Bucket=self.bucket, Key=endpoint_stops.record_key(ENDPOINT))
        except s3.exceptions.NoSuchKey:
            return None
        return dict(json.loads(body["Body"].read()))


def _machine_id(template: dict[str, Any], part: str) -> str:
    (found,) = [
        k
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::StepFunctions::StateMachine" and part in k
    ]
    return found


@pytest.fixture
def pipeline(template: dict[str, Any], aws: None, runtime: ScriptedRuntime) -> Pipeline:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="failures")["TopicArn"]
    resources = template["Resources"]
    topic_id = next(k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic")
    env = pipeline_environment(template, {topic_id: topic})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machines = {}
    for name, part in (("pipeline", "PipelineStateMachine"), ("check", "IdleCheckStateMachine")):
        logical_id = _machine_id(template, part)
        machines[name] = sfn.create_state_machine(
            name=name,
            definition=json.dumps(render_definition(template, logical_id, env=env)),
            roleArn=ROLE,
        )["stateMachineArn"]
    bucket = next(
        k.lower()
        for k, v in resources.items()
        if v["Type"] == "AWS::S3::Bucket" and "ArtifactsBucket" in k
    )
    return Pipeline(
        machines["pipeline"],
        machines["check"],
        bucket,
        topic,
        sfn,
        boto3.client("sagemaker", region_name=REGION),
    )


def _ended_in(execution: Execution) -> str:
    """The name of the state the execution ended in (a Succeed state's exit)."""
    exits = [
        e["stateExitedEventDetails"]["name"]
        for e in execution.history
        if "stateExitedEventDetails" in e
    ]
    return exits[-1]


def _deployed(pipeline: Pipeline) -> Execution:
    result = pipeline.run()
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["deploymentStatus"] == "Deployed"
    return result


def test_an_endpoint_nobody_calls_is_stopped_and_the_next_run_brings_it_back(
    pipeline: Pipeline,
) -> None:
    deployed = _deployed(pipeline)
    config = deployed.output["endpointConfigName"]

    check = pipeline.check_idle()

    assert check.status == "SUCCEEDED", check.cause
    assert _ended_in(check) == "EndpointStopped"
    assert pipeline.endpoint() is None
    # Configuration and model are kept.
    described = pipeline.sagemaker.describe_endpoint_config(EndpointConfigName=config)
    (variant,) = described["ProductionVariants"]
    pipeline.sagemaker.describe_model(ModelName=variant["ModelName"])
    record = pipeline.stop_record()
    assert record is not None
    assert record[endpoint_stops.ENDPOINT_CONFIG_NAME] == config
    assert record[endpoint_stops.STOPPED_BY] == endpoint_stops.IDLE_CHECK
    assert record[endpoint_stops.VARIANTS][0]["ModelName"] == variant["ModelName"]
    assert record[endpoint_stops.REASON] == "no invocations for 60 minutes"
    (message,) = pipeline.notifications()
    assert message["subject"] == f"Endpoint {ENDPOINT} stopped: idle"
    body = json.loads(message["message"])
    assert body["event"] == "EndpointStoppedWhenIdle"
    assert f"Endpoint {ENDPOINT} had no invocations for 1 hour" in body["message"]
    assert config in body["message"]
    assert body["stop"][endpoint_stops.ENDPOINT_CONFIG_NAME] == config

    # The next run finds no endpoint and creates it, as a first run does.
    again = _deployed(pipeline)
    endpoint = pipeline.endpoint()
    assert endpoint is not None
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == again.output["endpointConfigName"]
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in again.history
        if "stateEnteredEventDetails" in e
    ]
    assert "CreateEndpoint" in entered
    assert "UpdateEndpoint" not in entered


def test_an_endpoint_called_during_the_idle_period_is_kept(pipeline: Pipeline) -> None:
    _deployed(pipeline)
    arn = pipeline.start(pipeline.check)
    # Called once while the check watches (it waits 3.6 seconds here).
    wait_for(
        lambda: any(
            e["type"] == "WaitStateEntered"
            for e in pipeline.sfn.get_execution_history(executionArn=arn)["events"]
        ),
        "the check to start watching",
    )
    pipeline.invoke()

    check = finish_execution(pipeline.sfn, arn)

    assert check.status == "SUCCEEDED", check.cause
    assert _ended_in(check) == "InUse"
    endpoint = pipeline.endpoint()
    assert endpoint is not None and endpoint["EndpointStatus"] == "InService"
    assert pipeline.stop_record() is None


def _watching(pipeline: Pipeline, arn: str) -> None:
    wait_for(
        lambda: any(
            e["type"] == "WaitStateEntered"
            for e in pipeline.sfn.get_execution_history(executionArn=arn)["events"]
        ),
        "the check to start watching",
    )


def test_an_endpoint_updated_while_the_check_watches_is_kept(pipeline: Pipeline) -> None:
    deployed = _deployed(pipeline)
    arn = pipeline.start(pipeline.check)
    _watching(pipeline, arn)
    # What a run's UpdateEndpoint does, at a known moment: during the watch.
    (variant,) = pipeline.sagemaker.describe_endpoint_config(
        EndpointConfigName=deployed.output["endpointConfigName"]
    )["ProductionVariants"]
    pipeline.sagemaker.create_endpoint_config(
        EndpointConfigName="mlpipeline-newer",
        ProductionVariants=[
            {
                k: variant[k]
                for k in ("VariantName", "ModelName", "InstanceType", "InitialInstanceCount")
            }
        ],
    )
    pipeline.sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName="mlpipeline-newer")

    check = finish_execution(pipeline.sfn, arn)

    assert check.status == "SUCCEEDED", check.cause
    assert _ended_in(check) in {"ChangedDuringCheck", "LeftToRuns"}
    endpoint = pipeline.endpoint()
    assert endpoint is not None
    assert endpoint["EndpointConfigName"] == "mlpipeline-newer"
    assert pipeline.stop_record() is None


def test_a_run_deploying_while_the_check_watches_is_not_broken(pipeline: Pipeline) -> None:
    _deployed(pipeline)
    arn = pipeline.start(pipeline.check)
    _watching(pipeline, arn)
    # However the two interleave (the run updates during the watch, or finds the endpoint
    # busy, or comes after the check deleted it and creates it), the run deploys its model.
    result = pipeline.run()
    check = finish_execution(pipeline.sfn, arn)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["deploymentStatus"] == "Deployed"
    assert check.status == "SUCCEEDED", check.cause
    endpoint = pipeline.endpoint()
    assert endpoint is not None and endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == result.output["endpointConfigName"]


def test_an_endpoint_being_created_is_left_to_its_run(
    pipeline: Pipeline, runtime: ScriptedRuntime
) -> None:
    # The endpoint stays Creating for longer than the check watches it.
    runtime.script_hosting(HostingOutcome.in_service(), seconds=6)
    run = pipeline.start(pipeline.machine)
    wait_for(
        lambda: (e := pipeline.endpoint()) is not None and e["EndpointStatus"] == "Creating",
        "the endpoint to be created",
    )

    check = pipeline.check_idle()

    assert _ended_in(check) == "LeftToRuns"
    assert finish_execution(pipeline.sfn, run).status == "SUCCEEDED"
    assert pipeline.endpoint() is not None
    # A later check, once the endpoint is in service and idle, stops it.
    assert _ended_in(pipeline.check_idle()) == "EndpointStopped"


def test_no_endpoint_nothing_to_stop(pipeline: Pipeline) -> None:
    check = pipeline.check_idle()

    assert check.status == "SUCCEEDED", check.cause
    assert _ended_in(check) == "NoEndpoint"


# --- the operator's commands -------------------------------------------------------------------


def _cli(pipeline: Pipeline, action: str, *options: str) -> int:
    argv = [
        "endpoint",
        action,
        "--endpoint-name",
        ENDPOINT,
        "--artifacts-bucket",
        pipeline.bucket,
        "--poll",
        "0.05",
        *options,
    ]
    return main(argv, clients=AwsClients(region=REGION))


def _status(pipeline: Pipeline, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert _cli(pipeline, "status", "--json") == 0
    return dict(json.loads(capsys.readouterr().out))


def test_endpoint_status_shows_what_is_live_and_its_cost_per_hour(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed = _deployed(pipeline)

    status = _status(pipeline, capsys)

    assert status["status"] == "InService"
    assert status["endpointConfigName"] == deployed.output["endpointConfigName"]
    (variant,) = status["variants"]
    assert variant["model"] == deployed.output["modelName"]
    assert variant["modelPackageVersion"] == "1"
    assert (variant["instanceType"], variant["instanceCount"]) == ("ml.m5.large", 1)
    assert status["costPerHour"] == 0.115
    assert _cli(pipeline, "status") == 0
    text = capsys.readouterr().out
    assert "instances: 1 x ml.m5.large" in text
    assert "$0.115 per hour at list price" in text


def test_endpoint_start_restores_the_same_model_and_configuration_after_an_idle_stop(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed = _deployed(pipeline)
    assert _ended_in(pipeline.check_idle()) == "EndpointStopped"
    stopped = _status(pipeline, capsys)
    assert stopped["status"] == "NotRunning" and stopped["costPerHour"] == 0
    assert stopped["stopped"][endpoint_stops.STOPPED_BY] == endpoint_stops.IDLE_CHECK
    assert _cli(pipeline, "status") == 0
    assert "stopped by idle-check" in capsys.readouterr().out

    assert _cli(pipeline, "start") == 0

    endpoint = pipeline.endpoint()
    assert endpoint is not None and endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == deployed.output["endpointConfigName"]
    (variant,) = _status(pipeline, capsys)["variants"]
    assert variant["model"] == deployed.output["modelName"]
    # Already running: refused, saying so.
    assert _cli(pipeline, "start") == 1
    assert "already running" in capsys.readouterr().err


def test_endpoint_stop_records_the_stop_and_start_brings_it_back(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    deployed = _deployed(pipeline)

    assert _cli(pipeline, "stop") == 0

    assert pipeline.endpoint() is None
    stop = pipeline.stop_record()
    assert stop is not None
    assert stop[endpoint_stops.STOPPED_BY] == endpoint_stops.OPERATOR
    assert stop[endpoint_stops.ENDPOINT_CONFIG_NAME] == deployed.output["endpointConfigName"]
    assert _cli(pipeline, "stop") == 1
    assert "nothing to stop" in capsys.readouterr().err
    assert _cli(pipeline, "start", "--no-wait") == 0
    wait_for(
        lambda: (e := pipeline.endpoint()) is not None and e["EndpointStatus"] == "InService",
        "the endpoint to come back",
    )


def test_endpoint_start_refuses_when_no_stop_was_recorded(
    pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(pipeline, "start") == 1
    assert "no stop of endpoint mlpipeline-endpoint is recorded" in capsys.readouterr().err


def test_teardown_deletes_an_endpoint_started_by_hand(template: dict[str, Any]) -> None:
    """The stack's teardown deletes the endpoint by name whoever created it, and a stopped
    endpoint has nothing left that bills (configurations and models cost nothing)."""
    (teardown,) = [
        v for v in template["Resources"].values() if v["Type"] == "Custom::EndpointTeardown"
    ]
    delete = json.dumps(teardown["Properties"]["Delete"])
    assert '\\"EndpointName\\":\\"mlpipeline-endpoint\\"' in delete
    assert "ValidationException" in delete
