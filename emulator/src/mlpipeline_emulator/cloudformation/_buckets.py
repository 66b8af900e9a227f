"""S3 buckets: the configuration CloudFormation applies that moto does not.

moto applies a bucket's encryption and tags only; CloudFormation also applies versioning, public
access block, object ownership, lifecycle rules, server access logging, notifications and the
canned ACL (:func:`_configure_bucket`), through S3's API here as its handler does.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

from ._patching import Create, Update, client

logger = logging.getLogger(__name__)

_MOTO_BUCKET_PROPERTIES: Final = frozenset({"BucketName", "Tags"})

#: ``apply(s3, bucket, value)`` sets a configuration property; ``remove(s3, bucket)`` undoes it
#: when an update no longer has it.
Apply = Callable[[Any, Any, Any], None]
Remove = Callable[[Any, Any], None]


def create_bucket(request: Create) -> Any:
    """``FakeBucket.create_from_cloudformation_json``."""
    bucket = request.moto()
    _configure_bucket(bucket, request.properties, None, request.region_name)
    return bucket


def update_bucket(request: Update) -> Any:
    """``FakeBucket.update_from_cloudformation_json``."""
    old = getattr(request.resource, "_cfn_properties", {})
    properties = request.properties
    # moto's in-place update reads the bucket's name from BucketName, which most templates
    # leave out, to apply Tags; they are applied below instead.
    bucket = request.moto({key: value for key, value in properties.items() if key != "Tags"})
    replaced = bucket is not request.resource
    s3 = client("s3", request.region_name)
    if properties.get("Tags"):
        s3.put_bucket_tagging(Bucket=bucket.name, Tagging={"TagSet": properties["Tags"]})
    elif old.get("Tags") and not replaced:
        s3.delete_bucket_tagging(Bucket=bucket.name)
    _configure_bucket(bucket, properties, None if replaced else old, request.region_name)
    return bucket


def _configure_bucket(
    bucket: Any, properties: Mapping[str, Any], old: Mapping[str, Any] | None, region: str
) -> None:
    """Apply the bucket configuration properties as CloudFormation does, through S3's API; on
    update, remove what the template no longer has."""
    s3 = client("s3", region)
    ignored = set(properties) - set(_CONFIGURATION) - _MOTO_BUCKET_PROPERTIES
    if ignored:
        logger.warning(
            "bucket %s: not emulated, left unset: %s", bucket.name, ", ".join(sorted(ignored))
        )
    for name, (apply, remove) in _CONFIGURATION.items():
        if name in properties:
            apply(s3, bucket, properties[name])
        elif name in (old or {}):
            remove(s3, bucket)
    bucket._cfn_properties = dict(properties)


def _acl(s3: Any, bucket: Any, value: str) -> None:
    """A canned ACL: PublicRead -> public-read."""
    acl = re.sub(r"(?<!^)(?=[A-Z])", "-", value).lower()
    s3.put_bucket_acl(Bucket=bucket.name, ACL=acl)


def _encryption(s3: Any, bucket: Any, value: Mapping[str, Any]) -> None:
    rules = [
        {
            "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
            **(
                {"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}
            ),
        }
        for rule in value["ServerSideEncryptionConfiguration"]
    ]
    s3.put_bucket_encryption(Bucket=bucket.name, ServerSideEncryptionConfiguration={"Rules": rules})


def _versioning(status: Callable[[Any], str]) -> Apply:
    def apply(s3: Any, bucket: Any, value: Any) -> None:
        s3.put_bucket_versioning(
            Bucket=bucket.name, VersioningConfiguration={"Status": status(value)}
        )

    return apply


def _lifecycle(s3: Any, bucket: Any, value: Mapping[str, Any]) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket.name,
        LifecycleConfiguration={"Rules": [lifecycle_rule(rule) for rule in value["Rules"]]},
    )


def _notifications(s3: Any, bucket: Any, value: Mapping[str, Any]) -> None:
    s3.put_bucket_notification_configuration(
        Bucket=bucket.name, NotificationConfiguration=notification_configuration(value)
    )


def _set_bucket_logging(bucket: Any, logging_configuration: Mapping[str, Any] | None) -> None:
    """S3 accepts server access logging before the target bucket's policy lets S3 write there
    (the CDK's log bucket policy names the source buckets, so it comes after them); moto refuses
    it, so the configuration is set on moto's bucket here, after the checks S3 does make."""
    if not logging_configuration:
        bucket.logging = {}
        return
    backend = s3_backends[bucket.account_id][get_partition(bucket.region_name)]
    target = logging_configuration.get("DestinationBucketName", bucket.name)
    target_bucket = backend.get_bucket(target)  # NoSuchBucket, as S3 answers
    if target_bucket.region_name != bucket.region_name:
        from moto.s3.exceptions import CrossLocationLoggingProhibited

        raise CrossLocationLoggingProhibited()
    bucket.logging = {
        "TargetBucket": target,
        "TargetPrefix": logging_configuration.get("LogFilePrefix", ""),
    }


def _api(method: str, **fixed: Any) -> Remove:
    """``s3.method(Bucket=name, **fixed)``."""
    return lambda s3, bucket: getattr(s3, method)(Bucket=bucket.name, **fixed)


#: The configuration properties applied here, beyond the name, encryption and tags moto applies,
#: in the order CloudFormation's handler applies them.
_CONFIGURATION: Final[Mapping[str, tuple[Apply, Remove]]] = {
    "AccessControl": (_acl, _api("put_bucket_acl", ACL="private")),
    "BucketEncryption": (_encryption, _api("delete_bucket_encryption")),
    "VersioningConfiguration": (
        _versioning(lambda value: str(value["Status"])),
        # A versioned bucket can only be suspended.
        _api("put_bucket_versioning", VersioningConfiguration={"Status": "Suspended"}),
    ),
    "PublicAccessBlockConfiguration": (
        lambda s3, bucket, value: s3.put_public_access_block(
            Bucket=bucket.name, PublicAccessBlockConfiguration=value
        ),
        _api("delete_public_access_block"),
    ),
    "OwnershipControls": (
        lambda s3, bucket, value: s3.put_bucket_ownership_controls(
            Bucket=bucket.name, OwnershipControls=value
        ),
        _api("delete_bucket_ownership_controls"),
    ),
    "LifecycleConfiguration": (_lifecycle, _api("delete_bucket_lifecycle")),
    "LoggingConfiguration": (
        lambda s3, bucket, value: _set_bucket_logging(bucket, value),
        lambda s3, bucket: _set_bucket_logging(bucket, None),
    ),
    "NotificationConfiguration": (
        _notifications,
        lambda s3, bucket: _notifications(s3, bucket, {}),
    ),
}


# --- CloudFormation's shapes as S3's API takes them ---------------------------------------------


def lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation ``AWS::S3::Bucket`` lifecycle ``Rule`` as S3's API takes it."""
    api: dict[str, Any] = {"Status": rule["Status"]}
    if "Id" in rule:
        api["ID"] = rule["Id"]
    api["Filter"] = _lifecycle_filter(rule)
    parts = {
        "Expiration": _expiration(rule),
        "Transitions": _transitions(rule),
        "NoncurrentVersionTransitions": _noncurrent_transitions(rule),
        "NoncurrentVersionExpiration": _noncurrent_expiration(rule),
    }
    api.update({key: value for key, value in parts.items() if value})
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(
                rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            )
        }
    return api


