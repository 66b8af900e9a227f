"""Autoscaling kept across deployments, executed: the app's state machine with ``autoscaling`` runs
in the emulator, registering the endpoint's variant after the create, keeping it after an update
and after a rolled-back update, deregistering it before an instance type change; deleting the
endpoint as the stack's teardown does leaves no scalable target."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import aws_cdk as cdk
import boto3
import pytest

from mlpipeline_cdk import MLPipeline, ServingSettings
from mlpipeline_cdk.autoscaling import AutoscalingSettings
from mlpipeline_cli.asl import render_definition
from mlpipeline_emulator import HostingOutcome, ScriptedRuntime, TrainingOutcome, local_sagemaker
from tests.emulator.runs.helpers import (
    REGION,
    ROLE,
    Execution,
    finish_execution,
    pipeline_environment,
)
from tests.emulator.runs.test_autoscaling_api import serve_on

from conftest import ROOT, new_app

# Slow: synthesizes a scaled pipeline and executes it, scenario after scenario.
pytestmark = pytest.mark.slow

ENDPOINT = "mnist-endpoint"
RESOURCE_ID = f"endpoint/{ENDPOINT}/variant/AllTraffic"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6"


@pytest.fixture(scope="module")
def scaled_template() -> dict[str, Any]:
    stack = cdk.Stack(
        new_app(), "Scaled", env=cdk.Environment(account="123456789012", region=REGION)
    )
    MLPipeline(
        stack,
        "Pipeline",
        source_dir=str(ROOT / "training_code"),
        entry_point="mnist.py",
        name_prefix="mnist",
        serving=ServingSettings(instance_type="ml.m5.large", instance_count=1),
        autoscaling=AutoscalingSettings(min_capacity=1, max_capacity=3),
    )
    return cdk.assertions.Template.from_stack(stack).to_json()


@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    with local_sagemaker(
        ScriptedRuntime(training=TrainingOutcome.success({"test:accuracy": 0.97})),
        wait_scale=0.001,
    ) as active:
        assert isinstance(active, ScriptedRuntime)
        yield active


@pytest.fixture
def run(scaled_template: dict[str, Any], aws: None) -> Callable[..., Execution]:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="failures")["TopicArn"]
    topic_id = next(
        k for k, v in scaled_template["Resources"].items() if v["Type"] == "AWS::SNS::Topic"
    )
    env = pipeline_environment(scaled_template, {topic_id: topic})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="Scaled",
        definition=json.dumps(render_definition(scaled_template, env=env)),
        roleArn=ROLE,
    )["stateMachineArn"]

    def start() -> Execution:
        arn = sfn.start_execution(stateMachineArn=machine, input="{}", name=f"run-{uuid.uuid4()}")[
            "executionArn"
        ]
        return finish_execution(sfn, arn)

    return start


@pytest.fixture
def scaling(aws: None) -> Any:
    return boto3.client("application-autoscaling", region_name=REGION)


@pytest.fixture
def sagemaker(aws: None) -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def _target(scaling: Any) -> dict[str, Any] | None:
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert len(targets) <= 1
    return targets[0] if targets else None


def _policies(scaling: Any) -> list[dict[str, Any]]:
    return list(
        scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=RESOURCE_ID)[
            "ScalingPolicies"
        ]
    )


def _assert_scaled(scaling: Any) -> None:
    target = _target(scaling)
    assert target is not None, "no scalable target"
    assert (target["ResourceId"], target["ScalableDimension"]) == (RESOURCE_ID, DIMENSION)
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    (policy,) = _policies(scaling)
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert config["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "SageMakerVariantInvocationsPerInstance"
    )


def _history_names(result: Execution) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in result.history
        if "stateEnteredEventDetails" in e
    ]


def test_scaling_is_registered_after_the_create_and_kept_after_an_update(
    run: Callable[..., Execution], scaling: Any, runtime: ScriptedRuntime
) -> None:
    first = run()
    assert first.status == "SUCCEEDED", first.cause
    _assert_scaled(scaling)
    second = run()
    assert second.status == "SUCCEEDED", second.cause
    assert len(runtime.deployments) == 2
    _assert_scaled(scaling)
    # The same instance type: the update went ahead with the variant registered.
    assert "DeregisterBeforeUpdate" not in _history_names(second)


def test_scaling_is_kept_when_sagemaker_rolls_the_update_back(
    run: Callable[..., Execution], scaling: Any, runtime: ScriptedRuntime
) -> None:
    assert run().status == "SUCCEEDED"
    runtime.script_hosting(HostingOutcome.failed("new model failed its health check"))
    rolled_back = run()
    assert rolled_back.status == "FAILED"
    assert rolled_back.error == "EndpointUpdateRolledBack"
    assert "new model failed its health check" in (rolled_back.cause or "")
    _assert_scaled(scaling)


def test_an_instance_type_change_deregisters_first_and_registers_again(
    run: Callable[..., Execution], sagemaker: Any, scaling: Any
) -> None:
    serve_on(sagemaker, scaling, "ml.c5.large")
    result = run()
    assert result.status == "SUCCEEDED", result.cause
    assert "DeregisterBeforeUpdate" in _history_names(result)
    _assert_scaled(scaling)


def test_a_rolled_back_instance_type_change_registers_the_variant_again(
    run: Callable[..., Execution], sagemaker: Any, scaling: Any, runtime: ScriptedRuntime
) -> None:
    serve_on(sagemaker, scaling, "ml.c5.large")
    runtime.script_hosting(HostingOutcome.failed("no capacity for ml.m5.large"))
    result = run()
    assert (result.status, result.error) == ("FAILED", "EndpointUpdateRolledBack")
    assert "DeregisterBeforeUpdate" in _history_names(result)
    _assert_scaled(scaling)


def test_the_stacks_endpoint_teardown_leaves_no_scalable_target(
    run: Callable[..., Execution],
    scaling: Any,
    sagemaker: Any,
    scaled_template: dict[str, Any],
) -> None:
    assert run().status == "SUCCEEDED"
    (teardown,) = [
        r["Properties"]
        for r in scaled_template["Resources"].values()
        if r["Type"] == "Custom::EndpointTeardown"
    ]
    call = json.loads(teardown["Delete"] if isinstance(teardown["Delete"], str) else "{}")
    assert (call["service"], call["action"]) == ("SageMaker", "deleteEndpoint")
    sagemaker.delete_endpoint(**call["parameters"])
    assert _target(scaling) is None
    assert _policies(scaling) == []
