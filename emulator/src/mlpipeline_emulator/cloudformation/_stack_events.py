"""Stack status and events as CloudFormation reports them.

- **Resource events**: moto reports a stack operation on the stack alone; CloudFormation reports
  each resource, which the CDK CLI shows as its progress (:func:`report_resources`).
- **Failures are stack states**: in CloudFormation a resource that fails leaves the stack
  ``CREATE_FAILED``/``UPDATE_FAILED`` (as with rollback disabled: there is no rollback here) or
  ``DELETE_FAILED``, with the reason in its events (:func:`fail_stack`).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any, Final

from moto.cloudformation import models as cfn_models

logger = logging.getLogger(__name__)

#: A change set's change actions as the resource statuses name them.
CHANGE_VERBS: Final = {"Add": "CREATE", "Modify": "UPDATE", "Remove": "DELETE"}


class ResourceFailedError(Exception):
    """A resource that CloudFormation would mark ``*_FAILED``, with the reason it would show."""

    def __init__(self, logical_id: str, resource_type: str, physical_id: str, reason: str):
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.physical_id = physical_id
        self.reason = reason


def _resource_event(
    stack: Any,
    logical_id: str,
    resource_type: str,
    physical_id: str,
    status: str,
    reason: str | None = None,
) -> Any:
    return cfn_models.Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=physical_id,
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )


def fail_stack(stack: Any, status: str, error: Exception) -> None:
    """Put ``stack`` in the failed ``status``, with events that say why (a resource's failure is
    reported on the resource too)."""
    if isinstance(error, ResourceFailedError):
        reason = f"The following resource(s) failed: [{error.logical_id}]. {error.reason}"
        stack.events.append(
            _resource_event(
                stack,
                error.logical_id,
                error.resource_type,
                error.physical_id,
                status,
                error.reason,
            )
        )
    else:
        reason = f"{type(error).__name__}: {error}"
        logger.exception("stack %s: %s", stack.name, status, exc_info=error)
    stack._add_stack_event(status, resource_status_reason=reason)
    stack.status = status


def report_resources(stack: Any, changes: list[tuple[str, str, Any, str]]) -> None:
    """Events for each resource a stack operation changed (``logical id, type, resource, verb``;
    verb ``RETAIN`` for ``DELETE_SKIPPED``), before the operation's final stack event. moto
    reports the stack alone, so the CLI counted one resource of many. They are reported once
    the operation is done, in the order given, not as each resource was handled."""
    final = stack.events.pop()
    # Between the operation's first and last stack events, a millisecond apart (the precision
    # of the API's timestamps), so that they sort as they happened.
    moment = stack.events[-1].timestamp if stack.events else final.timestamp
    for logical_id, resource_type, resource, verb in changes:
        physical_id = getattr(resource, "physical_resource_id", None) or ""
        statuses = (
            ["DELETE_SKIPPED"] if verb == "RETAIN" else [f"{verb}_IN_PROGRESS", f"{verb}_COMPLETE"]
        )
        for status in statuses:
            event = _resource_event(stack, logical_id, resource_type, physical_id, status)
            moment += datetime.timedelta(milliseconds=1)
            event.timestamp = moment
            stack.events.append(event)
    final.timestamp = max(final.timestamp, moment + datetime.timedelta(milliseconds=1))
    stack.events.append(final)
