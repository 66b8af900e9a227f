"""moto's CloudFormation with mlpipeline_emulator.cloudformation installed, in process
(``mock_aws``): the AwsCustomResource emulation, the resource types and properties moto lacked,
and the helpers that translate CloudFormation's shapes into the APIs'."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from mlpipeline_emulator.cloudformation import (
    AWS_CUSTOM_RESOURCE_PROVIDER_ID,
    ApiCallError,
    botocore_service_name,
    flatten,
    install_cloudformation_support,
    lifecycle_rule,
    notification_configuration,
    run_aws_custom_resource,
    transport_conditions_hold,
    uninstall_cloudformation_support,
)

# Slow: deploys templates through moto's CloudFormation; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

REGION = "us-east-1"
PROVIDER = f"{AWS_CUSTOM_RESOURCE_PROVIDER_ID}ABCD1234"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    """moto in process, with the CloudFormation support installed and state machines that run."""
    install_cloudformation_support()
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            yield {
                name: boto3.client(name, region_name=REGION)
                for name in ("cloudformation", "s3", "sagemaker", "ssm", "stepfunctions", "sns")
            }
    finally:
        uninstall_cloudformation_support()


def custom_resource_template(
    *, outputs: dict[str, Any] | None = None, **calls: dict[str, Any]
) -> str:
    """A stack with an AwsCustomResource provider Lambda and one custom resource using it;
    ``calls``: its Create, Update and Delete calls."""
    properties: dict[str, Any] = {
        "ServiceToken": {"Fn::GetAtt": [PROVIDER, "Arn"]},
        "InstallLatestAwsSdk": False,
        **{name: json.dumps(call) for name, call in calls.items()},
    }
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return json.dumps(
        {
            "Resources": {
                "Role": {
                    "Type": "AWS::IAM::Role",
                    "Properties": {"AssumeRolePolicyDocument": trust},
                },
                PROVIDER: {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Code": {"ZipFile": "exports.handler = async () => {};"},
                        "Handler": "index.handler",
                        "Runtime": "nodejs20.x",
                        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    },
                },
                "Teardown": {"Type": "Custom::Teardown", "Properties": properties},
            },
            "Outputs": outputs or {},
        }
    )


def delete_endpoint(**extra: Any) -> dict[str, Any]:
    return {
        "service": "SageMaker",
        "action": "deleteEndpoint",
        "parameters": {"EndpointName": "mnist-endpoint"},
        **extra,
    }


def create_endpoint(sagemaker: Any, name: str = "mnist-endpoint") -> None:
    sagemaker.create_model(
        ModelName="model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/serve:1"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="config",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": "model",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="config")


def stack_status(cloudformation: Any, stack_id: str) -> str:
    return str(cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"])


def failure_reasons(cloudformation: Any, stack: str) -> list[str]:
    events = cloudformation.describe_stack_events(StackName=stack)["StackEvents"]
    return [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
        for e in events
        if e["ResourceStatus"].endswith("_FAILED")
    ]


# --- AwsCustomResource, through moto's CloudFormation --------------------------------------------


def test_delete_call_runs_when_the_stack_is_deleted(aws: dict[str, Any]) -> None:
    cloudformation, sagemaker = aws["cloudformation"], aws["sagemaker"]
    create_endpoint(sagemaker)
    stack_id = cloudformation.create_stack(
        StackName="teardown", TemplateBody=custom_resource_template(Delete=delete_endpoint())
    )["StackId"]
    assert sagemaker.describe_endpoint(EndpointName="mnist-endpoint")["EndpointStatus"]

    cloudformation.delete_stack(StackName="teardown")

    assert stack_status(cloudformation, stack_id) == "DELETE_COMPLETE"
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sagemaker.describe_endpoint(EndpointName="mnist-endpoint")


def test_error_matching_ignore_error_codes_lets_the_delete_succeed(aws: dict[str, Any]) -> None:
    cloudformation = aws["cloudformation"]
    call = delete_endpoint(ignoreErrorCodesMatching="Validation")  # a regex search, as in JS
    stack_id = cloudformation.create_stack(
        StackName="teardown", TemplateBody=custom_resource_template(Delete=call)
    )["StackId"]

    cloudformation.delete_stack(StackName="teardown")

    assert stack_status(cloudformation, stack_id) == "DELETE_COMPLETE"


def test_error_not_ignored_fails_the_delete_with_the_providers_message(
    aws: dict[str, Any],
) -> None:
    cloudformation = aws["cloudformation"]
    call = delete_endpoint(ignoreErrorCodesMatching="ResourceNotFound")
    cloudformation.create_stack(
        StackName="teardown", TemplateBody=custom_resource_template(Delete=call)
    )

    cloudformation.delete_stack(StackName="teardown")

    assert stack_status(cloudformation, "teardown") == "DELETE_FAILED"
    reasons = failure_reasons(cloudformation, "teardown")
    assert any(
        r.startswith(
            "Teardown: Received response status [FAILED] from custom resource. "
            "Message returned: Could not find endpoint"
        )
        for r in reasons
    ), reasons
    # The resource is still there: a second delete, once the error is gone, completes.
    create_endpoint(aws["sagemaker"])
    cloudformation.delete_stack(StackName="teardown")
    assert cloudformation.list_stacks()["StackSummaries"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_create_call_sets_physical_id_and_attributes_from_the_response(
    aws: dict[str, Any],
) -> None:
    cloudformation, ssm = aws["cloudformation"], aws["ssm"]
    ssm.put_parameter(Name="/model/version", Value="7", Type="String")
    create = {
        "service": "@aws-sdk/client-ssm",
        "action": "GetParameterCommand",
        "parameters": {"Name": "/model/version"},
        "physicalResourceId": {"responsePath": "Parameter.Name"},
    }
    outputs = {"Version": {"Value": {"Fn::GetAtt": ["Teardown", "Parameter.Value"]}}}
    cloudformation.create_stack(
        StackName="reader", TemplateBody=custom_resource_template(Create=create, outputs=outputs)
    )

    stack = cloudformation.describe_stacks(StackName="reader")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"] == [{"OutputKey": "Version", "OutputValue": "7"}]
    resource = cloudformation.describe_stack_resource(
        StackName="reader", LogicalResourceId="Teardown"
    )["StackResourceDetail"]
    assert resource["PhysicalResourceId"] == "/model/version"


def test_update_call_runs_when_the_properties_change_and_delete_gets_the_physical_id(
    aws: dict[str, Any],
) -> None:
    cloudformation, ssm = aws["cloudformation"], aws["ssm"]

    def put(value: str) -> dict[str, Any]:
        return {
            "service": "SSM",
            "action": "putParameter",
            "parameters": {"Name": "/flag", "Value": value, "Type": "String", "Overwrite": "true"},
            "physicalResourceId": {"id": "/flag"},
        }

    remove = {
        "service": "SSM",
        "action": "deleteParameter",
        "parameters": {"Name": "PHYSICAL:RESOURCEID:"},
    }
    cloudformation.create_stack(
        StackName="flag", TemplateBody=custom_resource_template(Create=put("on"), Delete=remove)
    )
    assert ssm.get_parameter(Name="/flag")["Parameter"]["Value"] == "on"

    cloudformation.update_stack(
        StackName="flag",
        TemplateBody=custom_resource_template(Create=put("on"), Update=put("off"), Delete=remove),
    )
    assert ssm.get_parameter(Name="/flag")["Parameter"]["Value"] == "off"

    cloudformation.delete_stack(StackName="flag")
    with pytest.raises(ClientError, match="ParameterNotFound"):
        ssm.get_parameter(Name="/flag")


def test_failed_create_leaves_the_stack_create_failed_with_the_reason(aws: dict[str, Any]) -> None:
    cloudformation = aws["cloudformation"]
    create = {"service": "SSM", "action": "getParameter", "parameters": {"Name": "/missing"}}
    change_set = cloudformation.create_change_set(
        StackName="broken",
        ChangeSetName="create",
        ChangeSetType="CREATE",
        TemplateBody=custom_resource_template(Create=create),
    )

    cloudformation.execute_change_set(ChangeSetName=change_set["Id"])

    assert stack_status(cloudformation, "broken") == "CREATE_FAILED"
    assert any(
        "ParameterNotFound" in r or "/missing" in r
        for r in failure_reasons(cloudformation, "broken")
    )


# --- AwsCustomResource, the handler alone ---------------------------------------------------------


def event(request_type: str, **properties: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "LogicalResourceId": "Teardown",
        "PhysicalResourceId": "physical-1",
        "ResourceProperties": {k: json.dumps(v) for k, v in properties.items()},
    }


def failing(code: str) -> Any:
    def call_api(service: str, action: str, parameters: dict[str, Any]) -> dict[str, Any]:
        raise ApiCallError(code, f"{code} from {service}.{action}")

    return call_api


def test_handler_ignores_only_error_codes_that_match() -> None:
    ignored = run_aws_custom_resource(
        event("Delete", Delete=delete_endpoint(ignoreErrorCodesMatching="^Validation")),
        failing("ValidationException"),
    )
    reported = run_aws_custom_resource(
        event("Delete", Delete=delete_endpoint(ignoreErrorCodesMatching="ResourceNotFound")),
        failing("ValidationException"),
    )

    assert (ignored.status, ignored.physical_resource_id, ignored.data) == (
        "SUCCESS",
        "physical-1",
        {},
    )
    assert (reported.status, reported.reason) == (
        "FAILED",
        "ValidationException from SageMaker.deleteEndpoint",
    )


def test_handler_physical_ids_follow_the_provider() -> None:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def call_api(service: str, action: str, parameters: dict[str, Any]) -> dict[str, Any]:
        calls.append((service, action, parameters))
        return {"Item": {"Id": "abc", "Tags": ["x", "y"]}, "Empty": {}}

    created = run_aws_custom_resource(
        event("Create", Create={"service": "S", "action": "a"}), call_api
    )
    named = run_aws_custom_resource(
        event("Create", Delete={"service": "S", "action": "d", "physicalResourceId": {"id": "n"}}),
        call_api,
    )
    from_response = run_aws_custom_resource(
        event(
            "Update",
            Update={
                "service": "S",
                "action": "u",
                "parameters": {"Key": "PHYSICAL:RESOURCEID:"},
                "physicalResourceId": {"responsePath": "Item.Id"},
                "outputPaths": ["Item.Tags"],
            },
        ),
        call_api,
    )

    assert created.physical_resource_id == "Teardown"  # LogicalResourceId, with no id given
    assert named.physical_resource_id == "n" and named.data == {}  # no Create call to make
    assert from_response.physical_resource_id == "abc"
    assert from_response.data == {"Item.Tags.0": "x", "Item.Tags.1": "y"}
    assert calls[-1] == ("S", "u", {"Key": "physical-1"})


def test_flatten_joins_keys_and_list_indexes_with_dots() -> None:
    assert flatten({"a": {"b": [1, {"c": None}]}, "d": "e", "f": []}) == {
        "a.b.0": 1,
        "a.b.1.c": None,
        "d": "e",
    }


@pytest.mark.parametrize(
    ("service", "botocore_name"),
    [
        ("SageMaker", "sagemaker"),
        ("@aws-sdk/client-sfn", "stepfunctions"),
        ("StepFunctions", "stepfunctions"),
        ("CloudWatchLogs", "logs"),
        ("@aws-sdk/client-sagemaker-runtime", "sagemaker-runtime"),
        ("S3", "s3"),
    ],
)
def test_service_names_map_to_botocore(service: str, botocore_name: str) -> None:
    assert botocore_service_name(service) == botocore_name


def test_unknown_service_is_an_error_like_the_providers() -> None:
    with pytest.raises(ApiCallError, match="client package with name '@aws-sdk/client-nope'"):
        botocore_service_name("Nope")


# --- Templates the CDK CLI deploys ----------------------------------------------------------------

TLS_ONLY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [
                {"Fn::GetAtt": ["Bucket", "Arn"]},
                {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]},
            ],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]},
            "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}},
        },
    ],
}


def test_template_url_on_the_emulators_endpoint_is_read_path_style(aws: dict[str, Any]) -> None:
    cloudformation, s3 = aws["cloudformation"], aws["s3"]
    s3.create_bucket(Bucket="cdk-assets")
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    s3.put_object(Bucket="cdk-assets", Key="t.json", Body=json.dumps(template).encode())

    cloudformation.create_stack(
        StackName="from-url", TemplateURL="http://127.0.0.1:4566/cdk-assets/t.json"
    )

    assert stack_status(cloudformation, "from-url") == "CREATE_COMPLETE"


def test_change_set_stack_has_outputs_and_every_resource(aws: dict[str, Any]) -> None:
    cloudformation = aws["cloudformation"]
    template = {
        "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Metadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:x"}},
            "Skipped": {"Type": "AWS::SNS::Topic", "Condition": "Never"},
        },
        "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
    }
    change_set = cloudformation.create_change_set(
        StackName="cs",
        ChangeSetName="c1",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
    )
    cloudformation.execute_change_set(ChangeSetName=change_set["Id"])

    stack = cloudformation.describe_stacks(StackName="cs")["Stacks"][0]
    resources = cloudformation.list_stack_resources(StackName="cs")["StackResourceSummaries"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert [o["OutputKey"] for o in stack["Outputs"]] == ["TopicArn"]
    assert stack["Outputs"][0]["OutputValue"].startswith("arn:aws:sns:us-east-1:")
    assert sorted(r["LogicalResourceId"] for r in resources) == ["Metadata", "Topic"]


def test_bucket_is_configured_as_cloudformation_configures_it(aws: dict[str, Any]) -> None:
    cloudformation, s3 = aws["cloudformation"], aws["s3"]
    template = {
        "Resources": {
            "Logs": {"Type": "AWS::S3::Bucket"},
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {
                                "ServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": "alias/data",
                                },
                                "BucketKeyEnabled": True,
                            }
                        ]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": True,
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                    "LifecycleConfiguration": {
                        "Rules": [
                            {
                                "Id": "old",
                                "Status": "Enabled",
                                "Prefix": "tmp/",
                                "ExpirationInDays": 3,
                            }
                        ]
                    },
                    "LoggingConfiguration": {
                        "DestinationBucketName": {"Ref": "Logs"},
                        "LogFilePrefix": "bucket/",
                    },
                },
            },
            "Policy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": TLS_ONLY_POLICY},
            },
        },
        "Outputs": {"Bucket": {"Value": {"Ref": "Bucket"}}, "Logs": {"Value": {"Ref": "Logs"}}},
    }
    cloudformation.create_stack(StackName="buckets", TemplateBody=json.dumps(template))
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cloudformation.describe_stacks(StackName="buckets")["Stacks"][0]["Outputs"]
    }
    bucket = outputs["Bucket"]

    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"] == {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "alias/data",
                },
                "BucketKeyEnabled": True,
            }
        ]
    }
    assert all(s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert (rule["ID"], rule["Filter"], rule["Expiration"]) == (
        "old",
        {"Prefix": "tmp/"},
        {"Days": 3},
    )
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"] == {
        "TargetBucket": outputs["Logs"],
        "TargetPrefix": "bucket/",
    }
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0][
        "Condition"
    ] == {"Bool": {"aws:SecureTransport": "false"}}
    # The TLS-only policy does not deny the emulator's requests...
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    # ... while a statement that denies without conditions still does.
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    }
                ],
            }
        ),
    )
    with pytest.raises(ClientError, match="403"):
        s3.get_object(Bucket=bucket, Key="k")

    cloudformation.delete_stack(StackName="buckets")
    with pytest.raises(ClientError, match="NoSuchBucket"):
        s3.get_bucket_policy(Bucket=bucket)


def test_bucket_update_changes_and_removes_configuration(aws: dict[str, Any]) -> None:
    cloudformation, s3 = aws["cloudformation"], aws["s3"]

    def template(**properties: Any) -> str:
        return json.dumps(
            {
                "Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": properties}},
                "Outputs": {"Bucket": {"Value": {"Ref": "Bucket"}}},
            }
        )

    lifecycle = {"Rules": [{"Status": "Enabled", "ExpirationInDays": 1}]}
    cloudformation.create_stack(
        StackName="b",
        TemplateBody=template(
            VersioningConfiguration={"Status": "Enabled"}, LifecycleConfiguration=lifecycle
        ),
    )
    bucket = cloudformation.describe_stacks(StackName="b")["Stacks"][0]["Outputs"][0]["OutputValue"]

    cloudformation.update_stack(
        StackName="b",
        TemplateBody=template(
            VersioningConfiguration={"Status": "Suspended"}, Tags=[{"Key": "team", "Value": "ml"}]
        ),
    )

    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "ml"}]
    with pytest.raises(ClientError, match="NoSuchLifecycleConfiguration"):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


def test_topic_policy_is_set_and_reset(aws: dict[str, Any]) -> None:
    cloudformation, sns = aws["cloudformation"], aws["sns"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowPublishThroughSSLOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": {"Ref": "Topic"},
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    resources: dict[str, Any] = {
        "Topic": {"Type": "AWS::SNS::Topic"},
        "Policy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": policy},
        },
    }
    outputs = {"Topic": {"Value": {"Ref": "Topic"}}}
    cloudformation.create_stack(
        StackName="topic", TemplateBody=json.dumps({"Resources": resources, "Outputs": outputs})
    )
    topic = cloudformation.describe_stacks(StackName="topic")["Stacks"][0]["Outputs"][0][
        "OutputValue"
    ]

    def sids() -> list[str]:
        attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
        return [s.get("Sid") for s in json.loads(attributes["Policy"])["Statement"]]

    assert sids() == ["AllowPublishThroughSSLOnly"]
    del resources["Policy"]
    cloudformation.update_stack(
        StackName="topic", TemplateBody=json.dumps({"Resources": resources, "Outputs": outputs})
    )
    assert sids() == ["__default_statement_ID"]


def test_kms_key_works_after_create_and_update(aws: dict[str, Any]) -> None:
    cloudformation = aws["cloudformation"]
    kms = boto3.client("kms", region_name=REGION)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }

    def template(description: str) -> str:
        return json.dumps(
            {
                "Resources": {
                    "Key": {
                        "Type": "AWS::KMS::Key",
                        "Properties": {
                            "KeyPolicy": policy,
                            "Description": description,
                            "EnableKeyRotation": True,
                        },
                    }
                },
                "Outputs": {"KeyId": {"Value": {"Ref": "Key"}}},
            }
        )

    cloudformation.create_stack(StackName="key", TemplateBody=template("first"))
    key_id = cloudformation.describe_stacks(StackName="key")["Stacks"][0]["Outputs"][0][
        "OutputValue"
    ]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "first"
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) == policy
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]

    cloudformation.update_stack(StackName="key", TemplateBody=template("second"))

    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "second"
    resources = cloudformation.list_stack_resources(StackName="key")["StackResourceSummaries"]
    assert [r["PhysicalResourceId"] for r in resources] == [key_id]


def test_state_machine_is_served_by_the_api_that_executes_it(aws: dict[str, Any]) -> None:
    cloudformation, sfn = aws["cloudformation"], aws["stepfunctions"]
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "DefinitionString": json.dumps(definition),
                    "RoleArn": "arn:aws:iam::123456789012:role/sfn",
                    "StateMachineType": "STANDARD",
                    "TracingConfiguration": {"Enabled": True},
                },
            }
        },
        "Outputs": {"Arn": {"Value": {"Ref": "Machine"}}},
    }
    cloudformation.create_stack(StackName="sfn", TemplateBody=json.dumps(template))
    arn = cloudformation.describe_stacks(StackName="sfn")["Stacks"][0]["Outputs"][0]["OutputValue"]

    described = sfn.describe_state_machine(stateMachineArn=arn)
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    import time

    deadline = time.monotonic() + 10
    while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    assert json.loads(described["definition"]) == definition
    assert described["tracingConfiguration"] == {"enabled": True}
    assert status == "SUCCEEDED"


# --- Shape translations ---------------------------------------------------------------------------


def test_lifecycle_rule_translates_the_cdk_defaults() -> None:
    rule = {
        "Id": "NoncurrentVersionsToInfrequentAccess",
        "Status": "Enabled",
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        "NoncurrentVersionTransitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}],
    }
    assert lifecycle_rule(rule) == {
        "ID": "NoncurrentVersionsToInfrequentAccess",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        "NoncurrentVersionTransitions": [{"StorageClass": "STANDARD_IA", "NoncurrentDays": 30}],
    }


def test_lifecycle_rule_combines_several_filters_with_and() -> None:
    rule = {
        "Status": "Enabled",
        "Prefix": "logs/",
        "TagFilters": [{"Key": "k", "Value": "v"}],
        "ExpirationInDays": "5",
        "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 1}],
    }
    assert lifecycle_rule(rule) == {
        "Status": "Enabled",
        "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "k", "Value": "v"}]}},
        "Expiration": {"Days": 5},
        "Transitions": [{"StorageClass": "GLACIER", "Days": 1}],
    }


def test_notification_configuration_translates_eventbridge_and_targets() -> None:
    configuration = {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True},
        "TopicConfigurations": [
            {
                "Event": "s3:ObjectCreated:*",
                "Topic": "arn:aws:sns:us-east-1:1:t",
                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "training-data/"}]}},
            }
        ],
    }
    assert notification_configuration(configuration) == {
        "EventBridgeConfiguration": {},
        "TopicConfigurations": [
            {
                "TopicArn": "arn:aws:sns:us-east-1:1:t",
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "training-data/"}]}},
            }
        ],
    }


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"Bool": {"aws:SecureTransport": "false"}}, False),
        ({"Bool": {"aws:SecureTransport": ["true"]}}, True),
        ({"NumericLessThan": {"s3:TlsVersion": 1.2}}, False),
        ({"NumericGreaterThanEqualsIfExists": {"s3:TlsVersion": "1.2"}}, True),
        ({"StringEquals": {"aws:SourceAccount": "123456789012"}}, True),  # left to moto
        (None, True),
    ],
)
def test_transport_conditions_are_evaluated_for_a_loopback_tls_request(
    condition: dict[str, Any] | None, holds: bool
) -> None:
    assert transport_conditions_hold(condition) is holds


def test_deleting_a_change_set_that_is_not_there_succeeds(aws: dict[str, Any]) -> None:
    cloudformation = aws["cloudformation"]
    cloudformation.delete_change_set(ChangeSetName="cdk-deploy-change-set", StackName="S")
    created = cloudformation.create_change_set(
        StackName="S",
        ChangeSetName="cdk-deploy-change-set",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}),
    )
    cloudformation.delete_change_set(ChangeSetName="cdk-deploy-change-set", StackName="S")
    with pytest.raises(ClientError):
        cloudformation.describe_change_set(ChangeSetName=created["Id"])
