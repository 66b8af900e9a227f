"""Call a hook and check what it returned before the pipeline chains it in, so a wrong hook is
named instead of failing inside the library (a jsii SerializationError for ``None``,
``CannotChainToLastState`` for a chain that ends in a Choice, Fail or Succeed)."""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn

from ._checks import is_a
from ._validation import Problems
from .settings import Hook, HookContext, Hooks


def build(hooks: Hooks, name: str, context: HookContext) -> sfn.IChainable:
    """The states ``hooks.<name>`` returns for ``context``, which the pipeline continues after."""
    setting = f"hooks.{name}"
    hook: Hook = getattr(hooks, name)
    try:
        states = hook(context)
    except Exception as error:
        error.add_note(f"raised by {setting} ({hook!r})")
        raise
    problems = Problems("MLPipeline")
    if not is_a(states, (sfn.IChainable,)):
        problems.add(
            setting,
            hook,
            f"returned {states!r}: a hook must return its states, an sfn.IChainable (a state, "
            "or a chain such as sfn.Chain.start(first).next(second))",
        )
    elif not states.end_states:
        problems.add(
            setting,
            hook,
            f"its states end in {states.id!r} (a Choice, Fail or Succeed state), which cannot "
            "have a next state, but the pipeline continues after the hook: end with a state "
            "that can, e.g. return choice.afterwards() so that every branch of a Choice "
            "continues with the pipeline, or route failures with context.failure.reject(...)",
        )
    problems.raise_if_any()
    return states
