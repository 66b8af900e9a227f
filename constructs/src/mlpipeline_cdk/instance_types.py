"""What the pipeline needs to know about SageMaker training instance types.

- :data:`TRAINING_INSTANCE_TYPES`: every type CreateTrainingJob accepts, generated from
  botocore's service model (``sagemaker`` ``TrainingInstanceType`` enum, botocore 1.44.8;
  ``tests/constructs/test_instance_types.py`` checks it still equals the installed botocore's, so
  the two cannot drift). Regenerate with ``python -m mlpipeline_cdk.instance_types``.
- :data:`LOCAL_STORAGE_FAMILIES`: families with local NVMe instance storage. SageMaker's
  CreateTrainingJob ``ResourceConfig.VolumeKmsKeyId``: "Local storage volumes are encrypted using
  a hardware module on the instance. You can't request a VolumeKmsKeyId when using an instance
  type with local storage" (botocore ``sagemaker`` service model, ``ResourceConfig``; list of
  types: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/InstanceStorage.html#instance-store-volumes;
  SageMaker names ml.p4d, ml.g4dn and ml.g5 as examples in ``ResourceConfig.VolumeSizeInGB``).
- :data:`GPU_FAMILIES`: families with NVIDIA GPUs, which train on the GPU (CUDA) image.
"""

from __future__ import annotations

from typing import Final


def family(instance_type: str) -> str:
    """``ml.g5.xlarge`` -> ``g5``."""
    return instance_type.split(".")[1]


#: Families with local instance storage (EC2 "Instance store volumes"): SSD/NVMe volumes,
#: encrypted by the hardware; SageMaker refuses a VolumeKmsKeyId for them.
LOCAL_STORAGE_FAMILIES: Final = frozenset(
    {
        "g4dn", "g5", "g6", "g6e", "g7e",
        "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300", "p6e-gb200",
        "r5d",
        "trn1", "trn1n", "trn2",
    }
)  # fmt: skip

#: Families with NVIDIA GPUs (EC2 accelerated computing: P and G instances).
GPU_FAMILIES: Final = frozenset(
    {
        "g4dn", "g5", "g6", "g6e", "g7", "g7e",
        "p2", "p3", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en", "p6-b200", "p6-b300",
        "p6e-gb200",
    }
)  # fmt: skip

