"""Resource-based policies as the emulator evaluates them for another account's requests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlpipeline_emulator._policy import Request, UnevaluablePolicyError, evaluate

A = "111111111111"
B = "222222222222"
GROUP = f"arn:aws:sagemaker:us-east-1:{A}:model-package-group/models"
VERSION = f"arn:aws:sagemaker:us-east-1:{A}:model-package/models/3"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(principal: Any, action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": resource,
        **extra,
    }


def _request(action: str = "sagemaker:DescribeModelPackage", resource: str = VERSION) -> Request:
    return Request(account=B, action=action, resource=resource)


@pytest.mark.parametrize(
    "principal",
    [{"AWS": f"arn:aws:iam::{B}:root"}, {"AWS": B}, {"AWS": [A, B]}, {"AWS": "*"}, "*"],
)
def test_the_callers_account_is_named_as_cdk_and_iam_name_it(principal: Any) -> None:
    policy = _policy(_allow(principal, "sagemaker:DescribeModelPackage", VERSION))
    assert evaluate(policy, _request()) == "allow"


def test_another_account_or_a_service_is_not_the_caller() -> None:
    policy = _policy(
        _allow({"AWS": f"arn:aws:iam::{A}:root"}, "sagemaker:*", "*"),
        _allow({"Service": "sagemaker.amazonaws.com"}, "sagemaker:*", "*"),
    )
    assert evaluate(policy, _request()) == "implicit-deny"


def test_a_role_of_the_callers_account_matches_only_that_role() -> None:
    role = f"arn:aws:iam::{B}:role/Deployer"
    policy = _policy(_allow({"AWS": role}, "sagemaker:DescribeModelPackage", VERSION))
    assert evaluate(policy, _request()) == "implicit-deny"
    request = Request(B, "sagemaker:DescribeModelPackage", VERSION, principal_arn=role)
    assert evaluate(policy, request) == "allow"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("sagemaker:Describe*", "allow"),
        ("SageMaker:describemodelpackage", "allow"),  # actions ignore case
        (["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"], "allow"),
        ("sagemaker:DescribeModelPackageGroup", "implicit-deny"),
        ("sagemaker:List*", "implicit-deny"),
    ],
)
def test_actions_match_with_wildcards_and_lists(action: Any, expected: str) -> None:
    policy = _policy(_allow({"AWS": B}, action, VERSION))
    assert evaluate(policy, _request()) == expected


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (f"arn:aws:sagemaker:us-east-1:{A}:model-package/models/*", "allow"),
        (f"arn:aws:sagemaker:*:{A}:model-package/models/?", "allow"),
        ([GROUP, f"arn:aws:sagemaker:us-east-1:{A}:model-package/models/3"], "allow"),
        (f"arn:aws:sagemaker:us-east-1:{A}:model-package/other/*", "implicit-deny"),
        (GROUP, "implicit-deny"),
    ],
)
def test_resources_match_with_wildcards(resource: Any, expected: str) -> None:
    policy = _policy(_allow({"AWS": B}, "sagemaker:DescribeModelPackage", resource))
    assert evaluate(policy, _request()) == expected


def test_an_explicit_deny_overrides_an_allow() -> None:
    policy = _policy(
        _allow({"AWS": B}, "sagemaker:*", "*"),
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sagemaker:DescribeModelPackage",
            "Resource": VERSION,
        },
    )
    assert evaluate(policy, _request()) == "explicit-deny"
    assert evaluate(policy, _request("sagemaker:ListModelPackages", GROUP)) == "allow"


def test_no_policy_and_no_matching_statement_deny() -> None:
    assert evaluate(None, _request()) == "implicit-deny"
    assert evaluate(_policy(), _request()) == "implicit-deny"


def test_conditions_on_known_keys_are_evaluated() -> None:
    via_s3 = _allow(
        {"AWS": f"arn:aws:iam::{B}:root"},
        "kms:Decrypt",
        "*",
        Condition={"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    )
    decrypt = Request(B, "kms:Decrypt", "arn:aws:kms:us-east-1:111111111111:key/k")
    through_s3 = Request(
        **{**decrypt.__dict__, "context": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}
    )
    assert evaluate(_policy(via_s3), through_s3) == "allow"
    assert evaluate(_policy(via_s3), decrypt) == "implicit-deny"  # not through S3


def test_the_cdk_tls_only_statement_denies_plain_http_only() -> None:
    tls_only = {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    allow = _allow({"AWS": B}, "s3:GetObject", "arn:aws:s3:::b/models/*")
    secure = Request(
        B, "s3:GetObject", "arn:aws:s3:::b/models/m", context={"aws:SecureTransport": "true"}
    )
    plain = Request(
        B, "s3:GetObject", "arn:aws:s3:::b/models/m", context={"aws:SecureTransport": "false"}
    )
    assert evaluate(_policy(tls_only, allow), secure) == "allow"
    assert evaluate(_policy(tls_only, allow), plain) == "explicit-deny"


@pytest.mark.parametrize(
    "statement",
    [
        _allow(
            {"AWS": B}, "sagemaker:*", "*", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
        ),
        _allow(
            {"AWS": B},
            "sagemaker:*",
            "*",
            Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}},
        ),
        {"Effect": "Allow", "NotPrincipal": {"AWS": A}, "Action": "sagemaker:*", "Resource": "*"},
    ],
)
def test_what_cannot_be_evaluated_is_refused_never_allowed(statement: dict[str, Any]) -> None:
    with pytest.raises(UnevaluablePolicyError):
        evaluate(_policy(statement), _request())


def test_policies_are_read_from_json_text() -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": B}, "Action": "*", "Resource": "*"}
    assert evaluate(json.dumps({"Statement": statement}), _request()) == "allow"
