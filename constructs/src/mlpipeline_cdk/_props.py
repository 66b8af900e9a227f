"""Checks of MLPipeline's settings, collected and raised together before anything is created.

Each setting's own check is declared beside it in :mod:`.settings`; this module adds the checks
that span settings (pairs of bring-your-own and tweak-ours, VPC options without a VPC, the
deploy timeout against the poll interval) and those of the top-level arguments.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator, Mapping
from os import PathLike
from pathlib import Path
from typing import Any, Final

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from . import defaults
from ._checks import SAGEMAKER_NAME_MAX, is_a
from ._validation import Problems, is_token
from .autoscaling import autoscaling_problems
from .settings import (
    HyperparameterValue,
    NetworkSettings,
    NotificationSettings,
    ServingSettings,
    StorageSettings,
    TrainingSettings,
    settings_problems,
)
from .tuning import TuningSettings, tuning_problems

_LOWER_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9])*$")
#: Every run names its SageMaker resources ``<name_prefix>-<uuid>`` (36 characters of UUID).
_UUID_SUFFIX: Final = 1 + 36
NAME_PREFIX_MAX: Final = SAGEMAKER_NAME_MAX - _UUID_SUFFIX
_BUCKET_KWARGS: Final = frozenset(inspect.signature(s3.Bucket.__init__).parameters) - {
    "self",
    "scope",
    "id",
}
Problem = tuple[str, Any, str]


def hyperparameter_string(value: HyperparameterValue) -> str:
    """SageMaker takes strings only; the training toolkit JSON-decodes each value again, so
    booleans are written the JSON way."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def validate_props(
    *,
    source_dir: str,
    entry_point: str,
    name_prefix: str,
    groups: Mapping[str, object],
    refused: Mapping[str, tuple[object, str]],
    sagemaker_role: object = None,
    state_machine_timeout: object = None,
) -> None:
    """Raise one ValueError naming every setting that is wrong, its value and what is allowed."""
    problems = Problems("MLPipeline")
    found: list[Problem] = [(k, value, instead) for k, (value, instead) in refused.items()]
    for name, group in groups.items():
        found.extend(settings_problems(name, group))
    arguments = {
        "source_dir": (source_dir, (str, PathLike)),
        "entry_point": (entry_point, (str,)),
        "name_prefix": (name_prefix, (str,)),
        "sagemaker_role": (sagemaker_role, (iam.IRole,)),
        "state_machine_timeout": (state_machine_timeout, (Duration,)),
    }
    wrong = {
        name: (value, " or ".join(t.__name__ for t in types))
        for name, (value, types) in arguments.items()
        if (value is not None and not is_a(value, types)) or (name in _REQUIRED and value is None)
    }
    found.extend((name, value, f"must be a {allowed}") for name, (value, allowed) in wrong.items())
    if not {"source_dir", "entry_point"} & wrong.keys():
        found.extend(_source_problems(str(source_dir), entry_point))
    if "name_prefix" not in wrong:
        found.extend(_name_prefix_problems(name_prefix))
    if all(isinstance(g, _EXPECTED[n]) for n, g in groups.items() if n in _EXPECTED):
        found.extend(_pair_problems(groups["storage"], groups["notifications"]))  # type: ignore[arg-type]
        found.extend(_bucket_props_problems(groups["storage"]))  # type: ignore[arg-type]
        found.extend(_network_problems(groups["network"]))  # type: ignore[arg-type]
        found.extend(_serving_problems(groups["serving"]))  # type: ignore[arg-type]
        found.extend(_hyperparameter_problems(groups["training"]))  # type: ignore[arg-type]
        tuning = groups.get("tuning")
        if isinstance(tuning, TuningSettings) and isinstance(name_prefix, str):
            hyperparameters = groups["training"].hyperparameters  # type: ignore[attr-defined]
            found.extend(tuning_problems(tuning, hyperparameters, name_prefix))
        found.extend(autoscaling_problems(groups))
    for prop, value, allowed in found:
        problems.add(prop, value, allowed)
    problems.raise_if_any()


_REQUIRED: Final = frozenset({"source_dir", "entry_point", "name_prefix"})
_EXPECTED: Final[Mapping[str, type]] = {
    "storage": StorageSettings,
    "notifications": NotificationSettings,
    "network": NetworkSettings,
    "serving": ServingSettings,
    "training": TrainingSettings,
}


