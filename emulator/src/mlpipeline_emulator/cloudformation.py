"""moto's CloudFormation, made to deploy what the CDK synthesizes: the bootstrap stack and ours.

The CDK CLI deploys with change sets, from a template it uploads to the bootstrap bucket, and the
stacks it deploys carry resource types and properties that moto (5.2) skips or handles unlike
CloudFormation. :func:`install_cloudformation_support` patches moto in this process, once; each
patch below says what CloudFormation does and what moto does instead:

- **TemplateURL on the emulator's own endpoint** (:func:`_template_from_url`). The CLI hands
  CloudFormation ``http://127.0.0.1:PORT/BUCKET/KEY`` (a path-style URL on the S3 endpoint it was
  given); moto reads the first label of the host name as the bucket.
- **Outputs and exports after a change set** (:func:`_execute_change_set`). moto builds a stack's
  outputs when the stack is created; a stack made by a CREATE change set is created empty, so it
  never had any outputs. List parameters are described as Python lists (:func:`_parameter_list`).
- **Resource events** (:func:`_report_resources`): moto reports a stack operation on the stack
  alone; CloudFormation reports each resource, which the CLI shows as its progress.
- **Failures are stack states** (:func:`_execute_change_set`, :func:`_delete_stack`). In
  CloudFormation a resource that fails leaves the stack ``CREATE_FAILED``/``UPDATE_FAILED`` (as
  with rollback disabled: there is no rollback here) or ``DELETE_FAILED`` with the reason in its
  events; moto lets the exception escape as an HTTP 500 and, on delete, loses the stack.
- **Resource types moto skips**: ``AWS::S3::BucketPolicy``, ``AWS::SNS::TopicPolicy`` and
  ``AWS::CDK::Metadata`` (:class:`_BucketPolicy`, :class:`_TopicPolicy`, :class:`_CdkMetadata`).
  moto warns and creates nothing; worse, listing the stack's resources then shows blank rows
  (:func:`_stack_resources` drops resources that were never created, such as those whose
  condition is false).
- **Updates replace resources that have no properties** in moto: it writes ``Properties: {}``
  into the deployed template, which then differs from the next one (:func:`_parse_resource`).
- **Bucket configuration** (:func:`_configure_bucket`). moto applies a bucket's encryption and
  tags only; CloudFormation also applies versioning, public access block, object ownership,
  lifecycle rules, server access logging, notifications and the canned ACL.
- **Bucket policies over the emulator's plain HTTP** (:func:`_bucket_permission`). Every CDK
  bucket (the bootstrap bucket too) denies requests that are not made over TLS 1.2+. moto takes
  conditions it cannot evaluate as met, so that statement denies every object request. The
  emulator listens on loopback only; its requests count as made over TLS 1.3.
- **State machines** (:func:`_create_state_machine`). With state machine execution on, moto's
  Step Functions API serves state machines from another backend than the one its CloudFormation
  creates them in, so a deployed state machine could not be found, let alone started; moto also
  drops the type, logging and tracing configuration.
- **Log groups** lose their KMS key in moto (:func:`_create_log_group`).
- **KMS keys** keep their policy as a dict in moto, and every KMS call on them then fails with a
  500 (:func:`_create_key`); moto cannot update them (:func:`_update_key`).
- **Resources moto cannot update** are dropped from the stack by moto when their properties
  change; they are kept, unchanged, with a warning (:func:`_parse_and_update_resource`).
- **AwsCustomResource** (:class:`AwsCustomResource`). A custom resource whose ServiceToken is the
  AwsCustomResource provider Lambda of the same stack (the CDK's singleton
  ``AWS679f53fac002430cb0da5b7982bd2287``) is run here, in Python, as that Lambda runs it: the
  ``Create``/``Update``/``Delete`` SDK call against the emulator itself, at the same moments, with
  ``ignoreErrorCodesMatching``, ``physicalResourceId`` and ``outputPaths`` honoured. moto would
  invoke the Lambda, which needs Docker, and never sends Update or Delete.

Resource handlers act through the services' APIs (boto3) where moto's APIs are faithful, as
CloudFormation's handlers do: against the emulator's own endpoint in a server, or moto's
in-process mock when no endpoint is given.
"""

from __future__ import annotations

import datetime
import json
import logging
import re
import threading
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any, Final
from urllib.parse import unquote, urlparse

import boto3
import botocore.session
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape
from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing as cfn_parsing
from moto.cloudformation.custom_model import CustomModel
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.common_models import CloudFormationModel
from moto.kms.models import Key, kms_backends
from moto.logs.models import LogGroup
from moto.s3.models import FakeBucket, s3_backends
from moto.sns.models import sns_backends
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.utils import cfn_to_api_tags
from moto.utilities.utils import get_partition

logger = logging.getLogger(__name__)

#: The uuid of the CDK's AwsCustomResource provider (a SingletonFunction); its Lambda's logical id
#: in a stack starts with it.
AWS_CUSTOM_RESOURCE_PROVIDER_ID: Final = "AWS679f53fac002430cb0da5b7982bd2287"
#: What the provider puts in place of this string in parameters: the physical resource id.
PHYSICAL_RESOURCE_ID_REFERENCE: Final = "PHYSICAL:RESOURCEID:"
#: What the emulator's requests look like to a bucket policy: it listens on loopback only.
EMULATOR_REQUEST_CONTEXT: Final[Mapping[str, str]] = {
    "aws:SecureTransport": "true",
    "s3:TlsVersion": "1.3",
}

_lock = threading.Lock()
_installed: list[tuple[object, str, object]] = []
_endpoint_url: str | None = None
_clients: dict[tuple[str, str], Any] = {}


