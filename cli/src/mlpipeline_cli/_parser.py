"""The command line's options: argument types, and one parser per command."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, NoReturn

from mlpipeline_cdk.contract import run_input as run_input_contract

from ._capture import add_capture_commands
from ._context import EXIT_USAGE, PROG
from ._endpoint import add_endpoint_commands
from ._parser_registry import add_registry_commands
from ._pipeline import DEFAULT_STACK_NAME
from ._predict import DEFAULT_MIN_CONFIDENCE
from ._run_checks import check_run_value

_EXECUTION_STATUSES: Final = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors end with one ``mlpipeline: error: ...`` line."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{PROG}: error: {message} (see: {self.prog} --help)\n")


def _hyperparameter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high}, got {value}")
        return value

    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def _run_input(key: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """The value of the run-input ``key``, refused with the state machine's own message."""

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            value = text  # not even a number: the contract's message says what is allowed
        problem = check_run_value(key, value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    return convert


def _endpoint_url(text: str) -> str:
    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    # botocore's endpoint.py refuses the same URLs with ValueError("Invalid endpoint: ...").
    if not (is_valid_endpoint_url(text) or is_valid_ipv6_endpoint_url(text)):
        raise argparse.ArgumentTypeError(
            f"expected a URL such as http://127.0.0.1:5000 (the emulator's) or "
            f"https://HOST, got {text!r}"
        )
    return text


def _region(text: str) -> str:
    from botocore.exceptions import InvalidRegionError
    from botocore.utils import validate_region_name

    try:
        validate_region_name(text)
    except InvalidRegionError:
        raise argparse.ArgumentTypeError(
            f"expected a region name such as us-east-1, got {text!r}"
        ) from None
    return text


def _s3_uri(text: str) -> str:
    if not re.match(r"^s3://[^/]+", text):
        raise argparse.ArgumentTypeError(f"expected an s3://BUCKET/PREFIX URI, got {text!r}")
    return text


# --------------------------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------------------------


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On the subcommands the defaults are suppressed, so that an option given before the
    # subcommand is not reset by the subcommand's default.
    default: Any = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("AWS and pipeline options")
    group.add_argument(
        "--region",
        type=_region,
        default=default,
        help="AWS region (default: the profile's; us-east-1 for an --endpoint-url on this machine)",
    )
    group.add_argument("--profile", default=default, help="AWS named profile")
    group.add_argument(
        "--endpoint-url",
        type=_endpoint_url,
        default=default,
        metavar="URL",
        help="send every AWS call to this URL (a local emulator such as moto_server; there, "
        "without a configured region and credentials, us-east-1 and dummy ones are used)",
    )
    group.add_argument(
        "--stack-name",
        default=default,
        help=f"the pipeline's CloudFormation stack (default: {DEFAULT_STACK_NAME}, or the "
        "stack holding --state-machine-arn)",
    )
    group.add_argument(
        "--state-machine-arn",
        default=default,
        metavar="ARN",
        help="the pipeline's state machine, instead of the stack's StateMachineArn output",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="show a traceback instead of a one-line error",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="Run, follow, inspect and use a deployed SageMaker training pipeline.",
        epilog="Exit status: 0 success, 1 error, 2 usage error, 3 the execution did not "
        "succeed (run --wait, watch, deploy --watch), 130 interrupted.",
    )
    _add_global_options(parser, suppress=False)
    common = Parser(add_help=False)
    _add_global_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=description, parents=[common])

    for add in (_add_run, _add_watch, _add_list, _add_describe, _add_predict, _add_upload):
        add(command)
    _add_dashboard(command)
    _add_graph_and_export(command)
    add_registry_commands(command, _add_follow_options)
    add_capture_commands(command)
    add_endpoint_commands(command)
    return parser


Command = Callable[[str, str, str], argparse.ArgumentParser]


def _add_dashboard(command: Command) -> None:
    from .commands.dashboard import cmd_dashboard

    command(
        "dashboard",
        "print the console URL of the pipeline's CloudWatch dashboard",
        "Print the console URL of the pipeline's CloudWatch dashboard (the stack's DashboardUrl "
        "output): runs, accuracy against the threshold, training time, the endpoint's traffic, "
        "latency, errors and instances, the rollout alarms.",
    ).set_defaults(handler=cmd_dashboard)


