"""Application Auto Scaling for SageMaker endpoint variants, as far as runs depend on it.

moto has an ``application-autoscaling`` backend that checks the namespace, resource type and
dimension of a target but not that a SageMaker variant exists, answers a deregistration of
nothing with ``ValidationException``, and knows nothing of SageMaker's rules. Here:

- **Step Functions**: the ``aws-sdk:applicationautoscaling:*`` tasks reach boto3's
  ``application-autoscaling`` client (moto's interpreter looked for a client named after the
  integration), and their errors are named ``ApplicationAutoScaling.<Error>Exception``: "the
  ServiceName ... in PascalCase" (https://docs.aws.amazon.com/step-functions/latest/dg/
  supported-services-awssdk.html).
- **RegisterScalableTarget** of ``endpoint/<endpoint>/variant/<variant>`` is refused with
  ``ValidationException`` (the error botocore's model declares for invalid requests) when the
  endpoint or its variant does not exist: "Before you can use auto scaling, you must have already
  created an Amazon SageMaker AI model endpoint" (https://docs.aws.amazon.com/sagemaker/latest/
  dg/endpoint-auto-scaling-prerequisites.html). Registering puts the variant's instance count
  back within min..max: "If it's below the minimum capacity or above the maximum capacity,
  Application Auto Scaling adjusts the capacity" (API_RegisterScalableTarget.html).
- **DeregisterScalableTarget** of nothing is ``ObjectNotFoundException`` (botocore's model:
  "For any operation that deletes or deregisters a resource, this exception is thrown if the
  resource cannot be found").
- **UpdateEndpoint** that changes the instance type of a registered variant fails
  (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html: "If the update
  would change the instance type for any model that is a target for auto scaling, the update
  fails"); a model-only change is allowed. The message is ours; SageMaker refuses an invalid
  request with ``ValidationException``.
- **DeleteEndpoint** deregisters the endpoint's targets and their policies
  (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-delete-with-scaling.html).

Scaling decisions are not simulated: the instance count changes only when a registration puts
it within bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from moto.applicationautoscaling.models import (
    ApplicationAutoscalingBackend,
    applicationautoscaling_backends,
)
from moto.core.exceptions import JsonRESTError
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend, sagemaker_backends
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service,
    state_task_service_aws_sdk,
)

_SFN_SERVICE: Final = "applicationautoscaling"
_BOTO_SERVICE: Final = "application-autoscaling"
_ERROR_SERVICE: Final = "ApplicationAutoScaling"
_NAMESPACE: Final = "sagemaker"
_DIMENSION: Final = "sagemaker:variant:DesiredInstanceCount"


class _ObjectNotFoundError(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ObjectNotFoundException", message)


class _InvalidTargetError(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ValidationException", message)


def _variant_of(resource_id: str) -> tuple[str, str] | None:
    parts = resource_id.split("/")
    if len(parts) == 4 and parts[0] == "endpoint" and parts[2] == "variant":
        return parts[1], parts[3]
    return None


def _wrap_register(original: Callable[..., Any]) -> Callable[..., Any]:
    def register(self: ApplicationAutoscalingBackend, namespace: str, r_id: str, dimension: str,
                 *args: Any, **kwargs: Any) -> Any:  # fmt: skip
        endpoint = None
        if namespace == _NAMESPACE and dimension == _DIMENSION:
            endpoint = _scaled_endpoint(self, r_id)
        target = original(self, namespace, r_id, dimension, *args, **kwargs)
        if endpoint is not None:
            _within_bounds(endpoint, r_id, target.min_capacity, target.max_capacity)
        return target

    return register


def _scaled_endpoint(backend: ApplicationAutoscalingBackend, r_id: str) -> FakeEndpoint:
    variant = _variant_of(r_id)
    sagemaker = sagemaker_backends[backend.account_id][backend.region_name]
    endpoint = sagemaker.endpoints.get(variant[0]) if variant else None
    names = [v.get("VariantName") for v in endpoint.production_variants] if endpoint else []
    if variant is None or endpoint is None or variant[1] not in names:
        raise _InvalidTargetError(
            f"The endpoint variant {r_id} does not exist: register a variant of an existing "
            "SageMaker endpoint"
        )
    return endpoint


def _within_bounds(endpoint: FakeEndpoint, r_id: str, low: int | None, high: int | None) -> None:
    _, variant_name = _variant_of(r_id) or ("", "")
    for variant in endpoint.production_variants:
        if variant.get("VariantName") != variant_name or "DesiredInstanceCount" not in variant:
            continue
        count = int(variant["DesiredInstanceCount"])
        count = max(count, low) if low is not None else count
        count = min(count, high) if high is not None else count
        variant["DesiredInstanceCount"] = variant["CurrentInstanceCount"] = count


def _wrap_deregister(original: Callable[..., Any]) -> Callable[..., Any]:
    def deregister(self: ApplicationAutoscalingBackend, namespace: str, r_id: str,
                   dimension: str) -> None:  # fmt: skip
        if not self._scalable_target_exists(r_id, dimension):
            raise _ObjectNotFoundError(
                f"No scalable target registered for service namespace: {namespace}, resource "
                f"ID: {r_id}, scalable dimension: {dimension}"
            )
        original(self, namespace, r_id, dimension)
        for key in [k for k, p in self.policies.items() if p.resource_id == r_id]:
            del self.policies[key]

    return deregister


def _targets(backend: SageMakerModelBackend) -> ApplicationAutoscalingBackend:
    return applicationautoscaling_backends[backend.account_id][backend.region_name]


def check_update(backend: SageMakerModelBackend, endpoint: FakeEndpoint, config: Any) -> None:
    """Refuse an update that changes the instance type of a registered variant."""
    scaling = _targets(backend)
    served = backend.endpoint_configs.get(endpoint.endpoint_config_name)
    served_types = {
        v["VariantName"]: v.get("InstanceType")
        for v in (served.production_variants if served is not None else [])
    }
    for variant in config.production_variants:
        name = variant["VariantName"]
        r_id = f"endpoint/{endpoint.endpoint_name}/variant/{name}"
        if not scaling._scalable_target_exists(r_id, _DIMENSION):
            continue
        if variant.get("InstanceType") != served_types.get(name):
            raise ValidationError(
                message=f"The variant {name} of endpoint {endpoint.endpoint_name} is a scalable "
                "target: an update that changes its instance type fails; deregister it "
                "(DeregisterScalableTarget) first."
            )


def forget_endpoint(backend: SageMakerModelBackend, endpoint_name: str) -> None:
    """Deregister the deleted endpoint's variants and delete their policies."""
    scaling = _targets(backend)
    prefix = f"endpoint/{endpoint_name}/variant/"
    for targets in scaling.targets.values():
        for r_id in [r for r in targets if r.startswith(prefix)]:
            del targets[r_id]
    for key in [k for k, p in scaling.policies.items() if p.resource_id.startswith(prefix)]:
        del scaling.policies[key]


def _overrides(original: dict[str, str]) -> dict[str, str]:
    return {**original, _SFN_SERVICE: _BOTO_SERVICE}


def _error_name(original: Any) -> Any:
    def name(service_name: str) -> str:
        if service_name.lower() == _SFN_SERVICE:
            return _ERROR_SERVICE
        return str(original.__func__(service_name))

    return staticmethod(name)


#: ``(owner, attribute, build)``: applied and removed with the other SageMaker patches.
PATCHES: Final[tuple[tuple[type, str, Callable[[Any], Any]], ...]] = (
    (state_task_service.StateTaskService, "_SERVICE_NAME_SFN_TO_BOTO_OVERRIDES", _overrides),
    (
        state_task_service_aws_sdk.StateTaskServiceAwsSdk,
        "_normalise_service_error_name",
        _error_name,
    ),
    (ApplicationAutoscalingBackend, "register_scalable_target", _wrap_register),
    (ApplicationAutoscalingBackend, "deregister_scalable_target", _wrap_deregister),
)
