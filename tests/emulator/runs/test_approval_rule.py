"""The approval rule of a manual-approval pipeline: an EventBridge rule on SageMaker's model
package state changes whose target starts the pipeline's state machine with the approved
version, through the API and deployed by CloudFormation as aws-cdk-lib synthesizes it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from mlpipeline_cdk.contract import registry as contract
from mlpipeline_emulator._input_transformer import render, variables
from mlpipeline_emulator.cloudformation import (
    install_cloudformation_support,
    uninstall_cloudformation_support,
)
from tests.emulator.runs.helpers import REGION, ROLE, machine, wait_for

GROUP = "mnist-models"
MODE_KEY = contract.APPROVAL_MODE
GROUP_ARN_PREFIX = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}"
INFERENCE = {
    "Containers": [
        {
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
            "ModelDataUrl": "s3://artifacts/models/job/output/model.tar.gz",
        }
    ],
    "SupportedContentTypes": ["application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}
#: The rule's pattern and target as aws-cdk-lib synthesizes them for events.Rule with
#: targets.SfnStateMachine(machine, input=events.RuleTargetInput.from_object(
#: {"modelPackage": events.EventField.from_path("$.detail.ModelPackageArn"),
#: "onApproval": True})), as the pipeline's approval rule is (mlpipeline_cdk._registry).
PATTERN = {
    "detail": {
        "ModelPackageGroupName": [GROUP],
        "ModelApprovalStatus": ["Approved"],
        "CustomerMetadataProperties": {MODE_KEY: ["manual", {"exists": False}]},
    },
    "detail-type": ["SageMaker Model Package State Change"],
    "source": ["aws.sagemaker"],
}
TRANSFORMER = {
    "InputPathsMap": {"detail-ModelPackageArn": "$.detail.ModelPackageArn"},
    "InputTemplate": '{"modelPackage":<detail-ModelPackageArn>,"onApproval":true}',
}
ECHO = machine("Echo", Echo={"Type": "Pass", "End": True})


def _register(sagemaker: Any, mode: str, status: str) -> str:
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification=INFERENCE,
            ModelApprovalStatus=status,
            CustomerMetadataProperties={MODE_KEY: mode, contract.ACCURACY: "0.98"},
        )["ModelPackageArn"]
    )


def _inputs(sfn: Any, machine_arn: str) -> list[Any]:
    executions = sfn.list_executions(stateMachineArn=machine_arn)["executions"]
    return [
        json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])
        for e in executions
    ]


def _approval_flow(sagemaker: Any, sfn: Any, machine_arn: str) -> None:
    """Automatic versions registered Approved start nothing, nor a manual version while it is
    pending or when it is rejected; approving a manual version starts one execution with it."""
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    _register(sagemaker, "automatic", "Approved")
    pending = _register(sagemaker, "manual", "PendingManualApproval")
    rejected = _register(sagemaker, "manual", "PendingManualApproval")
    sagemaker.update_model_package(ModelPackageArn=rejected, ModelApprovalStatus="Rejected")
    assert _inputs(sfn, machine_arn) == []
    sagemaker.update_model_package(ModelPackageArn=pending, ModelApprovalStatus="Approved")
    inputs = wait_for(lambda: _inputs(sfn, machine_arn), "the execution the approval starts")
    assert inputs == [{"modelPackage": pending, "onApproval": True}]


def test_approving_a_manual_version_starts_the_state_machine_with_it(
    sagemaker: Any, sfn: Any
) -> None:
    events = boto3.client("events", region_name=REGION)
    machine_arn = sfn.create_state_machine(
        name="pipeline", definition=json.dumps(ECHO), roleArn=ROLE
    )["stateMachineArn"]
    events.put_rule(Name="approved", EventPattern=json.dumps(PATTERN))
    events.put_targets(
        Rule="approved",
        Targets=[
            {"Id": "Target0", "Arn": machine_arn, "RoleArn": ROLE, "InputTransformer": TRANSFORMER}
        ],
    )
    _approval_flow(sagemaker, sfn, machine_arn)


def _role(service: str) -> dict[str, Any]:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }
    return {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}}


def _stack_template() -> str:
    """The resources aws-cdk-lib synthesizes for the rule, its target's role and the machine."""
    resources = {
        "MachineRole": _role("states.amazonaws.com"),
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "DefinitionString": json.dumps(ECHO),
                "RoleArn": {"Fn::GetAtt": ["MachineRole", "Arn"]},
            },
        },
        "MachineEventsRole": _role("events.amazonaws.com"),
        "ApprovalRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventPattern": PATTERN,
                "State": "ENABLED",
                "Targets": [
                    {
                        "Arn": {"Ref": "Machine"},
                        "Id": "Target0",
                        "InputTransformer": TRANSFORMER,
                        "RoleArn": {"Fn::GetAtt": ["MachineEventsRole", "Arn"]},
                    }
                ],
            },
        },
    }
    outputs = {"Machine": {"Value": {"Ref": "Machine"}}}
    return json.dumps({"Resources": resources, "Outputs": outputs})


