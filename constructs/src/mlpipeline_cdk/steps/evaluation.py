"""Deploy only models good enough: compare the job's final accuracy with the run's threshold."""

from __future__ import annotations

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .failure import FailureHandler


class EvaluateModel(sfn.StateMachineFragment):
    """Reads ``metric_name`` from the training job's final metrics and checks it against
    ``$.config.accuracyThreshold``.

    Passing models continue with ``$.evaluation`` (``accuracy``, ``threshold``) and a compact
    ``$.training`` (``jobName``, ``modelArtifacts``, ``metrics``, ``hyperparameters``,
    ``seconds``: the job's TrainingTimeInSeconds). Otherwise
    the run fails with ``ModelBelowThreshold`` (the accuracy in the cause), or ``MetricMissing``
    when the job reported no such metric; nothing is created either way.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        metric_name: str,
        failure: FailureHandler,
    ) -> None:
        super().__init__(scope, construct_id)
        has_metrics = sfn.Choice(self, "HasFinalMetrics")
        missing = failure.reject(
            self,
            "MetricMissing",
            error="MetricMissing",
            cause=sfn.JsonPath.format(
                f"training job {{}} reported no {metric_name} metric; check that the script "
                "prints it and that the metric definitions of the job capture it",
                sfn.JsonPath.string_at("$.training.jobName"),
            ),
        )
        # A sentinel entry (-1) after the job's metrics keeps the filter from coming back empty:
        # the first match is the job's value when it reported one.
        sentinel = sfn.Pass(
            self,
            "AddMetricSentinel",
            parameters={"sentinel": [{"MetricName": metric_name, "Value": -1}]},
            result_path="$.evaluation",
        )
        collect = sfn.Pass(
            self,
            "CollectMetrics",
            parameters={
                "candidates": sfn.JsonPath.array(
                    sfn.JsonPath.string_at("$.training.description.FinalMetricDataList"),
                    sfn.JsonPath.string_at("$.evaluation.sentinel"),
                )
            },
            result_path="$.evaluation",
        )
        pick = sfn.Pass(
            self,
            "FindAccuracy",
            parameters={
                "values": sfn.JsonPath.list_at(
                    f"$.evaluation.candidates[*][?(@.MetricName == '{metric_name}')].Value"
                )
            },
            result_path="$.evaluation",
        )
        summarise = sfn.Pass(
            self,
            "SummariseTraining",
            parameters={
                "input": sfn.JsonPath.object_at("$.input"),
                "config": sfn.JsonPath.object_at("$.config"),
                "run": sfn.JsonPath.object_at("$.run"),
                "training": {
                    "jobName": sfn.JsonPath.string_at("$.training.jobName"),
                    "modelArtifacts": sfn.JsonPath.string_at("$.training.modelArtifacts"),
                    "metrics": sfn.JsonPath.list_at("$.training.description.FinalMetricDataList"),
                    # What the model was trained with (a tuned run's best trial's values), for
                    # the registry's evaluation report.
                    "hyperparameters": sfn.JsonPath.object_at(
                        "$.training.description.HyperParameters"
                    ),
                    # Set on every Completed job (DescribeTrainingJob), for the run metrics.
                    "seconds": sfn.JsonPath.number_at(
                        "$.training.description.TrainingTimeInSeconds"
                    ),
                },
                "evaluation": {
                    "accuracy": sfn.JsonPath.array_get_item(
                        sfn.JsonPath.list_at("$.evaluation.values"), 0
                    ),
                    "threshold": sfn.JsonPath.number_at("$.config.accuracyThreshold"),
                },
            },
        )
        decide = sfn.Choice(self, "IsModelGoodEnough")
        below = failure.reject(
            self,
            "ModelBelowThreshold",
            error="ModelBelowThreshold",
            cause=sfn.JsonPath.format(
                f"{metric_name} {{}} of training job {{}} is below the threshold {{}}; "
                "the model was not deployed",
                sfn.JsonPath.string_at("$.evaluation.accuracy"),
                sfn.JsonPath.string_at("$.training.jobName"),
                sfn.JsonPath.string_at("$.evaluation.threshold"),
            ),
        )
        self._passed = sfn.Pass(self, "ModelAccepted")

        has_metrics.when(
            sfn.Condition.is_present("$.training.description.FinalMetricDataList[0]"), sentinel
        ).otherwise(missing)
        sentinel.next(collect).next(pick).next(summarise).next(decide)
        decide.when(sfn.Condition.number_less_than("$.evaluation.accuracy", 0), missing).when(
            sfn.Condition.number_less_than_json_path(
                "$.evaluation.accuracy", "$.evaluation.threshold"
            ),
            below,
        ).otherwise(self._passed)
        self._start = has_metrics

    @property
    def start_state(self) -> sfn.State:
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        return [self._passed]
