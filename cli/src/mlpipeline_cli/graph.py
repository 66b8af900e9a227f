"""Draw a state machine definition (Amazon States Language) as a Mermaid flowchart or DOT graph.

::

    definition = mlpipeline_cli.asl.render_definition(template)
    print(to_mermaid(definition))

Every state is a node (Task, Pass, Choice, Wait, Succeed, Fail each with a shape of its own;
tasks show their service action), joined by its ``Next`` edge, its Choice rules (labelled with
a short summary of the condition) and ``Default``, and its ``Catch`` clauses (dashed, labelled
with the error names). ``End`` states lead to an end node. A Map's item processor and each
branch of a Parallel are drawn as a subgraph. The output is deterministic: states in the order
a walk from ``StartAt`` first reaches them (any unreachable ones after, in definition order),
edges in definition order, so a committed diagram only changes when the state machine does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["describe_condition", "to_dot", "to_mermaid"]

#: Choice edge labels longer than this are cut short (the full rule is in the definition).
LABEL_LIMIT: Final = 60
_MERMAID_KEYWORDS: Final = frozenset(
    {
        "end",
        "graph",
        "subgraph",
        "flowchart",
        "style",
        "class",
        "classdef",
        "click",
        "linkstyle",
        "direction",
        "call",
        "href",
        "default",
    }
)
_COMPARISONS: Final = {
    "Equals": "==",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
}
_NEGATED: Final = {"==": "!=", "<": ">=", ">": "<=", "<=": ">", ">=": "<"}
_TYPE_TESTS: Final = {
    "IsNull": "null",
    "IsString": "a string",
    "IsNumeric": "a number",
    "IsBoolean": "a boolean",
    "IsTimestamp": "a timestamp",
}


# --------------------------------------------------------------------------------------------
# Choice conditions
# --------------------------------------------------------------------------------------------


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value + "'"
    return json.dumps(value)


def _comparison(rule: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(variable, operator, right-hand side)`` of a single comparison rule."""
    variable = str(rule.get("Variable", "$"))
    for key, value in rule.items():
        for kind in ("String", "Numeric", "Boolean", "Timestamp"):
            if not key.startswith(kind):
                continue
            operation = key[len(kind) :]
            is_path = operation.endswith("Path")
            operation = operation.removesuffix("Path")
            right = str(value) if is_path else _literal(value)
            if operation == "Matches":
                return variable, "matches", right
            if operation in _COMPARISONS:
                return variable, _COMPARISONS[operation], right
    return None


def _describe(rule: Mapping[str, Any], *, negate: bool = False) -> str:
    if "And" in rule or "Or" in rule:
        joiner = "and" if "And" in rule else "or"
        parts = list(rule["And"] if "And" in rule else rule["Or"])
        one_of = _one_of(parts) if joiner == "or" else None
        text = one_of or f" {joiner} ".join(_wrap(_describe(part)) for part in parts)
        return f"not ({text})" if negate else text
    if "Not" in rule:
        return _describe(rule["Not"], negate=not negate)
    if "Condition" in rule:  # JSONata
        text = str(rule["Condition"]).removeprefix("{%").removesuffix("%}").strip()
        return f"not ({text})" if negate else text
    variable = str(rule.get("Variable", "$"))
    if "IsPresent" in rule:
        present = bool(rule["IsPresent"]) != negate
        return f"{variable} {'present' if present else 'absent'}"
    for key, noun in _TYPE_TESTS.items():
        if key in rule:
            positive = bool(rule[key]) != negate
            return f"{variable} is {'' if positive else 'not '}{noun}"
    comparison = _comparison(rule)
    if comparison is None:
        text = json.dumps({k: v for k, v in rule.items() if k != "Next"}, sort_keys=True)
        return f"not ({text})" if negate else text
    left, operator, right = comparison
    if negate:
        if operator == "matches":
            return f"{left} not matches {right}"
        operator = _NEGATED[operator]
    return f"{left} {operator} {right}"


