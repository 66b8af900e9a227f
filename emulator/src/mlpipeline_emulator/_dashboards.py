"""CloudWatch dashboards and run metrics as AWS checks them, where moto does not.

- **PutDashboard** (and ``AWS::CloudWatch::Dashboard``, which moto creates through the same
  backend call): moto stored any JSON body under any name. CloudWatch refuses, with
  ``InvalidParameterInput`` (botocore: DashboardInvalidInputError, whose
  ``dashboardValidationMessages`` hold ``DataPath`` and ``Message``), a name that is not 1 to
  255 of ``A-Z a-z 0-9 - _`` (PutDashboard's DashboardName) and a body that breaks the documented
  structure (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html):
  a ``widgets`` array (0 to 500 widgets) is required; each widget has a ``type`` (``metric``,
  ``text``, ``log``, ``alarm``, ``explorer``, ``custom``), ``width`` 1 to 24, ``height`` 1 to
  1000, ``x`` 0 to 23 and ``y`` at least 0; a text widget has ``markdown``; a metric widget has
  ``metrics`` (or ``annotations.alarms``); an alarm status widget has 1 to 100 ``alarms``.
  The messages are in the error's message here (moto's errors carry a message only).
- **Error names of the AWS SDK integration**: ``CloudWatch.<Error>Exception``
  (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html); moto
  named them after the lowercase service id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

from moto.cloudwatch.exceptions import DashboardInvalidInputError
from moto.cloudwatch.models import CloudWatchBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
)

from ._state import LOCK

_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")
_TYPES: Final = ("metric", "text", "log", "alarm", "explorer", "custom")
_MAX_WIDGETS: Final = 500
_MAX_ALARMS: Final = 100
_SERVICE: Final = "cloudwatch"
_originals: dict[str, Any] = {}


def _whole(value: Any, low: int, high: int | None) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    )


def _widget_problems(path: str, widget: Any) -> Iterator[tuple[str, str]]:
    if not isinstance(widget, dict):
        yield path, "Should be object"
        return
    kind = widget.get("type")
    if kind not in _TYPES:
        yield f"{path}/type", f"Should be equal to one of the allowed values {list(_TYPES)}"
    for key, low, high in (("width", 1, 24), ("height", 1, 1000), ("x", 0, 23), ("y", 0, None)):
        if key in widget and not _whole(widget[key], low, high):
            upper = f" and at most {high}" if high is not None else ""
            yield f"{path}/{key}", f"Should be an integer at least {low}{upper}"
    properties = widget.get("properties")
    if not isinstance(properties, dict):
        yield f"{path}/properties", "Should have required property 'properties'"
        return
    if kind == "text" and not isinstance(properties.get("markdown"), str):
        yield f"{path}/properties", "Should have required property 'markdown'"
    if kind == "metric" and not (
        "metrics" in properties or "alarms" in properties.get("annotations", {})
    ):
        yield f"{path}/properties", "Should have required property 'metrics'"
    if kind == "alarm":
        alarms = properties.get("alarms")
        if not isinstance(alarms, list) or not 1 <= len(alarms) <= _MAX_ALARMS:
            yield f"{path}/properties/alarms", "Should be an array of 1 to 100 alarm ARNs"


def dashboard_problems(name: Any, body: Any) -> list[tuple[str, str]]:
    """``(DataPath, Message)`` of each way ``name`` and ``body`` break CloudWatch's rules."""
    problems: list[tuple[str, str]] = []
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        problems.append(
            ("DashboardName", "must be 1 to 255 characters of A-Z, a-z, 0-9, '-' and '_'")
        )
    try:
        document = json.loads(body) if isinstance(body, str) else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return [*problems, ("", "The dashboard body is not a JSON object")]
    widgets = document.get("widgets")
    if not isinstance(widgets, list):
        return [*problems, ("", "Should have required property 'widgets'")]
    if len(widgets) > _MAX_WIDGETS:
        problems.append(("/widgets", f"Should NOT have more than {_MAX_WIDGETS} items"))
    for index, widget in enumerate(widgets):
        problems.extend(_widget_problems(f"/widgets/{index}", widget))
    return problems


def _wrap_put_dashboard(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_dashboard(self: CloudWatchBackend, name: str, body: str) -> Any:
        problems = dashboard_problems(name, body)
        if problems:
            listed = ", ".join(
                json.dumps({"dataPath": path, "message": message}) for path, message in problems
            )
            raise DashboardInvalidInputError(
                f"The dashboard body is invalid, there are {len(problems)} validation errors: "
                f"[{listed}]"
            )
        return original(self, name, body)

    return put_dashboard


def patch() -> None:
    with LOCK:
        if _originals:
            return
        _originals["put_dashboard"] = CloudWatchBackend.put_dashboard
        CloudWatchBackend.put_dashboard = _wrap_put_dashboard(  # type: ignore[method-assign]
            CloudWatchBackend.put_dashboard
        )
        state_task_service_aws_sdk._SERVICE_ERROR_NAMES[_SERVICE] = "CloudWatch"


def unpatch() -> None:
    with LOCK:
        if not _originals:
            return
        CloudWatchBackend.put_dashboard = _originals.pop("put_dashboard")  # type: ignore[method-assign]
        state_task_service_aws_sdk._SERVICE_ERROR_NAMES.pop(_SERVICE, None)
