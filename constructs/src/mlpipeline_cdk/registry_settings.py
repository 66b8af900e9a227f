"""The model registry settings group (see :mod:`.settings` for how settings are declared)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from ._declare import about
from ._validation import is_token
from .contract.registry import APPROVAL_MODES, AUTOMATIC

#: SageMaker's ModelPackageGroupName (botocore: EntityName, 1 to 63 characters), in lowercase:
#: the name is compared with the group's part of version ARNs.
_GROUP_NAME: Final = re.compile(r"[a-z0-9](-*[a-z0-9]){0,62}")
#: A model package group's ARN (botocore: ModelPackageGroupArn's pattern, with a group name as
#: above).
_GROUP_ARN: Final = re.compile(
    r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package-group/"
    r"[a-z0-9](-*[a-z0-9]){0,62}"
)
_ACCOUNT: Final = re.compile(r"[0-9]{12}")


def check_approval(value: str) -> str | None:
    if value in APPROVAL_MODES:
        return None
    return f"must be one of {', '.join(repr(m) for m in APPROVAL_MODES)}"


def check_group_name(value: str | None) -> str | None:
    if value is None or is_token(value) or _GROUP_NAME.fullmatch(value):
        return None
    return (
        "must be 1 to 63 lowercase letters, digits and hyphens, starting and ending with a "
        "letter or digit (SageMaker's ModelPackageGroupName; lowercase, as versions' ARNs "
        "write it)"
    )


def check_group_arn(value: str | None) -> str | None:
    if value is None or (not is_token(value) and _GROUP_ARN.fullmatch(value)):
        return None
    return (
        "must be a model package group's ARN written out (its account and region scope the "
        "grants at synth), arn:aws:sagemaker:<region>:<account>:model-package-group/<name>"
    )


def check_accounts(value: Sequence[str]) -> str | None:
    if isinstance(value, str):
        return f"must be a list of account ids, not one string (write [{value!r}])"
    wrong = [a for a in value if not isinstance(a, str) or not _ACCOUNT.fullmatch(a)]
    if wrong:
        return f"must be 12-digit AWS account ids ({', '.join(map(repr, wrong))} are not)"
    if len(set(value)) != len(value):
        return "must not name an account twice"
    return None


def check_media_types(value: Sequence[str]) -> str | None:
    if isinstance(value, str) or not value:
        return "must be a non-empty list of MIME types, e.g. ['application/json']"
    wrong = [v for v in value if not isinstance(v, str) or not re.fullmatch(r".{1,256}", v)]
    return f"must be MIME types of 1 to 256 characters ({wrong!r} are not)" if wrong else None


@dataclass(frozen=True, kw_only=True)
class RegistrySettings:
    """The model registry: every model that passes the gate is registered as a version of the
    pipeline's model package group, with its lineage and evaluation report; the approval mode
    decides whether the run deploys it or waits for a person to approve it."""

    approval: str = field(
        default=AUTOMATIC,
        metadata=about(
            "`automatic`: the run registers its model as Approved and deploys it; `manual`: it "
            "registers it as PendingManualApproval and deploys nothing, and approving the version "
            "later deploys it. A run's input may override it (`approval`).",
            types=(str,),
            check=check_approval,
        ),
    )
    model_package_group_name: str | None = field(
        default=None,
        metadata=about(
            "Name of the model package group the pipeline creates (kept when the stack is "
            "deleted).",
            types=(str,),
            check=check_group_name,
            shown="`<name_prefix>-models`",
        ),
    )
    content_types: Sequence[str] = field(
        default=("application/json",),
        metadata=about(
            "Request MIME types the script's model server accepts, recorded in each version's "
            "inference specification.",
            types=(Sequence,),
            check=check_media_types,
        ),
    )
    response_types: Sequence[str] = field(
        default=("application/json",),
        metadata=about(
            "Response MIME types the script's model server produces, recorded likewise.",
            types=(Sequence,),
            check=check_media_types,
        ),
    )
    promote_from: str | None = field(
        default=None,
        metadata=about(
            "ARN of another pipeline's model package group (maybe in another account) whose "
            "Approved versions this pipeline may deploy (`modelPackage` run input) without "
            "training: promotion through delivery stages. That group's stack must name this "
            "account in its `registry.consumer_accounts`.",
            types=(str,),
            check=check_group_arn,
            shown="none",
        ),
    )
    consumer_accounts: Sequence[str] = field(
        default=(),
        metadata=about(
            "Accounts whose pipelines may deploy this group's versions (`promote_from`): the "
            "group's resource policy, the artifacts bucket's policy and the key's policy let "
            "them read the versions, their model archives and decrypt them.",
            types=(Sequence,),
            check=check_accounts,
            shown="none",
        ),
    )