def _one_of(parts: Sequence[Any]) -> str | None:
    """``$.x in ('a', 'b')`` for an Or of equality tests of one variable."""
    comparisons = [_comparison(p) if isinstance(p, dict) and len(p) == 2 else None for p in parts]
    if len(parts) < 2 or any(c is None or c[1] != "==" for c in comparisons):
        return None
    variables = {c[0] for c in comparisons if c is not None}
    if len(variables) != 1:
        return None
    values = ", ".join(c[2] for c in comparisons if c is not None)
    return f"{variables.pop()} in ({values})"


def _wrap(text: str) -> str:
    return f"({text})" if " and " in text or " or " in text else text


def describe_condition(rule: Mapping[str, Any], *, limit: int | None = LABEL_LIMIT) -> str:
    """A short text for a Choice rule, e.g. ``$.config.spot == true``; cut at ``limit``."""
    text = _describe(rule)
    if limit is not None and len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


# --------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------


@dataclass
class _Node:
    id: str
    label: str
    kind: str
    detail: str | None = None


@dataclass
class _Edge:
    source: str
    target: str
    kind: str  # next, choice, default, catch, items, end
    label: str | None = None


@dataclass
class _Cluster:
    id: str
    label: str
    nodes: list[_Node] = field(default_factory=list)
    clusters: list[_Cluster] = field(default_factory=list)


def _walk_order(states: Mapping[str, Any], start: str) -> list[str]:
    """State names depth-first from ``start`` along each state's edges, then unreachable ones."""
    order: list[str] = []
    seen: set[str] = set()
    stack = [start]
    while stack:
        name = stack.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        order.append(name)
        stack.extend(reversed(_targets(states[name])))
    order.extend(name for name in states if name not in seen)
    return order


def _targets(state: Mapping[str, Any]) -> list[str]:
    # The usual path first (Next, Default), so the walk reads along the happy path.
    targets = [str(state[key]) for key in ("Next", "Default") if key in state]
    targets.extend(str(rule["Next"]) for rule in state.get("Choices", []) if "Next" in rule)
    targets.extend(str(c["Next"]) for c in state.get("Catch", []) if "Next" in c)
    return targets


def _task_detail(resource: Any) -> str | None:
    if not isinstance(resource, str):
        return None
    match = re.match(r"^arn:[^:]+:states:::(?P<action>.+)$", resource)
    if match:
        return match["action"]
    if ":lambda:" in resource and ":function:" in resource:
        return "lambda:" + resource.split(":function:", 1)[1].split(":", 1)[0]
    if ":activity:" in resource:
        return "activity:" + resource.rsplit(":", 1)[-1]
    return resource


_KINDS: Final = {
    "Task": "task",
    "Pass": "pass",
    "Choice": "choice",
    "Wait": "wait",
    "Succeed": "succeed",
    "Fail": "fail",
    "Map": "map",
    "Parallel": "parallel",
}


