"""Another team's pipeline (tests/consumer/team_stack.py), executed in the same local harness:
its data check before training and its model record after evaluation run with the pipeline."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from moto import mock_aws

from mlpipeline_cli.asl import Environment, render_definition
from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome, local_sagemaker
from tests.emulator.runs.helpers import MOTO_CONFIG, REGION, ROLE, kms_keys_for, provision, wait_for

from conftest import new_app

# Slow: executes another team's state machine; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team_template() -> dict[str, Any]:
    from tests.constructs.consumer.team_stack import TeamPipelineStack

    app = new_app()
    TeamPipelineStack(app, "TeamPipeline")
    return dict(app.synth().get_stack_by_name("TeamPipeline").template)


@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    outcome = TrainingOutcome.success({"test:accuracy": 0.8})
    with local_sagemaker(ScriptedRuntime(training=outcome), wait_scale=0.001) as active:
        assert isinstance(active, ScriptedRuntime)
        with mock_aws(config=MOTO_CONFIG):
            yield active


def _logical_id(template: dict[str, Any], prefix: str, resource_type: str) -> str:
    return next(
        k
        for k, v in template["Resources"].items()
        if v["Type"] == resource_type and k.startswith(prefix)
    )


def _run(template: dict[str, Any], *, with_data: bool) -> tuple[dict[str, Any], Any]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="team-data")
    s3.create_bucket(Bucket="team-artifacts")
    if with_data:
        s3.put_object(Bucket="team-data", Key="digits/train-images-idx3-ubyte.gz", Body=b"x")
    keys = kms_keys_for(template)
    env = Environment(
        refs={
            _logical_id(template, "TeamData", "AWS::S3::Bucket"): "team-data",
            _logical_id(template, "PipelineArtifactsBucket", "AWS::S3::Bucket"): "team-artifacts",
            **keys["refs"],
        },
        attributes={
            f"{_logical_id(template, 'TeamData', 'AWS::S3::Bucket')}.Arn": "arn:aws:s3:::team-data",
            **keys["attributes"],
        },
    )
    provision(template)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="TeamPipeline",
        definition=json.dumps(render_definition(template, env=env)),
        roleArn=ROLE,
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, name=f"run-{uuid.uuid4()}", input="{}")[
        "executionArn"
    ]
    described = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
        "the team's run",
        timeout=30,
    )
    return described, s3


def test_team_pipeline_checks_data_trains_records_the_model_and_deploys(
    team_template: dict[str, Any], runtime: ScriptedRuntime
) -> None:
    described, s3 = _run(team_template, with_data=True)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert output["endpointName"] == "team-mnist-endpoint"
    (job,) = runtime.training_jobs
    assert job.name.startswith("team-mnist-")
    assert job.request["HyperParameters"]["epochs"] == "1"
    record = json.loads(
        s3.get_object(Bucket="team-artifacts", Key=f"registry/{job.name}.json")["Body"].read()
    )
    assert record == {
        "trainingJob": job.name,
        "modelArtifacts": output["modelArtifacts"],
        "accuracy": pytest.approx(0.8),
    }


def test_team_pipeline_stops_before_training_when_there_is_no_data(
    team_template: dict[str, Any], runtime: ScriptedRuntime
) -> None:
    described, _ = _run(team_template, with_data=False)
    assert described["status"] == "FAILED"
    assert described["error"] == "NoTrainingData"
    assert described["cause"] == "no objects under digits/ in the data bucket"
    assert runtime.training_jobs == []


def test_library_stack_is_unaffected_by_cdk_app_context() -> None:
    # The team stack is synthesized in an app of its own; the app's flags do not leak into it.
    assert cdk.App is not None and new_app().node.try_get_context(
        "@aws-cdk/aws-iam:minimizePolicies"
    )
