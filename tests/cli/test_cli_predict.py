"""``mlpipeline predict``: .npy and .json inputs, and this app's readers of IDX files and
pictures (``--reader``), sent to an endpoint that runs the real serving code.

The fake endpoint decodes each request with the training script's own ``input_fn`` and answers
with its ``output_fn``, so the requests are checked against the serving contract itself. Its
"model" reads the answer off the image: a label times ten in the top-left pixel.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from PIL import Image

from mlpipeline_cli.cli import main
from scripts.digit_images import digit_from_picture
from scripts.mnist_data import write_idx
from scripts.training_script import load_script

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "mnist-endpoint"
READER = ["--reader", "scripts.digit_images:read_digits"]


@pytest.fixture(scope="module")
def serving() -> Iterator[ModuleType]:
    yield load_script("mnist_serving_for_cli_tests")


class Endpoint:
    """InvokeEndpoint through the serving script's input_fn and output_fn."""

    def __init__(self, serving: ModuleType) -> None:
        self.serving = serving
        self.requests: list[dict[str, Any]] = []

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        import torch

        self.requests.append(request)
        assert request["EndpointName"] == ENDPOINT
        assert request["Accept"] == "application/json"
        tensor = self.serving.input_fn(request["Body"], request["ContentType"])
        pixels = (tensor * self.serving.MNIST_STD + self.serving.MNIST_MEAN) * 255
        labels = torch.round(pixels[:, 0, 0, 0] / 10).long() % 10
        probabilities = torch.full((len(labels), 10), 0.01, dtype=torch.float64)
        probabilities[torch.arange(len(labels)), labels] = 0.91
        body = self.serving.output_fn(probabilities, request["Accept"])
        return {"Body": io.BytesIO(body), "ContentType": "application/json"}


class InService:
    def __init__(self, status: str = "InService", reason: str | None = None) -> None:
        self.answer = {"EndpointName": ENDPOINT, "EndpointStatus": status}
        if reason:
            self.answer["FailureReason"] = reason

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803 - boto3's
        return dict(self.answer)


class Stack:
    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        assert StackName == "MLPipelineStack"
        outputs = {"StateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:P"}
        outputs["EndpointName"] = ENDPOINT
        return {
            "Stacks": [
                {
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                }
            ]
        }


class Clients:
    region = "us-east-1"

    def __init__(self, **clients: Any) -> None:
        self.clients = clients

    def client(self, service: str) -> Any:
        return self.clients[service.replace("-", "_")]

    def use_region_of(self, arn: str) -> None:
        pass


@pytest.fixture
def endpoint(serving: ModuleType) -> Endpoint:
    return Endpoint(serving)


@pytest.fixture
def clients(endpoint: Endpoint) -> Clients:
    return Clients(sagemaker=InService(), sagemaker_runtime=endpoint, cloudformation=Stack())


