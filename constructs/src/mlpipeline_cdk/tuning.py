"""Hyperparameter tuning: the ``tuning`` settings of MLPipeline, their ranges and their checks.

A pipeline with ``tuning=TuningSettings(...)`` runs a SageMaker hyperparameter tuning job
(``createHyperParameterTuningJob.sync``) instead of one training job, and continues with the best
trial exactly as with a single job. The limits below come from AWS's own sources:

- botocore's SageMaker service model (``CreateHyperParameterTuningJob``): job names of 1 to 32
  characters ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}``; ``Strategy`` Bayesian | Random | Hyperband |
  Grid; ``ScalingType`` Auto | Linear | Logarithmic | ReverseLogarithmic, "Logarithmic scaling
  works only for ranges that have only values greater than 0", "Reverse logarithmic scaling works
  only for ranges that are entirely within the range 0<=x<1.0" (``ContinuousParameterRange``;
  ``IntegerParameterRange`` documents Auto, Linear and Logarithmic only); at most 30 ranges in all
  and 30 values per categorical range (``ParameterRanges``: "the sum of the number of
  hyperparameters for all the ranges can't exceed the maximum number specified"); range values
  of at most 256 characters (``ParameterValue``); "TrainingJobEarlyStoppingType must be OFF to use
  Hyperband" (``HyperParameterTuningJobConfig``); Hyperband infers ``MaxResource`` from a static
  ``epochs``, ``numepochs``, ``n-epochs``, ``n_epochs`` or ``num_epochs`` hyperparameter, at most
  20,000 (``HyperbandStrategyConfig.MaxResource``).
- https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-how-it-works.html (Grid
  search): "Only categorical parameters are supported when using the grid search strategy ...
  If specified, the value of MaxNumberOfTrainingJobs should equal the total number of distinct
  categorical combinations possible."
- https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-limits.html: at most 750
  training jobs per tuning job (10,000 for Random search with a quota increase), 100 parallel
  training jobs (10 by default), 30 hyperparameters searched.
- https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-define-ranges.html: up
  to 100 hyperparameters in all (static and tunable); SageMaker adds ``_tuning_objective_metric``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ._declare import about
from .contract.script import ACCURACY_METRIC, METRIC_DEFINITIONS, RESERVED_HYPERPARAMETER_PREFIX

TUNING_JOB_NAME_MAX: Final = 32
#: The first part of a tuning job's name, ``<stem>-<20 hex digits of two UUIDs>``.
NAME_STEM_MAX: Final = TUNING_JOB_NAME_MAX - 1 - 20
MAX_JOBS_LIMIT: Final = 750
RANDOM_MAX_JOBS_LIMIT: Final = 10_000
MAX_PARALLEL_JOBS_LIMIT: Final = 100
MAX_RANGES: Final = 30
MAX_CATEGORICAL_VALUES: Final = 30
MAX_HYPERPARAMETERS: Final = 100
PARAMETER_VALUE_MAX: Final = 256
HYPERBAND_RESOURCE_KEYS: Final = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
HYPERBAND_MAX_RESOURCE: Final = 20_000
#: The static hyperparameter SageMaker adds to every trial.
TUNING_OBJECTIVE_HYPERPARAMETER: Final = "_tuning_objective_metric"

STRATEGIES: Final = ("Bayesian", "Random", "Hyperband", "Grid")
OBJECTIVE_TYPES: Final = ("Maximize", "Minimize")
EARLY_STOPPING: Final = ("Off", "Auto")
CONTINUOUS_SCALING: Final = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
INTEGER_SCALING: Final = ("Auto", "Linear", "Logarithmic")
METRIC_NAMES: Final = tuple(d["Name"] for d in METRIC_DEFINITIONS)
DEFAULT_MAX_JOBS: Final = 10

Problem = tuple[str, Any, str]


@dataclass(frozen=True)
class ContinuousRange:
    """Any number from ``min_value`` to ``max_value``."""

    min_value: float
    max_value: float
    #: Auto | Linear | Logarithmic (values above 0) | ReverseLogarithmic (0 <= values < 1).
    scaling: str = "Auto"


@dataclass(frozen=True)
class IntegerRange:
    """Any whole number from ``min_value`` to ``max_value``."""

    min_value: int
    max_value: int
    #: Auto | Linear | Logarithmic (values above 0).
    scaling: str = "Auto"


@dataclass(frozen=True)
class CategoricalRange:
    """One of ``values`` (1 to 30 distinct values, passed to the script as strings)."""

    values: Sequence[str | int | float | bool]


ParameterRange = ContinuousRange | IntegerRange | CategoricalRange


def _one_of(allowed: Sequence[str]) -> Any:
    def check(value: str) -> str | None:
        return None if value in allowed else f"must be one of {', '.join(allowed)}"

    return check


def _whole_from(low: int, high: int) -> Any:
    def check(value: int) -> str | None:
        if isinstance(value, bool) or not low <= value <= high:
            return f"must be a whole number from {low} to {high}"
        return None

    return check


def _check_ranges(value: Mapping[str, Any]) -> str | None:
    if not value:
        return "must name at least one hyperparameter to tune, e.g. {'lr': ContinuousRange(...)}"
    if len(value) > MAX_RANGES:
        return f"may tune at most {MAX_RANGES} hyperparameters (SageMaker's ParameterRanges)"
    return None


@dataclass(frozen=True, kw_only=True)
class TuningSettings:
    """Train with a SageMaker hyperparameter tuning job instead of one training job; the best
    trial is then judged, registered and deployed as a single job's model would be. A run's
    input may switch tuning off or change the job counts (`tuning`)."""

    parameter_ranges: Mapping[str, ParameterRange] = field(
        default_factory=dict,
        metadata=about(
            "The hyperparameters to tune, by the name the script takes: `ContinuousRange`, "
            "`IntegerRange` or `CategoricalRange`; at most 30. Every other hyperparameter stays "
            "as `training.hyperparameters` and the run input set it.",
            types=(Mapping,),
            check=_check_ranges,
            shown="required",
        ),
    )
    objective_metric: str = field(
        default=ACCURACY_METRIC,
        metadata=about(
            "The metric the tuning job optimizes: one of the script contract's metrics "
            f"({', '.join(METRIC_NAMES)}).",
            types=(str,),
            check=_one_of(METRIC_NAMES),
        ),
    )
    objective_type: str = field(
        default="Maximize",
        metadata=about(
            "`Maximize` or `Minimize` the objective metric.",
            types=(str,),
            check=_one_of(OBJECTIVE_TYPES),
        ),
    )
    strategy: str = field(
        default="Bayesian",
        metadata=about(
            "`Bayesian`, `Random`, `Hyperband` (needs an `epochs` hyperparameter in "
            "`training.hyperparameters` and `early_stopping` `Off`) or `Grid` (categorical "
            "ranges only; runs every combination).",
            types=(str,),
            check=_one_of(STRATEGIES),
        ),
    )
    max_jobs: int | None = field(
        default=None,
        metadata=about(
            "Trials in all: each is a training job, billed as one. At most 750 (Random: "
            "10,000 with a quota increase).",
            types=(int,),
            check=_whole_from(1, RANDOM_MAX_JOBS_LIMIT),
            shown=f"{DEFAULT_MAX_JOBS}; Grid: the number of combinations",
        ),
    )
    max_parallel_jobs: int = field(
        default=2,
        metadata=about(
            "Trials at once, at most `max_jobs` and 100 (SageMaker's default quota is 10).",
            types=(int,),
            check=_whole_from(1, MAX_PARALLEL_JOBS_LIMIT),
        ),
    )
    early_stopping: str = field(
        default="Off",
        metadata=about(
            "`Auto` lets SageMaker stop trials unlikely to beat the completed ones.",
            types=(str,),
            check=_one_of(EARLY_STOPPING),
        ),
    )

    def job_counts(self) -> tuple[int, int]:
        """``(max_jobs, max_parallel_jobs)`` a run uses unless its input changes them."""
        if self.max_jobs is not None:
            return self.max_jobs, self.max_parallel_jobs
        if self.strategy == "Grid":
            return grid_size(self), self.max_parallel_jobs
        return DEFAULT_MAX_JOBS, self.max_parallel_jobs

    def max_jobs_bounds(self) -> tuple[int, int]:
        """The ``maxJobs`` a run may ask for: Grid runs every combination, no more, no less."""
        if self.strategy == "Grid":
            size = grid_size(self)
            return size, size
        return 1, RANDOM_MAX_JOBS_LIMIT if self.strategy == "Random" else MAX_JOBS_LIMIT


def grid_size(tuning: TuningSettings) -> int:
    sizes = [
        len(r.values) for r in tuning.parameter_ranges.values() if isinstance(r, CategoricalRange)
    ]
    return math.prod(sizes)


def name_stem(name_prefix: str) -> str:
    """The first part of every tuning job name of a pipeline: ``name_prefix`` when it fits,
    else its start and a short hash of it, so that two prefixes keep apart."""
    if len(name_prefix) <= NAME_STEM_MAX:
        return name_prefix
    digest = hashlib.sha256(name_prefix.encode()).hexdigest()[:5]
    return f"{name_prefix[: NAME_STEM_MAX - 5].rstrip('-')}{digest}"


def value_string(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parameter_ranges(tuning: TuningSettings) -> dict[str, list[dict[str, Any]]]:
    """``ParameterRanges`` of the request: SageMaker takes every value as a string."""
    ranges: dict[str, list[dict[str, Any]]] = {}
    for name, spec in tuning.parameter_ranges.items():
        if isinstance(spec, CategoricalRange):
            entry: dict[str, Any] = {"Name": name, "Values": [value_string(v) for v in spec.values]}
            ranges.setdefault("CategoricalParameterRanges", []).append(entry)
            continue
        kind = "Continuous" if isinstance(spec, ContinuousRange) else "Integer"
        ranges.setdefault(f"{kind}ParameterRanges", []).append(
            {
                "Name": name,
                "MinValue": str(spec.min_value),
                "MaxValue": str(spec.max_value),
                "ScalingType": spec.scaling,
            }
        )
    return ranges


# --- the checks that span a range's fields, the group, and the training settings ---------------


def tuning_problems(
    tuning: TuningSettings, hyperparameters: Mapping[str, Any], name_prefix: str
) -> Iterator[Problem]:
    """Every problem of ``tuning`` beyond its fields' own checks."""
    ranges = tuning.parameter_ranges if isinstance(tuning.parameter_ranges, Mapping) else {}
    for name, spec in ranges.items():
        yield from _range_problems(name, spec)
    yield from _strategy_problems(tuning, ranges, hyperparameters)
    if all(isinstance(r, ParameterRange) for r in ranges.values()):
        yield from _count_problems(tuning)
    total = len(set(hyperparameters) | set(ranges)) + 4 + 1
    if total > MAX_HYPERPARAMETERS:
        yield (
            "tuning.parameter_ranges",
            f"{total} hyperparameters",
            f"SageMaker takes at most {MAX_HYPERPARAMETERS} hyperparameters in all, tuned and "
            "static, with the pipeline's 4 and SageMaker's _tuning_objective_metric",
        )
    if not isinstance(name_prefix, str) or not name_prefix or "${Token" in name_prefix:
        yield ("name_prefix", name_prefix, "must be known at synth time to name tuning jobs")


