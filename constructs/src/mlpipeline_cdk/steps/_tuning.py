"""The tuning branch of :class:`~mlpipeline_cdk.steps.TrainModel`: a SageMaker hyperparameter
tuning job (``createHyperParameterTuningJob.sync``) whose best trial becomes ``$.training``,
exactly as a single training job's result does.

The ``.sync`` result is DescribeHyperParameterTuningJob's response; a tuning job that ends
``Failed`` or ``Stopped`` fails the task with ``States.TaskFailed`` and that response as JSON in
the cause, as for training jobs (https://docs.aws.amazon.com/step-functions/latest/dg/
connect-sagemaker.html; the response's shape: botocore's SageMaker model,
``DescribeHyperParameterTuningJobResponse``: ``HyperParameterTuningJobStatus``,
``TrainingJobStatusCounters`` required, ``BestTrainingJob`` and ``FailureReason`` optional).
The best trial is then read with DescribeTrainingJob through the AWS SDK integration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ..tuning import TuningSettings, name_stem, parameter_ranges
from ._retries import ThrottleRetry, add_sdk_retry
from .failure import FailureHandler, with_defaults

#: The errors a run whose tuning job went wrong fails with.
TUNING_FAILED: Final = "TuningFailed"
NO_COMPLETED_TRIAL: Final = "NoCompletedTrial"
#: Step Functions' managed rule for ``.sync`` tuning jobs (Step Functions developer guide, "IAM
#: policies for Amazon SageMaker AI", CreateHyperParameterTuningJob:
#: https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html).
EVENTS_RULE: Final = "StepFunctionsGetEventsForSageMakerTuningJobsRule"


class TuningBranch(Construct):
    """States that name the run's tuning job, run it, and describe its best trial into
    ``$.training`` (``jobName``, ``modelArtifacts``, ``description``).

    ``job_definition`` is the ``TrainingJobDefinition`` of the request without its static
    hyperparameters, which come from ``$.run.staticHyperparameters``
    (:class:`~mlpipeline_cdk.steps.PrepareRun`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: TuningSettings,
        name_prefix: str,
        job_definition: Mapping[str, Any],
        tags: Sequence[Mapping[str, str]],
        failure: FailureHandler,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stem = name_stem(name_prefix)
        self._failure = failure
        stack = cdk.Stack.of(self)
        uuid_part = sfn.JsonPath.string_split(sfn.JsonPath.uuid(), "-")
        # <stem>-<8 + 12 hex digits of two UUIDs>: at most 11 + 1 + 20 = 32 characters, the limit
        # of HyperParameterTuningJobName (botocore's SageMaker model: 1 to 32 characters,
        # [a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}), whatever the execution is called.
        self.name = sfn.Pass(
            self,
            "NameTuningJob",
            parameters={
                "name": sfn.JsonPath.format(
                    f"{self.stem}-{{}}{{}}",
                    sfn.JsonPath.array_get_item(uuid_part, 0),
                    sfn.JsonPath.array_get_item(
                        sfn.JsonPath.string_split(sfn.JsonPath.uuid(), "-"), 4
                    ),
                )
            },
            result_path="$.tuningJob",
        )
        config: dict[str, Any] = {
            "Strategy": settings.strategy,
            "HyperParameterTuningJobObjective": {
                "Type": settings.objective_type,
                "MetricName": settings.objective_metric,
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs.$": "$.config.tuning.maxJobs",
                "MaxParallelTrainingJobs.$": "$.config.tuning.maxParallelJobs",
            },
            "ParameterRanges": parameter_ranges(settings),
            "TrainingJobEarlyStoppingType": settings.early_stopping,
        }
        self.tune = sfn.CustomState(
            self,
            "Tune",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{stack.partition}:states:::sagemaker:"
                "createHyperParameterTuningJob.sync",
                "Parameters": {
                    "HyperParameterTuningJobName.$": "$.tuningJob.name",
                    "HyperParameterTuningJobConfig": config,
                    "TrainingJobDefinition": {
                        **job_definition,
                        "StaticHyperParameters.$": "$.run.staticHyperparameters",
                    },
                    "Tags": [dict(t) for t in tags],
                },
                "ResultSelector": {"description.$": "$"},
                "ResultPath": "$.tuning",
            },
        )
        ThrottleRetry(self, "Tuning", failure).add(self.tune, "Tune")
        self.describe_best = sfn.CustomState(
            self,
            "DescribeBestTrainingJob",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{stack.partition}:states:::aws-sdk:sagemaker:describeTrainingJob",
                "Parameters": {
                    "TrainingJobName.$": "$.tuning.description.BestTrainingJob.TrainingJobName"
                },
                # The same $.training a single training job writes (TrainModel).
                "ResultSelector": {
                    "jobName.$": "$.TrainingJobName",
                    "modelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
                    "description.$": "$",
                },
                "ResultPath": "$.training",
            },
        )
        add_sdk_retry(self.describe_best)
        failure.catch(self.describe_best)
        has_best = sfn.Choice(self, "HasBestTrial")
        has_best.when(
            sfn.Condition.is_present("$.tuning.description.BestTrainingJob.TrainingJobName"),
            self.describe_best,
        ).otherwise(
            failure.reject(
                self,
                "NoTrialCompleted",
                error=NO_COMPLETED_TRIAL,
                cause=sfn.JsonPath.format(
                    "tuning job {} ended {} with no completed trial: no model to judge or deploy "
                    "(its trials: mlpipeline describe)",
                    sfn.JsonPath.string_at("$.tuningJob.name"),
                    sfn.JsonPath.string_at("$.tuning.description.HyperParameterTuningJobStatus"),
                ),
            )
        )
        self.name.next(self.tune).next(has_best)
        self._add_failure_routes()

    def _add_failure_routes(self) -> None:
        """A tuning job that ended Failed or Stopped: ``NoCompletedTrial`` when none of its
        trials completed, else ``TuningFailed``, with SageMaker's FailureReason; a refused
        request keeps its own error."""
        explain = sfn.Choice(self, "ExplainTuningFailure")
        read_job = with_defaults(
            self,
            prepare_id="PrepareTuningFailure",
            read_id="ReadFailedTuningJob",
            defaults={
                "FailureReason": "SageMaker gave no reason",
                "HyperParameterTuningJobStatus": "Failed",
                "TrainingJobStatusCounters": {},
            },
            defaults_path="$.tuningDefaults",
            value=sfn.JsonPath.string_to_json(sfn.JsonPath.string_at("$.error.Cause")),
            key="job",
            result_path="$.failedTuning",
        )
        completed = "$.failedTuning.job.TrainingJobStatusCounters.Completed"
        any_completed = sfn.Choice(self, "AnyTrialCompleted")
        cause_args = (
            sfn.JsonPath.string_at("$.tuningJob.name"),
            sfn.JsonPath.string_at("$.failedTuning.job.HyperParameterTuningJobStatus"),
            sfn.JsonPath.string_at("$.failedTuning.job.FailureReason"),
        )
        any_completed.when(
            sfn.Condition.and_(
                sfn.Condition.is_numeric(completed),
                sfn.Condition.number_greater_than(completed, 0),
            ),
            self._failure.reject(
                self,
                "TuningJobFailed",
                error=TUNING_FAILED,
                cause=sfn.JsonPath.format("tuning job {} ended {}: {}", *cause_args),
            ),
        ).otherwise(
            self._failure.reject(
                self,
                "TuningEndedWithoutTrial",
                error=NO_COMPLETED_TRIAL,
                cause=sfn.JsonPath.format(
                    "tuning job {} ended {} with no completed trial: {}", *cause_args
                ),
            )
        )
        explain.when(
            sfn.Condition.and_(
                sfn.Condition.string_equals("$.error.Error", "States.TaskFailed"),
                sfn.Condition.string_matches("$.error.Cause", "{*"),
            ),
            read_job.next(any_completed),
        ).otherwise(self._failure.entry)
        self.tune.add_catch(explain, errors=["States.ALL"], result_path="$.error")

    @property
    def start(self) -> sfn.State:
        return self.name

    def grant_start(self, grantee: iam.IGrantable, role: iam.IRole) -> None:
        """What Step Functions needs for ``createHyperParameterTuningJob.sync``: create,
        describe and stop the job, Step Functions' managed rule, ``iam:PassRole`` and
        ``sagemaker:ListTags`` (granted with the training job's), as the Step Functions developer
        guide lists (https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html)
        and the execution policy of AWS's Step Functions Data Science SDK examples
        (awslabs/amazon-sagemaker-examples, step-functions-data-science-sdk); ``AddTags`` for
        the request's ``Tags``, as for training jobs; and DescribeTrainingJob of the best
        trial, whose name starts with its tuning job's."""
        stack = cdk.Stack.of(self)
        principal = grantee.grant_principal
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RunTuningJobs",
                actions=[
                    "sagemaker:AddTags",
                    "sagemaker:CreateHyperParameterTuningJob",
                    "sagemaker:DescribeHyperParameterTuningJob",
                    "sagemaker:StopHyperParameterTuningJob",
                ],
                resources=[
                    stack.format_arn(
                        service="sagemaker",
                        resource="hyper-parameter-tuning-job",
                        resource_name=f"{self.stem}-*",
                    )
                ],
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="DescribeTuningTrials",
                actions=["sagemaker:DescribeTrainingJob"],
                resources=[
                    stack.format_arn(
                        service="sagemaker", resource="training-job", resource_name=f"{self.stem}-*"
                    )
                ],
            )
        )
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="FollowTuningJobEvents",
                actions=["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                resources=[
                    stack.format_arn(service="events", resource="rule", resource_name=EVENTS_RULE)
                ],
            )
        )
        del role  # iam:PassRole and sagemaker:ListTags are granted with the training job's.


def refuse_tuned_in_input(names: Sequence[str]) -> sfn.Condition:
    """True when ``$.tuningInput.json`` (the run's ``hyperparameters`` as JSON text) sets one
    of ``names``: the tuning job tunes them, SageMaker takes no static value beside a range."""

    def pattern(prefix: str, name: str) -> str:
        text = json.dumps(name)
        for special in ("\\", "*"):
            text = text.replace(special, f"\\{special}")
        return f"{prefix}{text}:*"

    return sfn.Condition.or_(
        *(
            sfn.Condition.string_matches("$.tuningInput.json", pattern(prefix, name))
            for name in names
            for prefix in ("{", "*,")
        )
    )
