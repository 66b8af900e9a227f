"""One line, naming what to do, for every error an AWS call can end with.

The classes are botocore's (``botocore/exceptions.py``: the credential and region errors, the
``ConnectionError`` and ``HTTPClientError`` families; ``botocore/parsers.py``:
``ResponseParserError``, which is not a ``BotoCoreError``) and boto3's (``Boto3Error``). Call
sites that know more (which stack, which endpoint) turn the errors they expect into
:class:`~mlpipeline_cli._aws.CliError` themselves; this covers what any call can meet.
"""

from __future__ import annotations

import re
from typing import Any, Final

from ._aws import Target, error_code, error_message, is_local

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
#: ResponseParserError's text ends with the body it could not parse ("... invalid XML received.
#: Further retries may succeed:\nb'<!doctype html>...'", botocore/parsers.py).
_RESPONSE_BODY = re.compile(r"b(['\"])(.*)\1\s*$", re.DOTALL)
_NO_CREDENTIALS: Final = (
    "no AWS credentials found: configure a profile (aws configure, then --profile NAME "
    "or AWS_PROFILE) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)
#: boto3 reads the region from AWS_DEFAULT_REGION, not AWS_REGION (botocore/configprovider.py:
#: ``'region': ('region', 'AWS_DEFAULT_REGION', None, None)``).
_NO_REGION: Final = (
    "no AWS region: pass --region or set AWS_DEFAULT_REGION (or a region in your profile)"
)


def explain_aws_error(exc: BaseException, target: Target | None = None) -> str | None:
    """One line for an AWS SDK error, or None when ``exc`` is not one."""
    from boto3.exceptions import Boto3Error
    from botocore import exceptions as bce
    from botocore.parsers import ResponseParserError

    target = target or Target()
    explainers: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], Any], ...] = (
        ((bce.NoCredentialsError, bce.PartialCredentialsError), lambda e, t: _NO_CREDENTIALS),
        (bce.CredentialRetrievalError, lambda e, t: f"could not get AWS credentials: {e}"),
        (bce.NoRegionError, lambda e, t: _NO_REGION),
        (bce.InvalidRegionError, _invalid_region),
        (
            bce.ProfileNotFound,
            lambda e, t: f"{e}; list the configured ones with: aws configure list-profiles",
        ),
        ((bce.ConnectionError, bce.HTTPClientError), _network_error),
        (ResponseParserError, _not_an_aws_answer),
        (bce.ParamValidationError, _invalid_request),
        (bce.ClientError, _explain_client_error),
        ((bce.BotoCoreError, Boto3Error), lambda e, t: str(e)),
    )
    for classes, explain in explainers:
        if isinstance(exc, classes):
            message: str = explain(exc, target)
            return message
    return None


def _url(exc: BaseException, target: Target) -> str:
    kwargs = getattr(exc, "kwargs", {})
    return str(kwargs.get("endpoint_url") or target.endpoint_url or "AWS")


def known_regions() -> frozenset[str]:
    """Every region botocore's endpoint data names, in any partition."""
    import boto3

    session = boto3.session.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for service in ("stepfunctions", "cloudformation")
        for region in session.get_available_regions(service, partition_name=partition)
    )


def _region_hint(target: Target) -> str:
    """``--region``, when the region is one botocore does not know (e.g. a typo)."""
    if target.region and target.region not in known_regions():
        return f" and --region ({target.region} is not a region botocore knows; e.g. us-east-1)"
    return ""


def _invalid_region(exc: BaseException, target: Target) -> str:
    return (
        f"{str(exc).rstrip('.')}: set --region or AWS_DEFAULT_REGION to a region name such as "
        "us-east-1"
    )


def _network_error(exc: BaseException, target: Target) -> str:
    from botocore import exceptions as bce

    url = _url(exc, target)
    kwargs: dict[str, Any] = getattr(exc, "kwargs", {})
    if isinstance(exc, bce.ProxyConnectionError):
        local = (
            " (or leave this machine out: NO_PROXY=127.0.0.1,localhost)" if is_local(url) else ""
        )
        return (
            f"cannot connect to the proxy {kwargs.get('proxy_url')}: check HTTPS_PROXY and "
            f"HTTP_PROXY{local}"
        )
    if isinstance(exc, bce.SSLError):
        return (
            f"TLS failed for {url}: {kwargs.get('error')}; if a proxy inspects TLS, point "
            "AWS_CA_BUNDLE at its CA certificate"
        )
    if isinstance(exc, bce.ConnectTimeoutError):
        return (
            f"timed out connecting to {url}: check your network (a firewall or a proxy?)"
            f"{_region_hint(target)}"
        )
    if isinstance(exc, bce.ReadTimeoutError):
        return f"{url} did not answer in time: try again; check your network if it keeps on"
    if isinstance(exc, bce.ConnectionClosedError):
        return f"{url} closed the connection before answering: try again"
    if isinstance(exc, bce.EndpointConnectionError):
        return _cannot_connect(url, is_local(url), target)
    return f"network error talking to {url}: {exc}; check your network and try again"


def _cannot_connect(url: str, local: bool, target: Target) -> str:
    if local:
        return (
            f"cannot reach {url}: is the emulator running there? .venv/bin/mlpipeline-emulator "
            "status says where it runs; make deploy-local starts it and deploys the stack"
        )
    return f"cannot reach {url}: check your network connection{_region_hint(target)}"


def _not_an_aws_answer(exc: BaseException, target: Target, body: str | None = None) -> str:
    if body is None:
        match = _RESPONSE_BODY.search(str(exc))
        body = match[2] if match else ""
    # The body comes as the repr of bytes: its line breaks are escapes.
    body = " ".join(body.replace("\\r", " ").replace("\\n", " ").split())[:80]
    where = target.endpoint_url or "AWS"
    check = (
        "check --endpoint-url (.venv/bin/mlpipeline-emulator status prints the emulator's)"
        if is_local(target.endpoint_url)
        else "check --endpoint-url and AWS_ENDPOINT_URL"
    )
    return (
        f"{where} did not answer as AWS does"
        + (f" (it sent {body})" if body else "")
        + f": {check}{_region_hint(target)}"
    )


def _invalid_request(exc: BaseException, target: Target) -> str:
    report = " ".join(str(exc).split())
    return f"{report}; check the values given on the command line"


def _explain_client_error(exc: BaseException, target: Target) -> str:
    code, message = error_code(exc), error_message(exc)
    operation = getattr(exc, "operation_name", "the request")
    if code.isdigit():
        # No AWS error, only an HTTP status: botocore makes the status the code and, for a
        # JSON service, the body the message (botocore/parsers.py, BaseJSONParser.
        # _do_error_parse), for a 5xx web page the status's reason (_do_generic_error_parse).
        if message.lstrip().startswith("<"):
            return _not_an_aws_answer(exc, target, f"HTTP {code}, {message}")
        return (
            f"{operation} failed with HTTP {code} {message} and no AWS error: try again later"
            + ("; check --endpoint-url" if target.endpoint_url else "")
        )
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
