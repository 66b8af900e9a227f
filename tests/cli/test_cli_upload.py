"""``mlpipeline upload-data``: a folder's files to the data bucket and prefix (moto's S3)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from moto import mock_aws

from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli.cli import main as cli_main
from scripts.mnist_data import IDX_NAMES, MnistSplits, read_idx, write_dataset, write_splits

REGION = "us-east-1"
BUCKET = "pipeline-data"


@pytest.fixture(scope="module")
def clients() -> AwsClients:
    # One boto3 session for the module, rather than loading the service models per command.
    return AwsClients(region=REGION)


@dataclass
class Deployed:
    clients: AwsClients

    def main(self, argv: list[str]) -> int:
        return cli_main(argv, clients=self.clients)

    @property
    def s3(self) -> Any:
        return self.clients.client("s3")

    def keys(self, bucket: str = BUCKET) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listed.get("Contents", []))


@pytest.fixture
def stack(clients: AwsClients) -> Iterator[Deployed]:
    """A data bucket and a stack naming it and the prefix, in moto."""
    with mock_aws():
        deployed = Deployed(clients)
        deployed.s3.create_bucket(Bucket=BUCKET)
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "StateMachineArn": {
                    "Value": "arn:aws:states:us-east-1:123456789012:stateMachine:P"
                },
                "DataBucketName": {"Value": BUCKET},
                "DataPrefix": {"Value": "training-data/"},
            },
        }
        clients.client("cloudformation").create_stack(
            StackName="MLPipelineStack", TemplateBody=json.dumps(template)
        )
        yield deployed


def _small_splits() -> MnistSplits:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = np.arange(12, dtype=np.uint8) % 10
    return MnistSplits(images[:8], labels[:8], images[8:], labels[8:])


def test_upload_data_puts_the_files_under_the_stack_prefix(
    stack: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_splits(tmp_path, _small_splits(), compress=False)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("any file")
    (tmp_path / ".hidden").write_text("left out")
    assert stack.main(["upload-data", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    expected = sorted(
        [*(f"training-data/{name}" for name in IDX_NAMES), "training-data/notes/readme.txt"]
    )
    assert stack.keys() == expected
    assert sorted(out.splitlines()) == [f"uploaded s3://{BUCKET}/{key}" for key in expected]
    assert f"runs read s3://{BUCKET}/training-data/ unless given --data-uri" in err
    body = stack.s3.get_object(Bucket=BUCKET, Key="training-data/t10k-labels-idx1-ubyte")
    (tmp_path / "back").write_bytes(body["Body"].read())
    np.testing.assert_array_equal(read_idx(tmp_path / "back"), _small_splits().test_labels)


def test_upload_data_of_the_sample_digits_the_app_script_writes(
    stack: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dataset(tmp_path)
    assert stack.main(["upload-data", str(tmp_path), "--prefix", "mnist/v1"]) == 0
    assert stack.keys() == sorted(f"mnist/v1/{name}.gz" for name in IDX_NAMES)
    body = stack.s3.get_object(Bucket=BUCKET, Key="mnist/v1/train-labels-idx1-ubyte.gz")
    raw = gzip.decompress(body["Body"].read())
    assert raw[:4] == b"\x00\x00\x08\x01" and int.from_bytes(raw[4:8], "big") == 4000


def test_upload_data_to_another_bucket(
    stack: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.s3.create_bucket(Bucket="elsewhere")
    write_splits(tmp_path, _small_splits())
    assert stack.main(["upload-data", str(tmp_path), "--bucket", "elsewhere", "--prefix", ""]) == 0
    assert stack.keys("elsewhere") == sorted(f"{name}.gz" for name in IDX_NAMES)
    assert stack.keys() == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["upload-data", "EMPTY"], "empty: no files to upload"),
        (["upload-data", "MISSING"], "missing: not a directory"),
        (
            ["upload-data", "DIR", "--bucket", "no-such-bucket"],
            "bucket no-such-bucket does not exist",
        ),
    ],
)
def test_upload_data_problems_are_one_error_line(
    stack: Deployed,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    write_splits(tmp_path / "data", _small_splits())
    (tmp_path / "empty").mkdir()
    argv = [
        {
            "DIR": str(tmp_path / "data"),
            "EMPTY": str(tmp_path / "empty"),
            "MISSING": str(tmp_path / "missing"),
        }.get(a, a)
        for a in argv
    ]
    assert stack.main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("mlpipeline: error: ") and message in line


@pytest.mark.parametrize("argv", [["upload-data"], ["upload-data", "DIR", "--sample"]])
def test_upload_data_needs_one_folder_and_has_no_sample_option(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main(argv)
    assert exited.value.code == 2
