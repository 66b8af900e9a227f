"""What the pipeline was given stays as it was: settings that would change a given resource are
refused with what to do instead; secure defaults switched off leave a warning naming them;
contradictory overrides are reported together with the other prop errors."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Annotations, Match, Template

from mlpipeline_cdk import (
    HookContext,
    Hooks,
    MLPipeline,
    NotificationSettings,
    StorageSettings,
    TrainingSettings,
    TriggerSettings,
)

from conftest import ROOT, new_app

CODE = str(ROOT / "training_code")


def _pipeline(stack: cdk.Stack, **settings: Any) -> MLPipeline:
    return MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py", **settings)


# --- never change what was passed in ----------------------------------------------------------


def test_retraining_on_new_data_refuses_an_imported_bucket_and_says_what_to_do() -> None:
    stack = cdk.Stack(new_app(), "S")
    bucket = s3.Bucket.from_bucket_name(stack, "Theirs", "their-training-data")
    with pytest.raises(ValueError) as error:
        _pipeline(
            stack,
            storage=StorageSettings(data_bucket=bucket),
            triggers=TriggerSettings(retrain_on_new_data=True),
        )
    message = str(error.value)
    assert "triggers.retrain_on_new_data=True: needs storage.data_bucket 'S/Theirs'" in message
    assert "event_bridge_enabled=True" in message
    assert "AssertionError" not in message


def test_retraining_on_new_data_refuses_a_given_bucket_without_eventbridge() -> None:
    stack = cdk.Stack(new_app(), "S")
    bucket = s3.Bucket(stack, "Own")
    with pytest.raises(
        ValueError, match=r"triggers\.retrain_on_new_data=True: .*event_bridge_enabled"
    ):
        _pipeline(
            stack,
            storage=StorageSettings(data_bucket=bucket),
            triggers=TriggerSettings(retrain_on_new_data=True),
        )


def test_retraining_on_new_data_uses_a_given_bucket_that_sends_events_unchanged() -> None:
    stack = cdk.Stack(new_app(), "S")
    bucket = s3.Bucket(stack, "Own", event_bridge_enabled=True)
    _pipeline(
        stack,
        storage=StorageSettings(data_bucket=bucket),
        triggers=TriggerSettings(retrain_on_new_data=True),
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": Match.object_like({"source": ["aws.s3"]})},
    )
    resources = template.to_json()["Resources"]
    own = [r for logical_id, r in resources.items() if logical_id.startswith("Own")]
    assert own[0]["Type"] == "AWS::S3::Bucket"
    # EventBridge stays as the caller set it up: by its notifications resource, not by us.
    assert "NotificationConfiguration" not in own[0].get("Properties", {})


# --- secure defaults --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "overrides", "named"),
    [
        ("storage.data_bucket_props", {"versioned": False}, "versioned=True"),
        ("storage.data_bucket_props", {"block_public_access": None}, "block_public_access="),
        (
            "storage.artifacts_bucket_props",
            {"removal_policy": cdk.RemovalPolicy.DESTROY, "auto_delete_objects": False},
            "removal_policy=",
        ),
        (
            "storage.data_bucket_props",
            {"enforce_ssl": False, "minimum_tls_version": None},
            "enforce_ssl=True",
        ),
        (
            "storage.encryption_key_props",
            {"enable_key_rotation": False},
            "enable_key_rotation=True",
        ),
        ("notifications.failure_topic_props", {"enforce_ssl": False}, "enforce_ssl=True"),
    ],
)
def test_overriding_a_secure_default_leaves_a_warning_naming_it(
    setting: str, overrides: dict[str, Any], named: str
) -> None:
    stack = cdk.Stack(new_app(), "S")
    group, name = setting.split(".")
    kind = StorageSettings if group == "storage" else NotificationSettings
    _pipeline(stack, **{group: kind(**{name: overrides})})
    key = next(iter(overrides))
    Annotations.from_stack(stack).has_warning(
        "/S/P",
        Match.string_like_regexp(
            rf"{re.escape(setting)}\['{key}'\]=.* switches off the secure default {named}.*"
            r"\[ack: mlpipeline:SecureDefaultOverridden\]"
        ),
    )


def test_keeping_the_secure_defaults_leaves_no_warning() -> None:
    stack = cdk.Stack(new_app(), "S")
    _pipeline(stack, storage=StorageSettings(data_bucket_props={"bucket_name": "team-data"}))
    Annotations.from_stack(stack).has_no_warning(
        "*", Match.string_like_regexp(".*secure default.*")
    )


def test_contradictory_overrides_are_reported_with_the_other_errors_in_one_message() -> None:
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(ValueError) as error:
        _pipeline(
            stack,
            training=TrainingSettings(instance_count=0),
            storage=StorageSettings(
                data_bucket_props={"enforce_ssl": False},
                artifacts_bucket_props={"encryption": s3.BucketEncryption.S3_MANAGED},
            ),
        )
    message = str(error.value)
    assert "training.instance_count=0: must be a whole number" in message
    assert (
        "storage.data_bucket_props['enforce_ssl']=False: the default minimum_tls_version=1.2"
        in message
    )
    assert "storage.artifacts_bucket_props['encryption']=" in message
    assert "encryption_key=None" in message
    assert "bucket_key_enabled=False" in message
    assert "enforceSSL" not in message  # not jsii's own first error
    pipeline = stack.node.try_find_child("P")
    assert pipeline is not None
    assert pipeline.node.children == []


# --- hooks ------------------------------------------------------------------------------------


def test_hooks_receive_a_read_only_context_not_the_construct() -> None:
    seen: list[HookContext] = []

    def before_training(context: HookContext) -> Any:
        seen.append(context)
        return sfn.Pass(context.scope, "LookAtContext")

    stack = cdk.Stack(new_app(), "S")
    pipeline = _pipeline(
        stack,
        name_prefix="team",
        storage=StorageSettings(data_prefix="digits/"),
        hooks=Hooks(before_training=before_training),
    )
    (context,) = seen
    assert not isinstance(context, MLPipeline)
    assert context.data_bucket is pipeline.data_bucket
    assert context.artifacts_bucket is pipeline.artifacts_bucket
    assert context.role is pipeline.sagemaker_role
    assert context.encryption_key is pipeline.encryption_key
    assert context.failure is pipeline.failure
    assert (context.name_prefix, context.data_prefix) == ("team", "digits/")
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.data_prefix = "other/"  # type: ignore[misc]
