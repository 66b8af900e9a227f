"""AWS CDK constructs that train and deploy SageMaker models with Step Functions."""

from .dlc_images import DLC_REGISTRY_ACCOUNTS, UnsupportedRegionError, dlc_image
from .metrics import ACCURACY_METRIC, METRIC_DEFINITIONS
from .ml_pipeline import MLPipeline
from .source_asset import build_source_archive, source_dir_asset

__all__ = [
    "ACCURACY_METRIC",
    "DLC_REGISTRY_ACCOUNTS",
    "METRIC_DEFINITIONS",
    "MLPipeline",
    "UnsupportedRegionError",
    "build_source_archive",
    "dlc_image",
    "source_dir_asset",
]
__version__ = "0.1.0"
