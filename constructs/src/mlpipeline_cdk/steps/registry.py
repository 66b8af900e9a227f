"""Register an accepted model as a version of the pipeline's model package group, and find the
version a run is asked to deploy.

Requests follow botocore's SageMaker model (``CreateModelPackage``, ``ListModelPackages``,
``DescribeModelPackage``) and the S3 ``PutObject`` request; the AWS SDK integration names their
errors as :mod:`._retries` explains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import jsii
from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from ..contract import registry as contract
from ..contract import run_input
from ._retries import SDK_UNDECLARED_ERROR, add_sdk_retry
from .failure import FailureHandler, with_defaults

#: ``CustomerMetadataProperties`` a version registered elsewhere may lack.
_UNKNOWN_LINEAGE: Final = {
    contract.TRAINING_JOB: "unknown",
    contract.ACCURACY: "null",
    contract.ACCURACY_THRESHOLD: "null",
    contract.APPROVAL_MODE: "unknown",
}


class RegisterModel(sfn.StateMachineFragment):
    """Writes the evaluation report and registers the model as a version of the group.

    ``WriteEvaluationReport`` puts ``evaluations/<execution>.json`` in the artifacts bucket
    (SSE-KMS with the pipeline key): SageMaker's model quality statistics format
    (``multiclass_classification_metrics.accuracy.value``; Model Monitor's model quality
    metrics, https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-metrics.html)
    with the run's lineage, the training job's hyperparameters (a tuned run's best trial's) and
    final metrics under ``mlpipeline``.
    ``RegisterModelPackage`` registers the version, ``Approved`` when the run's ``approval`` is
    ``automatic`` and ``PendingManualApproval`` when it is ``manual``, with the serving container,
    the report as its model quality statistics and the lineage in its
    ``CustomerMetadataProperties`` (:mod:`mlpipeline_cdk.contract.registry`). The run's
    ClientToken (a hash of the execution ARN) makes a retried registration idempotent.

    Writes ``$.modelPackage`` (``arn``, ``version``, ``status``). Ends in ``ApprovalMode``, whose
    :attr:`automatic` branch is left open for the deployment and whose manual branch ends in
    :attr:`awaiting` (a Pass to chain the run's output after).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group_name: str,
        group_arn: str,
        versions_arn: str,
        artifacts_bucket: s3.IBucket,
        encryption_key: kms.IKey,
        role: iam.IRole,
        inference_image: tasks.DockerImage,
        environment: Mapping[str, str],
        content_types: Sequence[str],
        response_types: Sequence[str],
        instance_type: str | None,
        code_asset_hash: str,
        failure: FailureHandler,
    ) -> None:
        super().__init__(scope, construct_id)
        report_key = sfn.JsonPath.format(
            f"{contract.REPORT_PREFIX}{{}}.json", sfn.JsonPath.string_at("$$.Execution.Name")
        )
        prepare_report = sfn.Pass(
            self,
            "PrepareEvaluationReport",
            parameters={
                "multiclass_classification_metrics": {
                    "accuracy": {
                        "value": sfn.JsonPath.number_at("$.evaluation.accuracy"),
                        "standard_deviation": "NaN",
                    }
                },
                "mlpipeline": {
                    "accuracyThreshold": sfn.JsonPath.number_at("$.evaluation.threshold"),
                    "metrics": sfn.JsonPath.list_at("$.training.metrics"),
                    "trainingJobName": sfn.JsonPath.string_at("$.training.jobName"),
                    "modelArtifacts": sfn.JsonPath.string_at("$.training.modelArtifacts"),
                    "executionArn": sfn.JsonPath.string_at("$$.Execution.Id"),
                    "dataUri": sfn.JsonPath.string_at("$.config.trainingDataUri"),
                    # The job's own (DescribeTrainingJob), so a tuned run records the best
                    # trial's tuned values, not only the static ones.
                    "hyperparameters": sfn.JsonPath.object_at("$.training.hyperparameters"),
                    "codeAssetHash": code_asset_hash,
                    "approvalMode": sfn.JsonPath.string_at("$.config.approval"),
                },
            },
            result_path="$.report",
        )
        write_report = tasks.CallAwsService(
            self,
            "WriteEvaluationReport",
            service="s3",
            action="putObject",
            parameters={
                "Bucket": artifacts_bucket.bucket_name,
                "Key": report_key,
                "Body": sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.report")),
                "ContentType": "application/json",
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": encryption_key.key_arn,
            },
            iam_resources=[artifacts_bucket.arn_for_objects(f"{contract.REPORT_PREFIX}*")],
            iam_action="s3:PutObject",
            result_selector={
                "uri": sfn.JsonPath.format("s3://{}/{}", artifacts_bucket.bucket_name, report_key)
            },
            result_path="$.report",
        )
        # The AWS SDK integration names S3's errors ``S3.<Error>Exception``, and those S3's API
        # model does not declare (throttling's SlowDown among them) ``S3.S3Exception``
        # (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
        write_report.add_retry(
            errors=["S3.S3Exception"],
            interval=Duration.seconds(2),
            max_attempts=4,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        failure.catch(write_report)

        choose_status = sfn.Choice(self, "ChooseApprovalStatus")
        approved = sfn.Pass(
            self,
            "RegisterApproved",
            result=sfn.Result.from_string(contract.APPROVED),
            result_path="$.registration",
        )
        pending = sfn.Pass(
            self,
            "RegisterPending",
            result=sfn.Result.from_string(contract.PENDING),
            result_path="$.registration",
        )
        choose_status.when(
            sfn.Condition.string_equals("$.config.approval", contract.MANUAL), pending
        ).otherwise(approved)

        image_uri = inference_image.bind(_RoleTask(role)).image_uri
        container: dict[str, Any] = {
            "Image": image_uri,
            "ModelDataUrl": sfn.JsonPath.string_at("$.training.modelArtifacts"),
            "Environment": dict(environment),
        }
        inference: dict[str, Any] = {
            "Containers": [container],
            "SupportedContentTypes": list(content_types),
            "SupportedResponseMIMETypes": list(response_types),
        }
        if instance_type is not None:
            inference["SupportedRealtimeInferenceInstanceTypes"] = [instance_type]
        register = tasks.CallAwsService(
            self,
            "RegisterModelPackage",
            service="sagemaker",
            action="createModelPackage",
            parameters={
                "ModelPackageGroupName": group_name,
                "ModelPackageDescription": sfn.JsonPath.format(
                    "Trained by {}: test accuracy {} (threshold {})",
                    sfn.JsonPath.string_at("$.training.jobName"),
                    sfn.JsonPath.string_at("$.evaluation.accuracy"),
                    sfn.JsonPath.string_at("$.evaluation.threshold"),
                ),
                "ModelApprovalStatus": sfn.JsonPath.string_at("$.registration"),
                "ClientToken": sfn.JsonPath.hash(sfn.JsonPath.string_at("$$.Execution.Id"), "MD5"),
                "InferenceSpecification": inference,
                "ModelMetrics": {
                    "ModelQuality": {
                        "Statistics": {
                            "ContentType": "application/json",
                            "S3Uri": sfn.JsonPath.string_at("$.report.uri"),
                        }
                    }
                },
                # Values of any characters (CustomerMetadataProperties takes few; see
                # contract.registry): the run that registered it, and its code's hash.
                "MetadataProperties": {
                    "GeneratedBy": sfn.JsonPath.string_at("$$.Execution.Id"),
                    "CommitId": code_asset_hash,
                },
                "CustomerMetadataProperties": {
                    contract.TRAINING_JOB: sfn.JsonPath.string_at("$.training.jobName"),
                    contract.CODE_ASSET_HASH: code_asset_hash,
                    contract.ACCURACY: sfn.JsonPath.format(
                        "{}", sfn.JsonPath.string_at("$.evaluation.accuracy")
                    ),
                    contract.ACCURACY_THRESHOLD: sfn.JsonPath.format(
                        "{}", sfn.JsonPath.string_at("$.evaluation.threshold")
                    ),
                    contract.APPROVAL_MODE: sfn.JsonPath.string_at("$.config.approval"),
                },
            },
            iam_resources=[group_arn, versions_arn],
            iam_action="sagemaker:CreateModelPackage",
            result_selector={"arn": sfn.JsonPath.string_at("$.ModelPackageArn")},
            result_path="$.modelPackage",
        )
        add_sdk_retry(register)
        failure.catch(register)
        describe_registered = sfn.Pass(
            self,
            "DescribeRegisteredVersion",
            parameters={
                "arn": sfn.JsonPath.string_at("$.modelPackage.arn"),
                "version": _version_of("$.modelPackage.arn"),
                "status": sfn.JsonPath.string_at("$.registration"),
            },
            result_path="$.modelPackage",
        )
        self.mode = sfn.Choice(self, "ApprovalMode")
        #: Where a run in manual mode ends: it deployed nothing.
        self.awaiting = sfn.Pass(self, "AwaitingApproval")
        self.mode.when(
            sfn.Condition.string_equals("$.config.approval", contract.MANUAL), self.awaiting
        )
        approved.next(register)
        pending.next(register)
        prepare_report.next(write_report).next(choose_status)
        register.next(describe_registered).next(self.mode)
        self.deploy = sfn.Pass(self, "DeployRegisteredVersion")
        self.mode.otherwise(self.deploy)
        self._start = prepare_report

    @property
    def start_state(self) -> sfn.State:
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        return [self.deploy]


class FindModelPackage(sfn.StateMachineFragment):
    """Finds the version a run's ``modelPackage`` names, and refuses it unless it is Approved.

    ``latest`` is the newest Approved version of ``latest_group`` (ListModelPackages sorted by
    CreationTime, descending); no such version fails the run with ``NoApprovedModelPackage``.
    A version that does not exist fails it with ``ModelPackageNotFound`` (DescribeModelPackage
    answers ``ValidationException`` "... does not exist."; the AWS SDK integration names it
    ``SageMaker.SageMakerException``), one that is not Approved with ``ModelPackageNotApproved``.

    Writes ``$.modelPackage`` (``arn``, ``version``, ``status``) and, from the version's lineage,
    ``$.training`` (``jobName``, ``modelArtifacts``, ``metrics``: empty) and ``$.evaluation``
    (``accuracy``, ``threshold``), so that the deployment and the run's output read the same keys
    as after training.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        latest_group: str,
        versions_arns: Sequence[str],
        group_arns: Sequence[str] = (),
        failure: FailureHandler,
    ) -> None:
        super().__init__(scope, construct_id)
        path = f"$.config.{run_input.MODEL_PACKAGE}"
        latest_or_given = sfn.Choice(self, "LatestOrGivenVersion")
        find_latest = tasks.CallAwsService(
            self,
            "FindLatestApproved",
            service="sagemaker",
            action="listModelPackages",
            parameters={
                "ModelPackageGroupName": latest_group,
                "ModelApprovalStatus": contract.APPROVED,
                "SortBy": "CreationTime",
                "SortOrder": "Descending",
                "MaxResults": 1,
            },
            # On the groups and their versions, as AWS's example group policy grants it
            # (model-registry-ram-discover.html): which one IAM checks is not documented.
            iam_resources=[*group_arns, *versions_arns],
            iam_action="sagemaker:ListModelPackages",
            result_selector={"found": sfn.JsonPath.list_at("$.ModelPackageSummaryList")},
            result_path="$.latest",
        )
        add_sdk_retry(find_latest)
        failure.catch(find_latest)
        any_approved = sfn.Choice(self, "AnyApprovedVersion")
        none_approved = failure.reject(
            self,
            contract.NO_APPROVED_MODEL_PACKAGE,
            error=contract.NO_APPROVED_MODEL_PACKAGE,
            cause=f"model package group {latest_group} has no Approved version to deploy",
        )
        use_latest = sfn.Pass(
            self,
            "UseLatestApproved",
            parameters={"arn": sfn.JsonPath.string_at("$.latest.found[0].ModelPackageArn")},
            result_path="$.target",
        )
        use_given = sfn.Pass(
            self,
            "UseGivenVersion",
            parameters={"arn": sfn.JsonPath.string_at(path)},
            result_path="$.target",
        )
        describe = tasks.CallAwsService(
            self,
            "DescribeModelPackage",
            service="sagemaker",
            action="describeModelPackage",
            parameters={"ModelPackageName": sfn.JsonPath.string_at("$.target.arn")},
            iam_resources=list(versions_arns),
            iam_action="sagemaker:DescribeModelPackage",
            result_selector={
                "arn": sfn.JsonPath.string_at("$.ModelPackageArn"),
                "status": sfn.JsonPath.string_at("$.ModelApprovalStatus"),
                "modelArtifacts": sfn.JsonPath.string_at(
                    "$.InferenceSpecification.Containers[0].ModelDataUrl"
                ),
                "lineage": sfn.JsonPath.object_at("$.CustomerMetadataProperties"),
            },
            result_path="$.found",
        )
        add_sdk_retry(describe)
        not_found = sfn.Choice(self, "ModelPackageExists")
        describe.add_catch(not_found, errors=["States.ALL"], result_path="$.error")
        not_found.when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.error.Error", SDK_UNDECLARED_ERROR),
                sfn.Condition.string_matches("$.error.Cause", "*does not exist*"),
            ),
            failure.reject(
                self,
                contract.MODEL_PACKAGE_NOT_FOUND,
                error=contract.MODEL_PACKAGE_NOT_FOUND,
                cause=sfn.JsonPath.format(
                    "model package {} does not exist", sfn.JsonPath.string_at("$.target.arn")
                ),
            ),
        ).otherwise(failure.entry)
        check = sfn.Choice(self, "CheckModelPackage")
        not_approved = failure.reject(
            self,
            contract.MODEL_PACKAGE_NOT_APPROVED,
            error=contract.MODEL_PACKAGE_NOT_APPROVED,
            cause=sfn.JsonPath.format(
                "model package {} is {}; only an Approved version is deployed",
                sfn.JsonPath.string_at("$.found.arn"),
                sfn.JsonPath.string_at("$.found.status"),
            ),
        )
        lineage = with_defaults(
            self,
            prepare_id="PrepareVersionLineage",
            read_id="ReadVersionLineage",
            defaults=_UNKNOWN_LINEAGE,
            defaults_path="$.lineageDefaults",
            value=sfn.JsonPath.object_at("$.found.lineage"),
            key="lineage",
            result_path="$.found",
        )
        self._use = sfn.Pass(
            self,
            "UseModelPackage",
            parameters={
                "modelPackage": {
                    "arn": sfn.JsonPath.string_at("$.target.arn"),
                    "version": _version_of("$.target.arn"),
                    "status": contract.APPROVED,
                },
                "training": {
                    "jobName": sfn.JsonPath.string_at(f"$.found.lineage.{contract.TRAINING_JOB}"),
                    "modelArtifacts": sfn.JsonPath.string_at("$.versionData.modelArtifacts"),
                    "metrics": [],
                },
                "evaluation": {
                    "accuracy": sfn.JsonPath.string_to_json(
                        sfn.JsonPath.string_at(f"$.found.lineage.{contract.ACCURACY}")
                    ),
                    "threshold": sfn.JsonPath.string_to_json(
                        sfn.JsonPath.string_at(f"$.found.lineage.{contract.ACCURACY_THRESHOLD}")
                    ),
                },
            },
            result_path="$.chosen",
        )
        keep_artifacts = sfn.Pass(
            self,
            "KeepVersionArtifacts",
            parameters={"modelArtifacts": sfn.JsonPath.string_at("$.found.modelArtifacts")},
            result_path="$.versionData",
        )
        self._done = sfn.Pass(
            self,
            "ModelPackageFound",
            parameters={
                "input": sfn.JsonPath.object_at("$.input"),
                "config": sfn.JsonPath.object_at("$.config"),
                "run": sfn.JsonPath.object_at("$.run"),
                "modelPackage": sfn.JsonPath.object_at("$.chosen.modelPackage"),
                "training": sfn.JsonPath.object_at("$.chosen.training"),
                "evaluation": sfn.JsonPath.object_at("$.chosen.evaluation"),
            },
        )
        latest_or_given.when(sfn.Condition.string_equals(path, contract.LATEST), find_latest)
        latest_or_given.otherwise(use_given)
        find_latest.next(any_approved)
        any_approved.when(sfn.Condition.is_present("$.latest.found[0]"), use_latest).otherwise(
            none_approved
        )
        use_latest.next(describe)
        use_given.next(describe)
        describe.next(check)
        check.when(
            sfn.Condition.string_equals("$.found.status", contract.APPROVED), keep_artifacts
        ).otherwise(not_approved)
        keep_artifacts.next(lineage)
        registered_for_approval = sfn.Choice(self, "RegisteredForApproval")
        #: Where a run the approval rule started for a version registered in automatic mode
        #: ends: that version's own run deploys it.
        self.left_to_its_run = sfn.Pass(self, "LeftToItsRun")
        lineage.next(registered_for_approval)
        registered_for_approval.when(
            sfn.Condition.and_(
                sfn.Condition.boolean_equals(f"$.config.{run_input.ON_APPROVAL}", True),
                sfn.Condition.not_(
                    sfn.Condition.string_equals(
                        f"$.found.lineage.{contract.APPROVAL_MODE}", contract.MANUAL
                    )
                ),
            ),
            self.left_to_its_run,
        ).otherwise(self._use)
        self._use.next(self._done)
        self._start = latest_or_given

    @property
    def start_state(self) -> sfn.State:
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        return [self._done]


def _version_of(arn_path: str) -> Any:
    # ``...:model-package/<group>/<version>``: the version is the ARN's third "/" segment.
    return sfn.JsonPath.string_to_json(
        sfn.JsonPath.array_get_item(
            sfn.JsonPath.string_split(sfn.JsonPath.string_at(arn_path), "/"), 2
        )
    )


@jsii.implements(tasks.ISageMakerTask)
class _RoleTask:
    """What an image binds to: grants the role that runs the container pull access."""

    def __init__(self, role: iam.IRole) -> None:
        self._principal = role.grant_principal

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self._principal
