"""Several AWS accounts in one emulator: requests act in the account their credentials belong to.

moto 5.2.5 decides a request's account in ``BaseResponse.get_current_account``
(moto/core/responses.py): ``MOTO_ACCOUNT_ID`` if set, else the ``x-moto-account-id`` header,
else ``moto.iam.models.get_account_id_from(access_key)``, which finds the request's access key
among the access keys of every account's IAM backend and falls back to the default account
``123456789012``. STS ``AssumeRole`` of a role ARN in any account (the role need not exist)
creates such a key in that account (moto/sts/models.py ``STSBackend._create_access_key``;
moto's docs/docs/multi_account.rst, "Configure an account using STS"). The emulator uses
exactly that:

- clients outside (the CDK CLI, the ``mlpipeline`` CLI, tests) get an account's credentials by
  ``AssumeRole`` of :func:`role_arn` (:meth:`.session.Emulator.credentials`);
- inside, where moto's Step Functions reaches the other services with fixed dummy keys
  (moto/stepfunctions/parser/asl/utils/boto_client.py, ``aws_access_key_id="ak"``), so that every
  task acted in the default account, a task acts in the account of the role it runs with, as in
  AWS (the state machine's role, or the task's ``Credentials.RoleArn``); and the local
  SageMaker reads and writes S3 in the account of the training job or endpoint
  (:func:`credentials_for`), and CloudFormation's resource handlers in the stack's account
  (:func:`acting_account`).
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Final

from moto.iam.models import iam_backends

from ._state import LOCK
from .session import ACCOUNT as DEFAULT_ACCOUNT
from .session import ROLE_NAME

_PARTITION: Final = "aws"
_keys: dict[tuple[str, str | None], tuple[str, str]] = {}
_original: Any = None
_original_account: Any = None
_acting = threading.local()


def role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{ROLE_NAME}"


def account_of(arn: str | None) -> str | None:
    """The account of an ARN (``arn:aws:iam::222222222222:role/x``), or None."""
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def credentials_for(account: str | None, role: str | None = None) -> tuple[str, str]:
    """An access key and secret that moto maps to ``account`` (the default account: moto's
    fallback for keys it does not know), as ``role`` when given (the key's principal, as an
    assumed role's: resource policies that name the role see it)."""
    if account is None or (account == DEFAULT_ACCOUNT and role is None):
        return "local", "local"
    with LOCK:
        known = _keys.get((account, role))
        backend = iam_backends[account][_PARTITION]
        if known is None or known[0] not in backend.access_keys:
            key = backend.create_temp_access_key()
            key.role_arn = role
            known = (key.access_key_id, key.secret_access_key)
            _keys[(account, role)] = known
        return known


def acting_account() -> str | None:
    """The account of the CloudFormation request this thread serves (None outside one)."""
    return getattr(_acting, "account", None)


def _get_current_account(self: Any) -> str:
    """moto's ``get_current_account`` of a CloudFormation request, remembered for the thread:
    the resource handlers of a stack act in the stack's account."""
    account = str(_original_account(self))
    _acting.account = account
    return account


def _role_of(state_credentials: Any) -> str | None:
    return getattr(state_credentials, "role_arn", None) if state_credentials else None


def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's ``boto_client_for`` acting in the account of the task's role."""
    client = _original(region, service, state_credentials)
    role = _role_of(state_credentials)
    account = account_of(role)
    if account is None:
        return client
    key, secret = credentials_for(account, role)
    import boto3

    return boto3.client(
        service_name=service,
        region_name=region,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        endpoint_url=client.meta.endpoint_url,
        config=client.meta.config,
    )


def _modules_using(function: Any) -> list[Any]:
    return [
        module
        for name, module in list(sys.modules.items())
        if module is not None
        and name != __name__
        and name.startswith(("moto.stepfunctions", "mlpipeline_emulator"))
        and module.__dict__.get("boto_client_for") is function
    ]


def patch() -> None:
    """Make every user of moto's ``boto_client_for`` act in the task role's account."""
    global _original, _original_account
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.stepfunctions.parser.asl.utils import boto_client

    with LOCK:
        if _original is None:
            _original = boto_client.boto_client_for
            _original_account = CloudFormationResponse.get_current_account
            setattr(CloudFormationResponse, "get_current_account", _get_current_account)  # noqa: B010
        for module in _modules_using(_original):
            module.boto_client_for = boto_client_for


def unpatch() -> None:
    global _original, _original_account
    from moto.cloudformation.responses import CloudFormationResponse

    with LOCK:
        if _original is not None:
            for module in _modules_using(boto_client_for):
                module.boto_client_for = _original
            delattr(CloudFormationResponse, "get_current_account")
            _original, _original_account = None, None
        _keys.clear()
