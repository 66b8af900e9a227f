"""Promotion through the delivery pipeline: a later stage in the first stage's region, in another
account, deploys the first stage's newest approved model version; the stacks grant exactly the
cross-account access that takes, cdk-nag and cfn-lint included."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from test_pipeline_stack import (
    CONNECTION_ARN,
    PIPELINE_ACCOUNT,
    PIPELINE_REGION,
    PRODUCTION_ACCOUNT,
    PRODUCTION_STACK,
    STAGING_STACK,
    _action,
    _buildspec,
    _report,
    _resources,
    _stack_artifacts,
    default_assembly_dir,
)

from mlpipeline_cli.asl import render_definition
from stacks.pipeline_settings import PipelineSettings

from conftest import cdk_json_context, new_app

# Slow: synthesizes the delivery pipeline with its stages.
pytestmark = pytest.mark.slow

STAGING_GROUP = (
    f"arn:aws:sagemaker:{PIPELINE_REGION}:{PIPELINE_ACCOUNT}:model-package-group/mnist-models"
)
STAGING_VERSIONS = (
    f"arn:aws:sagemaker:{PIPELINE_REGION}:{PIPELINE_ACCOUNT}:model-package/mnist-models/*"
)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Staging in the pipeline's account, production in another account of the same region."""
    from cdk_nag import AwsSolutionsChecks

    from stacks.pipeline_stack import PipelineStack

    outdir = tmp_path_factory.mktemp("promotion.cdk.out")
    app = cdk.App(context=cdk_json_context(), outdir=str(outdir))
    stages = [
        {"name": "Staging"},
        {"name": "Production", "account": PRODUCTION_ACCOUNT, "region": PIPELINE_REGION},
    ]
    settings = PipelineSettings.from_context(
        new_app(
            pipeline_connection_arn=CONNECTION_ARN,
            pipeline_repository="o/r",
            pipeline_account=PIPELINE_ACCOUNT,
            pipeline_region=PIPELINE_REGION,
            pipeline_stages=json.dumps(stages),
        ),
        {},
    )
    assert settings is not None and settings.cross_account
    PipelineStack(app, "MLPipelineCD", settings=settings)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    nag = _report(outdir)
    assert (nag["conclusion"], nag["violations"]) == ("success", [])
    return {
        name: json.loads((directory / artifact["properties"]["templateFile"]).read_text())
        for name, (directory, artifact) in _stack_artifacts(Path(outdir)).items()
    }


