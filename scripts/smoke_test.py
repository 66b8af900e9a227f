#!/usr/bin/env python3
"""Start one execution of a deployed ML pipeline state machine and wait for it to finish.

Exits 0 only if the execution SUCCEEDED; prints its error and cause otherwise. Used by the
delivery pipeline after deploying a stage:

  python3 scripts/smoke_test.py --state-machine-arn ARN [--role-arn ARN] \\
      [--input '{"hyperparameters": {"epochs": "1"}, "trainingInstanceCount": 1}'] \\
      [--timeout 3600] [--poll-interval 30]

``--state-machine-arn`` and ``--role-arn`` default to the environment variables
``STATE_MACHINE_ARN`` and ``SMOKE_TEST_ROLE_ARN``. With a role, the script assumes it first (the
state machine may live in another account).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3

# The run-input contract, from the repository's construct library (plain Python, no CDK); the
# smoke test's CodeBuild step installs boto3 alone.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "constructs" / "src"))
from botocore.exceptions import BotoCoreError, ClientError

from mlpipeline_cdk.contract import run_input

DEFAULT_INPUT = '{"hyperparameters": {"epochs": "1"}, "trainingInstanceCount": 1}'
_STATE_MACHINE_ARN = re.compile(
    r"^arn:aws[a-z-]*:states:(?P<region>[a-z0-9-]+):\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$"
)
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_FINISHED = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


class SmokeTestError(Exception):
    """An expected failure: reported as one line, without a traceback."""


def execution_name(now: datetime | None = None) -> str:
    """A name unique per run (at most 80 characters of letters, digits, '-' and '_')."""
    now = now or datetime.now(UTC)
    return f"smoke-test-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"


def run(
    client: Any,
    *,
    state_machine_arn: str,
    execution_input: str,
    timeout: float,
    poll_interval: float,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Start an execution, wait until it finishes or ``timeout`` seconds pass, and return its
    final status. Raises :class:`SmokeTestError` unless it SUCCEEDED."""
    out = out or sys.stdout
    name = execution_name()
    started = client.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=execution_input
    )
    execution_arn = started["executionArn"]
    print(f"started execution {execution_arn}", file=out, flush=True)
    start = clock()
    while True:
        execution = client.describe_execution(executionArn=execution_arn)
        status = str(execution["status"])
        elapsed = clock() - start
        print(f"[{elapsed:6.0f} s] {status}", file=out, flush=True)
        if status == "SUCCEEDED":
            return status
        if status in _FINISHED:
            error = execution.get("error", "(no error given)")
            cause = execution.get("cause", "(no cause given)")
            raise SmokeTestError(
                f"execution {execution_arn} ended {status}: error={error} cause={cause}"
            )
        if elapsed >= timeout:
            raise SmokeTestError(
                f"execution {execution_arn} still {status} after {timeout:.0f} s; it keeps "
                "running, stop it in the Step Functions console if it should not"
            )
        sleep(min(poll_interval, max(timeout - elapsed, 0)))


def stepfunctions_client(state_machine_arn: str, role_arn: str | None) -> Any:
    """A Step Functions client in the state machine's region, as ``role_arn`` if given."""
    match = _STATE_MACHINE_ARN.match(state_machine_arn)
    assert match is not None
    region = match.group("region")
    if role_arn is None:
        return boto3.client("stepfunctions", region_name=region)
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=role_arn, RoleSessionName=f"smoke-test-{uuid.uuid4().hex[:12]}"
    )["Credentials"]
    return boto3.client(
        "stepfunctions",
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smoke_test.py",
        description="Run one execution of a state machine and fail unless it succeeds.",
    )
    parser.add_argument(
        "--state-machine-arn",
        default=os.environ.get("STATE_MACHINE_ARN"),
        help="state machine to run (default: $STATE_MACHINE_ARN)",
    )
    parser.add_argument(
        "--role-arn",
        default=os.environ.get("SMOKE_TEST_ROLE_ARN") or None,
        help="role to assume first (default: $SMOKE_TEST_ROLE_ARN, else the caller's identity)",
    )
    parser.add_argument(
        "--input",
        default=DEFAULT_INPUT,
        help=f"execution input, a JSON object (default: {DEFAULT_INPUT})",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds to wait (default: 3600)"
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=30,
        help="seconds between status checks (default: 30)",
    )
    return parser


def main(argv: Sequence[str] | None = None, *, sleep: Callable[[float], None] = time.sleep) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.state_machine_arn:
        parser.error("--state-machine-arn is required (or set STATE_MACHINE_ARN)")
    if not _STATE_MACHINE_ARN.match(args.state_machine_arn):
        parser.error(
            f"--state-machine-arn {args.state_machine_arn!r} is not a state machine ARN "
            "(arn:<partition>:states:<region>:<account>:stateMachine:<name>)"
        )
    if args.role_arn is not None and not _ROLE_ARN.match(args.role_arn):
        parser.error(f"--role-arn {args.role_arn!r} is not an IAM role ARN")
    try:
        parsed_input = json.loads(args.input)
    except json.JSONDecodeError as error:
        parser.error(f"--input is not valid JSON: {error}")
    problems = run_input.check(parsed_input)
    if problems:
        parser.error(f"--input: {'; '.join(problems)}")
    if args.timeout <= 0 or args.poll_interval < 0:
        parser.error("--timeout must be positive and --poll-interval not negative")

    try:
        client = stepfunctions_client(args.state_machine_arn, args.role_arn)
        run(
            client,
            state_machine_arn=args.state_machine_arn,
            execution_input=json.dumps(parsed_input),
            timeout=args.timeout,
            poll_interval=args.poll_interval,
            sleep=sleep,
        )
    except SmokeTestError as error:
        print(f"smoke test failed: {error}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as error:
        print(f"smoke test failed: {error}", file=sys.stderr)
        return 1
    print("smoke test passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
