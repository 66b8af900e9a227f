"""AwsCustomResource, run in Python as its provider Lambda runs it.

A custom resource whose ServiceToken is the AwsCustomResource provider Lambda of the same stack
(the CDK's singleton ``AWS679f53fac002430cb0da5b7982bd2287``) is run here
(:class:`AwsCustomResource`): the ``Create``/``Update``/``Delete`` SDK call against the emulator
itself, at the same moments, with ``ignoreErrorCodesMatching``, ``physicalResourceId`` and
``outputPaths`` honoured. moto would invoke the Lambda, which needs Docker, and never sends
Update or Delete.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from moto.cloudformation import models as cfn_models
from moto.cloudformation.custom_model import CustomModel

from ._patching import Create, Update
from ._sdk_calls import ApiCallError, CallApi, boto3_call_api
from ._stack_events import ResourceFailedError

logger = logging.getLogger(__name__)

#: The uuid of the CDK's AwsCustomResource provider (a SingletonFunction); its Lambda's logical id
#: in a stack starts with it.
AWS_CUSTOM_RESOURCE_PROVIDER_ID: Final = "AWS679f53fac002430cb0da5b7982bd2287"
#: What the provider puts in place of this string in parameters: the physical resource id.
PHYSICAL_RESOURCE_ID_REFERENCE: Final = "PHYSICAL:RESOURCEID:"


@dataclass(frozen=True)
class ProviderResponse:
    """What the provider Lambda sends back to CloudFormation."""

    status: str
    reason: str
    physical_resource_id: str | None
    data: dict[str, Any] = field(default_factory=dict)


def run_aws_custom_resource(event: Mapping[str, Any], call_api: CallApi) -> ProviderResponse:
    """The AwsCustomResource provider's handler, for one CloudFormation request ``event``
    (``RequestType``, ``LogicalResourceId``, ``PhysicalResourceId``, ``ResourceProperties``)."""
    try:
        calls = {
            key: _parse_call(event["ResourceProperties"].get(key))
            for key in ("Create", "Update", "Delete")
        }
        physical_id = _requested_physical_id(event, calls)
        data: dict[str, Any] = {}
        call = calls[event["RequestType"]]
        if call:
            physical_id, data = _make_call(call, physical_id, call_api)
        if physical_id is None:
            return ProviderResponse("FAILED", "Invalid PhysicalResourceId", None)
        return ProviderResponse("SUCCESS", "OK", str(physical_id), data)
    except Exception as error:  # the provider reports every error to CloudFormation
        return ProviderResponse("FAILED", str(error) or "Internal Error", None)


def _requested_physical_id(
    event: Mapping[str, Any], calls: Mapping[str, dict[str, Any] | None]
) -> Any:
    """The physical id before the call: on Create the first one a call states (else the logical
    id), otherwise the one this request's call states (else the current one)."""
    if event["RequestType"] == "Create":
        return next(
            (
                call["physicalResourceId"]["id"]
                for call in calls.values()
                if call and call.get("physicalResourceId", {}).get("id") is not None
            ),
            event["LogicalResourceId"],
        )
    call = calls[event["RequestType"]] or {}
    return call.get("physicalResourceId", {}).get("id", event["PhysicalResourceId"])


def _make_call(
    call: Mapping[str, Any], physical_id: Any, call_api: CallApi
) -> tuple[Any, dict[str, Any]]:
    """Make the SDK ``call``; the physical id after it, and the data it returns."""
    parameters = _substitute_physical_id(call.get("parameters") or {}, physical_id)
    response: dict[str, Any] = {}
    data: dict[str, Any] = {}
    try:
        response = {
            "apiVersion": call.get("apiVersion"),
            "region": call.get("region"),
            **flatten(call_api(call["service"], call["action"], parameters)),
        }
        data = _filter_output(call, response)
    except ApiCallError as error:
        pattern = call.get("ignoreErrorCodesMatching")
        if not pattern or not re.search(pattern, error.code):
            raise
    response_path = call.get("physicalResourceId", {}).get("responsePath")
    if response_path:
        physical_id = response.get(response_path)
    return physical_id, data


