"""``capture list`` and ``capture show``: the requests and responses the endpoint captured.

Where they are comes from the endpoint itself: DescribeEndpoint names its configuration, whose
``DataCaptureConfig.DestinationS3Uri`` is the prefix SageMaker writes under, as
``<prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl``; each line a record with
``captureData.endpointInput`` / ``endpointOutput`` (``observedContentType``, ``mode``, ``data``,
``encoding``: ``CSV``, ``JSON`` or ``BASE64``) and ``eventMetadata`` (``eventId``,
``inferenceTime``) ("Capture data from real-time endpoint",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlparse

from mlpipeline_cdk.contract import outputs

from ._aws import CliError
from ._context import Context, print_json, table

_SINCE: Final = re.compile(r"(?P<amount>\d+)(?P<unit>[smhd])")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Capture files read at most per command (newest first).
_MAX_FILES: Final = 200


@dataclass(frozen=True)
class Captured:
    """One captured record and the file it came from."""

    record: dict[str, Any]
    key: str
    modified: datetime.datetime

    @property
    def event_id(self) -> str:
        return str(self.record.get("eventMetadata", {}).get("eventId", ""))

    @property
    def time(self) -> str:
        return str(self.record.get("eventMetadata", {}).get("inferenceTime", ""))


def parse_since(text: str) -> datetime.datetime:
    """``30m``, ``2h``, ``1d`` ago, or an ISO 8601 time (UTC unless it says otherwise)."""
    matched = _SINCE.fullmatch(text.strip())
    now = datetime.datetime.now(datetime.UTC)
    if matched:
        seconds = int(matched["amount"]) * _UNITS[matched["unit"]]
        return now - datetime.timedelta(seconds=seconds)
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 30m, 2h or 1d, or an ISO time, got {text!r}"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=datetime.UTC)


def _destination(context: Context, endpoint: str) -> tuple[str, str]:
    """The bucket and key prefix of ``endpoint``'s captured files; an error when it captures
    nothing."""
    described = context.call("sagemaker", "describe_endpoint", EndpointName=endpoint)
    config_name = described["EndpointConfigName"]
    config = context.call(
        "sagemaker", "describe_endpoint_config", EndpointConfigName=config_name
    ).get("DataCaptureConfig")
    if not config or config.get("EnableCapture") is False:
        raise CliError(
            f"capture is off for endpoint {endpoint}: its configuration {config_name} has no "
            "data capture (build the pipeline with capture=CaptureSettings(...) and run it)"
        )
    uri = urlparse(str(config["DestinationS3Uri"]))
    prefix = "/".join(p for p in (uri.path.strip("/"), endpoint) if p)
    return uri.netloc, f"{prefix}/"


def _files(
    context: Context, bucket: str, prefix: str, since: datetime.datetime | None
) -> list[Any]:
    s3 = context.client("s3")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents") or []:
            if item["Key"].endswith(".jsonl") and (since is None or item["LastModified"] >= since):
                found.append(item)
    # Keys sort by inference time within the variant (yyyy/mm/dd/hh/mm-ss-mmm-...).
    found.sort(key=lambda item: (item["LastModified"], item["Key"]), reverse=True)
    return found[:_MAX_FILES]


def _records(context: Context, bucket: str, files: list[Any]) -> Iterator[Captured]:
    s3 = context.client("s3")
    for item in files:
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8")
        lines = [line for line in body.splitlines() if line.strip()]
        for line in reversed(lines):
            yield Captured(json.loads(line), item["Key"], item["LastModified"])


def _captured(context: Context, endpoint: str) -> tuple[str, str, Iterator[Captured]]:
    bucket, prefix = _destination(context, endpoint)
    since = getattr(context.args, "since", None)
    files = _files(context, bucket, prefix, since)
    if not files:
        when = f" since {since:%Y-%m-%d %H:%M:%S} UTC" if since else ""
        raise CliError(
            f"nothing captured for endpoint {endpoint} under s3://{bucket}/{prefix}{when}"
        )
    return bucket, prefix, _records(context, bucket, files)


def _endpoint(context: Context) -> str:
    name = context.args.endpoint_name or context.pipeline.output(
        outputs.ENDPOINT_NAME, "--endpoint-name"
    )
    return str(name)


def cmd_capture_list(context: Context) -> int:
    endpoint = _endpoint(context)
    bucket, _, records = _captured(context, endpoint)
    shown = [c for _, c in zip(range(context.args.limit), records, strict=False)]
    if context.args.json:
        print_json([_summary(c, bucket) for c in shown])
        return 0
    rows = [["TIME", "EVENT ID", "REQUEST", "RESPONSE"]]
    for captured in shown:
        data = captured.record.get("captureData", {})
        rows.append(
            [
                captured.time,
                captured.event_id,
                _kind(data.get("endpointInput")),
                _kind(data.get("endpointOutput")),
            ]
        )
    print(table(rows))
    return 0


def _kind(payload: dict[str, Any] | None) -> str:
    if not payload:
        return "-"
    return f"{payload.get('observedContentType') or '?'} ({payload.get('encoding')})"


def _summary(captured: Captured, bucket: str) -> dict[str, Any]:
    return {
        "eventId": captured.event_id,
        "inferenceTime": captured.time,
        "file": f"s3://{bucket}/{captured.key}",
        "request": _kind(captured.record.get("captureData", {}).get("endpointInput")),
        "response": _kind(captured.record.get("captureData", {}).get("endpointOutput")),
    }


def cmd_capture_show(context: Context) -> int:
    args = context.args
    if not args.event_id and not args.latest:
        raise CliError("name a record: capture show EVENT_ID, or capture show --latest")
    endpoint = _endpoint(context)
    bucket, _, records = _captured(context, endpoint)
    wanted = next((c for c in records if args.latest or c.event_id == args.event_id), None)
    if wanted is None:
        raise CliError(
            f"no captured record {args.event_id} among the newest {_MAX_FILES} capture files of "
            f"endpoint {endpoint} (mlpipeline capture list shows them)"
        )
    data = wanted.record.get("captureData", {})
    decoded = {
        part: decode_payload(data[key])
        for part, key in (("request", "endpointInput"), ("response", "endpointOutput"))
        if key in data
    }
    if args.json:
        print_json({**_summary(wanted, bucket), **decoded})
        return 0
    print(f"event {wanted.event_id} at {wanted.time}\nfile s3://{bucket}/{wanted.key}")
    for part, shown in decoded.items():
        print(f"\n{part} ({shown['contentType'] or 'no content type'}):\n{_text(shown['body'])}")
    return 0


def _text(body: Any) -> str:
    return body if isinstance(body, str) else json.dumps(body, indent=2)


def decode_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A captured request or response, decoded: base64 undone; NPY arrays described and given
    as lists; JSON parsed; other text as it is; other bytes as hex."""
    content_type = str(payload.get("observedContentType") or "")
    data = str(payload.get("data") or "")
    raw = base64.b64decode(data) if payload.get("encoding") == "BASE64" else data.encode("utf-8")
    return {"contentType": content_type, "body": _decoded(raw, content_type)}


