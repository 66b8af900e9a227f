"""Fine-grained assertions on the synthesized ML pipeline stack."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Capture, Match, Template


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- buckets ---------------------------------------------------------------------------------


def test_three_buckets_data_artifacts_and_access_logs(ml_template: Template) -> None:
    ml_template.resource_count_is("AWS::S3::Bucket", 3)


def test_every_bucket_is_retained_versioned_and_blocks_public_access(
    ml_template_json: dict[str, Any],
) -> None:
    buckets = _resources(ml_template_json, "AWS::S3::Bucket")
    for logical_id, bucket in buckets.items():
        assert bucket["DeletionPolicy"] == "Retain", logical_id
        assert bucket["UpdateReplacePolicy"] == "Retain", logical_id
        props = bucket["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, logical_id
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, logical_id
        assert "BucketEncryption" in props, logical_id


def test_data_and_artifact_buckets_use_the_pipeline_kms_key_and_log_access(
    ml_template: Template,
) -> None:
    for logical_prefix, log_prefix in (
        ("PipelineDataBucket", "data-bucket/"),
        ("PipelineArtifactsBucket", "artifacts-bucket/"),
    ):
        buckets = ml_template.find_resources(
            "AWS::S3::Bucket",
            {
                "Properties": {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {
                                "BucketKeyEnabled": True,
                                "ServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": {
                                        "Fn::GetAtt": [
                                            Match.string_like_regexp("^PipelineKey"),
                                            "Arn",
                                        ]
                                    },
                                },
                            }
                        ]
                    },
                    "LoggingConfiguration": {
                        "DestinationBucketName": {
                            "Ref": Match.string_like_regexp("^PipelineAccessLogsBucket")
                        },
                        "LogFilePrefix": log_prefix,
                    },
                }
            },
        )
        assert [k for k in buckets if k.startswith(logical_prefix)], logical_prefix


def test_access_log_bucket_uses_s3_managed_keys(ml_template: Template) -> None:
    ml_template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "LoggingConfiguration": Match.absent(),
        },
    )


def test_every_bucket_refuses_requests_without_tls(ml_template_json: dict[str, Any]) -> None:
    buckets = set(_resources(ml_template_json, "AWS::S3::Bucket"))
    denied = set()
    for policy in _resources(ml_template_json, "AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if (
                statement["Effect"] == "Deny"
                and statement["Action"] == "s3:*"
                and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            ):
                denied.add(policy["Properties"]["Bucket"]["Ref"])
    assert denied == buckets


def test_kms_key_rotates_and_is_retained(ml_template: Template) -> None:
    ml_template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": {"EnableKeyRotation": True},
            "DeletionPolicy": "Retain",
        },
    )


# --- roles -----------------------------------------------------------------------------------


def test_sagemaker_role_is_trusted_by_sagemaker_only(ml_template: Template) -> None:
    ml_template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                    }
                ]
            }
        },
    )


def test_no_managed_policies_and_no_wildcard_actions(ml_template_json: dict[str, Any]) -> None:
    for role in _resources(ml_template_json, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
    for statement in _statements(ml_template_json):
        for action in _as_list(statement["Action"]):
            _, _, name = action.partition(":")
            assert action != "*" and name != "*", statement


def test_pass_role_only_for_the_sagemaker_role_and_to_sagemaker(
    ml_template_json: dict[str, Any],
) -> None:
    pass_role = [
        s for s in _statements(ml_template_json) if "iam:PassRole" in _as_list(s["Action"])
    ]
    assert pass_role
    for statement in pass_role:
        assert _as_list(statement["Action"]) == ["iam:PassRole"]
        assert statement["Resource"] == {
            "Fn::GetAtt": [statement["Resource"]["Fn::GetAtt"][0], "Arn"]
        }
        assert statement["Resource"]["Fn::GetAtt"][0].startswith("PipelineSageMakerRole")
        assert statement["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }


def _role_statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    statements = []
    for policy in _resources(template, "AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in policy["Properties"]["Roles"]]
        if any(r.startswith(role_prefix) for r in roles):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def test_sagemaker_role_reads_data_prefix_and_writes_models_and_checkpoints_only(
    ml_template_json: dict[str, Any],
) -> None:
    statements = _role_statements(ml_template_json, "PipelineSageMakerRole")
    text = json.dumps(statements)
    assert "/training-data/*" in text
    writes = [s for s in statements if "s3:PutObject" in _as_list(s["Action"])]
    written = [
        (r["Fn::Join"][1][0]["Fn::GetAtt"][0], r["Fn::Join"][1][1])
        for s in writes
        for r in _as_list(s["Resource"])
    ]
    assert sorted(prefix for _, prefix in written) == ["/checkpoints/*", "/models/*"]
    assert all(bucket.startswith("PipelineArtifactsBucket") for bucket, _ in written)
    assert "s3:DeleteObject*" not in text and "s3:DeleteObject" not in text


def test_sagemaker_role_reads_only_its_source_archive_from_the_asset_bucket(
    ml_template_json: dict[str, Any],
) -> None:
    statements = _role_statements(ml_template_json, "PipelineSageMakerRole")
    asset_reads = [s for s in statements if "cdk-hnb659fds-assets" in json.dumps(s)]
    assert len(asset_reads) == 1
    assert asset_reads[0]["Action"] == "s3:GetObject"
    assert json.dumps(asset_reads[0]["Resource"]).endswith('.gz"]]}')


def test_sagemaker_role_pulls_from_the_two_dlc_repositories(
    ml_template_json: dict[str, Any],
) -> None:
    statements = _role_statements(ml_template_json, "PipelineSageMakerRole")
    repositories = [
        json.dumps(s["Resource"])
        for s in statements
        if "ecr:BatchGetImage" in _as_list(s["Action"])
    ]
    joined = " ".join(repositories)
    assert ':repository/pytorch"' in joined  # the training images' repository, "pytorch"
    assert ":repository/pytorch-inference" in joined
    assert "DeepLearningContainerRegistries" in joined


def test_sagemaker_role_writes_logs_and_metrics_scoped(ml_template_json: dict[str, Any]) -> None:
    statements = _role_statements(ml_template_json, "PipelineSageMakerRole")
    logs = [s for s in statements if "logs:PutLogEvents" in _as_list(s["Action"])]
    assert len(logs) == 1 and "/aws/sagemaker/*" in json.dumps(logs[0]["Resource"])
    metrics = [s for s in statements if "cloudwatch:PutMetricData" in _as_list(s["Action"])]
    assert metrics == [
        {
            "Action": "cloudwatch:PutMetricData",
            "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            "Effect": "Allow",
            "Resource": "*",
            "Sid": "PublishSageMakerMetrics",
        }
    ]


# --- state machine ---------------------------------------------------------------------------


def test_state_machine_is_standard_with_all_logging_and_tracing(ml_template: Template) -> None:
    log_group = Capture()
    ml_template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {
                "Level": "ALL",
                "IncludeExecutionData": True,
                "Destinations": [
                    {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group, "Arn"]}}}
                ],
            },
        },
    )
    ml_template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {
                "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^PipelineKey"), "Arn"]},
                "RetentionInDays": 365,
            },
            "DeletionPolicy": "Retain",
        },
    )
    assert log_group.as_string().startswith("PipelineStateMachineLogs")


def test_key_policy_lets_cloudwatch_logs_of_this_account_use_the_key(
    ml_template: Template,
) -> None:
    ml_template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowCloudWatchLogsOfThisAccount",
                                "Condition": {
                                    "ArnLike": {
                                        "kms:EncryptionContext:aws:logs:arn": Match.any_value()
                                    }
                                },
                            }
                        )
                    ]
                )
            }
        },
    )


def test_outputs_name_state_machine_buckets_endpoint_and_model_package_group(
    ml_template: Template,
) -> None:
    outputs = ml_template.find_outputs("*")
    assert set(outputs) == {
        "StateMachineArn",
        "DataBucketName",
        "DataPrefix",
        "ModelPackageGroupName",
        "ArtifactsBucketName",
        "EndpointName",
        "DashboardUrl",
    }
    assert outputs["EndpointName"]["Value"] == "mnist-endpoint"
    assert outputs["DataPrefix"]["Value"] == "training-data/"
    assert outputs["StateMachineArn"]["Value"]["Ref"].startswith("PipelineStateMachine")


# --- notifications, triggers, teardown -------------------------------------------------------


def test_failure_topic_is_encrypted_with_the_pipeline_key_and_refuses_plain_http(
    ml_template: Template, ml_template_json: dict[str, Any]
) -> None:
    ml_template.has_resource_properties(
        "AWS::SNS::Topic",
        {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^PipelineKey"), "Arn"]}},
    )
    policies = _resources(ml_template_json, "AWS::SNS::TopicPolicy").values()
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert any(
        s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_runs_that_time_out_or_are_aborted_are_notified(ml_template: Template) -> None:
    ml_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {"status": ["TIMED_OUT", "ABORTED"]},
            },
            "Targets": [{"Arn": {"Ref": Match.string_like_regexp("^PipelineFailureTopic")}}],
        },
    )


def test_no_triggers_by_default(ml_template_json: dict[str, Any]) -> None:
    rules = _resources(ml_template_json, "AWS::Events::Rule").values()
    assert all("ScheduleExpression" not in r["Properties"] for r in rules)
    assert all(r["Properties"].get("EventPattern", {}).get("source") != ["aws.s3"] for r in rules)


def test_state_machine_role_runs_only_prefixed_training_jobs(
    ml_template_json: dict[str, Any],
) -> None:
    statements = _role_statements(ml_template_json, "PipelineStateMachineRole")
    (run_jobs,) = [s for s in statements if s.get("Sid") == "RunTrainingJobs"]
    assert sorted(run_jobs["Action"]) == [
        "sagemaker:AddTags",
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
    ]
    assert json.dumps(run_jobs["Resource"]).endswith(':training-job/mnist-*"]]}')
    endpoint_calls = [
        s
        for s in statements
        if any(
            a in _as_list(s["Action"])
            for a in ("sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint")
        )
    ]
    assert endpoint_calls
    for statement in endpoint_calls:
        assert json.dumps(statement["Resource"]).endswith(':endpoint/mnist-endpoint"]]}')


def test_deleting_the_stack_deletes_the_endpoint_only(
    ml_template: Template, ml_template_json: dict[str, Any]
) -> None:
    (teardown,) = _resources(ml_template_json, "Custom::EndpointTeardown").values()
    delete = json.loads(teardown["Properties"]["Delete"])
    assert delete["action"] == "deleteEndpoint"
    assert delete["parameters"] == {"EndpointName": "mnist-endpoint"}
    assert delete["ignoreErrorCodesMatching"] == "ValidationException"
    assert "Create" not in teardown["Properties"]
    statements = _role_statements(ml_template_json, "PipelineEndpointTeardownRole")
    actions = sorted(a for s in statements for a in _as_list(s["Action"]))
    assert "sagemaker:DeleteEndpoint" in actions
    assert all(a.startswith(("logs:", "sagemaker:DeleteEndpoint")) for a in actions)
    functions = _resources(ml_template_json, "AWS::Lambda::Function").values()
    for function in functions:
        assert "ManagedPolicyArns" not in json.dumps(function)
