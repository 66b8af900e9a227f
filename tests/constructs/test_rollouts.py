"""Guarded rollouts: the settings' checks, the UpdateEndpoint request against botocore's SageMaker
model, the alarms, the IAM of the rollback explanation, the run input, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import AwsSolutionsChecks

from mlpipeline_cdk import MLPipeline, RolloutSettings, ServingSettings
from mlpipeline_cdk.contract import run_input as contract
from mlpipeline_cli.asl import render_definition
from mlpipeline_emulator import _request_rules

from conftest import ROOT, new_app

CODE = str(ROOT / "training_code")


def _create(**props: Any) -> MLPipeline:
    stack = cdk.Stack(new_app(), "S")
    return MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py", **props)


@pytest.fixture(scope="module")
def assembly() -> cdk.cx_api.CloudAssembly:
    app = new_app()
    stack = cdk.Stack(app, "Guarded")
    extra = cloudwatch.Alarm(
        stack,
        "Extra",
        alarm_name="extra-alarm",
        metric=cloudwatch.Metric(namespace="Custom", metric_name="Bad"),
        threshold=1,
        evaluation_periods=1,
    )
    MLPipeline(
        stack,
        "P",
        source_dir=CODE,
        entry_point="mnist.py",
        rollout=RolloutSettings(alarms=[extra], maximum_execution_timeout=Duration.hours(1)),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app.synth()


@pytest.fixture(scope="module")
def template(assembly: cdk.cx_api.CloudAssembly) -> dict[str, Any]:
    return dict(assembly.get_stack_by_name("Guarded").template)


@pytest.fixture(scope="module")
def asl(template: dict[str, Any]) -> dict[str, Any]:
    return render_definition(template)


@pytest.mark.parametrize(
    ("rollout", "message"),
    [
        (RolloutSettings(strategy="rolling"), "rollout.strategy='rolling': must be one of"),
        (RolloutSettings(canary_size_percent=51), "rollout.canary_size_percent=51: must be"),
        (RolloutSettings(canary_size_percent=0), "rollout.canary_size_percent=0: must be"),
        (RolloutSettings(linear_step_percent=5), "rollout.linear_step_percent=5: must be"),
        (RolloutSettings(linear_step_percent=60), "rollout.linear_step_percent=60: must be"),
        (
            RolloutSettings(wait_interval=Duration.hours(2)),
            "rollout.wait_interval='7200 s': must be from 0 to 3600 seconds",
        ),
        (
            RolloutSettings(termination_wait=Duration.hours(2)),
            "rollout.termination_wait='7200 s': must be from 0 to 3600 seconds",
        ),
        (
            RolloutSettings(maximum_execution_timeout=Duration.minutes(5)),
            "rollout.maximum_execution_timeout='300 s': must be from 600 to 28800 seconds",
        ),
        (
            RolloutSettings(latency_threshold=Duration.seconds(0)),
            "rollout.latency_threshold='0 s': must be more than 0 milliseconds",
        ),
        (RolloutSettings(evaluation_periods=0), "rollout.evaluation_periods=0: must be"),
        (RolloutSettings(alarms="alarm"), "rollout.alarms='alarm': must be a list"),  # type: ignore[arg-type]
    ],
)
def test_bad_rollout_settings_are_refused_naming_the_setting(
    rollout: RolloutSettings, message: str
) -> None:
    with pytest.raises(ValueError, match="invalid props") as raised:
        _create(rollout=rollout)
    assert message in str(raised.value)


def test_more_alarms_than_sagemaker_watches_are_refused() -> None:
    stack = cdk.Stack(new_app(), "S")
    alarms = [
        cloudwatch.Alarm.from_alarm_arn(
            stack, f"A{n}", f"arn:aws:cloudwatch:us-east-1:111111111111:alarm:a{n}"
        )
        for n in range(9)
    ]
    with pytest.raises(ValueError, match=r"rollout.alarms=.*may hold at most 8 alarms"):
        MLPipeline(
            stack,
            "P",
            source_dir=CODE,
            entry_point="mnist.py",
            rollout=RolloutSettings(alarms=alarms),
        )


def test_canary_on_inf1_is_refused_as_sagemaker_falls_back_to_all_at_once() -> None:
    with pytest.raises(ValueError, match=r"rollout.strategy='canary': must be 'all_at_once'"):
        _create(serving=ServingSettings(instance_type="ml.inf1.xlarge"))
    _create(
        serving=ServingSettings(instance_type="ml.inf1.xlarge"),
        rollout=RolloutSettings(strategy="all_at_once"),
    )


def _plans(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    defaults = RolloutSettings(maximum_execution_timeout=Duration.hours(1)).as_input()
    plans = {}
    for state_id in ("PlanCanaryRollout", "PlanLinearRollout", "PlanAllAtOnceRollout"):
        parameters = asl["States"][state_id]["Parameters"]
        routing = json.loads(json.dumps(parameters["routing"]).replace("$.config.rollout.", ""))
        resolved = {
            k.removesuffix(".$"): defaults[v] if k.endswith(".$") else v
            for k, v in routing.items()
            if not isinstance(v, dict)
        }
        for k, v in routing.items():
            if isinstance(v, dict):
                resolved[k] = {
                    kk.removesuffix(".$"): defaults[vv] if kk.endswith(".$") else vv
                    for kk, vv in v.items()
                }
        plans[parameters["strategy"]] = resolved
    return plans


def test_each_strategys_update_request_satisfies_botocores_sagemaker_model(
    asl: dict[str, Any],
) -> None:
    update = asl["States"]["UpdateEndpoint"]
    assert update["Resource"].endswith(":states:::sagemaker:updateEndpoint")
    parameters = update["Parameters"]
    policy = parameters["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration.$"] == "$.rolloutPlan.routing"
    alarms = parameters["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]
    assert len(alarms) == 3
    plans = _plans(asl)
    assert set(plans) == {"canary", "linear", "all_at_once"}
    for routing in plans.values():
        request = {
            "EndpointName": parameters["EndpointName"],
            "EndpointConfigName": "mlpipeline-0123",
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": routing,
                    "TerminationWaitInSeconds": 300,
                    "MaximumExecutionTimeoutInSeconds": policy["MaximumExecutionTimeoutInSeconds"],
                },
                "AutoRollbackConfiguration": {
                    "Alarms": [{"AlarmName": f"alarm-{n}"} for n in range(len(alarms))]
                },
            },
        }
        assert _request_rules.problems("UpdateEndpoint", request) == []
    assert plans["canary"]["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}
    assert plans["linear"]["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 20}
    assert plans["all_at_once"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}


def test_the_alarms_watch_the_endpoints_variant_latency_and_server_errors(
    template: dict[str, Any],
) -> None:
    t = Template.from_json(template)
    dimensions = [
        {"Name": "EndpointName", "Value": "mlpipeline-endpoint"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    t.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "mlpipeline-endpoint-rollout-model-latency",
            "Namespace": "AWS/SageMaker",
            "MetricName": "ModelLatency",
            "Dimensions": dimensions,
            "Threshold": 1_000_000,  # microseconds
            "TreatMissingData": "notBreaching",
        },
    )
    t.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "mlpipeline-endpoint-rollout-server-errors",
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Sum",
            "Dimensions": dimensions,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


def test_rollout_alarms_lists_the_created_and_the_given_alarms() -> None:
    stack = cdk.Stack(new_app(), "S")
    given = cloudwatch.Alarm.from_alarm_arn(
        stack, "Given", "arn:aws:cloudwatch:us-east-1:111111111111:alarm:given"
    )
    pipeline = MLPipeline(
        stack, "P", source_dir=CODE, entry_point="mnist.py", rollout=RolloutSettings(alarms=[given])
    )
    assert pipeline.deployment is not None
    alarms = pipeline.deployment.rollout_alarms
    assert len(alarms) == 3 and alarms[2] is given


def test_describe_alarms_is_allowed_on_the_rollout_alarms_only(template: dict[str, Any]) -> None:
    statements = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "cloudwatch:DescribeAlarms" in json.dumps(s["Action"])
    ]
    (statement,) = statements
    resources = statement["Resource"]
    assert isinstance(resources, list) and len(resources) == 3
    assert "*" not in json.dumps(resources).replace("Fn::", "")
    Template.from_json(template).has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "sagemaker:UpdateEndpoint"})]
                )
            }
        },
    )


def test_a_rollback_an_alarm_explains_fails_the_run_naming_the_alarms(asl: dict[str, Any]) -> None:
    find = asl["States"]["FindFiredRolloutAlarms"]
    assert find["Resource"].endswith(":states:::aws-sdk:cloudwatch:describeAlarms")
    assert find["Parameters"]["StateValue"] == "ALARM"
    assert len(find["Parameters"]["AlarmNames"]) == 3
    assert asl["States"]["RolloutAlarmFired"]["Default"] == "EndpointUpdateRolledBack"


def test_contract_check_refuses_bad_rollout_input() -> None:
    assert contract.check({"rollout": {"strategy": "linear", "linearStepPercent": 25}}) == []
    assert contract.check({"rollout": {"strategy": "x", "waitIntervalSeconds": 3601}}) == [
        contract.ROLLOUT_STRATEGY_MESSAGE,
        contract.rollout_number_message("waitIntervalSeconds"),
    ]
    assert contract.check({"rollout": []}) == [contract.BY_NAME["rollout"].message]


def test_a_guarded_pipeline_passes_cdk_nag(assembly: cdk.cx_api.CloudAssembly) -> None:
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    assert nag["conclusion"] == "success" and nag["violations"] == []


def test_cfn_lint_finds_nothing_in_a_guarded_pipeline(template: dict[str, Any]) -> None:
    matches = cfnlint.api.lint(json.dumps(template), regions=["us-east-1", "eu-west-1"])
    assert [str(m) for m in matches] == []


def test_a_maximum_execution_timeout_below_the_waits_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"rollout.maximum_execution_timeout='600 s': must be more than"
    ):
        _create(
            rollout=RolloutSettings(
                wait_interval=Duration.minutes(10),
                termination_wait=Duration.minutes(5),
                maximum_execution_timeout=Duration.minutes(10),
            )
        )


def test_a_deploy_timeout_shorter_than_the_rollout_leaves_a_warning() -> None:
    # Linear 10% steps bake nine times: 9 x 10 minutes, then 5 minutes of termination wait.
    rollout = RolloutSettings(
        strategy="linear", linear_step_percent=10, wait_interval=Duration.minutes(10)
    )
    short = _create(rollout=rollout)
    warnings = Annotations.from_stack(cdk.Stack.of(short)).find_warning(
        "*", Match.string_like_regexp("mlpipeline:RolloutOutlastsDeployTimeout")
    )
    (warning,) = warnings
    assert "serving.deploy_timeout (3600 s) is not more than" in json.dumps(warning.entry.data)
    assert "(5700 s)" in json.dumps(warning.entry.data)
    long = _create(serving=ServingSettings(deploy_timeout=Duration.hours(2)), rollout=rollout)
    assert (
        Annotations.from_stack(cdk.Stack.of(long)).find_warning(
            "*", Match.string_like_regexp("RolloutOutlastsDeployTimeout")
        )
        == []
    )