#: Every instance type CreateTrainingJob accepts (botocore ``TrainingInstanceType``), in
#: the model's order. Generated: do not edit by hand.
TRAINING_INSTANCE_TYPES: Final[tuple[str, ...]] = (
    "ml.m4.xlarge",
    "ml.m4.2xlarge",
    "ml.m4.4xlarge",
    "ml.m4.10xlarge",
    "ml.m4.16xlarge",
    "ml.g4dn.xlarge",
    "ml.g4dn.2xlarge",
    "ml.g4dn.4xlarge",
    "ml.g4dn.8xlarge",
    "ml.g4dn.12xlarge",
    "ml.g4dn.16xlarge",
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.m5.2xlarge",
    "ml.m5.4xlarge",
    "ml.m5.12xlarge",
    "ml.m5.24xlarge",
    "ml.c4.xlarge",
    "ml.c4.2xlarge",
    "ml.c4.4xlarge",
    "ml.c4.8xlarge",
    "ml.p2.xlarge",
    "ml.p2.8xlarge",
    "ml.p2.16xlarge",
    "ml.p3.2xlarge",
    "ml.p3.8xlarge",
    "ml.p3.16xlarge",
    "ml.p3dn.24xlarge",
    "ml.p4d.24xlarge",
    "ml.p4de.24xlarge",
    "ml.p5.48xlarge",
    "ml.p5e.48xlarge",
    "ml.p5en.48xlarge",
    "ml.c5.xlarge",
    "ml.c5.2xlarge",
    "ml.c5.4xlarge",
    "ml.c5.9xlarge",
    "ml.c5.18xlarge",
    "ml.c5n.xlarge",
    "ml.c5n.2xlarge",
    "ml.c5n.4xlarge",
    "ml.c5n.9xlarge",
    "ml.c5n.18xlarge",
    "ml.g5.xlarge",
    "ml.g5.2xlarge",
    "ml.g5.4xlarge",
    "ml.g5.8xlarge",
    "ml.g5.16xlarge",
    "ml.g5.12xlarge",
    "ml.g5.24xlarge",
    "ml.g5.48xlarge",
    "ml.g6.xlarge",
    "ml.g6.2xlarge",
    "ml.g6.4xlarge",
    "ml.g6.8xlarge",
    "ml.g6.16xlarge",
    "ml.g6.12xlarge",
    "ml.g6.24xlarge",
    "ml.g6.48xlarge",
    "ml.g6e.xlarge",
    "ml.g6e.2xlarge",
    "ml.g6e.4xlarge",
    "ml.g6e.8xlarge",
    "ml.g6e.16xlarge",
    "ml.g6e.12xlarge",
    "ml.g6e.24xlarge",
    "ml.g6e.48xlarge",
    "ml.trn1.2xlarge",
    "ml.trn1.32xlarge",
    "ml.trn1n.32xlarge",
    "ml.trn2.48xlarge",
    "ml.m6i.large",
    "ml.m6i.xlarge",
    "ml.m6i.2xlarge",
    "ml.m6i.4xlarge",
    "ml.m6i.8xlarge",
    "ml.m6i.12xlarge",
    "ml.m6i.16xlarge",
    "ml.m6i.24xlarge",
    "ml.m6i.32xlarge",
    "ml.c6i.xlarge",
    "ml.c6i.2xlarge",
    "ml.c6i.8xlarge",
    "ml.c6i.4xlarge",
    "ml.c6i.12xlarge",
    "ml.c6i.16xlarge",
    "ml.c6i.24xlarge",
    "ml.c6i.32xlarge",
    "ml.r5d.large",
    "ml.r5d.xlarge",
    "ml.r5d.2xlarge",
    "ml.r5d.4xlarge",
    "ml.r5d.8xlarge",
    "ml.r5d.12xlarge",
    "ml.r5d.16xlarge",
    "ml.r5d.24xlarge",
    "ml.t3.medium",
    "ml.t3.large",
    "ml.t3.xlarge",
    "ml.t3.2xlarge",
    "ml.r5.large",
    "ml.r5.xlarge",
    "ml.r5.2xlarge",
    "ml.r5.4xlarge",
    "ml.r5.8xlarge",
    "ml.r5.12xlarge",
    "ml.r5.16xlarge",
    "ml.r5.24xlarge",
    "ml.p6-b200.48xlarge",
    "ml.m7i.large",
    "ml.m7i.xlarge",
    "ml.m7i.2xlarge",
    "ml.m7i.4xlarge",
    "ml.m7i.8xlarge",
    "ml.m7i.12xlarge",
    "ml.m7i.16xlarge",
    "ml.m7i.24xlarge",
    "ml.m7i.48xlarge",
    "ml.c7i.large",
    "ml.c7i.xlarge",
    "ml.c7i.2xlarge",
    "ml.c7i.4xlarge",
    "ml.c7i.8xlarge",
    "ml.c7i.12xlarge",
    "ml.c7i.16xlarge",
    "ml.c7i.24xlarge",
    "ml.c7i.48xlarge",
    "ml.r7i.large",
    "ml.r7i.xlarge",
    "ml.r7i.2xlarge",
    "ml.r7i.4xlarge",
    "ml.r7i.8xlarge",
    "ml.r7i.12xlarge",
    "ml.r7i.16xlarge",
    "ml.r7i.24xlarge",
    "ml.r7i.48xlarge",
    "ml.p6e-gb200.36xlarge",
    "ml.p5.4xlarge",
    "ml.p6-b300.48xlarge",
    "ml.g7e.2xlarge",
    "ml.g7e.4xlarge",
    "ml.g7e.8xlarge",
    "ml.g7e.12xlarge",
    "ml.g7e.24xlarge",
    "ml.g7e.48xlarge",
    "ml.g7.2xlarge",
    "ml.g7.4xlarge",
    "ml.g7.8xlarge",
    "ml.g7.12xlarge",
    "ml.g7.24xlarge",
    "ml.g7.48xlarge",
    "ml.r6i.large",
    "ml.r6i.xlarge",
    "ml.r6i.2xlarge",
    "ml.r6i.4xlarge",
    "ml.r6i.8xlarge",
    "ml.r6i.12xlarge",
    "ml.r6i.16xlarge",
    "ml.r6i.24xlarge",
    "ml.r6i.32xlarge",
    "ml.m8i.large",
    "ml.m8i.xlarge",
    "ml.m8i.2xlarge",
    "ml.m8i.4xlarge",
    "ml.m8i.8xlarge",
    "ml.m8i.12xlarge",
    "ml.m8i.16xlarge",
    "ml.m8i.24xlarge",
    "ml.m8i.32xlarge",
    "ml.m8i.48xlarge",
    "ml.m8i.96xlarge",
    "ml.c8i.xlarge",
    "ml.c8i.2xlarge",
    "ml.c8i.4xlarge",
    "ml.c8i.8xlarge",
    "ml.c8i.12xlarge",
    "ml.c8i.16xlarge",
    "ml.c8i.24xlarge",
    "ml.c8i.32xlarge",
    "ml.c8i.48xlarge",
    "ml.c8i.96xlarge",
    "ml.r8i.large",
    "ml.r8i.xlarge",
    "ml.r8i.2xlarge",
    "ml.r8i.4xlarge",
    "ml.r8i.8xlarge",
    "ml.r8i.12xlarge",
    "ml.r8i.16xlarge",
    "ml.r8i.24xlarge",
    "ml.r8i.32xlarge",
    "ml.r8i.48xlarge",
    "ml.r8i.96xlarge",
    "ml.m7i-flex.large",
    "ml.m7i-flex.xlarge",
    "ml.m7i-flex.2xlarge",
    "ml.m7i-flex.4xlarge",
    "ml.m7i-flex.8xlarge",
    "ml.m7i-flex.12xlarge",
    "ml.m7i-flex.16xlarge",
    "ml.c7i-flex.xlarge",
    "ml.c7i-flex.2xlarge",
    "ml.c7i-flex.4xlarge",
    "ml.c7i-flex.8xlarge",
    "ml.c7i-flex.12xlarge",
    "ml.c7i-flex.16xlarge",
    "ml.m8i-flex.large",
    "ml.m8i-flex.xlarge",
    "ml.m8i-flex.2xlarge",
    "ml.m8i-flex.4xlarge",
    "ml.m8i-flex.8xlarge",
    "ml.m8i-flex.12xlarge",
    "ml.m8i-flex.16xlarge",
    "ml.c8i-flex.xlarge",
    "ml.c8i-flex.2xlarge",
    "ml.c8i-flex.4xlarge",
    "ml.c8i-flex.8xlarge",
    "ml.c8i-flex.12xlarge",
    "ml.c8i-flex.16xlarge",
    "ml.r8i-flex.large",
    "ml.r8i-flex.xlarge",
    "ml.r8i-flex.2xlarge",
    "ml.r8i-flex.4xlarge",
    "ml.r8i-flex.8xlarge",
    "ml.r8i-flex.12xlarge",
    "ml.r8i-flex.16xlarge",
)


