"""The pipeline's long-lived resources besides the state machine: the key, the buckets, the
SageMaker execution role and the failure topic, each created unless given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from . import defaults
from ._secure_props import lay_over
from .settings import NotificationSettings, StorageSettings


class Storage(NamedTuple):
    encryption_key: kms.IKey
    #: None when both buckets were given (see MLPipeline.access_logs_bucket).
    access_logs_bucket: s3.IBucket | None
    data_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket


def key_and_buckets(scope: Construct, storage: StorageSettings) -> Storage:
    key: kms.IKey = storage.encryption_key or kms.Key(
        scope,
        "Key",
        **lay_over(
            scope,
            defaults.encryption_key_props(),
            storage.encryption_key_props,
            "storage.encryption_key_props",
        ),
    )
    access_logs: s3.IBucket | None = None
    if storage.data_bucket is None or storage.artifacts_bucket is None:
        access_logs = s3.Bucket(scope, "AccessLogsBucket", **defaults.access_logs_bucket_props())

    def make_bucket(
        construct_id: str, log_prefix: str, overrides: Mapping[str, Any] | None, setting: str
    ) -> s3.IBucket:
        assert access_logs is not None
        props = defaults.data_bucket_props(
            encryption_key=key, access_logs_bucket=access_logs, access_logs_prefix=log_prefix
        )
        return s3.Bucket(scope, construct_id, **lay_over(scope, props, overrides, setting))

    data = storage.data_bucket or make_bucket(
        "DataBucket", "data-bucket/", storage.data_bucket_props, "storage.data_bucket_props"
    )
    artifacts = storage.artifacts_bucket or make_bucket(
        "ArtifactsBucket",
        "artifacts-bucket/",
        storage.artifacts_bucket_props,
        "storage.artifacts_bucket_props",
    )
    return Storage(key, access_logs, data, artifacts)


def sagemaker_role(scope: Construct, given: iam.IRole | None) -> iam.IRole:
    return given or iam.Role(
        scope,
        "SageMakerRole",
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description="Execution role of the pipeline's training jobs and models",
    )


def failure_topic(
    scope: Construct, notifications: NotificationSettings, encryption_key: kms.IKey
) -> sns.ITopic:
    topic = notifications.failure_topic or sns.Topic(
        scope,
        "FailureTopic",
        **lay_over(
            scope,
            defaults.failure_topic_props(encryption_key=encryption_key),
            notifications.failure_topic_props,
            "notifications.failure_topic_props",
        ),
    )
    for address in notifications.emails:
        topic.add_subscription(subscriptions.EmailSubscription(address))
    return topic
