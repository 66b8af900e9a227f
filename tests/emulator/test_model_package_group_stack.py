"""``AWS::SageMaker::ModelPackageGroup`` deployed through moto's CloudFormation with the
emulator's support installed, in process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mlpipeline_emulator import local_sagemaker
from mlpipeline_emulator.cloudformation import (
    install_cloudformation_support,
    uninstall_cloudformation_support,
)

REGION = "us-east-1"
GROUP = "mnist-models"


def _policy(account: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadFromProduction",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["sagemaker:DescribeModelPackage"],
                "Resource": "*",
            }
        ],
    }


def _template(**properties: Any) -> str:
    resources = {
        "Group": {
            "Type": "AWS::SageMaker::ModelPackageGroup",
            "Properties": {"ModelPackageGroupName": GROUP, **properties},
        }
    }
    outputs = {
        "Ref": {"Value": {"Ref": "Group"}},
        "Arn": {"Value": {"Fn::GetAtt": ["Group", "ModelPackageGroupArn"]}},
        "Status": {"Value": {"Fn::GetAtt": ["Group", "ModelPackageGroupStatus"]}},
    }
    return json.dumps({"Resources": resources, "Outputs": outputs})


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    install_cloudformation_support()
    try:
        with (
            local_sagemaker(),
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        ):
            yield (
                boto3.client("cloudformation", region_name=REGION),
                boto3.client("sagemaker", region_name=REGION),
            )
    finally:
        uninstall_cloudformation_support()


def _outputs(cloudformation: Any) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName="registry")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_group_is_created_with_its_policy_updated_and_deleted(aws: tuple[Any, Any]) -> None:
    cloudformation, sagemaker = aws
    cloudformation.create_stack(
        StackName="registry",
        TemplateBody=_template(
            ModelPackageGroupDescription="models of the MNIST pipeline",
            ModelPackageGroupPolicy=_policy("111111111111"),
        ),
    )
    outputs = _outputs(cloudformation)
    arn = f"arn:aws:sagemaker:{REGION}:123456789012:model-package-group/{GROUP}"
    assert outputs == {"Ref": arn, "Arn": arn, "Status": "Completed"}
    described = sagemaker.describe_model_package_group(ModelPackageGroupName=GROUP)
    assert described["ModelPackageGroupDescription"] == "models of the MNIST pipeline"

    def policy() -> Any:
        got = sagemaker.get_model_package_group_policy(ModelPackageGroupName=GROUP)
        return json.loads(got["ResourcePolicy"])

    assert policy() == _policy("111111111111")
    cloudformation.update_stack(
        StackName="registry",
        TemplateBody=_template(
            ModelPackageGroupDescription="models of the MNIST pipeline",
            ModelPackageGroupPolicy=_policy("222222222222"),
        ),
    )
    assert policy() == _policy("222222222222")
    cloudformation.delete_stack(StackName="registry")
    with pytest.raises(ClientError) as gone:
        sagemaker.describe_model_package_group(ModelPackageGroupName=GROUP)
    assert gone.value.response["Error"]["Code"] == "ValidationException"


def test_a_deployed_rule_starts_its_state_machine_when_a_version_is_approved(
    aws: tuple[Any, Any],
) -> None:
    cloudformation, sagemaker = aws
    role = "arn:aws:iam::123456789012:role/Deploy"
    pattern = {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [GROUP], "ModelApprovalStatus": ["Approved"]},
    }
    resources = json.loads(_template())["Resources"]
    resources["Deploy"] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "DefinitionString": json.dumps(
                {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
            ),
            "RoleArn": role,
        },
    }
    resources["OnApproval"] = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "EventPattern": pattern,
            "State": "ENABLED",
            "Targets": [{"Id": "Target0", "Arn": {"Ref": "Deploy"}, "RoleArn": role}],
        },
    }
    outputs = {"Machine": {"Value": {"Ref": "Deploy"}}}
    cloudformation.create_stack(
        StackName="registry",
        TemplateBody=json.dumps({"Resources": resources, "Outputs": outputs}),
    )
    machine = _outputs(cloudformation)["Machine"]
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": "image:1", "ModelDataUrl": "s3://bucket/model.tar.gz"}],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    started = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert started["detail"]["ModelPackageArn"] == arn