def _range_problems(name: Any, spec: Any) -> Iterator[Problem]:
    setting = f"tuning.parameter_ranges[{name!r}]"
    if not isinstance(name, str) or not 1 <= len(name) <= PARAMETER_VALUE_MAX:
        yield ("tuning.parameter_ranges", name, "names must be strings of 1 to 256 characters")
        return
    if name.startswith(RESERVED_HYPERPARAMETER_PREFIX) or name == TUNING_OBJECTIVE_HYPERPARAMETER:
        yield (
            "tuning.parameter_ranges",
            name,
            "names starting with 'sagemaker_', and '_tuning_objective_metric', are SageMaker's "
            "own hyperparameters, set by the pipeline and the tuning job",
        )
        return
    if isinstance(spec, CategoricalRange):
        yield from _categorical_problems(setting, spec)
    elif isinstance(spec, ContinuousRange | IntegerRange):
        yield from _numeric_problems(setting, spec)
    else:
        yield (setting, spec, "must be a ContinuousRange, IntegerRange or CategoricalRange")


def _categorical_problems(setting: str, spec: CategoricalRange) -> Iterator[Problem]:
    values = spec.values
    if isinstance(values, str) or not isinstance(values, Sequence):
        yield (setting, values, "values must be a list, e.g. CategoricalRange(['32', '64'])")
        return
    if not 1 <= len(values) <= MAX_CATEGORICAL_VALUES:
        yield (setting, list(values), f"must have 1 to {MAX_CATEGORICAL_VALUES} values")
    wrong = [v for v in values if not isinstance(v, str | int | float)]
    if wrong:
        yield (setting, wrong, "values must be strings, numbers or booleans")
        return
    texts = [value_string(v) for v in values]
    if len(set(texts)) != len(texts):
        yield (setting, list(values), "values must be distinct")
    if any(not 1 <= len(t) <= PARAMETER_VALUE_MAX for t in texts):
        yield (setting, list(values), "values must be 1 to 256 characters long as text")


