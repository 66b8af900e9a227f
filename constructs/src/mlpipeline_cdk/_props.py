"""Checks of MLPipeline's props, collected and raised together before anything is created."""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from aws_cdk import Duration, Size
from aws_cdk import aws_s3 as s3

from . import defaults
from ._validation import Problems, is_token

HyperparameterValue = str | int | float | bool

#: SageMaker names: at most 63 characters of ``[a-zA-Z0-9](-*[a-zA-Z0-9])*``.
SAGEMAKER_NAME_MAX: Final = 63
_LOWER_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9])*$")
#: Every run names its SageMaker resources ``<name_prefix>-<uuid>`` (36 characters of UUID).
_UUID_SUFFIX: Final = 1 + 36
NAME_PREFIX_MAX: Final = SAGEMAKER_NAME_MAX - _UUID_SUFFIX
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$")
_MAX_VOLUME_GIB: Final = 16384
_MAX_RUNTIME: Final = Duration.days(28)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_BUCKET_KWARGS: Final = frozenset(inspect.signature(s3.Bucket.__init__).parameters) - {
    "self",
    "scope",
    "id",
}


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
    hyperparameters: Mapping[str, HyperparameterValue],
    name_prefix: str,
    endpoint_name: str,
    data_prefix: str,
    training_instance_type: str,
    training_instance_count: int,
    training_volume_size: Size,
    max_runtime: Duration,
    accuracy_threshold: float,
    inference_instance_type: str,
    inference_instance_count: int,
    notification_emails: Sequence[str],
    endpoint_poll_interval: Duration,
    deploy_timeout: Duration,
    pairs: Mapping[str, tuple[object | None, object | None]],
    bucket_props: Mapping[str, Mapping[str, object] | None],
    vpc_given: bool,
    vpc_options: Mapping[str, object | None],
    refused: Mapping[str, tuple[object, str]],
) -> None:
    """Raise one ValueError naming every prop that is wrong, its value and what is allowed."""
    problems = Problems("MLPipeline")
    for prop, (value, instead) in refused.items():
        problems.add(prop, value, instead)
    for resource_prop, (resource, props_value) in pairs.items():
        if resource is not None and props_value is not None:
            props_name = f"{resource_prop}_props"
            problems.add(
                props_name,
                "given",
                f"give either {resource_prop} (an existing resource) or {props_name} (settings "
                "for the one the pipeline creates), not both",
            )
    for prop, given in bucket_props.items():
        for key in given or {}:
            if key not in _BUCKET_KWARGS:
                problems.add(f"{prop}[{key!r}]", (given or {})[key], "is not an s3.Bucket property")
        for key, value, allowed in defaults.bucket_conflicts(given):
            problems.add(f"{prop}[{key!r}]", value, allowed)
    if not vpc_given:
        for prop, option in vpc_options.items():
            if option:
                problems.add(prop, option, "needs vpc")
    source = Path(source_dir)
    if not source.is_dir():
        problems.add("source_dir", source_dir, "must be an existing directory")
    if not entry_point.endswith(".py") or Path(entry_point).is_absolute() or ".." in entry_point:
        problems.add("entry_point", entry_point, "must be a relative path to a .py file")
    elif source.is_dir() and not (source / entry_point).is_file():
        problems.add("entry_point", entry_point, f"no such file in source_dir {source_dir!r}")

    if not is_token(name_prefix) and (
        not _LOWER_NAME.match(name_prefix) or len(name_prefix) > NAME_PREFIX_MAX
    ):
        problems.add(
            "name_prefix",
            name_prefix,
            f"must be 1 to {NAME_PREFIX_MAX} characters of lowercase letters, digits and "
            "hyphens, starting and ending with a letter or digit (SageMaker names are "
            f"'<prefix>-<36-character uuid>', at most {SAGEMAKER_NAME_MAX} characters)",
        )
    if not is_token(endpoint_name) and (
        not _LOWER_NAME.match(endpoint_name) or len(endpoint_name) > SAGEMAKER_NAME_MAX
    ):
        problems.add(
            "endpoint_name",
            endpoint_name,
            f"must be 1 to {SAGEMAKER_NAME_MAX} characters of lowercase letters, digits and "
            "hyphens, starting and ending with a letter or digit (SageMaker writes names in "
            "lowercase in ARNs, which the pipeline's IAM policies name)",
        )
    if not is_token(data_prefix) and (
        data_prefix.startswith("/") or ".." in data_prefix or any(c in data_prefix for c in "*?\\")
    ):
        problems.add(
            "data_prefix",
            data_prefix,
            "must be a key prefix without a leading '/', '..', '*', '?' or '\\'",
        )

    for prop, instance_type in (
        ("training_instance_type", training_instance_type),
        ("inference_instance_type", inference_instance_type),
    ):
        if not is_token(instance_type) and not _INSTANCE_TYPE.match(instance_type):
            problems.add(
                prop, instance_type, "must be a SageMaker instance type such as 'ml.m5.xlarge'"
            )
    for prop, count in (
        ("training_instance_count", training_instance_count),
        ("inference_instance_count", inference_instance_count),
    ):
        if not is_token(count) and (
            isinstance(count, bool) or not isinstance(count, int) or count < 1
        ):
            problems.add(prop, count, "must be a whole number of at least 1")

    if not training_volume_size.is_unresolved():
        gib = training_volume_size.to_gibibytes()
        if not 1 <= gib <= _MAX_VOLUME_GIB:
            problems.add(
                "training_volume_size", f"{gib} GiB", f"must be 1 to {_MAX_VOLUME_GIB} GiB"
            )
    if not max_runtime.is_unresolved():
        seconds = max_runtime.to_seconds()
        if not 1 <= seconds <= _MAX_RUNTIME.to_seconds():
            problems.add("max_runtime", f"{seconds} s", "must be 1 second to 28 days")

    if (
        isinstance(accuracy_threshold, bool)
        or not isinstance(accuracy_threshold, int | float)
        or not (0 <= accuracy_threshold <= 1)
    ):
        problems.add("accuracy_threshold", accuracy_threshold, "must be a number from 0 to 1")
    for address in notification_emails:
        if not is_token(address) and not _EMAIL.match(address):
            problems.add("notification_emails", address, "must be an e-mail address")
    if not endpoint_poll_interval.is_unresolved() and not (
        1 <= endpoint_poll_interval.to_seconds() <= 3600
    ):
        problems.add(
            "endpoint_poll_interval",
            f"{endpoint_poll_interval.to_seconds()} s",
            "must be 1 second to 1 hour",
        )
    if not deploy_timeout.is_unresolved() and not (
        endpoint_poll_interval.is_unresolved()
        or deploy_timeout.to_seconds() >= endpoint_poll_interval.to_seconds()
    ):
        problems.add(
            "deploy_timeout",
            f"{deploy_timeout.to_seconds()} s",
            "must be at least endpoint_poll_interval",
        )

    for key, value in hyperparameters.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 256:
            problems.add("hyperparameters", key, "keys must be strings of 1 to 256 characters")
        elif key.startswith("sagemaker_"):
            problems.add(
                "hyperparameters",
                key,
                "keys starting with 'sagemaker_' are reserved for the pipeline itself",
            )
        if not isinstance(value, str | int | float):
            problems.add(f"hyperparameters[{key!r}]", value, "must be a str, int, float or bool")
        elif len(hyperparameter_string(value)) > 2500:
            problems.add(f"hyperparameters[{key!r}]", value, "must be at most 2500 characters")
    problems.raise_if_any()
