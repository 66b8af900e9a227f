"""A pipeline synthesized with given serving settings, run in the emulator, and the operator
tool pointed at it: shared by the serverless and capture scenarios."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import boto3
import numpy as np
from aws_cdk.assertions import Template
from moto import mock_aws

from mlpipeline_cdk import MLPipeline
from mlpipeline_cli.asl import render_definition
from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome, local_sagemaker
from mlpipeline_emulator.runtime import InvocationRequest, InvocationResult
from tests.emulator.runs.helpers import (
    MOTO_CONFIG,
    REGION,
    ROLE,
    Execution,
    finish_execution,
    pipeline_environment,
)

from conftest import ROOT, new_app

GOOD = {"test:accuracy": 0.97, "test:loss": 0.1, "train:loss": 0.2}
ENDPOINT = "mlpipeline-endpoint"


def classify(request: InvocationRequest) -> InvocationResult:
    """Answers like the MNIST script: one label with probabilities per input row."""
    if (request.content_type or "").startswith("application/x-npy"):
        rows = len(np.load(io.BytesIO(request.body), allow_pickle=False))
    else:
        rows = len(json.loads(request.body))
    answer = {"label": 7, "probabilities": [0.01] * 7 + [0.91] + [0.01] * 2}
    body = json.dumps({"predictions": [answer] * rows}).encode()
    return InvocationResult(body=body, content_type="application/json")


def template(**props: Any) -> dict[str, Any]:
    stack = cdk.Stack(new_app(), "S")
    MLPipeline(stack, "P", source_dir=str(ROOT / "training_code"), entry_point="mnist.py", **props)
    return Template.from_stack(stack).to_json()


@dataclass
class Pipeline:
    runtime: ScriptedRuntime
    machine: str
    sfn: Any
    sagemaker: Any
    s3: Any

    def run(self) -> Execution:
        arn = self.sfn.start_execution(
            stateMachineArn=self.machine, input="{}", name=f"run-{uuid.uuid4()}"
        )["executionArn"]
        return finish_execution(self.sfn, arn)

    def artifacts_bucket(self) -> str:
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"]]
        (name,) = [n for n in names if n.startswith("partifactsbucket")]
        return str(name)


def running(synthesized: dict[str, Any]) -> Iterator[Pipeline]:
    """The template's state machine in the emulator (its failures end the run at once)."""
    runtime = ScriptedRuntime(training=TrainingOutcome.success(GOOD), responder=classify)
    with local_sagemaker(runtime, wait_scale=0.001), mock_aws(config=MOTO_CONFIG):
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="f")["TopicArn"]
        topic_id = next(
            k for k, v in synthesized["Resources"].items() if v["Type"] == "AWS::SNS::Topic"
        )
        env = pipeline_environment(synthesized, {topic_id: topic})
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="MLPipeline",
            definition=json.dumps(render_definition(synthesized, env=env)),
            roleArn=ROLE,
        )["stateMachineArn"]
        yield Pipeline(
            runtime,
            machine,
            sfn,
            boto3.client("sagemaker", region_name=REGION),
            boto3.client("s3", region_name=REGION),
        )
