"""The delivery pipeline: on every push, test, update itself, then roll the ML pipeline out stage
by stage (CDK Pipelines on CodePipeline V2)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, cast

import aws_cdk as cdk
from aws_cdk import Duration, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from mlpipeline_cdk import defaults
from stacks._nag import acknowledge, default_policy, partition, ref
from stacks.ml_stage import MLStage, smoke_test_role_name
from stacks.pipeline_settings import PipelineSettings, StageSettings

ROOT: Final = Path(__file__).resolve().parent.parent
#: CodeBuild's Ubuntu 22.04 image; the runtime versions below are the ones `make test` runs on.
BUILD_IMAGE: Final = codebuild.LinuxBuildImage.STANDARD_7_0
RUNTIME_VERSIONS: Final = {"python": "3.11", "nodejs": "20"}
BUILD_ENVIRONMENT_VARIABLES: Final = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
}
#: What the first stage's smoke test starts: one short training run (the execution-input
#: contract of the ML pipeline's state machine).
SMOKE_TEST_INPUT: Final = {"hyperparameters": {"epochs": "1"}, "trainingInstanceCount": 1}
#: What a later stage's promotion starts: a run that trains nothing and deploys the newest
#: Approved version of the first stage's model package group (its ``registry.promote_from``).
PROMOTE_INPUT: Final = {"modelPackage": "latest"}
#: How long the smoke test waits for the execution; the CodeBuild step gets some margin on top.
SMOKE_TEST_TIMEOUT: Final = Duration.minutes(60)
#: PyTorch's CPU wheel index: PyPI's torch for Linux is the CUDA build, several GB of nvidia-*
#: packages a build that trains nothing does not need (https://pytorch.org/get-started/locally/).
TORCH_CPU_INDEX_URL: Final = "https://download.pytorch.org/whl/cpu"
#: The asset publisher CDK Pipelines installs; pinned rather than `latest`, like the CLI.
CDK_ASSETS_VERSION: Final = "4.7.3"


def cli_version() -> str:
    """The CDK CLI version pinned in package.json, also used by the pipeline's own deploys."""
    package = json.loads((ROOT / "package.json").read_text())
    return str(package["devDependencies"]["aws-cdk"])


def pinned_requirement(name: str) -> str:
    """``name==version`` as pinned in requirements.txt."""
    text = (ROOT / "requirements.txt").read_text()
    match = re.search(rf"^{re.escape(name)}==(\S+)", text, flags=re.MULTILINE | re.IGNORECASE)
    if match is None:
        raise LookupError(f"{name} is not pinned in requirements.txt")
    return f"{name}=={match.group(1)}"


def synth_command(context: Mapping[str, str]) -> str:
    """`npx cdk synth` with ``context``, in the virtual environment `make setup` created."""
    flags = " ".join(f"-c {shlex.quote(f'{key}={value}')}" for key, value in context.items())
    return f". .venv/bin/activate && npx cdk synth --quiet {flags}".rstrip()


