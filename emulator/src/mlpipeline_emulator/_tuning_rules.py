"""SageMaker's documented rules for CreateHyperParameterTuningJob that its API model cannot state,
and what the emulator's tuning jobs need.

Sources (quoted at each rule):

- botocore's SageMaker model, the members' documentation (``ContinuousParameterRange``,
  ``IntegerParameterRange``, ``ParameterRanges``, ``HyperParameterTuningJobConfig``,
  ``HyperbandStrategyConfig``), which is the API reference's text
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_HyperParameterTuningJobConfig.html);
- "How Hyperparameter Tuning Works", grid search
  (https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-how-it-works.html).

The messages are ours (AWS does not publish its own); :mod:`._documented_rules` raises them as
``ValidationException``, SageMaker's error for a request that fails its constraints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from ._tuning_search import parse_ranges

_RANGE_KINDS: Final = ("IntegerParameterRanges", "ContinuousParameterRanges")
#: ParameterRanges: "the sum of the number of hyperparameters for all the ranges can't exceed the
#: maximum number specified" (30, the lists' ``max`` in botocore's model).
MAX_RANGES: Final = 30
#: HyperbandStrategyConfig.MaxResource: "If a value for MaxResource is not provided ...
#: HyperbandTraining attempts to infer MaxResource from the following keys (if present) in
#: StaticsHyperParameters ... If HyperbandStrategyConfig is unable to infer a value for
#: MaxResource, it generates a validation error."
HYPERBAND_EPOCH_KEYS: Final = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


def _config(request: Mapping[str, Any]) -> Mapping[str, Any]:
    config = request.get("HyperParameterTuningJobConfig")
    return config if isinstance(config, Mapping) else {}


def _number(text: Any, integer: bool) -> float | None:
    try:
        value = int(text) if integer else float(text)
    except (TypeError, ValueError):
        return None
    return float(value) if math.isfinite(value) else None


def _range_problems(kind: str, item: Mapping[str, Any]) -> list[str]:
    """One integer or continuous range: numbers, in order, on a scale that fits them."""
    integer = kind == "IntegerParameterRanges"
    where = f"ParameterRanges.{kind} '{item.get('Name')}'"
    low, high = _number(item.get("MinValue"), integer), _number(item.get("MaxValue"), integer)
    wanted = "an integer" if integer else "a number"
    if low is None or high is None:
        return [f"{where}: MinValue and MaxValue must each be {wanted}."]
    if low > high:
        return [f"{where}: MinValue ({low:g}) must not be greater than MaxValue ({high:g})."]
    scaling = item.get("ScalingType") or "Auto"
    # ScalingType: "Logarithmic scaling works only for ranges that have only values greater
    # than 0."
    if scaling == "Logarithmic" and low <= 0:
        return [f"{where}: Logarithmic scaling works only for ranges whose values are all > 0."]
    if scaling == "ReverseLogarithmic":
        # IntegerParameterRange's ScalingType documents Auto, Linear and Logarithmic only;
        # ContinuousParameterRange's: "Reverse logarithmic scaling works only for ranges that are
        # entirely within the range 0<=x<1.0."
        if integer:
            return [f"{where}: ReverseLogarithmic scaling is for continuous ranges only."]
        if low < 0 or high >= 1:
            return [f"{where}: ReverseLogarithmic scaling works only within 0 <= x < 1.0."]
    return []


def parameter_ranges(request: Mapping[str, Any]) -> list[str]:
    ranges = _config(request).get("ParameterRanges") or {}
    found: list[str] = []
    for kind in _RANGE_KINDS:
        for item in ranges.get(kind) or []:
            if isinstance(item, Mapping):
                found += _range_problems(kind, item)
    count = sum(len(ranges.get(k) or []) for k in (*_RANGE_KINDS, "CategoricalParameterRanges"))
    if count > MAX_RANGES:
        found.append(
            f"ParameterRanges: {count} hyperparameters to tune; at most {MAX_RANGES} in all "
            "ranges together."
        )
    return found


def grid(request: Mapping[str, Any]) -> list[str]:
    """Grid search: "Only categorical parameters are supported when using the grid search
    strategy. You do not need to specify the MaxNumberOfTrainingJobs ... If specified, the value
    of MaxNumberOfTrainingJobs should equal the total number of distinct categorical
    combinations possible." (How Hyperparameter Tuning Works, Grid Search)"""
    config = _config(request)
    if config.get("Strategy") != "Grid":
        return []
    ranges = config.get("ParameterRanges") or {}
    numeric = [r.get("Name") for k in _RANGE_KINDS for r in ranges.get(k) or []]
    if numeric:
        return [
            "Strategy Grid supports categorical parameter ranges only; found integer or "
            f"continuous ranges for {', '.join(map(str, numeric))}."
        ]
    if not ranges.get("CategoricalParameterRanges"):
        return ["Strategy Grid needs at least one categorical parameter range."]
    combinations = parse_ranges(ranges).grid_size()
    limit = (config.get("ResourceLimits") or {}).get("MaxNumberOfTrainingJobs")
    if limit is not None and limit != combinations:
        return [
            f"ResourceLimits.MaxNumberOfTrainingJobs ({limit}) must equal the number of "
            f"distinct categorical combinations ({combinations}) with Strategy Grid, or be "
            "left out."
        ]
    return []


