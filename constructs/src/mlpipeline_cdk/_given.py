"""What the pipeline can see of a resource it was given, without changing it."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3


def sends_events(bucket: s3.IBucket) -> bool:
    """True when ``bucket`` is defined in this app and sends its events to EventBridge: either
    ``s3.Bucket(event_bridge_enabled=True)`` (a notifications custom resource) or the
    ``CfnBucket``'s own ``NotificationConfiguration``. An imported bucket cannot be seen, so it
    counts as not sending them."""
    resource = bucket.node.default_child
    if isinstance(resource, s3.CfnBucket) and _enabled(
        cdk.Stack.of(bucket).resolve(resource.notification_configuration)
    ):
        return True
    notifications = bucket.node.try_find_child("Notifications")
    custom = notifications.node.try_find_child("Resource") if notifications else None
    if isinstance(custom, cdk.CfnResource):
        # Read, never written: the properties aws-cdk-lib renders for Custom::S3BucketNotifications.
        rendered = cdk.Stack.of(bucket).resolve(custom._cfn_properties)
        return isinstance(rendered, dict) and _enabled(rendered.get("NotificationConfiguration"))
    return False


def _enabled(configuration: Any) -> bool:
    if not isinstance(configuration, dict):
        return False
    bridge = configuration.get("eventBridgeConfiguration") or configuration.get(
        "EventBridgeConfiguration"
    )
    return bridge is not None
