"""Network isolation, for real: a pipeline with ``enable_network_isolation=True`` trains the real
script in the process runtime and deploys it, its code delivered as the ``code`` input channel.

The process runtime behaves as SageMaker does under isolation: the container cannot reach S3, so
an ``s3://`` ``sagemaker_submit_directory`` fails the job as the training toolkit's download would
(aws/sagemaker-training-toolkit, src/sagemaker_training/files.py ``download_and_extract``), and a
local path (the ``code`` channel's file) is unpacked from the instance's own files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from moto import mock_aws

from mlpipeline_cdk import MLPipeline, NetworkSettings, TrainingSettings
from mlpipeline_cdk.source_asset import build_source_archive
from mlpipeline_cli.asl import Environment, render_definition
from mlpipeline_emulator import ProcessRuntime, local_sagemaker
from scripts.mnist_data import MnistSplits, load_sample_digits, split_digits, write_splits
from tests.emulator.runs.helpers import MOTO_CONFIG, REGION, ROLE, kms_keys_for, provision, wait_for

from conftest import ROOT, new_app

pytestmark = pytest.mark.slow

#: Real training takes seconds; leave room for a loaded two-core machine.
RUN_TIMEOUT = 300.0
HYPERPARAMETERS = {"epochs": 1, "batch-size": 10, "test-batch-size": 100, "backend": "gloo"}


@dataclass
class Isolated:
    machine: str
    definition: dict[str, Any]
    code_uri: str
    data_uri: str
    sfn: Any
    sagemaker: Any


def _template() -> dict[str, Any]:
    app = new_app()
    stack = cdk.Stack(app, "Isolated", env=cdk.Environment(account="123456789012", region=REGION))
    MLPipeline(
        stack,
        "Pipeline",
        source_dir=str(ROOT / "training_code"),
        entry_point="mnist.py",
        name_prefix="iso",
        training=TrainingSettings(
            hyperparameters=HYPERPARAMETERS, instance_count=1, accuracy_threshold=0.1
        ),
        network=NetworkSettings(enable_network_isolation=True),
    )
    return dict(app.synth().get_stack_by_name("Isolated").template)


def _bucket(uri: str) -> str:
    return uri.removeprefix("s3://").split("/", 1)[0]


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:
    tmp = tmp_path_factory.mktemp("isolated")
    template = _template()
    runtime = ProcessRuntime(workdir=tmp / "work", stop_grace_seconds=2.0)
    with (
        closing(runtime),
        local_sagemaker(runtime, wait_scale=0.001),
        mock_aws(config=MOTO_CONFIG),
    ):
        topic_id = next(
            k for k, v in template["Resources"].items() if v["Type"] == "AWS::SNS::Topic"
        )
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="failures")
        keys = kms_keys_for(template)
        definition = render_definition(
            template,
            env=Environment(
                refs={topic_id: topic["TopicArn"], **keys["refs"]},
                attributes=keys["attributes"],
            ),
        )
        provision(template)
        states = definition["States"]
        data_uri = states["ApplyRunDefaults"]["Parameters"]["defaults"]["trainingDataUri"]
        train = states["Train"]["Parameters"]
        (code,) = [c for c in train["InputDataConfig"] if c["ChannelName"] == "code"]
        code_uri = code["DataSource"]["S3DataSource"]["S3Uri"]
        artifacts = train["OutputDataConfig"]["S3OutputPath"]
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in {_bucket(data_uri), _bucket(code_uri), _bucket(artifacts)}:
            s3.create_bucket(Bucket=bucket)
        full = split_digits(*load_sample_digits(), test_fraction=0.2, seed=0)
        digits = MnistSplits(
            full.train_images[:600],
            full.train_labels[:600],
            full.test_images[:200],
            full.test_labels[:200],
        )
        data_prefix = data_uri.removeprefix(f"s3://{_bucket(data_uri)}/")
        for path in write_splits(tmp / "mnist", digits, compress=True):
            s3.upload_file(str(path), _bucket(data_uri), f"{data_prefix}{path.name}")
        archive = build_source_archive(ROOT / "training_code", tmp)
        s3.upload_file(str(archive), _bucket(code_uri), code_uri.split("/", 3)[3])
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="Isolated", definition=json.dumps(definition), roleArn=ROLE
        )["stateMachineArn"]
        yield Isolated(
            machine=machine,
            definition=definition,
            code_uri=code_uri,
            data_uri=data_uri,
            sfn=sfn,
            sagemaker=boto3.client("sagemaker", region_name=REGION),
        )


def _run(isolated: Isolated, name: str) -> dict[str, Any]:
    arn = isolated.sfn.start_execution(stateMachineArn=isolated.machine, input="{}", name=name)[
        "executionArn"
    ]
    described: dict[str, Any] = wait_for(
        lambda: (
            (d := isolated.sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d
        ),
        f"execution {arn}",
        timeout=RUN_TIMEOUT,
    )
    return described


def test_isolated_job_gets_its_code_as_the_code_channel(isolated: Isolated) -> None:
    train = isolated.definition["States"]["Train"]["Parameters"]
    assert train["EnableNetworkIsolation"] is True
    reserved = isolated.definition["States"]["ApplyRunDefaults"]["Parameters"][
        "reservedHyperparameters"
    ]
    archive = isolated.code_uri.rsplit("/", 1)[1]
    assert archive.endswith(".gz")  # the asset: <hash>.gz, a gzipped tar
    assert reserved["sagemaker_submit_directory"] == f"/opt/ml/input/data/code/{archive}"


def test_isolated_pipeline_trains_and_deploys_end_to_end(isolated: Isolated) -> None:
    described = _run(isolated, "isolated-run")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert output["endpointStatus"] == "InService"
    job = isolated.sagemaker.describe_training_job(TrainingJobName=output["trainingJobName"])
    assert job["EnableNetworkIsolation"] is True
    assert job["HyperParameters"]["sagemaker_submit_directory"].startswith(
        "/opt/ml/input/data/code/"
    )
    channels = {c["ChannelName"] for c in job["InputDataConfig"]}
    assert channels == {"training", "code"}


def test_isolated_job_cannot_download_its_code_from_s3(isolated: Isolated) -> None:
    """What the pipeline did before it delivered the code as a channel: the job fails."""
    train = isolated.definition["States"]["Train"]["Parameters"]
    name = f"iso-s3-code-{int(time.time() * 1000)}"
    isolated.sagemaker.create_training_job(
        TrainingJobName=name,
        RoleArn=train["RoleArn"],
        AlgorithmSpecification={"TrainingImage": "pytorch:2", "TrainingInputMode": "File"},
        HyperParameters={
            "sagemaker_program": "mnist.py",
            "sagemaker_submit_directory": isolated.code_uri,
        },
        InputDataConfig=[
            {
                "ChannelName": "training",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": isolated.data_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": train["OutputDataConfig"]["S3OutputPath"]},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        EnableNetworkIsolation=True,
    )
    job = wait_for(
        lambda: (
            (d := isolated.sagemaker.describe_training_job(TrainingJobName=name))[
                "TrainingJobStatus"
            ]
            not in {"InProgress", "Stopping"}
            and d
        ),
        f"training job {name}",
        timeout=RUN_TIMEOUT,
    )
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: framework error:")
    assert "EnableNetworkIsolation" in job["FailureReason"]
    assert isolated.code_uri in job["FailureReason"]
