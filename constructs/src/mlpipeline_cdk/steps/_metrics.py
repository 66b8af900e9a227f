"""Publish a run's own metrics to CloudWatch once its model is accepted.

``PublishRunMetrics`` is an AWS SDK task, ``cloudwatch:putMetricData``, whose request follows
botocore's cloudwatch model (``PutMetricData``: ``Namespace``; ``MetricData`` entries of
``MetricName``, ``Dimensions`` of ``Name``/``Value``, ``Value`` and ``Unit``). The metrics:

- ``Accuracy``: the accepted model's final test accuracy (``$.evaluation.accuracy``);
- ``AccuracyThreshold``: the threshold it was judged against (a run's input may change it);
- ``TrainingTime`` (``Seconds``): ``TrainingTimeInSeconds`` of the training job (a tuned run's
  best trial), from DescribeTrainingJob as ``createTrainingJob.sync`` returns it.

Each has the dimension ``Pipeline``: the state machine's name (``$$.StateMachine.Name``), which
the dashboard names too.

A failed publication does not fail the run: the metrics describe a run whose model is already
accepted; failing it would leave the model undeployed for want of a graph point. The run retries
throttling and CloudWatch's faults, then records the error in ``$.runMetrics`` and goes on.
The AWS SDK integration names CloudWatch's errors ``CloudWatch.<Error>Exception``, and those the
API model does not declare (throttling among them) ``CloudWatch.CloudWatchException``
(https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
"""

from __future__ import annotations

from typing import Any, Final

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

#: The dimension every run metric has: the state machine's name.
PIPELINE_DIMENSION: Final = "Pipeline"
ACCURACY: Final = "Accuracy"
ACCURACY_THRESHOLD: Final = "AccuracyThreshold"
TRAINING_TIME: Final = "TrainingTime"
#: Errors worth another attempt: undeclared ones (throttling) and the declared server fault.
_RETRIED: Final = ("CloudWatch.CloudWatchException", "CloudWatch.InternalServiceFaultException")


def _datum(name: str, value_path: str, unit: str) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": PIPELINE_DIMENSION, "Value.$": "$$.StateMachine.Name"}],
        "Value.$": value_path,
        "Unit": unit,
    }


class PublishRunMetrics(sfn.StateMachineFragment):
    """Publishes ``Accuracy``, ``AccuracyThreshold`` and ``TrainingTime`` under ``namespace``
    and writes ``$.runMetrics``: ``{"published": true}``, or the error when publishing failed."""

    def __init__(self, scope: Construct, construct_id: str, *, namespace: str) -> None:
        super().__init__(scope, construct_id)
        self.namespace = namespace
        partition = cdk.Stack.of(self).partition
        self.publish = sfn.CustomState(
            self,
            "PublishRunMetrics",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:cloudwatch:putMetricData",
                "Parameters": {
                    "Namespace": namespace,
                    "MetricData": [
                        _datum(ACCURACY, "$.evaluation.accuracy", "None"),
                        _datum(ACCURACY_THRESHOLD, "$.evaluation.threshold", "None"),
                        _datum(TRAINING_TIME, "$.training.seconds", "Seconds"),
                    ],
                },
                # PutMetricData answers nothing; a run's state records that it published.
                "ResultSelector": {"published": True},
                "ResultPath": "$.runMetrics",
            },
        )
        self.publish.add_retry(
            errors=list(_RETRIED),
            interval=Duration.seconds(2),
            max_attempts=3,
            backoff_rate=2,
            jitter_strategy=sfn.JitterType.FULL,
        )
        self._done = sfn.Pass(self, "RunMetricsDone")
        not_published = sfn.Pass(self, "RunMetricsNotPublished")
        self.publish.add_catch(not_published, errors=["States.ALL"], result_path="$.runMetrics")
        not_published.next(self._done)
        self.publish.next(self._done)

    def grant(self, grantee: iam.IGrantable) -> None:
        """PutMetricData in this namespace only: the action has no resource type, so ``*`` with
        the ``cloudwatch:namespace`` condition (Service Authorization Reference, Amazon
        CloudWatch, https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html;
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": self.namespace}},
            )
        )

    @property
    def start_state(self) -> sfn.State:
        return self.publish

    @property
    def end_states(self) -> list[sfn.INextable]:
        return [self._done]
