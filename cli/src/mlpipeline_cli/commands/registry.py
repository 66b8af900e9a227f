"""``models``, ``approve``, ``reject`` and ``deploy``: the versions of the pipeline's model
package group, their approval, and deploying one (or rolling back to one) without training.

Approving and rejecting is SageMaker's UpdateModelPackage with ``ModelApprovalStatus`` and
``ApprovalDescription`` (at most 1024 characters matching ``.*``:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateModelPackage.html). A version
registered by a run in ``manual`` mode is deployed by the pipeline's approval rule when it
becomes Approved (an EventBridge rule on its ``SageMaker Model Package State Change`` event:
https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html);
``deploy`` starts a run with the run input ``modelPackage``
(:mod:`mlpipeline_cdk.contract.run_input`), which trains nothing and deploys that version through
the same deployment steps.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from mlpipeline_cdk.contract import registry as contract
from mlpipeline_cdk.contract import run_input as run_input_contract

from .._aws import CliError
from .._context import PROG, Context, print_json, table
from .._history import as_datetime, iso, local_time
from .._registry import (
    Live,
    Version,
    describe,
    group_name,
    latest_group,
    live,
    newest_approved,
    resolve,
    summaries,
)
from .run import follow

_MODELS_HEADER = ["VERSION", "STATUS", "ACCURACY", "CREATED", "TRAINING JOB", "LIVE", "NOTE"]


def _models_row(version: Version, serving: Live) -> list[str]:
    accuracy = version.accuracy
    return [
        str(version.number if version.number is not None else "-"),
        version.status,
        f"{accuracy:.4f}" if accuracy is not None else "-",
        local_time(version.created, date=True) if version.created else "-",
        version.training_job or "-",
        "live" if serving.serves(version) else "",
        " ".join((version.approval_description or "").split()),
    ]


def cmd_models(context: Context) -> int:
    group = group_name(context)
    versions = [describe(context, str(s["ModelPackageArn"])) for s in summaries(context, group)]
    versions.sort(key=lambda v: (v.number or 0, v.created or 0), reverse=True)
    serving = live(context)
    if context.args.json:
        print_json([version.to_json(live=serving.serves(version)) for version in versions])
        return 0
    if not versions:
        print(
            f"model package group {group} has no versions yet: a run whose model passes the "
            "gate registers one"
        )
        return 0
    print(table([_MODELS_HEADER, *(_models_row(version, serving) for version in versions)]))
    if serving.endpoint and not any(serving.serves(version) for version in versions):
        # A stage that promotes another group's versions, or a model not from the registry.
        served = ", ".join(sorted(serving.packages)) or "a model of no model package"
        print(f"endpoint {serving.endpoint} serves {served}, not a version of {group}")
    return 0


# --------------------------------------------------------------------------------------------
# approve and reject
# --------------------------------------------------------------------------------------------


def _change(context: Context, status: str, description: str | None) -> int:
    version = resolve(context, context.args.version)
    if version.status == status:
        raise CliError(f"{version.label} is already {status}")
    # Everything the notes need is read first, so that nothing fails after the change.
    is_live = live(context).serves(version)
    starts_deployment = status == contract.APPROVED and _deployed_on_approval(context, version)
    request: dict[str, Any] = {"ModelPackageArn": version.arn, "ModelApprovalStatus": status}
    if description is not None:
        request["ApprovalDescription"] = description
    approved_at = datetime.now(UTC)
    context.call("sagemaker", "update_model_package", **request)
    if context.args.json:
        print_json(
            {
                **version.to_json(live=is_live),
                "previousApprovalStatus": version.status,
                "approvalStatus": status,
                "approvalDescription": description
                if description is not None
                else version.approval_description,
                "deploymentStarts": starts_deployment,
            }
        )
    else:
        print(f"{version.label}: {version.status} -> {status}")
    watch = bool(getattr(context.args, "watch", False))
    if not context.args.json:
        for note in _notes(version, status, is_live=is_live, starts_deployment=starts_deployment):
            if not (watch and starts_deployment):
                print(note)
    if watch and starts_deployment:
        return follow(context, _run_of_approval(context, version, approved_at))
    return 0


#: How long ``approve --watch`` looks for the run the approval rule starts. EventBridge delivers
#: within seconds, and retries a failed delivery for up to 24 hours
#: (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html).
_RULE_RUN_TIMEOUT: Final = 120.0


def _run_of_approval(context: Context, version: Version, approved_at: datetime) -> str:
    """The execution the approval rule started for ``version``: one started after the approval
    (less a minute of clock skew) whose input names it (ListExecutions is newest first;
    DescribeExecution gives the input)."""
    since = approved_at - timedelta(minutes=1)
    deadline = time.monotonic() + _RULE_RUN_TIMEOUT
    state_machine = context.pipeline.state_machine_arn
    while True:
        listed = context.call(
            "stepfunctions", "list_executions", stateMachineArn=state_machine, maxResults=10
        )
        for execution in listed.get("executions", []):
            started = as_datetime(execution.get("startDate"))
            if started is not None and started < since:
                break
            described = context.call(
                "stepfunctions", "describe_execution", executionArn=execution["executionArn"]
            )
            given = json.loads(described.get("input") or "{}")
            named = isinstance(given, dict) and given.get(run_input_contract.MODEL_PACKAGE)
            if named == version.arn:
                print(f"deploying {version.label}: {execution['executionArn']}", file=sys.stderr)
                return str(execution["executionArn"])
        if time.monotonic() > deadline:
            raise CliError(
                f"no run of the approval rule for {version.label} started within "
                f"{int(_RULE_RUN_TIMEOUT)} s; look for it with: {PROG} list"
            )
        time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))


def _deployed_on_approval(context: Context, version: Version) -> bool:
    """Whether the pipeline's approval rule deploys ``version`` now that it is Approved: a
    version of the pipeline's own group registered by a run in ``manual`` mode (the rule's
    pattern matches the group and the lineage's ``APPROVAL_MODE`` ``manual``)."""
    if version.approval_mode != contract.MANUAL:
        return False
    try:
        own = group_name(context)
    except CliError:
        return False  # a stack without a registry's output: no approval rule of this pipeline
    return version.group == own.rsplit("/", 1)[-1]


