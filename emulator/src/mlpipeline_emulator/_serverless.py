"""Serverless endpoints: what SageMaker refuses of them, which its API model cannot state.

The endpoint itself is served through the same model-server handlers as an instance endpoint
(its variant simply has no instance type or count), and DescribeEndpoint shows the variant's
``CurrentServerlessConfig`` / ``DesiredServerlessConfig`` (botocore's
``ProductionVariantSummary``), as moto already writes them. The rules, each quoted:

- ``ProductionVariant.ServerlessConfig``: "Specifies a serverless endpoint configuration instead
  of an instance-based endpoint configuration" (botocore's SageMaker model; API reference
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariant.html), so a
  variant has one or the other.
- ``ProductionVariantServerlessConfig.ProvisionedConcurrency``: "Should be less than or equal to
  MaxConcurrency".
- "Feature exclusions" (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html):
  "... not supported for Serverless Inference, including ... data capture, multiple production
  variants ..."; and "You cannot convert your instance-based, real-time endpoint to a serverless
  endpoint. If you try to update your real-time endpoint to serverless, you receive a
  ValidationError message."

The messages are ours (AWS does not publish its own); they are raised as ``ValidationException``
(SageMaker's error for a request that fails its constraints).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from moto.sagemaker.exceptions import ValidationError

_INSTANCE_MEMBERS: Final = ("InstanceType", "InitialInstanceCount")


def _serverless_variants(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    variants = request.get("ProductionVariants")
    if not isinstance(variants, list):
        return []
    return [v for v in variants if isinstance(v, Mapping) and "ServerlessConfig" in v]


def _instances_and_serverless(request: Mapping[str, Any]) -> list[str]:
    return [
        f"Production variant {v.get('VariantName')!r} has both ServerlessConfig and "
        f"{', '.join(m for m in _INSTANCE_MEMBERS if m in v)}: a serverless configuration is "
        "instead of an instance-based one."
        for v in _serverless_variants(request)
        if any(m in v for m in _INSTANCE_MEMBERS)
    ]


def _provisioned_above_max(request: Mapping[str, Any]) -> list[str]:
    found = []
    for variant in _serverless_variants(request):
        config = variant["ServerlessConfig"]
        if not isinstance(config, Mapping):
            continue
        provisioned, most = config.get("ProvisionedConcurrency"), config.get("MaxConcurrency")
        if isinstance(provisioned, int) and isinstance(most, int) and provisioned > most:
            found.append(
                f"ProvisionedConcurrency ({provisioned}) of production variant "
                f"{variant.get('VariantName')!r} must be less than or equal to MaxConcurrency "
                f"({most})."
            )
    return found


def _excluded_features(request: Mapping[str, Any]) -> list[str]:
    if not _serverless_variants(request):
        return []
    found = []
    if len(request.get("ProductionVariants") or ()) > 1:
        found.append("Serverless endpoints do not support multiple production variants.")
    if request.get("DataCaptureConfig"):
        found.append("Serverless endpoints do not support data capture (DataCaptureConfig).")
    return found


#: CreateEndpointConfig's rules for :mod:`._documented_rules`.
RULES: Final = (_instances_and_serverless, _provisioned_above_max, _excluded_features)


def _is_serverless(variants: Any) -> bool:
    return any(isinstance(v, Mapping) and "ServerlessConfig" in v for v in variants or ())


def check_update(endpoint_arn: str, current: Any, new: Any) -> None:
    """Refuse UpdateEndpoint from an instance-based configuration (``current``) to a serverless
    one (``new``); serverless to instances is allowed."""
    if (
        current is not None
        and not _is_serverless(current.production_variants)
        and _is_serverless(new.production_variants)
    ):
        raise ValidationError(
            message=f"Cannot update endpoint {endpoint_arn!r} from an instance-based endpoint "
            "configuration to a serverless one: instance-based endpoints cannot be converted "
            "to serverless."
        )
