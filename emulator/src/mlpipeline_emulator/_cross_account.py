"""Requests on another account's resources, allowed only as the owner's resource policy allows.

moto 5.2.5 serves any account's bucket to any other account (moto/s3/models.py,
``S3Backend.get_bucket`` follows ``s3_backends.bucket_accounts`` across accounts without a
policy check), and the emulator's registry reads another account's model packages by ARN. In
AWS, a request on a resource of another account needs the caller's IAM permission (not
modeled here, as IAM is not enforced at all) AND the owner's resource-based policy
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html).
Enforced here, with :mod:`._policy`:

- S3: every request on a bucket of another account (but CreateBucket, whose answer for a taken
  name moto already gives) needs the bucket policy to allow ``s3:<Action>`` (moto's own name of
  the request's action, moto/s3/responses.py ``ACTION_MAP``: ``GetObject`` for GET and HEAD of
  an object, ``ListBucket``, ``PutObject``, ...) on ``arn:aws:s3:::bucket`` or
  ``arn:aws:s3:::bucket/key``. A GetObject of an SSE-KMS object also needs the key's policy to
  allow the caller ``kms:Decrypt`` (S3 decrypts with the caller's permission on the key:
  "Troubleshoot access denied (403 Forbidden) errors in Amazon S3", AWS KMS permissions,
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html), with
  ``kms:ViaService`` ``s3.<region>.amazonaws.com`` and ``kms:CallerAccount`` the caller's
  account; an object under an AWS managed key (``aws/s3``, no key of its own) cannot be read
  from another account, as a managed key's policy cannot be changed. Refusals are S3's
  ``AccessDenied`` (HTTP 403, "Access Denied").
- SageMaker: :func:`check_sagemaker` for the registry's cross-account reads (the model package
  group's policy, ``PutModelPackageGroupPolicy`` or CloudFormation's
  ``ModelPackageGroupPolicy``); refusals are SageMaker's ``AccessDeniedException`` with IAM's
  message (an example of its wording for DescribeModelPackage:
  aws-samples/ml-edge-getting-started issue 18, "User: arn:aws:sts::...:assumed-role/... is not
  authorized to perform: sagemaker:DescribeModelPackage on resource:
  arn:aws:sagemaker:...:model-package/modelPackageGroupTurbine/1 because no identity-based
  policy allows the sagemaker:DescribeModelPackage action"; for resource-based policies the end
  is "because no resource-based policy allows the ... action" or "with an explicit deny in a
  resource-based policy", https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
  ``AccessDeniedException`` is one of SageMaker's common errors
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html).

The context of every request has ``aws:SecureTransport`` ``true`` and ``s3:TlsVersion`` ``1.3``:
the emulator stands for AWS's HTTPS endpoints (and listens on loopback only), so the CDK's
TLS-only bucket policy (a Deny when it is ``false``) does not refuse its plain-HTTP requests.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final

from moto.core import errors as _moto_errors
from moto.core.exceptions import ServiceException
from moto.iam.models import iam_backends
from moto.kms.models import kms_backends
from moto.s3.exceptions import S3AccessDeniedError
from moto.s3.models import s3_backends
from moto.s3.responses import S3Response
from moto.sagemaker.responses import SageMakerResponse

from . import _policy
from ._state import LOCK

_PARTITION: Final = "aws"
_METHOD: Final = "_authenticate_and_authorize_s3_action"
_MISSING: Final = object()
_original: Any = None
_own: Any = _MISSING
_original_account: Any = None
#: The transport of every request, as the emulator's own bucket policy check sees it
#: (cloudformation/_bucket_policies.py, ``EMULATOR_REQUEST_CONTEXT``).
_TRANSPORT: Final = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
logger = logging.getLogger(__name__)


class AccessDeniedException(ServiceException):
    code = "AccessDeniedException"


def caller_principal(account: str, access_key: str | None) -> str | None:
    """The role ARN behind an assumed role's access key, when moto knows one."""
    if not access_key:
        return None
    key = iam_backends[account][_PARTITION].access_keys.get(access_key)
    role = getattr(key, "role_arn", None)
    return str(role) if role else None


def _context(account: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**_TRANSPORT, "aws:PrincipalAccount": account, **(extra or {})}


def _decide(policy: Any, request: _policy.Request) -> _policy.Decision:
    try:
        return _policy.evaluate(policy, request)
    except (_policy.UnevaluablePolicyError, ValueError) as error:
        raise _UnevaluableError(f"{request.action} on {request.resource}: {error}") from error


class _UnevaluableError(Exception):
    pass


# --- SageMaker ---------------------------------------------------------------------------------

_caller = threading.local()


def current_principal() -> str | None:
    """The role behind the credentials of the SageMaker request this thread serves, if any."""
    return getattr(_caller, "principal", None)


def _get_current_account(self: Any) -> str:
    """moto's ``get_current_account`` of a SageMaker request, remembering the caller's role."""
    account = str(_original_account(self))
    _caller.principal = caller_principal(account, self.get_access_key())
    return account


