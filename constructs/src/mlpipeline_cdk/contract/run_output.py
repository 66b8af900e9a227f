"""The output of a successful run (the state machine's ``RunSucceeded`` state), by key.

The operator tool's ``list`` and ``describe`` read these keys; a pipeline whose deployment was
replaced has only :data:`TRAINING_KEYS`.
"""

from __future__ import annotations

from typing import Final

TRAINING_JOB_NAME: Final = "trainingJobName"
MODEL_ARTIFACTS: Final = "modelArtifacts"
METRICS: Final = "metrics"
ACCURACY: Final = "accuracy"
ACCURACY_THRESHOLD: Final = "accuracyThreshold"
MODEL_NAME: Final = "modelName"
ENDPOINT_CONFIG_NAME: Final = "endpointConfigName"
ENDPOINT_NAME: Final = "endpointName"
ENDPOINT_STATUS: Final = "endpointStatus"
#: What became of the run's deployment: :data:`DEPLOYED` or :data:`SUPERSEDED`.
DEPLOYMENT_STATUS: Final = "deploymentStatus"
#: The endpoint serves this run's model (``endpointConfigName``).
DEPLOYED: Final = "Deployed"
#: A run that started later deployed its own model to the endpoint, before this run's update or
#: while this run waited for it; the endpoint serves the newer run's model, and this run's
#: endpoint configuration (``endpointConfigName``) is not in service.
SUPERSEDED: Final = "Superseded"
#: The run registered its model for manual approval and deployed nothing; approving the version
#: (``modelPackageArn``) deploys it.
AWAITING_APPROVAL: Final = "AwaitingApproval"
#: The approval rule started the run for a version a run in automatic mode registered (its
#: creation as Approved sends the same event an approval does); that run deploys it, so this one
#: deployed nothing.
LEFT_TO_ITS_RUN: Final = "LeftToItsRun"
#: The version the run registered (or, given ``modelPackage``, deployed), and its number.
MODEL_PACKAGE_ARN: Final = "modelPackageArn"
MODEL_PACKAGE_VERSION: Final = "modelPackageVersion"
#: Its ``ModelApprovalStatus`` when the run ended.
APPROVAL_STATUS: Final = "approvalStatus"

#: How the run's update of the endpoint shifted traffic (``all_at_once``, ``canary``, ``linear``),
#: or ``none`` when the run created the endpoint or left it to a newer run. An update SageMaker
#: rolled back fails the run (``EndpointRolloutRolledBack``), so it has no output.
ROLLOUT_STRATEGY: Final = "rolloutStrategy"

#: What every successful run reports.
TRAINING_KEYS: Final = (TRAINING_JOB_NAME, MODEL_ARTIFACTS, METRICS, ACCURACY, ACCURACY_THRESHOLD)
#: What every successful run adds of the model registry.
REGISTRY_KEYS: Final = (MODEL_PACKAGE_ARN, MODEL_PACKAGE_VERSION, APPROVAL_STATUS)
#: What a run that registered its model for manual approval reports, with
#: ``deploymentStatus`` :data:`AWAITING_APPROVAL`.
AWAITING_KEYS: Final = TRAINING_KEYS + REGISTRY_KEYS
#: What a run that deployed to the pipeline's endpoint adds.
DEPLOYMENT_KEYS: Final = (
    MODEL_NAME,
    ENDPOINT_CONFIG_NAME,
    ENDPOINT_NAME,
    ENDPOINT_STATUS,
    DEPLOYMENT_STATUS,
    ROLLOUT_STRATEGY,
)
OUTPUT_KEYS: Final = TRAINING_KEYS + REGISTRY_KEYS + DEPLOYMENT_KEYS
