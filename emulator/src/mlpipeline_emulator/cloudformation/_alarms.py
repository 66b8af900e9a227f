"""``AWS::CloudWatch::Alarm``, which moto's CloudFormation lacks (moto's alarm is no CloudFormation
model: a stack's alarms were not created, so a guarded rollout watched alarms that did not exist).

After the CloudFormation template reference
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-alarm.html):
a metric alarm (``Namespace``, ``MetricName``, ``Dimensions``, ``Statistic``, ``Period``,
``EvaluationPeriods``, ``Threshold``, ``ComparisonOperator``, ``TreatMissingData``, ...) made with
PutMetricAlarm; ``Ref`` is the alarm's name, ``Fn::GetAtt`` ``Arn`` its ARN. A change of
``AlarmName`` replaces the alarm; other changes update it in place (PutMetricAlarm again).
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cloudwatch.models import cloudwatch_backends

from ._resource_types import _ResourceModel


class MetricAlarmResource(_ResourceModel):
    def __init__(
        self, physical_id: str, properties: dict[str, Any], region_name: str, account_id: str
    ):
        super().__init__(physical_id, properties, region_name)
        self.account_id = account_id

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _ResourceModel:
        properties = cloudformation_json["Properties"]
        name = properties.get("AlarmName") or resource_name
        resource = cls(name, properties, region_name, account_id)
        resource.apply(None)
        return resource

    def _backend(self) -> Any:
        return cloudwatch_backends[self.account_id][self.region_name]

    def apply(self, old: dict[str, Any] | None) -> None:
        p = self.properties
        self._backend().put_metric_alarm(
            name=self.physical_id,
            namespace=p.get("Namespace"),
            metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p.get("Period", 60)),
            threshold=float(p.get("Threshold", 0)),
            statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"),
            dimensions=[{"Name": d["Name"], "Value": d["Value"]} for d in p.get("Dimensions", [])],
            alarm_actions=list(p.get("AlarmActions", [])),
            datapoints_to_alarm=p.get("DatapointsToAlarm"),
            extended_statistic=p.get("ExtendedStatistic"),
            treat_missing_data=p.get("TreatMissingData"),
        )

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: _ResourceModel,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> _ResourceModel:
        new_name = cloudformation_json["Properties"].get("AlarmName") or new_resource_name
        if new_name == original_resource.physical_id:
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "Arn":
            return self._backend().alarms[self.physical_id].alarm_arn
        raise UnformattedGetAttTemplateException()

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend().delete_alarms([self.physical_id])
