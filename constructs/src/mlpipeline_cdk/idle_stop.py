"""The idle stop settings group: delete the endpoint when nobody has called it for a while (see
:mod:`.settings` for how settings are declared, :mod:`._idle_check` for the check itself).

The check reads SageMaker's ``AWS/SageMaker`` ``Invocations`` metric, which SageMaker publishes
at a 1-minute frequency with the dimensions ``EndpointName`` and ``VariantName``
(https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html, "Endpoint invocation
metrics"). CloudWatch keeps data points of a 60-second period for 15 days
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html,
"StartTime"); a period of a metric of regular resolution "must be a multiple of 60"
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html,
"Period"). An EventBridge rate expression counts whole minutes, at least one
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from aws_cdk import Duration

from ._declare import about

#: CloudWatch keeps 1-minute data points for 15 days.
IDLE_PERIOD_MAX: Final = Duration.days(15)
#: Shorter than this and the metric's publication delay (a minute or two) dominates.
IDLE_PERIOD_MIN: Final = Duration.minutes(10)


def _whole_minutes(value: Duration) -> bool:
    return value.to_seconds() % 60 == 0


def check_idle_period(value: Duration) -> str | None:
    if value.is_unresolved():
        return None
    seconds = value.to_seconds()
    if not _whole_minutes(value):
        return "must be whole minutes (CloudWatch reads SageMaker's 1-minute metrics)"
    if not IDLE_PERIOD_MIN.to_seconds() <= seconds <= IDLE_PERIOD_MAX.to_seconds():
        return (
            "must be 10 minutes to 15 days (CloudWatch keeps 1-minute data points for 15 days; "
            "shorter periods are within the metric's publication delay)"
        )
    return None


def check_interval(value: Duration) -> str | None:
    if value.is_unresolved():
        return None
    if not _whole_minutes(value) or value.to_seconds() < 60:
        return "must be whole minutes, at least 1 (an EventBridge rate expression)"
    return None


@dataclass(frozen=True, kw_only=True)
class IdleStopSettings:
    """Stop paying for an endpoint nobody calls: a scheduled check deletes the endpoint (keeping
    its configuration and model) when it has had no invocations for `idle_period`, records what
    it deleted and notifies the failure topic. The next run, or `mlpipeline endpoint start`,
    brings it back on the last deployed configuration."""

    idle_period: Duration = field(
        default=Duration.hours(1),
        metadata=about(
            "How long the endpoint must have had no invocations (SageMaker's `Invocations` "
            "metric) and no change (create or update) before the check deletes it. Whole "
            "minutes, 10 minutes to 15 days, at least `check_interval`.",
            types=(Duration,),
            check=check_idle_period,
            shown="1 hour",
        ),
    )
    check_interval: Duration = field(
        default=Duration.minutes(15),
        metadata=about(
            "How often a check starts (an EventBridge rule's rate); each check watches the "
            "endpoint for `idle_period`, so the endpoint is deleted at most this long after it "
            "became idle for the period. Whole minutes, at least 1.",
            types=(Duration,),
            check=check_interval,
            shown="15 minutes",
        ),
    )


def refused(settings: object, *, own_deployment: bool) -> dict[str, tuple[object, str]]:
    """What spans settings: the idle period holds at least one check interval, and the check
    needs the pipeline's own endpoint (``hooks.deployment`` replaces it). Keyed by setting, as
    :func:`~._props.validate_props` takes refusals."""
    if not isinstance(settings, IdleStopSettings):
        return {}
    found: dict[str, tuple[object, str]] = {}
    if not own_deployment:
        found["idle_stop"] = (
            "IdleStopSettings(...)",
            "needs the pipeline's own endpoint: leave hooks.deployment unset or idle_stop None",
        )
    idle, interval = settings.idle_period, settings.check_interval
    if (
        isinstance(idle, Duration)
        and isinstance(interval, Duration)
        and not (idle.is_unresolved() or interval.is_unresolved())
        and check_idle_period(idle) is None
        and check_interval(interval) is None
        and interval.to_seconds() > idle.to_seconds()
    ):
        found["idle_stop.check_interval"] = (
            f"{interval.to_seconds() / 60:g} minutes",
            f"must be at most idle_stop.idle_period ({idle.to_seconds() / 60:g} minutes)",
        )
    return found
