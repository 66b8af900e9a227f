"""Guarded rollouts, executed: the app's state machine (from the synthesized template) creates the
endpoint on its first run and updates it with a blue/green deployment on later runs, which the
emulator carries out step by step, watching the rollout's CloudWatch alarms."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from mlpipeline_cli.asl import render_definition
from mlpipeline_emulator import (
    InvocationRequest,
    InvocationResult,
    ScriptedRuntime,
    TrainingOutcome,
    local_sagemaker,
)
from tests.emulator.runs.helpers import (
    REGION,
    ROLE,
    Execution,
    finish_execution,
    pipeline_environment,
    wait_for,
)

pytestmark = pytest.mark.slow

GOOD = {"test:accuracy": 0.97, "test:loss": 0.1, "train:loss": 0.2}
ENDPOINT = "mnist-endpoint"


def _answer_with_config(request: InvocationRequest) -> InvocationResult:
    return InvocationResult(body=json.dumps({"config": request.endpoint_config_name}).encode())


@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    with local_sagemaker(
        ScriptedRuntime(training=TrainingOutcome.success(GOOD)), wait_scale=0.001
    ) as active:
        assert isinstance(active, ScriptedRuntime)
        active.respond_with(_answer_with_config)
        yield active


@dataclass
class Pipeline:
    start: Callable[..., str]
    finish: Callable[[str], Execution]
    sagemaker: Any
    cloudwatch: Any
    alarms: list[str]

    def run(self, execution_input: Any = None) -> Execution:
        return self.finish(self.start(execution_input))

    def endpoint(self) -> dict[str, Any]:
        return dict(self.sagemaker.describe_endpoint(EndpointName=ENDPOINT))

    def answering_configs(self, times: int = 20) -> set[str]:
        runtime = boto3.client("sagemaker-runtime", region_name=REGION)
        return {
            json.loads(runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")["Body"].read())[
                "config"
            ]
            for _ in range(times)
        }


@pytest.fixture
def pipeline(ml_template_json: dict[str, Any], aws: None) -> Pipeline:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="failures")["TopicArn"]
    resources = ml_template_json["Resources"]
    topic_id = next(k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic")
    # The alarms the stack creates, as CloudFormation would (the run names them by Ref).
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    alarms = {
        k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"
    }
    for properties in alarms.values():
        cloudwatch.put_metric_alarm(
            AlarmName=properties["AlarmName"],
            Namespace=properties["Namespace"],
            MetricName=properties["MetricName"],
            Statistic=properties["Statistic"],
            Period=properties["Period"],
            EvaluationPeriods=properties["EvaluationPeriods"],
            Threshold=properties["Threshold"],
            ComparisonOperator=properties["ComparisonOperator"],
        )
    refs = {topic_id: topic, **{k: p["AlarmName"] for k, p in alarms.items()}}
    env = pipeline_environment(ml_template_json, refs)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="MLPipeline",
        definition=json.dumps(render_definition(ml_template_json, env=env)),
        roleArn=ROLE,
    )["stateMachineArn"]

    def start(execution_input: Any = None) -> str:
        return str(
            sfn.start_execution(
                stateMachineArn=machine,
                input=json.dumps(execution_input or {}),
                name=f"run-{uuid.uuid4()}",
            )["executionArn"]
        )

    return Pipeline(
        start,
        lambda arn: finish_execution(sfn, arn),
        boto3.client("sagemaker", region_name=REGION),
        cloudwatch,
        sorted(p["AlarmName"] for p in alarms.values()),
    )


def _deployed(result: Execution) -> str:
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["deploymentStatus"] == "Deployed"
    return str(result.output["endpointConfigName"])


def test_the_first_run_creates_the_endpoint_and_rolls_nothing_out(pipeline: Pipeline) -> None:
    first = pipeline.run()
    config = _deployed(first)
    assert first.output["rolloutStrategy"] == "none"
    assert "LastDeploymentConfig" not in pipeline.endpoint()
    assert pipeline.answering_configs() == {config}


def test_a_canary_rollout_shifts_traffic_and_deploys_the_new_model(
    pipeline: Pipeline, runtime: ScriptedRuntime
) -> None:
    _deployed(pipeline.run())
    second = pipeline.run()
    config = _deployed(second)
    assert second.output["rolloutStrategy"] == "canary"
    endpoint = pipeline.endpoint()
    assert endpoint["EndpointConfigName"] == config
    policy = endpoint["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 300,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
    }
    alarms = endpoint["LastDeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert sorted(a["AlarmName"] for a in alarms) == pipeline.alarms
    # The green fleet came up beside the blue one, and now answers alone.
    assert [d.endpoint_config_name for d in runtime.deployments][-1] == config
    assert pipeline.answering_configs() == {config}


def test_an_alarm_during_the_canary_rolls_back_and_fails_the_run_naming_it(
    pipeline: Pipeline, runtime: ScriptedRuntime
) -> None:
    old = _deployed(pipeline.run())
    # A bake of an hour (3.6 s here) leaves time to trip an alarm mid-rollout.
    arn = pipeline.start({"rollout": {"waitIntervalSeconds": 3600}})
    pending = wait_for(
        lambda: (
            (e := pipeline.endpoint()).get("PendingDeploymentSummary")
            and len(runtime.deployments) == 2
            and e
        ),
        "the canary to take traffic",
    )
    new = pending["PendingDeploymentSummary"]["EndpointConfigName"]
    wait_for(lambda: new in pipeline.answering_configs(60), "the canary to answer")
    fired = f"{ENDPOINT}-rollout-server-errors"
    pipeline.cloudwatch.set_alarm_state(
        AlarmName=fired, StateValue="ALARM", StateReason="Threshold Crossed: 3 errors"
    )
    result = pipeline.finish(arn)
    assert result.status == "FAILED"
    assert result.error == "EndpointRolloutRolledBack"
    assert fired in (result.cause or "")
    assert "Threshold Crossed: 3 errors" in (result.cause or "")
    endpoint = pipeline.endpoint()
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", old)
    assert fired in endpoint["FailureReason"]
    # The old model still serves every request.
    assert pipeline.answering_configs() == {old}


def test_a_run_input_chooses_a_linear_rollout(pipeline: Pipeline) -> None:
    _deployed(pipeline.run())
    second = pipeline.run(
        {"rollout": {"strategy": "linear", "linearStepPercent": 50, "waitIntervalSeconds": 60}}
    )
    config = _deployed(second)
    assert second.output["rolloutStrategy"] == "linear"
    routing = pipeline.endpoint()["LastDeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing == {
        "Type": "LINEAR",
        "WaitIntervalInSeconds": 60,
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
    }
    assert pipeline.answering_configs() == {config}


def test_a_run_input_chooses_all_at_once(pipeline: Pipeline) -> None:
    _deployed(pipeline.run())
    second = pipeline.run({"rollout": {"strategy": "all_at_once", "terminationWaitSeconds": 0}})
    config = _deployed(second)
    assert second.output["rolloutStrategy"] == "all_at_once"
    policy = pipeline.endpoint()["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert policy["TerminationWaitInSeconds"] == 0
    assert pipeline.answering_configs() == {config}


@pytest.mark.parametrize(
    ("rollout", "cause"),
    [
        ({"strategy": "blue"}, "rollout.strategy must be 'all_at_once', 'canary' or 'linear'"),
        ({"canarySizePercent": 60}, "rollout.canarySizePercent must be a whole number from 1"),
        ({"linearStepPercent": 5}, "rollout.linearStepPercent must be a whole number from 10"),
        ({"waitIntervalSeconds": 1.5}, "rollout.waitIntervalSeconds must be a whole number"),
        ({"bake": 1}, "rollout must be an object with only the keys strategy"),
        ("canary", "rollout must be an object with only the keys strategy"),
    ],
)
def test_a_bad_rollout_input_is_refused_before_anything_is_created(
    pipeline: Pipeline, runtime: ScriptedRuntime, rollout: Any, cause: str
) -> None:
    result = pipeline.run({"rollout": rollout})
    assert (result.status, result.error) == ("FAILED", "InvalidInput")
    assert cause in (result.cause or "")
    assert runtime.training_jobs == []
