"""Serverless endpoints: the ``serving.serverless`` settings, the production variant they make and
the refusals of settings a serverless endpoint cannot honour.

A pipeline with ``serving=ServingSettings(serverless=ServerlessSettings(...))`` deploys to a
serverless endpoint: its endpoint configurations carry a ``ServerlessConfig`` instead of an
instance type and count, through the same create-or-update, wait and rollback-detection steps.
The limits come from AWS's own sources:

- botocore's SageMaker service model, ``ProductionVariantServerlessConfig``: ``MemorySizeInMB``
  (ServerlessMemorySizeInMB, 1024 to 6144, required), ``MaxConcurrency`` (ServerlessMaxConcurrency,
  1 to 200, required) and ``ProvisionedConcurrency`` (1 to 200); the API reference,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html:
  memory "Valid values are in 1 GB increments: 1024 MB, 2048 MB, 3072 MB, 4096 MB, 5120 MB, or
  6144 MB"; provisioned concurrency "Should be less than or equal to MaxConcurrency".
- https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html ("Feature
  exclusions"): "Some of the features currently available for SageMaker AI Real-time Inference
  are not supported for Serverless Inference, including GPUs, AWS marketplace model packages,
  private Docker registries, Multi-Model Endpoints, VPC configuration, network isolation, data
  capture, multiple production variants, Model Monitor, and inference pipelines." and "You cannot
  convert your instance-based, real-time endpoint to a serverless endpoint. If you try to update
  your real-time endpoint to serverless, you receive a ValidationError message."
- https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html: rolling
  deployments exclude "Serverless inference endpoints".
- https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-autoscale.html: only
  provisioned concurrency scales (``SageMakerVariantProvisionedConcurrencyUtilization``); the
  endpoint itself scales with requests up to its maximum concurrency, so instance autoscaling
  does not apply.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from ._declare import about
from ._validation import is_token
from .capture import capture_problems

#: MemorySizeInMB's documented values (1 GB steps).
MEMORY_SIZES_MB: Final = (1024, 2048, 3072, 4096, 5120, 6144)
#: MaxConcurrency and ProvisionedConcurrency's range (botocore: ServerlessMaxConcurrency,
#: ServerlessProvisionedConcurrency).
CONCURRENCY_MIN: Final = 1
CONCURRENCY_MAX: Final = 200
#: ServingSettings' fields that a serverless endpoint leaves unused (no instances).
_INSTANCE_SETTINGS: Final = ("instance_type", "instance_count")

Problem = tuple[str, Any, str]


def _check_memory(value: int) -> str | None:
    if is_token(value) or (type(value) is int and value in MEMORY_SIZES_MB):
        return None
    return f"must be one of {', '.join(map(str, MEMORY_SIZES_MB))} (MB, 1 GB steps)"


def _check_concurrency(value: int | None) -> str | None:
    if value is None or is_token(value):
        return None
    if type(value) is int and CONCURRENCY_MIN <= value <= CONCURRENCY_MAX:
        return None
    return (
        f"must be a whole number from {CONCURRENCY_MIN} to {CONCURRENCY_MAX} (and within the "
        "account's serverless concurrency quota for the region)"
    )


@dataclass(frozen=True, kw_only=True)
class ServerlessSettings:
    """A serverless endpoint instead of instances: SageMaker runs the model on demand and bills
    compute per millisecond (GB-seconds of the memory size) and per request, nothing while idle.
    No GPUs, no VPC, no network isolation, no request capture; an endpoint created on instances
    cannot be updated to serverless (delete it first or use another `serving.endpoint_name`)."""

    memory_size_mb: int = field(
        default=2048,
        metadata=about(
            "Memory of each serverless worker in MB: 1024, 2048, 3072, 4096, 5120 or 6144 "
            "(vCPUs grow with it; the GB-second price is per GB of this size).",
            types=(int,),
            check=_check_memory,
        ),
    )
    max_concurrency: int = field(
        default=5,
        metadata=about(
            "Most invocations served at once (1 to 200, within the account's regional quota); "
            "more are throttled.",
            types=(int,),
            check=_check_concurrency,
        ),
    )
    provisioned_concurrency: int | None = field(
        default=None,
        metadata=about(
            "Workers kept warm (no cold starts), at most `max_concurrency`; billed per hour "
            "whether called or not.",
            types=(int,),
            check=_check_concurrency,
            shown="none: every worker starts on demand",
        ),
    )

    def serverless_config(self) -> dict[str, Any]:
        """``ServerlessConfig`` of the endpoint configuration's production variant."""
        config: dict[str, Any] = {
            "MemorySizeInMB": self.memory_size_mb,
            "MaxConcurrency": self.max_concurrency,
        }
        if self.provisioned_concurrency is not None:
            config["ProvisionedConcurrency"] = self.provisioned_concurrency
        return config


