"""Promotion between two emulated accounts with the pipeline's own state machines: account A's
pipeline (``registry.consumer_accounts=[B]``) registers and deploys a version; account B's
pipeline (``registry.promote_from`` = A's group) deploys A's newest approved version without
training, through the group policy A's template grants. Without that policy, B's run fails as
SageMaker refuses it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import aws_cdk as cdk
import boto3
import pytest

from mlpipeline_cdk import MLPipeline, RegistrySettings
from mlpipeline_cli.asl import Environment, TemplateResolver, render_definition
from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome, local_sagemaker
from tests.emulator.runs.helpers import ACCOUNT, REGION, Execution, finish_execution
from tests.emulator.runs.test_cross_account import client_in

from conftest import ROOT, new_app

# Slow: synthesizes two pipelines and runs them.
pytestmark = pytest.mark.slow

A, B = ACCOUNT, "222222222222"
SOURCE = f"arn:aws:sagemaker:{REGION}:{A}:model-package-group/staging-models"


def _template(account: str, prefix: str, registry: RegistrySettings) -> dict[str, Any]:
    stack = cdk.Stack(new_app(), prefix, env=cdk.Environment(account=account, region=REGION))
    MLPipeline(
        stack,
        "Pipeline",
        source_dir=str(ROOT / "training_code"),
        entry_point="mnist.py",
        name_prefix=prefix,
        registry=registry,
    )
    return cdk.assertions.Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def templates() -> dict[str, dict[str, Any]]:
    return {
        A: _template(A, "staging", RegistrySettings(consumer_accounts=[B])),
        B: _template(B, "prod", RegistrySettings(promote_from=SOURCE)),
    }


@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    with local_sagemaker(
        ScriptedRuntime(training=TrainingOutcome.success({"test:accuracy": 0.97})),
        wait_scale=0.001,
    ) as active:
        assert isinstance(active, ScriptedRuntime)
        yield active


def _client(account: str, service: str) -> Any:
    return (
        boto3.client(service, region_name=REGION) if account == A else client_in(account, service)
    )


def _deploy(account: str, template: dict[str, Any]) -> Callable[[dict[str, Any]], Execution]:
    """What the account's stack would hold for its state machine: its buckets, keys, topic and
    model package group (with the template's policy), and the state machine, acting as a role
    of the account."""
    resources = template["Resources"]
    kms, s3 = _client(account, "kms"), _client(account, "s3")
    sagemaker, sns = _client(account, "sagemaker"), _client(account, "sns")
    refs: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        if kind == "AWS::KMS::Key":
            key = kms.create_key()["KeyMetadata"]
            refs[logical_id], attributes[f"{logical_id}.Arn"] = key["KeyId"], key["Arn"]
        elif kind == "AWS::S3::Bucket":
            name = f"{logical_id.lower()}-{account}"
            s3.create_bucket(Bucket=name)
            refs[logical_id], attributes[f"{logical_id}.Arn"] = name, f"arn:aws:s3:::{name}"
        elif kind == "AWS::SNS::Topic":
            refs[logical_id] = sns.create_topic(Name=f"failures-{account}")["TopicArn"]
    env = Environment(account=account, region=REGION, refs=refs, attributes=attributes)
    resolver = TemplateResolver(template, env)
    for resource in resources.values():
        if resource["Type"] == "AWS::SageMaker::ModelPackageGroup":
            properties = resolver.resolve(resource["Properties"])
            sagemaker.create_model_package_group(
                ModelPackageGroupName=properties["ModelPackageGroupName"]
            )
            if "ModelPackageGroupPolicy" in properties:
                sagemaker.put_model_package_group_policy(
                    ModelPackageGroupName=properties["ModelPackageGroupName"],
                    ResourcePolicy=json.dumps(properties["ModelPackageGroupPolicy"]),
                )
    sfn = _client(account, "stepfunctions")
    machine = sfn.create_state_machine(
        name="MLPipeline",
        definition=json.dumps(render_definition(template, env=env)),
        roleArn=f"arn:aws:iam::{account}:role/StateMachineRole",
    )["stateMachineArn"]

    def run(execution_input: dict[str, Any]) -> Execution:
        arn = sfn.start_execution(
            stateMachineArn=machine, input=json.dumps(execution_input), name=f"run-{uuid.uuid4()}"
        )["executionArn"]
        return finish_execution(sfn, arn, history=False)

    return run


def test_production_deploys_the_version_staging_registered_without_training(
    templates: dict[str, dict[str, Any]], runtime: ScriptedRuntime, aws: None
) -> None:
    staging = _deploy(A, templates[A])
    registered = staging({})
    assert registered.status == "SUCCEEDED", registered.cause
    version = registered.output["modelPackageArn"]
    assert version == SOURCE.replace("model-package-group/", "model-package/") + "/1"
    trained = len(runtime.training_jobs)

    production = _deploy(B, templates[B])
    promoted = production({"modelPackage": "latest"})

    assert promoted.status == "SUCCEEDED", promoted.cause
    assert promoted.output["modelPackageArn"] == version
    assert promoted.output["deploymentStatus"] == "Deployed"
    assert promoted.output["trainingJobName"] == registered.output["trainingJobName"]
    assert len(runtime.training_jobs) == trained  # nothing trained in production
    sagemaker = client_in(B, "sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName="prod-endpoint")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["ModelPackageName"] == version
    assert model["ModelArn"].split(":")[4] == B


def test_without_stagings_group_policy_production_is_refused(
    templates: dict[str, dict[str, Any]], runtime: ScriptedRuntime, aws: None
) -> None:
    staging = _deploy(A, templates[A])
    assert staging({}).status == "SUCCEEDED"
    boto3.client("sagemaker", region_name=REGION).delete_model_package_group_policy(
        ModelPackageGroupName="staging-models"
    )
    production = _deploy(B, templates[B])

    refused = production({"modelPackage": "latest"})

    assert refused.status == "FAILED"
    assert "is not authorized to perform: sagemaker:ListModelPackages" in (refused.cause or "")
    assert client_in(B, "sagemaker").list_endpoints()["Endpoints"] == []
