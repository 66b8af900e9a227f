"""``mlpipeline predict``: IDX, .npy and pictures sent to an endpoint that runs the real
serving code.

The fake endpoint decodes each request with the training script's own ``input_fn`` and answers
with its ``output_fn``, so the requests are checked against the serving contract itself. Its
"model" reads the answer off the image: a label times ten in the top-left pixel.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from PIL import Image, ImageDraw

from mlpipeline_cli._images import digit_from_picture, mnist_like
from mlpipeline_cli.cli import main
from mlpipeline_cli.mnist_data import MnistDataError, write_idx

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "mnist-endpoint"


@pytest.fixture(scope="module")
def serving() -> Iterator[ModuleType]:
    sys.path.insert(0, str(ROOT / "tests" / "app" / "training"))
    try:
        from helpers import load_script  # tests/app/training/helpers.py
    finally:
        sys.path.pop(0)
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
    argv = ["predict", str(tmp_path / "images"), "--labels", str(tmp_path / "labels")]
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
    np.save(tmp_path / "one.npy", digits([4])[0])
    assert main(["predict", str(tmp_path / "one.npy"), "--probabilities"], clients=clients) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[4:] == [f"P({d})" for d in range(10)]
    assert row.split()[4:] == ["0.0100"] * 4 + ["0.9100"] + ["0.0100"] * 5


def _draw_digit(path: Path, *, size: tuple[int, int] = (90, 130), mode: str = "L") -> None:
    """A dark, thick, off-centre "7" on a light background, as a phone photo of paper might be."""
    background: Any = 235 if mode == "L" else (0, 0, 0, 0)
    ink: Any = 20 if mode == "L" else (10, 10, 10, 255)
    picture = Image.new(mode, size, background)
    draw = ImageDraw.Draw(picture)
    draw.line([(15, 20), (70, 20), (35, 115)], fill=ink, width=9)
    picture.save(path)


def test_predict_a_png_sends_an_mnist_like_digit(
    tmp_path: Path, clients: Clients, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    _draw_digit(tmp_path / "seven.png")
    assert main(["predict", str(tmp_path / "seven.png")], clients=clients) == 0
    _, row = capsys.readouterr().out.splitlines()
    assert row.split() == ["0", "seven.png", "0", "0.9100"]
    (request,) = endpoint.requests
    sent = np.array(json.loads(request["Body"]))
    assert sent.shape == (1, 28, 28)
    np.testing.assert_array_equal(sent[0], digit_from_picture(tmp_path / "seven.png"))


def test_picture_becomes_white_on_black_fitted_and_centred_like_mnist(tmp_path: Path) -> None:
    _draw_digit(tmp_path / "seven.png")
    digit = digit_from_picture(tmp_path / "seven.png")
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    # Inverted: the light paper is black (0), the strongest ink white (255).
    assert digit[0, 0] == 0 and digit.max() == 255
    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    # Fitted into 20x20 keeping the aspect ratio: the taller side is 20 (+1 of resampling blur).
    assert 20 <= rows[-1] - rows[0] + 1 <= 21
    assert cols[-1] - cols[0] + 1 < rows[-1] - rows[0] + 1
    # Centred by its centre of mass, not by its bounding box.
    ys, xs = np.indices(digit.shape)
    mass = digit.astype(float)
    assert abs((ys * mass).sum() / mass.sum() - 13.5) <= 0.5
    assert abs((xs * mass).sum() / mass.sum() - 13.5) <= 0.5


def test_picture_on_a_transparent_canvas_uses_its_opaque_strokes(tmp_path: Path) -> None:
    _draw_digit(tmp_path / "light.png")
    _draw_digit(tmp_path / "transparent.png", mode="RGBA")
    transparent = digit_from_picture(tmp_path / "transparent.png")
    assert transparent[0, 0] == 0 and transparent.max() == 255
    # The same strokes give nearly the same digit either way.
    difference = np.abs(transparent.astype(int) - digit_from_picture(tmp_path / "light.png"))
    assert difference.mean() < 10


def test_already_mnist_like_pixels_keep_their_polarity() -> None:
    dark = np.zeros((40, 40))
    dark[10:30, 18:22] = 200.0
    digit = mnist_like(dark)
    assert digit[0, 0] == 0 and digit.max() == 255


def test_blank_picture_is_refused(tmp_path: Path) -> None:
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    with pytest.raises(MnistDataError, match=r"blank\.png: no digit found"):
        digit_from_picture(tmp_path / "blank.png")


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
    assert main(["predict", str(tmp_path / "digit.png")], clients=clients) == 1
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
    assert main(["predict", str(tmp_path / name)], clients=clients) == 1
    assert message in _one_error_line(capsys)


def test_wrongly_shaped_array_is_one_error_line(
    tmp_path: Path, clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "odd.npy", np.zeros((3, 27, 28)))
    assert main(["predict", str(tmp_path / "odd.npy")], clients=clients) == 1
    assert "odd.npy: expected images shaped (28, 28)" in _one_error_line(capsys)


def test_label_count_must_match(
    tmp_path: Path, clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "d.npy", digits([1, 2, 3]))
    np.save(tmp_path / "l.npy", np.array([1, 2]))
    argv = ["predict", str(tmp_path / "d.npy"), "--labels", str(tmp_path / "l.npy")]
    assert main(argv, clients=clients) == 1
    assert "3 images but 2 labels" in _one_error_line(capsys)


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
