"""AWS CDK constructs that train and deploy SageMaker models with Step Functions."""

from . import defaults, nag, steps
from .dlc_images import DLC_REGISTRY_ACCOUNTS, UnsupportedRegionError, dlc_image
from .metrics import ACCURACY_METRIC, METRIC_DEFINITIONS
from .ml_pipeline import MLPipeline, StepFactory
from .source_asset import build_source_archive, source_dir_asset
from .steps import (
    RUN_INPUT_KEYS,
    DeployToEndpoint,
    EvaluateModel,
    FailureHandler,
    PrepareRun,
    RunDefaults,
    TrainModel,
)

__all__ = [
    "ACCURACY_METRIC",
    "DLC_REGISTRY_ACCOUNTS",
    "METRIC_DEFINITIONS",
    "RUN_INPUT_KEYS",
    "DeployToEndpoint",
    "EvaluateModel",
    "FailureHandler",
    "MLPipeline",
    "PrepareRun",
    "RunDefaults",
    "StepFactory",
    "TrainModel",
    "UnsupportedRegionError",
    "build_source_archive",
    "defaults",
    "dlc_image",
    "nag",
    "source_dir_asset",
    "steps",
]
__version__ = "0.1.0"
