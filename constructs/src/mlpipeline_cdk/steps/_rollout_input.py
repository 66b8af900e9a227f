"""The run input ``rollout``, checked by :class:`~mlpipeline_cdk.steps.PrepareRun` with the
messages and limits of :mod:`mlpipeline_cdk.contract.run_input` and laid over the pipeline's
``rollout`` settings into ``$.config.rollout``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ..contract import run_input as contract
from .failure import FailureHandler

_MERGED = "$.rolloutInput.merged"


def _whole_within(path: str, text_path: str, low: float, high: float) -> sfn.Condition:
    return sfn.Condition.and_(
        sfn.Condition.is_numeric(path),
        sfn.Condition.number_greater_than_equals(path, low),
        sfn.Condition.number_less_than_equals(path, high),
        # States.Format renders a fraction with a '.', a whole number without.
        sfn.Condition.not_(sfn.Condition.string_matches(text_path, "*.*")),
    )


def _rules() -> list[tuple[sfn.Condition, str, str]]:
    strategy = f"{_MERGED}.strategy"
    rules = [
        (
            sfn.Condition.not_(
                sfn.Condition.number_equals("$.rolloutInput.keyCount", len(contract.ROLLOUT_KEYS))
            ),
            "RejectRolloutKeys",
            contract.BY_NAME[contract.ROLLOUT].message,
        ),
        (
            sfn.Condition.not_(
                sfn.Condition.and_(
                    sfn.Condition.is_string(strategy),
                    sfn.Condition.or_(
                        *(
                            sfn.Condition.string_equals(strategy, s)
                            for s in contract.ROLLOUT_STRATEGIES
                        )
                    ),
                )
            ),
            "RejectRolloutStrategy",
            contract.ROLLOUT_STRATEGY_MESSAGE,
        ),
    ]
    for name, (low, high) in contract.ROLLOUT_NUMBERS.items():
        condition = _whole_within(f"{_MERGED}.{name}", f"$.rolloutInput.texts.{name}", low, high)
        rules.append(
            (
                sfn.Condition.not_(condition),
                f"RejectRollout{name[0].upper()}{name[1:]}",
                contract.rollout_number_message(name),
            )
        )
    return rules


def check_rollout_input(
    scope: Construct, *, defaults: Mapping[str, Any], failure: FailureHandler
) -> tuple[sfn.State, sfn.INextable]:
    """States that lay the run's ``rollout`` over ``defaults`` (the settings' run input), check
    it and write the result to ``$.config.rollout``."""
    describe = sfn.Pass(
        scope,
        "DescribeRolloutInput",
        parameters={
            "json": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.config.rollout")),
            "defaults": dict(defaults),
        },
        result_path="$.rolloutInput",
    )
    shape = sfn.Choice(scope, "CheckRolloutIsObject")
    reject_shape = failure.reject(
        scope,
        "RejectRolloutNotObject",
        error=contract.INVALID_INPUT,
        cause=contract.BY_NAME[contract.ROLLOUT].message,
    )
    merge = sfn.Pass(
        scope,
        "MergeRolloutInput",
        parameters={
            "merged": sfn.JsonPath.json_merge(
                sfn.JsonPath.object_at("$.rolloutInput.defaults"),
                sfn.JsonPath.object_at("$.config.rollout"),
            )
        },
        result_path="$.rolloutInput",
    )
    inspect = sfn.Pass(
        scope,
        "InspectRolloutInput",
        parameters={
            "merged": sfn.JsonPath.object_at(_MERGED),
            "values": sfn.JsonPath.list_at(f"{_MERGED}.*"),
            "texts": {
                name: sfn.JsonPath.format("{}", sfn.JsonPath.string_at(f"{_MERGED}.{name}"))
                for name in contract.ROLLOUT_NUMBERS
            },
        },
        result_path="$.rolloutInput",
    )
    # An intrinsic takes no wildcard path: the values are listed first, then counted.
    count = sfn.Pass(
        scope,
        "CountRolloutKeys",
        parameters={
            "merged": sfn.JsonPath.object_at(_MERGED),
            "texts": sfn.JsonPath.object_at("$.rolloutInput.texts"),
            "keyCount": sfn.JsonPath.array_length(sfn.JsonPath.list_at("$.rolloutInput.values")),
        },
        result_path="$.rolloutInput",
    )
    validate = sfn.Choice(scope, "ValidateRolloutInput")
    for condition, state_id, cause in _rules():
        validate.when(
            condition, failure.reject(scope, state_id, error=contract.INVALID_INPUT, cause=cause)
        )
    store = sfn.Pass(scope, "UseRolloutInput", input_path=_MERGED, result_path="$.config.rollout")
    describe.next(shape)
    shape.when(
        sfn.Condition.not_(sfn.Condition.string_matches("$.rolloutInput.json", "{*")),
        reject_shape,
    ).otherwise(merge)
    merge.next(inspect).next(count).next(validate)
    validate.otherwise(store)
    return describe, store
