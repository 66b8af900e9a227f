"""Stack operations: change sets, outputs and exports, deletion, and how stacks describe their
resources and parameters.

- **Outputs and exports after a change set** (:func:`execute_change_set`). moto builds a stack's
  outputs when the stack is created; a stack made by a CREATE change set is created empty, so it
  never had any outputs.
- **Failures are stack states** (:func:`execute_change_set`, :func:`delete_stack`): moto lets a
  resource's exception escape as an HTTP 500 and, on delete, loses the stack.
- **Deleting what is not there succeeds** (:func:`delete_change_set`, :func:`delete_stack`).
- **Resources that were never created** are not listed (:func:`stack_resources`); moto shows
  blank rows for them (those whose condition is false, or of types it skips).
- **List parameters** are described as the comma-delimited string they were given as
  (:func:`parameter_list`); moto shows Python's repr of the list.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation import models as cfn_models

from . import _patching
from ._custom_resources import AwsCustomResource
from ._stack_events import CHANGE_VERBS, fail_stack, report_resources


def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    """``CloudFormationBackend.execute_change_set``."""
    change_set = self.describe_change_set(change_set_name)
    stack = self.stacks[change_set.stack_id]
    try:
        _patching.original(cfn_models.CloudFormationBackend, "execute_change_set")(
            self, change_set_name, stack_name
        )
    except Exception as error:  # what a resource raises fails the stack, not the request
        change_set.execution_status = "EXECUTE_FAILED"
        fail_stack(stack, f"{change_set.change_set_type}_FAILED", error)
        return
    parsed = stack.resource_map._parsed_resources
    report_resources(
        stack,
        [
            (change.logical_resource_id, change.resource_type, resource, verb)
            for change in change_set.changes
            for verb in [CHANGE_VERBS[change.action]]
            for resource in [parsed.get(change.logical_resource_id)]
            if resource is not None or verb == "DELETE"
        ],
    )
    stack._parse_template()
    stack.description = stack.template_dict.get("Description")
    stack.output_map = stack._create_output_map()
    _replace_exports(self, stack, stack.exports)


def _replace_exports(backend: Any, stack: Any, exports: list[Any]) -> None:
    """The backend's exports of ``stack`` become ``exports``."""
    for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del backend.exports[name]
    for export in exports:
        backend.exports[export.name] = export


def delete_change_set(self: Any, change_set_name: str) -> None:
    """Deleting a change set that is not there succeeds, as in CloudFormation: the CDK CLI
    deletes its change set by name before every deployment of an existing stack, whether one is
    left or not. moto fails with an internal error instead."""
    if change_set_name in self.change_sets:  # an ARN
        del self.change_sets[change_set_name]
        return
    for change_set_id, change_set in list(self.change_sets.items()):
        if change_set.change_set_name == change_set_name:
            del self.change_sets[change_set_id]
            return


def delete_stack(self: Any, name_or_stack_id: str) -> None:
    """``CloudFormationBackend.delete_stack``."""
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in self.stacks.values() if s.name == name_or_stack_id), None
    )
    if stack is None:
        return  # CloudFormation: deleting a stack that does not exist succeeds
    for resource in stack.custom_resources.values():
        if isinstance(resource, AwsCustomResource):
            resource.delete_failure = None
    template_resources = stack.resource_map._resource_json_map
    existing = [
        (logical_id, resource, template_resources[logical_id])
        for logical_id, resource in stack.resource_map._parsed_resources.items()
        if logical_id in template_resources and resource is not None
    ]
    try:
        stack.delete()
    except Exception as error:  # the stack stays, DELETE_FAILED, with what is left of it
        fail_stack(stack, "DELETE_FAILED", error)
        return
    report_resources(
        stack,
        [
            (
                logical_id,
                resource_json["Type"],
                resource,
                "RETAIN" if resource_json.get("DeletionPolicy") == "Retain" else "DELETE",
            )
            for logical_id, resource, resource_json in existing
        ],
    )
    del self.stacks[stack.stack_id]
    self.deleted_stacks[stack.stack_id] = stack
    _replace_exports(self, stack, [])


def stack_resources(self: Any) -> list[Any]:
    """``Stack.stack_resources``."""
    return [resource for resource in self.resource_map.values() if resource is not None]


def _described_parameter(value: Any, no_echo: bool) -> Any:
    if no_echo:
        return "****"
    return ",".join(map(str, value)) if isinstance(value, list) else value


def parameter_list(self: Any) -> list[dict[str, Any]]:
    """``Stack.parameter_list``: the parameters as CloudFormation describes them."""
    resource_map = self.resource_map
    no_echo = getattr(resource_map, "no_echo_parameter_keys", [])
    return [
        {"ParameterKey": key, "ParameterValue": _described_parameter(value, key in no_echo)}
        for key, value in resource_map.resolved_parameters.items()
    ]
