"""Resource-based policies evaluated for a request from another account, as AWS evaluates them
for what the CDK synthesizes.

In AWS a request on a resource of another account needs both the caller's identity-based
permission (IAM, which the emulator does not model) and the owner's resource-based policy; this
module decides the second half ("Cross-account policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html):

- a statement applies when its ``Principal`` names the caller (``"*"``, ``{"AWS": "*"}``, the
  caller's account as ``"222222222222"`` or ``"arn:aws:iam::222222222222:root"``, or the
  caller's own principal ARN), its ``Action`` (or ``NotAction``) matches the action, with ``*``
  and ``?`` wildcards and without regard to case, its ``Resource`` (or ``NotResource``) matches
  the resource ARN, with wildcards, and its ``Condition`` holds
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html);
- an explicit ``Deny`` overrides any ``Allow``; without an ``Allow`` the request is denied
  ("Policy evaluation logic", reference_policies_evaluation-logic.html).

Conditions are evaluated with the context keys the emulator knows (the request's
``aws:SecureTransport``, ``aws:PrincipalAccount``, ``s3:TlsVersion``, ``kms:CallerAccount``,
``kms:ViaService``) and the operators ``String*``, ``Arn*``, ``Numeric*`` and ``Bool`` (with
``...IfExists``). A condition on any
other key or with any other operator, and ``NotPrincipal``, cannot be evaluated here: the
request is refused with :class:`UnevaluablePolicyError`, never allowed by guess.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

Decision = Literal["allow", "explicit-deny", "implicit-deny"]


class UnevaluablePolicyError(ValueError):
    """A policy the emulator cannot evaluate; the message names the element."""


@dataclass(frozen=True)
class Request:
    """Who asks for what: the caller's account (and principal ARN, when known), the action
    (``service:Action``), the resource's ARN and the request's condition context."""

    account: str
    action: str
    resource: str
    principal_arn: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _iam_regex(pattern: str) -> str:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one; everything else literal."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        raise UnevaluablePolicyError(f"Principal {json.dumps(principal)} is not supported")
    for value in _as_list(principal.get("AWS", [])):
        text = str(value)
        if text in ("*", request.account, f"arn:aws:iam::{request.account}:root"):
            return True
        if request.principal_arn is not None and text == request.principal_arn:
            return True
    return False  # Service, Federated, CanonicalUser principals are not the caller


def _matches_any(patterns: Any, value: str, *, ignore_case: bool) -> bool:
    return any(
        re.fullmatch(_iam_regex(str(p)), value, re.IGNORECASE if ignore_case else 0)
        for p in _as_list(patterns)
    )


def _element_matches(
    statement: Mapping[str, Any], name: str, value: str, *, ignore_case: bool
) -> bool:
    if name in statement:
        return _matches_any(statement[name], value, ignore_case=ignore_case)
    if f"Not{name}" in statement:
        return not _matches_any(statement[f"Not{name}"], value, ignore_case=ignore_case)
    raise UnevaluablePolicyError(f"a statement has neither {name} nor Not{name}")


def _string_like(actual: str, expected: str) -> bool:
    return re.fullmatch(_iam_regex(expected), actual) is not None


_OPERATORS: Final[dict[str, tuple[Callable[[str, str], bool], bool]]] = {
    # operator: (test of one value against one expected value, negated)
    "StringEquals": (lambda a, e: a == e, False),
    "StringNotEquals": (lambda a, e: a == e, True),
    "StringEqualsIgnoreCase": (lambda a, e: a.lower() == e.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda a, e: a.lower() == e.lower(), True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (lambda a, e: a == e, False),
    "ArnNotEquals": (lambda a, e: a == e, True),
    "ArnLike": (_string_like, False),
    "ArnNotLike": (_string_like, True),
    "Bool": (lambda a, e: a.lower() == str(e).lower(), False),
    "NumericEquals": (lambda a, e: float(a) == float(e), False),
    "NumericNotEquals": (lambda a, e: float(a) == float(e), True),
    "NumericLessThan": (lambda a, e: float(a) < float(e), False),
    "NumericLessThanEquals": (lambda a, e: float(a) <= float(e), False),
    "NumericGreaterThan": (lambda a, e: float(a) > float(e), False),
    "NumericGreaterThanEquals": (lambda a, e: float(a) >= float(e), False),
}


def _condition_holds(operator: str, key: str, expected: Any, request: Request) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if base not in _OPERATORS:
        raise UnevaluablePolicyError(f"the condition operator {operator} is not evaluated")
    test, negated = _OPERATORS[base]
    actual = request.context.get(key)
    if actual is None:
        if key not in request.context and not _known_key(key):
            raise UnevaluablePolicyError(f"the condition key {key} is not evaluated")
        return if_exists or negated
    matched = any(test(actual, str(e)) for e in _as_list(expected))
    return not matched if negated else matched


#: Context keys whose absence from a request is meaningful (the key does not apply to it).
_KNOWN_KEYS: Final = frozenset(
    {
        "aws:securetransport",
        "aws:principalaccount",
        "s3:tlsversion",
        "kms:calleraccount",
        "kms:viaservice",
    }
)


def _known_key(key: str) -> bool:
    return key.lower() in _KNOWN_KEYS


def _conditions_hold(statement: Mapping[str, Any], request: Request) -> bool:
    lowered = replace(request, context={k.lower(): v for k, v in request.context.items()})
    for operator, entries in (statement.get("Condition") or {}).items():
        if not isinstance(entries, dict):
            raise UnevaluablePolicyError(f"the condition {operator} is not a map of keys")
        for key, expected in entries.items():
            if not _condition_holds(str(operator), str(key).lower(), expected, lowered):
                return False
    return True


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    if "NotPrincipal" in statement:
        raise UnevaluablePolicyError("NotPrincipal is not evaluated")
    if not _principal_matches(statement.get("Principal"), request):
        return False
    if not _element_matches(statement, "Action", request.action, ignore_case=True):
        return False
    if not _element_matches(statement, "Resource", request.resource, ignore_case=False):
        return False
    return _conditions_hold(statement, request)


def statements(policy: str | Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The statements of a policy given as JSON text or as a document."""
    if policy is None:
        return []
    document = json.loads(policy) if isinstance(policy, str) else policy
    found = document.get("Statement", []) if isinstance(document, Mapping) else None
    if found is None:
        raise UnevaluablePolicyError("the policy is not a JSON object with a Statement")
    return [s for s in _as_list(found) if isinstance(s, Mapping)]


def evaluate(policy: str | Mapping[str, Any] | None, request: Request) -> Decision:
    """What the resource's policy says to ``request``: an explicit deny wins over an allow."""
    decision: Decision = "implicit-deny"
    for statement in statements(policy):
        if not _applies(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return "explicit-deny"
        if statement.get("Effect") == "Allow":
            decision = "allow"
    return decision


def denial_reason(decision: Decision, action: str) -> str:
    """The end of AWS's access denied message for a resource-based policy's decision
    ("Access denied error messages",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html)."""
    if decision == "explicit-deny":
        return "with an explicit deny in a resource-based policy"
    return f"because no resource-based policy allows the {action} action"