def _notes(version: Version, status: str, *, is_live: bool, starts_deployment: bool) -> list[str]:
    number = str(version.number) if version.number is not None else version.arn
    if status == contract.REJECTED:
        if not is_live:
            return []
        return [
            f"{version.label} is live: the endpoint keeps serving it until another version is "
            f"deployed ({PROG} deploy VERSION, or {PROG} deploy latest for the newest Approved "
            "one)"
        ]
    if starts_deployment:
        return [
            "it was registered for manual approval: the pipeline's approval rule now starts a "
            f"run that deploys it; follow it with: {PROG} watch --latest"
        ]
    if is_live:
        return [f"{version.label} is live: the endpoint serves it already"]
    return [
        f"approving it deploys nothing (it was registered in "
        f"{version.approval_mode or 'no'} approval mode, or by another pipeline); deploy it "
        f"with: {PROG} deploy {number}"
    ]


def cmd_approve(context: Context) -> int:
    return _change(context, contract.APPROVED, context.args.description)


def cmd_reject(context: Context) -> int:
    return _change(context, contract.REJECTED, context.args.reason)


# --------------------------------------------------------------------------------------------
# deploy
# --------------------------------------------------------------------------------------------


def _target(context: Context) -> tuple[Version, str]:
    """The version to deploy and the run input's ``modelPackage`` value; refused unless it
    exists and is Approved, as the state machine would (``ModelPackageNotFound``,
    ``ModelPackageNotApproved``, ``NoApprovedModelPackage``: mlpipeline_cdk.contract.registry)."""
    text = context.args.version
    if text == contract.LATEST:
        group = latest_group(context)
        found = newest_approved(context, group)
        if found is None:
            raise CliError(
                f"model package group {group} has no Approved version to deploy (approve one "
                f"with: {PROG} approve VERSION; list them with: {PROG} models)"
            )
        return found, contract.LATEST
    version = resolve(context, text)
    if version.status != contract.APPROVED:
        number = version.number if version.number is not None else version.arn
        raise CliError(
            f"{version.label} is {version.status}; only an Approved version is deployed "
            f"(approve it with: {PROG} approve {number})"
        )
    return version, version.arn


def cmd_deploy(context: Context) -> int:
    args = context.args
    version, value = _target(context)
    document = {run_input_contract.MODEL_PACKAGE: value}
    state_machine = context.pipeline.state_machine_arn
    started = context.call(
        "stepfunctions",
        "start_execution",
        stateMachineArn=state_machine,
        input=json.dumps(document),
    )
    execution_arn = str(started["executionArn"])
    what = f"deploying {version.label}" + (" (the newest Approved)" if value == "latest" else "")
    if args.watch:
        if not args.json:
            print(f"{what}: started {execution_arn}", file=sys.stderr)
        return follow(context, execution_arn)
    if args.json:
        start = iso(as_datetime(started.get("startDate")))
        print(
            json.dumps(
                {
                    "executionArn": execution_arn,
                    "startDate": start,
                    "input": document,
                    "modelPackageArn": version.arn,
                    "modelPackageVersion": version.number,
                }
            )
        )
        return 0
    print(execution_arn)
    print(f"{what}; follow it with: {PROG} watch {execution_arn}", file=sys.stderr)
    return 0
