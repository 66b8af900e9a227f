"""The serving handlers, as the SageMaker PyTorch inference toolkit calls them.

The toolkit (sagemaker_inference.transformer.Transformer) imports the script named by
SAGEMAKER_PROGRAM from /opt/ml/model/code, counts each handler's parameters to decide whether to
pass a context, decodes JSON bodies to ``str`` (other types stay ``bytes``) and replaces a missing
or ``*/*`` Accept header with SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT (default application/json).
"""

from __future__ import annotations

import inspect
import io
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from scripts.mnist_data import MnistSplits

from .helpers import Run

# Slow: loads the script's model with torch; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def model(mnist: ModuleType, one_epoch_run: Run) -> torch.nn.Module:
    """The model the one-epoch training run saved, loaded by model_fn."""
    one_epoch_run.assert_succeeded()
    return mnist.model_fn(str(one_epoch_run.model_dir))  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def digits(small_splits: MnistSplits) -> tuple[np.ndarray, np.ndarray]:
    """Eight test digits as the IDX files hold them (uint8, 28x28) and their labels."""
    return small_splits.test_images[:8], small_splits.test_labels[:8]


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _serve(
    mnist: ModuleType, model: torch.nn.Module, body: Any, content_type: str, accept: str | None
) -> dict[str, Any]:
    data = mnist.input_fn(body, content_type)
    prediction = mnist.predict_fn(data, model)
    response = mnist.output_fn(prediction, accept)
    assert isinstance(response, bytes)
    return json.loads(response)  # type: ignore[no-any-return]


def _assert_schema(response: dict[str, Any], count: int) -> list[int]:
    assert set(response) == {"predictions"}
    predictions = response["predictions"]
    assert len(predictions) == count
    for prediction in predictions:
        assert set(prediction) == {"label", "probabilities"}
        probabilities = prediction["probabilities"]
        assert len(probabilities) == 10 and all(isinstance(p, float) for p in probabilities)
        assert all(0 <= p <= 1 for p in probabilities)
        assert sum(probabilities) == pytest.approx(1, abs=1e-5)
        assert isinstance(prediction["label"], int)
        assert prediction["label"] == max(range(10), key=probabilities.__getitem__)
    return [prediction["label"] for prediction in predictions]


# --- the toolkit's calling convention ----------------------------------------------------------


def test_handlers_take_the_parameters_the_toolkit_passes(mnist: ModuleType) -> None:
    counts = {
        name: len(inspect.signature(getattr(mnist, name)).parameters)
        for name in ("model_fn", "input_fn", "predict_fn", "output_fn")
    }
    assert counts == {"model_fn": 1, "input_fn": 2, "predict_fn": 2, "output_fn": 2}
    assert not hasattr(mnist, "transform_fn")  # it would conflict with the other three


def test_model_fn_returns_the_network_in_eval_mode(
    model: torch.nn.Module, mnist: ModuleType
) -> None:
    assert isinstance(model, mnist.Net)
    assert not model.training


def test_model_fn_maps_tensors_saved_on_a_gpu_to_the_cpu(
    mnist: ModuleType, one_epoch_run: Run, tmp_path: Path
) -> None:
    state = torch.load(one_epoch_run.model_dir / "model.pth", weights_only=True)
    _save_tagged_as_cuda(state, tmp_path / "model.pth")
    with pytest.raises(RuntimeError, match="CUDA"):  # as saved on a GPU, without map_location
        torch.load(tmp_path / "model.pth", weights_only=True)
    loaded = mnist.model_fn(str(tmp_path))
    assert all(p.device.type == "cpu" for p in loaded.parameters())
    assert torch.equal(loaded.fc2.weight, state["fc2.weight"])


def _save_tagged_as_cuda(state: dict[str, torch.Tensor], path: Path) -> None:
    """Save ``state`` as a GPU training job would: every storage tagged with device cuda:0."""
    registry = torch.serialization._package_registry  # no CUDA here to make real GPU tensors
    entry = (0, lambda storage: "cuda:0" if storage.device.type == "cpu" else None, lambda *_: None)
    registry.insert(0, entry)
    try:
        torch.save(state, path)
    finally:
        registry.remove(entry)


def test_model_fn_names_a_missing_model_file(mnist: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(f"{tmp_path / 'model.pth'} not found")):
        mnist.model_fn(str(tmp_path))


# --- round trips ---------------------------------------------------------------------------------