def install_cloudformation_support(endpoint_url: str | None = None) -> None:
    """Patch moto in this process (once, however often this is called).

    :param endpoint_url: Where the resource handlers reach the emulated services: the moto
        server's own endpoint (``http://127.0.0.1:PORT``) when moto runs as a server. Default:
        AWS's endpoints, which ``mock_aws`` intercepts in process.
    """
    global _endpoint_url
    with _lock:
        _endpoint_url = endpoint_url
        _clients.clear()
        if _installed:
            return
        _patch(CloudFormationResponse, "_get_stack_from_s3_url", _get_stack_from_s3_url)
        backend = cfn_models.CloudFormationBackend
        _patch(backend, "execute_change_set", _execute_change_set(backend.execute_change_set))
        _patch(backend, "delete_stack", _delete_stack)
        _patch(backend, "delete_change_set", _delete_change_set)
        _patch(cfn_models.Stack, "stack_resources", property(_stack_resources))
        _patch(cfn_models.Stack, "parameter_list", property(_parameter_list))
        _patch(cfn_parsing, "resource_class_from_type", _resource_class_from_type)
        _patch(cfn_parsing, "parse_resource", _parse_resource)
        _patch_classmethod(CustomModel, "create_from_cloudformation_json", _create_custom)
        _patch_classmethod(CustomModel, "update_from_cloudformation_json", _update_custom)
        _patch_classmethod(FakeBucket, "create_from_cloudformation_json", _create_bucket)
        _patch_classmethod(FakeBucket, "update_from_cloudformation_json", _update_bucket)
        _patch(FakeBucket, "get_permission", _bucket_permission)
        state_machine = sfn_models.StateMachine
        _patch_classmethod(state_machine, "create_from_cloudformation_json", _create_state_machine)
        _patch_classmethod(state_machine, "update_from_cloudformation_json", _update_state_machine)
        _patch_classmethod(state_machine, "delete_from_cloudformation_json", _delete_state_machine)
        _patch_classmethod(LogGroup, "create_from_cloudformation_json", _create_log_group)
        _patch_classmethod(Key, "create_from_cloudformation_json", _create_key)
        _patch_classmethod(Key, "update_from_cloudformation_json", _update_key)
        _patch(cfn_parsing, "parse_and_update_resource", _parse_and_update_resource)


def uninstall_cloudformation_support() -> None:
    """Restore moto as it was."""
    global _endpoint_url
    with _lock:
        while _installed:
            owner, name, original = _installed.pop()
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _endpoint_url = None
        _clients.clear()


_ABSENT: Final = object()


def _patch(owner: object, name: str, replacement: object) -> None:
    """Replace ``owner.name``; a class's own attribute, or one it inherited (then restoring
    removes the replacement)."""
    original = vars(owner).get(name, _ABSENT)
    _installed.append((owner, name, original))
    setattr(owner, name, replacement)


def _patch_classmethod(owner: type, name: str, function: Callable[..., Any]) -> None:
    _patch(owner, name, classmethod(function))


def _original(owner: object, name: str) -> Any:
    """The unpatched attribute, bound to ``owner`` if it is a classmethod."""
    for patched_owner, patched_name, original in _installed:
        if patched_owner is owner and patched_name == name:
            if original is _ABSENT:
                assert isinstance(owner, type)
                return getattr(super(owner, owner), name)
            if isinstance(original, classmethod):
                return types.MethodType(original.__func__, owner)
            return original
    raise LookupError(f"{name} is not patched")


def _client(service: str, region: str) -> Any:
    """A boto3 client of the emulated ``service``, made once per service and region."""
    with _lock:
        key = (service, region)
        if key not in _clients:
            _clients[key] = boto3.session.Session().client(
                service,
                region_name=region,
                endpoint_url=_endpoint_url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return _clients[key]


# --- TemplateURL ---------------------------------------------------------------------------------


def _template_from_url(template_url: str, account_id: str, partition: str) -> str:
    """Read a template from the emulated S3: path-style on an IP address or ``localhost`` (the
    emulator's own endpoint, as the CLI builds it), else as moto reads AWS's S3 URLs."""
    url = urlparse(template_url)
    if _is_local_host(url.hostname or ""):
        bucket, _, key = unquote(url.path).lstrip("/").partition("/")
        obj = s3_backends[account_id][partition].get_object(bucket, key)
        if obj is None:
            raise ValueError(f"no template at {template_url}")
        return str(obj.value.decode("utf-8"))
    from moto.cloudformation.utils import get_stack_from_s3_url

    return str(get_stack_from_s3_url(template_url, account_id=account_id, partition=partition))


def _is_local_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def _get_stack_from_s3_url(self: Any, template_url: str) -> str:
    return _template_from_url(template_url, self.current_account, self.partition)


# --- Stack operations ----------------------------------------------------------------------------


class ResourceFailedError(Exception):
    """A resource that CloudFormation would mark ``*_FAILED``, with the reason it would show."""

    def __init__(self, logical_id: str, resource_type: str, physical_id: str, reason: str):
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.physical_id = physical_id
        self.reason = reason


def _add_event(stack: Any, status: str, reason: str, failure: ResourceFailedError | None) -> None:
    if failure is not None:
        stack.events.append(
            cfn_models.Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=failure.logical_id,
                physical_resource_id=failure.physical_id,
                resource_type=failure.resource_type,
                resource_status=status,
                resource_status_reason=failure.reason,
                resource_properties=None,
            )
        )
    stack._add_stack_event(status, resource_status_reason=reason)