@pytest.fixture
def cloudformation(aws: None) -> Iterator[Any]:
    install_cloudformation_support()
    try:
        yield boto3.client("cloudformation", region_name=REGION)
    finally:
        uninstall_cloudformation_support()


def test_the_rule_deployed_by_cloudformation_starts_the_machine(
    cloudformation: Any, sagemaker: Any, sfn: Any
) -> None:
    cloudformation.create_stack(StackName="pipeline", TemplateBody=_stack_template())
    stack = cloudformation.describe_stacks(StackName="pipeline")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    (output,) = stack["Outputs"]
    _approval_flow(sagemaker, sfn, output["OutputValue"])


def test_a_rule_whose_machine_is_gone_does_not_fail_the_approval(sagemaker: Any, sfn: Any) -> None:
    events = boto3.client("events", region_name=REGION)
    gone = f"arn:aws:states:{REGION}:123456789012:stateMachine:deleted-pipeline"
    machine_arn = sfn.create_state_machine(
        name="pipeline", definition=json.dumps(ECHO), roleArn=ROLE
    )["stateMachineArn"]
    events.put_rule(Name="approved", EventPattern=json.dumps(PATTERN))
    events.put_targets(
        Rule="approved",
        Targets=[
            {"Id": "Gone", "Arn": gone, "RoleArn": ROLE, "InputTransformer": TRANSFORMER},
            {"Id": "Live", "Arn": machine_arn, "RoleArn": ROLE, "InputTransformer": TRANSFORMER},
        ],
    )
    _approval_flow(sagemaker, sfn, machine_arn)
    sent = events.put_events(
        Entries=[
            {
                "Source": "aws.sagemaker",
                "DetailType": "SageMaker Model Package State Change",
                "Detail": json.dumps(
                    {
                        "ModelPackageGroupName": GROUP,
                        "ModelApprovalStatus": "Approved",
                        "CustomerMetadataProperties": {MODE_KEY: "manual"},
                        "ModelPackageArn": f"{GROUP_ARN_PREFIX}/1",
                    }
                ),
            }
        ]
    )
    assert sent["FailedEntryCount"] == 0


# --- the transformer itself -------------------------------------------------------------------

EVENT = {
    "version": "0",
    "id": "1",
    "detail-type": "SageMaker Model Package State Change",
    "source": "aws.sagemaker",
    "account": "123456789012",
    "time": "2021-02-24T17:00:14Z",
    "region": "us-east-1",
    "resources": ["arn:aws:sagemaker:us-east-1:123456789012:model-package/g/2"],
    "detail": {"ModelPackageVersion": 2, "ModelApprovalStatus": "Approved", "Note": 'say "hi"'},
}
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/approved"


def _render(template: str, **paths: str) -> str:
    return render(template, variables(paths, EVENT, RULE_ARN, "approved"))


def test_unquoted_variables_are_json_values_and_quoted_ones_text() -> None:
    rendered = _render(
        '{"version": <v>, "status": <s>, "text": "<s> as v<v>", "note": <n>, '
        '"rule": <aws.events.rule-name>}',
        v="$.detail.ModelPackageVersion",
        s="$.detail.ModelApprovalStatus",
        n="$.detail.Note",
    )
    assert json.loads(rendered) == {
        "version": 2,
        "status": "Approved",
        "text": "Approved as v2",
        "note": 'say "hi"',
        "rule": "approved",
    }


def test_a_variable_whose_path_finds_nothing_is_left_out() -> None:
    rendered = _render('{"a": <missing>, "b": "x<missing>y"}', missing="$.detail.Nothing")
    assert json.loads(rendered) == {"a": None, "b": "xy"}


def test_a_text_template_takes_the_text_of_values() -> None:
    assert _render(
        "<s> is version <v>", s="$.detail.ModelApprovalStatus", v="$.detail.ModelPackageVersion"
    ) == ("Approved is version 2")


def test_the_whole_event_and_the_ingestion_time() -> None:
    rendered = json.loads(
        _render('{"event": <aws.events.event.json>, "at": <aws.events.event.ingestion-time>}')
    )
    assert rendered["event"] == EVENT
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rendered["at"])
