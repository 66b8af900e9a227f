"""Autoscaling of the endpoint's variant: the ``autoscaling`` settings of MLPipeline, their checks
and the Application Auto Scaling requests a run makes.

The endpoint is created by runs, not by CloudFormation, so the run itself registers the variant
``AllTraffic`` as a scalable target and puts a target tracking policy on it once the endpoint is
``InService`` on the run's configuration (:mod:`.steps._scaling`). AWS's sources:

- botocore's ``application-autoscaling`` service model: ``RegisterScalableTarget`` (required
  ``ServiceNamespace``, ``ResourceId``, ``ScalableDimension``; ``MinCapacity``/``MaxCapacity``
  are integers, "required when registering a new scalable target"), ``PutScalingPolicy``
  (``PolicyName`` 1 to 256 printable characters; ``TargetTrackingScalingPolicyConfiguration``
  with the required ``TargetValue`` and the predefined metric
  ``SageMakerVariantInvocationsPerInstance``; ``ScaleInCooldown``/``ScaleOutCooldown`` whole
  seconds), ``DeregisterScalableTarget`` (``ObjectNotFoundException`` when there is none).
- https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-add-code-register.html:
  ``ServiceNamespace`` ``sagemaker``, ``ResourceId`` ``endpoint/<endpoint>/variant/<variant>``,
  ``ScalableDimension`` ``sagemaker:variant:DesiredInstanceCount``.
- https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html:
  scaling to zero instances is for inference components only, so an instance endpoint's
  variant keeps at least one instance (``min_capacity`` >= 1).
- https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html: an update that
  changes the instance type of a scaled variant fails unless the target is deregistered first;
  a model-only change is allowed; the variant is registered again after the update.
- https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-delete-with-scaling.html: deleting
  the endpoint deregisters its targets when the caller may call ``DeregisterScalableTarget``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aws_cdk import Duration

from ._declare import about

SERVICE_NAMESPACE: Final = "sagemaker"
SCALABLE_DIMENSION: Final = "sagemaker:variant:DesiredInstanceCount"
VARIANT_NAME: Final = "AllTraffic"
PREDEFINED_METRIC: Final = "SageMakerVariantInvocationsPerInstance"
POLICY_TYPE: Final = "TargetTrackingScaling"
#: The service-linked role Application Auto Scaling creates on the first registration of a
#: SageMaker variant (https://docs.aws.amazon.com/autoscaling/application/userguide/
#: services-that-can-integrate-sagemaker.html).
SERVICE_LINKED_ROLE: Final = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
SERVICE_LINKED_ROLE_PRINCIPAL: Final = "sagemaker.application-autoscaling.amazonaws.com"
#: SageMaker's default cool-down for endpoint variants (endpoint-auto-scaling-add-code-define).
DEFAULT_COOLDOWN: Final = Duration.seconds(300)

Problem = tuple[str, Any, str]


def _whole_at_least(low: int) -> Any:
    def check(value: int) -> str | None:
        if isinstance(value, bool) or value < low:
            return f"must be a whole number of at least {low}"
        return None

    return check


def _positive_number(value: float) -> str | None:
    if isinstance(value, bool) or not value > 0:
        return "must be a number above 0 (invocations per instance per minute)"
    return None


def _whole_seconds(value: Duration) -> str | None:
    if value.is_unresolved():
        return "must be known at synth time"
    millis = value.to_milliseconds()
    if millis < 0 or millis % 1000:
        return "must be a whole number of seconds, 0 or more (Application Auto Scaling's Cooldown)"
    return None


@dataclass(frozen=True, kw_only=True)
class AutoscalingSettings:
    """Target tracking on the endpoint's invocations per instance, applied by each run once the
    endpoint is in service and kept across later deployments. The instance count then varies
    between `min_capacity` and `max_capacity`: the bill is at most `max_capacity` instances of
    `serving.instance_type`."""

    min_capacity: int = field(
        default=1,
        metadata=about(
            "Fewest instances (at least 1: only inference components scale to zero). Must not "
            "exceed `serving.instance_count`, which each deployment starts from.",
            types=(int,),
            check=_whole_at_least(1),
        ),
    )
    max_capacity: int = field(
        default=2,
        metadata=about(
            "Most instances, at least `min_capacity` and `serving.instance_count`: bounds the "
            "bill at `max_capacity` times the instance type's hourly price.",
            types=(int,),
            check=_whole_at_least(1),
        ),
    )
    target_invocations_per_instance: float = field(
        default=70.0,
        metadata=about(
            "Invocations per instance per minute that the policy keeps the variant at "
            "(`SageMakerVariantInvocationsPerInstance`); above 0.",
            types=(int, float),
            check=_positive_number,
        ),
    )
    scale_in_cooldown: Duration = field(
        default=DEFAULT_COOLDOWN,
        metadata=about(
            "Time after a scale-in before the next one (whole seconds).",
            types=(Duration,),
            check=_whole_seconds,
            shown="300 seconds",
        ),
    )
    scale_out_cooldown: Duration = field(
        default=DEFAULT_COOLDOWN,
        metadata=about(
            "Time after a scale-out before the next one (whole seconds).",
            types=(Duration,),
            check=_whole_seconds,
            shown="300 seconds",
        ),
    )


def autoscaling_problems(groups: Mapping[str, object]) -> Iterator[Problem]:
    """The checks that span the group's fields and the serving settings."""
    scaling = groups.get("autoscaling")
    if not isinstance(scaling, AutoscalingSettings):
        return
    low, high = scaling.min_capacity, scaling.max_capacity
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
        return
    if low > high:
        yield (
            "autoscaling.max_capacity",
            high,
            f"must be at least autoscaling.min_capacity ({low})",
        )
        return
    count = getattr(groups.get("serving"), "instance_count", None)
    if isinstance(count, int) and not isinstance(count, bool) and not low <= count <= high:
        yield (
            "serving.instance_count",
            count,
            f"must be within autoscaling.min_capacity..max_capacity ({low}..{high}): each "
            "deployment starts the variant at serving.instance_count and scaling keeps it in "
            "that range",
        )


def resource_id(endpoint_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{VARIANT_NAME}"


def policy_name(endpoint_name: str) -> str:
    return f"{endpoint_name}-invocations-per-instance"


def target(endpoint_name: str) -> dict[str, str]:
    """What names the scalable target in every Application Auto Scaling request."""
    return {
        "ServiceNamespace": SERVICE_NAMESPACE,
        "ResourceId": resource_id(endpoint_name),
        "ScalableDimension": SCALABLE_DIMENSION,
    }


def register_request(scaling: AutoscalingSettings, endpoint_name: str) -> dict[str, Any]:
    return {
        **target(endpoint_name),
        "MinCapacity": scaling.min_capacity,
        "MaxCapacity": scaling.max_capacity,
    }


def policy_request(scaling: AutoscalingSettings, endpoint_name: str) -> dict[str, Any]:
    return {
        **target(endpoint_name),
        "PolicyName": policy_name(endpoint_name),
        "PolicyType": POLICY_TYPE,
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(scaling.target_invocations_per_instance),
            "PredefinedMetricSpecification": {"PredefinedMetricType": PREDEFINED_METRIC},
            "ScaleInCooldown": int(scaling.scale_in_cooldown.to_seconds()),
            "ScaleOutCooldown": int(scaling.scale_out_cooldown.to_seconds()),
        },
    }
