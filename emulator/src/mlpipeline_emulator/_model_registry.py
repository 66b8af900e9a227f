"""SageMaker's model registry where moto's falls short, and its EventBridge events.

moto 5.2.5 keeps model package groups and versioned model packages (version numbers per group
from 1, ARN ``...:model-package/<group>/<version>``, InferenceSpecification, ModelMetrics,
MetadataProperties, CustomerMetadataProperties, ListModelPackages' filters and sort). Changed
here (SageMaker API Reference, https://docs.aws.amazon.com/sagemaker/latest/APIReference/):

- UpdateModelPackage changes only what the request names. moto set every member the request
  left out (``ModelApprovalStatus``, ``ApprovalDescription``, ``CustomerMetadataProperties``) to
  nothing, so adding a metadata property erased the approval. ``CustomerMetadataProperties``
  are added to the package's (API_UpdateModelPackage.html: "The metadata properties associated
  with the model package versions"; ``CustomerMetadataPropertiesToRemove`` removes keys).
- A versioned model package registered without ``ModelApprovalStatus`` is
  ``PendingManualApproval`` (moto left it without any). The API reference only says the member
  is optional for versioned packages; the SageMaker Python SDK documents this default for
  ``approval_status`` and leaves the member out when it is not given
  (aws/sagemaker-python-sdk, src/sagemaker/model.py ``Model.register``: "(default:
  "PendingManualApproval")").
- CreateModelPackage and DescribeModelPackageGroup take the group's name or ARN (botocore's
  SageMaker model: ``ModelPackageGroupName`` is an ``ArnOrName`` in both requests); moto only
  found groups by name. DescribeModelPackage, DescribeModelPackageGroup and ListModelPackages
  with an ARN of another account read that account's registry, and CreateModel may name another
  account's version, when the group's resource policy allows the caller's account the action
  (:mod:`._cross_account`; else ``AccessDeniedException``): DescribeModelPackageGroup on the
  group's ARN, DescribeModelPackage and CreateModel on the version's ARN, ListModelPackages on
  the group's ARN or its versions' (``model-package/<group>/*``).
- DescribeModelPackage and UpdateModelPackage of a package that does not exist answer
  ``ValidationException`` with a message ending "does not exist.", as SageMaker does (moto:
  "... not found").
- PutModelPackageGroupPolicy, GetModelPackageGroupPolicy and DeleteModelPackageGroupPolicy,
  which moto lacks: the group's resource policy, kept as the JSON text given.
- Events: creating a versioned model package, and an UpdateModelPackage that changes its
  ModelApprovalStatus, send a ``SageMaker Model Package State Change`` event from
  ``aws.sagemaker`` to the default event bus, whose ``resources`` is the package's ARN and whose
  ``detail`` is the package as DescribeModelPackage describes it (``ModelPackageArn``,
  ``ModelPackageGroupName``, ``ModelPackageVersion``, ``ModelApprovalStatus``, ...), timestamps
  as ``2021-02-24T17:00:14Z`` ("SageMaker model package state change",
  https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html#eventbridge-model-package;
  a rule on ``{"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State
  Change"]}``: https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry-staging-construct-event-bridge.html).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, Final

from moto.core.responses import ActionResult
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import ModelPackage, ModelPackageGroup, sagemaker_backends
from moto.sagemaker.utils import arn_formatter

from ._cross_account import check_sagemaker, current_principal
from ._eventbridge import emit
from ._state import LOCK

SOURCE: Final = "aws.sagemaker"
DEFAULT_APPROVAL_STATUS: Final = "PendingManualApproval"
DETAIL_TYPE: Final = "SageMaker Model Package State Change"
_POLICIES: Final = "_mlpipeline_model_package_group_policies"

Backend = Any


def _split_arn(arn_or_name: str) -> tuple[str | None, str | None, str]:
    """(account, region, name) of a group's ARN; (None, None, name) of a name."""
    if not arn_or_name.startswith("arn:"):
        return None, None, arn_or_name
    parts = arn_or_name.split(":", 5)
    return parts[4], parts[3], parts[5].split("/", 1)[1]


