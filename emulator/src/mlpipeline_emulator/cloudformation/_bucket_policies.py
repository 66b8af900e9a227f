"""Bucket policies over the emulator's plain HTTP.

Every CDK bucket (the bootstrap bucket too) denies requests that are not made over TLS 1.2+.
moto takes conditions it cannot evaluate as met, so that statement denies every object request.
The emulator listens on loopback only; its requests count as made over TLS 1.3
(:data:`EMULATOR_REQUEST_CONTEXT`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

#: What the emulator's requests look like to a bucket policy: it listens on loopback only.
EMULATOR_REQUEST_CONTEXT: Final[Mapping[str, str]] = {
    "aws:SecureTransport": "true",
    "s3:TlsVersion": "1.3",
}


def bucket_permission(self: Any, action: str, resource: str) -> Any:
    """``FakeBucket.get_permission``: moto's bucket policy check, without the statements whose
    conditions on the transport (``aws:SecureTransport``, ``s3:TlsVersion``) the emulator's
    requests do not meet."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy)
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    policy["Statement"] = [s for s in statements if transport_conditions_hold(s.get("Condition"))]
    if not policy["Statement"]:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


def transport_conditions_hold(
    condition: Mapping[str, Mapping[str, Any]] | None,
    context: Mapping[str, str] = EMULATOR_REQUEST_CONTEXT,
) -> bool:
    """Whether a statement's ``Condition`` holds for the keys in ``context``. Conditions on other
    keys, or with other operators, are left to moto (they count as holding here)."""
    return all(
        _condition_holds(operator, context[key], expected)
        for operator, values in (condition or {}).items()
        for key, expected in values.items()
        if key in context
    )


def _condition_holds(operator: str, actual: str, expected: Any) -> bool:
    base = operator.removesuffix("IfExists")
    compare = _CONDITION_OPERATORS.get(base)
    if compare is None:
        return True
    expected_values = expected if isinstance(expected, list) else [expected]
    results = [compare(actual, str(value)) for value in expected_values]
    negated = base.startswith(("StringNot", "NumericNot"))
    return all(results) if negated else any(results)


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    return lambda actual, expected: compare(float(actual), float(expected))


_CONDITION_OPERATORS: Final[Mapping[str, Callable[[str, str], bool]]] = {
    "Bool": lambda actual, expected: actual.lower() == expected.lower(),
    "StringEquals": lambda actual, expected: actual == expected,
    "StringNotEquals": lambda actual, expected: actual != expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "NumericEquals": _numeric(lambda a, e: a == e),
    "NumericNotEquals": _numeric(lambda a, e: a != e),
    "NumericLessThan": _numeric(lambda a, e: a < e),
    "NumericLessThanEquals": _numeric(lambda a, e: a <= e),
    "NumericGreaterThan": _numeric(lambda a, e: a > e),
    "NumericGreaterThanEquals": _numeric(lambda a, e: a >= e),
}