#: Families whose CPUs are Arm (NVIDIA Grace): the x86_64 Deep Learning Containers do not run there.
ARM_FAMILIES: Final = frozenset({"p6e-gb200"})


def arm_types() -> tuple[str, ...]:
    """The training types with Arm CPUs (the default, x86_64, images cannot train on them)."""
    return tuple(t for t in TRAINING_INSTANCE_TYPES if family(t) in ARM_FAMILIES)


def local_storage_types() -> tuple[str, ...]:
    """The training types with local instance storage (no VolumeKmsKeyId for them)."""
    return tuple(t for t in TRAINING_INSTANCE_TYPES if family(t) in LOCAL_STORAGE_FAMILIES)


def gpu_types() -> tuple[str, ...]:
    """The training types with NVIDIA GPUs (they train on the GPU image)."""
    return tuple(t for t in TRAINING_INSTANCE_TYPES if family(t) in GPU_FAMILIES)


def has_local_storage(instance_type: str) -> bool:
    return family(instance_type) in LOCAL_STORAGE_FAMILIES if "." in instance_type else False


def has_gpu(instance_type: str) -> bool:
    return family(instance_type) in GPU_FAMILIES if "." in instance_type else False


def _generate() -> str:  # pragma: no cover - run by hand when botocore adds types
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    enum = model.shape_for("TrainingInstanceType").enum
    return "\n".join(f'    "{name}",' for name in enum)


if __name__ == "__main__":  # pragma: no cover
    print(_generate())