def _numeric_problems(setting: str, spec: ContinuousRange | IntegerRange) -> Iterator[Problem]:
    low, high = spec.min_value, spec.max_value
    whole = isinstance(spec, IntegerRange)
    kinds: tuple[type, ...] = (int,) if whole else (int, float)
    if any(isinstance(v, bool) or not isinstance(v, kinds) for v in (low, high)):
        yield (
            setting,
            spec,
            "min_value and max_value must be " + ("whole numbers" if whole else "numbers"),
        )
        return
    if not (math.isfinite(low) and math.isfinite(high)):
        yield (setting, spec, "min_value and max_value must be finite")
        return
    if low >= high:
        yield (setting, spec, "min_value must be below max_value (the range is empty or inverted)")
    allowed = INTEGER_SCALING if whole else CONTINUOUS_SCALING
    if spec.scaling not in allowed:
        yield (f"{setting}.scaling", spec.scaling, f"must be one of {', '.join(allowed)}")
    elif spec.scaling == "Logarithmic" and low <= 0:
        yield (setting, spec, "Logarithmic scaling needs min_value above 0")
    elif spec.scaling == "ReverseLogarithmic" and not (low >= 0 and high < 1):
        yield (setting, spec, "ReverseLogarithmic scaling needs 0 <= min_value and max_value < 1")


