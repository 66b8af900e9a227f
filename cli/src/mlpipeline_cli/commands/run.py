"""``run`` and ``watch``: start an execution, follow one to its end."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mlpipeline_cdk.contract import outputs
from mlpipeline_cdk.contract import run_input as run_input_contract

from .._aws import EXPECTED_ERRORS, CliError, UsageError, is_client_error
from .._context import PROG, Context, print_json
from .._history import as_datetime, iso
from .._run_checks import data_uri_prefix
from .._tuning_options import tuning_input


def run_input(args: argparse.Namespace) -> dict[str, Any]:
    """The execution input for the options of ``run``: only the keys given."""
    document: dict[str, Any] = {}
    if args.hyperparameters:
        hyperparameters: dict[str, str] = {}
        for name, value in args.hyperparameters:
            if name in hyperparameters:
                raise UsageError(f"--hyperparameter {name} is given twice")
            hyperparameters[name] = value
        document[run_input_contract.HYPERPARAMETERS] = hyperparameters
    for key, value in (
        (run_input_contract.TRAINING_INSTANCE_TYPE, args.instance_type),
        (run_input_contract.TRAINING_INSTANCE_COUNT, args.instance_count),
        (run_input_contract.TRAINING_DATA_URI, args.data_uri),
        (run_input_contract.MAX_RUNTIME_SECONDS, args.max_runtime),
        (run_input_contract.SPOT, args.spot),
        (run_input_contract.ACCURACY_THRESHOLD, args.threshold),
        (run_input_contract.APPROVAL, args.approval),
    ):
        if value is not None:
            document[key] = value
    tuning = tuning_input(args)
    if tuning is not None:
        document[run_input_contract.TUNING] = tuning
    # The contract's own check, so that what the state machine would refuse is refused here,
    # with the same words, before anything starts.
    problems = run_input_contract.check(document)
    if problems:
        raise UsageError("; ".join(problems))
    return document


def _check_data_uri(context: Context, document: dict[str, Any]) -> None:
    """Refuse a data URI outside the stack's data bucket and prefix before anything starts,
    as the state machine would (with its message), so no failed run or notification is left."""
    if run_input_contract.TRAINING_DATA_URI not in document:
        return
    try:
        bucket = context.pipeline.output(outputs.DATA_BUCKET_NAME, "--state-machine-arn")
        prefix = context.pipeline.output(outputs.DATA_PREFIX, "--state-machine-arn")
    except Exception as exc:
        # No stack names them (--state-machine-arn alone), or CloudFormation may not be read:
        # the state machine still checks.
        if isinstance(exc, CliError) or is_client_error(exc):
            return
        raise
    problems = run_input_contract.check(
        {run_input_contract.TRAINING_DATA_URI: document[run_input_contract.TRAINING_DATA_URI]},
        data_uri_prefix=data_uri_prefix(bucket, prefix),
    )
    if problems:
        raise UsageError(f"--data-uri: {'; '.join(problems)}")


def cmd_run(context: Context) -> int:
    args = context.args
    document = run_input(args)
    if args.name and not run_input_contract.is_valid_execution_name(args.name):
        raise UsageError(EXPECTED_ERRORS["InvalidName", "name"].format(name=args.name))
    state_machine = context.pipeline.state_machine_arn
    _check_data_uri(context, document)
    request = {"stateMachineArn": state_machine, "input": json.dumps(document)}
    if args.name:
        request["name"] = args.name
    if args.dry_run:
        print_json({**request, "input": document})
        return 0
    started = context.call("stepfunctions", "start_execution", **request)
    execution_arn = str(started["executionArn"])
    if args.wait:
        if not args.json:
            print(f"started {execution_arn}", file=sys.stderr)
        return follow(context, execution_arn)
    if args.json:
        start = iso(as_datetime(started.get("startDate")))
        print(json.dumps({"executionArn": execution_arn, "startDate": start, "input": document}))
    else:
        print(execution_arn)
        print(f"follow it with: {PROG} watch {execution_arn}", file=sys.stderr)
    return 0


def cmd_watch(context: Context) -> int:
    execution_arn = execution_arn_of(context)
    # A clear error before following nothing.
    context.call("stepfunctions", "describe_execution", executionArn=execution_arn)
    return follow(context, execution_arn)


def follow(context: Context, execution_arn: str) -> int:
    """Show an execution's events until it ends; the exit status says whether it succeeded."""
    from .._watch_follow import follow as follow_execution

    return follow_execution(context, execution_arn)


def execution_arn_of(context: Context) -> str:
    """The execution named on the command line: an ARN, a name, or ``--latest``."""
    args = context.args
    if args.latest and args.execution:
        raise UsageError("name an execution or pass --latest, not both")
    if args.latest:
        return _latest(context)
    if not args.execution:
        raise UsageError("name an execution (its ARN or its name) or pass --latest")
    text = str(args.execution)
    if text.startswith("arn:"):
        if ":execution:" not in text:
            raise UsageError(f"{text} is not an execution ARN (arn:...:execution:MACHINE:NAME)")
        context.clients.use_region_of(text)
        return text
    state_machine = context.pipeline.state_machine_arn
    if ":stateMachine:" not in state_machine:
        raise CliError(f"{state_machine} is not a state machine ARN")
    return state_machine.replace(":stateMachine:", ":execution:", 1) + ":" + text


def _latest(context: Context) -> str:
    state_machine = context.pipeline.state_machine_arn
    response = context.call(
        "stepfunctions", "list_executions", stateMachineArn=state_machine, maxResults=1
    )
    executions = response.get("executions", [])
    if not executions:
        raise CliError(
            f"the state machine {state_machine} has no executions yet; start one with: {PROG} run"
        )
    return str(executions[0]["executionArn"])
