"""EventBridge rules that start Step Functions executions, and events that AWS services emit.

moto's EventBridge matches events against rules but delivers only to log groups, archives, SQS
queues, other buses and API destinations: a rule whose target is a state machine raised
``NotImplementedError`` (moto/events/models.py, ``Rule.send_to_targets``), and moto delivers to
rules that are ``DISABLED`` too. Patched here, after the EventBridge user guide:

- A ``DISABLED`` rule matches no event ("EventBridge does not match any events",
  https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html, ``State``).
- A target that is a state machine (``arn:aws:states:...:stateMachine:...``) starts an
  execution of it, named by EventBridge (a UUID here), whose input is the event, or what the
  target makes of it: ``Input`` (a constant JSON text), ``InputPath`` (a JSONPath into the
  event) or ``InputTransformer`` (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_Target.html;
  the transformer as :mod:`._input_transformer` applies it).
  The event is the EventBridge envelope (``version``, ``id``, ``detail-type``, ``source``,
  ``account``, ``time`` as ``2019-12-03T13:57:33Z``, ``region``, ``resources``, ``detail``:
  https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html).
- :func:`emit` delivers an event as an AWS service sends it, to the rules of the account's and
  region's default bus (services send to the default bus only).
- A state machine the target cannot start (it no longer exists, or refuses the input) drops
  the event with a warning in the log, as EventBridge drops an event it fails to deliver; the
  SageMaker request or the ``PutEvents`` call that sent it succeeds (moto failed it with the
  Step Functions error).
Any other target is moto's; one moto cannot deliver to (an SNS topic, a Lambda function) is
skipped with a warning for the events :func:`emit` sends, so that the request that sent the event
still succeeds.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import uuid
from typing import Any, Final

from moto.events.models import Rule, events_backends

from . import _input_transformer as input_transformer
from ._state import LOCK

logger = logging.getLogger(__name__)
_original: Any = None
_DEFAULT_BUS: Final = "default"


def _is_state_machine(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) >= 7 and parts[2] == "states" and parts[5] == "stateMachine"


def _iso(time: Any) -> Any:
    """moto keeps ``time`` as epoch seconds; EventBridge delivers ``2019-12-03T13:57:33Z``."""
    if isinstance(time, int | float):
        moment = datetime.datetime.fromtimestamp(float(time), tz=datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return time


def _target_input(target: dict[str, Any], event: dict[str, Any], rule: Rule) -> str:
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext.parser import parse

        found = [m.value for m in parse(target["InputPath"]).find(event)]
        return json.dumps(found[0] if found else None)
    transformer = target.get("InputTransformer")
    if transformer:
        values = input_transformer.variables(
            transformer.get("InputPathsMap") or {}, event, str(rule.arn), str(rule.name)
        )
        return input_transformer.render(str(transformer.get("InputTemplate", "")), values)
    return json.dumps({k: v for k, v in event.items() if k != "ingestion-time"})


def _start_execution(target: dict[str, Any], event: dict[str, Any], rule: Rule) -> None:
    from moto.stepfunctions.responses import get_backend

    arn = str(target["Arn"])
    _, _, _, region, account, *_ = arn.split(":")
    get_backend(account, region).start_execution(
        state_machine_arn=arn,
        name=str(uuid.uuid4()),
        execution_input=_target_input(target, event, rule),
    )


def _send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    if self.state != "ENABLED":
        return
    machines = [t for t in self.targets if _is_state_machine(str(t.get("Arn", "")))]
    if machines and self.event_pattern.matches_event(original_event):
        event = dict(original_event)
        event["time"] = _iso(event.get("time"))
        for target in machines:
            try:
                _start_execution(target, event, self)
            except Exception as error:
                # A target EventBridge fails to invoke (a state machine that no longer exists,
                # an input Step Functions refuses) drops the event ("If an event isn't delivered
                # after all retry attempts are exhausted, the event is dropped":
                # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html);
                # the request that sent the event has already succeeded.
                logger.warning("rule %s: event not delivered to %s: %s", self.name, target, error)
    others = [t for t in self.targets if t not in machines]
    if others:  # after the state machines: moto raises for targets it cannot deliver to
        rest = copy.copy(self)
        rest.targets = others
        _original(rest, original_event, transform_input)


def emit(
    account_id: str,
    region: str,
    *,
    source: str,
    detail_type: str,
    detail: dict[str, Any],
    resources: list[str],
) -> None:
    """Send an event as an AWS service does, to the matching rules of the default bus."""
    backend = events_backends[account_id][region]
    bus = backend.event_buses.get(_DEFAULT_BUS)
    if bus is None:
        return
    event: Any = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": datetime.datetime.now(tz=datetime.UTC).timestamp(),
        "region": region,
        "resources": list(resources),
        "detail": detail,
    }
    event["ingestion-time"] = event["time"]  # moto's EventTemplateParser reads it
    for rule in list(bus.rules.values()):
        try:
            rule.send_to_targets(copy.deepcopy(event))
        except NotImplementedError:
            # A target moto cannot deliver to (SNS, Lambda, ...): the service's request that
            # sent the event succeeds all the same, as delivery is EventBridge's business.
            logger.warning("rule %s: a target of %s is not emulated", rule.name, detail_type)


def patch() -> None:
    global _original
    with LOCK:
        if _original is None:
            _original = Rule.send_to_targets
            setattr(Rule, "send_to_targets", _send_to_targets)  # noqa: B010


def unpatch() -> None:
    global _original
    with LOCK:
        if _original is not None:
            setattr(Rule, "send_to_targets", _original)  # noqa: B010
            _original = None
