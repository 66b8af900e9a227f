"""``mlpipeline models``, ``approve``, ``reject`` and ``deploy`` against the emulator's model
registry in process (moto with the emulator's registry installed): versions registered with
boto3 calls as the pipeline registers them, an endpoint serving one of them through a model
created from the version (``PrimaryContainer: {ModelPackageName}``), and a stack exporting the
pipeline's outputs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto import mock_aws

from mlpipeline_cdk.contract import outputs
from mlpipeline_cdk.contract import registry as contract
from mlpipeline_cdk.contract import run_input as run_input_contract
from mlpipeline_cli._aws import AwsClients
from mlpipeline_cli.cli import EXIT_ERROR, EXIT_USAGE
from mlpipeline_cli.cli import main as cli_main
from mlpipeline_emulator import local_sagemaker

REGION = "us-east-1"
ACCOUNT = "123456789012"
GROUP = "mnist-models"
ENDPOINT = "mnist-endpoint"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline"
Main = Callable[[list[str]], int]
#: The state machine: a stand-in whose ``latest`` lookup names the group, as the pipeline's
#: FindLatestApproved does (never executed here: moto only records the executions).
DEFINITION = {
    "StartAt": "LatestOrGiven",
    "States": {
        "LatestOrGiven": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.modelPackage", "StringEquals": "latest", "Next": "FindLatest"}
            ],
            "Default": "Done",
        },
        "FindLatest": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:listModelPackages",
            "Parameters": {
                "ModelPackageGroupName": GROUP,
                "ModelApprovalStatus": "Approved",
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 1,
            },
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def arn_of(version: int, group: str = GROUP) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/{version}"


@pytest.fixture(scope="module")
def clients() -> AwsClients:
    return AwsClients(region=REGION)


@pytest.fixture
def main(clients: AwsClients) -> Main:
    return lambda argv: cli_main(argv, clients=clients)


def register(
    clients: AwsClients, status: str, mode: str, accuracy: str, job: str, group: str = GROUP
) -> str:
    """A version as the pipeline's RegisterModelPackage registers one."""
    return str(
        clients.client("sagemaker").create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            ModelPackageDescription=f"Trained by {job}",
            InferenceSpecification={
                "Containers": [
                    {"Image": "serving:1", "ModelDataUrl": f"s3://artifacts/models/{job}.tar.gz"}
                ],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
            CustomerMetadataProperties={
                contract.TRAINING_JOB: job,
                contract.ACCURACY: accuracy,
                contract.ACCURACY_THRESHOLD: "0.9",
                contract.APPROVAL_MODE: mode,
            },
        )["ModelPackageArn"]
    )