def _add_run(command: Command) -> None:
    from ._tuning_options import add_tuning_options
    from .commands.run import cmd_run

    run = command(
        "run",
        "start an execution, with per-run overrides",
        "Start an execution of the pipeline's state machine. Options override the stack's "
        "defaults for this run only; anything not given keeps the default. The input is checked "
        "against the pipeline's run-input contract before anything starts.",
    )
    run.add_argument(
        "--hyperparameter",
        dest="hyperparameters",
        action="append",
        type=_hyperparameter,
        default=[],
        metavar="NAME=VALUE",
        help="a hyperparameter for the training script, sent as a string (repeatable)",
    )
    run.add_argument(
        "--instance-type",
        type=_run_input(run_input_contract.TRAINING_INSTANCE_TYPE, str),
        help="training instance type, one SageMaker trains on (such as ml.m5.xlarge)",
    )
    run.add_argument(
        "--instance-count",
        type=_run_input(run_input_contract.TRAINING_INSTANCE_COUNT, int),
        help="training instances (more than 1 trains distributed)",
    )
    run.add_argument(
        "--data-uri", type=_s3_uri, help="training data, under the stack's data bucket and prefix"
    )
    run.add_argument(
        "--max-runtime",
        type=_run_input(run_input_contract.MAX_RUNTIME_SECONDS, int),
        metavar="SECONDS",
        help="stop training after this long",
    )
    run.add_argument(
        "--spot",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train on managed spot capacity (or not)",
    )
    run.add_argument(
        "--threshold",
        type=_run_input(run_input_contract.ACCURACY_THRESHOLD, float),
        help="deploy only if the final test accuracy reaches this (0 to 1)",
    )
    run.add_argument(
        "--approval",
        type=_run_input(run_input_contract.APPROVAL, str),
        metavar="automatic|manual",
        help="automatic: register the model as Approved and deploy it; manual: register it for "
        "approval and deploy nothing (default: the pipeline's registry.approval)",
    )
    run.add_argument("--name", help="the execution's name (default: one Step Functions makes)")
    run.add_argument("--wait", action="store_true", help="follow the execution to its end")
    run.add_argument("--dry-run", action="store_true", help="print the input; start nothing")
    add_tuning_options(run)
    _add_follow_options(run)
    run.set_defaults(handler=cmd_run)


def _add_watch(command: Command) -> None:
    from .commands.run import cmd_watch

    watch = command(
        "watch",
        "follow an execution live",
        "Follow an execution until it ends: its steps (check input, train, evaluate, deploy, "
        "wait for the endpoint) with their durations, the training job's status and metrics, "
        "the endpoint's status; --verbose shows every state.",
    )
    _add_execution_argument(watch)
    _add_follow_options(watch)
    watch.set_defaults(handler=cmd_watch)


def _add_list(command: Command) -> None:
    from .commands.inspect import cmd_list

    listing = command(
        "list",
        "list recent executions",
        "Recent executions, newest first, with accuracy and endpoint of the successful ones.",
    )
    listing.add_argument(
        "--max", type=_whole_number(1, 1000), default=10, help="at most this many (default: 10)"
    )
    listing.add_argument(
        "--status", choices=_EXECUTION_STATUSES, help="only executions in this state"
    )
    listing.add_argument("--json", action="store_true", help="print a JSON array")
    listing.set_defaults(handler=cmd_list)


def _add_describe(command: Command) -> None:
    from .commands.inspect import cmd_describe

    describe = command(
        "describe",
        "show one execution",
        "An execution's input, output and, when it failed, the state it failed in and why.",
    )
    _add_execution_argument(describe)
    describe.add_argument("--json", action="store_true", help="print a JSON object")
    describe.set_defaults(handler=cmd_describe)


