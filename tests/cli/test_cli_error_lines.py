"""Network, endpoint, region and usage errors: each ends with one exact line and its status.

AWS is never called: a local 127.0.0.1 HTTP server answers with a web page (as a wrong
``--endpoint-url`` or a region moto does not know does), a closed port refuses, and the other
botocore errors are raised by a stand-in client.
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from botocore import exceptions as bce
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from mlpipeline_cli.cli import main

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Pipeline"
PAGE = b"<!doctype html>\n<html><title>404 Not Found</title></html>"


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mlpipeline: error: ")
    return lines[0].removeprefix("mlpipeline: error: ")


def usage_error_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The last line of a usage error, after checking that it exits 2."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("usage: ")
    last = err.splitlines()[-1]
    assert last.startswith("mlpipeline: error: ")
    return last.removeprefix("mlpipeline: error: ")


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A clean shell: no AWS variables, no config or credentials files, no instance metadata."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class WebPage(http.server.BaseHTTPRequestHandler):
    """Answers every request with a 404 web page, and remembers the requests' headers."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        WebPage.seen.append(dict(self.headers))
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web_page() -> Iterator[str]:
    """The URL of a local server that answers with a web page, not as AWS does."""
    WebPage.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WebPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- an endpoint that is not AWS's ---------------------------------------------------------------


