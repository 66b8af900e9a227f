"""ProcessRuntime: the local SageMaker training the real script on real digits and serving the
model with the script's own inference handlers.

The jobs that several tests inspect run once, side by side, in a module-scoped emulator (one
``mock_aws`` for the module); a probe script (no torch, starts in milliseconds) checks the
training toolkit's contract where the MNIST script cannot show it.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.models import botocore_stubber

from mlpipeline_cdk.contract.script import METRIC_DEFINITIONS
from mlpipeline_cdk.source_asset import build_source_archive
from mlpipeline_cli.asl import Environment, render_definition
from mlpipeline_emulator import ProcessRuntime, local_sagemaker
from mlpipeline_emulator.server import _load_runtime, serve
from scripts.mnist_data import (
    MnistSplits,
    load_sample_digits,
    split_digits,
    write_splits,
)
from tests.emulator.runs.helpers import MOTO_CONFIG, REGION, ROLE, SAGEMAKER_ROLE, kms_keys_for

ROOT = Path(__file__).resolve().parents[3]
#: The training script's files (mnist.py and the modules it imports), as code/ of a model archive.
SERVING_CODE = {f"code/{path.name}": path for path in sorted((ROOT / "training_code").glob("*.py"))}
BUCKET = "mlpipeline-local-runtime"
TRAIN_SAMPLES = 600
TEST_SAMPLES = 200
#: Real training takes seconds; leave room for a loaded two-core machine.
JOB_TIMEOUT = 180.0

#: The probe records what the toolkit would give it, then sleeps or fails when asked to.
PROBE = """
import json, os, sys, time
from pathlib import Path

data = Path(os.environ["SM_OUTPUT_DATA_DIR"])
data.mkdir(parents=True, exist_ok=True)
config = Path(os.environ["SM_INPUT_CONFIG_DIR"])
channels = {
    name: sorted(p.name for p in Path(os.environ["SM_CHANNEL_" + name.upper()]).iterdir())
    for name in json.loads(os.environ["SM_CHANNELS"])
}
record = {
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "code": sorted(p.name for p in Path.cwd().iterdir()),
    "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "MASTER_", "TRAINING_JOB"))}
    | {k: os.environ.get(k) for k in ("PYTHONUNBUFFERED", "AWS_ENDPOINT_URL", "FROM_THE_REQUEST")},
    "config": {p.name: json.loads(p.read_text()) for p in config.iterdir()},
    "channels": channels,
}
(data / ("probe-" + os.environ["SM_CURRENT_HOST"] + ".json")).write_text(json.dumps(record))
(Path(os.environ["SM_MODEL_DIR"]) / (os.environ["SM_CURRENT_HOST"] + ".txt")).write_text("model")
print("probe_metric=0.25", flush=True)
if "--sleep" in sys.argv:
    print("sleeping", flush=True)
    time.sleep(float(sys.argv[sys.argv.index("--sleep") + 1]))
    print("woke up", flush=True)
if "--fail" in sys.argv:
    raise ValueError("the probe failed on purpose")
"""


@dataclass
class Cloud:
    """The module's emulator: the runtime, clients, and the S3 URIs the jobs use."""

    runtime: ProcessRuntime
    s3: Any
    sagemaker: Any
    invoker: Any
    mnist_code: str
    probe_code: str
    #: The four IDX files and the packed training_code/, as uploaded.
    mnist_data: Path
    mnist_archive: Path


def _splits() -> MnistSplits:
    full = split_digits(*load_sample_digits(), test_fraction=0.2, seed=0)
    return MnistSplits(
        full.train_images[:TRAIN_SAMPLES],
        full.train_labels[:TRAIN_SAMPLES],
        full.test_images[:TEST_SAMPLES],
        full.test_labels[:TEST_SAMPLES],
    )


def _upload_dir(s3: Any, directory: Path, prefix: str) -> str:
    for path in sorted(directory.iterdir()):
        s3.upload_file(str(path), BUCKET, f"{prefix}/{path.name}")
    return f"s3://{BUCKET}/{prefix}/"