def check_sagemaker(
    caller_account: str,
    owner_account: str,
    policy: str | None,
    action: str,
    resources: list[str],
    principal_arn: str | None = None,
) -> None:
    """Raise ``AccessDeniedException`` unless ``caller_account`` is the owner or the group's
    ``policy`` allows ``sagemaker:<action>`` on one of ``resources`` (none denies it)."""
    if caller_account == owner_account:
        return
    full_action = f"sagemaker:{action}"
    decisions = []
    for resource in resources:
        request = _policy.Request(
            account=caller_account,
            action=full_action,
            resource=resource,
            principal_arn=principal_arn,
            context=_context(caller_account),
        )
        try:
            decisions.append(_decide(policy, request))
        except _UnevaluableError as error:
            raise AccessDeniedException(
                f"{full_action} on {resources[0]} from account {caller_account}: the emulator "
                f"cannot evaluate the model package group's resource policy ({error}), so it "
                "refuses the request"
            ) from error
    if "explicit-deny" in decisions or "allow" not in decisions:
        decision: _policy.Decision = (
            "explicit-deny" if "explicit-deny" in decisions else "implicit-deny"
        )
        who = principal_arn or f"arn:aws:iam::{caller_account}:root"
        raise AccessDeniedException(
            f"User: {who} is not authorized to perform: {full_action} on resource: "
            f"{resources[0]} {_policy.denial_reason(decision, full_action)}"
        )


# --- S3 and KMS --------------------------------------------------------------------------------


def _bucket_owner(bucket_name: str) -> str | None:
    owner = s3_backends.bucket_accounts.get(bucket_name)
    return owner[1] if owner else None


def _access_denied(detail: str) -> S3AccessDeniedError:
    # S3's message is "Access Denied" whatever the reason; the emulator's log says which.
    logger.warning("S3 AccessDenied: %s", detail)
    return S3AccessDeniedError()


def _key_policy(owner: str, region: str, key_id: str | None) -> tuple[str, Any] | None:
    """The object's KMS key's (ARN, policy), or None for a managed or unknown key."""
    if not key_id:
        return None
    backend = kms_backends[owner][region]
    try:
        key = backend.describe_key(key_id)
    except Exception:  # an alias or key that does not exist
        return None
    return str(key.arn), key.policy


def _check_decrypt(caller: str, owner: str, region: str, key_id: str | None, who: str) -> None:
    found = _key_policy(owner, region, key_id)
    if found is None:
        raise _access_denied(f"{who}: kms:Decrypt with a key of {owner} no policy can share")
    arn, policy = found
    request = _policy.Request(
        account=caller,
        action="kms:Decrypt",
        resource=arn,
        context=_context(
            caller, {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:CallerAccount": caller}
        ),
    )
    try:
        decision = _decide(policy, request)
    except _UnevaluableError as error:
        raise _access_denied(f"{who}: {error}") from error
    if decision != "allow":
        raise _access_denied(f"{who}: kms:Decrypt on {arn}: {decision}")


def _check_s3(response: Any, bucket_name: str | None, key_name: str | None) -> None:
    action = str(response.data.get("Action") or "")
    if not bucket_name or not action or action == "CreateBucket":
        return
    owner = _bucket_owner(bucket_name)
    caller = str(response.current_account)
    if owner is None or owner == caller:
        return
    resource = f"arn:aws:s3:::{bucket_name}" + (f"/{key_name}" if key_name else "")
    who = f"account {caller}: s3:{action} on {resource}"
    bucket = s3_backends[owner][_PARTITION].buckets.get(bucket_name)
    policy = bucket.policy.decode() if bucket is not None and bucket.policy else None
    request = _policy.Request(
        account=caller,
        action=f"s3:{action}",
        resource=resource,
        principal_arn=caller_principal(caller, response.get_access_key()),
        context=_context(caller),
    )
    try:
        decision = _decide(policy, request)
    except _UnevaluableError as error:
        raise _access_denied(f"{who}: {error}") from error
    if decision != "allow":
        raise _access_denied(f"{who}: {decision} by the bucket policy")
    if action == "GetObject" and key_name and bucket is not None:
        obj = bucket.keys.get(key_name)
        if obj is not None and getattr(obj, "encryption", None) == "aws:kms":
            _check_decrypt(caller, owner, response.region, obj.kms_key_id, who)


def _authenticate_and_authorize_s3_action(
    self: Any, bucket_name: str | None = None, key_name: str | None = None
) -> None:
    _original(self, bucket_name=bucket_name, key_name=key_name)
    with LOCK:
        _check_s3(self, bucket_name, key_name)


def patch() -> None:
    global _original, _own, _original_account
    with LOCK:
        if _original is None:
            _own = S3Response.__dict__.get(_METHOD, _MISSING)
            _original = getattr(S3Response, _METHOD)
            setattr(S3Response, _METHOD, _authenticate_and_authorize_s3_action)
            _original_account = SageMakerResponse.get_current_account
            # A common error of every AWS API, modeled by none of SageMaker's shapes: moto
            # would warn on each refusal (moto/core/errors.py, ``get_error_model``).
            _moto_errors.COMMON_ERROR_CODES.append(AccessDeniedException.code)
            setattr(SageMakerResponse, "get_current_account", _get_current_account)  # noqa: B010


def unpatch() -> None:
    global _original, _own, _original_account
    with LOCK:
        if _original is not None:
            if _own is _MISSING:
                delattr(S3Response, _METHOD)
            else:
                setattr(S3Response, _METHOD, _own)
            _original, _own = None, _MISSING
            delattr(SageMakerResponse, "get_current_account")
            _moto_errors.COMMON_ERROR_CODES.remove(AccessDeniedException.code)
            _original_account = None
