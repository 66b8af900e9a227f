"""Serving: the four handlers the SageMaker PyTorch inference toolkit calls.

The toolkit imports the entry point (``mnist.py``, which re-exports these handlers) from
``/opt/ml/model/code``, where training copied this module beside it.
"""

from __future__ import annotations

import functools
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


def _not_numbers(data: list[Any]) -> PayloadError:
    """The refusal of ``data`` (nested lists), naming its first value that is not a JSON number.
    A walk in Python over every value: only for a request already refused."""
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            return PayloadError(
                f"pixel values must be numbers between 0 and 255, found {json.dumps(item)[:40]}"
            )
    return PayloadError("pixel values must be numbers between 0 and 255")


_WHITESPACE = np.frombuffer(b" \t\n\r", dtype=np.uint8)  # JSON's whitespace (RFC 8259)
_PUNCTUATION = np.frombuffer(b"[],", dtype=np.uint8)
_ZERO, _NINE, _OPEN = ord("0"), ord("9"), ord("[")
_MAX_DIMS = 32  # the fewest dimensions a numpy array may have at most (numpy 1; numpy 2: 64)


@functools.lru_cache(maxsize=16)
def _skeleton(shape: tuple[int, ...]) -> bytes:
    """The JSON of an array of ``shape`` without whitespace, every number written ``0``."""
    text = b"0"
    for size in reversed(shape):
        text = b"[" + b",".join([text] * size) + b"]"
    return text


def _skeleton_shape(skeleton: bytes, ndim: int) -> tuple[int, ...] | None:
    """The shape a regular array written as ``skeleton`` has, read off its first elements."""
    shape: list[int] = []
    inner = b"0"
    for depth in range(ndim - 1, -1, -1):  # innermost first
        closing = skeleton.find(b"]" * (ndim - depth))
        length = closing + (ndim - depth) - depth  # of the first array at this depth
        count, rest = divmod(length - 1, len(inner) + 1)
        if closing < 0 or rest or count < 1:
            return None
        shape.insert(0, count)
        inner = _skeleton(tuple(shape))
    return tuple(shape)


def _whole_numbers(raw: bytes) -> np.ndarray | None:
    """Nested JSON arrays of whole numbers 0-999, read by numpy without json.loads (what
    ``mlpipeline predict`` sends, and most clients); ``None`` for any other text, which
    json.loads then reads (and refuses with its reason, if it is not valid JSON)."""
    chars = np.frombuffer(raw, dtype=np.uint8)
    positions = np.flatnonzero(~np.isin(chars, _WHITESPACE))
    chars = chars[positions]
    digit = (chars >= _ZERO) & (chars <= _NINE)
    if not chars.size or chars[0] != _OPEN or not (digit | np.isin(chars, _PUNCTUATION)).all():
        return None
    continued = np.zeros_like(digit)
    continued[1:] = digit[1:] & digit[:-1]
    if (continued[1:] & (np.diff(positions) > 1)).any():  # "1 2" is no JSON number
        return None
    starts = np.flatnonzero(digit & ~continued)
    digits = np.flatnonzero(digit)
    number = np.cumsum(digit & ~continued)[digits] - 1
    lengths = np.bincount(number, minlength=len(starts))
    if not len(starts) or lengths.max() > 3 or ((chars[starts] == _ZERO) & (lengths > 1)).any():
        return None  # nothing, more than 999, or a leading zero (no JSON)
    place = 10 ** (lengths[number] - 1 - (digits - starts[number]))
    values = np.bincount(number, weights=(chars[digits] - _ZERO) * place, minlength=len(starts))
    collapsed = chars[~continued]
    collapsed = np.where(digit[~continued], np.uint8(_ZERO), collapsed)
    skeleton = collapsed.tobytes()
    ndim = int(np.argmax(collapsed != _OPEN))
    if ndim > _MAX_DIMS:
        return None
    shape = _skeleton_shape(skeleton, ndim)
    if shape is None or skeleton != _skeleton(shape):
        return None
    return values.reshape(shape)


def _json_text(body: str | bytes | bytearray) -> str:
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError(f"application/json body is not UTF-8 text: {exc}") from None
    if not body.strip():
        raise PayloadError(f"the request body is empty; expected a JSON array: {_SHAPES_EXPECTED}")
    return body


def _json_array(body: str | bytes | bytearray) -> np.ndarray:
    text = _json_text(body)
    whole = _whole_numbers(text.encode("utf-8"))
    if whole is not None:
        return whole
    try:
        data = json.loads(text)
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
    # One conversion in C checks every value at once: numbers alone give an integer or float
    # array; strings, nulls, objects or integers too large for 64 bits give another dtype.
    try:
        array = np.array(data)
    except OverflowError:
        raise _not_numbers(data) from None
    except ValueError:  # rows of different lengths, or more dimensions than numpy allows
        raise PayloadError(
            f"the JSON arrays are ragged or nested too deeply; expected {_SHAPES_EXPECTED}"
        ) from None
    # numpy turns booleans among numbers into 0 and 1; with numbers alone in the array, any
    # "true" or "false" in the text is such a literal.
    if array.dtype.kind not in "iuf" or "true" in text or "false" in text:
        raise _not_numbers(data)
    return array


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
    return array


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
    batch = _as_batch(array)  # integers or floats as sent: checked and converted once
    if batch.dtype.kind == "f" and not np.isfinite(batch).all():
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
    if model.training:
        model.eval()
    with torch.inference_mode():
        return model(input_data.to(device)).exp().cpu()


@functools.lru_cache(maxsize=16)
def _response_format(rows: int, classes: int) -> str:
    """The response of ``rows`` predictions as one %-format: a label and its probabilities each."""
    item = '{"label": %d, "probabilities": [' + ", ".join(["%#.9g"] * classes) + "]}"
    return '{"predictions": [' + ", ".join([item] * rows) + "]}"


def output_fn(prediction: torch.Tensor, accept: str | None) -> bytes:
    """Serialise the probabilities as ``{"predictions": [{"label", "probabilities"}, ...]}``."""
    offered = [_media_type(part) for part in (accept or "").split(",") if part.strip()]
    if offered and not {JSON_CONTENT_TYPE, "application/*", "*/*"} & set(offered):
        raise PayloadError(
            f"unsupported accept type {accept!r}: this endpoint responds with {JSON_CONTENT_TYPE}"
        )
    probabilities = prediction.detach().cpu()
    labels = probabilities.argmax(dim=1)  # the first of equal maxima, as row.argmax()
    if probabilities.dtype == torch.float32 and probabilities.ndim == 2:
        # The model computes in float32: 9 significant digits give back each value exactly, and
        # are twice as fast to format as json's shortest repr of the value widened to a double.
        # "#" keeps the decimal point, so that every probability is a JSON float (1.0, 0.0).
        # One flat list (a label, then its probabilities, per row) and one format: no list per
        # row for the garbage collector to chase.
        table = torch.cat([labels.unsqueeze(1).to(torch.float32), probabilities], dim=1)
        text = _response_format(*probabilities.shape) % tuple(table.flatten().tolist())
        if "n" not in text.replace('"predictions"', ""):  # no nan or inf: JSON has neither
            return text.encode()
    predictions = [
        {"label": label, "probabilities": row}
        for label, row in zip(labels.tolist(), probabilities.double().tolist(), strict=True)
    ]
    return json.dumps({"predictions": predictions}).encode("utf-8")
