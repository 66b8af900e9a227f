"""The ``aws-sdk`` tasks a registering and deploying state machine runs: createModelPackage,
listModelPackages, describeModelPackage and S3 putObject with SSE-KMS."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.emulator.runs.helpers import ACCOUNT, REGION, RunMachine, machine, task

SDK = "arn:aws:states:::aws-sdk"
GROUP = "mnist-models"
BUCKET = "artifacts"
INFERENCE = {
    "Containers": [
        {
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312",
            "ModelDataUrl": "s3://artifacts/models/job/output/model.tar.gz",
            "Environment": {"SAGEMAKER_PROGRAM": "mnist.py"},
        }
    ],
    "SupportedContentTypes": ["application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
    "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
}


@pytest.fixture
def group(sagemaker: Any) -> str:
    return str(
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)["ModelPackageGroupArn"]
    )


@pytest.fixture
def s3(aws: None) -> Any:
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def key_arn(aws: None) -> str:
    return str(boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"])


def _register(status: str, **fields: Any) -> dict[str, Any]:
    return task(
        f"{SDK}:sagemaker:createModelPackage",
        {
            "ModelPackageGroupName": GROUP,
            "ModelApprovalStatus": status,
            "InferenceSpecification": INFERENCE,
            "CustomerMetadataProperties": {"mlpipeline:approval-mode": "automatic"},
        },
        ResultPath=None,
        **fields,
    )


def test_the_latest_approved_version_is_found_and_described(
    run_machine: RunMachine, group: str
) -> None:
    definition = machine(
        "RegisterOne",
        RegisterOne=_register("Approved", Next="RegisterTwo"),
        RegisterTwo=_register("Approved", Next="RegisterPending"),
        RegisterPending=_register("PendingManualApproval", Next="FindLatestApproved"),
        FindLatestApproved=task(
            f"{SDK}:sagemaker:listModelPackages",
            {
                "ModelPackageGroupName": GROUP,
                "ModelApprovalStatus": "Approved",
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 1,
            },
            ResultPath="$.latest",
            Next="DescribeModelPackage",
        ),
        DescribeModelPackage=task(
            f"{SDK}:sagemaker:describeModelPackage",
            {"ModelPackageName.$": "$.latest.ModelPackageSummaryList[0].ModelPackageArn"},
            ResultSelector={
                "arn.$": "$.ModelPackageArn",
                "version.$": "$.ModelPackageVersion",
                "status.$": "$.ModelApprovalStatus",
                "modelData.$": "$.InferenceSpecification.Containers[0].ModelDataUrl",
                "mode.$": "$.CustomerMetadataProperties['mlpipeline:approval-mode']",
            },
            ResultPath="$.package",
        ),
    )
    execution = run_machine(definition)
    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["package"] == {
        "arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/2",
        "version": 2,
        "status": "Approved",
        "modelData": "s3://artifacts/models/job/output/model.tar.gz",
        "mode": "automatic",
    }


def test_an_unknown_version_fails_describe_with_the_sdk_error_name(
    run_machine: RunMachine, group: str
) -> None:
    unknown = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/3"
    execution = run_machine(
        machine(
            "Describe",
            Describe=task(f"{SDK}:sagemaker:describeModelPackage", {"ModelPackageName": unknown}),
        )
    )
    assert execution.status == "FAILED"
    assert execution.error == "SageMaker.SageMakerException"
    assert execution.cause is not None
    assert execution.cause.startswith(f"ModelPackage {unknown} does not exist. (Service: ")


def test_list_model_packages_is_checked_against_sagemakers_model(
    run_machine: RunMachine, group: str
) -> None:
    execution = run_machine(
        machine(
            "List",
            List=task(
                f"{SDK}:sagemaker:listModelPackages",
                {"ModelPackageGroupName": GROUP, "MaxResults": 1000},
            ),
        )
    )
    assert execution.status == "FAILED"
    assert execution.error == "SageMaker.SageMakerException"
    assert execution.cause is not None
    assert execution.cause.startswith(
        "1 validation error detected: Value '1000' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 100"
    )


def _put_report(key_id: str, bucket: str = BUCKET) -> dict[str, Any]:
    return machine(
        "WriteEvaluationReport",
        WriteEvaluationReport=task(
            f"{SDK}:s3:putObject",
            {
                "Bucket": bucket,
                "Key.$": "States.Format('evaluations/{}.json', $$.Execution.Name)",
                "Body.$": "States.JsonToString($.report)",
                "ContentType": "application/json",
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": key_id,
            },
            ResultPath=None,
        ),
    )


def test_put_object_writes_the_report_encrypted_with_the_key(
    run_machine: RunMachine, s3: Any, key_arn: str
) -> None:
    report = {"accuracy": 0.98, "loss": 0.07}
    execution = run_machine(_put_report(key_arn), {"report": report})
    assert execution.status == "SUCCEEDED", execution.cause
    (listed,) = s3.list_objects_v2(Bucket=BUCKET, Prefix="evaluations/")["Contents"]
    stored = s3.get_object(Bucket=BUCKET, Key=listed["Key"])
    assert json.loads(stored["Body"].read()) == report
    assert stored["ContentType"] == "application/json"
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert stored["SSEKMSKeyId"] == key_arn


def test_put_object_with_a_key_that_does_not_exist_fails(
    run_machine: RunMachine, s3: Any, key_arn: str
) -> None:
    missing = key_arn[:-12] + "000000000000"
    execution = run_machine(_put_report(missing), {"report": {}})
    assert execution.status == "FAILED"
    assert execution.error == "S3.S3Exception"
    assert execution.cause is not None
    assert execution.cause.startswith(f"Key '{missing}' does not exist (Service: S3, ")
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
    with pytest.raises(ClientError) as refused:
        s3.put_object(
            Bucket=BUCKET, Key="k", Body=b"{}", ServerSideEncryption="aws:kms", SSEKMSKeyId=missing
        )
    assert refused.value.response["Error"]["Code"] == "KMS.NotFoundException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_put_object_takes_the_keys_alias(s3: Any, key_arn: str) -> None:
    kms = boto3.client("kms", region_name=REGION)
    kms.create_alias(AliasName="alias/pipeline", TargetKeyId=key_arn)
    s3.put_object(
        Bucket=BUCKET,
        Key="k",
        Body=b"{}",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="alias/pipeline",
    )
    assert s3.head_object(Bucket=BUCKET, Key="k")["ServerSideEncryption"] == "aws:kms"


def test_s3_errors_are_named_as_step_functions_names_them(
    run_machine: RunMachine, key_arn: str
) -> None:
    execution = run_machine(_put_report(key_arn, bucket="no-such-bucket"), {"report": {}})
    assert execution.status == "FAILED"
    assert execution.error == "S3.NoSuchBucketException"
    assert execution.cause is not None
    assert "(Service: S3, Status Code: 404, " in execution.cause
