"""The checks declared beside MLPipeline's settings: each takes a value and says what is allowed,
or returns None when the value is fine. Unresolved tokens are not checked."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from aws_cdk import Duration, Size
from aws_cdk import aws_ec2 as ec2
from jsii._reference_map import InterfaceDynamicProxy

from ._validation import is_token
from .contract import run_input
from .instance_types import TRAINING_INSTANCE_TYPES

#: SageMaker names: at most 63 characters of ``[a-zA-Z0-9](-*[a-zA-Z0-9])*``.
SAGEMAKER_NAME_MAX: Final = 63
_LOWER_NAME = re.compile(r"^[a-z0-9](-*[a-z0-9])*$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAX_VOLUME_GIB: Final = 16384
#: The same limit a run's ``maxRuntimeSeconds`` has.
_MAX_RUNTIME: Final = Duration.seconds(run_input.MAX_RUNTIME_LIMIT)


# --- checks: value -> what is allowed, or None ------------------------------------------------


def check_instance_type(value: str) -> str | None:
    if is_token(value) or _INSTANCE_TYPE.match(value):
        return None
    return "must be a SageMaker instance type such as 'ml.m5.xlarge'"


def check_training_instance_type(value: str) -> str | None:
    """One SageMaker offers for training (botocore's sagemaker ``TrainingInstanceType`` enum)."""
    if is_token(value) or value in TRAINING_INSTANCE_TYPES:
        return None
    return (
        "must be an instance type SageMaker offers for training, such as 'ml.m5.xlarge' or "
        "'ml.g5.xlarge' (see mlpipeline_cdk.instance_types.TRAINING_INSTANCE_TYPES)"
    )


def check_count(value: int) -> str | None:
    if is_token(value) or (not isinstance(value, bool) and value >= 1):
        return None
    return "must be a whole number of at least 1"


def check_volume(value: Size | None) -> str | None:
    if value is None or value.is_unresolved() or 1 <= value.to_gibibytes() <= _MAX_VOLUME_GIB:
        return None
    return f"must be 1 to {_MAX_VOLUME_GIB} GiB"


def check_runtime(value: Duration | None) -> str | None:
    if value is None or value.is_unresolved():
        return None
    if 1 <= value.to_seconds() <= _MAX_RUNTIME.to_seconds():
        return None
    return "must be 1 second to 28 days"


def check_fraction(value: float) -> str | None:
    if not isinstance(value, bool) and 0 <= value <= 1:
        return None
    return "must be a number from 0 to 1"


def check_endpoint_name(value: str | None) -> str | None:
    if value is None or is_token(value):
        return None
    if _LOWER_NAME.match(value) and len(value) <= SAGEMAKER_NAME_MAX:
        return None
    return (
        f"must be 1 to {SAGEMAKER_NAME_MAX} characters of lowercase letters, digits and "
        "hyphens, starting and ending with a letter or digit (SageMaker writes names in "
        "lowercase in ARNs, which the pipeline's IAM policies name)"
    )


def check_poll_interval(value: Duration) -> str | None:
    if value.is_unresolved() or 1 <= value.to_seconds() <= 3600:
        return None
    return "must be 1 second to 1 hour"


def check_data_prefix(value: str) -> str | None:
    if is_token(value) or not (
        value.startswith("/") or ".." in value or any(c in value for c in "*?\\")
    ):
        return None
    return "must be a key prefix without a leading '/', '..', '*', '?' or '\\'"


def check_emails(value: Sequence[str]) -> str | None:
    if isinstance(value, str):
        # A string is a sequence of characters: say so once, not once per character.
        return f"must be a list of e-mail addresses, not one string (write [{value!r}])"
    wrong = [
        a for a in value if not isinstance(a, str) or (not is_token(a) and not _EMAIL.match(a))
    ]
    return f"must be e-mail addresses ({', '.join(map(repr, wrong))} are not)" if wrong else None


def check_hook(value: Callable[..., Any]) -> str | None:
    if callable(value):
        return None
    return (
        "must be a function that takes the HookContext and returns the hook's states (e.g. "
        "`lambda context: sfn.Pass(context.scope, 'Id')`), not the states themselves"
    )


def check_security_groups(value: Sequence[Any]) -> str | None:
    if not isinstance(value, str) and all(is_a(g, (ec2.ISecurityGroup,)) for g in value):
        return None
    return "must be a list of ec2.ISecurityGroup"


# --- types ------------------------------------------------------------------------------------


def is_a(value: object, types: tuple[type, ...]) -> bool:
    """``isinstance`` that also knows jsii interfaces (``s3.IBucket``, ``iam.IRole``, ...), which
    are protocols Python cannot check: a value implements one when its class, or for an object
    that came back from jsii (an imported resource) one of its delegates' classes, declares it."""
    plain = tuple(t for t in types if not _is_jsii_interface(t))
    if plain and isinstance(value, plain):
        return True
    return any(implements(value, t) for t in types if _is_jsii_interface(t))


def implements(value: object, interface: type) -> bool:
    delegates = value._delegates if isinstance(value, InterfaceDynamicProxy) else [value]
    proxy = interface.__jsii_proxy_class__()  # type: ignore[attr-defined]
    for delegate in delegates:
        for klass in type(delegate).__mro__:
            if klass is proxy:
                return True
            if any(interface in i.__mro__ for i in vars(klass).get("__jsii_ifaces__", ())):
                return True
    return False


def _is_jsii_interface(kind: type) -> bool:
    return hasattr(kind, "__jsii_proxy_class__") and getattr(kind, "_is_protocol", False)
