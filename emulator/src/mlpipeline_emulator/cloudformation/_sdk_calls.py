"""The SDK calls of an AwsCustomResource, made with boto3 against the emulated services: the
JavaScript SDK's service and command names as botocore spells them, parameters coerced as the
provider coerces them, and responses as the provider sees them."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape

from ._patching import client as service_client

logger = logging.getLogger(__name__)


class ApiCallError(Exception):
    """An SDK call that failed; ``code`` is what the JavaScript SDK names the error."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


#: ``call_api(service, action, parameters)``: the SDK call, its response without metadata.
CallApi = Callable[[str, str, dict[str, Any]], dict[str, Any]]

#: v2 (or v3 package) service names that botocore spells otherwise.
_BOTOCORE_SERVICE_NAMES: Final[Mapping[str, str]] = {
    "sfn": "stepfunctions",
    "cloudwatchlogs": "logs",
    "cloudwatch-logs": "logs",
    "cloudwatchevents": "events",
    "cloudwatch-events": "events",
    "eventbridge": "events",
    "elasticloadbalancingv2": "elbv2",
    "elastic-load-balancing-v2": "elbv2",
    "elasticloadbalancing": "elb",
    "elastic-load-balancing": "elb",
    "cognitoidentityserviceprovider": "cognito-idp",
    "cognito-identity-provider": "cognito-idp",
}


def botocore_service_name(service: str) -> str:
    """The botocore name of an AwsCustomResource ``service`` (``SageMaker``, ``@aws-sdk/client-
    sagemaker``, ``StepFunctions``...)."""
    normalized = service.lower().removeprefix("@aws-sdk/client-")
    if normalized in _BOTOCORE_SERVICE_NAMES:
        return _BOTOCORE_SERVICE_NAMES[normalized]
    available = botocore.session.get_session().get_available_services()
    by_squashed = {name.replace("-", ""): name for name in available}
    name = by_squashed.get(normalized.replace("-", ""))
    if name is None:
        raise ApiCallError(
            "Error",
            f"Service {normalized} client package with name '@aws-sdk/client-{normalized}' "
            "does not exist.",
        )
    return str(name)


def _operation(client: Any, service: str, action: str) -> OperationModel:
    name = action[:1].upper() + action[1:]
    operations = {op.lower(): op for op in client.meta.service_model.operation_names}
    operation = operations.get(name.lower()) or operations.get(name.removesuffix("Command").lower())
    if operation is None:
        raise ApiCallError(
            "Error",
            f"Unable to find command named: {name}Command for action: {name} in service "
            f"package @aws-sdk/client-{service.lower().removeprefix('@aws-sdk/client-')}",
        )
    return client.meta.service_model.operation_model(operation)


def boto3_call_api(region: str) -> CallApi:
    """``call_api`` for :func:`.run_aws_custom_resource`: the call, made with boto3 against the
    emulated services, its parameters coerced to the API's types as the provider coerces them."""

    def call_api(service: str, action: str, parameters: dict[str, Any]) -> dict[str, Any]:
        client = service_client(botocore_service_name(service), region)
        operation = _operation(client, service, action)
        from botocore import xform_name

        method = getattr(client, xform_name(operation.name))
        logger.info(
            "AwsCustomResource call: %s.%s %s",
            client.meta.service_model.service_name,
            operation.name,
            json.dumps(parameters, default=str),
        )
        try:
            response = method(**_coerce(parameters, operation.input_shape))
        except ClientError as error:
            details = error.response.get("Error", {})
            logger.info(
                "AwsCustomResource call failed: %s %s", details.get("Code"), details.get("Message")
            )
            raise ApiCallError(
                details.get("Code", "Error"), details.get("Message", str(error))
            ) from error
        except Exception as error:
            raise ApiCallError(type(error).__name__, str(error)) from error
        response.pop("ResponseMetadata", None)
        return dict(_jsonable(response))

    return call_api


#: Strings converted where the API takes these types (the provider's ``coerceApiParameters``).
_SCALARS: Final[Mapping[str, Callable[[str], Any]]] = {
    "integer": int,
    "long": int,
    "float": float,
    "double": float,
    "boolean": lambda value: value == "true",
    "blob": lambda value: value.encode("utf-8"),
}


def _coerce(value: Any, shape: Shape | None) -> Any:
    """Strings where the API takes numbers, booleans or blobs, converted as the provider's
    ``coerceApiParameters`` does."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {key: _coerce(item, members.get(key)) for key, item in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_coerce(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _coerce(item, shape.value) for key, item in value.items()}
    if isinstance(value, str) and shape.type_name in _SCALARS:
        return _SCALARS[shape.type_name](value)
    return value


def _jsonable(value: Any) -> Any:
    """A response as the provider sees it: blobs and streams as text, dates as ISO strings."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "read"):
        return _jsonable(value.read())
    if isinstance(value, datetime.datetime):
        moment = value.astimezone(datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return value
