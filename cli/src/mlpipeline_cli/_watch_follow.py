"""Follow one execution to its end with the display its options ask for (``run --wait``,
``watch``): the run's steps by default, every state with ``--verbose``, JSON with ``--json``."""

from __future__ import annotations

import sys
from typing import Any

from ._aws import error_code, is_client_error
from ._context import EXIT_INTERRUPTED, EXIT_NOT_SUCCEEDED, PROG, Context
from ._display import display_for
from ._history import loads
from ._tuning import TuningFollower
from ._watch import ENDPOINT_STATES, ExecutionWatcher
from ._watch_steps import DEPLOY, WAIT_FOR_ENDPOINT, StepMap, step_map
from ._watch_view import StateView, StepView, View


def read_steps(stepfunctions: Any, execution_arn: str) -> StepMap | None:
    """The steps of the state machine version the execution runs, from its definition.

    DescribeStateMachineForExecution answers with the ``definition`` the execution was started
    with (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeStateMachineForExecution.html;
    botocore/data/stepfunctions/2016-11-23/service-2.json, ``definition`` is required in its
    output). A caller without that permission but with ``states:DescribeStateMachine`` (what
    ``MLPipeline.grant_start_execution`` grants) gets the state machine's current definition
    from DescribeExecution's ``stateMachineArn`` and DescribeStateMachine. When neither can be
    read, ``None``: every state is shown instead.
    """
    try:
        described = stepfunctions.describe_state_machine_for_execution(executionArn=execution_arn)
    except Exception as exc:
        if not is_client_error(exc):
            raise
        try:
            execution = stepfunctions.describe_execution(executionArn=execution_arn)
            described = stepfunctions.describe_state_machine(
                stateMachineArn=execution["stateMachineArn"]
            )
        except Exception as again:
            if not is_client_error(again):
                raise
            print(
                f"{PROG}: could not read the state machine's definition ({error_code(exc)}); "
                "showing every state",
                file=sys.stderr,
            )
            return None
    definition = loads(described.get("definition"))
    if not isinstance(definition, dict) or not isinstance(definition.get("States"), dict):
        return None
    return step_map(definition)


class _Steps:
    """The step map, read once, on first need (a watch interrupted before any event costs no
    call); shared by the view and by the watcher's choice of when to poll the endpoint."""

    def __init__(self, stepfunctions: Any, execution_arn: str) -> None:
        self._sfn = stepfunctions
        self._arn = execution_arn
        self._read = False
        self._map: StepMap | None = None
        self._tuning_failed = False

    def get(self) -> StepMap | None:
        if not self._read:
            self._read = True
            self._map = read_steps(self._sfn, self._arn)
        return self._map

    def tunes(self) -> bool:
        """Whether the definition runs a tuning job (and following it has not failed)."""
        steps = None if self._tuning_failed else self.get()
        return steps is not None and any(
            action.startswith("createHyperParameterTuningJob")
            for _, action in steps.actions.values()
        )

    def stop_tuning(self) -> None:
        self._tuning_failed = True

    def endpoint_states(self) -> frozenset[str]:
        steps = self.get()
        if steps is None:
            return ENDPOINT_STATES
        return steps.states_of(DEPLOY, WAIT_FOR_ENDPOINT)


def follow(context: Context, execution_arn: str) -> int:
    """Show an execution's events until it ends; the exit status says whether it succeeded."""
    args = context.args
    stepfunctions = context.client("stepfunctions")
    steps = _Steps(stepfunctions, execution_arn)
    verbose = bool(getattr(args, "verbose", False))
    view: View = StateView() if verbose else StepView(steps.get)
    display = display_for(sys.stdout, json_lines=args.json, view=view)
    tuning = TuningFollower(
        stepfunctions, lambda: context.client("sagemaker"), execution_arn, json_lines=args.json
    )

    def wait(seconds: float) -> None:
        # Between polls of the execution: the trials of its tuning job, if it runs one.
        if steps.tunes():
            try:
                tuning.poll()
            except Exception as exc:
                if not is_client_error(exc):
                    raise
                print(f"{PROG}: cannot follow the tuning job ({error_code(exc)})", file=sys.stderr)
                steps.stop_tuning()
        display.wait(seconds)

    watcher = ExecutionWatcher(
        stepfunctions,
        lambda: context.client("sagemaker"),
        execution_arn,
        interval=args.interval,
        endpoint_states=steps.endpoint_states,
        sleep=wait,
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