class _Builder:
    def __init__(self) -> None:
        self._used: set[str] = set()
        self.edges: list[_Edge] = []

    def new_id(self, name: str) -> str:
        """An id safe in Mermaid and DOT, unique in the graph: ``Say "hi"`` becomes ``Say_hi``."""
        base = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "state"
        if base[0].isdigit():
            base = "s" + base
        if base in _MERMAID_KEYWORDS:
            base += "_"
        candidate, number = base, 2
        while candidate in self._used:
            candidate, number = f"{base}_{number}", number + 1
        self._used.add(candidate)
        return candidate

    def add_machine(self, machine: Mapping[str, Any], cluster: _Cluster, prefix: str) -> str:
        """Add the states of ``machine`` to ``cluster``; return the id of its first state."""
        states = machine.get("States", {})
        start = str(machine.get("StartAt"))
        start_id = self.new_id(f"{prefix}START")
        end_id = self.new_id(f"{prefix}END")
        order = _walk_order(states, start)
        ids = {name: self.new_id(name) for name in order}
        cluster.nodes.append(_Node(start_id, "start", "start"))
        if start in ids:
            self.edges.append(_Edge(start_id, ids[start], "next"))
        needs_end = False
        for name in order:
            state = states[name]
            node_id = ids[name]
            kind = _KINDS.get(str(state.get("Type")), "task")
            detail = _task_detail(state.get("Resource")) if kind == "task" else None
            cluster.nodes.append(_Node(node_id, name, kind, detail))
            self._add_inner_machines(state, kind, name, node_id, cluster)
            self._add_transitions(state, node_id, ids)
            if state.get("End") is True:
                self.edges.append(_Edge(node_id, end_id, "end"))
                needs_end = True
        if needs_end:
            cluster.nodes.append(_Node(end_id, "end", "end"))
        return start_id

    def _add_inner_machines(
        self, state: Mapping[str, Any], kind: str, name: str, node_id: str, cluster: _Cluster
    ) -> None:
        """A Map state's item processor, or each branch of a Parallel state, as a cluster."""
        if kind == "map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            inner = _Cluster(self.new_id(f"{name}_items"), f"{name}: each item")
            cluster.clusters.append(inner)
            first = self.add_machine(processor, inner, f"{node_id}_")
            self.edges.append(_Edge(node_id, first, "items", "each item"))
        elif kind == "parallel":
            for number, branch in enumerate(state.get("Branches", []), start=1):
                inner = _Cluster(self.new_id(f"{name}_branch{number}"), f"{name}: branch {number}")
                cluster.clusters.append(inner)
                first = self.add_machine(branch, inner, f"{node_id}_{number}_")
                self.edges.append(_Edge(node_id, first, "items", f"branch {number}"))

    def _add_transitions(self, state: Mapping[str, Any], node_id: str, ids: dict[str, str]) -> None:
        """The edges to the states a state can go to next: choices, default, next, catches."""
        for rule in state.get("Choices", []):
            if "Next" in rule and rule["Next"] in ids:
                self.edges.append(
                    _Edge(node_id, ids[rule["Next"]], "choice", describe_condition(rule))
                )
        if state.get("Default") in ids:
            self.edges.append(_Edge(node_id, ids[state["Default"]], "default", "default"))
        if state.get("Next") in ids:
            self.edges.append(_Edge(node_id, ids[state["Next"]], "next"))
        for catch in state.get("Catch", []):
            if catch.get("Next") in ids:
                errors = ", ".join(str(e) for e in catch.get("ErrorEquals", []))
                self.edges.append(_Edge(node_id, ids[catch["Next"]], "catch", errors))


def _build(definition: Mapping[str, Any]) -> tuple[_Cluster, list[_Edge]]:
    if not isinstance(definition.get("States"), dict) or "StartAt" not in definition:
        raise ValueError("not a state machine definition: it needs StartAt and States")
    builder = _Builder()
    root = _Cluster("", "")
    builder.add_machine(definition, root, "")
    return root, builder.edges


# --------------------------------------------------------------------------------------------
# Mermaid
# --------------------------------------------------------------------------------------------

_MERMAID_SHAPES: Final = {
    "task": ('["', '"]'),
    "pass": ('("', '")'),
    "choice": ('{"', '"}'),
    "wait": ('{{"', '"}}'),
    "succeed": ('(["', '"])'),
    "fail": ('(["', '"])'),
    "map": ('[["', '"]]'),
    "parallel": ('[["', '"]]'),
    "start": ('(("', '"))'),
    "end": ('(("', '"))'),
}
_MERMAID_ARROWS: Final = {
    "next": "-->",
    "choice": "-->",
    "default": "-->",
    "end": "-->",
    "catch": "-.->",
    "items": "-.->",
}


def _mermaid_text(text: str) -> str:
    """``text`` safe inside a quoted Mermaid label (entity codes for the special characters)."""
    text = text.replace("#", "#35;")
    for character, code in (
        ('"', "#quot;"),
        ("<", "#lt;"),
        (">", "#gt;"),
        ("&", "#amp;"),
        ("`", "#96;"),
        ("|", "#124;"),
    ):
        text = text.replace(character, code)
    return " ".join(text.split())


