"""Where SageMaker's PyTorch Deep Learning Containers live, per region.

The registry account that serves the Deep Learning Containers differs by region (763104351884 in
most, others in opt-in, China and GovCloud regions), and aws-cdk-lib's own table of these accounts
lacks several regions. This module keeps the table and resolves it into a CloudFormation mapping,
so one environment-agnostic template pulls from the right registry in whichever region it is
deployed, and a stack whose region is known at synth time fails early if that region has none.
"""

from __future__ import annotations

from typing import Final

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

# Default images, checked on 2026-11-30 against aws/deep-learning-containers (docs/pytorch/index.md,
# docs/pytorch/deployment/sagemaker.md, docs/src/data/<repository>/<version>.yml with each image's
# "ga" and "eop" dates, docs/reference/region_availability.md) and aws/sagemaker-python-sdk
# (sagemaker-core/src/sagemaker/core/image_uri_config/pytorch.json).
#
# Training: the PyTorch 2.13 SageMaker images of the "pytorch" repository (Python 3.12, Amazon
# Linux 2023, sagemaker-pytorch-training toolkit; GA 2026-07-20, end of patching 2027-07-20), CPU
# and CUDA 13.3. They replace "pytorch-training", whose newest release (2.10) ends patching on
# 2027-01-21; 2.6 ended on 2026-06-30.
PYTORCH_TRAINING_REPOSITORY: Final = "pytorch"
PYTORCH_TRAINING_TAG: Final = "2.13.0-cpu-amzn2023-sagemaker"
PYTORCH_TRAINING_GPU_TAG: Final = "2.13.0-cu133-amzn2023-sagemaker"
# Inference: the "pytorch" images are "not configured for serving" (docs/pytorch/deployment/
# sagemaker.md), and "pytorch-inference" 2.6 (Python 3.12, Ubuntu 22.04, TorchServe with the
# sagemaker-pytorch-inference handlers model_fn/input_fn/predict_fn/output_fn) is the newest
# PyTorch inference DLC for SageMaker, in both sources. Its end of patching was 2026-06-30 and
# there is no successor: the README says so and tells how to pass a patched serving.image.
PYTORCH_INFERENCE_REPOSITORY: Final = "pytorch-inference"
PYTORCH_INFERENCE_TAG: Final = "2.6.0-cpu-py312-ubuntu22.04-sagemaker"
PYTORCH_INFERENCE_GPU_TAG: Final = "2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker"

_DEFAULT_ACCOUNT: Final = "763104351884"

#: Region -> account of the Deep Learning Containers registry in that region.
DLC_REGISTRY_ACCOUNTS: Final[dict[str, str]] = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    # Both sources above list ap-east-2 (Taipei) and ap-southeast-6 (New Zealand).
    "ap-east-2": "975050140332",
    "ap-northeast-1": _DEFAULT_ACCOUNT,
    "ap-northeast-2": _DEFAULT_ACCOUNT,
    "ap-northeast-3": "364406365360",
    "ap-south-1": _DEFAULT_ACCOUNT,
    "ap-south-2": "772153158452",
    "ap-southeast-1": _DEFAULT_ACCOUNT,
    "ap-southeast-2": _DEFAULT_ACCOUNT,
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ap-southeast-5": "550225433462",
    "ap-southeast-6": "633930458069",
    "ap-southeast-7": "590183813437",
    "ca-central-1": _DEFAULT_ACCOUNT,
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-1": _DEFAULT_ACCOUNT,
    "eu-central-2": "380420809688",
    "eu-north-1": _DEFAULT_ACCOUNT,
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "eu-west-1": _DEFAULT_ACCOUNT,
    "eu-west-2": _DEFAULT_ACCOUNT,
    "eu-west-3": _DEFAULT_ACCOUNT,
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "mx-central-1": "637423239942",
    "sa-east-1": _DEFAULT_ACCOUNT,
    "us-east-1": _DEFAULT_ACCOUNT,
    "us-east-2": _DEFAULT_ACCOUNT,
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
    "us-west-1": _DEFAULT_ACCOUNT,
    "us-west-2": _DEFAULT_ACCOUNT,
}

_MAPPING_ID: Final = "DeepLearningContainerRegistries"


class UnsupportedRegionError(ValueError):
    """The stack's region has no known Deep Learning Containers registry."""


def registry_account(scope: Construct) -> str:
    """The registry account for the stack of ``scope``: a literal when its region is known at
    synth time, else a ``Fn::FindInMap`` over :data:`DLC_REGISTRY_ACCOUNTS` resolved at deploy
    time."""
    stack = cdk.Stack.of(scope)
    region = stack.region
    if not cdk.Token.is_unresolved(region):
        try:
            return DLC_REGISTRY_ACCOUNTS[region]
        except KeyError:
            raise UnsupportedRegionError(
                f"region {region!r} has no known SageMaker Deep Learning Containers registry "
                f"(known: {', '.join(sorted(DLC_REGISTRY_ACCOUNTS))}); pass training_image and "
                "inference_image explicitly"
            ) from None
    mapping = stack.node.try_find_child(_MAPPING_ID)
    if not isinstance(mapping, cdk.CfnMapping):
        mapping = cdk.CfnMapping(
            stack,
            _MAPPING_ID,
            mapping={
                region: {"account": account} for region, account in DLC_REGISTRY_ACCOUNTS.items()
            },
        )
    return mapping.find_in_map(cdk.Aws.REGION, "account")


def dlc_image(scope: Construct, construct_id: str, repository: str, tag: str) -> tasks.DockerImage:
    """A Deep Learning Container image in the stack's region.

    The image is bound as an ECR repository, so the role that runs it is granted pull access to
    exactly that repository (and ``ecr:GetAuthorizationToken``, which has no resource scope).
    """
    return dlc_images(scope, construct_id, repository, tag)[0]


def dlc_images(
    scope: Construct, construct_id: str, repository: str, *tags: str
) -> list[tasks.DockerImage]:
    """One image per tag of the same Deep Learning Containers repository (see
    :func:`dlc_image`)."""
    account = registry_account(scope)
    arn = cdk.Stack.of(scope).format_arn(
        service="ecr",
        account=account,
        resource="repository",
        resource_name=repository,
    )
    repo = ecr.Repository.from_repository_attributes(
        scope, construct_id, repository_arn=arn, repository_name=repository
    )
    return [tasks.DockerImage.from_ecr_repository(repo, tag) for tag in tags]
