"""The stack outputs a deployed pipeline exposes, by name.

:meth:`mlpipeline_cdk.MLPipeline.add_outputs` creates them in the pipeline's stack; the operator
tool (``mlpipeline``) finds a pipeline by reading them. A stack that builds its own outputs
should use these names, so the tool works with it too.
"""

from __future__ import annotations

from typing import Final

STATE_MACHINE_ARN: Final = "StateMachineArn"
DATA_BUCKET_NAME: Final = "DataBucketName"
DATA_PREFIX: Final = "DataPrefix"
ARTIFACTS_BUCKET_NAME: Final = "ArtifactsBucketName"
#: Absent when the pipeline's deployment was replaced (no endpoint).
ENDPOINT_NAME: Final = "EndpointName"
#: The pipeline's model package group (see :mod:`mlpipeline_cdk.contract.registry`).
MODEL_PACKAGE_GROUP_NAME: Final = "ModelPackageGroupName"
#: The CloudWatch dashboard's console URL; absent when the pipeline has no dashboard.
DASHBOARD_URL: Final = "DashboardUrl"

#: Every output, with the description the stack gives it.
OUTPUTS: Final[dict[str, str]] = {
    STATE_MACHINE_ARN: "Start executions of this state machine to train and deploy",
    DATA_BUCKET_NAME: "Training data bucket",
    DATA_PREFIX: "Key prefix the training job reads",
    ARTIFACTS_BUCKET_NAME: "Model artifacts bucket",
    ENDPOINT_NAME: "SageMaker endpoint the pipeline serves",
    MODEL_PACKAGE_GROUP_NAME: "Model package group every accepted model is registered in",
    DASHBOARD_URL: "CloudWatch dashboard of the pipeline and its endpoint (console URL)",
}
OUTPUT_KEYS: Final = tuple(OUTPUTS)
