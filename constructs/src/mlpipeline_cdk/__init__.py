"""AWS CDK constructs that train and deploy SageMaker models with Step Functions.

Names are imported on first use, so that the run-time tools (``mlpipeline_cli``,
``mlpipeline_emulator``) start without loading aws-cdk-lib and its JavaScript runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import defaults as defaults
    from . import nag as nag
    from . import settings as settings
    from . import steps as steps
    from . import tuning as tuning
    from .autoscaling import AutoscalingSettings as AutoscalingSettings
    from .capture import CaptureSettings as CaptureSettings
    from .contract.script import ACCURACY_METRIC as ACCURACY_METRIC
    from .contract.script import METRIC_DEFINITIONS as METRIC_DEFINITIONS
    from .dlc_images import DLC_REGISTRY_ACCOUNTS as DLC_REGISTRY_ACCOUNTS
    from .dlc_images import UnsupportedRegionError as UnsupportedRegionError
    from .dlc_images import dlc_image as dlc_image
    from .idle_stop import IdleStopSettings as IdleStopSettings
    from .ml_pipeline import MLPipeline as MLPipeline
    from .ml_pipeline import StepFactory as StepFactory
    from .monitoring import MonitoringSettings as MonitoringSettings
    from .rollout_settings import RolloutSettings as RolloutSettings
    from .serverless import ServerlessSettings as ServerlessSettings
    from .settings import HookContext as HookContext
    from .settings import Hooks as Hooks
    from .settings import NetworkSettings as NetworkSettings
    from .settings import NotificationSettings as NotificationSettings
    from .settings import RegistrySettings as RegistrySettings
    from .settings import ServingSettings as ServingSettings
    from .settings import StorageSettings as StorageSettings
    from .settings import TrainingSettings as TrainingSettings
    from .settings import TriggerSettings as TriggerSettings
    from .source_asset import build_source_archive as build_source_archive
    from .source_asset import source_dir_asset as source_dir_asset
    from .steps import RUN_INPUT_KEYS as RUN_INPUT_KEYS
    from .steps import DeployToEndpoint as DeployToEndpoint
    from .steps import EvaluateModel as EvaluateModel
    from .steps import FailureHandler as FailureHandler
    from .steps import FindModelPackage as FindModelPackage
    from .steps import PrepareRun as PrepareRun
    from .steps import RegisterModel as RegisterModel
    from .steps import RunDefaults as RunDefaults
    from .steps import TrainModel as TrainModel
    from .tuning import CategoricalRange as CategoricalRange
    from .tuning import ContinuousRange as ContinuousRange
    from .tuning import IntegerRange as IntegerRange
    from .tuning import TuningSettings as TuningSettings

_WHERE: dict[str, str] = {
    "ACCURACY_METRIC": ".contract.script",
    "DLC_REGISTRY_ACCOUNTS": ".dlc_images",
    "METRIC_DEFINITIONS": ".contract.script",
    "RUN_INPUT_KEYS": ".steps",
    "DeployToEndpoint": ".steps",
    "EvaluateModel": ".steps",
    "FailureHandler": ".steps",
    "FindModelPackage": ".steps",
    "HookContext": ".settings",
    "Hooks": ".settings",
    "IdleStopSettings": ".idle_stop",
    "NetworkSettings": ".settings",
    "NotificationSettings": ".settings",
    "RegistrySettings": ".settings",
    "RolloutSettings": ".rollout_settings",
    "ServingSettings": ".settings",
    "StorageSettings": ".settings",
    "TrainingSettings": ".settings",
    "TriggerSettings": ".settings",
    "MLPipeline": ".ml_pipeline",
    "MonitoringSettings": ".monitoring",
    "PrepareRun": ".steps",
    "RegisterModel": ".steps",
    "RunDefaults": ".steps",
    "StepFactory": ".ml_pipeline",
    "TrainModel": ".steps",
    "UnsupportedRegionError": ".dlc_images",
    "build_source_archive": ".source_asset",
    "CategoricalRange": ".tuning",
    "ContinuousRange": ".tuning",
    "IntegerRange": ".tuning",
    "TuningSettings": ".tuning",
    "AutoscalingSettings": ".autoscaling",
    "dlc_image": ".dlc_images",
    "CaptureSettings": ".capture",
    "ServerlessSettings": ".serverless",
    "source_dir_asset": ".source_asset",
}
_SUBMODULES = frozenset({"defaults", "nag", "settings", "steps", "tuning"})

__all__ = sorted([*_WHERE, *_SUBMODULES])
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value: Any = importlib.import_module(f".{name}", __name__)
    elif name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