def _fail_stack(stack: Any, status: str, error: Exception) -> None:
    failure = error if isinstance(error, ResourceFailedError) else None
    if failure is not None:
        reason = f"The following resource(s) failed: [{failure.logical_id}]. {failure.reason}"
    else:
        reason = f"{type(error).__name__}: {error}"
        logger.exception("stack %s: %s", stack.name, status, exc_info=error)
    _add_event(stack, status, reason, failure)
    stack.status = status


def _execute_change_set(original: Callable[..., None]) -> Callable[..., None]:
    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        try:
            original(self, change_set_name, stack_name)
        except Exception as error:  # what a resource raises fails the stack, not the request
            change_set.execution_status = "EXECUTE_FAILED"
            _fail_stack(stack, f"{change_set.change_set_type}_FAILED", error)
            return
        parsed = stack.resource_map._parsed_resources
        _report_resources(
            stack,
            [
                (change.logical_resource_id, change.resource_type, resource, verb)
                for change in change_set.changes
                for verb in [_CHANGE_VERBS[change.action]]
                for resource in [parsed.get(change.logical_resource_id)]
                if resource is not None or verb == "DELETE"
            ],
        )
        stack._parse_template()
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            del self.exports[name]
        for export in stack.exports:
            self.exports[export.name] = export

    return execute_change_set


def _delete_change_set(self: Any, change_set_name: str) -> None:
    """Deleting a change set that is not there succeeds, as in CloudFormation: the CDK CLI
    deletes its change set by name before every deployment of an existing stack, whether one is
    left or not. moto fails with an internal error instead."""
    if change_set_name in self.change_sets:  # an ARN
        del self.change_sets[change_set_name]
        return
    for change_set_id, change_set in list(self.change_sets.items()):
        if change_set.change_set_name == change_set_name:
            del self.change_sets[change_set_id]
            return


def _delete_stack(self: Any, name_or_stack_id: str) -> None:
    stack = self.stacks.get(name_or_stack_id) or next(
        (s for s in self.stacks.values() if s.name == name_or_stack_id), None
    )
    if stack is None:
        return  # CloudFormation: deleting a stack that does not exist succeeds
    for resource in stack.custom_resources.values():
        if isinstance(resource, AwsCustomResource):
            resource.delete_failure = None
    template_resources = stack.resource_map._resource_json_map
    existing = [
        (logical_id, resource, template_resources[logical_id])
        for logical_id, resource in stack.resource_map._parsed_resources.items()
        if logical_id in template_resources and resource is not None
    ]
    try:
        stack.delete()
    except Exception as error:  # the stack stays, DELETE_FAILED, with what is left of it
        _fail_stack(stack, "DELETE_FAILED", error)
        return
    _report_resources(
        stack,
        [
            (
                logical_id,
                resource_json["Type"],
                resource,
                "RETAIN" if resource_json.get("DeletionPolicy") == "Retain" else "DELETE",
            )
            for logical_id, resource, resource_json in existing
        ],
    )
    del self.stacks[stack.stack_id]
    self.deleted_stacks[stack.stack_id] = stack
    for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del self.exports[name]


_CHANGE_VERBS: Final = {"Add": "CREATE", "Modify": "UPDATE", "Remove": "DELETE"}


def _report_resources(stack: Any, changes: list[tuple[str, str, Any, str]]) -> None:
    """Events for each resource a stack operation changed (``logical id, type, resource, verb``;
    verb ``RETAIN`` for ``DELETE_SKIPPED``), before the operation's final stack event. moto
    reports the stack alone, so the CLI counted one resource of many. They are reported once
    the operation is done, in the order given, not as each resource was handled."""
    final = stack.events.pop()
    # Between the operation's first and last stack events, a millisecond apart (the precision
    # of the API's timestamps), so that they sort as they happened.
    moment = stack.events[-1].timestamp if stack.events else final.timestamp
    for logical_id, resource_type, resource, verb in changes:
        physical_id = getattr(resource, "physical_resource_id", None) or ""
        statuses = (
            ["DELETE_SKIPPED"] if verb == "RETAIN" else [f"{verb}_IN_PROGRESS", f"{verb}_COMPLETE"]
        )
        for status in statuses:
            event = cfn_models.Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=logical_id,
                physical_resource_id=physical_id,
                resource_type=resource_type,
                resource_status=status,
                resource_status_reason=None,
                resource_properties=None,
            )
            moment += datetime.timedelta(milliseconds=1)
            event.timestamp = moment
            stack.events.append(event)
    final.timestamp = max(final.timestamp, moment + datetime.timedelta(milliseconds=1))
    stack.events.append(final)


def _stack_resources(self: Any) -> list[Any]:
    return [resource for resource in self.resource_map.values() if resource is not None]


def _parameter_list(self: Any) -> list[dict[str, Any]]:
    """A stack's parameters as CloudFormation describes them: list parameters as the
    comma-delimited string they were given as (moto shows Python's repr of the list)."""
    resource_map = self.resource_map
    return [
        {
            "ParameterKey": key,
            "ParameterValue": "****"
            if key in getattr(resource_map, "no_echo_parameter_keys", [])
            else ",".join(map(str, value))
            if isinstance(value, list)
            else value,
        }
        for key, value in resource_map.resolved_parameters.items()
    ]


# --- Resource types ------------------------------------------------------------------------------


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
        s3 = _client("s3", self.region_name)
        if old is not None and old["Bucket"] != self.properties["Bucket"]:
            _delete_bucket_policy(s3, old["Bucket"])
        s3.put_bucket_policy(
            Bucket=self.properties["Bucket"], Policy=json.dumps(self.properties["PolicyDocument"])
        )

    def delete(self, account_id: str, region_name: str) -> None:
        _delete_bucket_policy(_client("s3", self.region_name), self.properties["Bucket"])


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
        sns = _client("sns", self.region_name)
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