def variant_config(serverless: ServerlessSettings | None) -> dict[str, Any] | None:
    """The production variant's ``ServerlessConfig``, None for instances."""
    return serverless.serverless_config() if serverless is not None else None


def serverless_problems(groups: Mapping[str, object]) -> dict[str, tuple[object, str]]:
    """The settings a serverless endpoint refuses, by setting: ``{setting: (value, what is
    allowed)}`` (MLPipeline's ``refused``), with the capture group's own cross-field problems.
    Groups are looked up by name; one that does not exist (or is None) is fine."""
    found = capture_problems(groups.get("capture"))
    serving = groups.get("serving")
    serverless = getattr(serving, "serverless", None)
    if getattr(groups.get("hooks"), "deployment", None) is not None:
        found.update(_replaced_deployment(groups, serverless))
    if isinstance(serverless, ServerlessSettings):
        found.update((s, (v, allowed)) for s, v, allowed in _refusals(groups, serverless))
    return found


def _replaced_deployment(
    groups: Mapping[str, object], serverless: object
) -> dict[str, tuple[object, str]]:
    """Serverless and capture are set on the endpoint configurations the default deployment
    creates; a pipeline whose ``hooks.deployment`` replaces it would silently drop them."""
    used = {"serving.serverless": serverless, "capture": groups.get("capture")}
    return {
        setting: (
            value,
            f"hooks.deployment replaces the deployment that applies {setting}: set {setting} "
            "to None, or leave hooks.deployment unset",
        )
        for setting, value in used.items()
        if value is not None
    }


def _refusals(groups: Mapping[str, object], serverless: ServerlessSettings) -> Iterator[Problem]:
    serving = groups["serving"]
    for spec in fields(ServerlessSettings):
        value = getattr(serverless, spec.name)
        message = spec.metadata["check"](value)
        if message:
            yield (f"serving.serverless.{spec.name}", value, message)
    provisioned, most = serverless.provisioned_concurrency, serverless.max_concurrency
    if (
        isinstance(provisioned, int)
        and isinstance(most, int)
        and not is_token(provisioned)
        and not is_token(most)
        and provisioned > most
    ):
        yield (
            "serving.serverless.provisioned_concurrency",
            provisioned,
            f"must be at most serving.serverless.max_concurrency ({most})",
        )
    defaults = {f.name: f.default for f in fields(serving)}  # type: ignore[arg-type]
    for name in _INSTANCE_SETTINGS:
        value, default = getattr(serving, name), defaults[name]
        if value != default:
            yield (
                f"serving.{name}",
                value,
                "a serverless endpoint (serving.serverless) has no instances: leave "
                f"serving.{name} at its default ({default!r}) or set serving.serverless=None",
            )
    yield from _network_refusals(groups.get("network"))
    if groups.get("capture") is not None:
        yield (
            "capture",
            groups["capture"],
            "serverless endpoints (serving.serverless) do not support data capture: set "
            "capture=None or serve on instances (serving.serverless=None)",
        )
    yield from _scaling_refusals(groups)


def _network_refusals(network: object) -> Iterator[Problem]:
    if getattr(network, "vpc", None) is not None:
        yield (
            "network.vpc",
            "a VPC",
            "serverless endpoints (serving.serverless) do not support VPC configuration: the "
            "model would be attached to the VPC; set network.vpc=None or serve on instances "
            "(serving.serverless=None)",
        )
    if getattr(network, "enable_network_isolation", False):
        yield (
            "network.enable_network_isolation",
            True,
            "serverless endpoints (serving.serverless) do not support network isolation: set it "
            "to False or serve on instances (serving.serverless=None)",
        )


def _scaling_refusals(groups: Mapping[str, object]) -> Iterator[Problem]:
    autoscaling = groups.get("autoscaling")
    if autoscaling is not None:
        yield (
            "autoscaling",
            type(autoscaling).__name__,
            "a serverless endpoint (serving.serverless) has no instances to scale; it scales "
            "with requests up to serving.serverless.max_concurrency: set autoscaling=None",
        )