def hyperband(request: Mapping[str, Any]) -> list[str]:
    """HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType: "Because the Hyperband strategy
    has its own advanced internal early stopping mechanism, TrainingJobEarlyStoppingType must be
    OFF to use Hyperband"; StrategyConfig: "This parameter should be provided only if Hyperband
    is selected as the strategy"; MaxResource inferred from the epochs keys, else "a validation
    error"."""
    config = _config(request)
    strategy = config.get("Strategy")
    strategy_config = config.get("StrategyConfig") or {}
    if strategy != "Hyperband":
        if strategy_config:
            return [f"StrategyConfig is for Strategy Hyperband only, not {strategy}."]
        return []
    if config.get("TrainingJobEarlyStoppingType") == "Auto":
        return ["TrainingJobEarlyStoppingType must be Off with Strategy Hyperband."]
    hyperband_config = strategy_config.get("HyperbandStrategyConfig") or {}
    definition = request.get("TrainingJobDefinition") or {}
    static = definition.get("StaticHyperParameters") or {}
    if hyperband_config.get("MaxResource") is None and not any(
        key in static for key in HYPERBAND_EPOCH_KEYS
    ):
        return [
            "HyperbandStrategyConfig.MaxResource is not given and cannot be inferred: "
            f"StaticHyperParameters has none of {', '.join(HYPERBAND_EPOCH_KEYS)}."
        ]
    return []


def objective_metric(request: Mapping[str, Any]) -> list[str]:
    """The objective must be a metric the training jobs emit: for an algorithm of your own (a
    ``TrainingImage``), one of its ``MetricDefinitions`` ("Define metrics and environment
    variables": https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-define-
    metrics-variables.html)."""
    objective = _config(request).get("HyperParameterTuningJobObjective") or {}
    algorithm = (request.get("TrainingJobDefinition") or {}).get("AlgorithmSpecification") or {}
    name = objective.get("MetricName")
    if name is None or not algorithm.get("TrainingImage"):
        return []
    defined = [d.get("Name") for d in algorithm.get("MetricDefinitions") or []]
    if name not in defined:
        listed = ", ".join(map(str, defined)) or "none"
        return [
            f"The objective metric '{name}' is not one of the training job definition's "
            f"MetricDefinitions ({listed})."
        ]
    return []


def emulated(request: Mapping[str, Any]) -> list[str]:
    """What the emulator's tuning jobs need beyond SageMaker's rules, refused rather than run
    wrongly: one TrainingJobDefinition, an objective, and a number of trials."""
    config = _config(request)
    missing = [
        f"{name} is not emulated by mlpipeline_emulator."
        for name in ("TrainingJobDefinitions", "WarmStartConfig", "Autotune")
        if request.get(name)
    ]
    if not request.get("TrainingJobDefinition"):
        missing.append("mlpipeline_emulator needs a TrainingJobDefinition.")
    if not config.get("HyperParameterTuningJobObjective"):
        missing.append("mlpipeline_emulator needs a HyperParameterTuningJobObjective.")
    limits = config.get("ResourceLimits") or {}
    if config.get("Strategy") != "Grid" and limits.get("MaxNumberOfTrainingJobs") is None:
        missing.append(
            "mlpipeline_emulator needs ResourceLimits.MaxNumberOfTrainingJobs with Strategy "
            f"{config.get('Strategy')}."
        )
    return missing


RULES: Final = (emulated, parameter_ranges, grid, hyperband, objective_metric)