def test_a_region_the_emulator_does_not_know(
    clean_environment: None, web_page: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # CloudFormation's XML parser meets the page: botocore's ResponseParserError.
    assert main(["--endpoint-url", web_page, "--region", "bogus", "list"]) == 1
    assert one_error_line(capsys) == (
        f"{web_page} did not answer as AWS does (it sent <!doctype html> <html><title>404 Not "
        "Found</title></html>): check --endpoint-url (.venv/bin/mlpipeline-emulator status "
        "prints the emulator's) and --region (bogus is not a region botocore knows; e.g. "
        "us-east-1)"
    )


def test_a_json_service_answered_with_a_web_page(
    clean_environment: None, web_page: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Step Functions' JSON parser makes the status the code and the page the message.
    argv = ["--endpoint-url", web_page, "--state-machine-arn", MACHINE, "list"]
    assert main(argv) == 1
    assert one_error_line(capsys) == (
        f"{web_page} did not answer as AWS does (it sent HTTP 404, <!doctype html> <html><title>"
        "404 Not Found</title></html>): check --endpoint-url (.venv/bin/mlpipeline-emulator "
        "status prints the emulator's)"
    )


def test_a_local_endpoint_needs_no_configured_region_or_credentials(
    clean_environment: None, web_page: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # What `make deploy-local` prints, pasted into a clean shell: the request goes out, signed
    # for the emulator's region with its dummy credentials, instead of "no AWS region".
    assert main(["--endpoint-url", web_page, "list"]) == 1
    assert one_error_line(capsys).startswith(f"{web_page} did not answer as AWS does")
    authorization = WebPage.seen[0]["Authorization"]
    assert "Credential=testing/" in authorization
    assert "/us-east-1/cloudformation/aws4_request" in authorization


def test_configured_credentials_and_region_win_over_the_local_defaults(
    clean_environment: None,
    web_page: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDMINE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert main(["--endpoint-url", web_page, "list"]) == 1
    capsys.readouterr()
    authorization = WebPage.seen[0]["Authorization"]
    assert "Credential=AKIDMINE/" in authorization
    assert "/eu-west-1/cloudformation/" in authorization


def test_the_region_advice_names_the_variable_boto3_reads(
    clean_environment: None,
    web_page: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDMINE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    argv = ["--endpoint-url", "https://cloudformation.example.com", "list"]
    assert main(argv) == 1
    message = one_error_line(capsys)
    assert message == (
        "no AWS region: pass --region or set AWS_DEFAULT_REGION (or a region in your profile)"
    )
    # Following it works (AWS_REGION alone would not: boto3 does not read it).
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert main(["--endpoint-url", web_page, "list"]) == 1
    capsys.readouterr()
    assert "/eu-west-1/cloudformation/" in WebPage.seen[0]["Authorization"]


def test_an_emulator_that_does_not_run(
    clean_environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["--endpoint-url", url, "list"]) == 1
    assert one_error_line(capsys) == (
        f"cannot reach {url}/: is the emulator running there? .venv/bin/mlpipeline-emulator "
        "status says where it runs; make deploy-local starts it and deploys the stack"
    )


def test_a_remote_endpoint_without_credentials_still_says_how_to_configure_them(
    clean_environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--endpoint-url", "https://cloudformation.example.com", "--region", "us-east-1"]
    assert main([*argv, "list"]) == 1
    assert one_error_line(capsys).startswith("no AWS credentials found: configure a profile")


# --- endpoint URLs and regions -------------------------------------------------------------------


def test_an_endpoint_url_that_is_not_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error_line(capsys, ["--endpoint-url", "notaurl", "list"]) == (
        "argument --endpoint-url: expected a URL such as http://127.0.0.1:5000 (the emulator's) "
        "or https://HOST, got 'notaurl' (see: mlpipeline --help)"
    )


def test_an_endpoint_url_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error_line(capsys, ["list", "--endpoint-url", "notaurl"]).endswith(
        "got 'notaurl' (see: mlpipeline list --help)"
    )


def test_aws_endpoint_url_that_is_not_a_url(
    clean_environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # botocore's own ValueError("Invalid endpoint: notaurl"), from the environment.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "notaurl")
    assert main(["--region", "us-east-1", "list"]) == 1
    assert one_error_line(capsys) == (
        "'notaurl' is not an endpoint URL: expected http://HOST:PORT or https://HOST; check "
        "AWS_ENDPOINT_URL and the profile's endpoint_url"
    )


def test_a_region_that_is_not_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert usage_error_line(capsys, ["--region", "us east 1", "list"]) == (
        "argument --region: expected a region name such as us-east-1, got 'us east 1' "
        "(see: mlpipeline --help)"
    )


def test_aws_region_that_is_not_a_name(
    clean_environment: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us east 1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDMINE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert main(["list"]) == 1
    assert one_error_line(capsys) == (
        "Provided region_name 'us east 1' doesn't match a supported format: set --region or "
        "AWS_DEFAULT_REGION to a region name such as us-east-1"
    )


# --- the other botocore errors -------------------------------------------------------------------


class Refusing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> Any:
            raise self.error

        return call


class RefusingClients:
    region = "us-east-1"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def client(self, service: str) -> Any:
        return Refusing(self.error)

    def use_region_of(self, arn: str) -> None:
        pass


AWS_URL = "https://cloudformation.us-east-1.amazonaws.com/"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            bce.ConnectTimeoutError(endpoint_url=AWS_URL),
            f"timed out connecting to {AWS_URL}: check your network (a firewall or a proxy?)",
        ),
        (
            bce.ReadTimeoutError(endpoint_url=AWS_URL),
            f"{AWS_URL} did not answer in time: try again; check your network if it keeps on",
        ),
        (
            bce.SSLError(endpoint_url=AWS_URL, error="certificate verify failed"),
            f"TLS failed for {AWS_URL}: certificate verify failed; if a proxy inspects TLS, point "
            "AWS_CA_BUNDLE at its CA certificate",
        ),
        (
            bce.ProxyConnectionError(proxy_url="http://proxy:3128", error="refused"),
            "cannot connect to the proxy http://proxy:3128: check HTTPS_PROXY and HTTP_PROXY",
        ),
        (
            bce.ConnectionClosedError(endpoint_url=AWS_URL),
            f"{AWS_URL} closed the connection before answering: try again",
        ),
        (
            bce.EndpointConnectionError(endpoint_url=AWS_URL),
            f"cannot reach {AWS_URL}: check your network connection",
        ),
        (
            bce.HTTPClientError(error="boom"),
            "network error talking to AWS: An HTTP Client raised an unhandled exception: boom; "
            "check your network and try again",
        ),
        (
            ResponseParserError("Unable to parse response, invalid XML received:\nb'<html>'"),
            "AWS did not answer as AWS does (it sent <html>): check --endpoint-url and "
            "AWS_ENDPOINT_URL",
        ),
        (
            bce.ParamValidationError(report="Invalid length for parameter StackName"),
            "Parameter validation failed: Invalid length for parameter StackName; check the "
            "values given on the command line",
        ),
        (
            ClientError({"Error": {"Code": "502", "Message": "Bad Gateway"}}, "DescribeStacks"),
            "DescribeStacks failed with HTTP 502 Bad Gateway and no AWS error: try again later",
        ),
        (
            bce.UnauthorizedSSOTokenError(),
            "The SSO session associated with this profile has expired or is otherwise invalid. "
            "To refresh this SSO session run aws sso login with the corresponding profile.",
        ),
        (
            PermissionError(13, "Permission denied", "data/train.csv"),
            "[Errno 13] Permission denied: 'data/train.csv'",
        ),
        (
            RuntimeError("boom"),
            "unexpected RuntimeError: boom (run again with --debug for the traceback, and report "
            "it)",
        ),
    ],
)
def test_every_error_class_ends_in_one_line(
    capsys: pytest.CaptureFixture[str], error: Exception, message: str
) -> None:
    assert main(["list"], clients=RefusingClients(error)) == 1
    assert one_error_line(capsys) == message


def test_a_proxy_for_the_emulator_names_no_proxy(capsys: pytest.CaptureFixture[str]) -> None:
    error = bce.ProxyConnectionError(proxy_url="http://proxy:3128", error="refused")
    argv = ["--endpoint-url", "http://127.0.0.1:5000", "list"]
    assert main(argv, clients=RefusingClients(error)) == 1
    assert one_error_line(capsys).endswith(
        "(or leave this machine out: NO_PROXY=127.0.0.1,localhost)"
    )


def test_debug_shows_the_traceback_of_a_network_error() -> None:
    error = bce.EndpointConnectionError(endpoint_url=AWS_URL)
    with pytest.raises(bce.EndpointConnectionError):
        main(["--debug", "list"], clients=RefusingClients(error))
    with pytest.raises(RuntimeError, match="boom"):
        main(["--debug", "list"], clients=RefusingClients(RuntimeError("boom")))


# --- usage errors --------------------------------------------------------------------------------


def test_upload_data_without_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    line = usage_error_line(capsys, ["upload-data"])
    assert line == (
        "the following arguments are required: DIR (see: mlpipeline upload-data --help)"
    )
    assert "not both" not in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND (see: mlpipeline --help)"),
        (["--bogus", "list"], "unrecognized arguments: --bogus (see: mlpipeline --help)"),
        (
            ["nope"],
            "argument COMMAND: invalid choice: 'nope' (choose from 'run', 'watch', 'list', "
            "'describe', 'predict', 'upload-data', 'dashboard', 'graph', 'export', 'models', "
            "'approve', 'reject', 'deploy', 'capture', 'endpoint') (see: mlpipeline --help)",
        ),
        (
            ["list", "--max", "0"],
            "argument --max: expected 1 to 1000, got 0 (see: mlpipeline list --help)",
        ),
    ],
)
def test_usage_errors_end_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert usage_error_line(capsys, argv) == message


def test_a_stack_missing_from_the_emulator_says_how_to_deploy_it_there(
    clean_environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        assert main(["--endpoint-url", f"http://{host}:{port}", "list"]) == 1
    finally:
        server.stop()
    assert one_error_line(capsys) == (
        "stack MLPipelineStack not found in us-east-1: deploy it (make deploy-local, or "
        "mlpipeline-emulator deploy in your app's folder), or name yours with --stack-name (and "
        "--region), or pass --state-machine-arn"
    )
