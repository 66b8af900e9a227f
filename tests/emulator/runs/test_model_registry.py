"""The model registry of the local SageMaker: versions, approval, policies, events to rules."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.emulator.runs.helpers import ACCOUNT, REGION, ROLE, Execution, machine, task, wait_for

GROUP = "mnist-models"
INFERENCE = {
    "Containers": [
        {
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310",
            "ModelDataUrl": "s3://bucket/model.tar.gz",
        }
    ],
    "SupportedContentTypes": ["application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}


def _register(sagemaker: Any, **extra: Any) -> str:
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP, InferenceSpecification=INFERENCE, **extra
        )["ModelPackageArn"]
    )


@pytest.fixture
def group(sagemaker: Any) -> str:
    return str(
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)["ModelPackageGroupArn"]
    )


def test_versions_are_numbered_per_group_from_one(sagemaker: Any, group: str) -> None:
    first = _register(sagemaker, ModelApprovalStatus="Approved")
    second = _register(sagemaker, ModelApprovalStatus="PendingManualApproval")
    assert first.endswith(f":model-package/{GROUP}/1")
    assert second.endswith(f":model-package/{GROUP}/2")
    described = sagemaker.describe_model_package(ModelPackageName=second)
    assert described["ModelPackageVersion"] == 2
    assert described["ModelPackageGroupName"] == GROUP
    assert described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == (
        "s3://bucket/model.tar.gz"
    )


def test_a_version_registered_without_status_awaits_approval(sagemaker: Any, group: str) -> None:
    arn = _register(sagemaker)
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    pending = sagemaker.list_model_packages(
        ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval"
    )["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in pending] == [arn]


def test_create_model_package_takes_the_groups_arn(sagemaker: Any, group: str) -> None:
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=INFERENCE
    )["ModelPackageArn"]
    assert arn.endswith(f"/{GROUP}/1")
    assert (
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupName"]
        == GROUP
    )


def test_update_keeps_what_it_does_not_name(sagemaker: Any, group: str) -> None:
    arn = _register(
        sagemaker,
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={"accuracy": "0.98"},
    )
    sagemaker.update_model_package(
        ModelPackageArn=arn, CustomerMetadataProperties={"deployed": "yes"}
    )
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["CustomerMetadataProperties"] == {"accuracy": "0.98", "deployed": "yes"}
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Rejected",
        ApprovalDescription="worse than version 1",
        CustomerMetadataPropertiesToRemove=["deployed"],
    )
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Rejected"
    assert described["ApprovalDescription"] == "worse than version 1"
    assert described["CustomerMetadataProperties"] == {"accuracy": "0.98"}


def test_list_filters_by_group_and_status_and_sorts(sagemaker: Any, group: str) -> None:
    _register(sagemaker, ModelApprovalStatus="Approved")
    _register(sagemaker, ModelApprovalStatus="PendingManualApproval")
    _register(sagemaker, ModelApprovalStatus="Approved")
    listed = sagemaker.list_model_packages(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
    )["ModelPackageSummaryList"]
    assert [p["ModelPackageVersion"] for p in listed] == [3, 1]


def test_unknown_version_is_a_validation_exception(sagemaker: Any, group: str) -> None:
    with pytest.raises(ClientError) as refused:
        sagemaker.describe_model_package(
            ModelPackageName=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/7"
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"].endswith("does not exist.")
    with pytest.raises(ClientError) as refused:
        sagemaker.update_model_package(
            ModelPackageArn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/7",
            ModelApprovalStatus="Approved",
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"].endswith("does not exist.")


def test_group_resource_policy(sagemaker: Any, group: str) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    put = sagemaker.put_model_package_group_policy(
        ModelPackageGroupName=GROUP, ResourcePolicy=policy
    )
    assert put["ModelPackageGroupArn"] == group
    got = sagemaker.get_model_package_group_policy(ModelPackageGroupName=GROUP)
    assert json.loads(got["ResourcePolicy"]) == json.loads(policy)
    sagemaker.delete_model_package_group_policy(ModelPackageGroupName=GROUP)
    with pytest.raises(ClientError) as refused:
        sagemaker.get_model_package_group_policy(ModelPackageGroupName=GROUP)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_another_accounts_package_is_read_by_arn_as_its_groups_policy_allows(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "210987654321"
    monkeypatch.setenv("MOTO_ACCOUNT_ID", other)  # moto's account for the requests that follow
    theirs = boto3.client("sagemaker", region_name=REGION)
    theirs.create_model_package_group(ModelPackageGroupName=GROUP)
    arn = _register(theirs, ModelApprovalStatus="Approved")
    readers = {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sagemaker:Describe*"}
    theirs.put_model_package_group_policy(
        ModelPackageGroupName=GROUP,
        ResourcePolicy=json.dumps({"Statement": [{**readers, "Resource": "*"}]}),
    )
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    assert f":{other}:" in arn
    ours = boto3.client("sagemaker", region_name=REGION)
    described = ours.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    group_arn = f"arn:aws:sagemaker:{REGION}:{other}:model-package-group/{GROUP}"
    assert (
        ours.describe_model_package_group(ModelPackageGroupName=group_arn)["ModelPackageGroupArn"]
        == group_arn
    )


def test_optimized_integration_has_no_create_model_package(sfn: Any) -> None:
    definition = machine(
        "Register",
        Register=task(
            "arn:aws:states:::sagemaker:createModelPackage", {"ModelPackageGroupName": GROUP}
        ),
    )
    with pytest.raises(ClientError):
        sfn.create_state_machine(name="optimized", definition=json.dumps(definition), roleArn=ROLE)


def test_aws_sdk_task_registers_and_approves(
    sagemaker: Any, group: str, run_machine: Callable[..., Execution]
) -> None:
    definition = machine(
        "Register",
        Register=task(
            "arn:aws:states:::aws-sdk:sagemaker:createModelPackage",
            {
                "ModelPackageGroupName": GROUP,
                "InferenceSpecification": INFERENCE,
                "ModelApprovalStatus": "PendingManualApproval",
                "ModelMetrics": {
                    "ModelQuality": {
                        "Statistics": {
                            "ContentType": "application/json",
                            "S3Uri": "s3://bucket/evaluation.json",
                        }
                    }
                },
                "MetadataProperties": {"GeneratedBy": "training-job-1"},
                "CustomerMetadataProperties": {"accuracy": "0.98"},
            },
            Next="Approve",
        ),
        Approve=task(
            "arn:aws:states:::aws-sdk:sagemaker:updateModelPackage",
            {"ModelPackageArn.$": "$.ModelPackageArn", "ModelApprovalStatus": "Approved"},
        ),
    )
    execution = run_machine(definition)
    assert execution.status == "SUCCEEDED", execution.cause
    arn = execution.output["ModelPackageArn"]
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["MetadataProperties"] == {"GeneratedBy": "training-job-1"}
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == (
        "s3://bucket/evaluation.json"
    )


# --- events ---------------------------------------------------------------------------------

APPROVED_PATTERN = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Model Package State Change"],
    "detail": {"ModelPackageGroupName": [GROUP], "ModelApprovalStatus": ["Approved"]},
}
ECHO = machine("Echo", Echo={"Type": "Pass", "End": True})


@pytest.fixture
def events(aws: None) -> Any:
    return boto3.client("events", region_name=REGION)


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs", region_name=REGION)


def _machine_on_rule(
    sfn: Any, events: Any, pattern: dict[str, Any], name: str = "approved", **target: Any
) -> str:
    arn = str(
        sfn.create_state_machine(name=f"on-{name}", definition=json.dumps(ECHO), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "start", "Arn": arn, "RoleArn": ROLE, **target}])
    return arn


def _inputs(sfn: Any, machine_arn: str) -> list[Any]:
    executions = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    return [
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for e in executions
    ]


def test_approval_starts_the_rules_state_machine_with_the_event(
    sagemaker: Any, sfn: Any, events: Any, group: str
) -> None:
    machine_arn = _machine_on_rule(sfn, events, APPROVED_PATTERN)
    arn = _register(sagemaker, ModelApprovalStatus="PendingManualApproval")
    assert _inputs(sfn, machine_arn) == []  # a pending version does not match
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    (event,) = wait_for(lambda: _inputs(sfn, machine_arn), "the execution the rule starts")
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Package State Change"
    assert event["account"] == ACCOUNT and event["region"] == REGION
    assert event["resources"] == [arn]
    assert event["detail"]["ModelPackageArn"] == arn
    assert event["detail"]["ModelPackageVersion"] == 1
    assert event["detail"]["ModelApprovalStatus"] == "Approved"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["detail"]["CreationTime"])
    assert event["time"].endswith("Z")


def test_creation_of_an_approved_version_sends_the_event(
    sagemaker: Any, sfn: Any, events: Any, group: str
) -> None:
    machine_arn = _machine_on_rule(sfn, events, APPROVED_PATTERN)
    arn = _register(sagemaker, ModelApprovalStatus="Approved")
    (event,) = wait_for(lambda: _inputs(sfn, machine_arn), "the execution the rule starts")
    assert event["detail"]["ModelPackageArn"] == arn


def test_an_update_that_keeps_the_status_sends_nothing(
    sagemaker: Any, sfn: Any, events: Any, group: str
) -> None:
    machine_arn = _machine_on_rule(sfn, events, APPROVED_PATTERN)
    arn = _register(sagemaker, ModelApprovalStatus="Approved")
    wait_for(lambda: _inputs(sfn, machine_arn), "the execution the creation starts")
    sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"a": "b"})
    assert len(_inputs(sfn, machine_arn)) == 1


def test_rejection_starts_nothing_on_approval(
    sagemaker: Any, sfn: Any, events: Any, group: str
) -> None:
    on_approval = _machine_on_rule(sfn, events, APPROVED_PATTERN)
    any_change = {k: v for k, v in APPROVED_PATTERN.items() if k != "detail"}
    on_any_change = _machine_on_rule(sfn, events, any_change, name="any-change")
    arn = _register(sagemaker, ModelApprovalStatus="PendingManualApproval")
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    changes = wait_for(
        lambda: len(i := _inputs(sfn, on_any_change)) == 2 and i,
        "the creation's and the rejection's executions",
    )
    statuses = sorted(e["detail"]["ModelApprovalStatus"] for e in changes)
    assert statuses == ["PendingManualApproval", "Rejected"]
    assert _inputs(sfn, on_approval) == []


def test_a_disabled_rule_delivers_nothing(sqs: Any, events: Any) -> None:
    queue = sqs.create_queue(QueueName="changes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(Name="off", EventPattern=json.dumps({"source": ["my.app"]}), State="DISABLED")
    events.put_targets(Rule="off", Targets=[{"Id": "queue", "Arn": queue_arn}])
    events.put_events(Entries=[{"Source": "my.app", "DetailType": "Thing", "Detail": "{}"}])
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)


def test_target_input_transformer_shapes_the_execution_input(
    sagemaker: Any, sfn: Any, events: Any, group: str
) -> None:
    machine_arn = _machine_on_rule(
        sfn,
        events,
        APPROVED_PATTERN,
        InputTransformer={
            "InputPathsMap": {"package": "$.detail.ModelPackageArn"},
            "InputTemplate": '{"modelPackageArn": "<package>"}',
        },
    )
    arn = _register(sagemaker, ModelApprovalStatus="Approved")
    inputs = wait_for(lambda: _inputs(sfn, machine_arn), "the execution the rule starts")
    assert inputs == [{"modelPackageArn": arn}]


def test_target_constant_input(sagemaker: Any, sfn: Any, events: Any, group: str) -> None:
    machine_arn = _machine_on_rule(sfn, events, APPROVED_PATTERN, Input='{"deploy": true}')
    _register(sagemaker, ModelApprovalStatus="Approved")
    inputs = wait_for(lambda: _inputs(sfn, machine_arn), "the execution the rule starts")
    assert inputs == [{"deploy": True}]


def test_put_events_reaches_a_state_machine(sfn: Any, events: Any) -> None:
    pattern = {"source": ["my.app"], "detail-type": ["Thing"]}
    machine_arn = _machine_on_rule(sfn, events, pattern, InputPath="$.detail")
    events.put_events(
        Entries=[{"Source": "my.app", "DetailType": "Thing", "Detail": json.dumps({"n": 1})}]
    )
    inputs = wait_for(lambda: _inputs(sfn, machine_arn), "the execution the rule starts")
    assert inputs == [{"n": 1}]


def test_a_target_moto_cannot_deliver_to_does_not_fail_the_request(
    sagemaker: Any, sfn: Any, events: Any, group: str
) -> None:
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="approvals")["TopicArn"]
    machine_arn = _machine_on_rule(sfn, events, APPROVED_PATTERN)
    events.put_targets(Rule="approved", Targets=[{"Id": "topic", "Arn": topic}])
    arn = _register(sagemaker, ModelApprovalStatus="Approved")
    (event,) = wait_for(lambda: _inputs(sfn, machine_arn), "the execution the rule starts")
    assert event["detail"]["ModelPackageArn"] == arn
