"""The stack a user deploys from a workstation: one MLPipeline training the MNIST model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from mlpipeline_cdk import MLPipeline

#: The training and serving code, packaged as the training job's source directory.
TRAINING_CODE_DIR = Path(__file__).resolve().parent.parent / "training_code"


class MLPipelineStack(cdk.Stack):
    """Holds one :class:`MLPipeline` and exports what a user needs to run and use it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str = "mnist",
        endpoint_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # The blog post's setup this project grew from: 6 epochs, distributed over 2 instances.
        self.pipeline = MLPipeline(
            self,
            "Pipeline",
            source_dir=str(TRAINING_CODE_DIR),
            entry_point="mnist.py",
            hyperparameters={"epochs": 6},
            training_instance_count=2,
            name_prefix=name_prefix,
            endpoint_name=endpoint_name,
        )
        # This stack keeps the default deployment, so the pipeline has an endpoint.
        assert self.pipeline.endpoint_name is not None
        outputs = {
            "StateMachineArn": (
                self.pipeline.state_machine.state_machine_arn,
                "Start executions of this state machine to train and deploy",
            ),
            "DataBucketName": (self.pipeline.data_bucket.bucket_name, "Training data bucket"),
            "DataPrefix": (self.pipeline.data_prefix, "Key prefix the training job reads"),
            "ArtifactsBucketName": (
                self.pipeline.artifacts_bucket.bucket_name,
                "Model artifacts bucket",
            ),
            "EndpointName": (self.pipeline.endpoint_name, "SageMaker endpoint the pipeline serves"),
        }
        #: The stack's outputs by name, e.g. for a delivery pipeline's post-deployment steps.
        self.outputs = {
            output_id: cdk.CfnOutput(self, output_id, value=value, description=description)
            for output_id, (value, description) in outputs.items()
        }
        self.state_machine_arn_output = self.outputs["StateMachineArn"]
