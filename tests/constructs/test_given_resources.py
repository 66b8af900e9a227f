"""What the pipeline was given stays as it was: settings that would change a given resource are
refused with what to do instead; secure defaults switched off leave a warning naming them;
contradictory overrides are reported together with the other prop errors."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Annotations, Match, Template

from mlpipeline_cdk import (
    HookContext,
    Hooks,
    MLPipeline,
    NetworkSettings,
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


def test_a_state_instead_of_a_hook_is_refused_naming_the_hook() -> None:
    stack = cdk.Stack(new_app(), "S")
    state = sfn.Pass(stack, "NotAHook")
    with pytest.raises(ValueError) as error:
        _pipeline(stack, hooks=Hooks(before_training=state))  # type: ignore[arg-type]
    assert "hooks.before_training=<aws_cdk.aws_stepfunctions.Pass" in str(error.value)
    assert "must be a function that takes the HookContext" in str(error.value)


def test_a_hook_returning_none_is_refused_naming_the_hook() -> None:
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(ValueError) as error:
        _pipeline(stack, hooks=Hooks(after_evaluation=lambda context: None))  # type: ignore[arg-type,return-value]
    message = str(error.value)
    assert "MLPipeline: invalid props:\n  - hooks.after_evaluation=<function" in message
    assert "returned None: a hook must return its states, an sfn.IChainable" in message
    assert "SerializationError" not in message


def _choice(context: HookContext) -> sfn.Choice:
    choice = sfn.Choice(context.scope, "Review")
    choice.when(sfn.Condition.is_present("$.approved"), sfn.Pass(context.scope, "Approved"))
    return choice.otherwise(sfn.Pass(context.scope, "NotApproved"))


def test_a_hook_whose_states_end_in_a_choice_is_refused_naming_the_hook() -> None:
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(ValueError) as error:
        _pipeline(stack, hooks=Hooks(after_evaluation=_choice))
    message = str(error.value)
    assert "hooks.after_evaluation=<function _choice" in message
    assert "its states end in 'Review' (a Choice, Fail or Succeed state)" in message
    assert "choice.afterwards()" in message
    assert "CannotChainToLastState" not in message


def test_a_hook_whose_choice_continues_afterwards_is_chained_in() -> None:
    stack = cdk.Stack(new_app(), "S")
    _pipeline(stack, hooks=Hooks(after_evaluation=lambda context: _choice(context).afterwards()))
    states = Template.from_stack(stack).to_json()["Resources"]
    definition = json.dumps(
        next(r for r in states.values() if r["Type"] == "AWS::StepFunctions::StateMachine")
    )
    assert '\\"Approved\\":{\\"Type\\":\\"Pass\\",\\"Next\\":\\"' in definition


def test_an_error_raised_inside_a_hook_names_the_hook() -> None:
    def broken(context: HookContext) -> sfn.Pass:
        raise KeyError("model-registry")

    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(KeyError) as error:
        _pipeline(stack, hooks=Hooks(before_training=broken))
    assert any("hooks.before_training" in note for note in error.value.__notes__)


# --- resources of the right kind -------------------------------------------------------------


def test_imported_resources_pass_the_type_checks() -> None:
    stack = cdk.Stack(
        new_app(), "S", env=cdk.Environment(account="123456789012", region="eu-west-1")
    )
    arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-1", availability_zones=["eu-west-1a"], private_subnet_ids=["s-1"]
    )
    pipeline = _pipeline(
        stack,
        sagemaker_role=iam.Role.from_role_arn(stack, "Role", "arn:aws:iam::123456789012:role/r"),
        storage=StorageSettings(
            data_bucket=s3.Bucket.from_bucket_name(stack, "Data", "their-data"),
            artifacts_bucket=s3.Bucket.from_bucket_name(stack, "Artifacts", "their-models"),
            encryption_key=kms.Key.from_key_arn(stack, "Key", arn),
        ),
        network=NetworkSettings(
            vpc=vpc,
            security_groups=[ec2.SecurityGroup.from_security_group_id(stack, "Group", "sg-1")],
        ),
        notifications=NotificationSettings(
            failure_topic=sns.Topic.from_topic_arn(
                stack, "Topic", "arn:aws:sns:eu-west-1:123456789012:failures"
            )
        ),
    )
    assert pipeline.encryption_key.key_arn == arn


# --- retraining on new data -------------------------------------------------------------------


def test_notifications_added_to_the_created_data_bucket_later_are_refused_at_synth() -> None:
    app = new_app()
    stack = cdk.Stack(app, "S")
    pipeline = _pipeline(stack, triggers=TriggerSettings(retrain_on_new_data=True))
    # CDK's notifications resource puts its own configuration in place of the bucket's, so the
    # EventBridge setting the pipeline made would be switched off at deploy.
    pipeline.data_bucket.add_event_notification(
        s3.EventType.OBJECT_REMOVED, s3n.SnsDestination(sns.Topic(stack, "Removed"))
    )
    with pytest.raises(RuntimeError) as error:
        app.synth()
    message = str(error.value)
    assert "[S/P] triggers.retrain_on_new_data=True: the data bucket 'S/P/DataBucket'" in message
    assert "enable_event_bridge_notification()" in message


def test_notifications_that_keep_eventbridge_on_are_accepted() -> None:
    app = new_app()
    stack = cdk.Stack(app, "S")
    pipeline = _pipeline(stack, triggers=TriggerSettings(retrain_on_new_data=True))
    pipeline.data_bucket.add_event_notification(
        s3.EventType.OBJECT_REMOVED, s3n.SnsDestination(sns.Topic(stack, "Removed"))
    )
    pipeline.data_bucket.enable_event_bridge_notification()
    template = app.synth().get_stack_by_name("S").template
    (notifications,) = [
        r for r in template["Resources"].values() if r["Type"] == "Custom::S3BucketNotifications"
    ]
    assert "EventBridgeConfiguration" in notifications["Properties"]["NotificationConfiguration"]


def test_given_bucket_with_native_eventbridge_and_cdk_notifications_is_refused() -> None:
    stack = cdk.Stack(new_app(), "S")
    bucket = s3.Bucket(stack, "Own")
    resource = bucket.node.default_child
    assert isinstance(resource, s3.CfnBucket)
    resource.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
            event_bridge_enabled=True
        )
    )
    bucket.add_event_notification(
        s3.EventType.OBJECT_REMOVED, s3n.SnsDestination(sns.Topic(stack, "Removed"))
    )
    with pytest.raises(ValueError, match=r"triggers\.retrain_on_new_data=True: needs"):
        _pipeline(
            stack,
            storage=StorageSettings(data_bucket=bucket),
            triggers=TriggerSettings(retrain_on_new_data=True),
        )


# --- a key defined elsewhere -------------------------------------------------------------------


def _key_policy_warnings(env: cdk.Environment | None) -> list[str]:
    stack = cdk.Stack(new_app(), "S", env=env)
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    _pipeline(stack, storage=StorageSettings(encryption_key=key))
    found = Annotations.from_stack(stack).find_warning(
        "/S/P", Match.string_like_regexp(".*mlpipeline:KeyPolicy.*")
    )
    return [str(w.entry.data) for w in found]


def _statement(warning: str) -> dict[str, Any]:
    start = warning.index(": {") + 2
    return dict(json.loads(warning[start : warning.rindex(" [ack:")]))


def test_imported_key_warning_gives_statements_to_paste_with_the_stack_environment() -> None:
    warnings = _key_policy_warnings(cdk.Environment(account="123456789012", region="eu-west-1"))
    assert len(warnings) == 2
    for warning in warnings:
        assert "Token[" not in warning and "<AWS::" not in warning
    logs, events = (_statement(w) for w in warnings)
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:eu-west-1:123456789012:log-group:*"
    }
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_imported_key_warning_names_placeholders_when_the_environment_is_unknown() -> None:
    warnings = _key_policy_warnings(None)
    logs = next(w for w in warnings if "AllowCloudWatchLogsOfThisAccount" in w)
    assert "Token[" not in logs
    assert "replace the placeholders <AWS::AccountId>, <AWS::Partition>, <AWS::Region>" in logs
    assert _statement(logs)["Principal"] == {"Service": "logs.<AWS::Region>.<AWS::URLSuffix>"}
