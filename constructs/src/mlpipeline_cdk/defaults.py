"""Secure default settings, kept apart from the wiring so they can be read, tested and reused."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3


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
