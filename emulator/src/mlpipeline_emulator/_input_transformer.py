"""An EventBridge target's ``InputTransformer`` applied to an event, as EventBridge applies it.

After the EventBridge user guide, "Amazon EventBridge input transformation"
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html) and the
API reference's ``InputTransformer`` (https://docs.aws.amazon.com/eventbridge/latest/APIReference/
API_InputTransformer.html):

- ``InputPathsMap`` names variables, each the value a JSON path finds in the event; a path that
  finds nothing creates no variable, which "doesn't appear in the output" (the guide's tutorial):
  nothing inside a JSON string, ``null`` as a JSON value, since EventBridge "replaces input
  transformers at runtime to ensure a valid JSON output".
- The predefined variables: ``aws.events.rule-arn``, ``aws.events.rule-name``,
  ``aws.events.event.ingestion-time`` (an ISO 8601 timestamp), ``aws.events.event`` (the event
  without ``detail``) and ``aws.events.event.json`` (the whole event).
- An ``InputTemplate`` that is a JSON object or array takes each ``<variable>`` as JSON: outside
  quotes a variable is its JSON value, a string with its quotes (the guide's "Simple JSON"
  example: ``{"instance" : <instance>}`` gives ``{"instance" : "i-0123456789"}``); inside quotes
  it is the value's text within that string (``"<instance> is in state <state>"``). This is
  how ``events.RuleTargetInput.from_object`` of aws-cdk-lib renders an ``EventField``:
  ``{"modelPackage":<detail-ModelPackageArn>}``. moto pasted every value's bare text, so such a
  template gave text that is not JSON and the execution never started.
- Any other template is text, each ``<variable>`` replaced by its text.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from typing import Any, Final

_PLACEHOLDER: Final = re.compile(r"<([^<>\s]+)>")
_ABSENT: Final = object()


def _find(path: str, event: Mapping[str, Any]) -> Any:
    from jsonpath_ng.ext.parser import parse

    found = [m.value for m in parse(path).find(event)]
    if not found:
        return _ABSENT
    return found[0] if len(found) == 1 else found


def _iso(moment: Any) -> Any:
    if isinstance(moment, int | float):
        when = datetime.datetime.fromtimestamp(float(moment), tz=datetime.UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment


def variables(
    paths: Mapping[str, str], event: Mapping[str, Any], rule_arn: str, rule_name: str
) -> dict[str, Any]:
    """The template's variables: the predefined ones, then those of ``paths`` that exist."""
    public = {k: v for k, v in event.items() if k != "ingestion-time"}
    found: dict[str, Any] = {
        "aws.events.rule-arn": rule_arn,
        "aws.events.rule-name": rule_name,
        "aws.events.event.ingestion-time": _iso(event.get("ingestion-time", event.get("time"))),
        "aws.events.event": {k: v for k, v in public.items() if k != "detail"},
        "aws.events.event.json": public,
    }
    for name, path in paths.items():
        value = _find(path, event)
        found[name] = value
    return found


def _text(value: Any) -> str:
    if value is _ABSENT:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _json_value(value: Any) -> str:
    return "null" if value is _ABSENT else json.dumps(value)


def _in_string_at(template: str, end: int, start: int, inside: bool) -> bool:
    """Whether the text ``template[start:end]`` leaves a JSON string open (given ``inside``)."""
    escaped = False
    for char in template[start:end]:
        if escaped:
            escaped = False
        elif char == "\\" and inside:
            escaped = True
        elif char == '"':
            inside = not inside
    return inside


def render(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with its ``<variable>`` placeholders replaced, as EventBridge does."""
    is_json = template.strip()[:1] in ("{", "[")
    out: list[str] = []
    position = 0
    inside = False
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            continue
        inside = _in_string_at(template, match.start(), position, inside)
        out.append(template[position : match.start()])
        value = values[name]
        if not is_json:
            out.append(_text(value))
        elif inside:
            out.append(json.dumps(_text(value))[1:-1])
        else:
            out.append(_json_value(value))
        position = match.end()
    out.append(template[position:])
    return "".join(out)
