"""Scale the time Wait states take, so a definition that polls every 30 seconds in AWS runs its
loops in milliseconds in a test or a local demo. Only Wait states are scaled; the clock, timeouts
and timestamps are not."""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

_original: Any = None
scale: float = 1.0


def patch() -> None:
    global _original
    if _original is not None:
        return
    _original = wait_function.WaitFunction._eval_body

    def _eval_body(self: Any, env: Any) -> None:
        seconds = self._get_wait_seconds(env=env)
        if seconds > 0 and scale != 1.0:
            env.program_state_event.wait(seconds * scale)
            return
        _original(self, env)

    setattr(wait_function.WaitFunction, "_eval_body", _eval_body)  # noqa: B010


def unpatch() -> None:
    global _original
    if _original is None:
        return
    setattr(wait_function.WaitFunction, "_eval_body", _original)  # noqa: B010
    _original = None
