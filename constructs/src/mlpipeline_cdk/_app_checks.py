"""Checks that can only be made once the whole app is built, run when it is synthesized: what
other constructs do to the pipeline's resources after it was created, and what two pipelines in
one app would do to each other."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import aws_cdk as cdk
import jsii
from constructs import IValidation

from ._given import sends_events

if TYPE_CHECKING:
    from .ml_pipeline import MLPipeline


@jsii.implements(IValidation)
class _Validation:
    def __init__(self, check: Callable[[], list[str]]) -> None:
        self._check = check

    def validate(self) -> list[str]:
        return self._check()


def refuse_shared_endpoints(pipeline: MLPipeline) -> None:
    """Refuse at synth a pipeline whose endpoint another pipeline of the app already deploys to
    in the same account and region: each run would replace the other's model, and deleting
    either stack would delete the endpoint of both."""
    pipeline.node.add_validation(_Validation(lambda: _shared_endpoint(pipeline)))


def _shared_endpoint(pipeline: MLPipeline) -> list[str]:
    from .ml_pipeline import MLPipeline

    name = pipeline.endpoint_name
    if name is None or cdk.Token.is_unresolved(name):
        return []
    for other in pipeline.node.root.node.find_all():
        if other is pipeline:
            # Reported once, on the later of the two.
            return []
        if (
            isinstance(other, MLPipeline)
            and other.endpoint_name == name
            and _same_environment(cdk.Stack.of(pipeline), cdk.Stack.of(other))
        ):
            return [
                f"serving.endpoint_name={name!r}: pipeline {other.node.path!r} already deploys "
                f"to this endpoint in the same account and region as {pipeline.node.path!r}; "
                "each run would replace the other's model, and deleting either stack would "
                "delete the endpoint of both. Give each pipeline its own "
                "serving.endpoint_name, or its own name_prefix (the default endpoint name is "
                "'<name_prefix>-endpoint')"
            ]
    return []


def _same_environment(first: cdk.Stack, second: cdk.Stack) -> bool:
    """True when both stacks deploy to one account and region: equal when known, or both
    environment-agnostic (deployed wherever the CLI points, so together). A known environment
    and an agnostic one cannot be compared and are not refused."""
    for mine, theirs in ((first.account, second.account), (first.region, second.region)):
        unknown = cdk.Token.is_unresolved(mine), cdk.Token.is_unresolved(theirs)
        if (unknown == (False, False) and mine != theirs) or unknown in (
            (True, False),
            (False, True),
        ):
            return False
    return True


def refuse_silenced_new_data(pipeline: MLPipeline) -> None:
    """Refuse at synth ``retrain_on_new_data`` when the data bucket does not send its events to
    EventBridge by then, e.g. because CDK-managed notifications were added to it after the
    pipeline was created (their custom resource replaces the bucket's notification
    configuration, EventBridge included)."""
    pipeline.node.add_validation(_Validation(lambda: _silenced_new_data(pipeline)))


def _silenced_new_data(pipeline: MLPipeline) -> list[str]:
    bucket = pipeline.data_bucket
    if sends_events(bucket):
        return []
    return [
        f"triggers.retrain_on_new_data=True: the data bucket {bucket.node.path!r} has event "
        "notifications managed by CDK (add_event_notification) that do not include "
        "EventBridge; their custom resource replaces the bucket's notification configuration "
        "(aws-cdk-lib's notifications-resource-handler), so new training data would never "
        "start a run. Also call enable_event_bridge_notification() on the bucket, or leave "
        "retrain_on_new_data off and start runs from your own rule"
    ]
