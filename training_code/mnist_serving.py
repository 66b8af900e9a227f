"""Serving: the four handlers the SageMaker PyTorch inference toolkit calls.

The toolkit imports the entry point (``mnist.py``, which re-exports these handlers) from
``/opt/ml/model/code``, where training copied this module beside it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mnist_model import IMAGE_SIDE, MODEL_FILE, Net, choose_device, normalize_pixels

JSON_CONTENT_TYPE = "application/json"
NPY_CONTENT_TYPE = "application/x-npy"


class PayloadError(ValueError):
    """An inference request or accept type that the endpoint cannot serve."""


# --------------------------------------------------------------------------------------------
# Serving: the SageMaker PyTorch inference toolkit calls these four functions.
# The toolkit counts each handler's parameters to decide whether to pass a context, so their
# signatures must stay exactly as they are.
# --------------------------------------------------------------------------------------------

_SHAPES_EXPECTED = (
    "one image shaped (28, 28) or (784,), or a batch shaped (N, 28, 28), (N, 784) or (N, 1, 28, 28)"
)


def model_fn(model_dir: str) -> nn.Module:
    """Load ``model.pth`` from ``model_dir`` onto the GPU if there is one, else the CPU."""
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: model_fn loads the {MODEL_FILE} training writes"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = Net()
    model.load_state_dict(state)
    return model.to(choose_device(torch.cuda.device_count())).eval()


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _check_numbers(data: list[Any]) -> None:
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            raise PayloadError(
                f"pixel values must be numbers between 0 and 255, found {json.dumps(item)[:40]}"
            )


def _json_array(body: str | bytes | bytearray) -> np.ndarray:
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError(f"application/json body is not UTF-8 text: {exc}") from None
    if not body.strip():
        raise PayloadError(f"the request body is empty; expected a JSON array: {_SHAPES_EXPECTED}")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"the request body is not valid JSON ({exc})") from None
    except RecursionError:
        raise PayloadError(
            f"the JSON arrays are nested too deeply; send {_SHAPES_EXPECTED}"
        ) from None
    if not isinstance(data, list):
        raise PayloadError(
            f"expected a JSON array, got a JSON {type(data).__name__}; send {_SHAPES_EXPECTED}"
        )
    _check_numbers(data)
    try:
        return np.array(data, dtype=np.float64)
    except OverflowError:
        raise PayloadError("pixel values must be numbers between 0 and 255") from None
    except ValueError:  # rows of different lengths, or more dimensions than numpy allows
        raise PayloadError(
            f"the JSON arrays are ragged or nested too deeply; expected {_SHAPES_EXPECTED}"
        ) from None


def _npy_array(body: str | bytes | bytearray) -> np.ndarray:
    if isinstance(body, str):
        raise PayloadError(
            "an application/x-npy body must be the bytes numpy.save writes, not text"
        )
    if not body:
        raise PayloadError(f"the request body is empty; expected a .npy array: {_SHAPES_EXPECTED}")
    try:
        array = np.load(io.BytesIO(bytes(body)), allow_pickle=False)
    except Exception as exc:
        raise PayloadError(f"the body is not an array written by numpy.save ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise PayloadError("the body is a .npz archive; send one array written by numpy.save")
    if array.dtype.kind not in "iuf":
        raise PayloadError(
            f"expected a numeric array of pixel values 0-255, got dtype {array.dtype}"
        )
    return array.astype(np.float64)


def _as_batch(array: np.ndarray) -> np.ndarray:
    shape, side = array.shape, IMAGE_SIDE
    if shape in ((side, side), (side * side,)):
        return array.reshape(1, side, side)
    batch_shapes = ((side * side,), (side, side), (1, side, side))
    if array.ndim >= 2 and shape[1:] in batch_shapes:
        if shape[0] == 0:
            raise PayloadError(f"the batch holds no images; expected {_SHAPES_EXPECTED}")
        return array.reshape(-1, side, side)
    raise PayloadError(f"expected {_SHAPES_EXPECTED}; got an array shaped {shape}")


def input_fn(
    request_body: str | bytes | bytearray, request_content_type: str | None
) -> torch.Tensor:
    """Decode a JSON or NPY request of MNIST images (pixels 0-255) into normalised model input."""
    media_type = _media_type(request_content_type or "")
    if media_type == JSON_CONTENT_TYPE:
        array = _json_array(request_body)
    elif media_type == NPY_CONTENT_TYPE:
        array = _npy_array(request_body)
    else:
        raise PayloadError(
            f"unsupported content type {request_content_type!r}: send {JSON_CONTENT_TYPE} "
            f"or {NPY_CONTENT_TYPE}"
        )
    batch = _as_batch(array)
    if not np.isfinite(batch).all():
        raise PayloadError("pixel values must be finite numbers between 0 and 255")
    low, high = float(batch.min()), float(batch.max())
    if low < 0 or high > 255:
        raise PayloadError(
            f"pixel values must be between 0 and 255 as in the MNIST files; got {low:g} to {high:g}"
        )
    return normalize_pixels(batch)


def predict_fn(input_data: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """Class probabilities, shaped (N, 10), on the CPU."""
    expected = (1, IMAGE_SIDE, IMAGE_SIDE)
    if not isinstance(input_data, torch.Tensor) or input_data.shape[1:] != expected:
        raise PayloadError("predict_fn expects the (N, 1, 28, 28) tensor that input_fn returns")
    device = next(model.parameters()).device
    model.eval()
    with torch.inference_mode():
        return model(input_data.to(device)).exp().cpu()


def output_fn(prediction: torch.Tensor, accept: str | None) -> bytes:
    """Serialise the probabilities as ``{"predictions": [{"label", "probabilities"}, ...]}``."""
    offered = [_media_type(part) for part in (accept or "").split(",") if part.strip()]
    if offered and not {JSON_CONTENT_TYPE, "application/*", "*/*"} & set(offered):
        raise PayloadError(
            f"unsupported accept type {accept!r}: this endpoint responds with {JSON_CONTENT_TYPE}"
        )
    probabilities = prediction.detach().cpu().double()
    predictions = [
        {"label": int(row.argmax()), "probabilities": row.tolist()} for row in probabilities
    ]
    return json.dumps({"predictions": predictions}).encode("utf-8")
