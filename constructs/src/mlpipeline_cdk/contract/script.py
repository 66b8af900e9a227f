"""The contract between the pipeline and the training and serving script it runs.

One source for every side: the construct (metric definitions of the training job, the
accuracy the gate reads, the hyperparameters and environment it sets), the tests that run the
real script, ``mlpipeline-emulator preflight`` (which checks a script against these rules), and
the library README's *The script contract*, which states the whole contract for other teams'
scripts, with the AWS sources of each rule.

The script runs in SageMaker's PyTorch containers, without this library. It must:

- **take its hyperparameters** as ``--name value`` arguments (never ``sagemaker_*`` ones:
  :data:`RESERVED_HYPERPARAMETER_PREFIX`) and its folders from the ``SM_*`` variables, the data
  from the :data:`TRAINING_CHANNEL` channel;
- **print its metrics** as ``train_loss=<number>``, ``test_loss=<number>`` and
  ``test_accuracy=<number>`` lines (accuracy a fraction from 0 to 1, written with a leading
  digit); SageMaker captures them with :data:`METRIC_DEFINITIONS` and the gate reads the last
  :data:`ACCURACY_METRIC` value (``test:accuracy`` is the metric's name, not a line to print);
- **write the model** under ``$SM_MODEL_DIR`` (``/opt/ml/model``), which SageMaker packs into
  ``model.tar.gz``;
- **copy itself** (and any module it imports) to ``$SM_MODEL_DIR/code/``
  (:data:`SERVING_CODE_DIR` once unpacked), under its own file name: the serving container runs
  the entry point from there (:func:`serving_environment`), and without it falls back on default
  handlers that cannot load the model;
- **serve** through the handlers :data:`HANDLERS` (the inference toolkit only requires
  ``model_fn``, but its defaults for the others are not what the pipeline serves: define all);
- **checkpoint** to :data:`CHECKPOINT_DIR` and resume from there (spot capacity restarts a job);
- **on failure** write the reason to :data:`FAILURE_FILE` and exit nonzero.
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


#: Where SageMaker unpacks ``model.tar.gz`` in the serving container.
MODEL_DIR: Final = "/opt/ml/model"
#: Where the PyTorch serving containers find the user code inside the unpacked model archive.
SERVING_CODE_DIR: Final = f"{MODEL_DIR}/code"
#: The one input channel of the pipeline's training jobs (``SM_CHANNEL_TRAINING``).
TRAINING_CHANNEL: Final = "training"
#: ``CheckpointConfig.LocalPath`` of the pipeline's training jobs, synced with S3.
CHECKPOINT_DIR: Final = "/opt/ml/checkpoints"
#: SageMaker reports its first 1,024 characters as the job's ``FailureReason``.
FAILURE_FILE: Final = "/opt/ml/output/failure"
#: The sub-folder of ``$SM_MODEL_DIR`` the script copies itself into.
CODE_SUBDIR: Final = "code"
#: The inference handlers SageMaker's PyTorch serving toolkit calls; only ``model_fn`` is
#: required (the toolkit has defaults for the others).
HANDLERS: Final = ("model_fn", "input_fn", "predict_fn", "output_fn")
REQUIRED_HANDLERS: Final = ("model_fn",)
#: Hyperparameters the pipeline sets itself (SageMaker's framework containers read them); a
#: user's or a run's hyperparameters may not use this prefix.
RESERVED_HYPERPARAMETER_PREFIX: Final = "sagemaker_"


def training_hyperparameters(
    *, entry_point: str, submit_directory: str, region: str
) -> dict[str, str]:
    """The reserved hyperparameters that make the training container run ``entry_point`` from the
    code archive at ``submit_directory`` (an ``s3://`` URL)."""
    return {
        "sagemaker_program": entry_point,
        "sagemaker_submit_directory": submit_directory,
        "sagemaker_region": region,
        "sagemaker_container_log_level": "20",
    }


def serving_environment(*, entry_point: str, region: str) -> dict[str, str]:
    """The model's environment: the serving container runs ``entry_point`` from the code the
    script copied into the model archive."""
    return {
        "SAGEMAKER_PROGRAM": entry_point,
        "SAGEMAKER_SUBMIT_DIRECTORY": SERVING_CODE_DIR,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": region,
    }