def serve(clients: AwsClients, version_arn: str, name: str) -> None:
    """Put a model created from ``version_arn`` on the endpoint, as the deployment does."""
    sagemaker = clients.client("sagemaker")
    sagemaker.create_model(
        ModelName=name, PrimaryContainer={"ModelPackageName": version_arn}, ExecutionRoleArn=ROLE
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    try:
        sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    except sagemaker.exceptions.ClientError:
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=name)
    else:
        sagemaker.update_endpoint(EndpointName=ENDPOINT, EndpointConfigName=name)
    # Until the deployment ends, the endpoint serves its previous configuration (the emulator's
    # take about 50 ms); an endpoint takes updates once InService.
    deadline = time.monotonic() + 10
    while sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"] != "InService":
        assert time.monotonic() < deadline, "the endpoint never came into service"
        time.sleep(0.02)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, clients: AwsClients) -> Iterator[str]:
    """A pipeline with versions 1 (Approved), 2 (Approved, live) and 3 (pending, manual);
    yields the state machine's ARN."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with local_sagemaker(), mock_aws():
        clients.client("sagemaker").create_model_package_group(ModelPackageGroupName=GROUP)
        register(clients, contract.APPROVED, contract.AUTOMATIC, "0.9512", "mnist-1")
        live = register(clients, contract.APPROVED, contract.AUTOMATIC, "0.9633", "mnist-2")
        register(clients, contract.PENDING, contract.MANUAL, "0.9712", "mnist-3")
        serve(clients, live, "mnist-model-2")
        machine = clients.client("stepfunctions").create_state_machine(
            name="Pipeline", roleArn=ROLE, definition=json.dumps(DEFINITION)
        )["stateMachineArn"]
        stack_outputs = {
            outputs.STATE_MACHINE_ARN: machine,
            outputs.DATA_BUCKET_NAME: "data",
            outputs.DATA_PREFIX: "training-data/",
            outputs.ARTIFACTS_BUCKET_NAME: "artifacts",
            outputs.ENDPOINT_NAME: ENDPOINT,
            outputs.MODEL_PACKAGE_GROUP_NAME: GROUP,
        }
        template = {
            "Resources": {"Data": {"Type": "AWS::S3::Bucket"}},
            "Outputs": {key: {"Value": value} for key, value in stack_outputs.items()},
        }
        clients.client("cloudformation").create_stack(
            StackName="MLPipelineStack", TemplateBody=json.dumps(template)
        )
        yield str(machine)


def status_of(clients: AwsClients, version: int) -> tuple[str, str | None]:
    described = clients.client("sagemaker").describe_model_package(ModelPackageName=arn_of(version))
    return described["ModelApprovalStatus"], described.get("ApprovalDescription")


def executions(clients: AwsClients, machine: str) -> list[dict[str, Any]]:
    sfn = clients.client("stepfunctions")
    return [
        {
            **item,
            "input": json.loads(sfn.describe_execution(executionArn=item["executionArn"])["input"]),
        }
        for item in sfn.list_executions(stateMachineArn=machine)["executions"]
    ]


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("mlpipeline: error: ")
    return line.removeprefix("mlpipeline: error: ")


# --- models ---------------------------------------------------------------------------------


def test_models_lists_every_version_newest_first_with_the_live_one(
    main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "VERSION", "STATUS", "ACCURACY", "CREATED", "TRAINING", "JOB", "LIVE", "NOTE"
    ]  # fmt: skip
    cells = [row.split() for row in rows]
    assert [c[0] for c in cells] == ["3", "2", "1"]
    assert [c[1] for c in cells] == ["PendingManualApproval", "Approved", "Approved"]
    assert [c[2] for c in cells] == ["0.9712", "0.9633", "0.9512"]
    assert [c[5] for c in cells] == ["mnist-3", "mnist-2", "mnist-1"]
    assert [c[6:] for c in cells] == [[], ["live"], []]


def test_models_reads_every_page_of_the_group(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in range(4, 106):  # 105 versions: two pages of ListModelPackages
        register(clients, contract.APPROVED, contract.AUTOMATIC, "0.95", f"mnist-{number}")
    assert main(["models", "--json"]) == 0
    versions = json.loads(capsys.readouterr().out)
    assert [v["modelPackageVersion"] for v in versions] == list(range(105, 0, -1))


def test_models_json_gives_each_versions_status_lineage_and_whether_it_is_live(
    main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "--json"]) == 0
    newest, live, oldest = json.loads(capsys.readouterr().out)
    assert newest == {
        "modelPackageVersion": 3,
        "modelPackageArn": arn_of(3),
        "modelPackageGroupName": GROUP,
        "approvalStatus": "PendingManualApproval",
        "approvalDescription": None,
        "approvalMode": "manual",
        "accuracy": 0.9712,
        "accuracyThreshold": 0.9,
        "trainingJobName": "mnist-3",
        "creationTime": newest["creationTime"],
        "live": False,
    }
    assert newest["creationTime"].endswith("Z")
    assert (live["modelPackageVersion"], live["live"]) == (2, True)
    assert (oldest["modelPackageVersion"], oldest["live"]) == (1, False)


def test_models_of_an_empty_group_says_how_versions_come(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.client("sagemaker").create_model_package_group(ModelPackageGroupName="empty")
    clients.client("cloudformation").create_stack(
        StackName="Empty",
        TemplateBody=json.dumps(
            {
                "Resources": {"Data": {"Type": "AWS::S3::Bucket"}},
                "Outputs": {outputs.MODEL_PACKAGE_GROUP_NAME: {"Value": "empty"}},
            }
        ),
    )
    assert main(["--stack-name", "Empty", "models"]) == 0
    assert capsys.readouterr().out == (
        "model package group empty has no versions yet: a run whose model passes the gate "
        "registers one\n"
    )


def test_models_of_a_stack_without_a_registry_names_the_missing_output(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.client("cloudformation").create_stack(
        StackName="Old",
        TemplateBody=json.dumps(
            {
                "Resources": {"Data": {"Type": "AWS::S3::Bucket"}},
                "Outputs": {outputs.STATE_MACHINE_ARN: {"Value": aws}},
            }
        ),
    )
    assert main(["--stack-name", "Old", "models"]) == EXIT_ERROR
    assert error_line(capsys).startswith("stack Old has no output ModelPackageGroupName")


# --- approve and reject ---------------------------------------------------------------------


def test_approve_of_a_manual_version_says_the_rule_deploys_it(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["approve", "3", "--description", "checked on the holdout set"]) == 0
    assert status_of(clients, 3) == ("Approved", "checked on the holdout set")
    assert capsys.readouterr().out.splitlines() == [
        f"version 3 of {GROUP}: PendingManualApproval -> Approved",
        "it was registered for manual approval: the pipeline's approval rule now starts a run "
        "that deploys it; follow it with: mlpipeline watch --latest",
    ]


def test_approve_of_an_automatic_version_says_approving_deploys_nothing(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.client("sagemaker").update_model_package(
        ModelPackageArn=arn_of(1), ModelApprovalStatus="Rejected"
    )
    assert main(["approve", arn_of(1), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["previousApprovalStatus"] == "Rejected"
    assert document["approvalStatus"] == "Approved"
    assert document["deploymentStarts"] is False
    assert main(["reject", "1", "--reason", "again"]) == 0
    capsys.readouterr()
    assert main(["approve", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "approving it deploys nothing (it was registered in automatic approval mode, or by "
        "another pipeline); deploy it with: mlpipeline deploy 1"
    )


def test_reject_keeps_the_reason_as_the_approval_description(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reject", "3", "--reason", "worse on rotated digits", "--json"]) == 0
    assert status_of(clients, 3) == ("Rejected", "worse on rotated digits")
    document = json.loads(capsys.readouterr().out)
    assert (document["approvalStatus"], document["live"]) == ("Rejected", False)


def test_reject_of_the_live_version_says_the_endpoint_keeps_serving_it(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reject", "2", "--reason", "drifted"]) == 0
    assert status_of(clients, 2) == ("Rejected", "drifted")
    assert capsys.readouterr().out.splitlines() == [
        f"version 2 of {GROUP}: Approved -> Rejected",
        f"version 2 of {GROUP} is live: the endpoint keeps serving it until another version is "
        "deployed (mlpipeline deploy VERSION, or mlpipeline deploy latest for the newest "
        "Approved one)",
    ]


def test_approving_an_approved_version_is_one_error_line(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["approve", "2"]) == EXIT_ERROR
    assert error_line(capsys) == f"version 2 of {GROUP} is already Approved"
    assert main(["reject", "2", "--reason", "x"]) == 0
    capsys.readouterr()
    assert main(["reject", "2", "--reason", "x"]) == EXIT_ERROR
    assert error_line(capsys) == f"version 2 of {GROUP} is already Rejected"


def test_an_unknown_version_is_one_error_line_naming_the_versions(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["approve", "7"]) == EXIT_ERROR
    assert error_line(capsys) == (
        f"model package group {GROUP} has no version 7; its versions are 1 to 3"
    )
    assert main(["reject", arn_of(9), "--reason", "x"]) == EXIT_ERROR
    assert error_line(capsys) == (
        f"model package {arn_of(9)} does not exist (list the versions with: mlpipeline models)"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["approve", "three"], "argument VERSION: expected a version number of the pipeline's"),
        (["approve", "0"], "argument VERSION: expected a version number"),
        (["deploy", "arn:aws:sagemaker:us-east-1:1:model-package/g/1"], "VERSION: expected"),
        (["deploy", "newest"], "argument VERSION: expected a version number"),
        (["reject", "3"], "the following arguments are required: --reason"),
        (["reject", "3", "--reason", "  "], "--reason must say why, in 1 to 1024 characters"),
        (["reject", "3", "--reason", "a\nb"], "--reason must be one line"),
        (["approve", "3", "--description", "x" * 1025], "--description may have at most 1024"),
    ],
)
def test_bad_arguments_are_refused_naming_the_setting(
    main: Main, aws: str, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == EXIT_USAGE
    assert message in capsys.readouterr().err


# --- deploy ---------------------------------------------------------------------------------


def test_deploy_starts_a_run_with_the_versions_arn(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", "1"]) == 0
    out, err = capsys.readouterr()
    (execution,) = executions(clients, aws)
    assert execution["input"] == {run_input_contract.MODEL_PACKAGE: arn_of(1)}
    assert out.strip() == execution["executionArn"]
    assert f"deploying version 1 of {GROUP}; follow it with: mlpipeline watch " in err


def test_deploy_latest_sends_latest_and_names_the_version_it_is_now(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", "latest", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (execution,) = executions(clients, aws)
    assert execution["input"] == {run_input_contract.MODEL_PACKAGE: "latest"}
    assert document["executionArn"] == execution["executionArn"]
    assert document["input"] == {"modelPackage": "latest"}
    assert (document["modelPackageArn"], document["modelPackageVersion"]) == (arn_of(2), 2)


def test_deploy_latest_looks_in_the_group_the_state_machine_deploys_from(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A later stage promotes from another group: ``latest`` is that group's newest."""
    clients.client("sagemaker").create_model_package_group(ModelPackageGroupName="staging")
    register(clients, contract.APPROVED, contract.MANUAL, "0.98", "staging-1", group="staging")
    promoting = json.loads(json.dumps(DEFINITION))
    promoting["States"]["FindLatest"]["Parameters"]["ModelPackageGroupName"] = (
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/staging"
    )
    clients.client("stepfunctions").update_state_machine(
        stateMachineArn=aws, definition=json.dumps(promoting)
    )
    assert main(["deploy", "latest", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["modelPackageArn"] == arn_of(1, group="staging")


def test_deploy_refuses_a_version_that_is_not_approved_before_starting(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", "3"]) == EXIT_ERROR
    assert error_line(capsys) == (
        f"version 3 of {GROUP} is PendingManualApproval; only an Approved version is deployed "
        "(approve it with: mlpipeline approve 3)"
    )
    assert main(["deploy", "8"]) == EXIT_ERROR
    assert error_line(capsys) == (
        f"model package group {GROUP} has no version 8; its versions are 1 to 3"
    )
    assert executions(clients, aws) == []


def test_deploy_latest_without_an_approved_version_is_refused(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for version in (1, 2):
        clients.client("sagemaker").update_model_package(
            ModelPackageArn=arn_of(version), ModelApprovalStatus="Rejected"
        )
    assert main(["deploy", "latest"]) == EXIT_ERROR
    assert error_line(capsys) == (
        f"model package group {GROUP} has no Approved version to deploy (approve one with: "
        "mlpipeline approve VERSION; list them with: mlpipeline models)"
    )
    assert executions(clients, aws) == []


def test_approving_the_live_version_again_says_it_is_served_already(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["reject", "2", "--reason", "checking"]) == 0
    capsys.readouterr()
    assert main(["approve", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"version 2 of {GROUP}: Rejected -> Approved",
        f"version 2 of {GROUP} is live: the endpoint serves it already",
    ]


def test_approve_by_arn_on_a_stack_without_a_registry_output_still_approves(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing the notes need is read after the change: no half-done approval."""
    clients.client("cloudformation").create_stack(
        StackName="Bare",
        TemplateBody=json.dumps(
            {
                "Resources": {"Data": {"Type": "AWS::S3::Bucket"}},
                "Outputs": {outputs.STATE_MACHINE_ARN: {"Value": aws}},
            }
        ),
    )
    assert main(["--stack-name", "Bare", "approve", arn_of(3), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["approvalStatus"], document["deploymentStarts"]) == ("Approved", False)
    assert status_of(clients, 3) == ("Approved", None)


def test_models_says_what_the_endpoint_serves_when_it_is_no_version_of_the_group(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A later stage serves a version promoted from the first stage's group."""
    clients.client("sagemaker").create_model_package_group(ModelPackageGroupName="staging")
    promoted = register(clients, contract.APPROVED, contract.MANUAL, "0.98", "s-1", "staging")
    serve(clients, promoted, "mnist-model-staging-1")
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in lines[1:4]] == ["mnist-3", "mnist-2", "mnist-1"]
    assert lines[-1] == f"endpoint {ENDPOINT} serves {promoted}, not a version of {GROUP}"


# --- the approval rule ------------------------------------------------------------------------


def approval_rule(clients: AwsClients, machine: str) -> None:
    """The pipeline's approval rule as issue 14's design lays it out: the group's versions that
    become Approved and were registered in manual mode start a run deploying that version."""
    events = clients.client("events")
    pattern = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": [GROUP],
            "ModelApprovalStatus": ["Approved"],
            "CustomerMetadataProperties": {contract.APPROVAL_MODE: [contract.MANUAL]},
        },
    }
    events.put_rule(Name="DeployOnApproval", EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(
        Rule="DeployOnApproval",
        Targets=[
            {
                "Id": "Pipeline",
                "Arn": machine,
                "RoleArn": ROLE,
                # A quoted placeholder is the value's text (EventBridge user guide, "Input
                # transformation": https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html).
                "InputTransformer": {
                    "InputPathsMap": {"arn": "$.detail.ModelPackageArn"},
                    "InputTemplate": '{"modelPackage": "<arn>"}',
                },
            }
        ],
    )


def test_approving_a_manual_version_starts_the_rules_run_of_exactly_that_version(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    approval_rule(clients, aws)
    assert main(["approve", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deploymentStarts"] is True
    (execution,) = executions(clients, aws)
    assert execution["input"] == {run_input_contract.MODEL_PACKAGE: arn_of(3)}


def test_approving_an_automatic_version_starts_no_run(
    clients: AwsClients, main: Main, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    approval_rule(clients, aws)
    assert main(["reject", "1", "--reason", "x"]) == 0
    capsys.readouterr()
    assert main(["approve", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deploymentStarts"] is False
    assert executions(clients, aws) == []