def _parse_resource(resource_json: dict[str, Any], resources_map: Any) -> Any:
    """moto's parse_resource on a copy: it adds ``Properties: {}`` to the template itself, so a
    resource without properties differs from the same resource in the next template, and every
    stack update replaces it."""
    return _original(cfn_parsing, "parse_resource")(dict(resource_json), resources_map)


def _parse_and_update_resource(
    logical_id: str,
    resource_json: dict[str, Any],
    resources_map: Any,
    account_id: str,
    region_name: str,
) -> Any:
    """moto's update of a resource, except that a type it cannot update keeps the resource it
    has (moto drops it from the stack, so it is neither listed nor deleted with the stack)."""
    updated = _original(cfn_parsing, "parse_and_update_resource")(
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


def _resource_class_from_type(resource_type: str) -> Any:
    if resource_type in _RESOURCE_TYPES:
        return _RESOURCE_TYPES[resource_type]
    return _original(cfn_parsing, "resource_class_from_type")(resource_type)


# --- S3 buckets ----------------------------------------------------------------------------------

#: Bucket properties applied here, beyond the name, encryption and tags that moto applies.
_BUCKET_PROPERTIES: Final = frozenset(
    {
        "AccessControl",
        "BucketEncryption",
        "VersioningConfiguration",
        "PublicAccessBlockConfiguration",
        "OwnershipControls",
        "LifecycleConfiguration",
        "LoggingConfiguration",
        "NotificationConfiguration",
    }
)
_MOTO_BUCKET_PROPERTIES: Final = frozenset({"BucketName", "Tags"})


def _create_bucket(
    cls: type,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    bucket = _original(FakeBucket, "create_from_cloudformation_json")(
        resource_name, cloudformation_json, account_id, region_name, **kwargs
    )
    _configure_bucket(bucket, cloudformation_json.get("Properties", {}), None, region_name)
    return bucket


def _update_bucket(
    cls: type,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    old = getattr(original_resource, "_cfn_properties", {})
    properties = cloudformation_json["Properties"]
    # moto's in-place update reads the bucket's name from BucketName, which most templates
    # leave out, to apply Tags; they are applied below instead.
    untagged = {key: value for key, value in properties.items() if key != "Tags"}
    bucket = _original(FakeBucket, "update_from_cloudformation_json")(
        original_resource,
        new_resource_name,
        {**cloudformation_json, "Properties": untagged},
        account_id,
        region_name,
    )
    replaced = bucket is not original_resource
    s3 = _client("s3", region_name)
    if properties.get("Tags"):
        s3.put_bucket_tagging(Bucket=bucket.name, Tagging={"TagSet": properties["Tags"]})
    elif old.get("Tags") and not replaced:
        s3.delete_bucket_tagging(Bucket=bucket.name)
    _configure_bucket(bucket, properties, None if replaced else old, region_name)
    return bucket


def _configure_bucket(
    bucket: Any, properties: Mapping[str, Any], old: Mapping[str, Any] | None, region: str
) -> None:
    """Apply the bucket configuration properties as CloudFormation does, through S3's API; on
    update, remove what the template no longer has."""
    s3 = _client("s3", region)
    name = bucket.name
    ignored = set(properties) - _BUCKET_PROPERTIES - _MOTO_BUCKET_PROPERTIES
    if ignored:
        logger.warning("bucket %s: not emulated, left unset: %s", name, ", ".join(sorted(ignored)))
    removed = set(old or {}) & _BUCKET_PROPERTIES - set(properties)

    if "AccessControl" in properties:  # a canned ACL: PublicRead -> public-read
        acl = re.sub(r"(?<!^)(?=[A-Z])", "-", properties["AccessControl"]).lower()
        s3.put_bucket_acl(Bucket=name, ACL=acl)
    elif "AccessControl" in removed:
        s3.put_bucket_acl(Bucket=name, ACL="private")
    if "BucketEncryption" in properties:
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                **(
                    {"BucketKeyEnabled": rule["BucketKeyEnabled"]}
                    if "BucketKeyEnabled" in rule
                    else {}
                ),
            }
            for rule in properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    elif "BucketEncryption" in removed:
        s3.delete_bucket_encryption(Bucket=name)
    if "VersioningConfiguration" in properties:
        s3.put_bucket_versioning(
            Bucket=name,
            VersioningConfiguration={"Status": properties["VersioningConfiguration"]["Status"]},
        )
    elif "VersioningConfiguration" in removed:  # a versioned bucket can only be suspended
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    if "PublicAccessBlockConfiguration" in properties:
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration=properties["PublicAccessBlockConfiguration"],
        )
    elif "PublicAccessBlockConfiguration" in removed:
        s3.delete_public_access_block(Bucket=name)
    if "OwnershipControls" in properties:
        s3.put_bucket_ownership_controls(
            Bucket=name, OwnershipControls=properties["OwnershipControls"]
        )
    elif "OwnershipControls" in removed:
        s3.delete_bucket_ownership_controls(Bucket=name)
    if "LifecycleConfiguration" in properties:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={
                "Rules": [
                    lifecycle_rule(rule) for rule in properties["LifecycleConfiguration"]["Rules"]
                ]
            },
        )
    elif "LifecycleConfiguration" in removed:
        s3.delete_bucket_lifecycle(Bucket=name)
    if "LoggingConfiguration" in properties or "LoggingConfiguration" in removed:
        _set_bucket_logging(bucket, properties.get("LoggingConfiguration"))
    if "NotificationConfiguration" in properties or "NotificationConfiguration" in removed:
        s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration=notification_configuration(
                properties.get("NotificationConfiguration", {})
            ),
        )
    bucket._cfn_properties = dict(properties)


