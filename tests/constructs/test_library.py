"""The construct library as other teams use it: bring your own resources, extend the state
machine, grant access; stable logical ids; installable on its own."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from mlpipeline_cdk import (
    Hooks,
    MLPipeline,
    NetworkSettings,
    NotificationSettings,
    ServingSettings,
    StorageSettings,
)
from mlpipeline_cdk.nag import acknowledge
from mlpipeline_cdk.settings import GROUPS, readme_table
from mlpipeline_cli.asl import render_definition

from conftest import ROOT, new_app

CODE = str(ROOT / "training_code")


def _synth(build: Any, *, nag: bool = True) -> dict[str, Any]:
    app = new_app()
    stack = cdk.Stack(app, "S")
    build(stack)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return dict(app.synth().get_stack_by_name("S").template)


def _count(template: dict[str, Any], resource_type: str) -> int:
    return sum(1 for r in template["Resources"].values() if r["Type"] == resource_type)


# --- stable ids -------------------------------------------------------------------------------


def test_stateful_resources_keep_their_logical_ids(ml_template_json: dict[str, Any]) -> None:
    # Changing one of these replaces the resource: a new, empty bucket or key.
    resources = ml_template_json["Resources"]
    for logical_id, resource_type in {
        "PipelineKeyF48EE773": "AWS::KMS::Key",
        "PipelineAccessLogsBucket31EC11F4": "AWS::S3::Bucket",
        "PipelineDataBucketA8862201": "AWS::S3::Bucket",
        "PipelineArtifactsBucket22248F97": "AWS::S3::Bucket",
        "PipelineStateMachineLogsC1114D0C": "AWS::Logs::LogGroup",
        "PipelineEndpointTeardownLogsACF1136C": "AWS::Logs::LogGroup",
    }.items():
        assert resources.get(logical_id, {}).get("Type") == resource_type, logical_id


# --- bring your own ---------------------------------------------------------------------------


def test_given_bucket_and_key_are_used_and_granted_not_duplicated() -> None:
    def build(stack: cdk.Stack) -> None:
        key = kms.Key(stack, "OwnKey", enable_key_rotation=True)
        logs = s3.Bucket(stack, "OwnLogs", enforce_ssl=True)
        bucket = s3.Bucket(
            stack,
            "OwnData",
            encryption_key=key,
            enforce_ssl=True,
            server_access_logs_bucket=logs,
        )
        MLPipeline(
            stack,
            "P",
            source_dir=CODE,
            entry_point="mnist.py",
            storage=StorageSettings(data_bucket=bucket, encryption_key=key),
        )

    template = _synth(build, nag=False)
    assert _count(template, "AWS::KMS::Key") == 1
    # own data + own logs + the pipeline's artifacts + its access-log bucket
    assert _count(template, "AWS::S3::Bucket") == 4
    policies = [r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"]
    text = json.dumps(policies)
    assert '"OwnData' in text and "/training-data/*" in text
    assert '"OwnKey' in text
    assert "PipelineKey" not in text


def test_given_role_and_topic_are_used() -> None:
    def build(stack: cdk.Stack) -> None:
        role = iam.Role(
            stack, "OwnRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com")
        )
        topic_key = kms.Key(stack, "TopicKey", enable_key_rotation=True)
        from aws_cdk import aws_sns as sns

        topic = sns.Topic(stack, "OwnTopic", master_key=topic_key, enforce_ssl=True)
        MLPipeline(
            stack,
            "P",
            source_dir=CODE,
            entry_point="mnist.py",
            sagemaker_role=role,
            notifications=NotificationSettings(failure_topic=topic),
        )

    template = _synth(build)
    assert _count(template, "AWS::SNS::Topic") == 1
    assert _count(template, "AWS::IAM::Role") == 4  # own, state machine, teardown, events
    asl = render_definition(template)
    assert "/OwnRole" in asl["States"]["Train"]["Parameters"]["RoleArn"]
    assert ":OwnTopic" in asl["States"]["NotifyFailure"]["Parameters"]["TopicArn"]


@pytest.mark.parametrize(
    ("group", "resource_prop", "make"),
    [
        ("storage", "data_bucket", lambda stack: s3.Bucket(stack, "B")),
        ("storage", "artifacts_bucket", lambda stack: s3.Bucket(stack, "B")),
        ("storage", "encryption_key", lambda stack: kms.Key(stack, "K")),
        ("notifications", "failure_topic", lambda stack: sns.Topic(stack, "T")),
    ],
)
def test_a_resource_and_props_for_creating_it_are_refused_together(
    group: str, resource_prop: str, make: Any
) -> None:
    stack = cdk.Stack(new_app(), "S")
    settings = {resource_prop: make(stack), f"{resource_prop}_props": {"versioned": True}}
    kind = StorageSettings if group == "storage" else NotificationSettings
    with pytest.raises(
        ValueError,
        match=rf"{group}\.{resource_prop}_props='given': give either {group}\.{resource_prop}",
    ):
        MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py", **{group: kind(**settings)})


def test_unknown_bucket_props_are_refused() -> None:
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(
        ValueError,
        match=r"storage.data_bucket_props\['versionned'\]=True: is not an s3.Bucket",
    ):
        MLPipeline(
            stack,
            "P",
            source_dir=CODE,
            entry_point="mnist.py",
            storage=StorageSettings(data_bucket_props={"versionned": True}),
        )


def test_bucket_props_are_laid_over_the_secure_defaults() -> None:
    def build(stack: cdk.Stack) -> None:
        MLPipeline(
            stack,
            "P",
            source_dir=CODE,
            entry_point="mnist.py",
            storage=StorageSettings(data_bucket_props={"bucket_name": "team-training-data"}),
        )

    template = Template.from_json(_synth(build, nag=False))
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": "team-training-data",
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": Match.any_value(),
        },
    )


def test_vpc_options_need_a_vpc() -> None:
    stack = cdk.Stack(new_app(), "S")
    with pytest.raises(ValueError, match=r"network\.vpc_subnets=.*needs network\.vpc"):
        MLPipeline(
            stack,
            "P",
            source_dir=CODE,
            entry_point="mnist.py",
            network=NetworkSettings(
                vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            ),
        )


def test_training_and_model_run_in_the_given_vpc_with_isolation_and_encryption() -> None:
    def build(stack: cdk.Stack) -> None:
        vpc = ec2.Vpc(
            stack,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                )
            ],
        )
        MLPipeline(
            stack,
            "P",
            source_dir=CODE,
            entry_point="mnist.py",
            network=NetworkSettings(
                vpc=vpc, enable_network_isolation=True, encrypt_inter_container_traffic=True
            ),
        )

    template = _synth(build, nag=False)
    asl = render_definition(template)
    train = asl["States"]["Train"]["Parameters"]
    assert len(train["VpcConfig"]["Subnets"]) == 2
    assert len(train["VpcConfig"]["SecurityGroupIds"]) == 1
    assert train["EnableNetworkIsolation"] is True
    assert train["EnableInterContainerTrafficEncryption"] is True
    model = asl["States"]["CreateModel"]["Parameters"]
    assert len(model["VpcConfig"]["Subnets"]) == 2
    assert model["EnableNetworkIsolation"] is True
    # The instances of a distributed job may talk to each other.
    Template.from_json(template).has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"IpProtocol": "-1", "SourceSecurityGroupId": Match.any_value()},
    )
    text = json.dumps(template)
    assert "ec2:CreateNetworkInterface" in text and '"ec2:Vpc"' in text


# --- extend -----------------------------------------------------------------------------------


def test_steps_before_training_and_after_evaluation_are_chained_in() -> None:
    def build(stack: cdk.Stack) -> None:
        MLPipeline(
            stack,
            "P",
            source_dir=CODE,
            entry_point="mnist.py",
            hooks=Hooks(
                before_training=lambda context: sfn.Pass(context.scope, "ProcessData"),
                after_evaluation=lambda context: sfn.Pass(context.scope, "Approve"),
            ),
        )

    asl = render_definition(_synth(build))
    # Both run on the training path only: a run that deploys a registered version skips them.
    assert asl["States"]["RunConfigured"]["Next"] == "TrainOrDeployVersion"
    (train,) = asl["States"]["TrainOrDeployVersion"]["Choices"]
    assert train["Next"] == "ProcessData"
    assert asl["States"]["ProcessData"]["Next"] == "ListInstanceTypeClasses"  # training starts
    # The run metrics come first (monitoring.publish_metrics).
    assert asl["States"]["ModelAccepted"]["Next"] == "PublishRunMetrics"
    assert asl["States"]["RunMetricsDone"]["Next"] == "Approve"
    # The model is registered after the hook, so the registry holds what the hook accepted.
    assert asl["States"]["Approve"]["Next"] == "PrepareEvaluationReport"


def test_deployment_can_be_replaced_and_then_no_endpoint_exists() -> None:
    pipelines: list[MLPipeline] = []

    def build(stack: cdk.Stack) -> None:
        pipelines.append(
            MLPipeline(
                stack,
                "P",
                source_dir=CODE,
                entry_point="mnist.py",
                hooks=Hooks(deployment=lambda context: sfn.Pass(context.scope, "BatchTransform")),
            )
        )

    template = _synth(build)
    asl = render_definition(template)
    # The model is registered first; the replacement deploys the version (``$.modelPackage``).
    # The run metrics come first (monitoring.publish_metrics).
    assert asl["States"]["ModelAccepted"]["Next"] == "PublishRunMetrics"
    assert asl["States"]["RunMetricsDone"]["Next"] == "PrepareEvaluationReport"
    assert asl["States"]["ApprovalMode"]["Default"] == "DeployRegisteredVersion"
    assert asl["States"]["DeployRegisteredVersion"]["Next"] == "BatchTransform"
    assert asl["States"]["ModelPackageFound"]["Next"] == "BatchTransform"
    assert asl["States"]["BatchTransform"]["Next"] == "RunSucceeded"
    assert "CreateEndpoint" not in asl["States"]
    assert _count(template, "Custom::EndpointTeardown") == 0
    pipeline = pipelines[0]
    assert pipeline.endpoint_name is None
    with pytest.raises(ValueError, match="no endpoint"):
        pipeline.grant_invoke_endpoint(iam.AccountRootPrincipal())


def test_grants_give_exactly_what_they_say() -> None:
    def build(stack: cdk.Stack) -> None:
        pipeline = MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py")
        for name, grant in {
            "Starter": pipeline.grant_start_execution,
            "Uploader": pipeline.grant_write_training_data,
            "Reader": pipeline.grant_read_model_artifacts,
            "Caller": pipeline.grant_invoke_endpoint,
        }.items():
            grant(iam.Role(stack, name, assumed_by=iam.AccountRootPrincipal()))

    template = _synth(build, nag=False)

    def actions_of(role: str) -> set[str]:
        found: set[str] = set()
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::IAM::Policy" and any(
                r["Ref"].startswith(role) for r in resource["Properties"]["Roles"]
            ):
                for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                    actions = statement["Action"]
                    found.update(actions if isinstance(actions, list) else [actions])
        return found

    # What `mlpipeline run`, `watch`, `list` and `describe` call on Step Functions, and no more.
    assert {a for a in actions_of("Starter") if a.startswith("states:")} == {
        "states:StartExecution",
        "states:DescribeExecution",
        "states:DescribeStateMachineForExecution",
        "states:GetExecutionHistory",
        "states:DescribeStateMachine",
        "states:ListExecutions",
    }
    assert {"s3:PutObject", "kms:GenerateDataKey*"} <= actions_of("Uploader")
    assert "s3:GetObject*" in actions_of("Reader") and "s3:PutObject" not in actions_of("Reader")
    assert actions_of("Caller") == {"sagemaker:InvokeEndpoint"}


def _function(stack: cdk.Stack, name: str) -> lambda_.Function:
    function = lambda_.Function(
        stack,
        name,
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
    # The function's own findings are its author's, not the grants': acknowledged here.
    for finding, reason in {
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]": "The basic execution role of a test function: its logs",
        "AwsSolutions-L1": "A test function pinned to one runtime so the test stays the same",
    }.items():
        acknowledge(function, finding, reason)
    return function


@pytest.mark.parametrize(
    "kind",
    [
        "function",
        "role",
        "user",
        "group",
        "imported role",
    ],
)
def test_grants_pass_cdk_nag_for_any_grantable(kind: str) -> None:
    def grantee(stack: cdk.Stack, name: str) -> iam.IGrantable:
        if kind == "function":
            return _function(stack, name)
        if kind == "role":
            return iam.Role(stack, name, assumed_by=iam.AccountRootPrincipal())
        if kind == "user":
            return iam.User(stack, name)
        if kind == "group":
            return iam.Group(stack, name)
        return iam.Role.from_role_arn(stack, name, f"arn:aws:iam::123456789012:role/{name}")

    def build(stack: cdk.Stack) -> None:
        pipeline = MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py")
        pipeline.grant_start_execution(grantee(stack, "Starter"))
        pipeline.grant_write_training_data(grantee(stack, "Uploader"))
        pipeline.grant_read_model_artifacts(grantee(stack, "Reader"))
        pipeline.grant_invoke_endpoint(grantee(stack, "Caller"))

    # cdk-nag fails the synth on any finding that is not acknowledged.
    template = _synth(build)
    assert _count(template, "AWS::IAM::Policy") >= 5


def test_grants_acknowledge_only_findings_they_add() -> None:
    app = new_app()
    stack = cdk.Stack(app, "S")
    pipeline = MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py")
    function = _function(stack, "Uploader")
    other = s3.Bucket(stack, "Other")
    other.grant_read(function)  # the function's own grant, with its own findings
    pipeline.grant_write_training_data(function)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError) as error:
        app.synth()
    message = str(error.value)
    assert "AwsSolutions-IAM5[Action::s3:GetObject*]" in message
    assert "training-data/*]" not in message


# --- two pipelines in one app -----------------------------------------------------------------


def _two_pipelines(
    first: dict[str, Any] | None = None,
    second: dict[str, Any] | None = None,
    envs: tuple[cdk.Environment | None, cdk.Environment | None] = (None, None),
) -> cdk.cx_api.CloudAssembly:
    app = new_app()
    for name, settings, env in zip(("Team", "Other"), (first, second), envs, strict=True):
        stack = cdk.Stack(app, name, env=env)
        MLPipeline(stack, "Pipeline", source_dir=CODE, entry_point="mnist.py", **(settings or {}))
    return app.synth()


def test_two_pipelines_deploying_to_one_endpoint_are_refused_naming_both() -> None:
    with pytest.raises(RuntimeError) as error:
        _two_pipelines()
    message = str(error.value)
    assert (
        "[Other/Pipeline] serving.endpoint_name='mlpipeline-endpoint': pipeline 'Team/Pipeline' "
        "already deploys to this endpoint in the same account and region as 'Other/Pipeline'"
    ) in message
    assert "its own name_prefix" in message


def test_two_pipelines_with_one_endpoint_name_given_are_refused_too() -> None:
    serving = {"serving": ServingSettings(endpoint_name="digits")}
    with pytest.raises(RuntimeError, match=r"serving\.endpoint_name='digits': pipeline"):
        _two_pipelines({"name_prefix": "a", **serving}, {"name_prefix": "b", **serving})


@pytest.mark.parametrize(
    ("first", "second", "envs"),
    [
        ({"name_prefix": "team"}, None, (None, None)),
        (None, {"serving": ServingSettings(endpoint_name="other")}, (None, None)),
        (
            None,
            None,
            (
                cdk.Environment(account="123456789012", region="eu-west-1"),
                cdk.Environment(account="123456789012", region="us-east-1"),
            ),
        ),
        # An environment-agnostic stack deploys wherever the CLI points: not compared.
        (None, None, (None, cdk.Environment(account="123456789012", region="eu-west-1"))),
    ],
)
def test_pipelines_with_their_own_endpoints_synthesize(
    first: dict[str, Any] | None,
    second: dict[str, Any] | None,
    envs: tuple[cdk.Environment | None, cdk.Environment | None],
) -> None:
    assembly = _two_pipelines(first, second, envs)
    assert len(assembly.stacks) == 2


def test_failure_notifications_of_two_pipelines_have_their_own_subjects() -> None:
    assembly = _two_pipelines({"name_prefix": "team"})
    subjects = [
        render_definition(stack.template)["States"]["NotifyFailure"]["Parameters"]["Subject"]
        for stack in assembly.stacks
    ]
    assert sorted(subjects) == [
        "ML pipeline run failed: Other/Pipeline",
        "ML pipeline run failed: Team/Pipeline",
    ]


def test_failure_subject_stays_within_sns_limits() -> None:
    # SNS Publish: Subject less than 100 characters, no line breaks or control characters.
    from mlpipeline_cdk.steps.failure import failure_subject

    app = new_app()
    stack = cdk.Stack(app, "S" * 120)
    scope = Construct(Construct(stack, "Équipe\nà-Paris" * 5), "Pipeline")
    subject = failure_subject(scope)
    assert len(subject) == 99
    assert subject.startswith("ML pipeline run failed: ...")
    assert subject.endswith("/Pipeline")
    assert all(" " <= c <= "~" for c in subject)


# --- the consumer stack -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def consumer_template() -> dict[str, Any]:
    from tests.constructs.consumer.team_stack import TeamPipelineStack

    app = new_app()
    TeamPipelineStack(app, "TeamPipeline")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return dict(app.synth().get_stack_by_name("TeamPipeline").template)


def test_consumer_stack_synthesizes_with_its_steps_and_resources(
    consumer_template: dict[str, Any],
) -> None:
    asl = render_definition(consumer_template)
    assert asl["States"]["RunConfigured"]["Next"] == "TrainOrDeployVersion"
    (train,) = asl["States"]["TrainOrDeployVersion"]["Choices"]
    assert train["Next"] == "ListTrainingData"
    assert asl["States"]["TrainingDataFound"]["Next"] == "ListInstanceTypeClasses"
    # The run metrics come first (monitoring.publish_metrics).
    assert asl["States"]["ModelAccepted"]["Next"] == "PublishRunMetrics"
    assert asl["States"]["RunMetricsDone"]["Next"] == "ComposeModelRecord"
    assert asl["States"]["ComposeModelRecord"]["Next"] == "RecordModel"
    assert asl["States"]["RecordModel"]["Next"] == "PrepareEvaluationReport"
    assert _count(consumer_template, "AWS::KMS::Key") == 1


@pytest.mark.slow
def test_consumer_stack_passes_cfn_lint(consumer_template: dict[str, Any]) -> None:
    import cfnlint.api

    assert [
        str(m) for m in cfnlint.api.lint(json.dumps(consumer_template), regions=["us-east-1"])
    ] == []


# --- packaging --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT / "constructs"),
        ],
        check=True,
    )
    (built,) = out.glob("mlpipeline_cdk-*.whl")
    return built


@pytest.mark.slow
def test_wheel_declares_its_dependencies_and_ships_types(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(metadata_name).decode()
    assert "mlpipeline_cdk/py.typed" in names
    assert "mlpipeline_cdk/steps/training.py" in names
    assert not any(n.startswith("constructs/") for n in names)
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any(r.startswith("Requires-Dist: aws-cdk-lib") for r in requires)
    assert any(r.startswith("Requires-Dist: constructs") for r in requires)
    assert "Version: 0.1.0" in metadata


@pytest.mark.slow
def test_wheel_works_installed_on_its_own(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    code = (
        "import mlpipeline_cdk, aws_cdk as cdk;"
        "from mlpipeline_cdk import MLPipeline;"
        "print(mlpipeline_cdk.__file__)"
    )
    env = {
        "PYTHONPATH": str(target),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert out.strip().startswith(str(target))


# --- documentation ----------------------------------------------------------------------------

LIBRARY_README = (ROOT / "constructs" / "README.md").read_text()


def _table_names(heading: str) -> set[str]:
    section = LIBRARY_README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    section = section.split("\n### ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            cell = line.split("|")[1]
            names.update(part.strip(" `") for part in cell.split(","))
    return names


def test_every_prop_is_in_the_readme_props_table() -> None:
    import inspect

    parameters = set(inspect.signature(MLPipeline.__init__).parameters) - {
        "self",
        "scope",
        "construct_id",
    }
    assert _table_names("Props") == parameters


def test_every_attribute_in_the_readme_exists() -> None:
    stack = cdk.Stack(new_app(), "S")
    pipeline = MLPipeline(stack, "P", source_dir=CODE, entry_point="mnist.py")
    documented = _table_names("Attributes")
    assert documented
    for name in documented:
        assert hasattr(pipeline, name), name


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_each_settings_table_in_the_readme_is_generated_from_the_declarations(group: str) -> None:
    start, end = f"<!-- settings:{group}:start -->\n", f"\n<!-- settings:{group}:end -->"
    assert start in LIBRARY_README, group
    shown = LIBRARY_README.split(start, 1)[1].split(end, 1)[0]
    assert shown == readme_table(group)


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_setting_is_documented_once_with_its_type(group: str) -> None:
    import dataclasses

    kind = GROUPS[group]
    assert kind.__dataclass_params__.frozen  # type: ignore[attr-defined]
    for spec in dataclasses.fields(kind):
        assert spec.kw_only, spec.name
        assert spec.metadata["doc"].strip(), spec.name
        assert spec.type, spec.name