def _mermaid_node(node: _Node) -> str:
    opening, closing = _MERMAID_SHAPES[node.kind]
    label = _mermaid_text(node.label)
    if node.detail:
        label += "<br/>" + _mermaid_text(node.detail)
    return f"{node.id}{opening}{label}{closing}"


def _mermaid_cluster(cluster: _Cluster, indent: str, lines: list[str]) -> None:
    lines.extend(indent + _mermaid_node(node) for node in cluster.nodes)
    for inner in cluster.clusters:
        lines.append(f'{indent}subgraph {inner.id}["{_mermaid_text(inner.label)}"]')
        lines.append(f"{indent}    direction TB")
        _mermaid_cluster(inner, indent + "    ", lines)
        lines.append(f"{indent}end")


def _all_nodes(cluster: _Cluster) -> list[_Node]:
    nodes = list(cluster.nodes)
    for inner in cluster.clusters:
        nodes.extend(_all_nodes(inner))
    return nodes


def to_mermaid(definition: Mapping[str, Any]) -> str:
    """The definition as a Mermaid ``flowchart TD`` (text ending in a newline)."""
    root, edges = _build(definition)
    lines = ["flowchart TD"]
    _mermaid_cluster(root, "    ", lines)
    for edge in edges:
        arrow = _MERMAID_ARROWS[edge.kind]
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    nodes = _all_nodes(root)
    for kind, style in (
        ("start", "fill:#e8f0fe,stroke:#1a73e8"),
        ("end", "fill:#e8f0fe,stroke:#1a73e8"),
        ("succeed", "fill:#e6f4ea,stroke:#188038"),
        ("fail", "fill:#fce8e6,stroke:#d93025"),
        ("choice", "fill:#fef7e0,stroke:#f9ab00"),
    ):
        members = [node.id for node in nodes if node.kind == kind]
        if members:
            lines.append(f"    classDef {kind}State {style}")
            lines.append(f"    class {','.join(members)} {kind}State")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Graphviz DOT
# --------------------------------------------------------------------------------------------

_DOT_SHAPES: Final = {
    "task": 'shape=box, style="rounded"',
    "pass": 'shape=box, style="rounded,dashed"',
    "choice": 'shape=diamond, style="filled", fillcolor="#fef7e0"',
    "wait": "shape=hexagon",
    "succeed": 'shape=box, style="rounded,filled", fillcolor="#e6f4ea"',
    "fail": 'shape=box, style="rounded,filled", fillcolor="#fce8e6"',
    "map": "shape=box3d",
    "parallel": "shape=box3d",
    "start": "shape=circle",
    "end": "shape=doublecircle",
}


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dot_cluster(cluster: _Cluster, indent: str, lines: list[str]) -> None:
    for node in cluster.nodes:
        label = node.label + (f"\n{node.detail}" if node.detail else "")
        lines.append(
            f"{indent}{_dot_text(node.id)} [label={_dot_text(label)}, {_DOT_SHAPES[node.kind]}];"
        )
    for inner in cluster.clusters:
        lines.append(f"{indent}subgraph {_dot_text('cluster_' + inner.id)} {{")
        lines.append(f'{indent}    label={_dot_text(inner.label)}; style="dashed";')
        _dot_cluster(inner, indent + "    ", lines)
        lines.append(f"{indent}}}")


def to_dot(definition: Mapping[str, Any], *, name: str = "StateMachine") -> str:
    """The definition as a Graphviz ``digraph`` (text ending in a newline)."""
    root, edges = _build(definition)
    lines = [
        f"digraph {_dot_text(name)} {{",
        '    graph [rankdir=TB, fontname="Helvetica"];',
        '    node [fontname="Helvetica", fontsize=10];',
        '    edge [fontname="Helvetica", fontsize=9];',
    ]
    _dot_cluster(root, "    ", lines)
    for edge in edges:
        attributes = []
        if edge.label:
            attributes.append(f"label={_dot_text(edge.label)}")
        if edge.kind in ("catch", "items"):
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"    {_dot_text(edge.source)} -> {_dot_text(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