def digits(predicted: list[int]) -> np.ndarray:
    """Images whose top-left pixel tells the fake model what to answer."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(len(predicted), 28, 28), dtype=np.uint8)
    images[:, 0, 0] = np.array(predicted, dtype=np.uint8) * 10
    return images


def test_predict_idx_files_prints_labels_and_accuracy(
    tmp_path: Path, clients: Clients, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = [i % 10 for i in range(25)]
    predicted = [t if i % 5 else (t + 1) % 10 for i, t in enumerate(truth)]  # 5 wrong
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", digits(predicted))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array(truth, dtype=np.uint8))
    status = main(
        [
            "predict",
            *READER,
            str(tmp_path / "t10k-images-idx3-ubyte.gz"),
            "--labels",
            str(tmp_path / "t10k-labels-idx1-ubyte"),
            "--batch-size",
            "10",
        ],
        clients=clients,
    )
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[0].split() == ["#", "SOURCE", "LABEL", "PROBABILITY", "TRUE"]
    assert out[1].split() == ["0", "t10k-images-idx3-ubyte.gz[0]", "1", "0.9100", "0", "WRONG"]
    assert out[2].split() == ["1", "t10k-images-idx3-ubyte.gz[1]", "1", "0.9100", "1", "ok"]
    assert len(out) == 1 + 25 + 1
    assert out[-1] == "accuracy: 80.00% (20 of 25 correct)"
    # 25 images in requests of at most 10, as JSON of whole pixel values.
    assert [len(json.loads(r["Body"])) for r in endpoint.requests] == [10, 10, 5]
    assert {r["ContentType"] for r in endpoint.requests} == {"application/json"}


def test_predict_limit_takes_the_first_images_and_labels(
    tmp_path: Path, clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    write_idx(tmp_path / "images", digits([3, 4, 5, 6]))
    write_idx(tmp_path / "labels", np.array([3, 4, 0, 0], dtype=np.uint8))
    argv = ["predict", *READER, str(tmp_path / "images"), "--labels", str(tmp_path / "labels")]
    assert main([*argv, "--limit", "2"], clients=clients) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 + 2 + 1
    assert out[-1] == "accuracy: 100.00% (2 of 2 correct)"


def test_predict_npy_as_npy_requests_in_json_output(
    tmp_path: Path, clients: Clients, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "digits.npy", digits([7, 2, 1]).reshape(3, 784))
    argv = ["predict", str(tmp_path / "digits.npy"), "--content-type", "npy", "--json"]
    assert main(argv, clients=clients) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["endpointName"] == ENDPOINT
    assert [p["label"] for p in document["predictions"]] == [7, 2, 1]
    assert [p["source"] for p in document["predictions"]] == [
        "digits.npy[0]",
        "digits.npy[1]",
        "digits.npy[2]",
    ]
    assert document["predictions"][0]["probabilities"][7] == pytest.approx(0.91)
    assert len(document["predictions"][0]["probabilities"]) == 10
    assert "accuracy" not in document
    (request,) = endpoint.requests
    assert request["ContentType"] == "application/x-npy"
    assert np.load(io.BytesIO(request["Body"])).dtype == np.uint8


def test_predict_json_with_labels_reports_accuracy(
    tmp_path: Path, clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "digits.npy", digits([7, 2]))
    np.save(tmp_path / "labels.npy", np.array([7, 3]))
    argv = ["predict", str(tmp_path / "digits.npy"), "--labels", str(tmp_path / "labels.npy")]
    assert main([*argv, "--json"], clients=clients) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["accuracy"], document["correct"], document["total"]) == (0.5, 1, 2)
    assert [(p["trueLabel"], p["correct"]) for p in document["predictions"]] == [
        (7, True),
        (3, False),
    ]


def test_predict_all_probabilities(
    tmp_path: Path, clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "one.npy", digits([4]))
    assert main(["predict", str(tmp_path / "one.npy"), "--probabilities"], clients=clients) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[4:] == [f"P({d})" for d in range(10)]
    assert row.split()[4:] == ["0.0100"] * 4 + ["0.9100"] + ["0.0100"] * 5


def test_predict_a_png_sends_an_mnist_like_digit(
    tmp_path: Path, clients: Clients, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    Image.fromarray(255 - digits([7])[0]).resize((90, 90)).save(tmp_path / "seven.png")
    assert main(["predict", *READER, str(tmp_path / "seven.png")], clients=clients) == 0
    _, row = capsys.readouterr().out.splitlines()
    assert row.split() == ["0", "seven.png", "0", "0.9100"]
    (request,) = endpoint.requests
    sent = np.array(json.loads(request["Body"]))
    assert sent.shape == (1, 28, 28)
    np.testing.assert_array_equal(sent[0], digit_from_picture(tmp_path / "seven.png"))


# --- errors --------------------------------------------------------------------------------------


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("mlpipeline: error: ")
    return line


def test_malformed_picture_is_one_error_line(
    tmp_path: Path, clients: Clients, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "digit.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert main(["predict", *READER, str(tmp_path / "digit.png")], clients=clients) == 1
    assert "digit.png: not a picture that can be read" in _one_error_line(capsys)
    assert endpoint.requests == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("images.gz", b"not gzip", "images.gz: cannot be read"),
        ("images", b"\x00\x00\x08\x03\x00\x00\x00\x02", "images: truncated"),
        ("a.npy", b"nonsense", "a.npy: not a .npy array"),
        ("missing.npy", None, "missing.npy: not a .npy array"),
    ],
)
def test_malformed_files_are_one_error_line(
    tmp_path: Path,
    clients: Clients,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    if content is not None:
        (tmp_path / name).write_bytes(content)
    assert main(["predict", *READER, str(tmp_path / name)], clients=clients) == 1
    assert message in _one_error_line(capsys)


def test_wrongly_shaped_array_is_one_error_line(
    tmp_path: Path, clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    write_idx(tmp_path / "odd", np.zeros((3, 27, 28), dtype=np.uint8))
    assert main(["predict", *READER, str(tmp_path / "odd")], clients=clients) == 1
    assert "odd: expected images shaped (28, 28)" in _one_error_line(capsys)


def test_label_count_must_match(
    tmp_path: Path, clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "d.npy", digits([1, 2, 3]))
    np.save(tmp_path / "l.npy", np.array([1, 2]))
    argv = ["predict", str(tmp_path / "d.npy"), "--labels", str(tmp_path / "l.npy")]
    assert main(argv, clients=clients) == 1
    assert "3 inputs but 2 labels" in _one_error_line(capsys)


def test_no_endpoint_yet_is_one_error_line(
    tmp_path: Path, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "d.npy", digits([1]))
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        clients = Clients(sagemaker=sagemaker, sagemaker_runtime=endpoint, cloudformation=Stack())
        assert main(["predict", str(tmp_path / "d.npy")], clients=clients) == 1
    line = _one_error_line(capsys)
    assert line == (
        "mlpipeline: error: endpoint mnist-endpoint does not exist yet: a successful run creates "
        "it (mlpipeline run --wait), or name another with --endpoint-name"
    )
    assert endpoint.requests == []


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [
        ("Creating", None, "endpoint mnist-endpoint is still being created"),
        ("Failed", "image not found", "endpoint mnist-endpoint is Failed: image not found"),
    ],
)
def test_endpoint_that_does_not_serve_is_one_error_line(
    tmp_path: Path,
    endpoint: Endpoint,
    capsys: pytest.CaptureFixture[str],
    status: str,
    reason: str | None,
    message: str,
) -> None:
    np.save(tmp_path / "d.npy", digits([1]))
    clients = Clients(sagemaker=InService(status, reason), sagemaker_runtime=endpoint)
    argv = ["predict", str(tmp_path / "d.npy"), "--endpoint-name", ENDPOINT]
    assert main(argv, clients=clients) == 1
    assert message in _one_error_line(capsys)


def test_model_error_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from botocore.exceptions import ClientError

    class Refusing:
        def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ModelError",
                        "Message": "Received client error (400) from primary with message "
                        '"pixel values must be between 0 and 255".',
                    }
                },
                "InvokeEndpoint",
            )

    np.save(tmp_path / "d.npy", digits([1]))
    clients = Clients(sagemaker=InService(), sagemaker_runtime=Refusing())
    argv = ["predict", str(tmp_path / "d.npy"), "--endpoint-name", ENDPOINT]
    assert main(argv, clients=clients) == 1
    assert _one_error_line(capsys) == (
        "mlpipeline: error: the model behind endpoint mnist-endpoint refused the request: "
        'Received client error (400) from primary with message "pixel values must be between 0 '
        'and 255".'
    )


def test_unexpected_answer_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    class Odd:
        def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
            return {"Body": io.BytesIO(b'{"labels": [1]}')}

    np.save(tmp_path / "d.npy", digits([1]))
    clients = Clients(sagemaker=InService(), sagemaker_runtime=Odd())
    argv = ["predict", str(tmp_path / "d.npy"), "--endpoint-name", ENDPOINT]
    assert main(argv, clients=clients) == 1
    assert 'did not answer {"predictions": [...]} with 1 entries' in _one_error_line(capsys)


# --- generic inputs and answers ------------------------------------------------------------------


def test_predict_json_inputs_are_batched_along_the_first_axis(
    tmp_path: Path, clients: Clients, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.json").write_text(json.dumps(digits([5, 6]).tolist()))
    np.save(tmp_path / "b.npy", digits([8]))
    (tmp_path / "labels.json").write_text("[5, 6, 0]")
    argv = ["predict", str(tmp_path / "a.json"), str(tmp_path / "b.npy")]
    assert main([*argv, "--labels", str(tmp_path / "labels.json")], clients=clients) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in out[1:4]] == [
        ["a.json[0]", "5"],
        ["a.json[1]", "6"],
        ["b.npy", "8"],
    ]
    assert out[-1] == "accuracy: 66.67% (2 of 3 correct)"
    (request,) = endpoint.requests
    assert np.array(json.loads(request["Body"])).shape == (3, 28, 28)


class Regressor:
    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        rows = json.loads(request["Body"])
        answer = {"predictions": [{"value": sum(row)} for row in rows]}
        return {"Body": io.BytesIO(json.dumps(answer).encode())}


def test_answers_that_are_not_a_classifiers_are_printed_as_they_come(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rows.json").write_text("[[1, 2], [3.5, 4]]")
    clients = Clients(sagemaker=InService(), sagemaker_runtime=Regressor())
    argv = ["predict", str(tmp_path / "rows.json"), "--endpoint-name", ENDPOINT]
    assert main(argv, clients=clients) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["#", "SOURCE", "PREDICTION"]
    assert out[1].split() == ["0", "rows.json[0]", '{"value":3.0}']
    assert main([*argv, "--json"], clients=clients) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["predictions"][1] == {"source": "rows.json[1]", "prediction": {"value": 7.5}}
    (tmp_path / "labels.json").write_text("[1, 2]")
    assert main([*argv, "--labels", str(tmp_path / "labels.json")], clients=clients) == 1
    assert "answered without a label to compare with --labels" in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("files", "reader", "message"),
    [
        (
            ["d.idx"],
            None,
            "d.idx: not a .npy or .json file; name a reader of .idx files with --reader",
        ),
        (["d.npy"], "nocolon", "--reader nocolon: expected MODULE:FUNCTION"),
        (["d.npy"], "no_such_module_here:read", "--reader no_such_module_here:read: cannot import"),
        (["d.npy"], "scripts.mnist_data:nothing", "scripts.mnist_data has no function nothing"),
        (
            ["d.npy", "e.json"],
            None,
            "e.json: inputs shaped (2,), but those of d.npy are shaped (28, 28)",
        ),
        (["f.json"], None, "f.json: expected a batch of numbers"),
    ],
)
def test_input_problems_are_one_error_line(
    tmp_path: Path,
    clients: Clients,
    capsys: pytest.CaptureFixture[str],
    files: list[str],
    reader: str | None,
    message: str,
) -> None:
    np.save(tmp_path / "d.npy", digits([1]))
    (tmp_path / "d.idx").write_bytes(b"")
    (tmp_path / "e.json").write_text("[[1, 2]]")
    (tmp_path / "f.json").write_text('{"not": "a batch"}')
    argv = ["predict", *(str(tmp_path / name) for name in files)]
    argv += ["--reader", reader] if reader else []
    assert main(argv, clients=clients) == 1
    assert message in _one_error_line(capsys)
