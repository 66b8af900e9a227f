"""The instance types the pipeline knows: botocore's list, and what follows from a type."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest

from mlpipeline_cdk import MLPipeline, TrainingSettings
from mlpipeline_cdk.instance_types import (
    GPU_FAMILIES,
    LOCAL_STORAGE_FAMILIES,
    TRAINING_INSTANCE_TYPES,
    family,
    gpu_types,
    has_gpu,
    has_local_storage,
    local_storage_types,
)
from mlpipeline_cli.asl import render_definition

from conftest import ROOT, new_app


def test_training_types_are_botocores_enum() -> None:
    """Generated from botocore's model; regenerate (python -m mlpipeline_cdk.instance_types)
    when botocore adds a type, so the two never drift."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    assert list(TRAINING_INSTANCE_TYPES) == list(model.shape_for("TrainingInstanceType").enum)


def test_every_family_named_is_one_sagemaker_trains_on() -> None:
    families = {family(t) for t in TRAINING_INSTANCE_TYPES}
    assert families >= LOCAL_STORAGE_FAMILIES
    assert families >= GPU_FAMILIES


@pytest.mark.parametrize(
    ("instance_type", "local", "gpu"),
    [
        ("ml.m5.xlarge", False, False),
        ("ml.c5n.xlarge", False, False),
        ("ml.r5d.large", True, False),
        ("ml.p3.2xlarge", False, True),
        ("ml.p3dn.24xlarge", True, True),
        ("ml.g4dn.xlarge", True, True),
        ("ml.g5.xlarge", True, True),
        ("ml.p4d.24xlarge", True, True),
        ("ml.trn1.2xlarge", True, False),
    ],
)
def test_what_a_type_has(instance_type: str, local: bool, gpu: bool) -> None:
    assert has_local_storage(instance_type) is local
    assert has_gpu(instance_type) is gpu
    assert (instance_type in local_storage_types()) is local
    assert (instance_type in gpu_types()) is gpu


def _train_state_machine(instance_type: str) -> dict[str, Any]:
    app = new_app()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="123456789012", region="us-east-1"))
    MLPipeline(
        stack,
        "P",
        source_dir=str(ROOT / "training_code"),
        entry_point="mnist.py",
        training=TrainingSettings(instance_type=instance_type),
    )
    return render_definition(app.synth().get_stack_by_name("S").template)


def test_a_construct_default_with_local_storage_gets_no_volume_key_when_run() -> None:
    # The default is the run's type unless the input names one: the same per-run choice applies.
    asl = _train_state_machine("ml.g5.xlarge")
    defaults = asl["States"]["ApplyRunDefaults"]["Parameters"]["defaults"]
    assert defaults["trainingInstanceType"] == "ml.g5.xlarge"
    assert "ml.g5.xlarge" in asl["States"]["ListInstanceTypeClasses"]["Parameters"]["localStorage"]
    assert "VolumeKmsKeyId" not in asl["States"]["UseInstanceStorage"]["Parameters"]


@pytest.mark.parametrize("instance_type", ["ml.m5.xlarge2", "ml.t2.medium", "ml.inf1.xlarge"])
def test_a_construct_default_sagemaker_does_not_offer_for_training_is_refused(
    instance_type: str,
) -> None:
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(
        ValueError,
        match=rf"training\.instance_type='{instance_type}': must be an instance type SageMaker "
        "offers for training",
    ):
        MLPipeline(
            stack,
            "P",
            source_dir=str(ROOT / "training_code"),
            entry_point="mnist.py",
            training=TrainingSettings(instance_type=instance_type),
        )