def _archive(tmp: Path, files: dict[str, str]) -> Path:
    source = tmp / "source"
    source.mkdir()
    for name, text in files.items():
        (source / name).write_text(text)
    return build_source_archive(source, tmp)


def _job(
    name: str, code: str, program: str, channels: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    hyperparameters = {
        "sagemaker_program": program,
        "sagemaker_submit_directory": code,
        "sagemaker_region": REGION,
        "sagemaker_container_log_level": "20",
        **overrides.pop("hyperparameters", {}),
    }
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": SAGEMAKER_ROLE,
        "AlgorithmSpecification": {
            "TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2",
            "TrainingInputMode": "File",
            "MetricDefinitions": [dict(d) for d in METRIC_DEFINITIONS],
        },
        "HyperParameters": hyperparameters,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel, uri in channels.items()
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    request.update(overrides)
    return request


def _finished(sagemaker: Any, name: str, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] not in {"InProgress", "Stopping"}:
            return job
        time.sleep(0.1)
    raise AssertionError(f"training job {name} did not finish in {timeout}s")


def _object(s3: Any, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def _members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def _last_logged(log: Path, key: str) -> float:
    values = [
        float(part.split("=", 1)[1])
        for line in log.read_text().splitlines()
        for part in line.split()
        if part.startswith(f"{key}=")
    ]
    return values[-1]


# --- server mode first: it needs this process free of mock_aws -------------------------------


@pytest.fixture(scope="module")
def probe_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _archive(tmp_path_factory.mktemp("probe"), {"probe.py": PROBE})


def test_server_mode_moves_data_through_the_servers_s3(tmp_path: Path, probe_archive: Path) -> None:
    # Before the module's mock_aws exists: the runtime must find S3 at the server's port.
    assert not botocore_stubber.enabled
    with closing(ProcessRuntime(workdir=tmp_path)) as runtime, serve(0, runtime) as server:
        client: Callable[[str], Any] = lambda service: boto3.client(  # noqa: E731
            service,
            region_name=REGION,
            endpoint_url=server.endpoint_url,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        s3, sagemaker = client("s3"), client("sagemaker")
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(probe_archive), BUCKET, "code/probe.tar.gz")
        s3.put_object(Bucket=BUCKET, Key="inputs/a.csv", Body=b"1,2\n")
        sagemaker.create_training_job(
            **_job(
                "over-http-process",
                f"s3://{BUCKET}/code/probe.tar.gz",
                "probe.py",
                {"training": f"s3://{BUCKET}/inputs/"},
            )
        )
        job = _finished(sagemaker, "over-http-process")
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        output = _members(
            _object(s3, f"s3://{BUCKET}/models/over-http-process/output/output.tar.gz")
        )

    probe = json.loads(output["probe-algo-1.json"])
    assert probe["channels"] == {"training": ["a.csv"]}
    # The script's own AWS calls go to the emulator too.
    assert probe["env"]["AWS_ENDPOINT_URL"] == server.endpoint_url


def test_the_server_makes_one_from_the_environment_with_runtime_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLPIPELINE_LOCAL_WORKDIR", str(tmp_path))

    runtime = _load_runtime("process")

    assert isinstance(runtime, ProcessRuntime)
    assert runtime.workdir == tmp_path


# --- the module's emulator and the jobs it runs ----------------------------------------------


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, probe_archive: Path) -> Iterator[Cloud]:
    tmp = tmp_path_factory.mktemp("process-runtime")
    runtime = ProcessRuntime(workdir=tmp / "work", stop_grace_seconds=2.0)
    # Wait states at a thousandth of their time: the pipeline polls its endpoint every 30 s.
    with (
        closing(runtime),
        local_sagemaker(runtime, wait_scale=0.001),
        mock_aws(config=MOTO_CONFIG),
    ):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        digits = _splits()
        write_splits(tmp / "mnist", digits, compress=True)
        _upload_dir(s3, tmp / "mnist", "mnist")
        # The same digits uncompressed, the training images cut short.
        write_splits(tmp / "bad", digits, compress=False)
        images = tmp / "bad" / "train-images-idx3-ubyte"
        images.write_bytes(images.read_bytes()[:5000])
        _upload_dir(s3, tmp / "bad", "mnist-bad")
        for shard in ("a", "b"):
            s3.put_object(Bucket=BUCKET, Key=f"shards/part-{shard}.csv", Body=b"1\n")
        mnist = build_source_archive(ROOT / "training_code", tmp)
        s3.upload_file(str(mnist), BUCKET, "code/mnist.tar.gz")
        s3.upload_file(str(probe_archive), BUCKET, "code/probe.tar.gz")
        yield Cloud(
            runtime=runtime,
            s3=s3,
            sagemaker=boto3.client("sagemaker", region_name=REGION),
            invoker=boto3.client("sagemaker-runtime", region_name=REGION),
            mnist_code=f"s3://{BUCKET}/code/mnist.tar.gz",
            probe_code=f"s3://{BUCKET}/code/probe.tar.gz",
            mnist_data=tmp / "mnist",
            mnist_archive=mnist,
        )


MNIST_HYPERPARAMETERS = {
    "epochs": "1",
    "batch-size": "10",
    "test-batch-size": "100",
    "log-interval": "5",
    "backend": '"gloo"',  # as the SageMaker Python SDK sends strings: JSON-encoded
}


@pytest.fixture(scope="module")
def jobs(cloud: Cloud) -> dict[str, dict[str, Any]]:
    """The jobs several tests read, started together and run to their end."""
    training = {"training": f"s3://{BUCKET}/mnist/"}
    requests = [
        _job(
            "mnist-one",
            cloud.mnist_code,
            "mnist.py",
            training,
            hyperparameters=MNIST_HYPERPARAMETERS,
            CheckpointConfig={"S3Uri": f"s3://{BUCKET}/checkpoints/mnist-one/"},
        ),
        _job(
            "mnist-two",
            cloud.mnist_code,
            "mnist.py",
            training,
            hyperparameters=MNIST_HYPERPARAMETERS | {"seed": "7"},
            ResourceConfig={
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 2,
                "VolumeSizeInGB": 5,
            },
        ),
        _job(
            "mnist-bad",
            cloud.mnist_code,
            "mnist.py",
            {"training": f"s3://{BUCKET}/mnist-bad/"},
            hyperparameters=MNIST_HYPERPARAMETERS,
        ),
        _job(
            "probe",
            cloud.probe_code,
            "probe.py",
            {"training": f"s3://{BUCKET}/mnist/train", "sharded": f"s3://{BUCKET}/shards/"},
            hyperparameters={
                "epochs": "2",
                "lr": "0.001",
                "flag": "true",
                "name": '"quoted"',
                "n": "5",
                "tags": '{"b": 2, "a": 1}',
            },
            ResourceConfig={
                "InstanceType": "ml.m5.xlarge",
                "InstanceCount": 2,
                "VolumeSizeInGB": 5,
            },
            Environment={"FROM_THE_REQUEST": "yes"},
        ),
        _job(
            "probe-fails",
            cloud.probe_code,
            "probe.py",
            training,
            hyperparameters={"fail": "1"},
        ),
    ]
    probe = requests[3]
    probe["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3DataDistributionType"] = (
        "ShardedByS3Key"
    )
    for request in requests:
        cloud.sagemaker.create_training_job(**request)
    return {
        r["TrainingJobName"]: _finished(cloud.sagemaker, r["TrainingJobName"]) for r in requests
    }


def _probe_records(cloud: Cloud, job: str) -> dict[str, dict[str, Any]]:
    members = _members(_object(cloud.s3, f"s3://{BUCKET}/models/{job}/output/output.tar.gz"))
    return {name: json.loads(body) for name, body in members.items()}


# --- training ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_training_job_completes_with_the_metrics_the_script_printed(
    cloud: Cloud, jobs: dict[str, dict[str, Any]]
) -> None:
    job = jobs["mnist-one"]

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert set(metrics) == {"train:loss", "test:loss", "test:accuracy"}
    log = cloud.runtime.training_log_dir("mnist-one") / "algo-1.log"
    assert metrics["test:accuracy"] == pytest.approx(_last_logged(log, "test_accuracy"))
    assert metrics["test:loss"] == pytest.approx(_last_logged(log, "test_loss"))
    # 600 digits, one epoch: far better than the 10 % of guessing.
    assert metrics["test:accuracy"] > 0.4


