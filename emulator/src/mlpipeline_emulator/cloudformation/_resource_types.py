"""Resource types moto skips, and how moto parses and updates resources.

- ``AWS::S3::BucketPolicy``, ``AWS::SNS::TopicPolicy`` and ``AWS::CDK::Metadata``
  (:class:`_BucketPolicy`, :class:`_TopicPolicy`, :class:`_CdkMetadata`): moto warns and
  creates nothing.
- **Updates replace resources that have no properties** in moto: it writes ``Properties: {}``
  into the deployed template, which then differs from the next one (:func:`parse_resource`).
- **Resources moto cannot update** are dropped from the stack by moto when their properties
  change; they are kept, unchanged, with a warning (:func:`parse_and_update_resource`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from botocore.exceptions import ClientError
from moto.cloudformation import parsing as cfn_parsing
from moto.core.common_models import CloudFormationModel
from moto.sns.models import sns_backends

from . import _patching
from ._patching import client

logger = logging.getLogger(__name__)


class _ResourceModel(CloudFormationModel):
    """A resource type moto lacks. Created, updated and deleted through the services' APIs."""

    def __init__(self, physical_id: str, properties: dict[str, Any], region_name: str):
        self.physical_id = physical_id
        self.properties = properties
        self.region_name = region_name

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False

    def is_created(self) -> bool:
        return True

    def apply(self, old: dict[str, Any] | None) -> None:
        """Make the resource match ``self.properties`` (``old``: what it had, when updating)."""

    def delete(self, account_id: str, region_name: str) -> None:
        """Undo the resource."""

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _ResourceModel:
        resource = cls(resource_name, cloudformation_json["Properties"], region_name)
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
        old = original_resource.properties
        original_resource.properties = cloudformation_json["Properties"]
        original_resource.apply(old)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        """Unused: moto deletes through :meth:`delete`."""


class _CdkMetadata(_ResourceModel):
    """``AWS::CDK::Metadata``: the CDK's version report. CloudFormation creates nothing for it."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CDK::Metadata"


class _BucketPolicy(_ResourceModel):
    """``AWS::S3::BucketPolicy``: PutBucketPolicy; DeleteBucketPolicy when deleted."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    def apply(self, old: dict[str, Any] | None) -> None:
        s3 = client("s3", self.region_name)
        if old is not None and old["Bucket"] != self.properties["Bucket"]:
            _delete_bucket_policy(s3, old["Bucket"])
        s3.put_bucket_policy(
            Bucket=self.properties["Bucket"], Policy=json.dumps(self.properties["PolicyDocument"])
        )

    def delete(self, account_id: str, region_name: str) -> None:
        _delete_bucket_policy(client("s3", self.region_name), self.properties["Bucket"])


def _delete_bucket_policy(s3: Any, bucket: str) -> None:
    try:
        s3.delete_bucket_policy(Bucket=bucket)
    except ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchBucket":  # a bucket deleted before it
            raise


class _TopicPolicy(_ResourceModel):
    """``AWS::SNS::TopicPolicy``: the topics' ``Policy`` attribute; back to SNS's default policy
    when deleted."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::TopicPolicy"

    def apply(self, old: dict[str, Any] | None) -> None:
        sns = client("sns", self.region_name)
        for topic_arn in set(old["Topics"] if old else []) - set(self.properties["Topics"]):
            _reset_topic_policy(topic_arn, self.region_name)
        for topic_arn in self.properties["Topics"]:
            sns.set_topic_attributes(
                TopicArn=topic_arn,
                AttributeName="Policy",
                AttributeValue=json.dumps(self.properties["PolicyDocument"]),
            )

    def delete(self, account_id: str, region_name: str) -> None:
        for topic_arn in self.properties["Topics"]:
            _reset_topic_policy(topic_arn, self.region_name)


def _reset_topic_policy(topic_arn: str, region_name: str) -> None:
    account_id = topic_arn.split(":")[4]
    topic = sns_backends[account_id][region_name].topics.get(topic_arn)
    if topic is not None:  # else deleted before its policy, as CloudFormation may order it
        topic._policy_json = topic._create_default_topic_policy(region_name, account_id, topic.name)


_RESOURCE_TYPES: Final[Mapping[str, type[_ResourceModel]]] = {
    model.cloudformation_type(): model for model in (_CdkMetadata, _BucketPolicy, _TopicPolicy)
}


def parse_resource(resource_json: dict[str, Any], resources_map: Any) -> Any:
    """moto's parse_resource on a copy: it adds ``Properties: {}`` to the template itself, so a
    resource without properties differs from the same resource in the next template, and every
    stack update replaces it."""
    return _patching.original(cfn_parsing, "parse_resource")(dict(resource_json), resources_map)


def parse_and_update_resource(
    logical_id: str,
    resource_json: dict[str, Any],
    resources_map: Any,
    account_id: str,
    region_name: str,
) -> Any:
    """moto's update of a resource, except that a type it cannot update keeps the resource it
    has (moto drops it from the stack, so it is neither listed nor deleted with the stack)."""
    updated = _patching.original(cfn_parsing, "parse_and_update_resource")(
        logical_id, resource_json, resources_map, account_id, region_name
    )
    if updated is None:
        original = resources_map._parsed_resources.get(logical_id)
        if original is not None:
            logger.warning(
                "%s (%s): update not emulated; the resource keeps its properties",
                logical_id,
                resource_json.get("Type"),
            )
            return original
    return updated


def resource_class_from_type(resource_type: str) -> Any:
    if resource_type in _RESOURCE_TYPES:
        return _RESOURCE_TYPES[resource_type]
    from ._model_package_groups import ModelPackageGroupResource  # a subclass of _ResourceModel

    if resource_type == ModelPackageGroupResource.cloudformation_type():
        return ModelPackageGroupResource
    from ._alarms import MetricAlarmResource

    if resource_type == MetricAlarmResource.cloudformation_type():
        return MetricAlarmResource
    return _patching.original(cfn_parsing, "resource_class_from_type")(resource_type)