class PipelineStack(cdk.Stack):
    """A CodePipeline (V2) from a CodeConnections source: ``make test`` and ``cdk synth``, self
    mutation, asset publishing, then one :class:`MLStage` per configured stage. The first stage is
    smoke-tested with a one-epoch execution of its state machine, which registers its model;
    each later stage waits for a manual approval, and one in the first stage's region then
    promotes: a run deploys the first stage's newest Approved model version, without training,
    so that it serves exactly the model that passed the smoke test (a model package and its
    archive must be in the region of the model made from them).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: PipelineSettings,
        synth_context: Mapping[str, str] | None = None,
        name_prefix: str = "mnist",
        endpoint_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        """
        :param settings: Source, environment and stages, validated (see
            :class:`PipelineSettings`).
        :param synth_context: Context the pipeline's `cdk synth` passes to the app, so that it
            synthesizes this same pipeline. Default: ``settings.as_context()``.
        :param name_prefix: Passed to each stage's ML pipeline stack.
        :param endpoint_name: Passed to each stage's ML pipeline stack. Default: the stack's own.
        """
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=settings.account, region=settings.region),
            **kwargs,
        )
        self.settings = settings
        synth_context = dict(synth_context or settings.as_context())

        self.artifacts_key = kms.Key(
            self,
            "ArtifactsKey",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            description="Encrypts the delivery pipeline's artifacts and build outputs",
        )
        self.access_logs_bucket = s3.Bucket(
            self, "AccessLogsBucket", **defaults.access_logs_bucket_props()
        )
        self.artifacts_bucket = s3.Bucket(
            self,
            "ArtifactsBucket",
            **defaults.data_bucket_props(
                encryption_key=self.artifacts_key,
                access_logs_bucket=self.access_logs_bucket,
                access_logs_prefix="artifacts-bucket/",
            ),
        )

        # Named after the repository, as CDK Pipelines would, but known here for the look-up of
        # the action's role below.
        self.source_action_name = settings.repository.replace("/", "_")[:100]
        self.source = pipelines.CodePipelineSource.connection(
            settings.repository,
            settings.branch,
            connection_arn=settings.connection_arn,
            action_name=self.source_action_name,
        )
        self.synth_step = pipelines.CodeBuildStep(
            "Synth",
            input=self.source,
            # `make setup` is `npm ci` and the Python install (torch's CPU build); `make test`
            # every check.
            install_commands=[f"make setup TORCH_INDEX_URL={TORCH_CPU_INDEX_URL}"],
            commands=["make test", synth_command(synth_context)],
            primary_output_directory="cdk.out",
            # torch, mypy and pytest in parallel want more than the 3 GB of SMALL.
            build_environment=codebuild.BuildEnvironment(compute_type=codebuild.ComputeType.MEDIUM),
            timeout=Duration.minutes(60),
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            synth=self.synth_step,
            pipeline_type=codepipeline.PipelineType.V2,
            self_mutation=True,
            artifact_bucket=self.artifacts_bucket,
            # Our artifact key is rotated anyway; these two concern the keys of the replication
            # buckets in other regions, which only exist for cross-account pipelines.
            cross_account_keys=settings.cross_account,
            enable_key_rotation=settings.cross_account,
            cli_version=cli_version(),
            cdk_assets_cli_version=CDK_ASSETS_VERSION,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=BUILD_IMAGE,
                    environment_variables={
                        name: codebuild.BuildEnvironmentVariable(value=value)
                        for name, value in BUILD_ENVIRONMENT_VARIABLES.items()
                    },
                ),
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}}}
                ),
            ),
        )

        first, *later = settings.stages
        endpoint_names = _stage_endpoint_names(
            settings.stages, name_prefix=name_prefix, endpoint_name=endpoint_name
        )
        # Named, so that the first stage's smoke-test role (in another stack, maybe another
        # account) can trust exactly this role without a cross-stage reference.
        smoke_test_project_role_name = f"{self.stack_name}-smoke-test-{self.region}"
        self.smoke_test_project_role = iam.Role(
            self,
            "SmokeTestProjectRole",
            role_name=smoke_test_project_role_name,
            assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
            description="CodeBuild role of the smoke test; may only assume the first stage's "
            "smoke-test role",
        )
        smoke_test_principal = iam.AccountPrincipal(self.account).with_conditions(
            {
                "ArnEquals": {
                    "aws:PrincipalArn": f"arn:{cdk.Aws.PARTITION}:iam::{self.account}:role/"
                    f"{smoke_test_project_role_name}"
                }
            }
        )
        #: The later stages' promotion steps.
        self.promote_steps: list[pipelines.CodeBuildStep] = []
        group_names = _stage_group_names(settings.stages, name_prefix=name_prefix)
        promoted = [stage for stage in later if stage.region == first.region]
        source_group = first_stage_group_arn(first, name_prefix=name_prefix)
        self.stages: list[MLStage] = [
            MLStage(
                self,
                first.name,
                env=_env(first),
                name_prefix=name_prefix,
                endpoint_name=endpoint_names[0],
                smoke_test_principal=smoke_test_principal,
                consumer_accounts=sorted({s.account for s in promoted} - {first.account}),
                model_package_group_name=group_names[0],
            )
        ]
        self.smoke_test_step = self._run_step(first, self.stages[0], "SmokeTest", SMOKE_TEST_INPUT)
        self.pipeline.add_stage(self.stages[0], post=[self.smoke_test_step])
        for stage, stage_endpoint_name, group_name in zip(
            later, endpoint_names[1:], group_names[1:], strict=True
        ):
            promotes = stage in promoted
            ml_stage = MLStage(
                self,
                stage.name,
                env=_env(stage),
                name_prefix=name_prefix,
                endpoint_name=stage_endpoint_name,
                smoke_test_principal=smoke_test_principal if promotes else None,
                promote_from=source_group if promotes else None,
                model_package_group_name=group_name,
            )
            self.stages.append(ml_stage)
            self.pipeline.add_stage(
                ml_stage,
                pre=[
                    pipelines.ManualApprovalStep(
                        "Approve", comment=f"Deploy this commit to {stage.name}?"
                    )
                ],
                post=[self._promote_step(stage, ml_stage)] if promotes else [],
            )
        self.pipeline.build_pipeline()
        self._spell_execution_roles_with_fn_sub()
        self._acknowledge_findings()

    def _promote_step(self, stage: StageSettings, ml_stage: MLStage) -> pipelines.CodeBuildStep:
        step = self._run_step(stage, ml_stage, "Promote", PROMOTE_INPUT)
        self.promote_steps.append(step)
        return step

    def _run_step(
        self, stage: StageSettings, ml_stage: MLStage, step_id: str, run: Mapping[str, Any]
    ) -> pipelines.CodeBuildStep:
        """A post-deployment step that starts a run of ``stage``'s state machine with input
        ``run`` (through the stage's run role, maybe in another account) and waits for it."""
        role_arn = self.format_arn(
            service="iam",
            region="",
            account=stage.account,
            resource="role",
            resource_name=smoke_test_role_name(stage_name=stage.name, region=stage.region),
        )
        self.smoke_test_project_role.add_to_policy(
            iam.PolicyStatement(
                sid=f"Assume{step_id}Role"
                + ("" if step_id == "SmokeTest" else re.sub("[^A-Za-z0-9]", "", stage.name)),
                actions=["sts:AssumeRole"],
                resources=[role_arn],
            )
        )
        # The ARNs come from the environment: one from the stage's outputs at run time.
        command = " ".join(
            [
                "python3 scripts/smoke_test.py",
                '--state-machine-arn "$STATE_MACHINE_ARN"',
                '--role-arn "$SMOKE_TEST_ROLE_ARN"',
                f"--input {shlex.quote(json.dumps(run))}",
                f"--timeout {int(SMOKE_TEST_TIMEOUT.to_seconds())}",
            ]
        )
        return pipelines.CodeBuildStep(
            step_id,
            input=self.source,
            install_commands=[f"python3 -m pip install --quiet {pinned_requirement('boto3')}"],
            commands=[command],
            env={"SMOKE_TEST_ROLE_ARN": role_arn},
            env_from_cfn_outputs={"STATE_MACHINE_ARN": ml_stage.state_machine_arn_output},
            role=self.smoke_test_project_role,
            timeout=SMOKE_TEST_TIMEOUT.plus(Duration.minutes(10)),
        )

    def _spell_execution_roles_with_fn_sub(self) -> None:
        """Name the CloudFormation execution role of each stage's Prepare action with Fn::Sub.

        CDK Pipelines writes that ARN as an ``Fn::Join`` with an empty delimiter, which
        cfn-lint rejects in action configuration (E3703). Same value, spelled as cfn-lint asks,
        taken from the stage stack's synthesizer like CDK Pipelines does.
        """
        cfn_pipeline = cast(codepipeline.CfnPipeline, self.pipeline.pipeline.node.default_child)
        ml_stages = {stage.node.id: stage for stage in self.stages}
        overridden = 0
        for stage_index, stage in enumerate(self.pipeline.pipeline.stages):
            ml_stage = ml_stages.get(stage.stage_name)
            if ml_stage is None:
                continue
            synthesizer = ml_stage.ml_stack.synthesizer
            assert isinstance(synthesizer, cdk.DefaultStackSynthesizer)
            for action_index, action in enumerate(stage.actions):
                props = action.action_properties
                if props.provider == "CloudFormation" and props.action_name.endswith(".Prepare"):
                    cfn_pipeline.add_property_override(
                        f"Stages.{stage_index}.Actions.{action_index}.Configuration.RoleArn",
                        {"Fn::Sub": synthesizer.cloud_formation_execution_role_arn},
                    )
                    overridden += 1
        if overridden != len(self.stages):
            raise AssertionError(
                f"found {overridden} Prepare actions for {len(self.stages)} stages"
            )
        # aws-cdk-lib makes the pipeline depend on its role twice, by GetAtt and by DependsOn
        # (so that the role's policy exists first); cfn-lint's W3005 flags the redundancy.
        cfn_pipeline.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})

    def _acknowledge_findings(self) -> None:
        """cdk-nag findings on what CDK Pipelines generates, each with its reason, on the policy
        it concerns. The artifact bucket (access logs, KMS, TLS) and the key (rotation) are ours
        and have no findings."""
        pipeline = self.pipeline.pipeline
        aws = partition(self)
        bucket_objects = f"Resource::{ref(self.artifacts_bucket, 'Arn')}/*"
        read = {
            "Action::s3:GetObject*": "Reads pipeline artifacts (GetObject, GetObjectVersion, ...) "
            "as granted by CDK Pipelines with Bucket.grant_read; only in the artifact bucket",
            "Action::s3:GetBucket*": "Reads bucket metadata (location, versioning) of the "
            "artifact bucket along with its artifacts; granted by CDK Pipelines",
            "Action::s3:List*": "Lists pipeline artifacts, part of CDK Pipelines' read grant; "
            "only the artifact bucket",
            bucket_objects: "Artifact keys are chosen by CodePipeline per execution; limited to "
            "the objects of the pipeline's own artifact bucket",
        }
        write = {
            "Action::s3:DeleteObject*": "Part of CDK Pipelines' read-write grant on the "
            "artifact bucket (Bucket.grant_read_write); only that bucket",
            "Action::s3:Abort*": "Aborts multipart uploads of large output artifacts, part of "
            "Bucket.grant_read_write on the artifact bucket only",
        }
        key = {
            "Action::kms:GenerateDataKey*": "Encrypts output artifacts with the artifact "
            "bucket's key (Key.grant_encrypt_decrypt by CDK Pipelines); only that key",
            "Action::kms:ReEncrypt*": "Part of Key.grant_encrypt_decrypt on the artifact "
            "bucket's key, granted by CDK Pipelines; only that key",
        }

        def project(project: codebuild.IProject) -> dict[str, str]:
            prefix = f"arn:{aws}:{{}}:{self.region}:{self.account}"
            return {
                f"Resource::{prefix.format('logs')}:log-group:/aws/codebuild/{ref(project)}:*": (
                    "CodeBuild writes one log stream per build into this project's own log "
                    "group; stream names are chosen by CodeBuild"
                ),
                f"Resource::{prefix.format('codebuild')}:report-group/{ref(project)}-*": (
                    "Test report groups of this one CodeBuild project (<project>-<name>), as "
                    "the CodeBuild Project construct grants them"
                ),
            }

        assert pipeline.role is not None
        source_action_role = cast(
            iam.IRole,
            pipeline.node.find_child("Source")
            .node.find_child(self.source_action_name)
            .node.find_child("CodePipelineActionRole"),
        )
        synth_project = self.pipeline.synth_project
        self_mutation = self.pipeline.self_mutation_project
        smoke_test_project = self.smoke_test_step.project
        asset_role = cast(
            iam.IRole, self.pipeline.node.find_child("Assets").node.find_child("FileRole")
        )
        assert synth_project.role is not None and self_mutation.role is not None

        pipeline_role_findings = {**read, **write, **key}
        # A stage in another region gets a replication bucket from aws-cdk-lib's support stack in
        # that region; the pipeline role copies artifacts there.
        for region, support in sorted(pipeline.cross_region_support.items()):
            replication_bucket = support.replication_bucket
            bucket_name = self.resolve(replication_bucket.bucket_name)
            pipeline_role_findings[f"Resource::arn:{aws}:s3:::{bucket_name}/*"] = (
                f"Artifact keys in the {region} replication bucket are chosen by CodePipeline "
                "per execution; limited to that one bucket's objects"
            )
            pipeline_role_findings["Resource::*"] = (
                "KMS use of the replication buckets' keys, which aws-cdk-lib's cross-region "
                "support stacks expose by alias only, so the grant cannot name the key ARN"
            )
            acknowledge(
                replication_bucket,
                "AwsSolutions-S1",
                "Holds transient copies of pipeline artifacts for the deploy actions in "
                f"{region}; aws-cdk-lib's generated support stack has no access-log setting",
            )

        findings: dict[iam.IRole, dict[str, str]] = {
            pipeline.role: pipeline_role_findings,
            source_action_role: {**read, **write, **key},
            synth_project.role: {**read, **write, **key, **project(synth_project)},
            self.smoke_test_project_role: {
                **read,
                **key,
                **project(smoke_test_project),
                **{k: v for s in self.promote_steps for k, v in project(s.project).items()},
            },
            self_mutation.role: {
                **read,
                **key,
                **project(self_mutation),
                f"Resource::arn:*:iam::{self.account}:role/*": "cdk deploy of this stack "
                "assumes the CDK bootstrap roles of this account; a condition on "
                "iam:ResourceTag/aws-cdk:bootstrap-role limits it to those roles",
                "Resource::*": "cloudformation:DescribeStacks and s3:ListBucket, read-only, "
                "for cdk deploy to find the bootstrap stack and its bucket by name",
            },
            asset_role: {
                **read,
                f"Resource::arn:{aws}:logs:"
                f"{self.region}:{self.account}:log-group:/aws/codebuild/*": "One role serves "
                "every asset-publishing project CDK Pipelines generates; limited to CodeBuild "
                "log groups of this account and region",
                f"Resource::arn:{aws}:codebuild:"
                f"{self.region}:{self.account}:report-group/*": "One role serves every "
                "asset-publishing project CDK Pipelines generates; limited to CodeBuild report "
                "groups of this account and region",
                "Resource::*": "The asset role is also the CodePipeline action role that starts "
                "and follows the asset-publishing builds (codebuild:StartBuild, BatchGetBuilds, "
                "StopBuild), granted by CDK Pipelines on every project",
            },
        }
        for role, reasons in findings.items():
            policy = default_policy(role)
            for finding, reason in reasons.items():
                acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)