@pytest.mark.slow
def test_model_archive_is_where_sagemaker_puts_it_with_the_serving_code(
    cloud: Cloud, jobs: dict[str, dict[str, Any]]
) -> None:
    uri = jobs["mnist-one"]["ModelArtifacts"]["S3ModelArtifacts"]

    assert uri == f"s3://{BUCKET}/models/mnist-one/output/model.tar.gz"
    members = _members(_object(cloud.s3, uri))
    assert "code/mnist.py" in SERVING_CODE
    assert set(members) == {"model.pth", *SERVING_CODE}
    for name, path in SERVING_CODE.items():
        assert members[name] == path.read_bytes(), name
    output = _members(_object(cloud.s3, f"s3://{BUCKET}/models/mnist-one/output/output.tar.gz"))
    assert [epoch["epoch"] for epoch in json.loads(output["metrics.json"])] == [1]


@pytest.mark.slow
def test_checkpoints_are_synced_to_the_checkpoint_uri(
    cloud: Cloud, jobs: dict[str, dict[str, Any]]
) -> None:
    listed = cloud.s3.list_objects_v2(Bucket=BUCKET, Prefix="checkpoints/mnist-one/")
    keys = [item["Key"] for item in listed.get("Contents", [])]

    assert jobs["mnist-one"]["TrainingJobStatus"] == "Completed"
    assert "checkpoints/mnist-one/checkpoint.pt" in keys


