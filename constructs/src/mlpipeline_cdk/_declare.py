"""How a setting is declared beside its default (see :mod:`.settings`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any], "str | None"]


def about(
    doc: str,
    *,
    types: tuple[type, ...] | None = None,
    check: Check | None = None,
    shown: str | None = None,
) -> dict[str, Any]:
    """A setting's declaration beside its default: what it does (``doc``), the types it takes,
    its check (value → what is allowed, or None) and how the README shows its default."""
    return {"doc": doc, "types": types, "check": check, "shown": shown}
