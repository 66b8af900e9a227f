"""The model registry in the template: the group, the registration and look-up requests the state
machine makes (checked against botocore's SageMaker model), their IAM scope, the approval rule,
promotion grants and the settings' checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore.session
import cfnlint
import pytest
from aws_cdk.assertions import Template

from mlpipeline_cdk import MLPipeline, RegistrySettings
from mlpipeline_cdk._group_resource import REGIONS_WITHOUT_GROUP_TYPE
from mlpipeline_cdk.contract import registry as contract
from mlpipeline_cdk.contract import run_input
from mlpipeline_cli.asl import render_definition

from conftest import ROOT, new_app

CODE = str(ROOT / "training_code")
ACCOUNT = "123456789012"
SOURCE = f"arn:aws:sagemaker:us-east-1:{ACCOUNT[:-1]}9:model-package-group/staging-models"


def _template(
    registry: RegistrySettings | None = None, region: str = "us-east-1"
) -> dict[str, Any]:
    stack = cdk.Stack(new_app(), "S", env=cdk.Environment(account=ACCOUNT, region=region))
    props: dict[str, Any] = {"source_dir": CODE, "entry_point": "mnist.py"}
    if registry is not None:
        props["registry"] = registry
    MLPipeline(stack, "P", **props)
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def default() -> dict[str, Any]:
    return _template()


@pytest.fixture(scope="module")
def promoting() -> dict[str, Any]:
    return _template(RegistrySettings(promote_from=SOURCE, approval="manual"))


@pytest.fixture(scope="module")
def sharing() -> dict[str, Any]:
    return _template(RegistrySettings(consumer_accounts=["222222222222", "333333333333"]))


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _states(template: dict[str, Any]) -> dict[str, Any]:
    return dict(render_definition(template)["States"])


def _statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for resource in _resources(template, "AWS::IAM::Policy").values()
        if any(
            r["Ref"].startswith(role_prefix) for r in resource["Properties"]["Roles"] if "Ref" in r
        )
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _granted(statements: list[dict[str, Any]], action: str) -> list[str]:
    """The resources ``action`` is allowed on, rendered as text."""
    found = []
    for statement in statements:
        if action in _actions(statement):
            resources = statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                found.append(json.dumps(resource, sort_keys=True))
    return found


# --- the group ---------------------------------------------------------------------------------


def test_the_pipeline_creates_its_group_and_keeps_it_when_the_stack_is_deleted(
    default: dict[str, Any],
) -> None:
    ((_, group),) = _resources(default, "AWS::SageMaker::ModelPackageGroup").items()
    assert group["Properties"]["ModelPackageGroupName"] == "mlpipeline-models"
    assert "ModelPackageGroupPolicy" not in group["Properties"]
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain"


def test_regions_without_the_cloudformation_type_are_those_of_cfn_lints_specification() -> None:
    # AWS's CloudFormation resource specification per region, as cfn-lint ships it.
    providers = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"
    regions = {
        path.stem
        for path in providers.glob("*.json")
        if path.stem != "sam" and "AWS::SageMaker::ModelPackageGroup" not in path.read_text()
    }
    assert regions == REGIONS_WITHOUT_GROUP_TYPE


def test_where_cloudformation_has_no_group_type_a_custom_resource_creates_and_keeps_it() -> None:
    template = _template(RegistrySettings(consumer_accounts=["222222222222"]), "cn-north-1")
    assert not _resources(template, "AWS::SageMaker::ModelPackageGroup")
    (group,) = _resources(template, "Custom::ModelPackageGroup").values()
    create = json.loads(group["Properties"]["Create"])
    assert create["action"] == "createModelPackageGroup"
    assert create["parameters"]["ModelPackageGroupName"] == "mlpipeline-models"
    assert "Delete" not in group["Properties"]
    (policy,) = _resources(template, "Custom::ModelPackageGroupPolicy").values()
    assert "putModelPackageGroupPolicy" in json.dumps(policy["Properties"]["Create"])
    # One role runs every custom resource of the stack (aws-cdk-lib's singleton function), and
    # says what for.
    lambda_roles = [
        r
        for r in _resources(template, "AWS::IAM::Role").values()
        if "lambda.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    ]
    assert [r["Properties"]["Description"] for r in lambda_roles] == [
        "Creates the ML pipeline's model package group where CloudFormation cannot; deletes the "
        "ML pipeline's endpoint when the stack is deleted"
    ]


# --- what runs register and deploy ------------------------------------------------------------


def _validate(operation: str, params: dict[str, Any]) -> None:
    """Raise unless botocore's SageMaker model accepts ``params`` for ``operation``; JSONPath
    placeholders (keys ending ``.$``) are replaced by a value of the member's type first."""
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model(operation).input_shape

    def concrete(value: Any, member: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                name = key.removesuffix(".$")
                sub = member.value if member.type_name == "map" else member.members[name]
                if key.endswith(".$"):
                    out[name] = {"string": "x", "integer": 1, "float": 0.5, "double": 0.5}.get(
                        sub.type_name, "x"
                    )
                else:
                    out[name] = concrete(item, sub)
            return out
        if isinstance(value, list):
            return [concrete(item, member.member) for item in value]
        return value

    report = ParamValidator().validate(concrete(params, shape), shape)
    assert not report.has_errors(), report.generate_report()


def test_registration_request_is_valid_and_records_lineage_metrics_and_the_container(
    default: dict[str, Any],
) -> None:
    states = _states(default)
    register = states["RegisterModelPackage"]
    assert register["Resource"].endswith(":states:::aws-sdk:sagemaker:createModelPackage")
    params = register["Parameters"]
    _validate("CreateModelPackage", params)
    assert params["MetadataProperties"] == {
        "GeneratedBy.$": "$$.Execution.Id",
        "CommitId": params["CustomerMetadataProperties"][contract.CODE_ASSET_HASH],
    }
    assert params["ModelPackageGroupName"] == "mlpipeline-models"
    assert params["ModelApprovalStatus.$"] == "$.registration"
    # Idempotent when retried: the same execution gives the same token.
    assert params["ClientToken.$"] == "States.Hash($$.Execution.Id, 'MD5')"
    assert set(params["CustomerMetadataProperties"]) == {
        f"{k}.$" if k != contract.CODE_ASSET_HASH else k for k in contract.LINEAGE_KEYS
    }
    (container,) = params["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl.$"] == "$.training.modelArtifacts"
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "mnist.py"
    assert "pytorch-inference" in container["Image"]
    statistics = params["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics == {"ContentType": "application/json", "S3Uri.$": "$.report.uri"}
    report = states["WriteEvaluationReport"]["Parameters"]
    assert report["ServerSideEncryption"] == "aws:kms"
    assert report["Key.$"] == "States.Format('evaluations/{}.json', $$.Execution.Name)"


def test_manual_mode_registers_pending_and_ends_before_the_deployment(
    default: dict[str, Any],
) -> None:
    states = _states(default)
    choose = states["ChooseApprovalStatus"]["Choices"]
    assert choose == [
        {"Variable": "$.config.approval", "StringEquals": "manual", "Next": "RegisterPending"}
    ]
    assert states["RegisterPending"]["Result"] == contract.PENDING
    assert states["RegisterApproved"]["Result"] == contract.APPROVED
    (manual,) = states["ApprovalMode"]["Choices"]
    assert manual["Next"] == "AwaitingApproval"
    assert states["AwaitingApproval"]["Next"] == "RunAwaitingApproval"
    output = states["RunAwaitingApproval"]["Parameters"]
    assert output["deploymentStatus"] == "AwaitingApproval"
    assert "endpointName.$" not in output
    assert states["ApprovalMode"]["Default"] == "DeployRegisteredVersion"
    assert states["DeployRegisteredVersion"]["Next"] == "CreateModel"


def test_the_model_is_created_from_the_version_itself(default: dict[str, Any]) -> None:
    params = _states(default)["CreateModel"]["Parameters"]
    assert params["PrimaryContainer"] == {"ModelPackageName.$": "$.modelPackage.arn"}


def test_a_run_given_a_version_skips_training_and_checks_the_version(
    default: dict[str, Any],
) -> None:
    states = _states(default)
    route = states["TrainOrDeployVersion"]
    (train,) = route["Choices"]
    assert (train["Variable"], train["StringEquals"]) == ("$.config.modelPackage", "")
    # The training fragment's first state (it picks the image for the instance type).
    assert train["Next"] == "ListInstanceTypeClasses"
    assert route["Default"] == "LatestOrGivenVersion"
    latest = states["FindLatestApproved"]["Parameters"]
    _validate("ListModelPackages", latest)
    assert latest["ModelApprovalStatus"] == "Approved"
    assert (latest["SortBy"], latest["SortOrder"], latest["MaxResults"]) == (
        "CreationTime",
        "Descending",
        1,
    )
    _validate("DescribeModelPackage", states["DescribeModelPackage"]["Parameters"])
    (approved,) = states["CheckModelPackage"]["Choices"]
    assert approved["StringEquals"] == "Approved"
    assert states["CheckModelPackage"]["Default"] == contract.MODEL_PACKAGE_NOT_APPROVED


def test_a_run_the_approval_rule_started_deploys_only_a_version_registered_in_manual_mode(
    default: dict[str, Any],
) -> None:
    states = _states(default)
    (left,) = states["RegisteredForApproval"]["Choices"]
    assert left["Next"] == "LeftToItsRun"
    assert left["And"] == [
        {"Variable": "$.config.onApproval", "BooleanEquals": True},
        {
            "Not": {
                "Variable": f"$.found.lineage.{contract.APPROVAL_MODE}",
                "StringEquals": "manual",
            }
        },
    ]
    assert states["RegisteredForApproval"]["Default"] == "UseModelPackage"
    assert states["RunLeftToItsRun"]["Parameters"]["deploymentStatus"] == "LeftToItsRun"


def test_run_input_accepts_only_versions_of_the_pipelines_group(default: dict[str, Any]) -> None:
    rules = _states(default)["ValidateRunInput"]["Choices"]
    (rule,) = [r for r in rules if r["Next"] == "RejectModelPackage"]
    text = json.dumps(rule)
    assert "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlpipeline-models/*" in text
    assert '"StringEquals": "latest"' in text


# --- IAM ---------------------------------------------------------------------------------------


def test_state_machine_registers_reads_and_deploys_only_its_groups_versions(
    default: dict[str, Any],
) -> None:
    statements = _statements(default, "PStateMachineRole")
    group = '"arn:aws:sagemaker:us-east-1:123456789012:model-package-group/mlpipeline-models"'
    versions = '"arn:aws:sagemaker:us-east-1:123456789012:model-package/mlpipeline-models/*"'
    assert sorted(_granted(statements, "sagemaker:CreateModelPackage")) == sorted([group, versions])
    assert _granted(statements, "sagemaker:DescribeModelPackage") == [versions]
    # As AWS's example group policy grants it: on the group and on its versions.
    assert sorted(_granted(statements, "sagemaker:ListModelPackages")) == sorted([group, versions])
    assert versions in _granted(statements, "sagemaker:CreateModel")
    (report,) = _granted(statements, "s3:PutObject")
    assert report.endswith('"/evaluations/*"]]}')
    assert not any("sagemaker:UpdateModelPackage" in _actions(s) for s in statements)


def test_approval_rule_starts_a_deployment_of_the_approved_manual_version(
    default: dict[str, Any],
) -> None:
    rules = _resources(default, "AWS::Events::Rule")
    (rule,) = [r for k, r in rules.items() if k.startswith("PApprovalRule")]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {
            "ModelPackageGroupName": ["mlpipeline-models"],
            "ModelApprovalStatus": ["Approved"],
            "CustomerMetadataProperties": {contract.APPROVAL_MODE: ["manual", {"exists": False}]},
        },
    }
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"]["Ref"].startswith("PStateMachine")
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {"detail-ModelPackageArn": "$.detail.ModelPackageArn"}
    assert json.loads(
        transformer["InputTemplate"].replace("<detail-ModelPackageArn>", '"arn"')
    ) == {run_input.MODEL_PACKAGE: "arn", run_input.ON_APPROVAL: True}
    role = target["RoleArn"]["Fn::GetAtt"][0]
    (policy,) = [
        p
        for p in _resources(default, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "states:StartExecution"
    assert statement["Resource"] == {"Ref": target["Arn"]["Ref"]}


def test_consumer_accounts_may_read_versions_archives_and_decrypt_nothing_more(
    sharing: dict[str, Any],
) -> None:
    (group,) = _resources(sharing, "AWS::SageMaker::ModelPackageGroup").values()
    policy = group["Properties"]["ModelPackageGroupPolicy"]
    principals = {
        json.dumps(p, sort_keys=True) for s in policy["Statement"] for p in s["Principal"]["AWS"]
    }
    assert len(principals) == 2 and all(
        "222222222222" in p or "333333333333" in p for p in principals
    )
    actions = sorted(a for s in policy["Statement"] for a in s["Action"])
    assert actions == sorted(
        [
            "sagemaker:DescribeModelPackageGroup",
            "sagemaker:DescribeModelPackage",
            "sagemaker:ListModelPackages",
            "sagemaker:CreateModel",
        ]
    )
    (bucket_policy,) = [
        p
        for p in _resources(sharing, "AWS::S3::BucketPolicy").values()
        if "ConsumerAccountsReadModels" in json.dumps(p)
    ]
    (read,) = [
        s
        for s in bucket_policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ConsumerAccountsReadModels"
    ]
    assert read["Action"] == "s3:GetObject"
    assert json.dumps(read["Resource"]).endswith('/models/*"]]}')
    (key,) = _resources(sharing, "AWS::KMS::Key").values()
    (decrypt,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "ConsumerAccountsDecryptModels"
    ]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    }


def test_a_promoting_pipeline_may_deploy_the_source_groups_versions_and_read_their_archives(
    promoting: dict[str, Any],
) -> None:
    states = _states(promoting)
    source_versions = SOURCE.replace("model-package-group/", "model-package/") + "/*"
    (rule,) = [
        r for r in states["ValidateRunInput"]["Choices"] if r["Next"] == "RejectModelPackage"
    ]
    assert source_versions in json.dumps(rule)
    assert states["FindLatestApproved"]["Parameters"]["ModelPackageGroupName"] == SOURCE
    statements = _statements(promoting, "PStateMachineRole")
    assert f'"{source_versions}"' in _granted(statements, "sagemaker:DescribeModelPackage")
    assert f'"{source_versions}"' in _granted(statements, "sagemaker:CreateModel")
    sagemaker = _statements(promoting, "PSageMakerRole")
    (read,) = [s for s in sagemaker if s.get("Sid") == "ReadPromotedModels"]
    assert read["Condition"] == {"StringEquals": {"s3:ResourceAccount": SOURCE.split(":")[4]}}
    assert read["Resource"] == "arn:aws:s3:::*/models/*"
    (decrypt,) = [s for s in sagemaker if s.get("Sid") == "DecryptPromotedModels"]
    assert decrypt["Resource"] == f"arn:aws:kms:us-east-1:{SOURCE.split(':')[4]}:key/*"


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registry", "message"),
    [
        (RegistrySettings(approval="auto"), "registry.approval='auto': must be one of"),
        (
            RegistrySettings(model_package_group_name="Models"),
            "registry.model_package_group_name='Models': must be 1 to 63 lowercase",
        ),
        (
            RegistrySettings(promote_from="staging-models"),
            "registry.promote_from='staging-models': must be a model package group's ARN",
        ),
        (
            RegistrySettings(consumer_accounts="222222222222"),  # type: ignore[arg-type]
            "registry.consumer_accounts='222222222222': must be a list of account ids",
        ),
        (
            RegistrySettings(consumer_accounts=["2222"]),
            "registry.consumer_accounts=['2222']: must be 12-digit AWS account ids",
        ),
        (
            RegistrySettings(content_types=[]),
            "registry.content_types=[]: must be a non-empty list of MIME types",
        ),
    ],
)
def test_bad_registry_settings_are_refused_naming_the_setting(
    registry: RegistrySettings, message: str
) -> None:
    with pytest.raises(ValueError, match=None) as raised:
        _template(registry)
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ({"approval": "auto"}, "approval must be 'automatic' or 'manual'"),
        ({"modelPackage": 3}, "modelPackage must be 'latest' or the ARN"),
        ({"modelPackage": "mnist-models/3"}, "modelPackage must be 'latest' or the ARN"),
    ],
)
def test_the_run_input_contract_refuses_bad_registry_keys(
    given: dict[str, Any], problem: str
) -> None:
    (found,) = run_input.check(given)
    assert found.startswith(problem)


def test_the_run_input_contract_accepts_latest_and_a_version_arn() -> None:
    arn = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/mnist-models/12"
    assert run_input.check({"modelPackage": "latest", "approval": "manual"}) == []
    assert run_input.check({"modelPackage": arn}) == []
