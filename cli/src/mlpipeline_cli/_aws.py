"""AWS clients for the command line, and the one-line messages its AWS errors end with."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

_ARN_REGION = re.compile(r"^arn:[^:]+:[^:]+:(?P<region>[a-z0-9-]+):")


#: The region and dummy credentials ``mlpipeline-emulator env`` exports (the emulator's
#: ``session.py``: REGION = "us-east-1", AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "testing"; moto
#: accepts any credentials, getmoto/moto docs/docs/server_mode.rst): used for an endpoint on this
#: machine when no region or credentials are configured.
LOCAL_REGION: Final = "us-east-1"
LOCAL_CREDENTIALS: Final = ("testing", "testing")
#: How a person points AWS tools at the emulator (its ``env`` command prints the variables).
EMULATOR_ENV: Final = 'eval "$(.venv/bin/mlpipeline-emulator env)"'


class CliError(Exception):
    """A problem a person can act on; the command line prints it as one line and exits 1."""


class UsageError(CliError):
    """The command line was used wrongly (options that do not go together, a value out of
    range); printed as one line like :class:`CliError`, with argparse's exit status 2."""


@dataclass(frozen=True)
class Target:
    """Where the AWS calls of a command go, for the messages that explain their errors."""

    endpoint_url: str | None = None
    region: str | None = None


def endpoint_url_of(option: str | None) -> str | None:
    """The endpoint every call goes to: ``--endpoint-url``, else botocore's global
    ``AWS_ENDPOINT_URL`` (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)."""
    return option or os.environ.get("AWS_ENDPOINT_URL") or None


def is_local(url: str | None) -> bool:
    """True for an endpoint on this machine (``localhost``, ``127.0.0.1``, ``::1``)."""
    if not url:
        return False
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Clients(Protocol):
    """Makes the boto3 clients a command needs; tests hand in their own."""

    def client(self, service: str) -> Any: ...

    @property
    def region(self) -> str | None: ...

    def use_region_of(self, arn: str) -> None: ...


class AwsClients:
    """boto3 clients of one session: ``--profile``, ``--region`` and ``--endpoint-url``.

    Without a region in the options, the profile or the environment, the region of an ARN the
    command was given is used (:meth:`use_region_of`), so ``watch arn:aws:states:eu-west-1:...``
    works without ``--region``. For an endpoint on this machine (the emulator), what is not
    configured is moto's: region :data:`LOCAL_REGION` and dummy credentials, so the command
    ``make deploy-local`` prints works in a clean shell.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self._session = boto3.session.Session(profile_name=profile, region_name=region)
        self._region = self._session.region_name
        self._endpoint_url = endpoint_url
        self._credentials: dict[str, str] = {}
        if is_local(endpoint_url_of(endpoint_url)):
            if self._region is None:
                self._region = LOCAL_REGION
            if self._session.get_credentials() is None:
                key, secret = LOCAL_CREDENTIALS
                self._credentials = {"aws_access_key_id": key, "aws_secret_access_key": secret}
        # Standard retries back off on throttling and transient faults before giving up.
        self._config = Config(retries={"mode": "standard", "max_attempts": 6})
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str | None:
        region: str | None = self._region
        return region

    def use_region_of(self, arn: str) -> None:
        """Take the region from ``arn`` when no region is configured."""
        match = _ARN_REGION.match(arn)
        if self._region is None and match:
            self._region = match["region"]

    def client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                self._clients[service] = self._session.client(
                    service,
                    region_name=self._region,
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                    **self._credentials,
                )
            except ValueError as exc:
                # botocore's endpoint.py: ValueError(f"Invalid endpoint: {endpoint_url}") for a
                # URL without a scheme and host (the option is checked when parsed; this is
                # AWS_ENDPOINT_URL or a profile's endpoint_url).
                if not str(exc).startswith("Invalid endpoint"):
                    raise
                raise CliError(
                    f"{str(exc).removeprefix('Invalid endpoint: ')!r} is not an endpoint URL: "
                    "expected http://HOST:PORT or https://HOST; check AWS_ENDPOINT_URL and "
                    "the profile's endpoint_url"
                ) from exc
        return self._clients[service]


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (empty for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return str(exc)
    return str(response.get("Error", {}).get("Message", "")) or str(exc)


def is_client_error(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError)


#: What an AWS error a command expects means, in one line: ``(error code, request field)`` to a
#: message formatted with the request's fields. The field tells apart codes that several
#: operations answer with (``InvalidArn`` of an execution or of a state machine). Errors not in
#: this table are explained by :func:`explain_aws_error`.
EXPECTED_ERRORS: Final[dict[tuple[str, str], str]] = {
    (
        "StateMachineDoesNotExist",
        "stateMachineArn",
    ): "state machine {stateMachineArn} does not exist",
    ("InvalidArn", "stateMachineArn"): "{stateMachineArn} is not a valid state machine ARN",
    ("ExecutionDoesNotExist", "executionArn"): (
        "execution {executionArn} not found (list them with: mlpipeline list)"
    ),
    ("InvalidArn", "executionArn"): "{executionArn} is not a valid execution ARN",
    ("ExecutionAlreadyExists", "name"): (
        "an execution named {name} already exists; choose another --name"
    ),
    ("InvalidName", "name"): (
        "{name!r} is not a valid execution name: up to 80 letters, digits, - and _"
    ),
}


def call(client: Any, method: str, **request: Any) -> Any:
    """``client.method(**request)``, with the errors of :data:`EXPECTED_ERRORS` as CliError."""
    try:
        return getattr(client, method)(**request)
    except Exception as exc:
        code = error_code(exc) if is_client_error(exc) else ""
        for (expected, field), message in EXPECTED_ERRORS.items():
            if code == expected and field in request:
                raise CliError(message.format(**request)) from exc
        raise
