"""Ask the pipeline's endpoint for predictions, in batches, and check what it answers."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ._aws import CliError, error_code, error_message, is_client_error

CONTENT_TYPES: Final = {"json": "application/json", "npy": "application/x-npy"}
#: Endpoint states in which it answers requests.
_SERVING: Final = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack"})
_CLASSES: Final = 10


@dataclass(frozen=True)
class Prediction:
    label: int
    probabilities: list[float]


def encode(batch: npt.NDArray[np.float64], content_type: str) -> bytes:
    """A request body of images shaped (N, 28, 28), as the serving script's input_fn reads."""
    whole = bool(np.all(batch == np.round(batch)))
    if content_type == CONTENT_TYPES["npy"]:
        buffer = io.BytesIO()
        np.save(buffer, batch.astype(np.uint8 if whole else np.float32), allow_pickle=False)
        return buffer.getvalue()
    values = batch.astype(np.int64).tolist() if whole else batch.tolist()
    return json.dumps(values, separators=(",", ":")).encode("utf-8")


def decode(body: bytes, expected: int, endpoint: str) -> list[Prediction]:
    """``{"predictions": [{"label": int, "probabilities": [10 numbers]}, ...]}``, checked."""
    try:
        document = json.loads(body)
    except ValueError:
        raise CliError(
            f"endpoint {endpoint} answered with something that is not JSON: {body[:80]!r}"
        ) from None
    predictions = document.get("predictions") if isinstance(document, dict) else None
    if not isinstance(predictions, list) or len(predictions) != expected:
        raise CliError(
            f'endpoint {endpoint} did not answer {{"predictions": [...]}} with {expected} '
            f"entries: {json.dumps(document)[:120]}"
        )
    result = []
    for item in predictions:
        label = item.get("label") if isinstance(item, dict) else None
        probabilities = item.get("probabilities") if isinstance(item, dict) else None
        if (
            not isinstance(label, int)
            or not 0 <= label < _CLASSES
            or not isinstance(probabilities, list)
            or len(probabilities) != _CLASSES
            or not all(isinstance(p, (int, float)) for p in probabilities)
        ):
            raise CliError(
                f"endpoint {endpoint} answered a prediction that is not a label 0-9 with 10 "
                f"probabilities: {json.dumps(item)[:120]}"
            )
        result.append(Prediction(label, [float(p) for p in probabilities]))
    return result


def check_endpoint(sagemaker: Any, endpoint: str) -> None:
    """Refuse, with a reason, an endpoint that does not exist or does not serve (yet)."""
    try:
        description = sagemaker.describe_endpoint(EndpointName=endpoint)
    except Exception as exc:
        if is_client_error(exc) and error_code(exc) in {"AccessDenied", "AccessDeniedException"}:
            return  # may invoke without describing; let the invocation tell
        _raise_if_missing(exc, endpoint)
        raise
    status = description.get("EndpointStatus")
    if status in _SERVING:
        return
    if status == "Creating":
        raise CliError(
            f"endpoint {endpoint} is still being created; it serves once InService "
            "(follow the run with: mlpipeline watch --latest)"
        )
    reason = description.get("FailureReason")
    raise CliError(f"endpoint {endpoint} is {status}" + (f": {reason}" if reason else ""))


def _raise_if_missing(exc: Exception, endpoint: str) -> None:
    message = error_message(exc)
    if (
        is_client_error(exc)
        and error_code(exc) in {"ValidationException", "ValidationError"}
        and ("Could not find endpoint" in message or "not found" in message)
    ):
        raise CliError(
            f"endpoint {endpoint} does not exist yet: a successful run creates it "
            "(mlpipeline run --wait), or name another with --endpoint-name"
        ) from exc


def batches(count: int, size: int) -> Iterator[slice]:
    for start in range(0, count, size):
        yield slice(start, min(start + size, count))


def predict(
    runtime: Any,
    endpoint: str,
    images: npt.NDArray[np.float64],
    *,
    content_type: str = CONTENT_TYPES["json"],
    batch_size: int = 100,
) -> list[Prediction]:
    """Predictions for ``images`` (N, 28, 28), ``batch_size`` images per InvokeEndpoint call."""
    predictions: list[Prediction] = []
    for part in batches(len(images), batch_size):
        batch = images[part]
        try:
            response = runtime.invoke_endpoint(
                EndpointName=endpoint,
                ContentType=content_type,
                Accept="application/json",
                Body=encode(batch, content_type),
            )
        except Exception as exc:
            _raise_if_missing(exc, endpoint)
            if is_client_error(exc) and error_code(exc) == "ModelError":
                raise CliError(
                    f"the model behind endpoint {endpoint} refused the request: "
                    f"{' '.join(error_message(exc).split())}"
                ) from exc
            raise
        body = response["Body"].read()
        predictions.extend(decode(body, len(batch), endpoint))
    return predictions
