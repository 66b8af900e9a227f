"""Collect every problem with a construct's props and raise them together."""

from __future__ import annotations

from typing import Any

from aws_cdk import Token


def is_token(value: Any) -> bool:
    """True for values only known at deploy time; those are not validated at synth time."""
    return isinstance(value, str | int | float) and Token.is_unresolved(value)


class Problems:
    """A list of ``prop: what was wrong`` lines, raised as one ``ValueError``."""

    def __init__(self, construct_name: str) -> None:
        self._construct_name = construct_name
        self._lines: list[str] = []

    def add(self, prop: str, value: Any, allowed: str) -> None:
        self._lines.append(f"{prop}={value!r}: {allowed}")

    def raise_if_any(self) -> None:
        if self._lines:
            listed = "\n".join(f"  - {line}" for line in self._lines)
            raise ValueError(f"{self._construct_name}: invalid props:\n{listed}")
