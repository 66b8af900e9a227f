"""AWS clients for the command line, and the one-line messages its AWS errors end with."""

from __future__ import annotations

import re
from typing import Any, Final, Protocol

#: Error codes AWS answers with when a caller sends too many requests.
THROTTLING_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
    }
)
_CREDENTIAL_CODES: Final = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
        "MissingAuthenticationToken",
    }
)
_ACCESS_CODES: Final = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_ARN_REGION = re.compile(r"^arn:[^:]+:[^:]+:(?P<region>[a-z0-9-]+):")


class CliError(Exception):
    """A problem a person can act on; the command line prints it as one line and exits 1."""


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
    works without ``--region``.
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
            self._clients[service] = self._session.client(
                service,
                region_name=self._region,
                endpoint_url=self._endpoint_url,
                config=self._config,
            )
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


def explain_aws_error(exc: BaseException) -> str | None:
    """One line for an AWS SDK error, or None when ``exc`` is not one.

    Call sites that know more (which stack, which endpoint) turn the errors they expect into
    :class:`CliError` themselves; this covers what any call can meet.
    """
    from boto3.exceptions import Boto3Error
    from botocore import exceptions as bce

    if isinstance(exc, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        return (
            "no AWS credentials found: configure a profile (aws configure, then --profile NAME "
            "or AWS_PROFILE) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, bce.CredentialRetrievalError):
        return f"could not get AWS credentials: {exc}"
    if isinstance(exc, bce.NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION (or a region in your profile)"
    if isinstance(exc, bce.ProfileNotFound):
        return f"{exc}; list the configured ones with: aws configure list-profiles"
    if isinstance(exc, bce.EndpointConnectionError):
        return f"cannot reach AWS: {exc}"
    if isinstance(exc, bce.ClientError):
        return _explain_client_error(exc)
    if isinstance(exc, (bce.BotoCoreError, Boto3Error)):
        return str(exc)
    return None


def _explain_client_error(exc: BaseException) -> str:
    code, message = error_code(exc), error_message(exc)
    operation = getattr(exc, "operation_name", "the request")
    if code in THROTTLING_CODES:
        return (
            f"AWS throttled {operation} ({code}) even after retries; wait a minute and try "
            "again, or poll less often (--interval)"
        )
    if code in _CREDENTIAL_CODES:
        return f"AWS refused the credentials ({code}): {message}"
    if code in _ACCESS_CODES:
        return f"access denied to {operation}: {message}"
    return f"{operation} failed: {code}: {message}"


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