def test_input_fn_normalises_exactly_as_training_does(
    mnist: ModuleType, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    images, labels = digits
    served = mnist.input_fn(json.dumps(images[0].tolist()), "application/json")
    trained_on = mnist.Dataset.from_arrays(images[:1], labels[:1]).images
    expected = (torch.from_numpy(images[:1].astype(np.float32)) / 255 - 0.1307) / 0.3081
    assert served.dtype == torch.float32 and served.shape == (1, 1, 28, 28)
    assert torch.equal(served, trained_on)
    assert torch.allclose(served, expected.reshape(1, 1, 28, 28))


@pytest.mark.parametrize("shape", [(28, 28), (784,)], ids=["nested-28x28", "flat-784"])
def test_one_json_image_gets_one_prediction(
    mnist: ModuleType,
    model: torch.nn.Module,
    digits: tuple[np.ndarray, np.ndarray],
    shape: tuple[int, ...],
) -> None:
    image = digits[0][0].reshape(shape)
    response = _serve(
        mnist, model, json.dumps(image.tolist()), "application/json", "application/json"
    )
    _assert_schema(response, 1)


@pytest.mark.parametrize("shape", [(8, 28, 28), (8, 784), (8, 1, 28, 28)])
def test_a_json_list_of_images_gets_a_prediction_each(
    mnist: ModuleType,
    model: torch.nn.Module,
    digits: tuple[np.ndarray, np.ndarray],
    shape: tuple[int, ...],
) -> None:
    images, labels = digits
    body = json.dumps(images.reshape(shape).tolist()).encode()  # bytes, as with a charset
    response = _serve(mnist, model, body, "application/json; charset=utf-8", "application/json")
    predicted = _assert_schema(response, 8)
    assert sum(p == int(y) for p, y in zip(predicted, labels, strict=True)) >= 4


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((28, 28), np.uint8),
        ((784,), np.float32),
        ((8, 28, 28), np.uint8),
        ((8, 784), np.int64),
        ((8, 1, 28, 28), np.float64),
    ],
)
def test_npy_arrays_get_a_prediction_per_image(
    mnist: ModuleType,
    model: torch.nn.Module,
    digits: tuple[np.ndarray, np.ndarray],
    shape: tuple[int, ...],
    dtype: type,
) -> None:
    images = digits[0][: int(np.prod(shape)) // 784].reshape(shape).astype(dtype)
    response = _serve(mnist, model, _npy(images), "application/x-npy", "application/json")
    _assert_schema(response, int(np.prod(shape)) // 784)


def test_json_and_npy_requests_give_the_same_predictions(
    mnist: ModuleType, model: torch.nn.Module, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    images = digits[0]
    from_json = _serve(mnist, model, json.dumps(images.tolist()), "application/json", None)
    from_npy = _serve(mnist, model, _npy(images), "application/x-npy", None)
    assert from_json == from_npy


@pytest.mark.parametrize(
    "accept",
    [None, "", "*/*", "application/json", "text/html, application/json;q=0.9", "application/*"],
)
def test_accept_types_that_admit_json(
    mnist: ModuleType,
    model: torch.nn.Module,
    digits: tuple[np.ndarray, np.ndarray],
    accept: str | None,
) -> None:
    body = json.dumps(digits[0][0].tolist())
    _assert_schema(_serve(mnist, model, body, "application/json", accept), 1)


# --- bad requests: ValueError saying what was expected --------------------------------------------

SHAPES = (
    "one image shaped (28, 28) or (784,), or a batch shaped (N, 28, 28), (N, 784) or (N, 1, 28, 28)"
)
IMAGE = [[0] * 28] * 28


def _object_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


BAD_REQUESTS = [
    (
        "empty-json",
        "",
        "application/json",
        f"the request body is empty; expected a JSON array: {SHAPES}",
    ),
    ("blank-json", b"  \n", "application/json", "the request body is empty"),
    ("empty-npy", b"", "application/x-npy", "the request body is empty; expected a .npy array"),
    ("not-json", "[1, 2", "application/json", "the request body is not valid JSON"),
    ("not-utf8", b"\xff\xfe[", "application/json", "application/json body is not UTF-8 text"),
    (
        "json-object",
        json.dumps({"instances": IMAGE}),
        "application/json",
        "expected a JSON array, got a JSON dict",
    ),
    ("json-number", "7", "application/json", "expected a JSON array, got a JSON int"),
    (
        "wrong-shape",
        json.dumps([[1, 2], [3, 4]]),
        "application/json",
        f"expected {SHAPES}; got an array shaped (2, 2)",
    ),
    (
        "wrong-width",
        json.dumps([[0] * 27] * 28),
        "application/json",
        "got an array shaped (28, 27)",
    ),
    ("flat-783", json.dumps([0] * 783), "application/json", "got an array shaped (783,)"),
    ("empty-list", "[]", "application/json", "got an array shaped (0,)"),
    (
        "ragged",
        json.dumps([[0] * 28] * 27 + [[0] * 27]),
        "application/json",
        "the JSON arrays are ragged or nested too deeply",
    ),
    (
        "too-deep-for-numpy",
        "[" * 100 + "0" + "]" * 100,
        "application/json",
        "the JSON arrays are ragged or nested too deeply",
    ),
    (
        "too-deep-for-json",
        "[" * 100_000 + "]" * 100_000,
        "application/json",
        "the JSON arrays are nested too deeply",
    ),
    (
        "strings",
        json.dumps([["0"] * 28] * 28),
        "application/json",
        'pixel values must be numbers between 0 and 255, found "0"',
    ),
    (
        "booleans",
        json.dumps([[True] * 28] * 28),
        "application/json",
        "must be numbers between 0 and 255, found true",
    ),
    ("nulls", json.dumps([[None] * 28] * 28), "application/json", "found null"),
    (
        "above-255",
        json.dumps([[256] * 28] * 28),
        "application/json",
        "pixel values must be between 0 and 255 as in the MNIST files; got 256 to 256",
    ),
    ("negative", json.dumps([[-1] + [0] * 27] * 28), "application/json", "got -1 to 0"),
    (
        "nan",
        json.dumps([[float("nan")] * 28] * 28),
        "application/json",
        "pixel values must be finite numbers",
    ),
    (
        "huge-int",
        json.dumps([[10**400] * 28] * 28),
        "application/json",
        "pixel values must be numbers between 0 and 255",
    ),
    (
        "npy-garbage",
        b"\x93NUMPY garbage",
        "application/x-npy",
        "the body is not an array written by numpy.save",
    ),
    (
        "npy-text",
        "a string",
        "application/x-npy",
        "an application/x-npy body must be the bytes numpy.save writes",
    ),
    (
        "npy-objects",
        _object_npy(),
        "application/x-npy",
        "the body is not an array written by numpy.save",
    ),
    (
        "npy-strings",
        _npy(np.array([["1"] * 28] * 28)),
        "application/x-npy",
        "expected a numeric array of pixel values 0-255, got dtype <U1",
    ),
    ("npy-bool", _npy(np.zeros((28, 28), dtype=bool)), "application/x-npy", "got dtype bool"),
    (
        "npy-shape",
        _npy(np.zeros((2, 2, 28, 28))),
        "application/x-npy",
        "got an array shaped (2, 2, 28, 28)",
    ),
    ("npy-no-images", _npy(np.zeros((0, 784))), "application/x-npy", "the batch holds no images"),
    (
        "csv",
        "0,0,0",
        "text/csv",
        "unsupported content type 'text/csv': send application/json or application/x-npy",
    ),
    ("no-content-type", "[]", None, "unsupported content type None"),
]


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_requests_raise_a_value_error_saying_what_was_expected(
    mnist: ModuleType, body: Any, content_type: str | None, message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        mnist.input_fn(body, content_type)
    assert message in str(raised.value)
    assert isinstance(raised.value, mnist.PayloadError)


@pytest.mark.parametrize("accept", ["text/csv", "application/x-npy", "text/html, text/plain"])
def test_unsupported_accept_types_are_refused(
    mnist: ModuleType, model: torch.nn.Module, digits: tuple[np.ndarray, np.ndarray], accept: str
) -> None:
    prediction = mnist.predict_fn(
        mnist.input_fn(json.dumps(digits[0][0].tolist()), "application/json"), model
    )
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"unsupported accept type '{accept}': this endpoint responds with application/json"
        ),
    ):
        mnist.output_fn(prediction, accept)


def test_predict_fn_refuses_input_not_from_input_fn(
    mnist: ModuleType, model: torch.nn.Module
) -> None:
    with pytest.raises(
        ValueError, match=r"predict_fn expects the \(N, 1, 28, 28\) tensor that input_fn returns"
    ):
        mnist.predict_fn(torch.zeros(2, 784), model)
