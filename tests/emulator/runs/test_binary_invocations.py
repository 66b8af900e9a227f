"""InvokeEndpoint bodies reach the model server as the caller sent them, bytes included."""

from __future__ import annotations

import io
from typing import Any

import boto3
import numpy as np
import pytest

from mlpipeline_emulator import InvocationResult, ScriptedRuntime
from mlpipeline_emulator.server import serve
from tests.emulator.runs.helpers import REGION, RunMachine
from tests.emulator.runs.test_local_endpoints import deploy_machine

# Slow: executes endpoint tasks in the emulator; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow


def _npy(array: np.ndarray[Any, Any]) -> bytes:
    """What ``mlpipeline predict --content-type npy`` sends: numpy's .npy format, whose magic
    string (``\\x93NUMPY``) is not UTF-8."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _echo(request: Any) -> InvocationResult:
    return InvocationResult(body=request.body, content_type="application/x-npy")


def test_binary_body_reaches_the_host_intact_in_process(
    runtime: ScriptedRuntime, run_machine: RunMachine, aws: None
) -> None:
    run_machine(deploy_machine("cfg-1"))
    runtime.respond_with(_echo)
    body = _npy(np.arange(784, dtype=np.float32).reshape(1, 28, 28))
    client = boto3.client("sagemaker-runtime", region_name=REGION)

    answer = client.invoke_endpoint(
        EndpointName="mnist", Body=body, ContentType="application/x-npy"
    )

    assert runtime.invocations[-1].body == body
    assert answer["Body"].read() == body
    assert answer["ContentType"] == "application/x-npy"


def test_binary_body_reaches_the_host_intact_through_the_server() -> None:
    """The symptom as a user met it: ``predict --content-type npy`` against the emulator's server
    answered ``500`` because every request body was decoded as UTF-8."""
    runtime = ScriptedRuntime()
    runtime.respond_with(_echo)
    body = _npy(np.full((2, 784), 255, dtype=np.uint8))
    with serve(0, runtime) as server:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        sagemaker = session.client("sagemaker", endpoint_url=server.endpoint_url)
        sagemaker.create_model(
            ModelName="model",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1"},
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName="config",
            ProductionVariants=[
                {
                    "VariantName": "main",
                    "ModelName": "model",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName="mnist", EndpointConfigName="config")
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName="mnist", WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        client = session.client("sagemaker-runtime", endpoint_url=server.endpoint_url)

        answer = client.invoke_endpoint(
            EndpointName="mnist", Body=body, ContentType="application/x-npy"
        )

        assert answer["Body"].read() == body
    assert runtime.invocations[-1].body == body
