"""State machines, log groups and KMS keys, created as CloudFormation creates them.

- **State machines** (:func:`create_state_machine`). With state machine execution on, moto's
  Step Functions API serves state machines from another backend than the one its CloudFormation
  creates them in, so a deployed state machine could not be found, let alone started; moto also
  drops the type, logging and tracing configuration.
- **Log groups** lose their KMS key in moto (:func:`create_log_group`).
- **KMS keys** keep their policy as a dict in moto, and every KMS call on them then fails with a
  500 (:func:`create_key`); moto cannot update them (:func:`update_key`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from moto.kms.models import kms_backends
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.utils import cfn_to_api_tags

from ._patching import Create, Update

# --- Step Functions ------------------------------------------------------------------------------


def _state_machine_backend(account_id: str, region_name: str) -> Any:
    """The backend moto's Step Functions API serves (it depends on execute_state_machine)."""
    return sfn_responses.get_backend(account_id, region_name)


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase keys as Step Functions' API spells them (camelCase)."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _definition(properties: Mapping[str, Any]) -> str | None:
    if "DefinitionString" in properties:
        definition = str(properties["DefinitionString"])
    elif "Definition" in properties:
        definition = json.dumps(properties["Definition"])
    else:
        return None
    for name, value in properties.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + name + "}", str(value))
    return definition


def _configurations(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The logging, tracing and encryption configurations, as the API spells them."""
    return {
        name: _camel(properties.get(f"{kind}Configuration"))
        for kind, name in (
            ("Logging", "logging_configuration"),
            ("Tracing", "tracing_configuration"),
            ("Encryption", "encryption_configuration"),
        )
    }


def create_state_machine(request: Create) -> Any:
    """``StateMachine.create_from_cloudformation_json``."""
    properties = request.properties
    configurations = _configurations(properties)
    return _state_machine_backend(request.account_id, request.region_name).create_state_machine(
        name=properties.get("StateMachineName", request.resource_name),
        definition=_definition(properties) or "",
        roleArn=properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
        loggingConfiguration=configurations["logging_configuration"],
        tracingConfiguration=configurations["tracing_configuration"],
        encryptionConfiguration=configurations["encryption_configuration"],
        sm_type=properties.get("StateMachineType", "STANDARD"),
    )


def update_state_machine(request: Update) -> Any:
    """``StateMachine.update_from_cloudformation_json``: in place, or a replacement when the
    name or the type changes."""
    properties, current = request.properties, request.resource
    backend = _state_machine_backend(request.account_id, request.region_name)
    name = properties.get("StateMachineName", current.name)
    kind = properties.get("StateMachineType", "STANDARD")
    if name != current.name or kind != getattr(current, "sm_type", "STANDARD"):
        # Replacement: a new state machine, then the old one goes.
        replacement = create_state_machine(request.as_create())
        backend.delete_state_machine(current.arn)
        return replacement
    state_machine = backend.update_state_machine(
        current.arn,
        definition=_definition(properties),
        role_arn=properties.get("RoleArn"),
        **_configurations(properties),
    )
    backend.tagger.tag_resource(state_machine.arn, cfn_to_api_tags(properties.get("Tags", [])))
    return state_machine


def delete_state_machine(
    cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    """``StateMachine.delete_from_cloudformation_json``."""
    _state_machine_backend(account_id, region_name).delete_state_machine(resource_name)


# --- Logs and KMS --------------------------------------------------------------------------------


def create_log_group(request: Create) -> Any:
    """``LogGroup.create_from_cloudformation_json``, with the group's KMS key."""
    properties = request.properties
    if "KmsKeyId" in properties:
        properties["kmsKeyId"] = properties.pop("KmsKeyId")  # the name moto's LogGroup reads
    return request.moto(properties)


def _key_policy(properties: Mapping[str, Any]) -> str | None:
    policy = properties.get("KeyPolicy")
    return policy if policy is None or isinstance(policy, str) else json.dumps(policy)


def create_key(request: Create) -> Any:
    """``Key.create_from_cloudformation_json``, with the policy as JSON text, as KMS reads it
    (moto keeps the dict)."""
    properties = request.properties
    return request.moto({**properties, "KeyPolicy": _key_policy(properties)})


def update_key(request: Update) -> Any:
    """The properties KMS can change in place: policy, description, rotation, enabled."""
    properties, key = request.properties, request.resource
    backend = kms_backends[request.account_id][request.region_name]
    policy = _key_policy(properties)
    if policy is not None:
        backend.put_key_policy(key.id, policy)
    backend.update_key_description(key.id, properties.get("Description", ""))
    key.key_rotation_status = bool(properties.get("EnableKeyRotation", False))
    key.enabled = bool(properties.get("Enabled", True))
    return key
