"""Secure default settings, kept apart from the wiring so they can be read, tested and reused.

Each ``*_props`` function returns keyword arguments for one resource the pipeline creates. A
caller may lay its own ``*_props`` over them; :func:`switched_off` names the secure defaults such
an override turns off (the pipeline leaves a warning annotation for each), and
:func:`bucket_conflicts` names overrides that contradict a default left in place (reported with
the other prop errors, before aws-cdk-lib would stop on the first one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

#: The bucket settings that keep data safe; overriding one leaves a warning annotation.
_SECURE_BUCKET_KEYS: Final = (
    "encryption",
    "encryption_key",
    "bucket_key_enabled",
    "versioned",
    "block_public_access",
    "object_ownership",
    "enforce_ssl",
    "minimum_tls_version",
    "server_access_logs_bucket",
    "removal_policy",
)
_SECURE_KEY_KEYS: Final = ("enable_key_rotation", "removal_policy")
_SECURE_TOPIC_KEYS: Final = ("master_key", "enforce_ssl")
#: Encryptions that take a customer managed key (and S3 Bucket Keys).
_KMS_ENCRYPTIONS: Final = (s3.BucketEncryption.KMS, s3.BucketEncryption.DSSE)
#: Encryptions that S3 Bucket Keys work with.
_BUCKET_KEY_ENCRYPTIONS: Final = (
    *_KMS_ENCRYPTIONS,
    s3.BucketEncryption.KMS_MANAGED,
    s3.BucketEncryption.DSSE_MANAGED,
)


def data_bucket_props(
    *,
    encryption_key: kms.IKey,
    access_logs_bucket: s3.IBucket,
    access_logs_prefix: str,
) -> dict[str, Any]:
    """Keyword arguments for a bucket that holds data or models.

    KMS-encrypted with ``encryption_key`` (S3 Bucket Keys on, to keep KMS requests down),
    versioned, all public access blocked, ACLs disabled, requests without TLS refused, server
    access logs written to ``access_logs_bucket`` under ``access_logs_prefix``, kept when the
    stack is deleted, and old object versions moved to cheaper storage after 30 days.
    """
    return {
        "encryption": s3.BucketEncryption.KMS,
        "encryption_key": encryption_key,
        "bucket_key_enabled": True,
        "versioned": True,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "enforce_ssl": True,
        "minimum_tls_version": 1.2,
        "server_access_logs_bucket": access_logs_bucket,
        "server_access_logs_prefix": access_logs_prefix,
        "removal_policy": RemovalPolicy.RETAIN,
        "lifecycle_rules": [
            s3.LifecycleRule(
                id="NoncurrentVersionsToInfrequentAccess",
                noncurrent_version_transitions=[
                    s3.NoncurrentVersionTransition(
                        storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                        transition_after=Duration.days(30),
                    )
                ],
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
    }


def access_logs_bucket_props() -> dict[str, Any]:
    """Keyword arguments for the bucket that receives S3 server access logs.

    S3 server access logging cannot deliver to a KMS-encrypted bucket, so this one uses S3-managed
    keys; otherwise it is as locked down as the data buckets: versioned, public access blocked,
    TLS enforced, retained on stack deletion.
    """
    return {
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "versioned": True,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "enforce_ssl": True,
        "minimum_tls_version": 1.2,
        "removal_policy": RemovalPolicy.RETAIN,
    }


def encryption_key_props() -> dict[str, Any]:
    """Keyword arguments for the pipeline's customer managed KMS key: rotated yearly, retained."""
    return {
        "enable_key_rotation": True,
        "removal_policy": RemovalPolicy.RETAIN,
        "description": "Encrypts the ML pipeline's data, models, training volumes and logs",
    }


def failure_topic_props(*, encryption_key: kms.IKey) -> dict[str, Any]:
    """Keyword arguments for the failure topic: encrypted with the pipeline key, HTTPS only."""
    return {
        "master_key": encryption_key,
        "enforce_ssl": True,
        "display_name": "ML pipeline failures",
    }


def switched_off(
    secure: Mapping[str, Any], overrides: Mapping[str, Any] | None, *, kind: str
) -> list[str]:
    """The secure defaults among ``secure`` that ``overrides`` replaces, as ``key=default``.

    ``kind`` says which settings ``secure`` holds: ``"bucket"``, ``"key"`` or ``"topic"``.
    """
    keys = {
        "bucket": _SECURE_BUCKET_KEYS,
        "key": _SECURE_KEY_KEYS,
        "topic": _SECURE_TOPIC_KEYS,
    }[kind]
    given = overrides or {}
    return [
        f"{key}={secure.get(key)!r}"
        for key in keys
        if key in given and given[key] is not secure.get(key) and given[key] != secure.get(key)
    ]


#: The data bucket defaults that other bucket settings depend on (for :func:`bucket_conflicts`).
_BUCKET_DEPENDENCIES: Final[Mapping[str, Any]] = {
    "encryption": s3.BucketEncryption.KMS,
    "encryption_key": "the pipeline key",
    "bucket_key_enabled": True,
    "enforce_ssl": True,
    "minimum_tls_version": 1.2,
}


def bucket_conflicts(overrides: Mapping[str, Any] | None) -> list[tuple[str, Any, str]]:
    """Overrides of the data bucket defaults that contradict a default left in place, as
    ``(key, value, what to do)``: aws-cdk-lib would refuse each of them, one at a time."""
    given = overrides or {}
    merged = {**_BUCKET_DEPENDENCIES, **given}
    conflicts: list[tuple[str, Any, str]] = []
    if not merged["enforce_ssl"] and merged["minimum_tls_version"] is not None:
        conflicts.append(
            (
                "enforce_ssl",
                merged["enforce_ssl"],
                f"the default minimum_tls_version={merged['minimum_tls_version']!r} needs "
                "enforce_ssl=True; keep enforce_ssl or also set minimum_tls_version=None",
            )
        )
    encryption = merged["encryption"]
    if merged["encryption_key"] is not None and encryption not in _KMS_ENCRYPTIONS:
        conflicts.append(
            (
                "encryption",
                encryption,
                "the default encryption_key (the pipeline key) needs encryption=KMS or DSSE; "
                "also set encryption_key=None",
            )
        )
    if merged["bucket_key_enabled"] and encryption not in _BUCKET_KEY_ENCRYPTIONS:
        conflicts.append(
            (
                "encryption",
                encryption,
                "the default bucket_key_enabled=True needs a KMS or DSSE encryption; also set "
                "bucket_key_enabled=False",
            )
        )
    return conflicts
