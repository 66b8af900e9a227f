"""The run input ``tuning`` of a pipeline with tuning settings, checked by
:class:`~mlpipeline_cdk.steps.PrepareRun` with the messages of
:mod:`mlpipeline_cdk.contract.run_input`, and the static hyperparameters of its tuning job."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .._props import hyperparameter_string
from ..contract import run_input as contract
from ..tuning import TuningSettings
from ._tuning import refuse_tuned_in_input
from .failure import FailureHandler


@dataclass(frozen=True)
class TuningDefaults:
    """What a run of a tuning pipeline uses unless its ``tuning`` input says otherwise."""

    max_jobs: int
    max_parallel_jobs: int
    #: The ``maxJobs`` a run may ask for (Grid: the number of combinations, exactly).
    max_jobs_bounds: tuple[int, int]
    #: The hyperparameters the tuning job tunes; a run's ``hyperparameters`` may not set them.
    tuned: Sequence[str]
    #: The pipeline's hyperparameters minus the tuned ones.
    static_hyperparameters: Mapping[str, str]

    def as_input(self) -> dict[str, Any]:
        return {
            contract.TUNING_ENABLED: True,
            contract.TUNING_MAX_JOBS: self.max_jobs,
            contract.TUNING_MAX_PARALLEL_JOBS: self.max_parallel_jobs,
        }


def _whole_within(path: str, text_path: str, low: float, high: float) -> sfn.Condition:
    return sfn.Condition.and_(
        sfn.Condition.is_numeric(path),
        sfn.Condition.number_greater_than_equals(path, low),
        sfn.Condition.number_less_than_equals(path, high),
        # States.Format renders a fraction with a '.', a whole number without.
        sfn.Condition.not_(sfn.Condition.string_matches(text_path, "*.*")),
    )


def check_tuning_input(
    scope: Construct, *, defaults: TuningDefaults, failure: FailureHandler
) -> tuple[sfn.State, sfn.INextable]:
    """States that lay the run's ``tuning`` over ``defaults``, check it, refuse tuned names in
    its ``hyperparameters`` when tuning, and write ``$.run.staticHyperparameters``; reads
    ``$.baseHyperparameters``' sibling ``$.reservedHyperparameters`` of PrepareRun."""
    merged = "$.tuningInput.merged"
    keys = contract.BY_NAME
    describe = sfn.Pass(
        scope,
        "DescribeTuningInput",
        parameters={
            "json": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.config.tuning")),
            "defaults": defaults.as_input(),
            "static": dict(defaults.static_hyperparameters),
        },
        result_path="$.tuningInput",
    )
    shape = sfn.Choice(scope, "CheckTuningIsObject")
    reject_shape = failure.reject(
        scope,
        "RejectTuningNotObject",
        error=contract.INVALID_INPUT,
        cause=keys[contract.TUNING].message,
    )
    merge = sfn.Pass(
        scope,
        "MergeTuningInput",
        parameters={
            "merged": sfn.JsonPath.json_merge(
                sfn.JsonPath.object_at("$.tuningInput.defaults"),
                sfn.JsonPath.object_at("$.config.tuning"),
            ),
            "static": sfn.JsonPath.object_at("$.tuningInput.static"),
            "json": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.config.hyperparameters")),
        },
        result_path="$.tuningInput",
    )
    inspect = sfn.Pass(
        scope,
        "InspectTuningInput",
        parameters={
            "merged": sfn.JsonPath.object_at(merged),
            "static": sfn.JsonPath.object_at("$.tuningInput.static"),
            "json": sfn.JsonPath.string_at("$.tuningInput.json"),
            "values": sfn.JsonPath.list_at(f"{merged}.*"),
            "jobsText": sfn.JsonPath.format("{}", sfn.JsonPath.string_at(f"{merged}.maxJobs")),
            "parallelText": sfn.JsonPath.format(
                "{}", sfn.JsonPath.string_at(f"{merged}.maxParallelJobs")
            ),
        },
        result_path="$.tuningInput",
    )
    # An intrinsic takes no wildcard path: the values are listed first, then counted.
    count = sfn.Pass(
        scope,
        "CountTuningKeys",
        parameters={
            "merged": sfn.JsonPath.object_at(merged),
            "static": sfn.JsonPath.object_at("$.tuningInput.static"),
            "json": sfn.JsonPath.string_at("$.tuningInput.json"),
            "keyCount": sfn.JsonPath.array_length(sfn.JsonPath.list_at("$.tuningInput.values")),
            "jobsText": sfn.JsonPath.string_at("$.tuningInput.jobsText"),
            "parallelText": sfn.JsonPath.string_at("$.tuningInput.parallelText"),
        },
        result_path="$.tuningInput",
    )
    low, high = defaults.max_jobs_bounds
    jobs, parallel = f"{merged}.maxJobs", f"{merged}.maxParallelJobs"
    validate = sfn.Choice(scope, "ValidateTuningInput")
    rules = [
        (
            sfn.Condition.not_(
                sfn.Condition.number_equals("$.tuningInput.keyCount", len(contract.TUNING_KEYS))
            ),
            "RejectTuningKeys",
            keys[contract.TUNING].message,
        ),
        (
            sfn.Condition.not_(sfn.Condition.is_boolean(f"{merged}.enabled")),
            "RejectTuningEnabled",
            contract.TUNING_ENABLED_MESSAGE,
        ),
        (
            sfn.Condition.not_(_whole_within(jobs, "$.tuningInput.jobsText", low, high)),
            "RejectTuningMaxJobs",
            contract.tuning_max_jobs_message(low, high),
        ),
        (
            sfn.Condition.not_(
                _whole_within(
                    parallel, "$.tuningInput.parallelText", 1, contract.MAX_PARALLEL_TUNING_JOBS
                )
            ),
            "RejectTuningMaxParallelJobs",
            contract.TUNING_MAX_PARALLEL_JOBS_MESSAGE,
        ),
        (
            sfn.Condition.number_greater_than_json_path(parallel, jobs),
            "RejectTuningParallelAboveJobs",
            contract.TUNING_PARALLEL_ABOVE_JOBS,
        ),
        (
            sfn.Condition.and_(
                sfn.Condition.boolean_equals(f"{merged}.enabled", True),
                refuse_tuned_in_input(defaults.tuned),
            ),
            "RejectTunedHyperparameters",
            f"hyperparameters: {', '.join(defaults.tuned)} are tuned by this pipeline's tuning "
            'job; leave them out, or train once with "tuning": {"enabled": false}',
        ),
    ]
    for condition, state_id, cause in rules:
        validate.when(
            condition,
            failure.reject(scope, state_id, error=contract.INVALID_INPUT, cause=cause),
        )
    # Reserved keys last, as for a single job's hyperparameters.
    resolve = sfn.Pass(
        scope,
        "ResolveTuning",
        parameters={
            "hyperparameters": sfn.JsonPath.object_at("$.run.hyperparameters"),
            "staticHyperparameters": sfn.JsonPath.json_merge(
                sfn.JsonPath.json_merge(
                    sfn.JsonPath.object_at("$.tuningInput.static"),
                    sfn.JsonPath.object_at("$.config.hyperparameters"),
                ),
                sfn.JsonPath.object_at("$.reservedHyperparameters"),
            ),
        },
        result_path="$.run",
    )
    write = sfn.Pass(
        scope,
        "UseTuningInput",
        parameters={
            "enabled": sfn.JsonPath.string_at(f"{merged}.enabled"),
            "maxJobs": sfn.JsonPath.number_at(jobs),
            "maxParallelJobs": sfn.JsonPath.number_at(parallel),
        },
        result_path="$.config.tuning",
    )
    describe.next(shape)
    shape.when(
        sfn.Condition.not_(sfn.Condition.string_matches("$.tuningInput.json", "{*")), reject_shape
    ).otherwise(merge)
    merge.next(inspect).next(count).next(validate)
    validate.otherwise(resolve)
    resolve.next(write)
    return describe, write


def tuning_defaults(
    tuning: TuningSettings | None, hyperparameters: Mapping[str, Any]
) -> TuningDefaults | None:
    """The run defaults of a pipeline's ``tuning`` settings (None: the pipeline does not tune)."""
    if tuning is None:
        return None
    jobs, parallel = tuning.job_counts()
    return TuningDefaults(
        max_jobs=jobs,
        max_parallel_jobs=parallel,
        max_jobs_bounds=tuning.max_jobs_bounds(),
        tuned=tuple(tuning.parameter_ranges),
        static_hyperparameters={
            k: hyperparameter_string(v)
            for k, v in hyperparameters.items()
            if k not in tuning.parameter_ranges
        },
    )
