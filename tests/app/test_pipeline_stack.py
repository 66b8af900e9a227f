"""The delivery pipeline stack (CDK Pipelines): its actions in order, the build and smoke-test
commands, least-privilege IAM, cdk-nag and cfn-lint on it and its stages, the context it reads.

The app is synthesized once for the module, with a pipeline whose production stage lives in
another account and region, so that the cross-account and cross-region paths are both covered.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cfnlint.api
import pytest
from aws_cdk.assertions import Match, Template
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension
from test_snapshots import normalise

from stacks.pipeline_settings import PipelineSettings, StageSettings

from conftest import ROOT, cdk_json_context, new_app

# Slow: synthesizes the delivery pipeline with its stages and lints them;
# `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

PIPELINE_ACCOUNT = "111111111111"
PIPELINE_REGION = "eu-west-1"
PRODUCTION_ACCOUNT = "222222222222"
PRODUCTION_REGION = "us-east-1"
CONNECTION_ARN = (
    f"arn:aws:codeconnections:{PIPELINE_REGION}:{PIPELINE_ACCOUNT}:"
    "connection/0123abcd-0123-4567-89ab-0123456789ab"
)
PIPELINE_CONTEXT = {
    "pipeline_connection_arn": CONNECTION_ARN,
    "pipeline_repository": "example-org/mnist-pipeline",
    "pipeline_account": PIPELINE_ACCOUNT,
    "pipeline_region": PIPELINE_REGION,
    "pipeline_stages": json.dumps(
        [
            {"name": "Staging"},
            {"name": "Production", "account": PRODUCTION_ACCOUNT, "region": PRODUCTION_REGION},
        ]
    ),
}
STAGING_STACK = "MLPipelineCD/Staging/MLPipelineStack"
PRODUCTION_STACK = "MLPipelineCD/Production/MLPipelineStack"


# --- fixtures: one synthesis for the module --------------------------------------------------


@pytest.fixture(scope="module")
def assembly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app exactly as app.py builds it with the pipeline context, cdk-nag included."""
    from app import build_app

    outdir = tmp_path_factory.mktemp("pipeline.cdk.out")
    app = build_app(cdk.App(context={**cdk_json_context(), **PIPELINE_CONTEXT}, outdir=str(outdir)))
    app.synth()
    return outdir


@pytest.fixture(scope="module")
def default_assembly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline with every default: staging and production in the pipeline's environment."""
    from cdk_nag import AwsSolutionsChecks

    from stacks.pipeline_stack import PipelineStack

    outdir = tmp_path_factory.mktemp("default-pipeline.cdk.out")
    app = cdk.App(context=cdk_json_context(), outdir=str(outdir))
    settings = PipelineSettings.from_context(
        new_app(pipeline_connection_arn=CONNECTION_ARN, pipeline_repository="o/r"),
        {"CDK_DEFAULT_ACCOUNT": PIPELINE_ACCOUNT, "CDK_DEFAULT_REGION": PIPELINE_REGION},
    )
    assert settings is not None and not settings.cross_account
    PipelineStack(app, "MLPipelineCD", settings=settings)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    return outdir


