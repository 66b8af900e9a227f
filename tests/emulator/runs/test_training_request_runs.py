"""The training request a run sends, executed in the emulator: run input that is not an object,
instance types (offered or not, with local storage, with GPUs) and every legal execution name.

Runs the app's state machine as test_pipeline_runs.py does (its fixtures), and asserts on the
CreateTrainingJob request the emulator recorded.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
import pytest
import regex

from mlpipeline_cdk.contract.run_input import HYPERPARAMETERS, KEYS, ROLLOUT
from mlpipeline_cdk.dlc_images import PYTORCH_TRAINING_GPU_TAG, PYTORCH_TRAINING_TAG
from mlpipeline_cli.asl import render_definition
from mlpipeline_emulator import ScriptedRuntime
from tests.emulator.runs import test_pipeline_runs as _runs
from tests.emulator.runs.helpers import REGION, ROLE, Execution, pipeline_environment, wait_for

pytestmark = pytest.mark.slow

# The pipeline-run scenarios' fixtures: the app's state machine on a scripted runtime.
runtime = _runs.runtime
notifications = _runs.notifications
pipeline = _runs.pipeline

NOT_OBJECTS = ["[]", "[1]", '"x"', "1", "null", "true"]
#: The default pipeline's object keys (``tuning`` is only taken by a pipeline that tunes; its
#: checks run in tests/constructs/test_tuning_runs.py).
OBJECT_KEYS = [key.name for key in KEYS if key.kind == "object" and key.name != "tuning"]


def _shape(name: str) -> dict[str, Any]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return dict(model.shape_for(name).metadata)


def _matches(shape: str, value: str) -> bool:
    """``value`` satisfies botocore's pattern and length of ``shape`` (Java-style ``\\p{L}``
    classes, hence the regex module)."""
    meta = _shape(shape)
    return (
        regex.fullmatch(meta["pattern"], value) is not None
        and meta.get("min", 0) <= len(value) <= meta["max"]
    )


@pytest.fixture
def run_raw(
    ml_template_json: dict[str, Any], notifications: Any, aws: None
) -> Callable[[str], Execution]:
    """Runs the pipeline with the execution input given as raw JSON text (``null`` too)."""
    topic_id = next(
        k for k, v in ml_template_json["Resources"].items() if v["Type"] == "AWS::SNS::Topic"
    )
    definition = render_definition(
        ml_template_json,
        env=pipeline_environment(ml_template_json, {topic_id: notifications.topic_arn}),
    )
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="MLPipelineRaw", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]

    def run(raw: str) -> Execution:
        arn = sfn.start_execution(stateMachineArn=machine, input=raw, name=f"raw-{uuid.uuid4()}")[
            "executionArn"
        ]
        described = wait_for(
            lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
            f"execution {arn}",
            timeout=30,
        )
        return Execution(
            status=described["status"],
            output=None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=[],
        )

    return run


@pytest.mark.parametrize("raw", NOT_OBJECTS)
def test_run_input_that_is_not_an_object_is_invalid_input_with_a_notification(
    run_raw: Callable[[str], Execution], runtime: ScriptedRuntime, notifications: Any, raw: str
) -> None:
    result = run_raw(raw)
    assert (result.status, result.error) == ("FAILED", "InvalidInput"), result.cause
    assert result.cause is not None and result.cause.startswith("the run input must be a JSON")
    assert runtime.training_jobs == []
    (message,) = notifications()
    assert message["error"] == "InvalidInput"


@pytest.mark.parametrize("key", OBJECT_KEYS)
@pytest.mark.parametrize("raw", NOT_OBJECTS)
def test_object_keys_that_are_not_objects_are_invalid_input_with_a_notification(
    run_raw: Callable[[str], Execution],
    runtime: ScriptedRuntime,
    notifications: Any,
    key: str,
    raw: str,
) -> None:
    assert OBJECT_KEYS == [HYPERPARAMETERS, ROLLOUT]
    result = run_raw(f'{{"{key}": {raw}}}')
    assert (result.status, result.error) == ("FAILED", "InvalidInput"), result.cause
    assert result.cause is not None and result.cause.startswith(f"{key} must be an object")
    assert runtime.training_jobs == []
    (message,) = notifications()
    assert message["error"] == "InvalidInput"


@pytest.mark.parametrize("instance_type", ["ml.m5.xlarge2", "ml.p9.48xlarge", "ml.t2.medium"])
def test_instance_types_sagemaker_does_not_offer_for_training_are_invalid_input(
    pipeline: Callable[..., Execution],
    runtime: ScriptedRuntime,
    notifications: Any,
    instance_type: str,
) -> None:
    result = pipeline({"trainingInstanceType": instance_type})
    assert (result.status, result.error) == ("FAILED", "InvalidInput"), result.cause
    assert result.cause is not None and "trainingInstanceType must be a SageMaker" in result.cause
    assert runtime.training_jobs == []
    (message,) = notifications()
    assert message["error"] == "InvalidInput"


@pytest.mark.parametrize(
    ("instance_type", "volume_key", "tag"),
    [
        ("ml.m5.xlarge", True, PYTORCH_TRAINING_TAG),
        ("ml.r5d.large", False, PYTORCH_TRAINING_TAG),
        ("ml.p3.2xlarge", True, PYTORCH_TRAINING_GPU_TAG),
        ("ml.g5.xlarge", False, PYTORCH_TRAINING_GPU_TAG),
        ("ml.g4dn.xlarge", False, PYTORCH_TRAINING_GPU_TAG),
    ],
)
def test_instance_type_decides_volume_key_and_image(
    pipeline: Callable[..., Execution],
    runtime: ScriptedRuntime,
    instance_type: str,
    volume_key: bool,
    tag: str,
) -> None:
    result = pipeline({"trainingInstanceType": instance_type})
    assert result.status == "SUCCEEDED", result.cause
    (job,) = runtime.training_jobs
    resources = job.request["ResourceConfig"]
    assert resources["InstanceType"] == instance_type
    # "You can't request a VolumeKmsKeyId when using an instance type with local storage"
    # (CreateTrainingJob ResourceConfig, botocore's sagemaker model).
    assert ("VolumeKmsKeyId" in resources) is volume_key
    assert job.request["AlgorithmSpecification"]["TrainingImage"].endswith(f"/pytorch:{tag}")


@pytest.mark.parametrize(
    "name",
    [
        "run-(1)!'",
        "nächtlich-Übung_ß",
        "训练-运行",
        "run=+@.x",
        "✓-done-☃",
        ("(x)!'" * 16)[:80],
    ],
)
def test_every_legal_execution_name_runs_and_tags_its_job(
    pipeline: Callable[..., Execution], runtime: ScriptedRuntime, name: str
) -> None:
    result = pipeline(name=name)
    assert result.status == "SUCCEEDED", result.cause
    (job,) = runtime.training_jobs
    (tag,) = job.request["Tags"]
    assert tag["Key"] == "mlpipeline:execution-arn-sha256"
    assert _matches("TagKey", tag["Key"]) and _matches("TagValue", tag["Value"]), tag
    sfn = boto3.client("stepfunctions", region_name=REGION)
    (execution_arn,) = [
        e["executionArn"]
        for e in sfn.list_executions(stateMachineArn=_machine_arn())["executions"]
        if e["name"] == name
    ]
    assert tag["Value"] == hashlib.sha256(execution_arn.encode()).hexdigest()
    checkpoint = job.request["CheckpointConfig"]["S3Uri"]
    assert checkpoint.endswith(f"/checkpoints/{name}/")
    assert _matches("S3Uri", checkpoint), checkpoint


def _machine_arn() -> str:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    (machine,) = [
        m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "MLPipeline"
    ]
    return str(machine["stateMachineArn"])


def test_arm_instance_types_are_refused_with_the_default_x86_images(
    pipeline: Callable[..., Execution], runtime: ScriptedRuntime, notifications: Any
) -> None:
    result = pipeline({"trainingInstanceType": "ml.p6e-gb200.36xlarge"})
    assert (result.status, result.error) == ("FAILED", "InvalidInput"), result.cause
    assert result.cause is not None
    assert result.cause.startswith("trainingInstanceType ml.p6e-gb200.36xlarge has Arm CPUs")
    assert runtime.training_jobs == []
    (message,) = notifications()
    assert message["error"] == "InvalidInput"
