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
#: Below this probability of its label, a classifier's answer is called unsure: the label is
#: then less likely than all the other classes together (``predict --min-confidence``).
DEFAULT_MIN_CONFIDENCE: Final = 0.5
#: Endpoint states in which it answers requests.
_SERVING: Final = frozenset({"InService", "Updating", "SystemUpdating", "RollingBack"})


@dataclass(frozen=True)
class Prediction:
    """One answer: ``label`` and ``probabilities`` when the model is a classifier."""

    answer: Any
    label: Any = None
    probabilities: list[float] | None = None

    @property
    def confidence(self) -> float | None:
        """The probability of the label, for a classifier's answer."""
        if self.probabilities is None:
            return None
        return float(self.probabilities[self.label])

    def is_unsure(self, min_confidence: float) -> bool:
        confidence = self.confidence
        return confidence is not None and confidence < min_confidence


def encode(batch: npt.NDArray[Any], content_type: str) -> bytes:
    """A request body of a batch: whole numbers as such (bytes when they fit), else floats."""
    whole = batch.dtype.kind in "biu" or bool(np.all(batch == np.round(batch)))
    if content_type == CONTENT_TYPES["npy"]:
        fits_bytes = whole and (batch.size == 0 or (batch.min() >= 0 and batch.max() <= 255))
        dtype = np.uint8 if fits_bytes else (np.int64 if whole else np.float32)
        buffer = io.BytesIO()
        np.save(buffer, batch.astype(dtype), allow_pickle=False)
        return buffer.getvalue()
    values = batch.astype(np.int64).tolist() if whole else batch.tolist()
    return json.dumps(values, separators=(",", ":")).encode("utf-8")


def _classified(item: Any) -> Prediction:
    """An answer, read as a label with probabilities when it is shaped so."""
    if not isinstance(item, dict):
        return Prediction(item)
    label, probabilities = item.get("label"), item.get("probabilities")
    if (
        isinstance(label, int)
        and not isinstance(label, bool)
        and isinstance(probabilities, list)
        and 0 <= label < len(probabilities)
        and all(isinstance(p, (int, float)) for p in probabilities)
    ):
        return Prediction(item, label, [float(p) for p in probabilities])
    return Prediction(item, label if isinstance(label, (int, str)) else None)


def decode(body: bytes, expected: int, endpoint: str) -> list[Prediction]:
    """``{"predictions": [one answer per input]}``, checked for the count."""
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
    return [_classified(item) for item in predictions]


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
    inputs: npt.NDArray[Any],
    *,
    content_type: str = CONTENT_TYPES["json"],
    batch_size: int = 100,
) -> list[Prediction]:
    """Predictions for ``inputs`` (batched along the first axis), ``batch_size`` per call."""
    predictions: list[Prediction] = []
    for part in batches(len(inputs), batch_size):
        batch = inputs[part]
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
