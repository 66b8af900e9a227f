"""``AWS::SageMaker::ModelPackageGroup``, which moto's CloudFormation lacks (it warned and created
nothing, so a stack with a model registry had no group, and ``Ref`` to it resolved to nothing).

After the CloudFormation template reference
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sagemaker-modelpackagegroup.html):
``ModelPackageGroupName`` (required), ``ModelPackageGroupDescription``, ``ModelPackageGroupPolicy``
(a JSON object, set as the group's resource policy, as PutModelPackageGroupPolicy sets it) and
``Tags``; ``Ref`` is the group's ARN; ``Fn::GetAtt`` has ``ModelPackageGroupArn``,
``CreationTime`` and ``ModelPackageGroupStatus``. A change of the name or the description
replaces the group ("Update requires: Replacement"); a change of the policy updates it in place.
Deleting the resource deletes the group (moto has no DeleteModelPackageGroup: the group leaves
moto's backend), unless the template retains it (``DeletionPolicy: Retain``).
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.sagemaker.models import sagemaker_backends

from .._model_registry import policies
from ._resource_types import _ResourceModel

_REPLACED_BY = ("ModelPackageGroupName", "ModelPackageGroupDescription")
_ATTRIBUTES = ("ModelPackageGroupArn", "CreationTime", "ModelPackageGroupStatus")


class ModelPackageGroupResource(_ResourceModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SageMaker::ModelPackageGroup"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in _ATTRIBUTES

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
        backend = sagemaker_backends[account_id][region_name]
        arn = backend.create_model_package_group(
            model_package_group_name=properties["ModelPackageGroupName"],
            model_package_group_description=properties.get("ModelPackageGroupDescription"),
            tags=properties.get("Tags"),
        )
        resource = cls(arn, properties, region_name)
        resource.apply(None)
        return resource

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: _ResourceModel,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> _ResourceModel:
        new = cloudformation_json["Properties"]
        if all(new.get(k) == original_resource.properties.get(k) for k in _REPLACED_BY):
            return super().update_from_cloudformation_json(
                original_resource, new_resource_name, cloudformation_json, account_id, region_name
            )
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    def _backend(self) -> Any:
        return sagemaker_backends[self.physical_id.split(":")[4]][self.region_name]

    def _group(self) -> Any:
        return self._backend().model_package_groups[self.properties["ModelPackageGroupName"]]

    def apply(self, old: dict[str, Any] | None) -> None:
        name = self.properties["ModelPackageGroupName"]
        policy = self.properties.get("ModelPackageGroupPolicy")
        if policy is None:
            policies(self._backend()).pop(name, None)
        else:
            text = policy if isinstance(policy, str) else json.dumps(policy)
            policies(self._backend())[name] = text

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name == "ModelPackageGroupArn":
            return self.physical_id
        if attribute_name == "CreationTime":
            return self._group().creation_time.isoformat()
        if attribute_name == "ModelPackageGroupStatus":
            return self._group().model_package_group_status
        raise UnformattedGetAttTemplateException()

    def delete(self, account_id: str, region_name: str) -> None:
        name = self.properties["ModelPackageGroupName"]
        backend = self._backend()
        backend.model_package_groups.pop(name, None)
        policies(backend).pop(name, None)