def _stage_endpoint_names(
    stages: tuple[StageSettings, ...], *, name_prefix: str, endpoint_name: str | None
) -> list[str | None]:
    """Each stage's endpoint name: the stack's own (None: its default) for the first stage in an
    account and region, ``<that name>-<stage name>`` for later stages there, so that two stages
    never share one endpoint (each run would replace the other's model, and deleting either
    stage's stack would delete it; MLPipeline refuses that at synth)."""
    base = endpoint_name or f"{name_prefix}-endpoint"
    return _names_per_place(stages, base=base, first=endpoint_name)


def _stage_group_names(stages: tuple[StageSettings, ...], *, name_prefix: str) -> list[str | None]:
    """Each stage's model package group name, unique per account and region likewise (a second
    group of the same name could not be created); None: the pipeline's default."""
    return _names_per_place(stages, base=f"{name_prefix}-models", first=None)


def _names_per_place(
    stages: tuple[StageSettings, ...], *, base: str, first: str | None
) -> list[str | None]:
    # Within SageMaker's EndpointName and ModelPackageGroupName: at most 63 of
    # [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62} (botocore's sagemaker service model); stage names are
    # letters, digits and hyphens, lowercased here.
    seen: set[tuple[str, str]] = set()
    names: list[str | None] = []
    for stage in stages:
        where = (stage.account, stage.region)
        suffix = stage.name.lower().strip("-")
        names.append(f"{base[: 62 - len(suffix)].rstrip('-')}-{suffix}" if where in seen else first)
        seen.add(where)
    return names


def first_stage_group_arn(stage: StageSettings, *, name_prefix: str) -> str:
    """The ARN of the first stage's model package group, written out (the later stages' grants
    are scoped by its account and region at synth)."""
    partition = (
        "aws-cn"
        if stage.region.startswith("cn-")
        else "aws-us-gov"
        if stage.region.startswith("us-gov-")
        else "aws"
    )
    return (
        f"arn:{partition}:sagemaker:{stage.region}:{stage.account}:"
        f"model-package-group/{name_prefix}-models"
    )


def _env(stage: StageSettings) -> cdk.Environment:
    return cdk.Environment(account=stage.account, region=stage.region)
