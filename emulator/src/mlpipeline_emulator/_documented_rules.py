"""SageMaker's documented rules between fields of one request, which its API model cannot state.

Each rule cites the documentation that states it. The wording of the messages is ours where AWS
does not publish its own; the error is ``ValidationException`` (HTTP 400), SageMaker's error for
a request that fails its constraints ("ValidationError: The input fails to satisfy the
constraints specified by an AWS service", SageMaker API Reference, Common Errors:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html).

Instance types are this module's own list, modelling AWS; the library keeps its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from . import _serverless, _tuning_rules
from ._request_rules import VALIDATION, RefusedRequestError

#: Instance families with local NVMe instance storage among SageMaker's training and transform
#: instance types (botocore's ``TrainingInstanceType`` and ``TransformInstanceType`` enums).
#: Sources: Amazon EC2 "Instance store volume limits for EC2 instances"
#: (https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html#ac_instance-store, and
#: .../mo.html for r5d) and SageMaker's "Managing storage paths for different types of instance
#: local storage" (https://docs.aws.amazon.com/sagemaker/latest/dg/model-train-storage-tips-
#: considerations.html: "ML instance families with the NVMe-type instance storage include
#: ml.p4d, ml.g4dn, and ml.g5"; "instance families that use EBS volumes include ml.c5 and ml.p2").
#: The EBS-only families of the enums: c4 c5 c5n c6i c7i c7i-flex c8i c8i-flex inf2 m4 m5 m6i m7i
#: m7i-flex m8i m8i-flex p2 p3 r5 r6i r7i r8i r8i-flex t3 (and g7, whose storage EC2's tables did
#: not list when this was written; it is treated as EBS-only).
LOCAL_STORAGE_FAMILIES: Final = frozenset(
    {
        "g4dn",
        "g5",
        "g6",
        "g6e",
        "g7e",
        "p3dn",
        "p4d",
        "p4de",
        "p5",
        "p5e",
        "p5en",
        "p6-b200",
        "p6-b300",
        "p6e-gb200",
        "r5d",
        "trn1",
        "trn1n",
        "trn2",
    }
)


def has_local_storage(instance_type: str) -> bool:
    """True for an ``ml.<family>.<size>`` type whose family has instance storage."""
    parts = instance_type.split(".")
    return len(parts) == 3 and parts[1] in LOCAL_STORAGE_FAMILIES


def _local_types_with_key(resources: Any, groups: str) -> list[str]:
    """The local-storage instance types of ``resources`` (its ``InstanceType`` and those of its
    list ``groups``) when it asks for a ``VolumeKmsKeyId``."""
    if not isinstance(resources, Mapping) or not resources.get("VolumeKmsKeyId"):
        return []
    types = [resources.get("InstanceType")]
    types += [g.get("InstanceType") for g in resources.get(groups) or [] if isinstance(g, Mapping)]
    return [t for t in types if isinstance(t, str) and has_local_storage(t)]


def _refuse_key(local: list[str]) -> list[str]:
    if not local:
        return []
    return [
        f"You can't request a VolumeKmsKeyId when using an instance type with local storage "
        f"({', '.join(local)}): local storage volumes are encrypted using a hardware module on "
        "the instance."
    ]


def _volume_key_with_local_storage(request: Mapping[str, Any]) -> list[str]:
    """ResourceConfig.VolumeKmsKeyId (CreateTrainingJob, API reference, ResourceConfig): "Certain
    Nitro-based instances include local storage, dependent on the instance type. Local storage
    volumes are encrypted using a hardware module on the instance. You can't request a
    VolumeKmsKeyId when using an instance type with local storage."
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html)"""
    return _refuse_key(_local_types_with_key(request.get("ResourceConfig"), "InstanceGroups"))


def _transform_volume_key(request: Mapping[str, Any]) -> list[str]:
    """TransformResources.VolumeKmsKeyId (CreateTransformJob), the same sentence
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformResources.html)."""
    return _refuse_key(_local_types_with_key(request.get("TransformResources"), "-"))


def _tuning_volume_key(request: Mapping[str, Any]) -> list[str]:
    """HyperParameterTuningResourceConfig.VolumeKmsKeyId (CreateHyperParameterTuningJob): "If you
    choose one of these instance types, you cannot request a VolumeKmsKeyId"
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/
    API_HyperParameterTuningResourceConfig.html)."""
    definitions = [request.get("TrainingJobDefinition")]
    definitions += list(request.get("TrainingJobDefinitions") or [])
    local: list[str] = []
    for definition in definitions:
        if isinstance(definition, Mapping):
            config = definition.get("HyperParameterTuningResourceConfig")
            local += _local_types_with_key(config, "InstanceConfigs")
            # A definition's ResourceConfig is CreateTrainingJob's (API_ResourceConfig.html).
            local += _local_types_with_key(definition.get("ResourceConfig"), "InstanceGroups")
    return _refuse_key(local)


def _spot_stopping_condition(request: Mapping[str, Any]) -> list[str]:
    """Managed spot training (developer guide, "Managed Spot Training in Amazon SageMaker AI":
    "Set EnableManagedSpotTraining to True and specify the MaxWaitTimeInSeconds";
    https://docs.aws.amazon.com/sagemaker/latest/dg/model-managed-spot-training.html) and
    StoppingCondition.MaxWaitTimeInSeconds (API reference: "It must be equal to or greater than
    MaxRuntimeInSeconds"; https://docs.aws.amazon.com/sagemaker/latest/APIReference/
    API_StoppingCondition.html)."""
    if request.get("EnableManagedSpotTraining") is not True:
        return []
    stopping = request.get("StoppingCondition") or {}
    wait = stopping.get("MaxWaitTimeInSeconds")
    runtime = stopping.get("MaxRuntimeInSeconds")
    if wait is None:
        return [
            "StoppingCondition.MaxWaitTimeInSeconds is required when EnableManagedSpotTraining "
            "is true."
        ]
    if isinstance(runtime, int) and wait < runtime:
        return [
            f"StoppingCondition.MaxWaitTimeInSeconds ({wait}) must be equal to or greater than "
            f"MaxRuntimeInSeconds ({runtime})."
        ]
    return []


def _tuning_spot_stopping_condition(request: Mapping[str, Any]) -> list[str]:
    """The managed spot rule for the training jobs a tuning job launches: its
    TrainingJobDefinition has CreateTrainingJob's EnableManagedSpotTraining and
    StoppingCondition."""
    definition = request.get("TrainingJobDefinition")
    return _spot_stopping_condition(definition) if isinstance(definition, Mapping) else []


_RULES: Final[dict[str, tuple[Callable[[Mapping[str, Any]], list[str]], ...]]] = {
    "CreateTrainingJob": (_volume_key_with_local_storage, _spot_stopping_condition),
    "CreateTransformJob": (_transform_volume_key,),
    "CreateHyperParameterTuningJob": (
        _tuning_volume_key,
        _tuning_spot_stopping_condition,
        *_tuning_rules.RULES,
    ),
    # CreateEndpointConfig: KmsKeyId with a local-storage instance type is accepted; the API
    # reference says the key then "does not encrypt instance local storage" (CreateEndpointConfig,
    # KmsKeyId). No rule to enforce. Serverless variants: see _serverless.
    "CreateEndpointConfig": _serverless.RULES,
}


def check(operation: str, request: Mapping[str, Any]) -> None:
    """Raise :class:`RefusedRequestError` when ``request`` breaks a documented cross-field rule."""
    for rule in _RULES.get(operation, ()):
        found = rule(request)
        if found:
            raise RefusedRequestError(VALIDATION, " ".join(found))