@pytest.mark.slow
def test_a_job_resumes_from_the_checkpoints_of_its_checkpoint_uri(
    cloud: Cloud, jobs: dict[str, dict[str, Any]]
) -> None:
    # As after a spot interruption: same CheckpointConfig, and the epochs are already done.
    assert jobs["mnist-one"]["TrainingJobStatus"] == "Completed"
    cloud.sagemaker.create_training_job(
        **_job(
            "mnist-resumed",
            cloud.mnist_code,
            "mnist.py",
            {"training": f"s3://{BUCKET}/mnist/"},
            hyperparameters=MNIST_HYPERPARAMETERS,
            CheckpointConfig={"S3Uri": f"s3://{BUCKET}/checkpoints/mnist-one/"},
        )
    )

    job = _finished(cloud.sagemaker, "mnist-resumed")

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    log = (cloud.runtime.training_log_dir("mnist-resumed") / "algo-1.log").read_text()
    assert "the checkpoint already covers all 1 epochs" in log
    assert "train_loss=" not in log


@pytest.mark.slow
def test_two_instances_train_as_two_processes_of_one_process_group(
    cloud: Cloud, jobs: dict[str, dict[str, Any]]
) -> None:
    job = jobs["mnist-two"]
    logs = cloud.runtime.training_log_dir("mnist-two")

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert "as rank 0 of 2 (host algo-1)" in (logs / "algo-1.log").read_text()
    assert "as rank 1 of 2 (host algo-2)" in (logs / "algo-2.log").read_text()
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert metrics["test:accuracy"] == pytest.approx(
        _last_logged(logs / "algo-1.log", "test_accuracy")
    )
    members = _members(_object(cloud.s3, job["ModelArtifacts"]["S3ModelArtifacts"]))
    assert set(members) == {"model.pth", *SERVING_CODE}


