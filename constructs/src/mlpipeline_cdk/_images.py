"""Which containers a pipeline trains and serves with, and how the training code reaches them."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .dlc_images import (
    PYTORCH_INFERENCE_GPU_TAG,
    PYTORCH_INFERENCE_REPOSITORY,
    PYTORCH_INFERENCE_TAG,
    PYTORCH_TRAINING_GPU_TAG,
    PYTORCH_TRAINING_REPOSITORY,
    PYTORCH_TRAINING_TAG,
    dlc_image,
    dlc_images,
)
from .instance_types import has_gpu
from .settings import ServingSettings, TrainingSettings
from .steps.training import CODE_CHANNEL

#: Where SageMaker puts the files of an input channel in the container.
CHANNELS_DIR: Final = "/opt/ml/input/data"


@dataclass(frozen=True)
class Images:
    #: What CPU instance types train on (and every type, with a user's image).
    training: tasks.DockerImage
    #: What GPU instance types train on; None when the user gave ``training.image``, which is
    #: used as given on every type.
    gpu_training: tasks.DockerImage | None
    serving: tasks.DockerImage


def pipeline_images(
    scope: Construct, training: TrainingSettings, serving: ServingSettings
) -> Images:
    """The user's images as given; otherwise the Deep Learning Containers, the GPU (CUDA) variant
    for GPU instance types: per run for training (a run may choose its instance type), at synth
    for serving (the endpoint's type is a setting)."""
    if training.image is not None:
        train, gpu_train = training.image, None
    else:
        train, gpu_train = dlc_images(
            scope,
            "TrainingRepository",
            PYTORCH_TRAINING_REPOSITORY,
            PYTORCH_TRAINING_TAG,
            PYTORCH_TRAINING_GPU_TAG,
        )
    if serving.image is not None:
        serve = serving.image
    else:
        gpu = isinstance(serving.instance_type, str) and has_gpu(serving.instance_type)
        serve = dlc_image(
            scope,
            "InferenceRepository",
            PYTORCH_INFERENCE_REPOSITORY,
            PYTORCH_INFERENCE_GPU_TAG if gpu else PYTORCH_INFERENCE_TAG,
        )
    return Images(training=train, gpu_training=gpu_train, serving=serve)


def code_delivery(asset: s3_assets.Asset, *, isolated: bool) -> tuple[str, str | None]:
    """``(sagemaker_submit_directory, code channel URI or None)``.

    Without isolation the training toolkit downloads the archive from S3 itself. With network
    isolation the container cannot reach S3, so the archive comes as the ``code`` input channel
    and the hyperparameter names its local path, as the SageMaker Python SDK does
    (src/sagemaker/estimator.py: ``CONTAINER_CODE_CHANNEL_SOURCEDIR_PATH =
    "/opt/ml/input/data/code/sourcedir.tar.gz"``, where its archive's key ends in
    ``sourcedir.tar.gz``). SageMaker writes an ``S3Prefix`` channel's object under its name
    relative to the prefix's folder, so the archive is ``/opt/ml/input/data/code/<file name>``.
    """
    if not isolated:
        return asset.s3_object_url, None
    key = asset.s3_object_key
    name = key if cdk.Token.is_unresolved(key) else posixpath.basename(key)
    return f"{CHANNELS_DIR}/{CODE_CHANNEL}/{name}", asset.s3_object_url
