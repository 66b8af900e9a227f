"""Invalid props are refused when the construct is created, all of them in one message."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, Size

from mlpipeline_cdk import (
    Hooks,
    MLPipeline,
    NetworkSettings,
    NotificationSettings,
    ServingSettings,
    StorageSettings,
    TrainingSettings,
)

from conftest import ROOT, new_app

CODE = str(ROOT / "training_code")


def _create(**overrides: Any) -> MLPipeline:
    stack = cdk.Stack(new_app(), "S")
    props: dict[str, Any] = {"source_dir": CODE, "entry_point": "mnist.py", **overrides}
    return MLPipeline(stack, "P", **props)


T, SV, ST, NT = TrainingSettings, ServingSettings, StorageSettings, NotificationSettings


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"training": T(instance_count=0)}, "training.instance_count=0: must be a whole number"),
        ({"serving": SV(instance_count=-1)}, "serving.instance_count=-1: must be a whole number"),
        (
            {"training": T(instance_type="m5.xlarge")},
            "training.instance_type='m5.xlarge': must be",
        ),
        ({"serving": SV(instance_type="ml.m5")}, "serving.instance_type='ml.m5': must be"),
        ({"name_prefix": "a" * 27}, f"name_prefix='{'a' * 27}': must be 1 to 26 characters"),
        ({"name_prefix": "My_Prefix"}, "name_prefix='My_Prefix': must be 1 to 26 characters"),
        ({"name_prefix": "trailing-"}, "name_prefix='trailing-'"),
        ({"serving": SV(endpoint_name="e" * 64)}, "serving.endpoint_name='eeee"),
        (
            {"serving": SV(endpoint_name="under_score")},
            "serving.endpoint_name='under_score': must be 1 to 63",
        ),
        (
            {"serving": SV(endpoint_name="Mixed-Case")},
            "serving.endpoint_name='Mixed-Case': must be 1 to 63",
        ),
        ({"storage": ST(data_prefix="data/*/")}, "storage.data_prefix='data/*/': must be a key"),
        (
            {"training": T(accuracy_threshold=1.5)},
            "training.accuracy_threshold=1.5: must be a number from 0 to 1",
        ),
        (
            {"training": T(accuracy_threshold=True)},
            "training.accuracy_threshold=True: must be a number from 0 to 1",
        ),
        ({"notifications": NT(emails=["ops"])}, "notifications.emails=['ops']: must be e-mail"),
        (
            {"serving": SV(poll_interval=Duration.hours(2))},
            "serving.poll_interval='7200 s': must be 1 second to 1 hour",
        ),
        (
            {"serving": SV(deploy_timeout=Duration.seconds(10))},
            "serving.deploy_timeout='10 s': must be at least serving.poll_interval",
        ),
        ({"storage": ST(data_prefix="/abs/")}, "storage.data_prefix='/abs/': must be a key prefix"),
        ({"source_dir": "/no/such/dir"}, "source_dir='/no/such/dir': must be an existing"),
        ({"entry_point": "missing.py"}, "entry_point='missing.py': no such file in source_dir"),
        ({"entry_point": "mnist.sh"}, "entry_point='mnist.sh': must be a relative path to a .py"),
        ({"entry_point": "../app.py"}, "entry_point='../app.py': must be a relative path"),
        (
            {"training": T(volume_size=Size.gibibytes(0))},
            "training.volume_size='0 GiB': must be 1 to 16384 GiB",
        ),
        (
            {"training": T(max_runtime=Duration.days(29))},
            "training.max_runtime='2505600 s': must be 1 second",
        ),
        (
            {"training": T(hyperparameters={"sagemaker_program": "x.py"})},
            "training.hyperparameters='sagemaker_program': keys starting with 'sagemaker_' are "
            "reserved",
        ),
        (
            {"training": T(hyperparameters={"epochs": [1, 2]})},
            "training.hyperparameters['epochs']=[1, 2]: must be a str, int, float or bool",
        ),
        (
            {"training": T(hyperparameters={"note": "x" * 2501})},
            "training.hyperparameters['note']=",
        ),
        # Wrong types are named with the group and the setting.
        ({"training": T(instance_count="2")}, "training.instance_count='2': must be a int"),
        (
            {"serving": SV(poll_interval=30)},  # type: ignore[arg-type]
            "serving.poll_interval=30: must be a Duration",
        ),
        (
            {"training": {"instance_count": 2}},
            "training={'instance_count': 2}: must be a TrainingSettings",
        ),
        ({"triggers": T()}, "triggers=TrainingSettings("),
        # Wrong types that used to fail later, inside the library, without naming the setting.
        (
            {"training": T(max_runtime=3600)},  # type: ignore[arg-type]
            "training.max_runtime=3600: must be a Duration",
        ),
        (
            {"storage": ST(data_bucket="name")},  # type: ignore[arg-type]
            "storage.data_bucket='name': must be a IBucket",
        ),
        (
            {"storage": ST(encryption_key="alias/team")},  # type: ignore[arg-type]
            "storage.encryption_key='alias/team': must be a IKey",
        ),
        (
            {"notifications": NT(failure_topic="arn:aws:sns:eu-west-1:123456789012:t")},  # type: ignore[arg-type]
            "notifications.failure_topic='arn:aws:sns:eu-west-1:123456789012:t': must be a ITopic",
        ),
        (
            {"notifications": NT(emails="a@b.com")},
            "notifications.emails='a@b.com': must be a list of e-mail addresses, not one string "
            "(write ['a@b.com'])",
        ),
        (
            {"network": NetworkSettings(security_groups=["sg-0123"])},
            "network.security_groups=['sg-0123']: must be a list of ec2.ISecurityGroup",
        ),
        ({"hooks": Hooks(deployment="deploy")}, "hooks.deployment='deploy': must be a function"),  # type: ignore[arg-type]
        ({"entry_point": 3}, "entry_point=3: must be a str"),
        ({"name_prefix": None}, "name_prefix=None: must be a str"),
        ({"sagemaker_role": "arn:aws:iam::123456789012:role/r"}, "sagemaker_role='arn:aws"),
        ({"state_machine_timeout": 3600}, "state_machine_timeout=3600: must be a Duration"),
    ],
)
def test_invalid_prop_is_named_with_value_and_what_is_allowed(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match="MLPipeline: invalid props") as error:
        _create(**overrides)
    assert message in str(error.value)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ValueError) as error:
        _create(training=T(instance_count=0), name_prefix="BAD", serving=SV(endpoint_name="-x-"))
    lines = [line for line in str(error.value).splitlines() if line.startswith("  - ")]
    assert [line.split("=")[0] for line in lines] == [
        "  - training.instance_count",
        "  - serving.endpoint_name",
        "  - name_prefix",
    ]


def test_nothing_is_created_when_props_are_invalid() -> None:
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(ValueError):
        MLPipeline(
            stack, "P", source_dir=CODE, entry_point="mnist.py", training=T(instance_count=0)
        )
    pipeline = stack.node.try_find_child("P")
    assert pipeline is not None
    assert pipeline.node.children == []


def test_unresolved_tokens_are_not_validated() -> None:
    stack = cdk.Stack(new_app(), "S")
    parameter = cdk.CfnParameter(stack, "Endpoint", type="String")
    count = cdk.CfnParameter(stack, "Count", type="Number")
    pipeline = MLPipeline(
        stack,
        "P",
        source_dir=CODE,
        entry_point="mnist.py",
        serving=SV(endpoint_name=parameter.value_as_string),
        training=T(instance_count=count.value_as_number),
    )
    assert cdk.Token.is_unresolved(pipeline.endpoint_name)


def test_valid_edge_values_are_accepted() -> None:
    pipeline = _create(
        name_prefix="a" * 26,
        serving=SV(endpoint_name="e" * 63),
        training=T(
            volume_size=Size.gibibytes(16384),
            max_runtime=Duration.days(28),
            hyperparameters={"lr": 0.01, "amp": True, "backend": "gloo"},
        ),
    )
    assert pipeline.name_prefix == "a" * 26


def test_one_address_as_a_string_is_one_problem_not_one_per_character() -> None:
    with pytest.raises(ValueError) as error:
        _create(notifications=NT(emails="ops@example.com"))
    (line,) = [line for line in str(error.value).splitlines() if line.startswith("  - ")]
    assert "'@'" not in line and "are not" not in line
