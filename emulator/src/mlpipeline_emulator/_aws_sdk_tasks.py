"""What the ``aws-sdk`` tasks of a state machine meet besides SageMaker: S3's answers, their error
names, and the reference paths that carry one task's answer into the next.

- **Error names**: Step Functions names an AWS SDK integration's error ``ServiceName.ErrorName``,
  both in PascalCase, the error name with an ``Exception`` suffix: an S3 ``BucketAlreadyExists``
  is ``S3.BucketAlreadyExistsException`` ("Learning to use AWS service SDK integrations in Step
  Functions", https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
  moto knows the PascalCase name of DynamoDB and Step Functions only, and named S3's errors
  ``s3.NoSuchBucketException``; S3 is named here as SageMaker is in
  :mod:`._stepfunctions_sagemaker` (``S3.NoSuchBucketException``, and ``S3.S3Exception`` for the
  errors S3's model does not declare).
- **SSE-KMS with a key that does not exist**: S3 refuses a PutObject (or CopyObject) whose
  ``SSEKMSKeyId`` names no KMS key of the account, with HTTP 400 and the code
  ``KMS.NotFoundException`` (aws/aws-cli#4507: "An error occurred (KMS.NotFoundException) when
  calling the PutObject operation: Invalid keyId ..."; the message S3 gives for a key ARN, quoted
  in minio/minio#6582: "Key 'arn:aws:kms:...:key/...' does not exist"). moto stored the object.
  A key id, key ARN, alias name or alias ARN of the bucket's account and region is looked up.
- **Reference paths**: a path of names and numeric indexes, such as
  ``$.latest.ModelPackageSummaryList[0].ModelPackageArn``, is a reference path, which "can
  identify only a single node in a JSON structure" (https://docs.aws.amazon.com/step-functions/
  latest/dg/amazon-states-language-paths.html, "Reference paths"); moto answered a list holding
  that node whenever an index preceded the last name (``["arn:..."]``).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from typing import Any, Final

from moto.kms.models import kms_backends
from moto.s3.exceptions import S3ClientError
from moto.s3.models import S3Backend
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
)
from moto.stepfunctions.parser.asl.utils import json_path

from ._state import LOCK

_S3: Final = "s3"
#: ``$`` then names (``.name``, ``['name']``) and numeric indexes only: no wildcard, slice,
#: filter or deep scan.
_REFERENCE_PATH: Final = re.compile(r"\$(\.[A-Za-z_][\w-]*|\[\d+\]|\['[^']*'\])*")
_originals: dict[str, Any] = {}


class _KmsKeyNotFoundError(S3ClientError):
    def __init__(self, key_id: str) -> None:
        super().__init__("KMS.NotFoundException", f"Key '{key_id}' does not exist")


def _check_kms_key(backend: S3Backend, bucket_name: str, kms_key_id: str) -> None:
    region = str(backend.get_bucket(bucket_name).region_name)
    if kms_key_id.startswith("arn:"):
        region = kms_key_id.split(":")[3] or region
    keys = kms_backends[backend.account_id][region]
    try:
        keys.describe_key(kms_key_id)
    except Exception as error:
        raise _KmsKeyNotFoundError(kms_key_id) from error


def _wrap_put_object(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_object(self: S3Backend, bucket_name: str, *args: Any, **kwargs: Any) -> Any:
        kms_key_id = kwargs.get("kms_key_id")
        if kms_key_id:
            _check_kms_key(self, bucket_name, str(kms_key_id))
        return original(self, bucket_name, *args, **kwargs)

    return put_object


def _wrap_extract_json(original: Callable[[str, Any], Any]) -> Callable[[str, Any], Any]:
    def extract_json(path: str, data: Any) -> Any:
        if _REFERENCE_PATH.fullmatch(path):
            from jsonpath_ng.ext.parser import parse

            matches = parse(path).find(data)
            if len(matches) == 1:
                return matches[0].value
        return original(path, data)

    return extract_json


#: The interpreter's modules that evaluate paths (moto 5.2 imports ``extract_json`` into each).
_PATH_USERS: Final = (
    "asl.component.common.string.string_expression",
    "asl.component.intrinsic.argument.argument",
    "asl.component.state.choice.comparison.operator.implementations.boolean_equals",
    "asl.component.state.choice.comparison.operator.implementations.numeric",
    "asl.component.state.choice.comparison.operator.implementations.string_operators",
    "asl.component.state.choice.comparison.operator.implementations.timestamp_operators",
    "asl.eval.states",
)


def _users_of(function: Any) -> list[Any]:
    """The interpreter's modules that imported ``function`` under its own name."""
    for name in _PATH_USERS:
        importlib.import_module(f"moto.stepfunctions.parser.{name}")
    return [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser")
        and getattr(module, function.__name__, None) is function
    ]


def patch() -> None:
    with LOCK:
        if _originals:
            return
        state_task_service_aws_sdk._SERVICE_ERROR_NAMES[_S3] = "S3"
        _originals["put_object"] = S3Backend.put_object
        S3Backend.put_object = _wrap_put_object(S3Backend.put_object)  # type: ignore[method-assign]
        original = json_path.extract_json
        _originals["extract_json"] = original
        patched = _wrap_extract_json(original)
        for module in _users_of(original):
            setattr(module, "extract_json", patched)  # noqa: B010


def unpatch() -> None:
    with LOCK:
        if not _originals:
            return
        state_task_service_aws_sdk._SERVICE_ERROR_NAMES.pop(_S3, None)
        S3Backend.put_object = _originals.pop("put_object")  # type: ignore[method-assign]
        original = _originals.pop("extract_json")
        for name, module in list(sys.modules.items()):
            if name.startswith("moto.stepfunctions.parser") and getattr(
                module, "extract_json", None
            ) not in (None, original):
                setattr(module, "extract_json", original)  # noqa: B010
