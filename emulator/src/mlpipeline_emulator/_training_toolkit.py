"""What SageMaker's training toolkit gives a script in a framework container: its view of the
hyperparameters (decoded, the script's own, as command line arguments and ``SM_*`` values) and
the configuration files of ``/opt/ml/input/config``."""

from __future__ import annotations

import json
import shutil
import tarfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Final

from ._process_s3 import extract
from ._training_host import HostDirs
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


#: The container's ``/opt/ml``: a ``sagemaker_submit_directory`` below it is a local path (the
#: ``code`` channel of a network-isolated job).
CONTAINER_ROOT: Final = PurePosixPath("/opt/ml")


def local_submit_directory(uri: str, root: Path) -> Path | None:
    """Where ``uri`` is on an instance whose ``/opt/ml`` is ``root``; None for an ``s3://`` URI.
    Raises ValueError for a path outside ``/opt/ml``, which no instance has."""
    if uri.startswith("s3://"):
        return None
    path = PurePosixPath(uri)
    if not path.is_relative_to(CONTAINER_ROOT) or ".." in path.parts:
        raise ValueError(f"{uri} is neither an s3:// URI nor a path under {CONTAINER_ROOT}")
    return root / path.relative_to(CONTAINER_ROOT)


def install_local_code(source: Path, code_dir: Path) -> None:
    """The toolkit's ``files.download_and_extract`` for a local ``uri``: a directory is copied, a
    tar file unpacked (``r:gz``), any other file copied (aws/sagemaker-training-toolkit,
    src/sagemaker_training/files.py)."""
    if source.is_dir():
        shutil.copytree(source, code_dir, dirs_exist_ok=True)
    elif tarfile.is_tarfile(source):
        extract(source, code_dir)
    else:
        shutil.copy2(source, code_dir)


def isolated_download_error(uri: str) -> str:
    """What the toolkit's ``s3_download`` (boto3) meets under network isolation: no route to S3.
    The job then fails as any framework error does."""
    return (
        f"could not download {uri}: the job runs with EnableNetworkIsolation, so its container "
        "has no network access and cannot reach S3 (botocore EndpointConnectionError); deliver "
        "the code as an input channel and name its local path instead"
    )


def install_code(
    uri: str, hosts: Sequence[HostDirs], *, isolated: bool, fetch: Callable[[], Path]
) -> None:
    """Unpack ``sagemaker_submit_directory`` into each instance's ``/opt/ml/code`` as the
    toolkit does: from the instance's own files for a container path, from S3 (``fetch`` returns
    the downloaded archive) otherwise — which a network-isolated job cannot reach."""
    for host in hosts:
        local = local_submit_directory(uri, host.root)
        if local is None and isolated:
            raise OSError(isolated_download_error(uri))
        install_local_code(local if local is not None else fetch(), host.code)
