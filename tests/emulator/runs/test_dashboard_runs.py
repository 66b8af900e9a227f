"""The dashboard, executed: the app's state machine (from the synthesized template) publishes its
run metrics to CloudWatch in the emulator, the dashboard resource deploys through CloudFormation,
and CloudWatch's dashboard checks refuse what AWS refuses."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.cloudwatch.models import CloudWatchBackend

from mlpipeline_cdk.contract.outputs import DASHBOARD_URL
from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli.asl import TemplateResolver, render_definition
from mlpipeline_cli.cli import main as cli_main
from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome, local_sagemaker
from tests.emulator.runs.helpers import REGION, ROLE, finish_execution, pipeline_environment

pytestmark = pytest.mark.slow

GOOD = {"test:accuracy": 0.97, "test:loss": 0.1, "train:loss": 0.2}
MACHINE = "MLPipeline"


@pytest.fixture
def runtime() -> Iterator[ScriptedRuntime]:
    with local_sagemaker(
        ScriptedRuntime(training=TrainingOutcome.success(GOOD)), wait_scale=0.001
    ) as active:
        assert isinstance(active, ScriptedRuntime)
        yield active


def _resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


@pytest.fixture
def machine(ml_template_json: dict[str, Any], aws: None) -> str:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="failures")["TopicArn"]
    (topic_id,) = _resources(ml_template_json, "AWS::SNS::Topic")
    env = pipeline_environment(ml_template_json, {topic_id: topic})
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return str(
        sfn.create_state_machine(
            name=MACHINE,
            definition=json.dumps(render_definition(ml_template_json, env=env)),
            roleArn=ROLE,
        )["stateMachineArn"]
    )


def _run(machine: str) -> Any:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.start_execution(stateMachineArn=machine, input="{}", name=f"run-{uuid.uuid4()}")[
        "executionArn"
    ]
    return finish_execution(sfn, arn)


def _statistic(name: str) -> list[dict[str, Any]]:
    now = datetime.datetime.now(datetime.UTC)
    answer = boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
        Namespace="MLPipeline",
        MetricName=name,
        Dimensions=[{"Name": "Pipeline", "Value": MACHINE}],
        StartTime=now - datetime.timedelta(minutes=10),
        EndTime=now + datetime.timedelta(minutes=10),
        Period=60,
        Statistics=["Maximum", "SampleCount"],
    )
    return list(answer["Datapoints"])


def test_an_accepted_run_publishes_its_accuracy_threshold_and_training_time(
    machine: str, runtime: ScriptedRuntime
) -> None:
    result = _run(machine)
    assert result.status == "SUCCEEDED", result.cause
    (accuracy,) = _statistic("Accuracy")
    assert accuracy["Maximum"] == pytest.approx(0.97)
    assert accuracy["SampleCount"] == 1
    (threshold,) = _statistic("AccuracyThreshold")
    assert threshold["Maximum"] == pytest.approx(0.9)
    (seconds,) = _statistic("TrainingTime")
    (job,) = runtime.training_jobs
    described = boto3.client("sagemaker", region_name=REGION).describe_training_job(
        TrainingJobName=job.name
    )
    assert seconds["Maximum"] == described["TrainingTimeInSeconds"]
    assert seconds["Unit"] == "Seconds"


def test_a_run_whose_metrics_cannot_be_published_still_deploys(
    machine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        from moto.cloudwatch.exceptions import InvalidParameterValue

        raise InvalidParameterValue("refused for the test")

    monkeypatch.setattr(CloudWatchBackend, "put_metric_data", refuse)
    result = _run(machine)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["deploymentStatus"] == "Deployed"
    failed = [e for e in result.history if e["type"] == "TaskFailed"]
    assert failed and "refused for the test" in failed[0]["taskFailedEventDetails"]["cause"]
    assert failed[0]["taskFailedEventDetails"]["error"].startswith("CloudWatch.")
    assert _statistic("Accuracy") == []


def _dashboard_stack(template: dict[str, Any]) -> dict[str, Any]:
    """The template's dashboard and its URL output, the state machine's references resolved to
    stand-ins (the rest of the stack is not needed to deploy a dashboard)."""
    ((logical_id, dashboard),) = _resources(template, "AWS::CloudWatch::Dashboard").items()
    resolver = TemplateResolver(template, pipeline_environment(template, {}))
    body = resolver.resolve(dashboard["Properties"]["DashboardBody"])
    return {
        "Mappings": template.get("Mappings", {}),
        "Conditions": template.get("Conditions", {}),
        "Resources": {
            logical_id: {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {"DashboardBody": body, "DashboardName": "mnist-pipeline"},
            }
        },
        "Outputs": {DASHBOARD_URL: template["Outputs"][DASHBOARD_URL]},
    }


def test_the_dashboard_deploys_with_its_url(
    ml_template_json: dict[str, Any], aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlpipeline_emulator.cloudformation import (
        install_cloudformation_support,
        uninstall_cloudformation_support,
    )

    install_cloudformation_support()
    try:
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(
            StackName="dashboard", TemplateBody=json.dumps(_dashboard_stack(ml_template_json))
        )
        (stack,) = cfn.describe_stacks(StackName="dashboard")["Stacks"]
    finally:
        uninstall_cloudformation_support()
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    (output,) = stack["Outputs"]
    assert output["OutputValue"] == (
        f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}"
        "#dashboards:name=mnist-pipeline"
    )
    body = boto3.client("cloudwatch", region_name=REGION).get_dashboard(
        DashboardName="mnist-pipeline"
    )["DashboardBody"]
    titles = [w["properties"].get("title") for w in json.loads(body)["widgets"]]
    assert "Accepted accuracy" in titles and "Invocations" in titles
    # The operator tool prints it.
    clients = AwsClients(region=REGION)
    assert cli_main(["--stack-name", "dashboard", "dashboard"], clients=clients) == 0
    assert capsys.readouterr().out == output["OutputValue"] + "\n"


@pytest.mark.parametrize(
    ("name", "body", "path"),
    [
        ("ok", json.dumps({"widget": []}), ""),
        ("ok", json.dumps({"widgets": [{"type": "graph", "properties": {}}]}), "/widgets/0/type"),
        (
            "ok",
            json.dumps(
                {"widgets": [{"type": "text", "width": 25, "properties": {"markdown": ""}}]}
            ),
            "/widgets/0/width",
        ),
        (
            "ok",
            json.dumps({"widgets": [{"type": "text", "properties": {}}]}),
            "/widgets/0/properties",
        ),
        (
            "ok",
            json.dumps({"widgets": [{"type": "alarm", "properties": {"alarms": []}}]}),
            "/widgets/0/properties/alarms",
        ),
        ("no spaces", json.dumps({"widgets": []}), "DashboardName"),
    ],
)
def test_put_dashboard_refuses_what_cloudwatch_refuses(
    runtime: ScriptedRuntime, aws: None, name: str, body: str, path: str
) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    with pytest.raises(ClientError) as refused:
        cloudwatch.put_dashboard(DashboardName=name, DashboardBody=body)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterInput"
    assert json.dumps(path) in refused.value.response["Error"]["Message"]
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []


def test_put_dashboard_takes_a_valid_body(runtime: ScriptedRuntime, aws: None) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    answer = cloudwatch.put_dashboard(
        DashboardName="ok_1", DashboardBody=json.dumps({"widgets": []})
    )
    assert answer["DashboardValidationMessages"] == []