def _owner(backend: Backend, account: str | None, region: str | None) -> Backend:
    if account is None or (account == backend.account_id and region == backend.region_name):
        return backend
    return sagemaker_backends[account][region or backend.region_name]


def _event_times(value: Any) -> Any:
    """Timestamps as the event's ``detail`` gives them: ``"CreationTime": "2021-02-24T17:00:14Z"``
    (the documented example event, automating-sagemaker-with-eventbridge.html#eventbridge-model-
    package)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dict):
        return {k: _event_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_event_times(v) for v in value]
    return value


def _send_state_change(backend: Backend, package: ModelPackage) -> None:
    emit(
        backend.account_id,
        backend.region_name,
        source=SOURCE,
        detail_type=DETAIL_TYPE,
        detail=_event_times(package.gen_response_object()),
        resources=[package.arn],
    )


def _unknown_package(name: str) -> ValidationError:
    # SageMaker answers ValidationException "... does not exist." (AWS's own controller
    # recognises a missing package by that code and suffix: aws-controllers-k8s/
    # sagemaker-controller, generator.yaml, ModelPackage.exceptions.errors.404); moto said
    # "Model package ... not found".
    return ValidationError(f"ModelPackage {name} does not exist.")


# --- the backend ---------------------------------------------------------------------------


def wrap_create_model_package(original: Callable[..., str]) -> Callable[..., str]:
    def create_model_package(self: Backend, **kwargs: Any) -> str:
        group = kwargs.get("model_package_group_name")
        if group:
            kwargs["model_package_group_name"] = _split_arn(group)[2]
            if kwargs.get("model_approval_status") is None:
                kwargs["model_approval_status"] = DEFAULT_APPROVAL_STATUS
        with LOCK:
            arn = original(self, **kwargs)
            package = self.model_packages[arn]
        if package.model_package_version is not None:
            _send_state_change(self, package)
        return arn

    return create_model_package


def update_model_package(
    self: Backend,
    model_package_arn: str,
    model_approval_status: str | None,
    approval_description: str | None,
    customer_metadata_properties: dict[str, str] | None,
    customer_metadata_properties_to_remove: list[str],
    additional_inference_specifications_to_add: list[Any] | None,
) -> str:
    with LOCK:
        key = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
        package = self.model_packages.get(key)
        if package is None:
            raise _unknown_package(model_package_arn)
        before = package.model_approval_status
        if model_approval_status is not None:
            package.set_model_approval_status(model_approval_status)
        if approval_description is not None:
            package.approval_description = approval_description
        if customer_metadata_properties:
            merged = dict(package.customer_metadata_properties or {})
            merged.update(customer_metadata_properties)
            package.customer_metadata_properties = merged
        if customer_metadata_properties_to_remove and package.customer_metadata_properties:
            package.remove_customer_metadata_property(customer_metadata_properties_to_remove)
        package.add_additional_inference_specifications(additional_inference_specifications_to_add)
        package.modifications_done()
        changed = package.model_approval_status != before
    if changed and package.model_package_version is not None:
        _send_state_change(self, package)
    return str(package.arn)


def _check_access(
    caller: Backend, owner: Backend, group: str, action: str, resources: list[str]
) -> None:
    """Another account's group: its resource policy must allow the caller ``action``."""
    if owner is caller:
        return
    with LOCK:
        policy = policies(owner).get(group)
    check_sagemaker(
        caller.account_id, owner.account_id, policy, action, resources, current_principal()
    )


def _group_arn(owner: Backend, group: str) -> str:
    return str(arn_formatter("model-package-group", group, owner.account_id, owner.region_name))


def check_model_package_use(self: Backend, package_arn: str) -> None:
    """CreateModel naming ``package_arn`` (a version of another account's group): the group's
    policy must allow the caller ``sagemaker:CreateModel`` on it."""
    account, region, name = _split_arn(package_arn)
    owner = _owner(self, account, region)
    _check_access(self, owner, name.split("/", 1)[0], "CreateModel", [package_arn])