def _stack_artifacts(directory: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Every stack of the assembly and its nested (stage) assemblies, by display name."""
    manifest = json.loads((directory / "manifest.json").read_text())
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    for artifact in manifest["artifacts"].values():
        if artifact["type"] == "aws:cloudformation:stack":
            found[artifact["displayName"]] = (directory, artifact)
        elif artifact["type"] == "cdk:cloud-assembly":
            found.update(_stack_artifacts(directory / artifact["properties"]["directoryName"]))
    return found


@pytest.fixture(scope="module")
def stacks(assembly_dir: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    return _stack_artifacts(assembly_dir)


@pytest.fixture(scope="module")
def templates(stacks: dict[str, tuple[Path, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {
        name: json.loads((directory / artifact["properties"]["templateFile"]).read_text())
        for name, (directory, artifact) in stacks.items()
    }


@pytest.fixture(scope="module")
def pipeline_json(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return templates["MLPipelineCD"]


@pytest.fixture(scope="module")
def pipeline_template(pipeline_json: dict[str, Any]) -> Template:
    return Template.from_json(pipeline_json)


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _pipeline_stages(pipeline_json: dict[str, Any]) -> list[dict[str, Any]]:
    (pipeline,) = _resources(pipeline_json, "AWS::CodePipeline::Pipeline").values()
    return list(pipeline["Properties"]["Stages"])


def _action(pipeline_json: dict[str, Any], stage: str, action: str) -> dict[str, Any]:
    (found,) = (
        a
        for s in _pipeline_stages(pipeline_json)
        if s["Name"] == stage
        for a in s["Actions"]
        if a["Name"] == action
    )
    return dict(found)


def _buildspec(pipeline_json: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    project_id = action["Configuration"]["ProjectName"]["Ref"]
    project = pipeline_json["Resources"][project_id]
    return dict(json.loads(project["Properties"]["Source"]["BuildSpec"]))


def _statements(template: dict[str, Any], logical_id_prefix: str) -> list[dict[str, Any]]:
    (policy,) = (
        p
        for lid, p in _resources(template, "AWS::IAM::Policy").items()
        if lid.startswith(logical_id_prefix)
    )
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


# --- the app ---------------------------------------------------------------------------------


def test_without_pipeline_context_the_app_holds_only_the_ml_stack(
    app_assembly: cdk.cx_api.CloudAssembly,
) -> None:
    assert [s.stack_name for s in app_assembly.stacks] == ["MLPipelineStack"]


def test_with_pipeline_context_the_app_adds_the_pipeline_and_its_stage_stacks(
    stacks: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    environments = {name: artifact["environment"] for name, (_, artifact) in stacks.items()}
    assert environments == {
        "MLPipelineStack": "aws://unknown-account/unknown-region",
        "MLPipelineCD": f"aws://{PIPELINE_ACCOUNT}/{PIPELINE_REGION}",
        # aws-cdk-lib's support stack for the production region (replication bucket).
        f"cross-region-stack-{PIPELINE_ACCOUNT}:{PRODUCTION_REGION}": (
            f"aws://{PIPELINE_ACCOUNT}/{PRODUCTION_REGION}"
        ),
        STAGING_STACK: f"aws://{PIPELINE_ACCOUNT}/{PIPELINE_REGION}",
        PRODUCTION_STACK: f"aws://{PRODUCTION_ACCOUNT}/{PRODUCTION_REGION}",
    }
    stack_names = {
        name: artifact["properties"].get("stackName") for name, (_, artifact) in stacks.items()
    }
    assert stack_names[STAGING_STACK] == "Staging-MLPipelineStack"
    assert stack_names[PRODUCTION_STACK] == "Production-MLPipelineStack"


# --- the pipeline: stages and actions --------------------------------------------------------


def test_pipeline_runs_source_build_self_update_assets_staging_smoke_test_approval_production(
    pipeline_json: dict[str, Any],
) -> None:
    stages = [
        (stage["Name"], [(a["Name"], a["RunOrder"]) for a in stage["Actions"]])
        for stage in _pipeline_stages(pipeline_json)
    ]
    assert stages == [
        ("Source", [("example-org_mnist-pipeline", 1)]),
        ("Build", [("Synth", 1)]),
        ("UpdatePipeline", [("SelfMutate", 1)]),
        # The training code, and the code of the endpoint-teardown custom resource.
        ("Assets", [("Pipeline_SourceDir", 1), ("AWS679f53fac002430cb0da5b7982bd2287_Code", 1)]),
        (
            "Staging",
            [("MLPipelineStack.Prepare", 1), ("MLPipelineStack.Deploy", 2), ("SmokeTest", 3)],
        ),
        (
            "Production",
            [("Approve", 1), ("MLPipelineStack.Prepare", 2), ("MLPipelineStack.Deploy", 3)],
        ),
    ]
    providers = [
        [a["ActionTypeId"]["Provider"] for a in stage["Actions"]]
        for stage in _pipeline_stages(pipeline_json)
    ]
    assert providers == [
        ["CodeStarSourceConnection"],
        ["CodeBuild"],
        ["CodeBuild"],
        ["CodeBuild", "CodeBuild"],
        ["CloudFormation", "CloudFormation", "CodeBuild"],
        ["Manual", "CloudFormation", "CloudFormation"],
    ]


def test_pipeline_is_v2_and_restarts_after_updating_itself(pipeline_template: Template) -> None:
    pipeline_template.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {"PipelineType": "V2", "RestartExecutionOnUpdate": True},
    )


def test_source_is_the_branch_of_the_repository_through_the_connection(
    pipeline_json: dict[str, Any],
) -> None:
    source = _action(pipeline_json, "Source", "example-org_mnist-pipeline")
    assert source["Configuration"] == {
        "ConnectionArn": CONNECTION_ARN,
        "FullRepositoryId": "example-org/mnist-pipeline",
        "BranchName": "main",
    }


def test_build_runs_setup_then_make_test_then_cdk_synth_with_the_deployed_context(
    pipeline_json: dict[str, Any],
) -> None:
    spec = _buildspec(pipeline_json, _action(pipeline_json, "Build", "Synth"))
    assert spec["phases"]["install"] == {
        "runtime-versions": {"python": "3.11", "nodejs": "20"},
        "commands": ["make setup TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu"],
    }
    make_test, synth = spec["phases"]["build"]["commands"]
    assert make_test == "make test"
    activate, cdk_synth = synth.split(" && ")
    assert activate == ". .venv/bin/activate"
    words = shlex.split(cdk_synth)
    assert words[:4] == ["npx", "cdk", "synth", "--quiet"]
    flags = words[4:]
    assert flags[::2] == ["-c"] * (len(flags) // 2)
    context = dict(flag.split("=", 1) for flag in flags[1::2])
    # Every default resolved, so the pipeline's synth does not depend on its credentials.
    assert context == {
        **PIPELINE_CONTEXT,
        "pipeline_branch": "main",
        "pipeline_stages": json.dumps(
            [
                {"name": "Staging", "account": PIPELINE_ACCOUNT, "region": PIPELINE_REGION},
                {
                    "name": "Production",
                    "account": PRODUCTION_ACCOUNT,
                    "region": PRODUCTION_REGION,
                },
            ],
            separators=(",", ":"),
        ),
    }
    assert spec["artifacts"]["base-directory"] == "cdk.out"


def test_synth_context_reads_back_as_the_same_settings() -> None:
    settings = PipelineSettings.from_context(new_app(**PIPELINE_CONTEXT), {})
    assert settings is not None
    again = PipelineSettings.from_context(new_app(**settings.as_context()), {})
    assert again == settings


def test_codebuild_projects_use_standard_7_the_artifact_key_and_silence_node_warnings(
    pipeline_json: dict[str, Any],
) -> None:
    (key_id,) = _resources(pipeline_json, "AWS::KMS::Key")
    projects = _resources(pipeline_json, "AWS::CodeBuild::Project")
    assert len(projects) == 5  # synth, self-mutation, two assets, smoke test
    for logical_id, project in projects.items():
        props = project["Properties"]
        assert props["Environment"]["Image"] == "aws/codebuild/standard:7.0", logical_id
        assert props["EncryptionKey"] == {"Fn::GetAtt": [key_id, "Arn"]}, logical_id
        variables = {v["Name"]: v["Value"] for v in props["Environment"]["EnvironmentVariables"]}
        assert variables["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] == "20", logical_id


def test_self_mutation_and_asset_publishing_use_pinned_cli_versions(
    pipeline_json: dict[str, Any],
) -> None:
    cli = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    self_mutate = _buildspec(pipeline_json, _action(pipeline_json, "UpdatePipeline", "SelfMutate"))
    assert self_mutate["phases"]["install"]["commands"] == [f"npm install -g aws-cdk@{cli}"]
    assert self_mutate["phases"]["build"]["commands"] == [
        "cdk -a . deploy MLPipelineCD --require-approval=never --verbose"
    ]
    assets = _buildspec(pipeline_json, _action(pipeline_json, "Assets", "Pipeline_SourceDir"))
    (install,) = assets["phases"]["install"]["commands"]
    assert install.startswith("npm install -g cdk-assets@") and not install.endswith("@latest")


# --- the smoke test --------------------------------------------------------------------------


def test_smoke_test_reads_the_state_machine_arn_from_the_staging_stack_output(
    pipeline_json: dict[str, Any], templates: dict[str, dict[str, Any]]
) -> None:
    deploy = _action(pipeline_json, "Staging", "MLPipelineStack.Deploy")
    namespace = deploy["Namespace"]
    smoke_test = _action(pipeline_json, "Staging", "SmokeTest")
    assert json.loads(smoke_test["Configuration"]["EnvironmentVariables"]) == [
        {
            "name": "STATE_MACHINE_ARN",
            "type": "PLAINTEXT",
            "value": f"#{{{namespace}.StateMachineArn}}",
        }
    ]
    output = templates[STAGING_STACK]["Outputs"]["StateMachineArn"]
    assert output["Value"]["Ref"].startswith("PipelineStateMachine")


def test_smoke_test_runs_the_repository_script_with_a_one_epoch_input(
    pipeline_json: dict[str, Any],
) -> None:
    source = _action(pipeline_json, "Source", "example-org_mnist-pipeline")
    smoke_test = _action(pipeline_json, "Staging", "SmokeTest")
    assert smoke_test["InputArtifacts"] == source["OutputArtifacts"]
    spec = _buildspec(pipeline_json, smoke_test)
    assert spec["phases"]["install"]["commands"] == ["python3 -m pip install --quiet boto3==1.44.8"]
    (command,) = spec["phases"]["build"]["commands"]
    words = shlex.split(command)
    assert words[:2] == ["python3", "scripts/smoke_test.py"]
    options = dict(zip(words[2::2], words[3::2], strict=True))
    assert options == {
        "--state-machine-arn": "$STATE_MACHINE_ARN",
        "--role-arn": "$SMOKE_TEST_ROLE_ARN",
        "--input": '{"hyperparameters": {"epochs": "1"}, "trainingInstanceCount": 1}',
        "--timeout": "3600",
    }


def test_smoke_test_project_may_only_assume_the_staging_smoke_test_role(
    pipeline_json: dict[str, Any],
) -> None:
    # The pipeline's region is known, so aws-cdk-lib writes its partition as a literal
    # (@aws-cdk/core:enablePartitionLiterals, a recommended flag in cdk.json).
    role_arn = (
        f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/mlpipeline-smoke-test-Staging-{PIPELINE_REGION}"
    )
    (project_role,) = (
        r
        for r in _resources(pipeline_json, "AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == f"MLPipelineCD-smoke-test-{PIPELINE_REGION}"
    )
    assert project_role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"},
        }
    ]
    statements = _statements(pipeline_json, "SmokeTestProjectRoleDefaultPolicy")
    assert statements[0] == {
        "Sid": "AssumeSmokeTestRole",
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Resource": role_arn,
    }
    # The rest is what every CDK Pipelines CodeBuild step gets: its logs, reports, the input.
    rest = {
        a
        for s in statements[1:]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in rest if a.startswith(("states:", "sts:", "iam:"))}
    project = _action(pipeline_json, "Staging", "SmokeTest")["Configuration"]["ProjectName"]
    variables = pipeline_json["Resources"][project["Ref"]]["Properties"]["Environment"][
        "EnvironmentVariables"
    ]
    assert {"Name": "SMOKE_TEST_ROLE_ARN", "Type": "PLAINTEXT", "Value": role_arn} in variables


def test_no_states_permission_anywhere_in_the_pipeline_stack(pipeline_json: dict[str, Any]) -> None:
    text = json.dumps(pipeline_json["Resources"])
    assert '"states:' not in text


def test_staging_smoke_test_role_starts_and_describes_executions_of_its_state_machine_only(
    templates: dict[str, dict[str, Any]],
) -> None:
    staging = Template.from_json(templates[STAGING_STACK])
    staging.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": f"mlpipeline-smoke-test-Staging-{PIPELINE_REGION}",
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"AWS": Match.any_value()},
                        "Condition": {
                            "ArnEquals": {
                                "aws:PrincipalArn": {
                                    "Fn::Join": [
                                        "",
                                        [
                                            "arn:",
                                            {"Ref": "AWS::Partition"},
                                            f":iam::{PIPELINE_ACCOUNT}:role/MLPipelineCD-"
                                            f"smoke-test-{PIPELINE_REGION}",
                                        ],
                                    ]
                                }
                            }
                        },
                    }
                ],
            },
        },
    )
    statements = _statements(templates[STAGING_STACK], "SmokeTestRoleDefaultPolicy")
    state_machine = next(
        lid for lid in _resources(templates[STAGING_STACK], "AWS::StepFunctions::StateMachine")
    )
    assert statements == [
        {
            "Sid": "StartExecution",
            "Action": "states:StartExecution",
            "Effect": "Allow",
            "Resource": {"Ref": state_machine},
        },
        {
            "Sid": "DescribeExecution",
            "Action": "states:DescribeExecution",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        f"arn:aws:states:{PIPELINE_REGION}:{PIPELINE_ACCOUNT}:execution:",
                        {"Fn::GetAtt": [state_machine, "Name"]},
                        ":*",
                    ],
                ]
            },
        },
    ]


def test_only_the_first_stage_has_a_smoke_test_role(templates: dict[str, dict[str, Any]]) -> None:
    for name, expected in ((STAGING_STACK, 1), (PRODUCTION_STACK, 0)):
        roles = _resources(templates[name], "AWS::IAM::Role")
        smoke = [r for r in roles.values() if "smoke-test" in str(r["Properties"].get("RoleName"))]
        assert len(smoke) == expected, name


# --- artifacts and cross-account -------------------------------------------------------------


def test_artifact_bucket_is_kms_encrypted_versioned_logged_and_tls_only(
    pipeline_json: dict[str, Any],
) -> None:
    (key_id,) = _resources(pipeline_json, "AWS::KMS::Key")
    key = pipeline_json["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    (pipeline,) = _resources(pipeline_json, "AWS::CodePipeline::Pipeline").values()
    # One artifact store per region: ours here, aws-cdk-lib's replication bucket in the other.
    (store,) = (
        s["ArtifactStore"]
        for s in pipeline["Properties"]["ArtifactStores"]
        if s["Region"] == PIPELINE_REGION
    )
    bucket = pipeline_json["Resources"][store["Location"]["Ref"]]
    assert store["EncryptionKey"] == {"Id": {"Fn::GetAtt": [key_id, "Arn"]}, "Type": "KMS"}
    props = bucket["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}, "SSEAlgorithm": "aws:kms"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "artifacts-bucket/"
    policies = json.dumps(_resources(pipeline_json, "AWS::S3::BucketPolicy"))
    assert '"aws:SecureTransport": "false"' in policies


def test_production_deploys_through_its_own_accounts_bootstrap_roles(
    pipeline_json: dict[str, Any], templates: dict[str, dict[str, Any]]
) -> None:
    prepare = _action(pipeline_json, "Production", "MLPipelineStack.Prepare")
    assert prepare["Region"] == PRODUCTION_REGION
    assert prepare["Configuration"]["RoleArn"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:iam::{PRODUCTION_ACCOUNT}:role/"
        f"cdk-hnb659fds-cfn-exec-role-{PRODUCTION_ACCOUNT}-{PRODUCTION_REGION}"
    }
    assert f":iam::{PRODUCTION_ACCOUNT}:role/cdk-hnb659fds-deploy-role-" in json.dumps(
        prepare["RoleArn"]
    )
    # The production deploy role reads the artifacts from the replication bucket in its
    # region, whose key admits it.
    support = templates[f"cross-region-stack-{PIPELINE_ACCOUNT}:{PRODUCTION_REGION}"]
    (key,) = _resources(support, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert f"{PRODUCTION_ACCOUNT}:role/cdk-hnb659fds-deploy-role-" in json.dumps(
        key["Properties"]["KeyPolicy"]
    )


def test_cross_account_follows_the_stage_accounts() -> None:
    def settings(stages: list[dict[str, str]]) -> PipelineSettings:
        found = PipelineSettings.from_context(
            new_app(**{**PIPELINE_CONTEXT, "pipeline_stages": json.dumps(stages)}), {}
        )
        assert found is not None
        return found

    assert not settings([{"name": "A"}, {"name": "B", "region": "us-east-1"}]).cross_account
    assert settings([{"name": "A"}, {"name": "B", "account": PRODUCTION_ACCOUNT}]).cross_account


# --- cdk-nag and cfn-lint --------------------------------------------------------------------


def _report(assembly_dir: Path) -> dict[str, Any]:
    report = json.loads((assembly_dir / "validation-report.json").read_text())
    (nag,) = report["pluginReports"]
    return dict(nag)


def _acknowledgements(assembly_dir: Path) -> list[tuple[str, str, str]]:
    found = []
    for metadata_file in assembly_dir.rglob("*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    found.extend(
                        (path.lstrip("/"), rule, reason) for rule, reason in entry["data"].items()
                    )
    return found


@pytest.fixture(params=["cross-account", "default"])
def any_assembly_dir(request: pytest.FixtureRequest) -> Path:
    """Each synthesized pipeline app: cross-account and cross-region, and all defaults."""
    name = "assembly_dir" if request.param == "cross-account" else "default_assembly_dir"
    return Path(request.getfixturevalue(name))


def test_pipeline_and_stage_stacks_have_no_unacknowledged_nag_findings(
    any_assembly_dir: Path,
) -> None:
    nag = _report(any_assembly_dir)
    assert nag["pluginName"] == "AwsSolutions"
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []
    checked = {
        c["constructPath"].split("/Pipeline/")[0]
        for v in nag["suppressedViolations"]
        for c in v["violatingConstructs"]
    }
    # The checks registered on the app reach into the pipeline's stages.
    assert {STAGING_STACK, PRODUCTION_STACK, "MLPipelineCD"} <= checked


def test_every_acknowledgement_in_the_pipeline_stacks_matches_a_finding_on_its_resource(
    any_assembly_dir: Path,
) -> None:
    suppressed = {
        (v["acknowledgedAt"], v["acknowledgedId"])
        for v in _report(any_assembly_dir)["suppressedViolations"]
    }
    unmatched = [
        (path, rule)
        for path, rule, _ in _acknowledgements(any_assembly_dir)
        if (path, rule) not in suppressed
    ]
    assert unmatched == []


def _endpoint_names(assembly_dir: Path) -> dict[str, str]:
    names = {}
    for name, (directory, artifact) in _stack_artifacts(assembly_dir).items():
        template = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
        if "EndpointName" in template.get("Outputs", {}):
            names[name] = template["Outputs"]["EndpointName"]["Value"]
    return names


def test_stages_in_one_account_and_region_deploy_to_their_own_endpoints(
    default_assembly_dir: Path, assembly_dir: Path
) -> None:
    # Sharing one endpoint, each stage's runs would replace the other's model, and deleting
    # either stage's stack would delete it.
    assert _endpoint_names(default_assembly_dir) == {
        STAGING_STACK: "mnist-endpoint",
        PRODUCTION_STACK: "mnist-endpoint-production",
    }
    # Stages in different accounts or regions keep the stack's own name.
    assert set(_endpoint_names(assembly_dir).values()) == {"mnist-endpoint"}


def test_the_default_pipeline_deploys_both_stages_in_its_own_environment(
    default_assembly_dir: Path,
) -> None:
    stacks = _stack_artifacts(default_assembly_dir)
    assert {name: artifact["environment"] for name, (_, artifact) in stacks.items()} == {
        "MLPipelineCD": f"aws://{PIPELINE_ACCOUNT}/{PIPELINE_REGION}",
        STAGING_STACK: f"aws://{PIPELINE_ACCOUNT}/{PIPELINE_REGION}",
        PRODUCTION_STACK: f"aws://{PIPELINE_ACCOUNT}/{PIPELINE_REGION}",
    }
    directory, artifact = stacks["MLPipelineCD"]
    template = json.loads((directory / artifact["properties"]["templateFile"]).read_text())
    assert [s["Name"] for s in _pipeline_stages(template)] == [
        "Source",
        "Build",
        "UpdatePipeline",
        "Assets",
        "Staging",
        "Production",
    ]
    assert cfnlint.api.lint(json.dumps(template), regions=[PIPELINE_REGION]) == []


def test_every_pipeline_acknowledgement_is_one_finding_on_one_resource_with_a_reason(
    assembly_dir: Path,
) -> None:
    acknowledgements = _acknowledgements(assembly_dir)
    ours = [a for a in acknowledgements if not a[0].startswith("MLPipelineStack/")]
    assert ours
    for path, rule, reason in ours:
        assert rule.startswith("AwsSolutions::AwsSolutions-"), rule
        if "IAM5" in rule:
            # One finding: the rule with its finding in brackets, on one role's policy.
            assert rule.endswith("]") and "[" in rule, rule
            assert path.endswith("/DefaultPolicy"), path
        else:
            assert rule == "AwsSolutions::AwsSolutions-S1", rule
            assert path.endswith("/CrossRegionCodePipelineReplicationBucket"), path
        assert path.count("/") >= 2, path
        assert len(reason) >= 40, (rule, reason)


def test_cfn_lint_finds_nothing_in_the_pipeline_and_stage_templates(
    stacks: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    for name, (directory, artifact) in stacks.items():
        if name == "MLPipelineStack":
            continue  # linted in every region by test_compliance.py
        region = artifact["environment"].rsplit("/", 1)[1]
        template = (directory / artifact["properties"]["templateFile"]).read_text()
        matches = cfnlint.api.lint(template, regions=[region])
        assert [str(m) for m in matches] == [], name


# --- snapshot --------------------------------------------------------------------------------


def test_pipeline_stack_snapshot(
    pipeline_json: dict[str, Any], snapshot: SnapshotAssertion
) -> None:
    text = json.dumps(pipeline_json)
    # Nothing of this machine: no absolute paths of the checkout or of the test's cloud assembly.
    assert str(ROOT) not in text and "/tmp/" not in text
    assert normalise(pipeline_json) == snapshot(extension_class=JSONSnapshotExtension)


# --- context validation ----------------------------------------------------------------------


def _error(context: dict[str, Any], environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ValueError) as raised:
        PipelineSettings.from_context(new_app(**context), environ or {})
    return str(raised.value)


def test_no_pipeline_key_means_no_pipeline() -> None:
    assert PipelineSettings.from_context(new_app(), {}) is None


def test_defaults_branch_main_and_staging_then_production_in_the_pipeline_environment() -> None:
    settings = PipelineSettings.from_context(
        new_app(pipeline_connection_arn=CONNECTION_ARN, pipeline_repository="o/r"),
        {"CDK_DEFAULT_ACCOUNT": PIPELINE_ACCOUNT, "CDK_DEFAULT_REGION": PIPELINE_REGION},
    )
    assert settings == PipelineSettings(
        connection_arn=CONNECTION_ARN,
        repository="o/r",
        branch="main",
        account=PIPELINE_ACCOUNT,
        region=PIPELINE_REGION,
        stages=(
            StageSettings("Staging", PIPELINE_ACCOUNT, PIPELINE_REGION),
            StageSettings("Production", PIPELINE_ACCOUNT, PIPELINE_REGION),
        ),
    )
    assert not settings.cross_account


def test_stages_may_be_a_list_in_cdk_json_and_codestar_connections_arns_are_accepted() -> None:
    settings = PipelineSettings.from_context(
        new_app(
            **{
                **PIPELINE_CONTEXT,
                "pipeline_connection_arn": CONNECTION_ARN.replace(
                    "codeconnections", "codestar-connections"
                ),
                "pipeline_repository": "group/subgroup/project",
                "pipeline_branch": "release/2.x",
                "pipeline_stages": [{"name": "Test"}, {"name": "Prod", "region": "eu-central-1"}],
            }
        ),
        {},
    )
    assert settings is not None
    assert settings.stages == (
        StageSettings("Test", PIPELINE_ACCOUNT, PIPELINE_REGION),
        StageSettings("Prod", PIPELINE_ACCOUNT, "eu-central-1"),
    )


def test_every_malformed_key_is_named_in_one_error() -> None:
    message = _error(
        {
            "pipeline_connection_arn": "my-connection",
            "pipeline_repository": "mnist-pipeline",
            "pipeline_account": "12345",
            "pipeline_region": "Europe",
            "pipeline_branch": "bad..branch",
            "pipeline_stages": "[]",
        }
    )
    assert message.startswith("Delivery pipeline: invalid context:")
    for key in (
        "pipeline_connection_arn='my-connection'",
        "pipeline_repository='mnist-pipeline': must be the repository as 'owner/name'",
        "pipeline_account='12345'",
        "pipeline_region='Europe'",
        "pipeline_branch='bad..branch'",
        "pipeline_stages=[]",
    ):
        assert key in message, message


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"pipeline_repository": "o/r"}, "pipeline_connection_arn: missing"),
        (
            {
                "pipeline_connection_arn": "arn:aws:codecommit:eu-west-1:111111111111:repo",
                "pipeline_repository": "o/r",
            },
            "pipeline_connection_arn='arn:aws:codecommit:",
        ),
        ({"pipeline_connection_arn": CONNECTION_ARN}, "pipeline_repository: missing"),
        (
            {"pipeline_connection_arn": CONNECTION_ARN, "pipeline_repository": "/r"},
            "pipeline_repository='/r'",
        ),
        (
            {**PIPELINE_CONTEXT, "pipeline_stages": "[{'name': 'Staging'}]"},
            "pipeline_stages=\"[{'name': 'Staging'}]\": is not valid JSON",
        ),
        ({**PIPELINE_CONTEXT, "pipeline_stages": "{}"}, "pipeline_stages={}: must be a non-empty"),
        (
            {**PIPELINE_CONTEXT, "pipeline_stages": '[{"name": "Staging", "acount": "1"}]'},
            "pipeline_stages[0]: unknown keys ['acount']",
        ),
        (
            {**PIPELINE_CONTEXT, "pipeline_stages": '[{"name": "Prod", "account": "12"}]'},
            "pipeline_stages[0].account='12'",
        ),
        (
            {**PIPELINE_CONTEXT, "pipeline_stages": '[{"name": "my stage"}]'},
            "pipeline_stages[0].name='my stage'",
        ),
        (
            {**PIPELINE_CONTEXT, "pipeline_stages": '[{"name": "A"}, {"name": "A"}]'},
            "stage names must be unique; repeated: ['A']",
        ),
    ],
)
def test_a_malformed_or_missing_key_is_named(context: dict[str, Any], expected: str) -> None:
    assert expected in _error(context)


def test_without_credentials_or_context_the_pipeline_account_and_region_are_named() -> None:
    message = _error({"pipeline_connection_arn": CONNECTION_ARN, "pipeline_repository": "o/r"})
    assert "pipeline_account: missing" in message
    assert "pipeline_region: missing" in message


def test_the_app_fails_at_synth_time_on_bad_pipeline_context() -> None:
    from app import build_app

    with pytest.raises(ValueError, match=r"pipeline_repository='nope'"):
        build_app(new_app(**{**PIPELINE_CONTEXT, "pipeline_repository": "nope"}))


def test_setup_with_a_torch_index_installs_the_pinned_cpu_build_from_it_before_the_rest() -> None:
    """The build's `make setup TORCH_INDEX_URL=...` must install torch's CPU build of the version
    requirements-dev.txt pins, from that index, before the requirements (which it then satisfies);
    without the variable, set-up is unchanged."""
    pinned = next(
        line.removeprefix("torch==")
        for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
        if line.startswith("torch==")
    )

    def recipe(*variables: str) -> list[str]:
        dry_run = subprocess.run(
            ["make", "--no-print-directory", "-n", "-B", ".venv/.installed", *variables],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        return [line for line in dry_run.stdout.splitlines() if "pip install" in line]

    index = "https://download.pytorch.org/whl/cpu"
    with_index = recipe(f"TORCH_INDEX_URL={index}")
    assert with_index[0].endswith(
        f'pip install --quiet --extra-index-url {index} "torch=={pinned}+cpu"'
    )
    assert with_index[1:] == recipe()
    assert all("torch" not in line for line in recipe())