def _parse_call(value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    parsed = json.loads(value) if isinstance(value, str) else value
    return dict(parsed)


def _substitute_physical_id(value: Any, physical_id: str) -> Any:
    if value == PHYSICAL_RESOURCE_ID_REFERENCE:
        return physical_id
    if isinstance(value, list):
        return [_substitute_physical_id(item, physical_id) for item in value]
    if isinstance(value, dict):
        return {key: _substitute_physical_id(item, physical_id) for key, item in value.items()}
    return value


def flatten(value: Any) -> dict[str, Any]:
    """The provider's ``flatten``: nested keys and list indexes joined with dots."""
    flat: dict[str, Any] = {}

    def visit(item: Any, path: tuple[str, ...]) -> None:
        if isinstance(item, dict):
            for key, child in item.items():
                visit(child, (*path, str(key)))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                visit(child, (*path, str(index)))
        else:
            flat[".".join(path)] = item

    visit(value, ())
    return flat


def _filter_output(call: Mapping[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    paths = [call["outputPath"]] if call.get("outputPath") else call.get("outputPaths")
    if not paths:
        return response
    return {key: item for key, item in response.items() if key.startswith(tuple(paths))}


class AwsCustomResource(CustomModel):
    """A ``Custom::*`` resource served by the stack's AwsCustomResource provider, run here."""

    def __init__(
        self,
        *,
        account_id: str,
        region_name: str,
        stack_id: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
    ):
        super().__init__(region_name, str(uuid.uuid4()), logical_id, logical_id)
        self.account_id = account_id
        self.stack_id = stack_id
        self.resource_type = resource_type
        self.properties = properties
        self.physical_id = ""
        self.delete_failure: ResourceFailedError | None = None

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    def _request(
        self,
        request_type: str,
        properties: dict[str, Any],
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> ProviderResponse:
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": properties.get("ServiceToken"),
            "ResponseURL": "(local emulator)",
            "StackId": self.stack_id,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "ResourceProperties": properties,
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = old_properties
        response = run_aws_custom_resource(event, boto3_call_api(self.region_name))
        logger.info(
            "%s %s (%s): %s %s",
            request_type,
            self.logical_id,
            self.resource_type,
            response.status,
            response.reason,
        )
        if response.status != "SUCCESS":
            raise ResourceFailedError(
                self.logical_id,
                self.resource_type,
                response.physical_resource_id or self.physical_id or self.logical_id,
                "Received response status [FAILED] from custom resource. Message returned: "
                f"{response.reason} (RequestId: {event['RequestId']})",
            )
        return response

    def create(self) -> None:
        response = self._request("Create", self.properties)
        self.physical_id = str(response.physical_resource_id)
        self.set_data(response.data)

    def update(self, properties: dict[str, Any]) -> None:
        old_properties, old_physical_id = self.properties, self.physical_id
        response = self._request("Update", properties, old_physical_id, old_properties)
        self.properties = properties
        self.physical_id = str(response.physical_resource_id)
        self.set_data(response.data)
        if self.physical_id != old_physical_id:
            # A new physical id replaced the resource: CloudFormation deletes the old one in the
            # clean-up phase, and a failure there does not fail the update.
            try:
                self._request("Delete", old_properties, old_physical_id)
            except ResourceFailedError as failure:
                logger.warning("clean-up of %s failed: %s", self.logical_id, failure.reason)

    def delete(self, account_id: str, region_name: str) -> None:
        # moto retries deletions that fail within one stack deletion; the provider answers once
        # (the answer is forgotten when the next stack deletion starts: _delete_stack).
        if self.delete_failure is not None:
            raise self.delete_failure
        try:
            self._request("Delete", self.properties, self.physical_id)
        except ResourceFailedError as error:
            self.delete_failure = error
            raise


def _is_aws_custom_resource_provider(stack: Any, service_token: Any) -> bool:
    if not isinstance(service_token, str):
        return False
    parsed = stack.resource_map._parsed_resources
    return any(
        logical_id.startswith(AWS_CUSTOM_RESOURCE_PROVIDER_ID)
        and getattr(resource, "function_arn", None) == service_token
        for logical_id, resource in list(parsed.items())
    )


def create_custom(request: Create) -> Any:
    """``CustomModel.create_from_cloudformation_json``: run here when the stack's
    AwsCustomResource provider serves it, else as moto does."""
    properties = request.properties
    backend = cfn_models.cloudformation_backends[request.account_id][request.region_name]
    stack = backend.get_stack(request.kwargs["StackId"])
    if not _is_aws_custom_resource_provider(stack, properties.get("ServiceToken")):
        return request.moto()
    resource = AwsCustomResource(  # type: ignore[abstract]
        account_id=request.account_id,
        region_name=request.region_name,
        stack_id=stack.stack_id,
        logical_id=request.kwargs["LogicalId"],
        resource_type=request.kwargs["ResourceType"],
        properties=properties,
    )
    stack.add_custom_resource(resource)
    resource.create()
    return resource


def update_custom(request: Update) -> Any:
    """``CustomModel.update_from_cloudformation_json``."""
    if isinstance(request.resource, AwsCustomResource):
        request.resource.update(request.properties)
    else:
        # moto has no update for other custom resources (it would drop them from the stack);
        # they keep what their Lambda returned when created.
        logger.warning("custom resource %s: Update not sent", request.resource.logical_id)
    return request.resource
