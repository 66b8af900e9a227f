"""The metric lines the training script prints and the regexes SageMaker captures them with.

This module is the single source of truth for both sides: the construct puts
:data:`METRIC_DEFINITIONS` into the training job's ``AlgorithmSpecification.MetricDefinitions``
and the state machine reads :data:`ACCURACY_METRIC` from the job's ``FinalMetricDataList``; the
training script (which runs in the container without this library) prints
``train_loss=<float>``, ``test_loss=<float>`` and ``test_accuracy=<float>`` and the tests check
that these regexes match its real output. Accuracy is a fraction between 0 and 1.
"""

from __future__ import annotations

import re
from typing import Final

_NUMBER: Final = r"([0-9]+\.?[0-9]*(?:[eE][-+]?[0-9]+)?)"

TRAIN_LOSS_METRIC: Final = "train:loss"
TEST_LOSS_METRIC: Final = "test:loss"
ACCURACY_METRIC: Final = "test:accuracy"

#: ``{"Name": ..., "Regex": ...}`` entries, as SageMaker's ``MetricDefinitions`` takes them.
METRIC_DEFINITIONS: Final[tuple[dict[str, str], ...]] = (
    {"Name": TRAIN_LOSS_METRIC, "Regex": rf"train_loss={_NUMBER}"},
    {"Name": TEST_LOSS_METRIC, "Regex": rf"test_loss={_NUMBER}"},
    {"Name": ACCURACY_METRIC, "Regex": rf"test_accuracy={_NUMBER}"},
)


def parse_metrics(log: str) -> dict[str, list[float]]:
    """Every value each metric definition captures in ``log``, in order, as SageMaker reads them."""
    return {
        definition["Name"]: [float(v) for v in re.findall(definition["Regex"], log)]
        for definition in METRIC_DEFINITIONS
    }