def _strategy_problems(
    tuning: TuningSettings, ranges: Mapping[str, Any], hyperparameters: Mapping[str, Any]
) -> Iterator[Problem]:
    if tuning.strategy == "Grid":
        numeric = sorted(str(n) for n, r in ranges.items() if not isinstance(r, CategoricalRange))
        if numeric:
            yield (
                "tuning.strategy",
                "Grid",
                f"Grid search takes categorical ranges only ({', '.join(numeric)} are not): use "
                "CategoricalRange or another strategy",
            )
    if tuning.strategy != "Hyperband":
        return
    if tuning.early_stopping != "Off":
        yield ("tuning.early_stopping", tuning.early_stopping, "must be Off with Hyperband")
    resources = [k for k in HYPERBAND_RESOURCE_KEYS if k in hyperparameters and k not in ranges]
    if not resources:
        yield (
            "tuning.strategy",
            "Hyperband",
            "Hyperband needs the number of epochs as a static hyperparameter: set one of "
            f"{', '.join(HYPERBAND_RESOURCE_KEYS)} in training.hyperparameters, untuned",
        )
        return
    epochs = hyperparameters[resources[0]]
    if (
        isinstance(epochs, bool)
        or not isinstance(epochs, int | str)
        or not (str(epochs).isdigit() and 1 <= int(epochs) <= HYPERBAND_MAX_RESOURCE)
    ):
        yield (
            f"training.hyperparameters[{resources[0]!r}]",
            epochs,
            f"must be a whole number from 1 to {HYPERBAND_MAX_RESOURCE} with Hyperband",
        )


def _count_problems(tuning: TuningSettings) -> Iterator[Problem]:
    if not isinstance(tuning.max_parallel_jobs, int) or (
        tuning.max_jobs is not None and not isinstance(tuning.max_jobs, int)
    ):
        return
    low, high = tuning.max_jobs_bounds()
    jobs, parallel = tuning.job_counts()
    if tuning.strategy == "Grid" and high > MAX_JOBS_LIMIT:
        yield (
            "tuning.parameter_ranges",
            f"{high} combinations",
            f"Grid search runs every combination, and a tuning job runs at most {MAX_JOBS_LIMIT}",
        )
    elif tuning.strategy == "Grid" and not low <= jobs <= high:
        yield (
            "tuning.max_jobs",
            tuning.max_jobs,
            f"Grid search runs every combination of the categorical values, {low}: leave "
            "max_jobs out or set it to that",
        )
    elif not low <= jobs <= high:
        yield ("tuning.max_jobs", jobs, f"must be from {low} to {high} with {tuning.strategy}")
    if parallel > jobs:
        yield ("tuning.max_parallel_jobs", parallel, f"must be at most max_jobs ({jobs})")
