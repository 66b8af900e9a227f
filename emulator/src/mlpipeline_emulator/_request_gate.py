"""The gate every SageMaker request passes before moto's SageMaker sees it.

Whichever way a request comes (a client of the server, the CLI, a CloudFormation custom resource,
or a task of a state machine through the optimized or the ``aws-sdk`` integration, which reach
SageMaker through boto3 with ``parameter_validation=False`` as Step Functions does), it arrives
here as SageMaker's JSON protocol and is checked against SageMaker's API model
(:mod:`._request_rules`) and SageMaker's documented cross-field rules (:mod:`._documented_rules`).
A refused request gets SageMaker's error response: HTTP 400, ``x-amzn-ErrorType`` and a JSON body
``{"__type": code, "message": ...}`` (the ``awsJson1_1`` protocol's error shape, as botocore's
``JSONParser`` reads it: botocore/parsers.py, ``BaseJSONParser._do_error_parse``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from botocore.model import OperationNotFoundError
from moto.core.responses import BaseResponse

from . import _documented_rules, _request_rules
from ._request_rules import SERIALIZATION, RefusedRequestError

_inherited_dispatch: Any = BaseResponse._dispatch


def _operation(request: Any) -> str:
    target = request.headers.get("X-Amz-Target") or ""
    return str(target).rpartition(".")[2]


def check(operation: str, body: Any) -> None:
    """Raise :class:`RefusedRequestError` when SageMaker would refuse ``body`` for ``operation``."""
    if not isinstance(body, dict):
        raise RefusedRequestError(SERIALIZATION, "Start of structure or map expected")
    _request_rules.check(operation, body)
    _documented_rules.check(operation, body)


def _refusal(request: Any) -> RefusedRequestError | None:
    operation = _operation(request)
    if not operation:
        return None
    try:
        body = json.loads(request.data or b"{}")
    except ValueError:
        return None  # moto answers a body it cannot read
    try:
        check(operation, body)
    except RefusedRequestError as refused:
        return refused
    except OperationNotFoundError:  # moto answers unknown operations
        return None
    return None


def error_response(refused: RefusedRequestError) -> tuple[int, dict[str, str], str]:
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "x-amzn-ErrorType": refused.code,
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    return refused.status, headers, json.dumps({"__type": refused.code, "message": refused.message})


def wrap_dispatch(_: Any) -> Any:
    """``SageMakerResponse._dispatch``, moto's entry for every SageMaker request, checking first."""

    def _dispatch(self: Any, request: Any, full_url: str | None = None, headers: Any = None) -> Any:
        refused = _refusal(request)
        if refused is not None:
            return error_response(refused)
        return _inherited_dispatch(self, request, full_url, headers)

    return _dispatch
