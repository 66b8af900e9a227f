"""The model registry, executed: the app's state machine and its approval rule (both from the
synthesized template) run in the emulator, registering, approving, rejecting and deploying
versions of the pipeline's model package group."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from mlpipeline_cdk.contract import registry as contract
from mlpipeline_cli.asl import TemplateResolver, render_definition
from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome, local_sagemaker
from tests.emulator.runs.helpers import (
    REGION,
    ROLE,
    Execution,
    finish_execution,
    pipeline_environment,
    wait_for,
)

# Slow: executes the state machine in the emulator, scenario after scenario.
pytestmark = pytest.mark.slow

GOOD = {"test:accuracy": 0.97, "test:loss": 0.1, "train:loss": 0.2}
GROUP = "mnist-models"


@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    with local_sagemaker(
        ScriptedRuntime(training=TrainingOutcome.success(GOOD)), wait_scale=0.001
    ) as active:
        assert isinstance(active, ScriptedRuntime)
        yield active


@dataclass
class Pipeline:
    run: Callable[..., Execution]
    finish: Callable[[str], Execution]
    machine: str
    sagemaker: Any
    sfn: Any

    def executions(self) -> list[dict[str, Any]]:
        return list(self.sfn.list_executions(stateMachineArn=self.machine)["executions"])

    def served_version(self) -> str:
        endpoint = self.sagemaker.describe_endpoint(EndpointName="mnist-endpoint")
        config = self.sagemaker.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"]
        )
        (variant,) = config["ProductionVariants"]
        model = self.sagemaker.describe_model(ModelName=variant["ModelName"])
        return str(model["PrimaryContainer"]["ModelPackageName"])


@pytest.fixture
def pipeline(ml_template_json: dict[str, Any], aws: None) -> Pipeline:
    """The app's state machine and approval rule, as the template defines them."""
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="failures")["TopicArn"]
    resources = ml_template_json["Resources"]
    topic_id = next(k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic")
    env = pipeline_environment(ml_template_json, {topic_id: topic})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="MLPipeline",
        definition=json.dumps(render_definition(ml_template_json, env=env)),
        roleArn=ROLE,
    )["stateMachineArn"]
    (rule,) = [
        r["Properties"]
        for k, r in resources.items()
        if r["Type"] == "AWS::Events::Rule" and k.startswith("PipelineApprovalRule")
    ]
    resolved = TemplateResolver(ml_template_json, env).resolve(rule)
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="approval", EventPattern=json.dumps(resolved["EventPattern"]))
    (target,) = resolved["Targets"]
    events.put_targets(
        Rule="approval",
        Targets=[
            {
                "Id": "run",
                "Arn": machine,
                "RoleArn": ROLE,
                "InputTransformer": target["InputTransformer"],
            }
        ],
    )

    def finish_run(arn: str) -> Execution:
        return finish_execution(sfn, arn)

    def run(execution_input: Any = None) -> Execution:
        arn = sfn.start_execution(
            stateMachineArn=machine,
            input=json.dumps(execution_input or {}),
            name=f"run-{uuid.uuid4()}",
        )["executionArn"]
        return finish_run(arn)

    return Pipeline(run, finish_run, machine, boto3.client("sagemaker", region_name=REGION), sfn)


def _versions(sagemaker: Any) -> list[dict[str, Any]]:
    summaries = sagemaker.list_model_packages(ModelPackageGroupName=GROUP, SortOrder="Ascending")
    return [
        sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"])
        for s in summaries["ModelPackageSummaryList"]
    ]


def _wait_for_started(pipeline: Pipeline, count: int) -> list[dict[str, Any]]:
    return wait_for(
        lambda: len(e := pipeline.executions()) >= count and e, f"{count} executions", timeout=10
    )