def _decoded(raw: bytes, content_type: str) -> Any:
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/x-npy" or raw.startswith(b"\x93NUMPY"):
        return _npy(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"{len(raw)} bytes: {raw[:64].hex()}{'...' if len(raw) > 64 else ''}"
    if media.endswith("json") or media.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _npy(raw: bytes) -> Any:
    import numpy as np

    try:
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as error:
        return f"{len(raw)} bytes of NPY that do not load: {error}"
    return {"dtype": str(array.dtype), "shape": list(array.shape), "values": array.tolist()}


Command = Callable[[str, str, str], argparse.ArgumentParser]


def add_capture_commands(command: Command) -> None:
    """``capture list`` and ``capture show`` (one command, its action first)."""
    capture = command(
        "capture",
        "list and show captured requests and responses",
        "The requests and responses the endpoint captured (a pipeline built with capture), "
        "read from where its endpoint configuration writes them. 'capture list': recent "
        "records, newest first; 'capture show EVENT_ID' (or --latest): one record decoded.",
    )
    capture.add_argument("action", choices=("list", "show"), metavar="{list,show}")
    capture.add_argument(
        "event_id", nargs="?", metavar="EVENT_ID", help="show: the record's eventId"
    )
    capture.add_argument("--latest", action="store_true", help="show: the newest record")
    capture.add_argument(
        "--since", type=parse_since, help="only files written since: 30m, 2h, 1d or an ISO time"
    )
    capture.add_argument(
        "--limit", type=_positive, default=20, help="list: at most this many records (default: 20)"
    )
    capture.add_argument("--endpoint-name", help="instead of the stack's EndpointName output")
    capture.add_argument("--json", action="store_true", help="print JSON")
    capture.set_defaults(handler=cmd_capture)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def cmd_capture(context: Context) -> int:
    if context.args.action == "list":
        if context.args.event_id or context.args.latest:
            raise CliError("capture list takes no EVENT_ID or --latest (capture show does)")
        return cmd_capture_list(context)
    return cmd_capture_show(context)
