"""Two accounts in one emulator: each request acts in its credentials' account, and another
account's model package groups, buckets and keys are reached only as their policies allow."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.s3.models import FakeBucket

from mlpipeline_emulator.cloudformation import (
    install_cloudformation_support,
    uninstall_cloudformation_support,
)
from mlpipeline_emulator.cloudformation._bucket_policies import bucket_permission
from tests.emulator.runs.helpers import ACCOUNT, REGION, machine, task, wait_for

B = "222222222222"
GROUP = "shared-models"
GROUP_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{GROUP}"
VERSIONS = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/*"
BUCKET = "stage-artifacts"
INFERENCE = {
    "Containers": [
        {
            "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310",
            "ModelDataUrl": f"s3://{BUCKET}/models/model.tar.gz",
        }
    ],
    "SupportedContentTypes": ["application/json"],
    "SupportedResponseMIMETypes": ["application/json"],
}
#: What the construct grants a consumer account: the actions promotion needs.
CONSUMER_ACTIONS = [
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:DescribeModelPackage",
    "sagemaker:ListModelPackages",
    "sagemaker:CreateModel",
]


def client_in(account: str, service: str) -> Any:
    """A client whose credentials act in ``account``: STS AssumeRole of a role there."""
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/Deployer", RoleSessionName="deploy"
    )["Credentials"]
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def _statement(principal: Any, actions: Any, resources: Any, effect: str = "Allow") -> Any:
    return {"Effect": effect, "Principal": principal, "Action": actions, "Resource": resources}


def _group_policy(*statements: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def version(sagemaker: Any) -> str:
    """Account A's group with an approved version; no policy yet."""
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification=INFERENCE,
            ModelApprovalStatus="Approved",
        )["ModelPackageArn"]
    )


