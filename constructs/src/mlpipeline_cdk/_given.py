"""What the pipeline can see of a resource it was given, without changing it."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3


def sends_events(bucket: s3.IBucket) -> bool:
    """True when ``bucket`` is defined in this app and sends its events to EventBridge: either
    ``s3.Bucket(event_bridge_enabled=True)`` / ``enable_event_bridge_notification()`` (a
    notifications custom resource) or the ``CfnBucket``'s own ``NotificationConfiguration``. An
    imported bucket cannot be seen, so it counts as not sending them.

    The notifications custom resource decides when there is one: for a bucket defined in the
    app it puts its own configuration in place of the bucket's (``Managed``), so EventBridge set
    on the ``CfnBucket`` is switched off unless the resource enables it too (aws-cdk-lib
    packages/@aws-cdk/custom-resource-handlers/lib/aws-s3/notifications-resource-handler)."""
    notifications = bucket.node.try_find_child("Notifications")
    custom = notifications.node.try_find_child("Resource") if notifications else None
    if isinstance(custom, cdk.CfnResource):
        # Read, never written: the properties aws-cdk-lib renders for Custom::S3BucketNotifications.
        rendered = cdk.Stack.of(bucket).resolve(custom._cfn_properties)
        return isinstance(rendered, dict) and _enabled(rendered.get("NotificationConfiguration"))
    resource = bucket.node.default_child
    return isinstance(resource, s3.CfnBucket) and _enabled(
        cdk.Stack.of(bucket).resolve(resource.notification_configuration)
    )


def _enabled(configuration: Any) -> bool:
    if not isinstance(configuration, dict):
        return False
    bridge = configuration.get("eventBridgeConfiguration") or configuration.get(
        "EventBridgeConfiguration"
    )
    return bridge is not None