def _pair_problems(
    storage: StorageSettings, notifications: NotificationSettings
) -> Iterator[Problem]:
    for group, resource_prop, resource, props_value in (
        ("storage", "data_bucket", storage.data_bucket, storage.data_bucket_props),
        ("storage", "artifacts_bucket", storage.artifacts_bucket, storage.artifacts_bucket_props),
        ("storage", "encryption_key", storage.encryption_key, storage.encryption_key_props),
        (
            "notifications",
            "failure_topic",
            notifications.failure_topic,
            notifications.failure_topic_props,
        ),
    ):
        if resource is not None and props_value is not None:
            props_name = f"{resource_prop}_props"
            yield (
                f"{group}.{props_name}",
                "given",
                f"give either {group}.{resource_prop} (an existing resource) or {props_name} "
                "(settings for the one the pipeline creates), not both",
            )


def _bucket_props_problems(storage: StorageSettings) -> Iterator[Problem]:
    for prop in ("data_bucket_props", "artifacts_bucket_props"):
        given = getattr(storage, prop) or {}
        if not isinstance(given, Mapping):
            continue
        for key in given:
            if key not in _BUCKET_KWARGS:
                yield (f"storage.{prop}[{key!r}]", given[key], "is not an s3.Bucket property")
        for key, value, allowed in defaults.bucket_conflicts(given):
            yield (f"storage.{prop}[{key!r}]", value, allowed)


def _network_problems(network: NetworkSettings) -> Iterator[Problem]:
    if network.vpc is None:
        for prop in ("vpc_subnets", "security_groups"):
            option = getattr(network, prop)
            if option:
                yield (f"network.{prop}", option, "needs network.vpc")


def _serving_problems(serving: ServingSettings) -> Iterator[Problem]:
    timeout, interval = serving.deploy_timeout, serving.poll_interval
    # A value of the wrong type is reported by its own check.
    if not isinstance(timeout, Duration) or not isinstance(interval, Duration):
        return
    if timeout.is_unresolved() or interval.is_unresolved():
        return
    if timeout.to_seconds() < interval.to_seconds():
        yield (
            "serving.deploy_timeout",
            f"{timeout.to_seconds()} s",
            "must be at least serving.poll_interval",
        )


def _source_problems(source_dir: str, entry_point: str) -> Iterator[Problem]:
    source = Path(source_dir)
    if not source.is_dir():
        yield ("source_dir", source_dir, "must be an existing directory")
    if not entry_point.endswith(".py") or Path(entry_point).is_absolute() or ".." in entry_point:
        yield ("entry_point", entry_point, "must be a relative path to a .py file")
    elif source.is_dir() and not (source / entry_point).is_file():
        yield ("entry_point", entry_point, f"no such file in source_dir {source_dir!r}")


def _name_prefix_problems(name_prefix: str) -> Iterator[Problem]:
    if is_token(name_prefix):
        return
    if not _LOWER_NAME.match(name_prefix) or len(name_prefix) > NAME_PREFIX_MAX:
        yield (
            "name_prefix",
            name_prefix,
            f"must be 1 to {NAME_PREFIX_MAX} characters of lowercase letters, digits and "
            "hyphens, starting and ending with a letter or digit (SageMaker names are "
            f"'<prefix>-<36-character uuid>', at most {SAGEMAKER_NAME_MAX} characters)",
        )


def _hyperparameter_problems(training: TrainingSettings) -> Iterator[Problem]:
    name = "training.hyperparameters"
    if not isinstance(training.hyperparameters, Mapping):
        return
    for key, value in training.hyperparameters.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 256:
            yield (name, key, "keys must be strings of 1 to 256 characters")
        elif key.startswith("sagemaker_"):
            yield (
                name,
                key,
                "keys starting with 'sagemaker_' are reserved for the pipeline itself",
            )
        if not isinstance(value, str | int | float):
            yield (f"{name}[{key!r}]", value, "must be a str, int, float or bool")
        elif len(hyperparameter_string(value)) > 2500:
            yield (f"{name}[{key!r}]", value, "must be at most 2500 characters")


def max_runtime(training: TrainingSettings) -> Duration:
    """A training job's limit: ``training.max_runtime``, or two hours."""
    return training.max_runtime or Duration.hours(2)


def default_timeout(
    training: TrainingSettings, serving: ServingSettings, tuning: TuningSettings | None
) -> Duration:
    """An execution's limit when none is given: twice the training limit (spot may wait), times
    the waves of trials when tuning, plus the deployment's limit and an hour."""
    waves = 1
    if tuning is not None:
        jobs, parallel = tuning.job_counts()
        waves = -(-jobs // parallel)
    return Duration.seconds(
        2 * waves * max_runtime(training).to_seconds() + serving.deploy_timeout.to_seconds() + 3600
    )