@pytest.mark.slow
def test_a_failing_script_fails_the_job_with_its_own_message(
    jobs: dict[str, dict[str, Any]],
) -> None:
    job = jobs["mnist-bad"]

    assert job["TrainingJobStatus"] == "Failed"
    reason = job["FailureReason"]
    # The script's failure file, as SageMaker reports a framework container's failure.
    assert reason.startswith("AlgorithmError: ")
    assert reason.endswith(", exit code: 1")
    assert "input/data/training/train-images-idx3-ubyte: truncated: the header announces" in reason
    assert "Uploading" not in [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert "ModelArtifacts" not in job


@pytest.mark.slow
def test_without_a_failure_file_the_reason_is_the_toolkits(
    jobs: dict[str, dict[str, Any]],
) -> None:
    reason = jobs["probe-fails"]["FailureReason"]

    assert reason.startswith("AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage ")
    assert "ValueError: the probe failed on purpose" in reason
    assert '\nCommand "' in reason and " probe.py --fail 1 --checkpoint-dir " in reason
    assert reason.endswith(", exit code: 1")


@pytest.mark.slow
def test_the_script_gets_the_training_toolkits_arguments_and_environment(
    cloud: Cloud, jobs: dict[str, dict[str, Any]]
) -> None:
    assert jobs["probe"]["TrainingJobStatus"] == "Completed", jobs["probe"].get("FailureReason")
    records = _probe_records(cloud, "probe")
    first, second = records["probe-algo-1.json"], records["probe-algo-2.json"]

    # Sorted, JSON-decoded then str(): true -> True, "quoted" -> quoted, {...} -> a=1,b=2.
    assert first["argv"][:12] == [
        *("--epochs", "2", "--flag", "True", "--lr", "0.001"),
        *("-n", "5", "--name", "quoted", "--tags", "a=1,b=2"),
    ]
    assert first["argv"][12] == "--checkpoint-dir"
    assert first["argv"][13].endswith("/algo-1/checkpoints")
    assert first["cwd"].endswith("/algo-1/code") and first["code"] == ["probe.py"]
    env = first["env"]
    assert json.loads(env["SM_HOSTS"]) == ["algo-1", "algo-2"]
    assert (env["SM_CURRENT_HOST"], second["env"]["SM_CURRENT_HOST"]) == ("algo-1", "algo-2")
    assert env["SM_NUM_GPUS"] == "0"
    assert env["SM_MODEL_DIR"].endswith("/algo-1/model")
    assert env["SM_OUTPUT_DIR"].endswith("/algo-1/output")
    assert env["SM_OUTPUT_DATA_DIR"].endswith("/algo-1/output/data")
    assert env["SM_CHANNEL_TRAINING"].endswith("/algo-1/input/data/training")
    assert json.loads(env["SM_CHANNELS"]) == ["sharded", "training"]
    assert json.loads(env["SM_HPS"]) == {
        "epochs": 2,
        "flag": True,
        "lr": 0.001,
        "n": 5,
        "name": "quoted",
        "tags": {"a": 1, "b": 2},
    }
    assert env["SM_HP_FLAG"] == "true"
    assert json.loads(env["SM_USER_ARGS"]) == first["argv"][:12]
    assert json.loads(env["SM_TRAINING_ENV"])["job_name"] == "probe"
    assert env["SM_LOG_LEVEL"] == "20"
    assert env["TRAINING_JOB_NAME"] == "probe"
    assert env["PYTHONUNBUFFERED"] == "1"
    # Both instances rendezvous at the same free port on this machine.
    assert env["MASTER_ADDR"] == second["env"]["MASTER_ADDR"] == "127.0.0.1"
    assert env["MASTER_PORT"] == second["env"]["MASTER_PORT"]
    assert env["FROM_THE_REQUEST"] == "yes"  # the request's Environment
    config = first["config"]
    assert config["hyperparameters.json"]["flag"] == "true"
    assert config["resourceconfig.json"]["current_host"] == "algo-1"
    assert config["resourceconfig.json"]["hosts"] == ["algo-1", "algo-2"]
    assert config["inputdataconfig.json"]["sharded"]["S3DistributionType"] == "ShardedByS3Key"


@pytest.mark.slow
def test_channels_are_copied_as_file_mode_copies_them(
    cloud: Cloud, jobs: dict[str, dict[str, Any]]
) -> None:
    records = _probe_records(cloud, "probe")
    first, second = records["probe-algo-1.json"], records["probe-algo-2.json"]

    # A key prefix (.../mnist/train) keeps the names below its folder; every instance has all.
    expected = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert first["channels"]["training"] == second["channels"]["training"] == expected
    # ShardedByS3Key: each instance gets its own share of the objects.
    assert first["channels"]["sharded"] == ["part-a.csv"]
    assert second["channels"]["sharded"] == ["part-b.csv"]
    # Every instance's model folder goes into the one archive.
    model = _members(_object(cloud.s3, jobs["probe"]["ModelArtifacts"]["S3ModelArtifacts"]))
    assert set(model) == {"algo-1.txt", "algo-2.txt"}


def test_stop_training_job_ends_the_scripts_processes(cloud: Cloud) -> None:
    cloud.sagemaker.create_training_job(
        **_job(
            "probe-sleeps",
            cloud.probe_code,
            "probe.py",
            {"training": f"s3://{BUCKET}/shards/"},
            hyperparameters={"sleep": "120"},
        )
    )
    log = cloud.runtime.training_log_dir("probe-sleeps") / "algo-1.log"
    deadline = time.monotonic() + 30
    while not (log.is_file() and "sleeping" in log.read_text()):
        assert time.monotonic() < deadline, "the probe did not start"
        time.sleep(0.05)

    cloud.sagemaker.stop_training_job(TrainingJobName="probe-sleeps")
    job = _finished(cloud.sagemaker, "probe-sleeps", timeout=15)

    assert job["TrainingJobStatus"] == "Stopped"
    assert "woke up" not in log.read_text()
    # What the script left in its model folder is uploaded, as SageMaker does for a stopped job.
    model = _members(_object(cloud.s3, job["ModelArtifacts"]["S3ModelArtifacts"]))
    assert set(model) == {"algo-1.txt"}


def test_a_missing_channel_prefix_fails_the_job_as_sagemaker_does(cloud: Cloud) -> None:
    cloud.sagemaker.create_training_job(
        **_job("no-data", cloud.probe_code, "probe.py", {"training": f"s3://{BUCKET}/nothing/"})
    )

    job = _finished(cloud.sagemaker, "no-data")

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        f'ClientError: No S3 objects found under S3 URL "s3://{BUCKET}/nothing/"'
    )


