"""Which step of a run (check input, train, evaluate, deploy, wait for the endpoint) each state of
a state machine belongs to, read from the state machine's definition.

Nothing here knows the pipeline's state names. The steps are found from what the states do and
how they are joined:

- A state from which no successful end can be reached (a ``Succeed`` state, or one with
  ``"End": true`` that is not a ``Fail``) is on the failure path: it belongs to no step (the
  run fails in the step it was in).
- *Anchors* are the Task states that change something: ``sagemaker:createTrainingJob`` (train),
  ``createModel`` and ``createEndpointConfig`` (deploy), ``createEndpoint`` and
  ``updateEndpoint`` (deploy; what they lead to is waiting for the endpoint). Any other Task
  that is not on the failure path (a construct user's hook calling S3, Lambda, ...) is a step of
  its own, named after its state.
- The model registry's tasks anchor steps too: ``createModelPackage`` registers the model
  (``register``, and what follows it up to the deployment), with the task that writes the
  evaluation report the registration's ``ModelMetrics`` read (its ``ResultPath`` is where their
  ``S3Uri`` comes from); ``listModelPackages`` and ``describeModelPackage`` find the version a
  run without training deploys (``find version``).
- Every other state belongs to the step after the last group of anchors that every path from
  ``StartAt`` to it passes through: after training, evaluation; after creating or updating
  the endpoint, waiting for it; before any anchor, checking the input. A state on a loop that
  leaves an anchor through its ``Catch`` and comes back to it (a retry: classify the error,
  count, back off, wait, try again) belongs to the anchor's own step.
- The states inside a Map or Parallel state belong to that state's step.

The Task resources are the optimized integrations' ``arn:aws:states:::sagemaker:<action>`` and
the SDK integrations' ``arn:aws:states:::aws-sdk:sagemaker:<action>``
(https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html,
https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

CHECK_INPUT: Final = "check input"
TRAIN: Final = "train"
EVALUATE: Final = "evaluate"
DEPLOY: Final = "deploy"
WAIT_FOR_ENDPOINT: Final = "wait for endpoint"
REGISTER: Final = "register"
FIND_VERSION: Final = "find version"

#: SageMaker actions that anchor a step: (the step of the state, the step of what follows it).
_ANCHORS: Final = {
    "createTrainingJob": (TRAIN, EVALUATE),
    "createModel": (DEPLOY, DEPLOY),
    "createEndpointConfig": (DEPLOY, DEPLOY),
    "createEndpoint": (DEPLOY, WAIT_FOR_ENDPOINT),
    "updateEndpoint": (DEPLOY, WAIT_FOR_ENDPOINT),
    "createModelPackage": (REGISTER, REGISTER),
    "listModelPackages": (FIND_VERSION, FIND_VERSION),
    "describeModelPackage": (FIND_VERSION, FIND_VERSION),
}
#: Anchors whose actions are one group: every path through one of them is "after" the group.
_GROUPS: Final = {
    "createTrainingJob": "training",
    "createModel": "deployment",
    "createEndpointConfig": "deployment",
    "createEndpoint": "endpoint change",
    "updateEndpoint": "endpoint change",
    "createModelPackage": "registration",
    "listModelPackages": "version lookup",
    "describeModelPackage": "version lookup",
}
#: Tasks that are part of the step around them, like SageMaker's reads: deleting a failed
#: endpoint, and publishing a run's metrics (after its evaluation).
_PART_OF_THEIR_STEP: Final = frozenset(
    {("sagemaker", "deleteEndpoint"), ("cloudwatch", "putMetricData")}
)
_RESOURCE = re.compile(r"^arn:[^:]+:states:::(?:aws-sdk:)?(?P<service>[^:]+):(?P<action>[^.]+)")


def task_action(state: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(service, action)`` of a Task state's integration: ``("sagemaker", "createModel")``."""
    if state.get("Type") != "Task":
        return None
    match = _RESOURCE.match(str(state.get("Resource", "")))
    return (match["service"], match["action"]) if match else None