def package_containers(self: Backend, package: str) -> list[dict[str, Any]]:
    """The containers of a model package's inference specification (of another account's too:
    SageMaker deploys what CreateModel was allowed to name)."""
    account, region, _ = _split_arn(package)
    owner = _owner(self, account, region)
    with LOCK:
        key = owner.model_package_name_mapping.get(package)
        found = owner.model_packages.get(key) if key else None
        if found is None:
            raise _unknown_package(package)
        specification = found.inference_specification or {}
        return [dict(c) for c in specification.get("Containers", [])]


def wrap_create_model(original: Callable[..., Any]) -> Callable[..., Any]:
    """CreateModel whose containers name another account's model package versions."""

    def create_model(self: Backend, **kwargs: Any) -> Any:
        containers = [kwargs.get("primary_container"), *(kwargs.get("containers") or [])]
        for container in containers:
            package = (container or {}).get("ModelPackageName")
            if isinstance(package, str) and package.startswith("arn:"):
                check_model_package_use(self, package)
        return original(self, **kwargs)

    return create_model


def wrap_describe_model_package(original: Callable[..., ModelPackage]) -> Callable[..., Any]:
    def describe_model_package(self: Backend, model_package_name: str) -> ModelPackage:
        account, region, name = _split_arn(model_package_name)
        owner = _owner(self, account, region)
        group = name.split("/", 1)[0]
        _check_access(self, owner, group, "DescribeModelPackage", [model_package_name])
        if model_package_name not in owner.model_package_name_mapping:
            raise _unknown_package(model_package_name)
        return original(owner, model_package_name)

    return describe_model_package


def wrap_describe_model_package_group(
    original: Callable[..., ModelPackageGroup],
) -> Callable[..., ModelPackageGroup]:
    def describe_model_package_group(
        self: Backend, model_package_group_name: str
    ) -> ModelPackageGroup:
        account, region, name = _split_arn(model_package_group_name)
        owner = _owner(self, account, region)
        _check_access(self, owner, name, "DescribeModelPackageGroup", [_group_arn(owner, name)])
        return original(owner, name)

    return describe_model_package_group


def wrap_list_model_packages(original: Callable[..., Any]) -> Callable[..., Any]:
    def list_model_packages(self: Backend, **kwargs: Any) -> Any:
        group = kwargs.get("model_package_group_name")
        if not group:
            return original(self, **kwargs)
        account, region, name = _split_arn(group)
        owner = _owner(self, account, region)
        arn = _group_arn(owner, name)
        versions = arn.replace(":model-package-group/", ":model-package/") + "/*"
        _check_access(self, owner, name, "ListModelPackages", [arn, versions])
        return original(owner, **{**kwargs, "model_package_group_name": name})

    return list_model_packages


def policies(backend: Backend) -> dict[str, str]:
    policies: dict[str, str] | None = backend.__dict__.get(_POLICIES)
    if policies is None:
        policies = {}
        setattr(backend, _POLICIES, policies)
    return policies


# --- the responses -------------------------------------------------------------------------


def respond_put_model_package_group_policy(self: Any) -> ActionResult:
    name = self._get_param("ModelPackageGroupName")
    backend = self.sagemaker_backend
    group = backend.describe_model_package_group(name)
    with LOCK:
        policies(backend)[group.model_package_group_name] = self._get_param("ResourcePolicy")
    return ActionResult({"ModelPackageGroupArn": group.arn})


def respond_get_model_package_group_policy(self: Any) -> ActionResult:
    name = self._get_param("ModelPackageGroupName")
    backend = self.sagemaker_backend
    group = backend.describe_model_package_group(name)
    policy = policies(backend).get(group.model_package_group_name)
    if policy is None:
        arn = arn_formatter("model-package-group", name, backend.account_id, backend.region_name)
        raise ValidationError(f"Cannot find resource policy for {arn}.")
    return ActionResult({"ResourcePolicy": policy})


def respond_delete_model_package_group_policy(self: Any) -> ActionResult:
    name = self._get_param("ModelPackageGroupName")
    backend = self.sagemaker_backend
    group = backend.describe_model_package_group(name)
    with LOCK:
        policies(backend).pop(group.model_package_group_name, None)
    return ActionResult({})
