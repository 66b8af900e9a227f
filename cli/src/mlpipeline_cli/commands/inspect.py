"""``list`` and ``describe``: recent executions, and one execution in full."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from mlpipeline_cdk.contract import run_input, run_output
from mlpipeline_cdk.contract.registry import LATEST

from .._aws import error_code, is_client_error
from .._context import PROG, Context, print_json, table
from .._history import (
    UTC,
    as_datetime,
    deploy_target,
    evaluation_of,
    execution_record,
    failing_state,
    format_duration,
    loads,
    local_time,
    summarize_output,
)
from .._tuning import tuning_job_name, tuning_lines, tuning_record
from .run import execution_arn_of

_LIST_HEADER = [
    "NAME",
    "STATUS",
    "STARTED",
    "DURATION",
    "ACCURACY",
    "VERSION",
    "ENDPOINT",
    "ERROR",
]


def _now() -> datetime:
    return datetime.now(UTC)


def _describe(context: Context, execution_arn: str) -> dict[str, Any]:
    return dict(context.call("stepfunctions", "describe_execution", executionArn=execution_arn))


def _executions(context: Context, state_machine: str) -> list[dict[str, Any]]:
    args = context.args
    request: dict[str, Any] = {"stateMachineArn": state_machine, "maxResults": min(args.max, 1000)}
    if args.status:
        request["statusFilter"] = args.status
    items: list[dict[str, Any]] = []
    while len(items) < args.max:
        page = context.call("stepfunctions", "list_executions", **request)
        items.extend(page.get("executions", []))
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    return items[: args.max]


def _list_row(record: dict[str, Any]) -> list[str]:
    start = as_datetime(record["startDate"])
    duration = format_duration(record["durationSeconds"])
    if record["status"] == "RUNNING" and start is not None:
        duration = format_duration((_now() - start).total_seconds()) + " so far"
    accuracy = record["accuracy"]
    return [
        str(record["name"]),
        str(record["status"]),
        local_time(start, date=True) if start else "-",
        duration,
        f"{accuracy:.4f}" if isinstance(accuracy, (int, float)) else "-",
        _version_cell(record),
        str(record["endpointName"] or "-"),
        str(record["error"] or ""),
    ]


def _version_cell(record: dict[str, Any]) -> str:
    """The model registry's version of a run: the one it registered (``3``, ``3 awaiting
    approval``), or the one a run without training deploys (``deploy 3``, ``deploy latest``)."""
    version = record[run_output.MODEL_PACKAGE_VERSION]
    requested = record[run_input.MODEL_PACKAGE]
    if requested is not None:
        if version is None:  # not deployed (yet): the version the input names
            target = deploy_target(requested)
            version = target.split(" ")[1] if target.startswith("version ") else target
        return f"deploy {version}"
    if version is None:
        return "-"
    if record[run_output.DEPLOYMENT_STATUS] == run_output.AWAITING_APPROVAL:
        return f"{version} awaiting approval"
    return str(version)


#: Ended executions without an output, whose accuracy may still be in their history.
_ENDED_WITHOUT_OUTPUT = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def _record(context: Context, item: dict[str, Any]) -> dict[str, Any]:
    """``list``'s record of an execution; for one that ended without an output (a model below
    the threshold), the accuracy it was evaluated with, from its newest history events."""
    if item.get("status") == "RUNNING":
        return execution_record(item)
    record = execution_record(_describe(context, str(item["executionArn"])))
    if record["status"] in _ENDED_WITHOUT_OUTPUT and record["accuracy"] is None:
        page = context.call(
            "stepfunctions",
            "get_execution_history",
            executionArn=str(item["executionArn"]),
            maxResults=1000,
            reverseOrder=True,
            includeExecutionData=True,
        )
        record.update(evaluation_of(page.get("events", [])))
    return record


def cmd_list(context: Context) -> int:
    args = context.args
    state_machine = context.pipeline.state_machine_arn
    records = [_record(context, item) for item in _executions(context, state_machine)]
    if args.json:
        print_json(records)
    elif not records:
        print(f"no executions of {state_machine}" + (f" {args.status}" if args.status else ""))
    else:
        print(table([_LIST_HEADER, *(_list_row(record) for record in records)]))
    return 0


def _full_history(context: Context, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "executionArn": execution_arn,
        "maxResults": 1000,
        "includeExecutionData": True,
    }
    while True:
        page = context.call("stepfunctions", "get_execution_history", **request)
        events.extend(page.get("events", []))
        if not page.get("nextToken"):
            return sorted(events, key=lambda event: int(event["id"]))
        request["nextToken"] = page["nextToken"]


def _describe_fields(record: dict[str, Any]) -> list[tuple[str, Any]]:
    start, stop = as_datetime(record["startDate"]), as_datetime(record["stopDate"])
    fields = [
        ("execution", record["name"]),
        ("arn", record["executionArn"]),
        ("status", record["status"]),
        ("started", local_time(start, date=True) if start else "-"),
        ("stopped", local_time(stop, date=True) if stop else "-"),
        ("duration", format_duration(record["durationSeconds"])),
    ]
    if record[run_input.MODEL_PACKAGE] is not None:
        # A run that trains nothing and deploys a version of the model registry.
        fields.append(("deploys", _deploys_text(record[run_input.MODEL_PACKAGE])))
    if record["status"] == "SUCCEEDED":
        fields.append(("result", summarize_output(record["output"])))
    elif record["accuracy"] is not None:
        fields.append(("accuracy", _accuracy_text(record)))
    if record["failedState"]:
        fields.append(("failed in", record["failedState"]))
    if record["error"] or record["cause"]:
        fields.append(("error", record["error"] or "-"))
        fields.append(("cause", " ".join(str(record["cause"] or "-").split())))
    return fields


def _deploys_text(model_package: Any) -> str:
    target = deploy_target(model_package)
    if target == model_package:
        return f"{target} (the newest Approved version)" if target == LATEST else target
    return f"{target} ({model_package})"


def _accuracy_text(record: dict[str, Any]) -> str:
    threshold = record.get("accuracyThreshold")
    return f"{record['accuracy']:.4f}" + (
        f" (threshold {threshold:.4f})" if isinstance(threshold, (int, float)) else ""
    )


def _tuning(context: Context, history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The run's tuning job and its trials, or None when it ran none (or they cannot be read:
    then a warning says why)."""
    name = tuning_job_name(history)
    if name is None:
        return None
    try:
        return tuning_record(context.client("sagemaker"), name)
    except Exception as exc:
        if not is_client_error(exc):
            raise
        print(f"{PROG}: cannot read tuning job {name} ({error_code(exc)})", file=sys.stderr)
        return None


def cmd_describe(context: Context) -> int:
    execution_arn = execution_arn_of(context)
    detail = _describe(context, execution_arn)
    record = execution_record(detail)
    record["stateMachineArn"] = detail.get("stateMachineArn")
    record["input"] = loads(detail.get("input"))
    record["output"] = loads(detail.get("output"))
    record["failedState"] = None
    history = _full_history(context, execution_arn)
    if detail.get("status") in _ENDED_WITHOUT_OUTPUT:
        record["failedState"] = failing_state(history)
        if record["accuracy"] is None:
            record.update(evaluation_of(reversed(history)))
    record["tuning"] = _tuning(context, history)
    if context.args.json:
        print_json(record)
        return 0
    for label, value in _describe_fields(record):
        print(f"{label + ':':<11}{value}")
    for line in tuning_lines(record["tuning"]) if record["tuning"] else []:
        print(line)
    for key in ("input", "output"):
        if record[key] is not None:
            print(f"{key}:")
            print("  " + json.dumps(record[key], indent=2).replace("\n", "\n  "))
    return 0
