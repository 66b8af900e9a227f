"""Autoscaling of the endpoint's variant: the settings' checks, the run's Application Auto Scaling
requests against botocore's model, where they sit in the deployment, IAM and cdk-nag."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore.session
import cfnlint.api
import pytest
from aws_cdk import Duration
from botocore.validate import ParamValidator
from cdk_nag import AwsSolutionsChecks

from mlpipeline_cdk import MLPipeline, ServingSettings
from mlpipeline_cdk.autoscaling import AutoscalingSettings

from conftest import ROOT, new_app

CODE = str(ROOT / "training_code")
SCALING = AutoscalingSettings(
    min_capacity=1,
    max_capacity=4,
    target_invocations_per_instance=100,
    scale_in_cooldown=Duration.minutes(10),
    scale_out_cooldown=Duration.seconds(60),
)


def _create(autoscaling: Any, serving: ServingSettings | None = None) -> MLPipeline:
    return MLPipeline(
        cdk.Stack(new_app(), "S"),
        "P",
        source_dir=CODE,
        entry_point="mnist.py",
        name_prefix="mnist",
        serving=serving or ServingSettings(),
        autoscaling=autoscaling,
    )


@pytest.fixture(scope="module")
def assembly() -> cdk.cx_api.CloudAssembly:
    app = new_app()
    stack = cdk.Stack(
        app, "Scaled", env=cdk.Environment(account="123456789012", region="us-east-1")
    )
    MLPipeline(
        stack,
        "P",
        source_dir=CODE,
        entry_point="mnist.py",
        name_prefix="mnist",
        serving=ServingSettings(instance_count=2),
        autoscaling=SCALING,
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app.synth()


@pytest.fixture(scope="module")
def template(assembly: cdk.cx_api.CloudAssembly) -> dict[str, Any]:
    return dict(assembly.get_stack_by_name("Scaled").template)


@pytest.fixture(scope="module")
def states(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "0" for p in parts)
    return dict(json.loads(text)["States"])


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("autoscaling", "serving", "message"),
    [
        (AutoscalingSettings(min_capacity=0), None, "autoscaling.min_capacity"),
        (AutoscalingSettings(min_capacity=3, max_capacity=2), None, "autoscaling.max_capacity"),
        (
            AutoscalingSettings(max_capacity=2),
            ServingSettings(instance_count=3),
            "serving.instance_count",
        ),
        (AutoscalingSettings(min_capacity=2, max_capacity=3), None, "serving.instance_count"),
        (
            AutoscalingSettings(target_invocations_per_instance=0),
            None,
            "target_invocations_per_instance",
        ),
        (AutoscalingSettings(scale_in_cooldown=Duration.millis(1500)), None, "scale_in_cooldown"),
        (AutoscalingSettings(max_capacity="4"), None, "autoscaling.max_capacity"),  # type: ignore[arg-type]
        ("on", None, "autoscaling"),
    ],
)
def test_bad_autoscaling_settings_are_refused_naming_the_setting(
    autoscaling: Any, serving: ServingSettings | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        _create(autoscaling, serving)


def test_min_above_max_says_what_is_allowed() -> None:
    with pytest.raises(ValueError, match=r"must be at least autoscaling\.min_capacity \(3\)"):
        _create(AutoscalingSettings(min_capacity=3, max_capacity=2))


def test_a_pipeline_without_autoscaling_makes_no_scaling_calls() -> None:
    pipeline = _create(None)
    assert pipeline.deployment is not None and pipeline.deployment.scaling is None
    template = json.dumps(cdk.assertions.Template.from_stack(cdk.Stack.of(pipeline)).to_json())
    assert "applicationautoscaling" not in template and "application-autoscaling" not in template


# --- the requests and where they sit -------------------------------------------------------------

_MODEL = botocore.session.get_session().get_service_model("application-autoscaling")


@pytest.mark.parametrize(
    ("state", "operation"),
    [
        ("ApplyRegisterScalableTarget", "RegisterScalableTarget"),
        ("ApplyPutScalingPolicy", "PutScalingPolicy"),
        ("RestoreRegisterScalableTarget", "RegisterScalableTarget"),
        ("RestorePutScalingPolicy", "PutScalingPolicy"),
        ("DeregisterBeforeUpdate", "DeregisterScalableTarget"),
    ],
)
def test_each_request_satisfies_botocores_application_autoscaling_model(
    states: dict[str, Any], state: str, operation: str
) -> None:
    task = states[state]
    action = operation[0].lower() + operation[1:]
    assert task["Resource"].endswith(f":states:::aws-sdk:applicationautoscaling:{action}")
    shape = _MODEL.operation_model(operation).input_shape
    report = ParamValidator().validate(task["Parameters"], shape)
    assert not report.has_errors(), report.generate_report()
    assert task["Parameters"]["ResourceId"] == "endpoint/mnist-endpoint/variant/AllTraffic"
    assert task["Parameters"]["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"


def test_the_policy_tracks_invocations_per_instance_with_the_settings(
    states: dict[str, Any],
) -> None:
    assert states["ApplyRegisterScalableTarget"]["Parameters"]["MinCapacity"] == 1
    assert states["ApplyRegisterScalableTarget"]["Parameters"]["MaxCapacity"] == 4
    policy = states["ApplyPutScalingPolicy"]["Parameters"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert policy["TargetTrackingScalingPolicyConfiguration"] == {
        "TargetValue": 100.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
        "ScaleInCooldown": 600,
        "ScaleOutCooldown": 60,
    }


def test_scaling_follows_the_deployment_and_guards_updates_and_rollbacks(
    states: dict[str, Any],
) -> None:
    assert states["EndpointInService"]["Next"] == "ApplyRegisterScalableTarget"
    assert states["ApplyRegisterScalableTarget"]["Next"] == "ApplyPutScalingPolicy"
    assert states["DeployedRunIsNewer"]["Default"] == "ReadServedInstanceType"
    changes = states["InstanceTypeChanges"]
    # Both ways reach the rollout choice, whose every plan ends in the one UpdateEndpoint.
    assert changes["Choices"][0]["Next"] == "ChooseRolloutStrategy"
    assert changes["Default"] == "DeregisterBeforeUpdate"
    assert states["DeregisterBeforeUpdate"]["Next"] == "ChooseRolloutStrategy"
    strategy = states["ChooseRolloutStrategy"]
    plans = [choice["Next"] for choice in strategy["Choices"]] + [strategy["Default"]]
    assert sorted(plans) == ["PlanAllAtOnceRollout", "PlanCanaryRollout", "PlanLinearRollout"]
    assert {states[plan]["Next"] for plan in plans} == {"UpdateEndpoint"}
    rolled_back = states["RolledBackOrFailed"]["Choices"][0]["Next"]
    assert rolled_back == "RestoreRegisterScalableTarget"
    # Restored or not, the run goes on to say which rollout alarms fired.
    assert states["RestorePutScalingPolicy"]["Next"] == "FindFiredRolloutAlarms"
    for state in ("RestoreRegisterScalableTarget", "RestorePutScalingPolicy"):
        assert states[state]["Catch"][0]["Next"] == "FindFiredRolloutAlarms"


# --- IAM and cdk-nag ---------------------------------------------------------------------------


def _statements(template: dict[str, Any], role_part: str) -> list[dict[str, Any]]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        and role_part in json.dumps(resource["Properties"])
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_the_run_may_scale_its_variant_and_create_only_the_sagemaker_service_linked_role(
    template: dict[str, Any],
) -> None:
    statements = _statements(template, "StateMachineRole")
    scaling = [
        s for s in statements if any(a.startswith("application-autoscaling:") for a in _actions(s))
    ]
    assert {a for s in scaling for a in _actions(s)} == {
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
        "application-autoscaling:DeregisterScalableTarget",
    }
    for statement in scaling:
        assert json.dumps(statement["Resource"]).endswith(
            ':application-autoscaling:us-east-1:123456789012:scalable-target/*"'
        )
    (linked,) = [s for s in statements if "iam:CreateServiceLinkedRole" in _actions(s)]
    assert linked["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}
    }
    assert json.dumps(linked["Resource"]).endswith(
        ":iam::123456789012:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
        'AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"'
    )


def test_the_endpoint_teardown_may_deregister_the_variant(template: dict[str, Any]) -> None:
    statements = _statements(template, "EndpointTeardown")
    actions = {a for s in statements for a in _actions(s)}
    assert {
        "sagemaker:DeleteEndpoint",
        "application-autoscaling:DeregisterScalableTarget",
    } <= actions


def test_a_scaled_pipeline_passes_cdk_nag_with_narrow_acknowledgements(
    assembly: cdk.cx_api.CloudAssembly,
) -> None:
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert nag["conclusion"] == "success" and nag["violations"] == []
    suppressed = [v for v in nag["suppressedViolations"] if "scalable-target/*" in v["ruleName"]]
    assert suppressed


def test_cfn_lint_finds_nothing_in_a_scaled_pipeline(template: dict[str, Any]) -> None:
    matches = cfnlint.api.lint(json.dumps(template), regions=["us-east-1", "eu-west-1"])
    assert [str(m) for m in matches] == []
