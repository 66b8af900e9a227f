"""How the local SageMaker picks each trial's hyperparameters from a tuning job's ranges.

SageMaker's strategies ("How Hyperparameter Tuning Works",
https://docs.aws.amazon.com/sagemaker/latest/dg/automatic-model-tuning-how-it-works.html) and what
the emulator does for each:

- ``Random``: each trial draws every range independently, on the range's scale, as SageMaker does.
- ``Grid``: every combination of the categorical values, in order (first range slowest), once;
  the documentation: "the total number of distinct categorical combinations possible".
- ``Bayesian``: emulated by random search. SageMaker's Bayesian optimization learns from the
  trials so far; the emulator's trials do not, so a Bayesian job finds what a random one finds.
- ``Hyperband``: emulated by random search with every trial running to its end (SageMaker stops
  poor trials early at its brackets' resource levels).

Scales (``ScalingType``, botocore's ``ContinuousParameterRange`` / ``IntegerParameterRange``):
``Linear`` draws uniformly; ``Logarithmic`` uniformly in ``log(x)``; ``ReverseLogarithmic``
uniformly in ``log(1 - x)`` (continuous ranges within ``0 <= x < 1``); ``Auto``, where SageMaker
chooses the scale itself, is linear here. Values are passed to the trial as strings, as SageMaker
passes hyperparameters: a continuous value as Python's shortest ``repr`` of the float
(``0.0123456``), an integer as its digits, a categorical value as given.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TunedValues = dict[str, str]


@dataclass(frozen=True)
class NumericRange:
    name: str
    low: float
    high: float
    scaling: str
    integer: bool

    def draw(self, rng: random.Random) -> str:
        if self.integer:
            return str(self._draw_integer(rng))
        return repr(self._draw_continuous(rng))

    def _draw_continuous(self, rng: random.Random) -> float:
        if self.scaling == "Logarithmic":
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        if self.scaling == "ReverseLogarithmic":
            return 1.0 - math.exp(rng.uniform(math.log(1.0 - self.high), math.log(1.0 - self.low)))
        return rng.uniform(self.low, self.high)

    def _draw_integer(self, rng: random.Random) -> int:
        low, high = int(self.low), int(self.high)
        if self.scaling == "Logarithmic":
            # Uniform in log over [low, high + 1), so that the top integer gets its share.
            value = math.exp(rng.uniform(math.log(low), math.log(high + 1)))
            return min(high, math.floor(value))
        return rng.randint(low, high)


@dataclass(frozen=True)
class CategoricalRange:
    name: str
    values: tuple[str, ...]

    def draw(self, rng: random.Random) -> str:
        return rng.choice(self.values)


@dataclass(frozen=True)
class Ranges:
    numeric: tuple[NumericRange, ...]
    categorical: tuple[CategoricalRange, ...]

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.numeric] + [r.name for r in self.categorical]

    def grid_size(self) -> int:
        return math.prod(len(r.values) for r in self.categorical)


def parse_ranges(parameter_ranges: Mapping[str, Any] | None) -> Ranges:
    """The ranges of a request's ``ParameterRanges``; the request gate has checked them."""
    given = parameter_ranges or {}
    numeric = [
        NumericRange(
            name=str(r["Name"]),
            low=float(r["MinValue"]),
            high=float(r["MaxValue"]),
            scaling=str(r.get("ScalingType") or "Auto"),
            integer=kind == "IntegerParameterRanges",
        )
        for kind in ("IntegerParameterRanges", "ContinuousParameterRanges")
        for r in given.get(kind) or []
    ]
    categorical = [
        CategoricalRange(name=str(r["Name"]), values=tuple(str(v) for v in r["Values"]))
        for r in given.get("CategoricalParameterRanges") or []
    ]
    return Ranges(numeric=tuple(numeric), categorical=tuple(categorical))


def _grid(ranges: Ranges) -> Iterator[TunedValues]:
    names = [r.name for r in ranges.categorical]
    for combination in itertools.product(*(r.values for r in ranges.categorical)):
        yield dict(zip(names, combination, strict=True))


def _random(ranges: Ranges, rng: random.Random) -> Iterator[TunedValues]:
    members: Sequence[NumericRange | CategoricalRange] = (*ranges.numeric, *ranges.categorical)
    while True:
        yield {r.name: r.draw(rng) for r in members}


def trial_values(strategy: str, ranges: Ranges, seed: int | None) -> Iterator[TunedValues]:
    """The tuned hyperparameters of each trial, in launch order (endless but for ``Grid``)."""
    if strategy == "Grid":
        return _grid(ranges)
    return _random(ranges, random.Random(seed))
