"""Server mode: a real HTTP client against moto with the local SageMaker installed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome
from mlpipeline_emulator.server import LocalServer, serve
from tests.emulator.runs.helpers import REGION, ROLE, SAGEMAKER_ROLE, machine, task, wait_for

JOB = {
    "RoleArn": SAGEMAKER_ROLE,
    "AlgorithmSpecification": {"TrainingImage": "image", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://artifacts/models"},
    "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """One server for the module: stopping one takes half a second."""
    runtime = ScriptedRuntime(training=TrainingOutcome.success(model_artifacts="s3://a/m.tar.gz"))
    with serve(0, runtime) as running:
        yield running


def client(server: LocalServer, service: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=server.endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_training_job_created_over_http_completes(server: LocalServer) -> None:
    sagemaker = client(server, "sagemaker")

    sagemaker.create_training_job(TrainingJobName="over-http", **JOB)

    assert server.host == "127.0.0.1"
    assert sagemaker.describe_training_job(TrainingJobName="over-http")["TrainingJobStatus"] == (
        "InProgress"
    )
    job = wait_for(
        lambda: (
            (d := sagemaker.describe_training_job(TrainingJobName="over-http"))["TrainingJobStatus"]
            == "Completed"
            and d
        ),
        "the job to complete",
    )
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == "s3://a/m.tar.gz"


def test_state_machines_execute_against_the_server(server: LocalServer) -> None:
    sfn = client(server, "stepfunctions")
    definition = machine(
        "Train",
        Train=task(
            "arn:aws:states:::sagemaker:createTrainingJob.sync",
            JOB | {"TrainingJobName": "sfn-http"},
        ),
    )
    arn = sfn.create_state_machine(name="train", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]

    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    done = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        "the execution",
    )

    assert done["status"] == "SUCCEEDED", done.get("cause")
    assert json.loads(done["output"])["TrainingJobStatus"] == "Completed"