def _add_predict(command: Command) -> None:
    from .commands.predict import cmd_predict

    predict = command(
        "predict",
        "send inputs to the endpoint",
        "Send inputs to the pipeline's endpoint and print its answers. Each FILE holds a batch "
        "of inputs along its first axis: a .npy array, a .json list, or any other format that "
        "--reader reads. Answers shaped {label, probabilities} are shown as a classifier's.",
    )
    predict.add_argument("files", nargs="+", type=Path, metavar="FILE")
    predict.add_argument(
        "--reader",
        metavar="MODULE:FUNCTION",
        help="reads the files that are not .npy or .json: a function of a path that returns an "
        "array (imported with the current folder on sys.path, e.g. scripts.mnist_data:read_idx)",
    )
    predict.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="the true labels, one per input (.npy, .json or what --reader reads): print accuracy",
    )
    predict.add_argument(
        "--limit", type=_whole_number(1, 10**7), metavar="N", help="only the first N inputs"
    )
    predict.add_argument("--endpoint-name", help="instead of the stack's EndpointName output")
    predict.add_argument(
        "--batch-size",
        type=_whole_number(1, 1000),
        default=100,
        help="inputs per request (default: 100)",
    )
    predict.add_argument(
        "--content-type",
        choices=("json", "npy"),
        default="json",
        help="request body: application/json or application/x-npy (default: json)",
    )
    predict.add_argument(
        "--probabilities", action="store_true", help="print every class's probability"
    )
    predict.add_argument(
        "--min-confidence",
        type=_fraction,
        default=DEFAULT_MIN_CONFIDENCE,
        metavar="P",
        help="call a classifier's answer unsure (LOW) when its label's probability is below P "
        f"(0 to 1; default: {DEFAULT_MIN_CONFIDENCE}, where the label is less likely than all "
        "other classes together)",
    )
    predict.add_argument("--json", action="store_true", help="print a JSON object")
    predict.set_defaults(handler=cmd_predict)


def _add_upload(command: Command) -> None:
    from .commands.upload import cmd_upload_data

    upload = command(
        "upload-data",
        "upload a folder of training data to the data bucket",
        "Upload the files of DIR (and its subfolders, hidden ones left out) to the pipeline's "
        "data bucket under its data prefix, where runs read their training data.",
    )
    upload.add_argument("directory", type=Path, metavar="DIR")
    upload.add_argument("--bucket", help="instead of the stack's DataBucketName output")
    upload.add_argument("--prefix", help="instead of the stack's DataPrefix output")
    upload.set_defaults(handler=cmd_upload_data)


def _add_graph_and_export(command: Command) -> None:
    from .commands.definition import cmd_export, cmd_graph

    graph = command(
        "graph",
        "draw the state machine (Mermaid or DOT)",
        "Draw the state machine as a Mermaid flowchart or a Graphviz graph: the deployed one, "
        "or the one in a synthesized template.",
    )
    _add_definition_options(graph)
    graph.add_argument(
        "--format", choices=("mermaid", "dot"), default="mermaid", help="(default: mermaid)"
    )
    graph.set_defaults(handler=cmd_graph)

    export = command(
        "export",
        "print the state machine as plain ASL JSON",
        "Print the state machine's definition as plain Amazon States Language JSON, for "
        "Workflow Studio or a diff: the deployed one, or the one in a synthesized template with "
        "stand-in values for what CloudFormation fills in at deploy time.",
    )
    _add_definition_options(export)
    export.set_defaults(handler=cmd_export)


def _add_follow_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="poll this often (default: 5)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="every state as it starts and ends, instead of the run's steps",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def _add_execution_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "execution", nargs="?", metavar="EXECUTION", help="an execution ARN, or its name"
    )
    parser.add_argument("--latest", action="store_true", help="the most recent execution")


def _add_definition_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--template",
        type=Path,
        metavar="FILE",
        help="a synthesized template (cdk.out/<stack>.template.json) instead of the deployed "
        "state machine",
    )
    parser.add_argument(
        "--logical-id", help="the state machine's logical id, when the template has several"
    )
    parser.add_argument(
        "--account",
        help="with --template: the account id of the stand-in ARNs (default: 123456789012); "
        "--region sets their region (default: us-east-1)",
    )
