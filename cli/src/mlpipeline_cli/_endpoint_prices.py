"""What an endpoint instance costs per hour at list price, for ``mlpipeline endpoint status``.

Source: Amazon SageMaker AI pricing, https://aws.amazon.com/sagemaker/pricing/, "Real-Time
Inference", on-demand, US East (N. Virginia), as listed in 2025 (the same figure as README.md's
cost table: $0.115 an hour for the default ml.m5.large). Only types whose price we checked are
listed: the pipeline's default serving type and its family. Any other type or region is
reported as "price unknown" rather than guessed; serverless endpoints bill per request, not per
hour.
"""

from __future__ import annotations

from typing import Final

SOURCE: Final = (
    "https://aws.amazon.com/sagemaker/pricing/ (Real-Time Inference, on-demand, us-east-1, 2025)"
)
#: The region the prices are for.
REGION: Final = "us-east-1"

#: USD per instance-hour.
HOURLY: Final[dict[str, float]] = {
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
}


def hourly(instance_type: str, count: int, region: str | None) -> float | None:
    """USD per hour for ``count`` instances of ``instance_type``, or None when not known."""
    price = HOURLY.get(instance_type)
    if price is None or (region is not None and region != REGION):
        return None
    return round(price * count, 4)


def unknown(instance_type: str, region: str | None) -> str:
    """Why there is no price."""
    if instance_type in HOURLY:
        return (
            f"price unknown for {instance_type} in {region} (prices listed for {REGION} only; "
            f"see {SOURCE.split(' ')[0]})"
        )
    return (
        f"price unknown for {instance_type} (listed: {', '.join(HOURLY)}; see "
        f"{SOURCE.split(' ')[0]})"
    )