def _lifecycle_filter(rule: Mapping[str, Any]) -> dict[str, Any]:
    conditions: list[dict[str, Any]] = []
    if "Prefix" in rule:
        conditions.append({"Prefix": rule["Prefix"]})
    conditions += [{"Tag": tag} for tag in rule.get("TagFilters", [])]
    conditions += [
        {key: int(rule[key])}
        for key in ("ObjectSizeGreaterThan", "ObjectSizeLessThan")
        if key in rule
    ]
    if len(conditions) <= 1:
        return conditions[0] if conditions else {"Prefix": ""}
    merged: dict[str, Any] = {"Tags": []}
    for condition in conditions:
        if "Tag" in condition:
            merged["Tags"].append(condition["Tag"])
        else:
            merged.update(condition)
    return {"And": {k: v for k, v in merged.items() if v != []}}


def _expiration(rule: Mapping[str, Any]) -> dict[str, Any]:
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = rule["ExpiredObjectDeleteMarker"]
    return expiration


def _one_and_many(rule: Mapping[str, Any], many: str, one: str) -> list[Mapping[str, Any]]:
    """``rule[many]`` and ``rule[one]``: CloudFormation takes a list and a single item."""
    return list(rule.get(many, [])) + ([rule[one]] if one in rule else [])


def _transitions(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"StorageClass": t["StorageClass"]}
        | ({"Days": int(t["TransitionInDays"])} if "TransitionInDays" in t else {})
        | ({"Date": t["TransitionDate"]} if "TransitionDate" in t else {})
        for t in _one_and_many(rule, "Transitions", "Transition")
    ]


def _noncurrent_transitions(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"StorageClass": t["StorageClass"], "NoncurrentDays": int(t["TransitionInDays"])}
        | (
            {"NewerNoncurrentVersions": int(t["NewerNoncurrentVersions"])}
            if "NewerNoncurrentVersions" in t
            else {}
        )
        for t in _one_and_many(rule, "NoncurrentVersionTransitions", "NoncurrentVersionTransition")
    ]


def _noncurrent_expiration(rule: Mapping[str, Any]) -> dict[str, int]:
    expiration = dict(rule.get("NoncurrentVersionExpiration", {}))
    if "NoncurrentVersionExpirationInDays" in rule:
        expiration["NoncurrentDays"] = rule["NoncurrentVersionExpirationInDays"]
    return {k: int(v) for k, v in expiration.items()}


#: CloudFormation's notification lists: (its key, S3's key, the target's key in each, S3's).
_NOTIFICATION_TARGETS: Final = (
    ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
    ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
    ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
)


def notification_configuration(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation ``NotificationConfiguration`` as S3's PutBucketNotificationConfiguration
    takes it."""
    api: dict[str, Any] = {}
    if configuration.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled", False):
        api["EventBridgeConfiguration"] = {}
    for cfn_key, api_key, target_key, api_target_key in _NOTIFICATION_TARGETS:
        targets = [
            _notification_target(target, target_key, api_target_key)
            for target in configuration.get(cfn_key, [])
        ]
        if targets:
            api[api_key] = targets
    return api


def _notification_target(
    target: Mapping[str, Any], target_key: str, api_target_key: str
) -> dict[str, Any]:
    item: dict[str, Any] = {api_target_key: target[target_key], "Events": [target["Event"]]}
    rules = target.get("Filter", {}).get("S3Key", {}).get("Rules")
    if rules:
        item["Filter"] = {"Key": {"FilterRules": rules}}
    return item
