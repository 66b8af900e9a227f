"""The cdk-nag findings the pipeline acknowledges, each with its reason, on its own resource."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aws_cdk as cdk

from . import _registry
from .contract.registry import REPORT_PREFIX as _REPORT_PREFIX
from .nag import acknowledge, finding_resource, policies_of
from .steps._scaling import acknowledge_scaling
from .steps.training import CHECKPOINTS_PREFIX as _CHECKPOINTS_PREFIX
from .steps.training import MODELS_PREFIX as _MODELS_PREFIX

if TYPE_CHECKING:
    from .ml_pipeline import MLPipeline


def acknowledge_findings(pipeline: MLPipeline) -> None:
    """cdk-nag findings that are acknowledged, each with its reason, on its own resource."""
    data = finding_resource(pipeline, pipeline.data_bucket.bucket_arn)
    artifacts = finding_resource(pipeline, pipeline.artifacts_bucket.bucket_arn)
    stack = cdk.Stack.of(pipeline)
    # Written from the same ARNs as the policies, so they match whether the stack's account
    # and region are known at synth time or not.
    logs_arn = finding_resource(
        pipeline,
        stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        ),
    ).removesuffix(":/aws/sagemaker/*")
    no_resource_level = [
        "ecr:GetAuthorizationToken has no resource-level permissions",
        "cloudwatch:PutMetricData has none either (limited here by a cloudwatch:namespace "
        "condition to /aws/sagemaker/*)",
    ]
    if pipeline.vpc is not None:
        no_resource_level.append(
            "the EC2 Describe calls SageMaker makes to attach to the VPC have none, and "
            "network interface changes are limited to the VPC by an ec2:Vpc condition"
        )
    sagemaker_findings = {
        "Action::s3:GetObject*": "Read-only object actions (GetObject, GetObjectVersion, "
        "...) as granted by Bucket.grant_read, limited to the data prefix and models prefix",
        "Action::s3:GetBucket*": "Read-only bucket metadata (location, versioning) that "
        "SageMaker reads before downloading a channel; limited to the two pipeline buckets",
        "Action::s3:List*": "SageMaker lists the training-data prefix to download the channel "
        "(S3Prefix) and the model prefix; limited to the two pipeline buckets",
        "Action::s3:Abort*": "s3:AbortMultipartUpload, so an interrupted upload of model "
        "artifacts can be cleaned up; limited to the models prefix",
        "Action::kms:GenerateDataKey*": "Encrypting model artifacts, checkpoints and training "
        "volumes needs data keys of the pipeline key; limited to that one key",
        "Action::kms:ReEncrypt*": "Part of Key.grant_encrypt_decrypt on the pipeline key; "
        "limited to that one key",
        f"Resource::{data}/{pipeline.data_prefix}*": "Training jobs read every object under the "
        "training-data prefix; object names are the data set's",
        f"Resource::{artifacts}/{_MODELS_PREFIX}*": "Each training job writes under "
        "models/<job name>/, and job names are generated per execution",
        f"Resource::{artifacts}/{_CHECKPOINTS_PREFIX}*": "Training jobs sync their "
        "checkpoints under checkpoints/<execution name>/, one folder per run",
        f"Resource::{logs_arn}:/aws/sagemaker/*": "SageMaker writes to "
        "/aws/sagemaker/TrainingJobs and /aws/sagemaker/Endpoints/<endpoint name>, created "
        "on first use",
        f"Resource::{logs_arn}:/aws/sagemaker/*:log-stream:*": "One log stream per training "
        "instance or endpoint instance, named by SageMaker at run time",
        "Resource::*": "; ".join(no_resource_level),
    }
    for resource in _registry.promoted_model_resources(pipeline):
        sagemaker_findings[f"Resource::{finding_resource(pipeline, resource)}"] = (
            "Promoted models are read from the model archives and key of the account that "
            "registered them (registry.promote_from), whose names that account's stack chooses; "
            "limited to the models/ prefix and to that account by s3:ResourceAccount, and to "
            "decryption through S3 by kms:ViaService"
        )
    for policy in policies_of(pipeline.sagemaker_role):
        for finding, reason in sagemaker_findings.items():
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)

    sagemaker_arn = finding_resource(
        pipeline, stack.format_arn(service="sagemaker", resource="x", resource_name="y")
    ).removesuffix(":x/y")
    state_machine_findings = {
        f"Resource::{sagemaker_arn}:training-job/{pipeline.name_prefix}-*": "Training job names "
        "are generated per attempt as <name_prefix>-<uuid>; limited to that prefix",
        "Resource::*": "X-Ray trace submission, CloudWatch Logs log delivery, "
        "sagemaker:ListTags and cloudwatch:PutMetricData (the run metrics, limited by a "
        "cloudwatch:namespace condition to monitoring.namespace) have no resource-level "
        "permissions",
        f"Resource::{artifacts}/{_REPORT_PREFIX}*": "Each run writes its evaluation report as "
        "evaluations/<execution name>.json; limited to that prefix",
    }
    # Versions are numbered by SageMaker as they are registered: model-package/<group>/<n>.
    for versions in pipeline.registry.deployable_versions:
        state_machine_findings[f"Resource::{finding_resource(pipeline, versions)}"] = (
            "Versions of the model package group are numbered by SageMaker as runs register "
            "them; limited to the versions of that one group"
        )
    if pipeline.deployment is not None:
        state_machine_findings.update(
            {
                f"Resource::{sagemaker_arn}:model/*": "Model names are generated per "
                "execution (<name_prefix>-<uuid>); policy written by the CDK SageMaker task",
                f"Resource::{sagemaker_arn}:endpoint-config/*": "Endpoint configuration "
                "names are generated per execution (<name_prefix>-<uuid>); policy written "
                "by the CDK SageMaker task",
                f"Resource::{sagemaker_arn}:endpoint-config/{pipeline.name_prefix}-*": "Runs "
                "tag their endpoint configurations (<name_prefix>-<uuid>) with their start time "
                "and read that tag to tell overlapping runs apart; limited to that prefix",
            }
        )
    branch = pipeline.training.tuning
    if branch is not None:
        state_machine_findings[
            f"Resource::{sagemaker_arn}:hyper-parameter-tuning-job/{branch.stem}-*"
        ] = (
            "Tuning job names are generated per execution as <stem>-<20 hex digits> (at most 32 "
            "characters); limited to the pipeline's stem"
        )
        state_machine_findings[f"Resource::{sagemaker_arn}:training-job/{branch.stem}-*"] = (
            "SageMaker names a tuning job's trials <tuning job name>-<number>-<id>; the run "
            "describes the best one"
        )
    for policy in policies_of(pipeline.state_machine.role):
        for finding, reason in state_machine_findings.items():
            acknowledge(policy, f"AwsSolutions-IAM5[{finding}]", reason)
    scaling = pipeline.deployment.scaling if pipeline.deployment is not None else None
    acknowledge_scaling(scaling, policies_of(pipeline.state_machine.role))
