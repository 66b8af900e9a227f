"""What SageMaker's training toolkit gives a script in a framework container: its view of the
hyperparameters (decoded, the script's own, as command line arguments and ``SM_*`` values) and
the configuration files of ``/opt/ml/input/config``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from .runtime import TrainingJobSpec

#: Hyperparameters the training toolkit keeps from the script, besides any ``sagemaker_*`` one
#: (sagemaker_training.params.SAGEMAKER_HYPERPARAMETERS).
TOOLKIT_HYPERPARAMETERS: Final = frozenset({"default_user_module_name", "_tuning_objective_metric"})
INSTANCE_GROUP: Final = "homogeneousCluster"
NETWORK_INTERFACE: Final = "eth0"


def decode_hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """Each value JSON-decoded when it is JSON, else kept as the string it is (the toolkit's
    ``read_hyperparameters``)."""
    decoded: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            decoded[name] = json.loads(value)
        except (ValueError, TypeError):
            decoded[name] = value
    return decoded


def user_hyperparameters(decoded: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters the script sees: all but the toolkit's own (``sagemaker_*`` ...)."""
    return {
        name: value
        for name, value in decoded.items()
        if not name.startswith("sagemaker_") and name not in TOOLKIT_HYPERPARAMETERS
    }


def _argument_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return str(value)


def command_line_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """``--name value`` per hyperparameter, sorted by name, values as ``str()`` renders the
    decoded JSON (``True``, ``0.001``, ``[1, 2]``), one-letter names as ``-n`` (the toolkit's
    ``mapping.to_cmd_args``)."""
    args: list[str] = []
    for name in sorted(hyperparameters):
        args += [
            f"--{name}" if len(name) > 1 else f"-{name}",
            _argument_value(hyperparameters[name]),
        ]
    return args


def env_value(value: Any) -> str:
    """A value as the toolkit writes it into an ``SM_*`` variable (``mapping.to_env_vars``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def resource_config(job: TrainingJobSpec, hosts: list[str], host: str) -> dict[str, Any]:
    """``/opt/ml/input/config/resourceconfig.json`` of ``host``."""
    instance_type = job.instance_type or "local"
    return {
        "current_host": host,
        "current_instance_type": instance_type,
        "current_group_name": INSTANCE_GROUP,
        "hosts": hosts,
        "instance_groups": [
            {
                "instance_group_name": INSTANCE_GROUP,
                "instance_type": instance_type,
                "hosts": hosts,
            }
        ],
        "network_interface_name": NETWORK_INTERFACE,
    }


def input_data_config(job: TrainingJobSpec) -> dict[str, Any]:
    """``/opt/ml/input/config/inputdataconfig.json``."""
    config: dict[str, Any] = {}
    for channel in job.input_channels:
        entry = {
            "TrainingInputMode": channel.input_mode,
            "S3DistributionType": channel.s3_data_distribution_type,
            "RecordWrapperType": "None",
        }
        if channel.content_type:
            entry["ContentType"] = channel.content_type
        if channel.compression_type:
            entry["CompressionType"] = channel.compression_type
        config[channel.name] = entry
    return config
