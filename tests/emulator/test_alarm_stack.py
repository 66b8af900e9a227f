"""``AWS::CloudWatch::Alarm`` deployed through moto's CloudFormation with the emulator's support
installed, in process: the rollout alarms of a pipeline exist once its stack does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlpipeline_emulator import local_sagemaker
from mlpipeline_emulator.cloudformation import (
    install_cloudformation_support,
    uninstall_cloudformation_support,
)

REGION = "us-east-1"


def _template(name: str, threshold: float) -> str:
    alarm = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": name,
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocation5XXErrors",
            "Dimensions": [
                {"Name": "EndpointName", "Value": "mnist-endpoint"},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 2,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
    }
    outputs = {
        "Ref": {"Value": {"Ref": "Alarm"}},
        "Arn": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}},
    }
    return json.dumps({"Resources": {"Alarm": alarm}, "Outputs": outputs})


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    install_cloudformation_support()
    try:
        with local_sagemaker(), mock_aws():
            yield (
                boto3.client("cloudformation", region_name=REGION),
                boto3.client("cloudwatch", region_name=REGION),
            )
    finally:
        uninstall_cloudformation_support()


def test_a_stacks_alarm_is_created_updated_and_deleted_with_it(aws: tuple[Any, Any]) -> None:
    cloudformation, cloudwatch = aws
    cloudformation.create_stack(StackName="s", TemplateBody=_template("errors", 1))
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName="s")["Stacks"][0]["Outputs"]
    }
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["errors"])["MetricAlarms"]
    assert outputs == {"Ref": "errors", "Arn": alarm["AlarmArn"]}
    assert (alarm["MetricName"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "Invocation5XXErrors",
        1.0,
        "notBreaching",
    )
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "EndpointName": "mnist-endpoint",
        "VariantName": "AllTraffic",
    }
    cloudformation.update_stack(StackName="s", TemplateBody=_template("errors", 5))
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=["errors"])["MetricAlarms"]
    assert alarm["Threshold"] == 5.0
    cloudformation.update_stack(StackName="s", TemplateBody=_template("renamed", 5))
    names = [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]]
    assert names == ["renamed"]
    cloudformation.delete_stack(StackName="s")
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