def humanize(name: str) -> str:
    """A state name as words: ``CheckTrainingData`` gives ``check training data``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|[_\-]+", " ", name).split()
    return " ".join(word.lower() if not word.isupper() else word for word in words) or name


def _edges(state: Mapping[str, Any]) -> list[str]:
    targets = [str(state[key]) for key in ("Next", "Default") if key in state]
    targets.extend(str(rule["Next"]) for rule in state.get("Choices", []) if "Next" in rule)
    targets.extend(str(c["Next"]) for c in state.get("Catch", []) if "Next" in c)
    return targets


def _reachable(
    graph: Mapping[str, list[str]], starts: Iterable[str], removed: frozenset[str] = frozenset()
) -> set[str]:
    seen: set[str] = set()
    stack = [s for s in starts if s not in removed]
    while stack:
        name = stack.pop()
        if name in seen or name not in graph:
            continue
        seen.add(name)
        stack.extend(t for t in graph[name] if t not in removed)
    return seen


def _inner_states(state: Mapping[str, Any]) -> Iterable[str]:
    machines = [state.get("ItemProcessor") or state.get("Iterator") or {}]
    machines.extend(state.get("Branches", []))
    for machine in machines:
        for name, inner in machine.get("States", {}).items():
            yield str(name)
            yield from _inner_states(inner)


@dataclass
class StepMap:
    """The step of each state of a definition; ``None`` for states on the failure path."""

    steps: dict[str, str | None] = field(default_factory=dict)
    #: The action of each Task state, by name (service, action).
    actions: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: The Wait states, by name.
    waits: frozenset[str] = frozenset()

    def step_of(self, state: str | None) -> str | None:
        return self.steps.get(state) if state is not None else None

    def knows(self, state: str | None) -> bool:
        return state in self.steps

    def is_failure_path(self, state: str | None) -> bool:
        return self.knows(state) and self.steps[str(state)] is None

    def states_of(self, *steps: str) -> frozenset[str]:
        return frozenset(name for name, step in self.steps.items() if step in steps)


def step_map(definition: Mapping[str, Any]) -> StepMap:
    """The :class:`StepMap` of an ASL definition (a dict with ``StartAt`` and ``States``)."""
    states: Mapping[str, Any] = definition.get("States") or {}
    start = str(definition.get("StartAt"))
    graph = {str(name): _edges(state) for name, state in states.items()}
    reverse: dict[str, list[str]] = {name: [] for name in graph}
    for name, targets in graph.items():
        for target in targets:
            reverse.setdefault(target, []).append(name)
    successful_ends = [
        str(name)
        for name, state in states.items()
        if state.get("Type") == "Succeed" or (state.get("End") is True and state["Type"] != "Fail")
    ]
    can_succeed = _reachable(reverse, successful_ends)
    actions = {name: a for name, state in states.items() if (a := task_action(state)) is not None}
    groups = _anchor_groups(states, actions, can_succeed)
    reached = _reachable(graph, [start])
    result = StepMap(
        actions=dict(actions),
        waits=frozenset(name for name, state in states.items() if state.get("Type") == "Wait"),
    )
    for name, state in states.items():
        step = _step_of(str(name), start, graph, groups, reached) if name in can_succeed else None
        result.steps[str(name)] = step
        for inner in _inner_states(state):
            result.steps.setdefault(inner, step)
    return result


@dataclass(frozen=True)
class _Group:
    members: frozenset[str]
    at: str  # the step of the members
    after: str  # the step of what follows them


def _anchor_groups(
    states: Mapping[str, Any], actions: Mapping[str, tuple[str, str]], can_succeed: set[str]
) -> list[_Group]:
    by_group: dict[str, set[str]] = {}
    groups: list[_Group] = []
    report_writers = _report_writers(states, actions)
    for name, (service, action) in actions.items():
        if name not in can_succeed:
            continue
        if name in report_writers:
            by_group.setdefault(_GROUPS["createModelPackage"], set()).add(name)
        elif service == "sagemaker" and action in _ANCHORS:
            by_group.setdefault(_GROUPS[action], set()).add(name)
        elif not (service == "sagemaker" and action.startswith(("describe", "list"))) and (
            (service, action) not in _PART_OF_THEIR_STEP
        ):
            # A step of its own (a hook's task); reading SageMaker is part of the step around it.
            step = humanize(name)
            groups.append(_Group(frozenset({name}), step, step))
    for members in by_group.values():
        action = next(actions[m][1] for m in sorted(members) if actions[m][1] in _ANCHORS)
        at, after = _ANCHORS[action]
        groups.append(_Group(frozenset(members), at, after))
    return groups


def _report_writers(
    states: Mapping[str, Any], actions: Mapping[str, tuple[str, str]]
) -> frozenset[str]:
    """The Task states whose result a ``createModelPackage`` task's ``ModelMetrics`` read (the
    evaluation report it registers): their ``ResultPath`` is the start of a path there."""
    read: list[str] = []
    for name, action in actions.items():
        if action == ("sagemaker", "createModelPackage"):
            metrics = (states[name].get("Parameters") or {}).get("ModelMetrics")
            read.extend(_paths(metrics))
    writers = set()
    for name, (service, _) in actions.items():
        result = states[name].get("ResultPath")
        if service == "sagemaker" or not isinstance(result, str) or result in ("$", ""):
            continue
        if any(path == result or path.startswith((result + ".", result + "[")) for path in read):
            writers.add(name)
    return frozenset(writers)


def _paths(value: Any) -> Iterable[str]:
    """The JSONPaths of a task's parameters (the values of keys ending in ``.$``)."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if str(key).endswith(".$") and isinstance(inner, str):
                yield inner
            else:
                yield from _paths(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _paths(inner)


def _step_of(
    name: str,
    start: str,
    graph: Mapping[str, list[str]],
    groups: list[_Group],
    reached: set[str],
) -> str:
    for group in groups:
        if name in group.members:
            return group.at
    dominating = [g for g in groups if name in reached and _dominates(g, name, start, graph)]
    if not dominating:
        return CHECK_INPUT
    # The last of them: the one every other dominating group also dominates.
    latest = max(
        dominating,
        key=lambda g: sum(
            all(_dominates(h, m, start, graph) for m in g.members) for h in dominating if h != g
        ),
    )
    if _on_retry_loop(name, latest, graph):
        return latest.at
    return latest.after


def _dominates(group: _Group, name: str, start: str, graph: Mapping[str, list[str]]) -> bool:
    """Whether every path from ``start`` to ``name`` passes through a member of ``group``."""
    if name in group.members:
        return False
    return name not in _reachable(graph, [start], group.members)


def _on_retry_loop(name: str, group: _Group, graph: Mapping[str, list[str]]) -> bool:
    """Whether ``name`` lies on a loop back to one of the group's anchors (a retry)."""
    return any(
        name in _reachable(graph, graph[member]) and member in _reachable(graph, [name])
        for member in group.members
    )