def _set_bucket_logging(bucket: Any, logging_configuration: Mapping[str, Any] | None) -> None:
    """S3 accepts server access logging before the target bucket's policy lets S3 write there
    (the CDK's log bucket policy names the source buckets, so it comes after them); moto refuses
    it, so the configuration is set on moto's bucket here, after the checks S3 does make."""
    if not logging_configuration:
        bucket.logging = {}
        return
    backend = s3_backends[bucket.account_id][get_partition(bucket.region_name)]
    target = logging_configuration.get("DestinationBucketName", bucket.name)
    target_bucket = backend.get_bucket(target)  # NoSuchBucket, as S3 answers
    if target_bucket.region_name != bucket.region_name:
        from moto.s3.exceptions import CrossLocationLoggingProhibited

        raise CrossLocationLoggingProhibited()
    bucket.logging = {
        "TargetBucket": target,
        "TargetPrefix": logging_configuration.get("LogFilePrefix", ""),
    }


def lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation ``AWS::S3::Bucket`` lifecycle ``Rule`` as S3's API takes it."""
    api: dict[str, Any] = {"Status": rule["Status"]}
    if "Id" in rule:
        api["ID"] = rule["Id"]
    conditions: list[dict[str, Any]] = []
    if "Prefix" in rule:
        conditions.append({"Prefix": rule["Prefix"]})
    conditions += [{"Tag": tag} for tag in rule.get("TagFilters", [])]
    for key in ("ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if key in rule:
            conditions.append({key: int(rule[key])})
    if len(conditions) > 1:
        merged: dict[str, Any] = {"Tags": []}
        for condition in conditions:
            if "Tag" in condition:
                merged["Tags"].append(condition["Tag"])
            else:
                merged.update(condition)
        api["Filter"] = {"And": {k: v for k, v in merged.items() if v != []}}
    else:
        api["Filter"] = conditions[0] if conditions else {"Prefix": ""}

    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = rule["ExpiredObjectDeleteMarker"]
    if expiration:
        api["Expiration"] = expiration
    transitions = list(rule.get("Transitions", [])) + (
        [rule["Transition"]] if "Transition" in rule else []
    )
    if transitions:
        api["Transitions"] = [
            {"StorageClass": t["StorageClass"]}
            | ({"Days": int(t["TransitionInDays"])} if "TransitionInDays" in t else {})
            | ({"Date": t["TransitionDate"]} if "TransitionDate" in t else {})
            for t in transitions
        ]
    noncurrent = list(rule.get("NoncurrentVersionTransitions", [])) + (
        [rule["NoncurrentVersionTransition"]] if "NoncurrentVersionTransition" in rule else []
    )
    if noncurrent:
        api["NoncurrentVersionTransitions"] = [
            {"StorageClass": t["StorageClass"], "NoncurrentDays": int(t["TransitionInDays"])}
            | (
                {"NewerNoncurrentVersions": int(t["NewerNoncurrentVersions"])}
                if "NewerNoncurrentVersions" in t
                else {}
            )
            for t in noncurrent
        ]
    noncurrent_expiration = dict(rule.get("NoncurrentVersionExpiration", {}))
    if "NoncurrentVersionExpirationInDays" in rule:
        noncurrent_expiration["NoncurrentDays"] = rule["NoncurrentVersionExpirationInDays"]
    if noncurrent_expiration:
        api["NoncurrentVersionExpiration"] = {k: int(v) for k, v in noncurrent_expiration.items()}
    if "AbortIncompleteMultipartUpload" in rule:
        api["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(
                rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
            )
        }
    return api


