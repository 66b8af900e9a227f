"""Serverless endpoints and request capture in the template: the CreateEndpointConfig request
(checked against botocore's SageMaker model), the capture grants, and the settings refused at
synth with messages naming the settings."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from botocore.validate import ParamValidator

from mlpipeline_cdk import (
    AutoscalingSettings,
    CaptureSettings,
    Hooks,
    MLPipeline,
    NetworkSettings,
    RolloutSettings,
    ServerlessSettings,
    ServingSettings,
)
from mlpipeline_cdk.settings import readme_table
from mlpipeline_cli.asl import render_definition

from conftest import ROOT, new_app

CODE = str(ROOT / "training_code")
ENV = cdk.Environment(account="123456789012", region="us-east-1")


def _template(**props: Any) -> dict[str, Any]:
    stack = cdk.Stack(new_app(), "S", env=ENV)
    MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py", **props)
    return Template.from_stack(stack).to_json()


def _refusal(**props: Any) -> str:
    stack = cdk.Stack(new_app(), "S", env=ENV)
    with pytest.raises(ValueError) as raised:
        MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py", **props)
    return str(raised.value)


def _endpoint_config_request(template: dict[str, Any]) -> dict[str, Any]:
    state = render_definition(template)["States"]["CreateEndpointConfig"]
    assert state["Resource"].endswith(":states:::sagemaker:createEndpointConfig")
    params: dict[str, Any] = state["Parameters"]
    # botocore's SageMaker model accepts the request, with placeholders for JSONPath values.
    request = {k.removesuffix(".$"): v for k, v in params.items()}
    request["EndpointConfigName"] = "mlpipeline-x"
    request["Tags"] = [{"Key": "k", "Value": "v"}]
    request["ProductionVariants"] = [
        {k.removesuffix(".$"): ("m" if k.endswith(".$") else v) for k, v in variant.items()}
        for variant in params["ProductionVariants"]
    ]
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateEndpointConfig").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    return params


def test_a_serverless_variant_has_a_serverless_config_instead_of_instances() -> None:
    serverless = ServerlessSettings(
        memory_size_mb=3072, max_concurrency=10, provisioned_concurrency=2
    )
    params = _endpoint_config_request(_template(serving=ServingSettings(serverless=serverless)))
    (variant,) = params["ProductionVariants"]
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": 3072,
        "MaxConcurrency": 10,
        "ProvisionedConcurrency": 2,
    }
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    assert variant["VariantName"] == "AllTraffic"
    assert "DataCaptureConfig" not in params


def test_the_default_variant_stays_on_instances_without_capture() -> None:
    params = _endpoint_config_request(_template())
    (variant,) = params["ProductionVariants"]
    assert variant["InstanceType"] == "ml.m5.large" and variant["InitialInstanceCount"] == 1
    assert "ServerlessConfig" not in variant and "DataCaptureConfig" not in params


def test_capture_writes_to_the_artifacts_bucket_encrypted_with_the_pipeline_key() -> None:
    template = _template(capture=CaptureSettings(sampling_percentage=50, capture_responses=False))
    capture = _endpoint_config_request(template)["DataCaptureConfig"]
    assert capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == 50
    assert capture["CaptureOptions"] == [{"CaptureMode": "Input"}]
    assert capture["CaptureContentTypeHeader"] == {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json"],
    }
    text = json.dumps(template)
    assert capture["DestinationS3Uri"].startswith("s3://") and capture["DestinationS3Uri"].endswith(
        "/capture"
    )
    assert capture["KmsKeyId"]
    # The SageMaker execution role (the model's, which writes capture files) may put objects
    # under the capture prefix only.
    role_puts = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "s3:PutObject" in json.dumps(s["Action"]) and "/capture/*" in json.dumps(s["Resource"])
    ]
    assert role_puts, text[:200]


@pytest.mark.parametrize(
    ("props", "named", "allowed"),
    [
        (
            {"serving": ServingSettings(serverless=ServerlessSettings(memory_size_mb=1500))},
            "serving.serverless.memory_size_mb=1500",
            "1024, 2048, 3072, 4096, 5120, 6144",
        ),
        (
            {"serving": ServingSettings(serverless=ServerlessSettings(max_concurrency=201))},
            "serving.serverless.max_concurrency=201",
            "from 1 to 200",
        ),
        (
            {
                "serving": ServingSettings(
                    serverless=ServerlessSettings(max_concurrency=4, provisioned_concurrency=5)
                )
            },
            "serving.serverless.provisioned_concurrency=5",
            "at most serving.serverless.max_concurrency (4)",
        ),
        (
            {"serving": ServingSettings(instance_count=2, serverless=ServerlessSettings())},
            "serving.instance_count=2",
            "serving.serverless",
        ),
        (
            {
                "serving": ServingSettings(
                    instance_type="ml.g5.xlarge", serverless=ServerlessSettings()
                )
            },
            "serving.instance_type='ml.g5.xlarge'",
            "has no instances",
        ),
        (
            {
                "serving": ServingSettings(serverless=ServerlessSettings()),
                "network": NetworkSettings(enable_network_isolation=True),
            },
            "network.enable_network_isolation=True",
            "do not support network isolation",
        ),
        (
            {
                "serving": ServingSettings(serverless=ServerlessSettings()),
                "capture": CaptureSettings(),
            },
            "capture=CaptureSettings(",
            "do not support data capture",
        ),
        (
            {"capture": CaptureSettings(capture_requests=False, capture_responses=False)},
            "capture.capture_requests=False",
            "capture at least one",
        ),
        (
            {
                "hooks": Hooks(deployment=lambda context: sfn.Pass(context.scope, "OwnDeploy")),
                "capture": CaptureSettings(),
            },
            "capture=CaptureSettings(",
            "hooks.deployment replaces the deployment that applies capture",
        ),
        (
            {
                "hooks": Hooks(deployment=lambda context: sfn.Pass(context.scope, "OwnDeploy")),
                "serving": ServingSettings(serverless=ServerlessSettings()),
            },
            "serving.serverless=ServerlessSettings(",
            "set serving.serverless to None, or leave hooks.deployment unset",
        ),
        (
            {"capture": CaptureSettings(sampling_percentage=101)},
            "capture.sampling_percentage=101",
            "0 to 100",
        ),
        (
            {"capture": CaptureSettings(prefix="models/capture/")},
            "capture.prefix=",
            "must not overlap",
        ),
        ({"capture": CaptureSettings(prefix="/capture")}, "capture.prefix=", "ending in '/'"),
        (
            {"capture": CaptureSettings(json_content_types="application/json")},
            "capture.json_content_types=",
            "not one string",
        ),
    ],
)
def test_settings_serverless_or_capture_cannot_honour_are_refused_by_name(
    props: dict[str, Any], named: str, allowed: str
) -> None:
    message = _refusal(**props)
    assert named in message and allowed in message


def test_a_vpc_is_refused_with_serverless() -> None:
    stack = cdk.Stack(new_app(), "S", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    with pytest.raises(ValueError, match=r"network.vpc='a VPC': serverless endpoints .* VPC"):
        MLPipeline(
            stack,
            "P",
            source_dir=CODE,
            entry_point="mnist.py",
            serving=ServingSettings(serverless=ServerlessSettings()),
            network=NetworkSettings(vpc=vpc),
        )


def test_autoscaling_is_refused_with_serverless_and_blue_green_rollouts_are_kept() -> None:
    # Deployment guardrails exclude serverless endpoints from rolling deployments only
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html);
    # the rollouts here are blue/green, so the default canary stays on with serverless.
    message = _refusal(
        serving=ServingSettings(serverless=ServerlessSettings()),
        autoscaling=AutoscalingSettings(min_capacity=1, max_capacity=2),
    )
    assert "autoscaling='AutoscalingSettings'" in message
    assert "serverless.max_concurrency" in message
    template = _template(
        serving=ServingSettings(serverless=ServerlessSettings()),
        rollout=RolloutSettings(strategy="linear"),
    )
    update = render_definition(template)["States"]["UpdateEndpoint"]
    assert "DeploymentConfig" in update["Parameters"]


def test_the_readme_tables_name_the_new_settings() -> None:
    assert "`serving.serverless`" in readme_table("serving")
    assert "`capture.sampling_percentage`" in readme_table("capture")


@pytest.mark.parametrize("region", [None, "eu-west-1"])
def test_cdk_nag_and_cfn_lint_pass_with_capture_and_with_serverless(region: str | None) -> None:
    import cfnlint.api
    from cdk_nag import AwsSolutionsChecks

    app = new_app()
    env = cdk.Environment(account="123456789012", region=region) if region else None
    for name, props in (
        ("Capturing", {"capture": CaptureSettings()}),
        ("Serverless", {"serving": ServingSettings(serverless=ServerlessSettings())}),
    ):
        stack = cdk.Stack(app, name, env=env)
        prefix = name.lower()
        MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py", name_prefix=prefix, **props)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assembly = app.synth()  # fails on any unacknowledged finding
    for name in ("Capturing", "Serverless"):
        template = assembly.get_stack_by_name(name).template
        matches = cfnlint.api.lint(json.dumps(template), regions=[region or "us-east-1"])
        assert [str(m) for m in matches] == [], name