def test_automatic_mode_registers_the_version_with_its_lineage_and_deploys_it(
    pipeline: Pipeline, runtime: ScriptedRuntime
) -> None:
    result = pipeline.run()
    assert result.status == "SUCCEEDED", result.cause
    output = result.output
    (version,) = _versions(pipeline.sagemaker)
    assert output["modelPackageArn"] == version["ModelPackageArn"]
    assert (output["modelPackageVersion"], output["approvalStatus"]) == (1, "Approved")
    assert output["deploymentStatus"] == "Deployed"
    assert version["ModelApprovalStatus"] == "Approved"
    (job,) = runtime.training_jobs
    lineage = version["CustomerMetadataProperties"]
    assert lineage[contract.TRAINING_JOB] == job.name
    assert lineage[contract.APPROVAL_MODE] == "automatic"
    assert float(lineage[contract.ACCURACY]) == pytest.approx(0.97)
    assert version["MetadataProperties"]["GeneratedBy"].startswith("arn:aws:states:")
    (container,) = version["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == job.default_model_artifacts
    # The report the version's metrics point at.
    report_uri = version["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket, _, key = report_uri.removeprefix("s3://").partition("/")
    report = json.loads(
        boto3.client("s3", region_name=REGION).get_object(Bucket=bucket, Key=key)["Body"].read()
    )
    assert report["multiclass_classification_metrics"]["accuracy"]["value"] == pytest.approx(0.97)
    assert report["mlpipeline"]["trainingJobName"] == job.name
    assert report["mlpipeline"]["hyperparameters"]["epochs"] == "6"
    # The endpoint serves the version itself, and the registration started no other run
    # (the approval rule leaves out versions a run in automatic mode registered).
    assert pipeline.served_version() == version["ModelPackageArn"]
    assert len(pipeline.executions()) == 1


def test_manual_mode_registers_a_pending_version_and_deploys_nothing(
    pipeline: Pipeline,
) -> None:
    result = pipeline.run({"approval": "manual"})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["deploymentStatus"] == "AwaitingApproval"
    assert result.output["approvalStatus"] == "PendingManualApproval"
    assert "endpointName" not in result.output
    (version,) = _versions(pipeline.sagemaker)
    assert version["ModelApprovalStatus"] == "PendingManualApproval"
    assert pipeline.sagemaker.list_endpoints()["Endpoints"] == []
    assert pipeline.sagemaker.list_models()["Models"] == []


def test_approving_a_pending_version_deploys_exactly_that_version(pipeline: Pipeline) -> None:
    first = pipeline.run({"approval": "manual"})
    arn = first.output["modelPackageArn"]
    pipeline.sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="looks good"
    )
    started = _wait_for_started(pipeline, 2)
    deployment = pipeline.finish(started[0]["executionArn"])
    assert deployment.status == "SUCCEEDED", deployment.cause
    assert deployment.output["modelPackageArn"] == arn
    assert deployment.output["deploymentStatus"] == "Deployed"
    assert deployment.output["trainingJobName"] == first.output["trainingJobName"]
    assert pipeline.served_version() == arn
    entered = {
        e["stateEnteredEventDetails"]["name"]
        for e in deployment.history
        if "stateEnteredEventDetails" in e
    }
    assert "Train" not in entered


def test_rejecting_a_pending_version_deploys_nothing(pipeline: Pipeline) -> None:
    first = pipeline.run({"approval": "manual"})
    pipeline.sagemaker.update_model_package(
        ModelPackageArn=first.output["modelPackageArn"],
        ModelApprovalStatus="Rejected",
        ApprovalDescription="accuracy on the new digits is worse",
    )
    assert len(pipeline.executions()) == 1
    assert pipeline.sagemaker.list_endpoints()["Endpoints"] == []


def test_rolling_back_to_an_earlier_version_serves_its_model(pipeline: Pipeline) -> None:
    first = pipeline.run()
    second = pipeline.run()
    assert second.output["modelPackageVersion"] == 2
    assert pipeline.served_version() == second.output["modelPackageArn"]
    rollback = pipeline.run({"modelPackage": first.output["modelPackageArn"]})
    assert rollback.status == "SUCCEEDED", rollback.cause
    assert rollback.output["deploymentStatus"] == "Deployed"
    assert rollback.output["modelPackageVersion"] == 1
    assert rollback.output["accuracy"] == pytest.approx(0.97)
    assert pipeline.served_version() == first.output["modelPackageArn"]
    # No training, no new version.
    assert len(_versions(pipeline.sagemaker)) == 2


def test_latest_deploys_the_newest_approved_version(pipeline: Pipeline) -> None:
    approved = pipeline.run()
    pipeline.run({"approval": "manual"})  # newer, but pending
    result = pipeline.run({"modelPackage": "latest"})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["modelPackageArn"] == approved.output["modelPackageArn"]


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("pending", contract.MODEL_PACKAGE_NOT_APPROVED),
        ("unknown", contract.MODEL_PACKAGE_NOT_FOUND),
        ("latest", contract.NO_APPROVED_MODEL_PACKAGE),
        ("other group", "InvalidInput"),
    ],
)
def test_a_version_that_cannot_be_deployed_is_refused_clearly(
    pipeline: Pipeline, given: str, error: str
) -> None:
    pending = pipeline.run({"approval": "manual"}).output["modelPackageArn"]
    arn = {
        "pending": pending,
        "unknown": pending.rsplit("/", 1)[0] + "/99",
        "latest": "latest",
        "other group": pending.replace(f"/{GROUP}/", "/someone-elses-models/"),
    }[given]
    result = pipeline.run({"modelPackage": arn})
    assert (result.status, result.error) == ("FAILED", error)
    if given == "pending":
        assert (
            result.cause
            == f"model package {arn} is PendingManualApproval; only an Approved version is deployed"
        )
    if given == "unknown":
        assert result.cause == f"model package {arn} does not exist"
    assert pipeline.sagemaker.list_endpoints()["Endpoints"] == []


def test_a_run_registers_while_the_groups_latest_version_is_pending(pipeline: Pipeline) -> None:
    pipeline.run({"approval": "manual"})
    result = pipeline.run()
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["modelPackageVersion"] == 2
    statuses = [v["ModelApprovalStatus"] for v in _versions(pipeline.sagemaker)]
    assert statuses == ["PendingManualApproval", "Approved"]


def test_a_run_of_the_approval_rule_leaves_an_automatic_version_to_its_own_run(
    pipeline: Pipeline,
) -> None:
    # Where the event carries no CustomerMetadataProperties, the rule starts a run for an
    # automatic version too; that run deploys nothing.
    first = pipeline.run()
    models = len(pipeline.sagemaker.list_models()["Models"])
    result = pipeline.run({"modelPackage": first.output["modelPackageArn"], "onApproval": True})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "modelPackageArn": first.output["modelPackageArn"],
        "deploymentStatus": "LeftToItsRun",
    }
    assert len(pipeline.sagemaker.list_models()["Models"]) == models