def _only(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (found,) = resources.values()
    return found


def test_staging_shares_its_versions_with_the_production_account_only(
    templates: dict[str, dict[str, Any]],
) -> None:
    staging = templates[STAGING_STACK]
    group = _only(_resources(staging, "AWS::SageMaker::ModelPackageGroup"))["Properties"]
    assert group["ModelPackageGroupName"] == "mnist-models"
    production_root = {"AWS": [f"arn:aws:iam::{PRODUCTION_ACCOUNT}:root"]}
    policy = group["ModelPackageGroupPolicy"]
    assert [(s["Principal"], s["Action"], s["Resource"]) for s in policy["Statement"]] == [
        (
            production_root,
            [
                "sagemaker:DescribeModelPackageGroup",
                "sagemaker:DescribeModelPackage",
                "sagemaker:ListModelPackages",
            ],
            [STAGING_GROUP, STAGING_VERSIONS],
        ),
        (production_root, ["sagemaker:CreateModel"], STAGING_VERSIONS),
    ]
    shared = [
        s
        for p in _resources(staging, "AWS::S3::BucketPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "ConsumerAccountsReadModels"
    ]
    (read,) = shared
    assert read["Action"] == "s3:GetObject"
    assert json.dumps(read["Principal"]).count(PRODUCTION_ACCOUNT) == 1
    assert json.dumps(read["Resource"]).endswith('/models/*"]]}')
    key_statements = [
        s
        for k in _resources(staging, "AWS::KMS::Key").values()
        for s in k["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "ConsumerAccountsDecryptModels"
    ]
    (decrypt,) = key_statements
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{PIPELINE_REGION}.amazonaws.com"}
    }


def test_production_deploys_the_staging_groups_versions_and_reads_only_that_accounts_models(
    templates: dict[str, dict[str, Any]],
) -> None:
    production = templates[PRODUCTION_STACK]
    # Its own group, with no one else's access.
    group = _only(_resources(production, "AWS::SageMaker::ModelPackageGroup"))["Properties"]
    assert "ModelPackageGroupPolicy" not in group
    states = render_definition(production)["States"]
    assert states["FindLatestApproved"]["Parameters"]["ModelPackageGroupName"] == STAGING_GROUP
    policies = _resources(production, "AWS::IAM::Policy")
    statements = [
        s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (read,) = [s for s in statements if s.get("Sid") == "ReadPromotedModels"]
    assert read["Condition"] == {"StringEquals": {"s3:ResourceAccount": PIPELINE_ACCOUNT}}
    (decrypt,) = [s for s in statements if s.get("Sid") == "DecryptPromotedModels"]
    assert decrypt["Resource"] == f"arn:aws:kms:{PIPELINE_REGION}:{PIPELINE_ACCOUNT}:key/*"
    describe = [
        s for s in statements if "sagemaker:DescribeModelPackage" in json.dumps(s["Action"])
    ]
    assert STAGING_VERSIONS in json.dumps(describe)
    assert not any("sagemaker:UpdateModelPackage" in json.dumps(s["Action"]) for s in statements)
    assert cfnlint.api.lint(json.dumps(production), regions=[PIPELINE_REGION]) == []


def test_production_promotes_after_its_approval_with_a_run_of_the_latest_approved_version(
    templates: dict[str, dict[str, Any]],
) -> None:
    pipeline = templates["MLPipelineCD"]
    stage = next(
        s
        for p in _resources(pipeline, "AWS::CodePipeline::Pipeline").values()
        for s in p["Properties"]["Stages"]
        if s["Name"] == "Production"
    )
    names = [a["Name"] for a in sorted(stage["Actions"], key=lambda a: a["RunOrder"])]
    assert names[0] == "Approve" and names[-1] == "Promote"
    promote = _action(pipeline, "Production", "Promote")
    command = _buildspec(pipeline, promote)["phases"]["build"]["commands"][-1]
    words = shlex.split(command)
    assert words[:2] == ["python3", "scripts/smoke_test.py"]
    assert json.loads(words[words.index("--input") + 1]) == {"modelPackage": "latest"}
    # The pipeline's run role may assume exactly the two stages' run roles.
    assumed = sorted(
        s["Resource"]
        for p in _resources(pipeline, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "sts:AssumeRole" and str(s.get("Sid", "")).startswith("Assume")
    )
    assert assumed == [
        f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/mlpipeline-smoke-test-Staging-{PIPELINE_REGION}",
        f"arn:aws:iam::{PRODUCTION_ACCOUNT}:role/mlpipeline-smoke-test-Production-"
        f"{PIPELINE_REGION}",
    ]


def test_stages_in_one_account_and_region_keep_their_own_groups_and_promote_without_policies(
    default_assembly_dir: Path,
) -> None:
    found = {}
    for name, (directory, artifact) in _stack_artifacts(default_assembly_dir).items():
        template = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
        for group in _resources(template, "AWS::SageMaker::ModelPackageGroup").values():
            found[name] = group["Properties"]
    assert {k: v["ModelPackageGroupName"] for k, v in found.items()} == {
        STAGING_STACK: "mnist-models",
        PRODUCTION_STACK: "mnist-models-production",
    }
    # One account: its roles' own policies suffice, no resource policy is needed.
    assert all("ModelPackageGroupPolicy" not in v for v in found.values())


__all__ = ["default_assembly_dir"]
