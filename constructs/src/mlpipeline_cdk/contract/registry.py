"""What a pipeline records in its model registry, and how runs and tools refer to it.

Every run whose model passes the gate registers a version in the pipeline's model package group
(stack output :data:`mlpipeline_cdk.contract.outputs.MODEL_PACKAGE_GROUP_NAME`). The version's
``CustomerMetadataProperties`` carry its lineage under the keys below (SageMaker allows at most
50 entries, keys of 1 to 128 and values of 1 to 256 characters of letters, digits, spaces and
``_.:/=+-@``: botocore's SageMaker model, ``CustomerMetadataMap``). The keys are plain letters so
that the state machine can read them with a dot-notation JSONPath. Values that may hold other
characters are kept elsewhere: the execution's ARN (execution names may hold brackets,
punctuation and symbols) in ``MetadataProperties.GeneratedBy``, as SageMaker Pipelines records
its executions there, and the data URI (any S3 key) in the report. Its ``ModelMetrics`` point at
the evaluation report (:data:`REPORT_PREFIX`), a JSON object with the same lineage, the run's
hyperparameters and its final metrics.

The approval rule deploys a version that becomes ``Approved`` if it was registered by a run in
``manual`` mode (its :data:`APPROVAL_MODE` is ``manual``); a run in ``automatic`` mode deploys the
version it registered itself.
"""

from __future__ import annotations

from typing import Final, Literal

#: Lineage of a version (``CustomerMetadataProperties`` keys).
TRAINING_JOB: Final = "mlpipelineTrainingJob"
CODE_ASSET_HASH: Final = "mlpipelineCodeAssetHash"
ACCURACY: Final = "mlpipelineAccuracy"
ACCURACY_THRESHOLD: Final = "mlpipelineAccuracyThreshold"
#: ``automatic`` or ``manual``: the approval mode of the run that registered the version.
APPROVAL_MODE: Final = "mlpipelineApprovalMode"
LINEAGE_KEYS: Final = (
    TRAINING_JOB,
    CODE_ASSET_HASH,
    ACCURACY,
    ACCURACY_THRESHOLD,
    APPROVAL_MODE,
)

#: Key prefix, in the artifacts bucket, of the evaluation reports (``<prefix><execution>.json``).
REPORT_PREFIX: Final = "evaluations/"

ApprovalMode = Literal["automatic", "manual"]
AUTOMATIC: Final = "automatic"
MANUAL: Final = "manual"
APPROVAL_MODES: Final = (AUTOMATIC, MANUAL)

#: SageMaker's ``ModelApprovalStatus`` values (botocore's SageMaker model).
APPROVED: Final = "Approved"
REJECTED: Final = "Rejected"
PENDING: Final = "PendingManualApproval"

#: The run input value of ``modelPackage`` that deploys the newest approved version of the
#: group the pipeline deploys from (``registry.promote_from``, else its own).
LATEST: Final = "latest"

#: Errors a run that deploys a given version fails with.
MODEL_PACKAGE_NOT_FOUND: Final = "ModelPackageNotFound"
MODEL_PACKAGE_NOT_APPROVED: Final = "ModelPackageNotApproved"
NO_APPROVED_MODEL_PACKAGE: Final = "NoApprovedModelPackage"