# --- hosting -----------------------------------------------------------------------------------


def _create_model(cloud: Cloud, name: str, model_data: str) -> str:
    cloud.sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=SAGEMAKER_ROLE,
        PrimaryContainer={
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2",
            "ModelDataUrl": model_data,
            "Environment": {
                "SAGEMAKER_PROGRAM": "mnist.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    cloud.sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    return f"{name}-config"


def _settled(cloud: Cloud, endpoint: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described: dict[str, Any] = cloud.sagemaker.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] not in {"Creating", "Updating"}:
            return described
        time.sleep(0.05)
    raise AssertionError(f"endpoint {endpoint} did not settle")


def _digits(count: int) -> tuple[list[list[list[int]]], list[int]]:
    splits = _splits()
    images = splits.test_images[:count].tolist()
    return images, [int(label) for label in splits.test_labels[:count]]


def _invoke(cloud: Cloud, endpoint: str, body: bytes, **headers: str) -> bytes:
    response = cloud.invoker.invoke_endpoint(EndpointName=endpoint, Body=body, **headers)
    payload: bytes = response["Body"].read()
    return payload


@pytest.fixture(scope="module")
def broken_model(cloud: Cloud) -> str:
    """A model archive with the code but without model.pth."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, path in SERVING_CODE.items():
            tar.add(path, arcname=name)
    cloud.s3.put_object(Bucket=BUCKET, Key="broken/model.tar.gz", Body=buffer.getvalue())
    return f"s3://{BUCKET}/broken/model.tar.gz"


@pytest.fixture(scope="module")
def endpoint(cloud: Cloud, jobs: dict[str, dict[str, Any]]) -> str:
    config = _create_model(
        cloud, "mnist-one", jobs["mnist-one"]["ModelArtifacts"]["S3ModelArtifacts"]
    )
    cloud.sagemaker.create_endpoint(EndpointName="mnist", EndpointConfigName=config)
    described = _settled(cloud, "mnist")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return "mnist"


@pytest.mark.slow
def test_endpoint_answers_with_the_scripts_predictions(cloud: Cloud, endpoint: str) -> None:
    images, labels = _digits(8)

    body = _invoke(cloud, endpoint, json.dumps(images).encode(), ContentType="application/json")

    predictions = json.loads(body)["predictions"]
    assert len(predictions) == 8
    for prediction in predictions:
        assert set(prediction) == {"label", "probabilities"}
        assert len(prediction["probabilities"]) == 10
        assert sum(prediction["probabilities"]) == pytest.approx(1.0, abs=1e-6)
        assert prediction["label"] == max(range(10), key=prediction["probabilities"].__getitem__)
    assert sum(p["label"] == label for p, label in zip(predictions, labels, strict=True)) >= 3


@pytest.mark.slow
def test_accept_defaults_to_json_and_the_response_says_so(cloud: Cloud, endpoint: str) -> None:
    images, _ = _digits(1)

    response = cloud.invoker.invoke_endpoint(
        EndpointName=endpoint,
        Body=json.dumps(images[0]).encode(),
        ContentType="application/json",
        Accept="*/*",
    )

    assert response["ContentType"] == "application/json"
    assert len(json.loads(response["Body"].read())["predictions"]) == 1


@pytest.mark.slow
def test_a_bad_payload_is_a_model_error_with_the_scripts_message(
    cloud: Cloud, endpoint: str
) -> None:
    with pytest.raises(ClientError) as raised:
        _invoke(cloud, endpoint, b"[1, 2, 3]", ContentType="application/json")

    error = raised.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    message = error["Error"]["Message"]
    assert message.startswith("Received server error (500) from primary with message ")
    assert "expected one image shaped (28, 28) or (784,)" in message
    assert "got an array shaped (3,)" in message
    assert "/aws/sagemaker/Endpoints/mnist in account 123456789012" in message
    assert "PayloadError" in cloud.runtime.endpoint_log(endpoint).read_text()


@pytest.mark.slow
def test_update_swaps_the_model_and_a_failed_update_keeps_it_serving(
    cloud: Cloud, jobs: dict[str, dict[str, Any]], broken_model: str
) -> None:
    first = _create_model(cloud, "swap-1", jobs["mnist-one"]["ModelArtifacts"]["S3ModelArtifacts"])
    second = _create_model(cloud, "swap-2", jobs["mnist-two"]["ModelArtifacts"]["S3ModelArtifacts"])
    broken = _create_model(cloud, "swap-broken", broken_model)
    images, _ = _digits(4)
    body = json.dumps(images).encode()
    cloud.sagemaker.create_endpoint(EndpointName="swap", EndpointConfigName=first)
    assert _settled(cloud, "swap")["EndpointStatus"] == "InService"
    before = _invoke(cloud, "swap", body, ContentType="application/json")

    cloud.sagemaker.update_endpoint(EndpointName="swap", EndpointConfigName=second)
    updated = _settled(cloud, "swap")
    after = _invoke(cloud, "swap", body, ContentType="application/json")

    assert (updated["EndpointStatus"], updated["EndpointConfigName"]) == ("InService", second)
    assert after != before  # the two-instance job's weights answer now

    cloud.sagemaker.update_endpoint(EndpointName="swap", EndpointConfigName=broken)
    rolled_back = _settled(cloud, "swap")

    assert (rolled_back["EndpointStatus"], rolled_back["EndpointConfigName"]) == (
        "InService",
        second,
    )
    assert "did not pass the ping health check" in rolled_back["FailureReason"]
    assert "model.pth not found" in rolled_back["FailureReason"]
    assert _invoke(cloud, "swap", body, ContentType="application/json") == after


def test_a_model_that_fails_to_load_fails_the_endpoint(cloud: Cloud, broken_model: str) -> None:
    config = _create_model(cloud, "broken", broken_model)

    cloud.sagemaker.create_endpoint(EndpointName="broken", EndpointConfigName=config)
    described = _settled(cloud, "broken")

    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        "The primary container for production variant AllTraffic did not pass the ping health "
        "check. Please check CloudWatch logs for this endpoint."
    )
    assert "FileNotFoundError" in described["FailureReason"]
    assert "model_fn loads the model.pth training writes" in described["FailureReason"]


@pytest.mark.slow
def test_deleting_an_endpoint_takes_its_model_down(
    cloud: Cloud, jobs: dict[str, dict[str, Any]]
) -> None:
    config = _create_model(cloud, "gone", jobs["mnist-one"]["ModelArtifacts"]["S3ModelArtifacts"])
    cloud.sagemaker.create_endpoint(EndpointName="gone", EndpointConfigName=config)
    assert _settled(cloud, "gone")["EndpointStatus"] == "InService"

    cloud.sagemaker.delete_endpoint(EndpointName="gone")

    assert "endpoint deleted" in cloud.runtime.endpoint_log("gone").read_text()
    with pytest.raises(ClientError, match="Endpoint gone of account"):
        _invoke(cloud, "gone", b"[]", ContentType="application/json")


# --- the pipeline --------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_synthesized_state_machine_trains_gates_and_serves_for_real(
    cloud: Cloud, ml_template_json: dict[str, Any]
) -> None:
    definition = render_definition(
        ml_template_json, env=Environment(**kms_keys_for(ml_template_json))
    )
    defaults = definition["States"]["ApplyRunDefaults"]["Parameters"]
    for bucket in set(re.findall(r"s3://([a-z0-9.-]+)/", json.dumps(definition))):
        cloud.s3.create_bucket(Bucket=bucket)
    cloud.sagemaker.create_model_package_group(ModelPackageGroupName="mnist-models")
    code_bucket, _, code_key = (
        defaults["reservedHyperparameters"]["sagemaker_submit_directory"]
        .removeprefix("s3://")
        .partition("/")
    )
    cloud.s3.upload_file(str(cloud.mnist_archive), code_bucket, code_key)
    data_bucket, _, data_prefix = defaults["defaults"]["trainingDataUri"][5:].partition("/")
    for path in sorted(cloud.mnist_data.iterdir()):
        cloud.s3.upload_file(str(path), data_bucket, f"{data_prefix}{path.name}")
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="MLPipeline", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]

    execution = sfn.start_execution(
        stateMachineArn=machine,
        input=json.dumps(
            {"hyperparameters": {"epochs": "1", "batch-size": "10"}, "accuracyThreshold": 0.2}
        ),
    )["executionArn"]
    deadline = time.monotonic() + JOB_TIMEOUT
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the pipeline did not finish"
        time.sleep(0.2)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    job = cloud.sagemaker.describe_training_job(TrainingJobName=output["trainingJobName"])
    # The pipeline's default: two instances.
    assert job["ResourceConfig"]["InstanceCount"] == 2
    logs = cloud.runtime.training_log_dir(output["trainingJobName"])
    assert output["accuracy"] == pytest.approx(_last_logged(logs / "algo-1.log", "test_accuracy"))
    assert output["endpointStatus"] == "InService"
    images, _ = _digits(2)
    body = _invoke(
        cloud, output["endpointName"], json.dumps(images).encode(), ContentType="application/json"
    )
    assert len(json.loads(body)["predictions"]) == 2
