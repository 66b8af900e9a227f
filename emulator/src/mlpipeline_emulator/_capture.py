"""Data capture of InvokeEndpoint: what SageMaker writes to S3 for an endpoint configuration with
a ``DataCaptureConfig``.

After "Capture data from real-time endpoint"
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html) and
the DataCaptureConfig API reference
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataCaptureConfig.html):

- Files land under ``<DestinationS3Uri>/<endpoint-name>/<variant-name>/yyyy/mm/dd/hh/`` (UTC
  hour of the inference), named ``<mm>-<ss>-<mmm>-<uuid>.jsonl``, encrypted with ``KmsKeyId``
  (S3 server-side encryption) when it is set.
- Each line is one record: ``captureData.endpointInput`` / ``endpointOutput`` with
  ``observedContentType``, ``mode`` (``INPUT`` / ``OUTPUT``), ``data`` and ``encoding``;
  ``eventMetadata`` with ``eventId`` (and ``inferenceId`` when the request had one) and
  ``inferenceTime``; ``eventVersion`` ``"0"``.
- A body whose content type is one of ``CaptureContentTypeHeader.CsvContentTypes`` is kept as
  text with encoding ``CSV``, one of ``JsonContentTypes`` as ``JSON``; anything else ("If no
  headers are specified SageMaker AI will by default base64 encode") as ``BASE64``.
- ``InitialSamplingPercentage`` of the requests are captured (0: none, 100: all);
  ``CaptureOptions`` choose the request (``Input``), the response (``Output``) or both.

Records are written at once, one file per captured request (SageMaker buffers a few minutes of
records per file; readers list the prefix either way).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import random
import uuid
from collections.abc import Mapping
from typing import Any, Final

from ._process_s3 import moto_endpoint_url, s3_client, split_uri

_MODES: Final = {"Input": ("endpointInput", "INPUT"), "Output": ("endpointOutput", "OUTPUT")}


def _encoding(content_type: str | None, header: Mapping[str, Any]) -> str:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media and media in {t.lower() for t in header.get("CsvContentTypes") or ()}:
        return "CSV"
    if media and media in {t.lower() for t in header.get("JsonContentTypes") or ()}:
        return "JSON"
    return "BASE64"


def _payload(
    body: bytes, content_type: str | None, mode: str, header: Mapping[str, Any]
) -> dict[str, str]:
    encoding = _encoding(content_type, header)
    data = body.decode("utf-8", "replace") if encoding != "BASE64" else ""
    if encoding == "BASE64":
        data = base64.b64encode(body).decode("ascii")
    return {
        "observedContentType": content_type or "",
        "mode": mode,
        "data": data,
        "encoding": encoding,
    }


def _modes(config: Mapping[str, Any]) -> set[str]:
    modes: set[str] = set()
    for option in config.get("CaptureOptions") or ():
        mode = option.get("CaptureMode")
        modes.update(("Input", "Output") if mode == "InputAndOutput" else (mode,))
    return modes


def capture_record(
    config: Mapping[str, Any],
    *,
    request: tuple[bytes, str | None],
    response: tuple[bytes, str | None],
    inference_id: str | None,
    at: datetime.datetime,
) -> dict[str, Any]:
    """One JSON Lines record of an invocation under ``config`` (a DataCaptureConfig)."""
    header = config.get("CaptureContentTypeHeader") or {}
    captured: dict[str, Any] = {}
    for option, (body, content_type) in (("Input", request), ("Output", response)):
        if option in _modes(config):
            key, mode = _MODES[option]
            captured[key] = _payload(body, content_type, mode, header)
    metadata = {"eventId": str(uuid.uuid4())}
    if inference_id:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"captureData": captured, "eventMetadata": metadata, "eventVersion": "0"}


def capture_key(prefix: str, endpoint: str, variant: str, at: datetime.datetime) -> str:
    """Where a capture file of ``at`` goes under the key ``prefix`` of DestinationS3Uri."""
    folder = "/".join(p for p in (prefix.strip("/"), endpoint, variant) if p)
    name = f"{at:%M-%S}-{at.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
    return f"{folder}/{at:%Y/%m/%d/%H}/{name}"


def sampled(config: Mapping[str, Any]) -> bool:
    """Whether this request is one of the ``InitialSamplingPercentage`` captured."""
    if config.get("EnableCapture") is False:
        return False
    percentage = int(config.get("InitialSamplingPercentage") or 0)
    return percentage >= 100 or (percentage > 0 and random.uniform(0, 100) < percentage)


def write_capture(
    config: Mapping[str, Any],
    *,
    endpoint: str,
    variant: str,
    region: str,
    account: str,
    request: tuple[bytes, str | None],
    response: tuple[bytes, str | None],
    inference_id: str | None = None,
) -> str | None:
    """Write the capture file of one invocation when it is sampled; its key, or None."""
    if not config or not sampled(config):
        return None
    at = datetime.datetime.now(datetime.UTC)
    record = capture_record(
        config, request=request, response=response, inference_id=inference_id, at=at
    )
    bucket, prefix = split_uri(str(config["DestinationS3Uri"]))
    key = capture_key(prefix, endpoint, variant, at)
    encryption: dict[str, str] = {}
    if config.get("KmsKeyId"):
        encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": str(config["KmsKeyId"])}
    client = s3_client(region, moto_endpoint_url(), account)
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=(json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8"),
        ContentType="application/jsonl",
        **encryption,
    )
    return key


def after_invocation(
    backend: Any,
    config_name: str,
    *,
    endpoint: str,
    request: tuple[bytes, str | None],
    response: tuple[bytes, str | None],
    inference_id: str | None,
) -> None:
    """Capture one answered invocation of ``endpoint`` (serving ``config_name``) as its
    endpoint configuration says. A capture that fails does not fail the invocation."""
    config = backend.endpoint_configs.get(config_name)
    capture = getattr(config, "data_capture_config", None) or {}
    if not capture:
        return
    (variant, *_) = config.production_variants
    with contextlib.suppress(Exception):
        write_capture(
            capture,
            endpoint=endpoint,
            variant=str(variant["VariantName"]),
            region=backend.region_name,
            account=backend.account_id,
            request=request,
            response=response,
            inference_id=inference_id,
        )


def summary(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """DescribeEndpoint's ``DataCaptureConfig`` for an endpoint serving an endpoint configuration
    whose DataCaptureConfig is ``config``: botocore's ``DataCaptureConfigSummary``
    (``EnableCapture``, ``CaptureStatus`` Started | Stopped, ``CurrentSamplingPercentage``,
    ``DestinationS3Uri``, ``KmsKeyId``, "The currently active data capture configuration used by
    your Endpoint"); None, and so left out, for a configuration without capture."""
    if not config:
        return None
    enabled = config.get("EnableCapture", True) is not False
    described: dict[str, Any] = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(config.get("InitialSamplingPercentage") or 0),
        "DestinationS3Uri": str(config.get("DestinationS3Uri", "")),
    }
    if config.get("KmsKeyId"):
        described["KmsKeyId"] = str(config["KmsKeyId"])
    return described


def described(backend: Any, config_name: str) -> Any:
    """:func:`summary` of the endpoint configuration ``config_name`` (typed ``Any``: moto's
    ``FakeEndpoint.data_capture_config`` is declared a dict, and None leaves it out)."""
    config = backend.endpoint_configs.get(config_name)
    return summary(getattr(config, "data_capture_config", None))
