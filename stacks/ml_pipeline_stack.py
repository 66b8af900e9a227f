"""The stack a user deploys from a workstation: one MLPipeline training the MNIST model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from mlpipeline_cdk import MLPipeline, RegistrySettings, ServingSettings, TrainingSettings
from mlpipeline_cdk.contract.outputs import STATE_MACHINE_ARN

#: The training and serving code, packaged as the training job's source directory.
TRAINING_CODE_DIR = Path(__file__).resolve().parent.parent / "training_code"
#: What training_code/mnist_serving.py takes (input_fn) and answers (output_fn).
MNIST_REGISTRY = RegistrySettings(
    content_types=("application/json", "application/x-npy"), response_types=("application/json",)
)


class MLPipelineStack(cdk.Stack):
    """Holds one :class:`MLPipeline` and exports what a user needs to run and use it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str = "mnist",
        endpoint_name: str | None = None,
        registry: RegistrySettings = MNIST_REGISTRY,
        **kwargs: Any,
    ) -> None:
        """
        :param registry: Default: :data:`MNIST_REGISTRY` (automatic approval).
        """
        super().__init__(scope, construct_id, **kwargs)
        # The blog post's setup this project grew from: 6 epochs, distributed over 2 instances.
        self.pipeline = MLPipeline(
            self,
            "Pipeline",
            source_dir=str(TRAINING_CODE_DIR),
            entry_point="mnist.py",
            name_prefix=name_prefix,
            training=TrainingSettings(hyperparameters={"epochs": 6}, instance_count=2),
            serving=ServingSettings(endpoint_name=endpoint_name),
            registry=registry,
        )
        #: The stack's outputs by name, e.g. for a delivery pipeline's post-deployment steps.
        self.outputs = self.pipeline.add_outputs()
        self.state_machine_arn_output = self.outputs[STATE_MACHINE_ARN]