def notification_configuration(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation ``NotificationConfiguration`` as S3's PutBucketNotificationConfiguration
    takes it."""
    api: dict[str, Any] = {}
    if configuration.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled", False):
        api["EventBridgeConfiguration"] = {}
    for cfn_key, api_key, target_key, api_target_key in (
        ("LambdaConfigurations", "LambdaFunctionConfigurations", "Function", "LambdaFunctionArn"),
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
    ):
        targets = []
        for target in configuration.get(cfn_key, []):
            item: dict[str, Any] = {api_target_key: target[target_key], "Events": [target["Event"]]}
            rules = target.get("Filter", {}).get("S3Key", {}).get("Rules")
            if rules:
                item["Filter"] = {"Key": {"FilterRules": rules}}
            targets.append(item)
        if targets:
            api[api_key] = targets
    return api


def _bucket_permission(self: Any, action: str, resource: str) -> Any:
    """moto's bucket policy check, without the statements whose conditions on the transport
    (``aws:SecureTransport``, ``s3:TlsVersion``) the emulator's requests do not meet."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy)
    statements = policy.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    policy["Statement"] = [s for s in statements if transport_conditions_hold(s.get("Condition"))]
    if not policy["Statement"]:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


def transport_conditions_hold(
    condition: Mapping[str, Mapping[str, Any]] | None,
    context: Mapping[str, str] = EMULATOR_REQUEST_CONTEXT,
) -> bool:
    """Whether a statement's ``Condition`` holds for the keys in ``context``. Conditions on other
    keys, or with other operators, are left to moto (they count as holding here)."""
    for operator, values in (condition or {}).items():
        base = operator.removesuffix("IfExists")
        for key, expected in values.items():
            if key not in context:
                continue
            compare = _CONDITION_OPERATORS.get(base)
            if compare is None:
                continue
            expected_values = expected if isinstance(expected, list) else [expected]
            negated = base.startswith(("StringNot", "NumericNot"))
            results = [compare(context[key], str(value)) for value in expected_values]
            if not (all(results) if negated else any(results)):
                return False
    return True


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    return lambda actual, expected: compare(float(actual), float(expected))


_CONDITION_OPERATORS: Final[Mapping[str, Callable[[str, str], bool]]] = {
    "Bool": lambda actual, expected: actual.lower() == expected.lower(),
    "StringEquals": lambda actual, expected: actual == expected,
    "StringNotEquals": lambda actual, expected: actual != expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "NumericEquals": _numeric(lambda a, e: a == e),
    "NumericNotEquals": _numeric(lambda a, e: a != e),
    "NumericLessThan": _numeric(lambda a, e: a < e),
    "NumericLessThanEquals": _numeric(lambda a, e: a <= e),
    "NumericGreaterThan": _numeric(lambda a, e: a > e),
    "NumericGreaterThanEquals": _numeric(lambda a, e: a >= e),
}


# --- Step Functions and Logs ---------------------------------------------------------------------


def _state_machine_backend(account_id: str, region_name: str) -> Any:
    """The backend moto's Step Functions API serves (it depends on execute_state_machine)."""
    return sfn_responses.get_backend(account_id, region_name)


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase keys as Step Functions' API spells them (camelCase)."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def _definition(properties: Mapping[str, Any]) -> str | None:
    if "DefinitionString" in properties:
        definition = str(properties["DefinitionString"])
    elif "Definition" in properties:
        definition = json.dumps(properties["Definition"])
    else:
        return None
    for name, value in properties.get("DefinitionSubstitutions", {}).items():
        definition = definition.replace("${" + name + "}", str(value))
    return definition


def _create_state_machine(
    cls: type,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    properties = cloudformation_json["Properties"]
    return _state_machine_backend(account_id, region_name).create_state_machine(
        name=properties.get("StateMachineName", resource_name),
        definition=_definition(properties) or "",
        roleArn=properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
        loggingConfiguration=_camel(properties.get("LoggingConfiguration")),
        tracingConfiguration=_camel(properties.get("TracingConfiguration")),
        encryptionConfiguration=_camel(properties.get("EncryptionConfiguration")),
        sm_type=properties.get("StateMachineType", "STANDARD"),
    )


def _update_state_machine(
    cls: type,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    properties = cloudformation_json.get("Properties", {})
    backend = _state_machine_backend(account_id, region_name)
    name = properties.get("StateMachineName", original_resource.name)
    if name != original_resource.name or properties.get("StateMachineType", "STANDARD") != getattr(
        original_resource, "sm_type", "STANDARD"
    ):
        # Replacement: a new state machine, then the old one goes.
        replacement = _create_state_machine(
            cls, new_resource_name, cloudformation_json, account_id, region_name
        )
        backend.delete_state_machine(original_resource.arn)
        return replacement
    state_machine = backend.update_state_machine(
        original_resource.arn,
        definition=_definition(properties),
        role_arn=properties.get("RoleArn"),
        logging_configuration=_camel(properties.get("LoggingConfiguration")),
        tracing_configuration=_camel(properties.get("TracingConfiguration")),
        encryption_configuration=_camel(properties.get("EncryptionConfiguration")),
    )
    backend.tagger.tag_resource(state_machine.arn, cfn_to_api_tags(properties.get("Tags", [])))
    return state_machine


def _delete_state_machine(
    cls: type, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    _state_machine_backend(account_id, region_name).delete_state_machine(resource_name)


def _create_log_group(
    cls: type,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    properties = dict(cloudformation_json["Properties"])
    if "KmsKeyId" in properties:
        properties["kmsKeyId"] = properties.pop("KmsKeyId")  # the name moto's LogGroup reads
    return _original(LogGroup, "create_from_cloudformation_json")(
        resource_name,
        {**cloudformation_json, "Properties": properties},
        account_id,
        region_name,
        **kwargs,
    )


def _key_policy(properties: Mapping[str, Any]) -> str | None:
    policy = properties.get("KeyPolicy")
    return policy if policy is None or isinstance(policy, str) else json.dumps(policy)


def _create_key(
    cls: type,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    properties = dict(cloudformation_json["Properties"])
    properties["KeyPolicy"] = _key_policy(properties)  # moto keeps the dict; KMS reads JSON text
    return _original(Key, "create_from_cloudformation_json")(
        resource_name,
        {**cloudformation_json, "Properties": properties},
        account_id,
        region_name,
        **kwargs,
    )


def _update_key(
    cls: type,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    """The properties KMS can change in place: policy, description, rotation, enabled."""
    properties = cloudformation_json["Properties"]
    backend = kms_backends[account_id][region_name]
    policy = _key_policy(properties)
    if policy is not None:
        backend.put_key_policy(original_resource.id, policy)
    backend.update_key_description(original_resource.id, properties.get("Description", ""))
    original_resource.key_rotation_status = bool(properties.get("EnableKeyRotation", False))
    original_resource.enabled = bool(properties.get("Enabled", True))
    return original_resource


# --- AwsCustomResource ---------------------------------------------------------------------------


class ApiCallError(Exception):
    """An SDK call that failed; ``code`` is what the JavaScript SDK names the error."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


#: ``call_api(service, action, parameters)``: the SDK call, its response without metadata.
CallApi = Callable[[str, str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class ProviderResponse:
    """What the provider Lambda sends back to CloudFormation."""

    status: str
    reason: str
    physical_resource_id: str | None
    data: dict[str, Any] = field(default_factory=dict)


def run_aws_custom_resource(event: Mapping[str, Any], call_api: CallApi) -> ProviderResponse:
    """The AwsCustomResource provider's handler, for one CloudFormation request ``event``
    (``RequestType``, ``LogicalResourceId``, ``PhysicalResourceId``, ``ResourceProperties``)."""
    try:
        properties = {
            key: _parse_call(event["ResourceProperties"].get(key))
            for key in ("Create", "Update", "Delete")
        }
        request_type = event["RequestType"]
        if request_type == "Create":
            physical_id = next(
                (
                    call["physicalResourceId"]["id"]
                    for call in properties.values()
                    if call and call.get("physicalResourceId", {}).get("id") is not None
                ),
                event["LogicalResourceId"],
            )
        else:
            physical_id = (
                (properties[request_type] or {})
                .get("physicalResourceId", {})
                .get("id", event["PhysicalResourceId"])
            )
        call = properties[request_type]
        data: dict[str, Any] = {}
        if call:
            service, action = call["service"], call["action"]
            parameters = _substitute_physical_id(call.get("parameters") or {}, physical_id)
            response: dict[str, Any] = {}
            try:
                response = {
                    "apiVersion": call.get("apiVersion"),
                    "region": call.get("region"),
                    **flatten(call_api(service, action, parameters)),
                }
                data = _filter_output(call, response)
            except ApiCallError as error:
                pattern = call.get("ignoreErrorCodesMatching")
                if not pattern or not re.search(pattern, error.code):
                    raise
            response_path = call.get("physicalResourceId", {}).get("responsePath")
            if response_path:
                physical_id = response.get(response_path)
        if physical_id is None:
            return ProviderResponse("FAILED", "Invalid PhysicalResourceId", None)
        return ProviderResponse("SUCCESS", "OK", str(physical_id), data)
    except Exception as error:  # the provider reports every error to CloudFormation
        return ProviderResponse("FAILED", str(error) or "Internal Error", None)


def _parse_call(value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    parsed = json.loads(value) if isinstance(value, str) else value
    return dict(parsed)


def _substitute_physical_id(value: Any, physical_id: str) -> Any:
    if value == PHYSICAL_RESOURCE_ID_REFERENCE:
        return physical_id
    if isinstance(value, list):
        return [_substitute_physical_id(item, physical_id) for item in value]
    if isinstance(value, dict):
        return {key: _substitute_physical_id(item, physical_id) for key, item in value.items()}
    return value


def flatten(value: Any) -> dict[str, Any]:
    """The provider's ``flatten``: nested keys and list indexes joined with dots."""
    flat: dict[str, Any] = {}

    def visit(item: Any, path: tuple[str, ...]) -> None:
        if isinstance(item, dict):
            for key, child in item.items():
                visit(child, (*path, str(key)))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                visit(child, (*path, str(index)))
        else:
            flat[".".join(path)] = item

    visit(value, ())
    return flat


def _filter_output(call: Mapping[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    paths = [call["outputPath"]] if call.get("outputPath") else call.get("outputPaths")
    if not paths:
        return response
    return {key: item for key, item in response.items() if key.startswith(tuple(paths))}


#: v2 (or v3 package) service names that botocore spells otherwise.
_BOTOCORE_SERVICE_NAMES: Final[Mapping[str, str]] = {
    "sfn": "stepfunctions",
    "cloudwatchlogs": "logs",
    "cloudwatch-logs": "logs",
    "cloudwatchevents": "events",
    "cloudwatch-events": "events",
    "eventbridge": "events",
    "elasticloadbalancingv2": "elbv2",
    "elastic-load-balancing-v2": "elbv2",
    "elasticloadbalancing": "elb",
    "elastic-load-balancing": "elb",
    "cognitoidentityserviceprovider": "cognito-idp",
    "cognito-identity-provider": "cognito-idp",
}


def botocore_service_name(service: str) -> str:
    """The botocore name of an AwsCustomResource ``service`` (``SageMaker``, ``@aws-sdk/client-
    sagemaker``, ``StepFunctions``...)."""
    normalized = service.lower().removeprefix("@aws-sdk/client-")
    if normalized in _BOTOCORE_SERVICE_NAMES:
        return _BOTOCORE_SERVICE_NAMES[normalized]
    available = botocore.session.get_session().get_available_services()
    by_squashed = {name.replace("-", ""): name for name in available}
    name = by_squashed.get(normalized.replace("-", ""))
    if name is None:
        raise ApiCallError(
            "Error",
            f"Service {normalized} client package with name '@aws-sdk/client-{normalized}' "
            "does not exist.",
        )
    return str(name)


def _operation(client: Any, service: str, action: str) -> OperationModel:
    name = action[:1].upper() + action[1:]
    operations = {op.lower(): op for op in client.meta.service_model.operation_names}
    operation = operations.get(name.lower()) or operations.get(name.removesuffix("Command").lower())
    if operation is None:
        raise ApiCallError(
            "Error",
            f"Unable to find command named: {name}Command for action: {name} in service "
            f"package @aws-sdk/client-{service.lower().removeprefix('@aws-sdk/client-')}",
        )
    return client.meta.service_model.operation_model(operation)


def boto3_call_api(region: str) -> CallApi:
    """``call_api`` for :func:`run_aws_custom_resource`: the call, made with boto3 against the
    emulated services, its parameters coerced to the API's types as the provider coerces them."""

    def call_api(service: str, action: str, parameters: dict[str, Any]) -> dict[str, Any]:
        client = _client(botocore_service_name(service), region)
        operation = _operation(client, service, action)
        from botocore import xform_name

        method = getattr(client, xform_name(operation.name))
        logger.info(
            "AwsCustomResource call: %s.%s %s",
            client.meta.service_model.service_name,
            operation.name,
            json.dumps(parameters, default=str),
        )
        try:
            response = method(**_coerce(parameters, operation.input_shape))
        except ClientError as error:
            details = error.response.get("Error", {})
            logger.info(
                "AwsCustomResource call failed: %s %s", details.get("Code"), details.get("Message")
            )
            raise ApiCallError(
                details.get("Code", "Error"), details.get("Message", str(error))
            ) from error
        except Exception as error:
            raise ApiCallError(type(error).__name__, str(error)) from error
        response.pop("ResponseMetadata", None)
        return dict(_jsonable(response))

    return call_api


def _coerce(value: Any, shape: Shape | None) -> Any:
    """Strings where the API takes numbers, booleans or blobs, converted as the provider's
    ``coerceApiParameters`` does."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members
        return {key: _coerce(item, members.get(key)) for key, item in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_coerce(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _coerce(item, shape.value) for key, item in value.items()}
    if isinstance(value, str):
        if shape.type_name in ("integer", "long"):
            return int(value)
        if shape.type_name in ("float", "double"):
            return float(value)
        if shape.type_name == "boolean":
            return value == "true"
        if shape.type_name == "blob":
            return value.encode("utf-8")
    return value


def _jsonable(value: Any) -> Any:
    """A response as the provider sees it: blobs and streams as text, dates as ISO strings."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    if hasattr(value, "read"):
        return _jsonable(value.read())
    if isinstance(value, datetime.datetime):
        moment = value.astimezone(datetime.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return value


class AwsCustomResource(CustomModel):
    """A ``Custom::*`` resource served by the stack's AwsCustomResource provider, run here."""

    def __init__(
        self,
        *,
        account_id: str,
        region_name: str,
        stack_id: str,
        logical_id: str,
        resource_type: str,
        properties: dict[str, Any],
    ):
        super().__init__(region_name, str(uuid.uuid4()), logical_id, logical_id)
        self.account_id = account_id
        self.stack_id = stack_id
        self.resource_type = resource_type
        self.properties = properties
        self.physical_id = ""
        self.delete_failure: ResourceFailedError | None = None

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    def _request(
        self,
        request_type: str,
        properties: dict[str, Any],
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> ProviderResponse:
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": properties.get("ServiceToken"),
            "ResponseURL": "(local emulator)",
            "StackId": self.stack_id,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": self.logical_id,
            "ResourceType": self.resource_type,
            "ResourceProperties": properties,
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = old_properties
        response = run_aws_custom_resource(event, boto3_call_api(self.region_name))
        logger.info(
            "%s %s (%s): %s %s",
            request_type,
            self.logical_id,
            self.resource_type,
            response.status,
            response.reason,
        )
        if response.status != "SUCCESS":
            raise ResourceFailedError(
                self.logical_id,
                self.resource_type,
                response.physical_resource_id or self.physical_id or self.logical_id,
                "Received response status [FAILED] from custom resource. Message returned: "
                f"{response.reason} (RequestId: {event['RequestId']})",
            )
        return response

    def create(self) -> None:
        response = self._request("Create", self.properties)
        self.physical_id = str(response.physical_resource_id)
        self.set_data(response.data)

    def update(self, properties: dict[str, Any]) -> None:
        old_properties, old_physical_id = self.properties, self.physical_id
        response = self._request("Update", properties, old_physical_id, old_properties)
        self.properties = properties
        self.physical_id = str(response.physical_resource_id)
        self.set_data(response.data)
        if self.physical_id != old_physical_id:
            # A new physical id replaced the resource: CloudFormation deletes the old one in the
            # clean-up phase, and a failure there does not fail the update.
            try:
                self._request("Delete", old_properties, old_physical_id)
            except ResourceFailedError as failure:
                logger.warning("clean-up of %s failed: %s", self.logical_id, failure.reason)

    def delete(self, account_id: str, region_name: str) -> None:
        # moto retries deletions that fail within one stack deletion; the provider answers once
        # (the answer is forgotten when the next stack deletion starts: _delete_stack).
        if self.delete_failure is not None:
            raise self.delete_failure
        try:
            self._request("Delete", self.properties, self.physical_id)
        except ResourceFailedError as error:
            self.delete_failure = error
            raise


def _is_aws_custom_resource_provider(stack: Any, service_token: Any) -> bool:
    if not isinstance(service_token, str):
        return False
    parsed = stack.resource_map._parsed_resources
    return any(
        logical_id.startswith(AWS_CUSTOM_RESOURCE_PROVIDER_ID)
        and getattr(resource, "function_arn", None) == service_token
        for logical_id, resource in list(parsed.items())
    )


def _create_custom(
    cls: type,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    properties = cloudformation_json["Properties"]
    backend = cfn_models.cloudformation_backends[account_id][region_name]
    stack = backend.get_stack(kwargs["StackId"])
    if not _is_aws_custom_resource_provider(stack, properties.get("ServiceToken")):
        return _original(CustomModel, "create_from_cloudformation_json")(
            resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
    resource = AwsCustomResource(  # type: ignore[abstract]
        account_id=account_id,
        region_name=region_name,
        stack_id=stack.stack_id,
        logical_id=kwargs["LogicalId"],
        resource_type=kwargs["ResourceType"],
        properties=properties,
    )
    stack.add_custom_resource(resource)
    resource.create()
    return resource


def _update_custom(
    cls: type,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    if isinstance(original_resource, AwsCustomResource):
        original_resource.update(cloudformation_json["Properties"])
    else:
        # moto has no update for other custom resources (it would drop them from the stack);
        # they keep what their Lambda returned when created.
        logger.warning("custom resource %s: Update not sent", original_resource.logical_id)
    return original_resource