def _error(refused: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = refused.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def _reads(theirs: Any, version: str) -> dict[str, Any]:
    return {
        "DescribeModelPackageGroup": lambda: theirs.describe_model_package_group(
            ModelPackageGroupName=GROUP_ARN
        ),
        "DescribeModelPackage": lambda: theirs.describe_model_package(ModelPackageName=version),
        "ListModelPackages": lambda: theirs.list_model_packages(ModelPackageGroupName=GROUP_ARN),
        "CreateModel": lambda: theirs.create_model(
            ModelName="promoted",
            PrimaryContainer={"ModelPackageName": version},
            ExecutionRoleArn=f"arn:aws:iam::{B}:role/SageMakerRole",
        ),
    }


@pytest.mark.parametrize("action", list(_reads(None, "").keys()))
def test_without_the_groups_policy_another_account_is_refused(
    sagemaker: Any, version: str, action: str
) -> None:
    theirs = client_in(B, "sagemaker")
    with pytest.raises(ClientError) as refused:
        _reads(theirs, version)[action]()
    code, message, status = _error(refused)
    assert (code, status) == ("AccessDeniedException", 400)
    assert f"is not authorized to perform: sagemaker:{action}" in message
    assert f"because no resource-based policy allows the sagemaker:{action} action" in message


def test_the_groups_policy_lets_the_consumer_account_read_and_use_its_versions(
    sagemaker: Any, version: str
) -> None:
    sagemaker.put_model_package_group_policy(
        ModelPackageGroupName=GROUP,
        ResourcePolicy=_group_policy(
            _statement({"AWS": f"arn:aws:iam::{B}:root"}, CONSUMER_ACTIONS, [GROUP_ARN, VERSIONS])
        ),
    )
    theirs = client_in(B, "sagemaker")
    reads = _reads(theirs, version)
    assert reads["DescribeModelPackageGroup"]()["ModelPackageGroupArn"] == GROUP_ARN
    assert reads["DescribeModelPackage"]()["ModelApprovalStatus"] == "Approved"
    listed = reads["ListModelPackages"]()["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in listed] == [version]
    model_arn = reads["CreateModel"]()["ModelArn"]
    assert f":{B}:model/promoted" in model_arn  # the model is the consumer's


def test_a_policy_for_another_account_does_not_open_the_group(sagemaker: Any, version: str) -> None:
    sagemaker.put_model_package_group_policy(
        ModelPackageGroupName=GROUP,
        ResourcePolicy=_group_policy(_statement({"AWS": "333333333333"}, "sagemaker:*", "*")),
    )
    with pytest.raises(ClientError) as refused:
        client_in(B, "sagemaker").describe_model_package(ModelPackageName=version)
    assert _error(refused)[0] == "AccessDeniedException"


def test_wildcard_actions_and_an_explicit_deny(sagemaker: Any, version: str) -> None:
    sagemaker.put_model_package_group_policy(
        ModelPackageGroupName=GROUP,
        ResourcePolicy=_group_policy(
            _statement({"AWS": B}, "sagemaker:Describe*", [GROUP_ARN, VERSIONS]),
            _statement({"AWS": B}, "sagemaker:DescribeModelPackage", version, effect="Deny"),
        ),
    )
    theirs = client_in(B, "sagemaker")
    assert theirs.describe_model_package_group(ModelPackageGroupName=GROUP_ARN)
    with pytest.raises(ClientError) as refused:
        theirs.describe_model_package(ModelPackageName=version)
    code, message, _ = _error(refused)
    assert code == "AccessDeniedException"
    assert message.endswith("with an explicit deny in a resource-based policy")


def test_a_condition_the_emulator_cannot_evaluate_refuses(sagemaker: Any, version: str) -> None:
    statement = _statement({"AWS": B}, "sagemaker:*", "*")
    statement["Condition"] = {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    sagemaker.put_model_package_group_policy(
        ModelPackageGroupName=GROUP, ResourcePolicy=_group_policy(statement)
    )
    with pytest.raises(ClientError) as refused:
        client_in(B, "sagemaker").describe_model_package(ModelPackageName=version)
    code, message, _ = _error(refused)
    assert code == "AccessDeniedException"
    assert "cannot evaluate" in message and "IpAddress" in message


def test_the_owner_needs_no_policy(sagemaker: Any, version: str) -> None:
    assert sagemaker.describe_model_package(ModelPackageName=version)["ModelPackageArn"] == version


# --- S3 and KMS -------------------------------------------------------------------------------


@pytest.fixture
def s3(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    # The emulator's own check of a bucket policy over its plain HTTP (the daemon installs it
    # with the CloudFormation support); moto's would take the CDK's TLS-only Deny as met.
    monkeypatch.setattr(FakeBucket, "get_permission", bucket_permission)
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


def _bucket_policy(*statements: Any) -> str:
    tls_only = {  # what the CDK's enforceSSL adds to every bucket policy
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [tls_only, *statements]})


def _read_as_b(key: str) -> bytes:
    return bytes(client_in(B, "s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_another_accounts_object_needs_the_bucket_policy(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="models/m.tar.gz", Body=b"model")
    with pytest.raises(ClientError) as refused:
        _read_as_b("models/m.tar.gz")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=_bucket_policy(
            _statement(
                {"AWS": f"arn:aws:iam::{B}:root"}, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/models/*"
            )
        ),
    )
    assert _read_as_b("models/m.tar.gz") == b"model"
    s3.put_object(Bucket=BUCKET, Key="data/train.csv", Body=b"x")
    with pytest.raises(ClientError):  # only models/ is shared
        _read_as_b("data/train.csv")
    with pytest.raises(ClientError):  # and only reading
        client_in(B, "s3").put_object(Bucket=BUCKET, Key="models/evil", Body=b"x")


def _key(policy_for_b: bool) -> str:
    kms = boto3.client("kms", region_name=REGION)
    statements: list[Any] = [
        _statement({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "kms:*", "*"),
    ]
    if policy_for_b:
        decrypt = _statement({"AWS": f"arn:aws:iam::{B}:root"}, "kms:Decrypt", "*")
        decrypt["Condition"] = {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}
        statements.append(decrypt)
    return str(
        kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))[
            "KeyMetadata"
        ]["Arn"]
    )


@pytest.mark.parametrize("policy_for_b", [False, True])
def test_an_sse_kms_object_also_needs_the_keys_policy(s3: Any, policy_for_b: bool) -> None:
    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=_bucket_policy(_statement({"AWS": B}, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/*")),
    )
    s3.put_object(
        Bucket=BUCKET,
        Key="models/m.tar.gz",
        Body=b"model",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=_key(policy_for_b),
    )
    if policy_for_b:
        assert _read_as_b("models/m.tar.gz") == b"model"
    else:
        with pytest.raises(ClientError) as refused:
            _read_as_b("models/m.tar.gz")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_an_object_under_the_aws_managed_key_cannot_be_shared(s3: Any) -> None:
    s3.put_bucket_policy(
        Bucket=BUCKET,
        Policy=_bucket_policy(_statement({"AWS": B}, "s3:GetObject", f"arn:aws:s3:::{BUCKET}/*")),
    )
    s3.put_object(Bucket=BUCKET, Key="m", Body=b"model", ServerSideEncryption="aws:kms")
    with pytest.raises(ClientError) as refused:
        _read_as_b("m")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


# --- Step Functions ---------------------------------------------------------------------------


def test_a_state_machine_of_another_account_acts_in_that_account(sagemaker: Any) -> None:
    sfn = client_in(B, "stepfunctions")
    definition = machine(
        "Register",
        Register=task(
            "arn:aws:states:::aws-sdk:sagemaker:createModelPackageGroup",
            {"ModelPackageGroupName": "their-models"},
        ),
    )
    created = sfn.create_state_machine(
        name="theirs",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{B}:role/StateMachineRole",
    )
    execution = sfn.start_execution(stateMachineArn=created["stateMachineArn"])["executionArn"]
    assert f":{B}:" in execution
    described = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        "the execution",
    )
    assert described["status"] == "SUCCEEDED", described
    group = json.loads(described["output"])["ModelPackageGroupArn"]
    assert group == f"arn:aws:sagemaker:{REGION}:{B}:model-package-group/their-models"
    theirs = client_in(B, "sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"]
    ours = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in theirs] == ["their-models"]
    assert ours == []


def _run_in_b(role: str, definition: dict[str, Any]) -> dict[str, Any]:
    sfn = client_in(B, "stepfunctions")
    created = sfn.create_state_machine(
        name=role.rsplit("/", 1)[1], definition=json.dumps(definition), roleArn=role
    )
    execution = sfn.start_execution(stateMachineArn=created["stateMachineArn"])["executionArn"]
    described: dict[str, Any] = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        "the execution",
    )
    return described


def test_a_policy_naming_a_role_lets_only_that_roles_tasks_in(sagemaker: Any, version: str) -> None:
    deployer = f"arn:aws:iam::{B}:role/DeployMachineRole"
    sagemaker.put_model_package_group_policy(
        ModelPackageGroupName=GROUP,
        ResourcePolicy=_group_policy(
            _statement({"AWS": deployer}, "sagemaker:DescribeModelPackage", VERSIONS)
        ),
    )
    definition = machine(
        "Describe",
        Describe=task(
            "arn:aws:states:::aws-sdk:sagemaker:describeModelPackage",
            {"ModelPackageName": version},
        ),
    )
    allowed = _run_in_b(deployer, definition)
    assert allowed["status"] == "SUCCEEDED", allowed
    assert json.loads(allowed["output"])["ModelPackageArn"] == version
    other = _run_in_b(f"arn:aws:iam::{B}:role/OtherMachineRole", definition)
    assert other["status"] == "FAILED"
    assert other["cause"].startswith(
        f"User: arn:aws:iam::{B}:role/OtherMachineRole is not authorized to perform: "
        "sagemaker:DescribeModelPackage"
    )


def test_a_training_job_of_another_accounts_state_machine_is_that_accounts(
    sagemaker: Any,
) -> None:
    job = {
        "TrainingJobName": "their-training",
        "RoleArn": f"arn:aws:iam::{B}:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingImage": "image", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://their-artifacts/models"},
        "ResourceConfig": {
            "InstanceCount": 1,
            "InstanceType": "ml.m5.xlarge",
            "VolumeSizeInGB": 10,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    definition = machine(
        "Train", Train=task("arn:aws:states:::sagemaker:createTrainingJob.sync", job)
    )
    finished = _run_in_b(f"arn:aws:iam::{B}:role/TrainMachineRole", definition)
    assert finished["status"] == "SUCCEEDED", finished
    arn = json.loads(finished["output"])["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:{REGION}:{B}:training-job/their-training"
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


def test_the_group_policy_of_a_cloudformation_stack_is_enforced(aws: None) -> None:
    template = {
        "Resources": {
            "Group": {
                "Type": "AWS::SageMaker::ModelPackageGroup",
                "Properties": {
                    "ModelPackageGroupName": GROUP,
                    "ModelPackageGroupPolicy": {
                        "Version": "2012-10-17",
                        "Statement": [
                            _statement(
                                {"AWS": f"arn:aws:iam::{B}:root"},
                                "sagemaker:DescribeModelPackageGroup",
                                GROUP_ARN,
                            )
                        ],
                    },
                },
            }
        }
    }
    install_cloudformation_support()
    try:
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="registry", TemplateBody=json.dumps(template)
        )
    finally:
        uninstall_cloudformation_support()
    described = client_in(B, "sagemaker").describe_model_package_group(
        ModelPackageGroupName=GROUP_ARN
    )
    assert described["ModelPackageGroupArn"] == GROUP_ARN
    with pytest.raises(ClientError) as refused:
        client_in("333333333333", "sagemaker").describe_model_package_group(
            ModelPackageGroupName=GROUP_ARN
        )
    assert _error(refused)[0] == "AccessDeniedException"
