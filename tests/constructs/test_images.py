"""Deep Learning Container images resolve per region, in pinned and agnostic templates."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_stepfunctions_tasks as tasks

from mlpipeline_cdk import DLC_REGISTRY_ACCOUNTS, UnsupportedRegionError
from mlpipeline_cdk.dlc_images import (
    PYTORCH_INFERENCE_GPU_TAG,
    PYTORCH_INFERENCE_TAG,
    PYTORCH_TRAINING_GPU_TAG,
    PYTORCH_TRAINING_TAG,
)
from mlpipeline_cli.asl import render_definition

from conftest import ROOT, new_app


@pytest.mark.parametrize(
    ("region", "account", "domain"),
    [
        ("us-east-1", "763104351884", "amazonaws.com"),
        ("af-south-1", "626614931356", "amazonaws.com"),
        ("me-south-1", "217643126080", "amazonaws.com"),
        ("cn-north-1", "727897471807", "amazonaws.com.cn"),
    ],
)
def test_pinned_region_uses_that_regions_registry(
    regional_templates: dict[str, dict[str, Any]], region: str, account: str, domain: str
) -> None:
    from mlpipeline_cli.asl import Environment

    partition = "aws-cn" if region.startswith("cn-") else "aws"
    asl = render_definition(
        regional_templates[region],
        env=Environment(region=region, partition=partition, url_suffix=domain),
    )
    train_image = asl["States"]["UseTrainingImage"]["Parameters"]["uri"]
    gpu_image = asl["States"]["UseGpuTrainingImage"]["Parameters"]["uri"]
    serve_image = asl["States"]["RegisterModelPackage"]["Parameters"]["InferenceSpecification"][
        "Containers"
    ][0]["Image"]
    assert train_image.startswith(f"{account}.dkr.ecr.{region}.{domain}/pytorch:")
    assert gpu_image == f"{account}.dkr.ecr.{region}.{domain}/pytorch:{PYTORCH_TRAINING_GPU_TAG}"
    assert serve_image.startswith(f"{account}.dkr.ecr.{region}.{domain}/pytorch-inference:")
    # A pinned region needs no lookup table in the template.
    assert "Mappings" not in regional_templates[region]


def test_agnostic_template_maps_every_known_region(ml_template_json: dict[str, Any]) -> None:
    mapping = ml_template_json["Mappings"]["DeepLearningContainerRegistries"]
    assert {region: row["account"] for region, row in mapping.items()} == DLC_REGISTRY_ACCOUNTS
    assert mapping["af-south-1"]["account"] == "626614931356"
    assert mapping["ap-east-1"]["account"] == "871362719292"
    assert mapping["eu-south-1"]["account"] == "692866216735"


def test_agnostic_template_resolves_to_the_deploy_regions_registry(
    ml_template_json: dict[str, Any],
) -> None:
    from mlpipeline_cli.asl import Environment

    asl = render_definition(ml_template_json, env=Environment(region="ap-east-1"))
    image = asl["States"]["UseTrainingImage"]["Parameters"]["uri"]
    assert image.startswith("871362719292.dkr.ecr.ap-east-1.amazonaws.com/pytorch:")


def test_region_without_deep_learning_containers_fails_at_synth() -> None:
    from mlpipeline_cdk import MLPipeline

    app = new_app()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="123456789012", region="xx-nowhere-1"))
    with pytest.raises(UnsupportedRegionError, match=r"region 'xx-nowhere-1' has no known"):
        MLPipeline(stack, "P", source_dir=str(ROOT / "training_code"), entry_point="mnist.py")


def test_images_given_as_props_replace_the_defaults() -> None:
    from mlpipeline_cdk import MLPipeline, ServingSettings, TrainingSettings

    app = new_app()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="123456789012", region="xx-nowhere-1"))
    MLPipeline(
        stack,
        "P",
        source_dir=str(ROOT / "training_code"),
        entry_point="mnist.py",
        training=TrainingSettings(image=tasks.DockerImage.from_registry("example.com/train:1")),
        serving=ServingSettings(image=tasks.DockerImage.from_registry("example.com/serve:1")),
    )
    template = app.synth().get_stack_by_name("S").template
    asl = render_definition(template)
    # A user's image is used as given, on every instance type (no GPU variant is chosen).
    assert asl["States"]["UseTrainingImage"]["Parameters"]["uri"] == "example.com/train:1"
    assert "UseGpuTrainingImage" not in asl["States"]
    assert "ChooseTrainingImage" not in asl["States"]
    assert asl["States"]["RegisterModelPackage"]["Parameters"]["InferenceSpecification"][
        "Containers"
    ][0]["Image"] == ("example.com/serve:1")


@pytest.mark.parametrize(
    ("region", "account"),
    [("ap-east-2", "975050140332"), ("ap-southeast-6", "633930458069")],
)
def test_newer_regions_have_their_registry(region: str, account: str) -> None:
    # aws/deep-learning-containers docs/reference/region_availability.md and
    # aws/sagemaker-python-sdk image_uri_config/pytorch.json (checked 2026-11-30).
    assert DLC_REGISTRY_ACCOUNTS[region] == account


def test_default_images_are_the_supported_pytorch_containers() -> None:
    # Training: PyTorch 2.13 SageMaker images, end of patching 2027-07-20 (DLC release data).
    assert PYTORCH_TRAINING_TAG == "2.13.0-cpu-amzn2023-sagemaker"
    assert PYTORCH_TRAINING_GPU_TAG == "2.13.0-cu133-amzn2023-sagemaker"
    assert PYTORCH_INFERENCE_TAG.endswith("-cpu-py312-ubuntu22.04-sagemaker")
    assert PYTORCH_INFERENCE_GPU_TAG.startswith("2.6.0-gpu-py312-")


def _serving_image(instance_type: str) -> str:
    from mlpipeline_cdk import MLPipeline, ServingSettings

    app = new_app()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="123456789012", region="us-east-1"))
    MLPipeline(
        stack,
        "P",
        source_dir=str(ROOT / "training_code"),
        entry_point="mnist.py",
        serving=ServingSettings(instance_type=instance_type),
    )
    asl = render_definition(app.synth().get_stack_by_name("S").template)
    return str(
        asl["States"]["RegisterModelPackage"]["Parameters"]["InferenceSpecification"]["Containers"][
            0
        ]["Image"]
    )


def test_gpu_endpoint_serves_from_the_gpu_inference_image() -> None:
    assert _serving_image("ml.g5.xlarge").endswith(
        f"/pytorch-inference:{PYTORCH_INFERENCE_GPU_TAG}"
    )
    assert _serving_image("ml.m5.large").endswith(f"/pytorch-inference:{PYTORCH_INFERENCE_TAG}")
