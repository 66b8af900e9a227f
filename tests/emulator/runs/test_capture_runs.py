"""Request capture, executed: a pipeline built with ``capture`` deploys an endpoint configuration
that captures; after ``mlpipeline predict`` the capture files are in the artifacts bucket in
SageMaker's layout and format, encrypted with the pipeline key, and ``mlpipeline capture list``
and ``capture show`` read them; sampling 0 writes nothing; a pipeline without capture says so."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlpipeline_cdk import CaptureSettings
from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli.cli import main
from tests.emulator.runs.helpers import REGION
from tests.emulator.runs.serving_runs import ENDPOINT, Pipeline, running, template

pytestmark = pytest.mark.slow

#: <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl
_KEY = re.compile(
    rf"capture/{ENDPOINT}/AllTraffic/\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/\d{{2}}-\d{{2}}-\d{{3}}-[0-9a-f-]{{36}}\.jsonl"
)


@pytest.fixture(scope="module")
def capturing() -> dict[str, Any]:
    return template(capture=CaptureSettings(sampling_percentage=100))


@pytest.fixture
def pipeline(capturing: dict[str, Any]) -> Iterator[Pipeline]:
    yield from running(capturing)


def _cli(*argv: str) -> int:
    return main([*argv, "--endpoint-name", ENDPOINT], clients=AwsClients(region=REGION))


def _predict(tmp_path: Path, rows: int) -> None:
    np.save(tmp_path / "digits.npy", np.arange(rows * 784).reshape(rows, 784) % 256)
    assert _cli("predict", str(tmp_path / "digits.npy"), "--content-type", "npy") == 0


def _capture_keys(pipeline: Pipeline) -> list[str]:
    listed = pipeline.s3.list_objects_v2(Bucket=pipeline.artifacts_bucket(), Prefix="capture/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_capture_files_are_written_in_sagemakers_layout_and_read_back_by_the_cli(
    pipeline: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = pipeline.run()
    assert result.status == "SUCCEEDED", result.cause
    described = pipeline.sagemaker.describe_endpoint(EndpointName=ENDPOINT)["DataCaptureConfig"]
    # botocore's DataCaptureConfigSummary, every required member and nothing else.
    assert set(described) == {
        "EnableCapture",
        "CaptureStatus",
        "CurrentSamplingPercentage",
        "DestinationS3Uri",
        "KmsKeyId",
    }
    assert (described["CaptureStatus"], described["CurrentSamplingPercentage"]) == ("Started", 100)
    assert described["DestinationS3Uri"] == f"s3://{pipeline.artifacts_bucket()}/capture"
    _predict(tmp_path, 3)
    capsys.readouterr()
    (key,) = _capture_keys(pipeline)
    assert _KEY.fullmatch(key), key
    bucket = pipeline.artifacts_bucket()
    stored = pipeline.s3.get_object(Bucket=bucket, Key=key)
    assert stored["ServerSideEncryption"] == "aws:kms" and stored["SSEKMSKeyId"]
    (line,) = stored["Body"].read().decode().splitlines()
    record = json.loads(line)
    assert record["eventVersion"] == "0"
    assert set(record["eventMetadata"]) == {"eventId", "inferenceTime"}
    request, response = (record["captureData"][k] for k in ("endpointInput", "endpointOutput"))
    # application/x-npy is neither a CSV nor a JSON content type: base64.
    assert (request["mode"], request["encoding"]) == ("INPUT", "BASE64")
    assert request["observedContentType"] == "application/x-npy"
    sent = np.load(io.BytesIO(base64.b64decode(request["data"])))
    assert sent.shape == (3, 784)
    assert (response["mode"], response["encoding"]) == ("OUTPUT", "JSON")
    assert len(json.loads(response["data"])["predictions"]) == 3

    assert _cli("capture", "list", "--json", "--since", "1h") == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["eventId"] == record["eventMetadata"]["eventId"]
    assert listed["file"] == f"s3://{bucket}/{key}"
    assert _cli("capture", "show", listed["eventId"], "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["request"]["body"]["shape"] == [3, 784]
    assert shown["request"]["body"]["values"][0][:3] == [0, 1, 2]
    assert shown["response"]["body"]["predictions"][0]["label"] == 7
    assert _cli("capture", "show", "--latest") == 0
    assert "request (application/x-npy)" in capsys.readouterr().out


def test_sampling_zero_captures_nothing_and_the_cli_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for pipeline in running(template(capture=CaptureSettings(sampling_percentage=0))):
        assert pipeline.run().status == "SUCCEEDED"
        _predict(tmp_path, 2)
        assert _capture_keys(pipeline) == []
        capsys.readouterr()
        assert _cli("capture", "list") == 1
        assert "nothing captured for endpoint mlpipeline-endpoint" in capsys.readouterr().err


def test_without_capture_the_cli_says_capture_is_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for pipeline in running(template()):
        assert pipeline.run().status == "SUCCEEDED"
        # DescribeEndpoint leaves DataCaptureConfig out when the configuration does not capture.
        assert "DataCaptureConfig" not in pipeline.sagemaker.describe_endpoint(
            EndpointName=ENDPOINT
        )
        _predict(tmp_path, 1)
        assert _capture_keys(pipeline) == []
        capsys.readouterr()
        assert _cli("capture", "show", "--latest") == 1
        assert "capture is off for endpoint mlpipeline-endpoint" in capsys.readouterr().err
