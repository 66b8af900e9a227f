"""Request capture: the ``capture`` settings of MLPipeline and the ``DataCaptureConfig`` of the
endpoint configuration each run creates.

With ``capture=CaptureSettings(...)`` SageMaker writes a sample of the endpoint's requests and
responses as JSON Lines under
``s3://<artifacts bucket>/<prefix><endpoint>/<variant>/yyyy/mm/dd/hh/``, encrypted with the
pipeline's key. AWS's sources:

- botocore's SageMaker service model, ``DataCaptureConfig``: ``InitialSamplingPercentage``
  (SamplingPercentage, 0 to 100), ``DestinationS3Uri`` (DestinationS3Uri, at most 512
  characters, ``(https|s3)://([^/])/?(.*)``), ``KmsKeyId``, ``CaptureOptions`` (1 to 32 of
  ``CaptureMode`` Input | Output | InputAndOutput) and ``CaptureContentTypeHeader``
  (``CsvContentTypes`` / ``JsonContentTypes``: 1 to 10 each, each at most 256 characters
  matching ``[a-zA-Z0-9](-*[a-zA-Z0-9])*\\/[a-zA-Z0-9](-*[a-zA-Z0-9.])*``).
- https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataCaptureConfig.html: "If no
  headers are specified SageMaker AI will by default base64 encode when capturing the data";
  ``KmsKeyId`` is the key "that SageMaker AI uses to encrypt the captured data at rest using
  Amazon S3 server-side encryption".
- https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html: the
  capture files' layout and records; the model's execution role writes them (it needs
  ``s3:PutObject`` on the destination and the key's ``kms:GenerateDataKey``/``kms:Encrypt``).
- aws/sagemaker-python-sdk, src/sagemaker/model_monitor/data_capture_config.py: sampling
  default 20 percent, ``text/csv`` and ``application/json`` as the default content types.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ._declare import about
from ._validation import is_token

if TYPE_CHECKING:
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_s3 as s3

    from .ml_pipeline import MLPipeline

#: botocore: CsvContentType / JsonContentType.
_CONTENT_TYPE: Final = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*/[a-zA-Z0-9](-*[a-zA-Z0-9.])*")
_CONTENT_TYPES_MAX: Final = 10
_PREFIX: Final = re.compile(r"[a-zA-Z0-9!_.*'()-]+(/[a-zA-Z0-9!_.*'()-]+)*/")
#: What training writes under the artifacts bucket; capture must keep out of it.
_TAKEN_PREFIXES: Final = ("models/", "checkpoints/")
#: DestinationS3Uri's length limit, less room for the bucket name (at most 63) and "s3://".
_PREFIX_MAX: Final = 512 - 5 - 63 - 1


def _check_percentage(value: int) -> str | None:
    if is_token(value) or (type(value) is int and 0 <= value <= 100):
        return None
    return "must be a whole number from 0 to 100 (percent of requests captured)"


def _check_content_types(value: Sequence[str]) -> str | None:
    if isinstance(value, str):
        return f"must be a list of MIME types, not one string (write [{value!r}])"
    if not 1 <= len(value) <= _CONTENT_TYPES_MAX:
        return f"must list 1 to {_CONTENT_TYPES_MAX} MIME types"
    wrong = [
        v for v in value if not isinstance(v, str) or len(v) > 256 or not _CONTENT_TYPE.fullmatch(v)
    ]
    return f"must be MIME types like 'text/csv' ({wrong!r} are not)" if wrong else None


def _check_prefix(value: str) -> str | None:
    if is_token(value):
        return None
    if not _PREFIX.fullmatch(value) or len(value) > _PREFIX_MAX:
        return (
            f"must be an S3 key prefix of up to {_PREFIX_MAX} characters ending in '/', without "
            "a leading '/', e.g. 'capture/'"
        )
    if any(value.startswith(t) or t.startswith(value) for t in _TAKEN_PREFIXES):
        return f"must not overlap the prefixes training writes ({', '.join(_TAKEN_PREFIXES)})"
    return None


@dataclass(frozen=True, kw_only=True)
class CaptureSettings:
    """Request capture: SageMaker writes a sample of the endpoint's requests and responses to the
    artifacts bucket (JSON Lines, encrypted with the pipeline's key); `mlpipeline capture list`
    and `mlpipeline capture show` read them. Instance endpoints only (not `serving.serverless`)."""

    sampling_percentage: int = field(
        default=20,
        metadata=about(
            "Percent of requests captured (0 to 100); lower it for busy endpoints.",
            types=(int,),
            check=_check_percentage,
        ),
    )
    capture_requests: bool = field(
        default=True,
        metadata=about("Capture request bodies (CaptureMode `Input`).", types=(bool,)),
    )
    capture_responses: bool = field(
        default=True,
        metadata=about("Capture response bodies (CaptureMode `Output`).", types=(bool,)),
    )
    csv_content_types: Sequence[str] = field(
        default=("text/csv",),
        metadata=about(
            "Content types recorded as text (encoding `CSV`); others are base64-encoded.",
            types=(Sequence,),
            check=_check_content_types,
        ),
    )
    json_content_types: Sequence[str] = field(
        default=("application/json",),
        metadata=about(
            "Content types recorded as text (encoding `JSON`); others are base64-encoded.",
            types=(Sequence,),
            check=_check_content_types,
        ),
    )
    prefix: str = field(
        default="capture/",
        metadata=about(
            "Key prefix in the artifacts bucket; files land under "
            "`<prefix><endpoint>/<variant>/yyyy/mm/dd/hh/`.",
            types=(str,),
            check=_check_prefix,
        ),
    )

    def capture_modes(self) -> list[str]:
        return [
            mode
            for mode, wanted in (
                ("Input", self.capture_requests),
                ("Output", self.capture_responses),
            )
            if wanted
        ]

    def data_capture_config(self, bucket: s3.IBucket, key: kms.IKey) -> dict[str, Any]:
        """The ``DataCaptureConfig`` of CreateEndpointConfig."""
        return {
            "EnableCapture": True,
            "InitialSamplingPercentage": self.sampling_percentage,
            "DestinationS3Uri": bucket.s3_url_for_object(self.prefix.rstrip("/")),
            "KmsKeyId": key.key_arn,
            "CaptureOptions": [{"CaptureMode": m} for m in self.capture_modes()],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": list(self.csv_content_types),
                "JsonContentTypes": list(self.json_content_types),
            },
        }

    def grant_write(self, role: iam.IRole, bucket: s3.IBucket) -> None:
        """The model's execution role writes the capture files (and already encrypts with the
        pipeline key: see ``_grants.grant_key_for_sagemaker``)."""
        bucket.grant_put(role, f"{self.prefix}*")


def capture_config(pipeline: MLPipeline, capture: CaptureSettings | None) -> dict[str, Any] | None:
    """The ``DataCaptureConfig`` of the pipeline's endpoint configurations (None: no capture),
    with the SageMaker role allowed to write the capture files."""
    if capture is None:
        return None
    from .nag import acknowledge, finding_resource, policies_of

    capture.grant_write(pipeline.sagemaker_role, pipeline.artifacts_bucket)
    artifacts = finding_resource(pipeline, pipeline.artifacts_bucket.bucket_arn)
    for policy in policies_of(pipeline.sagemaker_role):
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{artifacts}/{capture.prefix}*]",
            "SageMaker writes capture files under <prefix><endpoint>/<variant>/yyyy/mm/dd/hh/ "
            "with names it generates; limited to the capture prefix",
        )
    return capture.data_capture_config(pipeline.artifacts_bucket, pipeline.encryption_key)


def capture_problems(capture: object) -> dict[str, tuple[object, str]]:
    """What a capture group refuses beyond its fields' own checks (MLPipeline's ``refused``)."""
    if isinstance(capture, CaptureSettings) and not capture.capture_modes():
        return {
            "capture.capture_requests": (
                False,
                "capture_requests and capture_responses are both False: capture at least one, "
                "or set capture=None",
            )
        }
    return {}
