"""``mlpipeline capture``: decoding captured payloads, the --since and --limit options, and the
usage errors (scenarios against the emulator: tests/emulator/runs/test_capture_runs.py)."""

from __future__ import annotations

import argparse
import base64
import datetime
import io

import numpy as np
import pytest

from mlpipeline_cli._capture import decode_payload, parse_since
from mlpipeline_cli.cli import main


def _npy(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_base64_npy_request_is_shown_as_dtype_shape_and_values() -> None:
    payload = {
        "observedContentType": "application/x-npy",
        "mode": "INPUT",
        "data": _npy(np.array([[1, 2], [3, 4]], dtype=np.uint8)),
        "encoding": "BASE64",
    }
    assert decode_payload(payload) == {
        "contentType": "application/x-npy",
        "body": {"dtype": "uint8", "shape": [2, 2], "values": [[1, 2], [3, 4]]},
    }


def test_json_is_parsed_csv_kept_as_text_and_other_bytes_shown_as_hex() -> None:
    json_payload = {
        "observedContentType": "application/json",
        "data": '{"a": [1]}',
        "encoding": "JSON",
    }
    assert decode_payload(json_payload)["body"] == {"a": [1]}
    csv_payload = {"observedContentType": "text/csv", "data": "1,2,3", "encoding": "CSV"}
    assert decode_payload(csv_payload)["body"] == "1,2,3"
    raw = base64.b64encode(b"\xff\xfe\x00").decode()
    binary = {"observedContentType": "image/png", "data": raw, "encoding": "BASE64"}
    assert decode_payload(binary)["body"] == "3 bytes: fffe00"


def test_since_takes_a_duration_or_an_iso_time() -> None:
    ago = datetime.datetime.now(datetime.UTC) - parse_since("30m")
    assert datetime.timedelta(minutes=29) < ago < datetime.timedelta(minutes=31)
    assert parse_since("2026-01-02T03:04:05") == datetime.datetime(
        2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC
    )
    with pytest.raises(argparse.ArgumentTypeError, match="30m, 2h or 1d"):
        parse_since("yesterday")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["capture", "list", "--since", "yesterday"], "expected a duration such as 30m"),
        (["capture", "list", "--limit", "0"], "at least 1"),
        (["capture", "tail"], "invalid choice: 'tail'"),
    ],
)
def test_bad_options_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as ended:
        main([*argv, "--endpoint-name", "e"], clients=_NoClients())
    assert ended.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["capture", "list", "abc"], "capture list takes no EVENT_ID"),
        (["capture", "show"], "capture show EVENT_ID, or capture show --latest"),
    ],
)
def test_actions_without_what_they_need_are_refused(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--endpoint-name", "e"], clients=_NoClients()) == 1
    assert message in capsys.readouterr().err


class _NoClients:
    region = "us-east-1"

    def client(self, service: str) -> object:
        raise AssertionError(f"no AWS call expected, got one to {service}")

    def use_region_of(self, arn: str) -> None:
        pass
