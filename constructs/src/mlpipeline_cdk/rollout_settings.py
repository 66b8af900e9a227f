"""Guarded rollouts: the ``rollout`` settings of MLPipeline, their limits and their checks.

Every run that updates an existing endpoint asks SageMaker for a blue/green deployment with
deployment guardrails (UpdateEndpoint ``DeploymentConfig``): SageMaker brings up a second fleet
(green) on the new configuration, shifts traffic to it all at once, as a canary or linearly, bakes
for ``wait_interval`` between steps, keeps the old fleet (blue) for ``termination_wait`` after the
last step, and rolls everything back to blue if any of the rollout's CloudWatch alarms fires
meanwhile. The first deployment (CreateEndpoint) has nothing to guard and is unchanged.

The limits come from AWS's own sources:

- botocore's SageMaker service model, ``UpdateEndpoint.DeploymentConfig``:
  ``TrafficRoutingConfig.Type`` ALL_AT_ONCE | CANARY | LINEAR; ``WaitIntervalInSeconds`` 0 to
  3600; ``BlueGreenUpdatePolicy.TerminationWaitInSeconds`` 0 to 3600;
  ``MaximumExecutionTimeoutInSeconds`` 600 to 28800, "should be larger than the total waiting
  time specified in TerminationWaitInSeconds and WaitIntervalInSeconds"; ``CanarySize``: "Value
  must be less than or equal to 50% of the variant's total instance count"; ``LinearStepSize``:
  "Value must be 10-50% of the variant's total instance count" (both ``CapacitySize`` with
  ``Type`` CAPACITY_PERCENT here); ``AutoRollbackConfig.Alarms`` 1 to 10 alarms.
- https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-exclusions.html: endpoints
  on Inf1 (Inferentia) instances or with Marketplace containers "fall back to using a blue/green
  deployment with all at once traffic shifting and no final baking period"; a pipeline on Inf1
  must say ``all_at_once`` (the models here come from the pipeline's registry, never from the
  Marketplace).
- https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html (AWS/SageMaker
  endpoint invocation metrics, dimensions EndpointName and VariantName): ``ModelLatency`` in
  microseconds, ``Invocation5XXErrors`` a count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from ._declare import about
from ._validation import is_token

ALL_AT_ONCE: Final = "all_at_once"
CANARY: Final = "canary"
LINEAR: Final = "linear"
STRATEGIES: Final = (ALL_AT_ONCE, CANARY, LINEAR)
#: The strategy's TrafficRoutingConfig.Type.
ROUTING_TYPES: Final = {ALL_AT_ONCE: "ALL_AT_ONCE", CANARY: "CANARY", LINEAR: "LINEAR"}

WAIT_MAX_SECONDS: Final = 3600
EXECUTION_TIMEOUT_SECONDS: Final = (600, 28800)
CANARY_PERCENT: Final = (1, 50)
LINEAR_PERCENT: Final = (10, 50)
#: AutoRollbackConfig.Alarms holds at most 10; the construct creates two of them.
MAX_ALARMS: Final = 10
CREATED_ALARMS: Final = 2


def check_strategy(value: str) -> str | None:
    return None if value in STRATEGIES else f"must be one of {', '.join(map(repr, STRATEGIES))}"


def _whole_from(low: int, high: int, source: str) -> Any:
    def check(value: int) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be a whole number from {low} to {high} ({source})"
        return None

    return check


def _seconds_from(low: int, high: int, source: str) -> Any:
    def check(value: Duration) -> str | None:
        if value.is_unresolved():
            return None
        seconds = value.to_seconds()
        if not low <= seconds <= high:
            return f"must be from {low} to {high} seconds ({source})"
        return None

    return check


def check_latency(value: Duration) -> str | None:
    if value.is_unresolved() or value.to_milliseconds() > 0:
        return None
    return "must be more than 0 milliseconds"


def check_alarms(value: Sequence[Any]) -> str | None:
    if isinstance(value, str):
        return "must be a list of cloudwatch.IAlarm, not a string"
    wrong = [a for a in value if not hasattr(a, "alarm_name")]
    if wrong:
        return f"must be cloudwatch.IAlarm objects ({wrong!r} are not)"
    most = MAX_ALARMS - CREATED_ALARMS
    if len(value) > most:
        return (
            f"may hold at most {most} alarms: SageMaker's AutoRollbackConfiguration takes "
            f"{MAX_ALARMS} and the pipeline creates {CREATED_ALARMS}"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class RolloutSettings:
    """How a run updates an endpoint that is already in service: a blue/green deployment with
    SageMaker's deployment guardrails, rolled back automatically when an alarm fires."""

    strategy: str = field(
        default=CANARY,
        metadata=about(
            "`canary`: `canary_size_percent` of the capacity first, bake `wait_interval`, then "
            "the rest; `linear`: `linear_step_percent` at a time, baking `wait_interval` after "
            "each step; `all_at_once`: everything at once, then only `termination_wait` guards. "
            "A run's input may choose another (`rollout`).",
            types=(str,),
            check=check_strategy,
        ),
    )
    canary_size_percent: int = field(
        default=10,
        metadata=about(
            "Share of the capacity that takes traffic during the canary step.",
            types=(int,),
            check=_whole_from(*CANARY_PERCENT, "botocore: CanarySize is at most 50%"),
        ),
    )
    linear_step_percent: int = field(
        default=20,
        metadata=about(
            "Share of the capacity moved to the new model at each linear step.",
            types=(int,),
            check=_whole_from(*LINEAR_PERCENT, "botocore: LinearStepSize is 10-50%"),
        ),
    )
    wait_interval: Duration = field(
        default=Duration.minutes(5),
        metadata=about(
            "Bake time between traffic steps, while the alarms are watched.",
            types=(Duration,),
            check=_seconds_from(0, WAIT_MAX_SECONDS, "botocore: WaitIntervalInSeconds"),
            shown="5 minutes",
        ),
    )
    termination_wait: Duration = field(
        default=Duration.minutes(5),
        metadata=about(
            "How long the old fleet is kept, alarms still watched, after all traffic moved.",
            types=(Duration,),
            check=_seconds_from(0, WAIT_MAX_SECONDS, "botocore: TerminationWaitInSeconds"),
            shown="5 minutes",
        ),
    )
    maximum_execution_timeout: Duration | None = field(
        default=None,
        metadata=about(
            "Limit SageMaker puts on the whole rollout (more than the bake times together).",
            types=(Duration,),
            check=_seconds_from(
                *EXECUTION_TIMEOUT_SECONDS, "botocore: MaximumExecutionTimeoutInSeconds"
            ),
            shown="SageMaker's default",
        ),
    )
    latency_threshold: Duration = field(
        default=Duration.seconds(1),
        metadata=about(
            "The latency alarm fires when the endpoint's average `ModelLatency` exceeds it.",
            types=(Duration,),
            check=check_latency,
            shown="1 second",
        ),
    )
    server_error_threshold: int = field(
        default=1,
        metadata=about(
            "The error alarm fires when `Invocation5XXErrors` in a minute reach it.",
            types=(int,),
            check=_whole_from(1, 1_000_000, "errors per minute"),
        ),
    )
    evaluation_periods: int = field(
        default=2,
        metadata=about(
            "One-minute periods each alarm evaluates; all of them must breach.",
            types=(int,),
            check=_whole_from(1, 60, "minutes"),
        ),
    )
    alarms: Sequence[cloudwatch.IAlarm] = field(
        default=(),
        metadata=about(
            "More alarms (at most 8) whose firing rolls a rollout back.",
            types=(Sequence,),
            check=check_alarms,
            shown="none",
        ),
    )

    def as_input(self) -> dict[str, Any]:
        """The run input ``rollout`` these settings amount to (a run's is laid over it)."""
        return {
            "strategy": self.strategy,
            "canarySizePercent": self.canary_size_percent,
            "linearStepPercent": self.linear_step_percent,
            "waitIntervalSeconds": int(self.wait_interval.to_seconds()),
            "terminationWaitSeconds": int(self.termination_wait.to_seconds()),
        }


def rollout_seconds(rollout: RolloutSettings) -> float:
    """The bakes and the termination wait of one update with these settings, in seconds."""
    steps = {ALL_AT_ONCE: 1, CANARY: 1, LINEAR: -(-100 // rollout.linear_step_percent) - 1}
    bakes = steps.get(rollout.strategy, 1) * rollout.wait_interval.to_seconds()
    return bakes + rollout.termination_wait.to_seconds()


def _inf1_refusal(rollout: RolloutSettings, serving: object) -> dict[str, tuple[object, str]]:
    instance_type = getattr(serving, "instance_type", "")
    if (
        rollout.strategy == ALL_AT_ONCE
        or not isinstance(instance_type, str)
        or is_token(instance_type)
        or not instance_type.startswith("ml.inf1.")
    ):
        return {}
    return {
        "rollout.strategy": (
            rollout.strategy,
            f"must be 'all_at_once' on {instance_type}: SageMaker's deployment guardrails "
            "exclude Inf1 endpoints and fall back to all at once",
        )
    }


def rollout_refusals(groups: Mapping[str, object]) -> dict[str, tuple[object, str]]:
    """Cross-group problems: an Inf1 endpoint cannot use guardrails (see the module); a
    maximum execution timeout must exceed the waits (botocore: "should be larger than the total
    waiting time")."""
    rollout, serving = groups.get("rollout"), groups.get("serving")
    if not isinstance(rollout, RolloutSettings) or _unresolved(rollout):
        return {}
    found = _inf1_refusal(rollout, serving)
    waits = rollout.wait_interval.to_seconds() + rollout.termination_wait.to_seconds()
    timeout = rollout.maximum_execution_timeout
    if timeout is not None and not timeout.is_unresolved() and timeout.to_seconds() <= waits:
        found["rollout.maximum_execution_timeout"] = (
            f"{timeout.to_seconds()} s",
            f"must be more than wait_interval plus termination_wait ({waits:g} s)",
        )
    return found


def deploy_timeout_warning(rollout: RolloutSettings, deploy_timeout: Duration) -> str | None:
    """A warning when runs stop waiting before the rollout's bakes and termination wait end."""
    if _unresolved(rollout) or deploy_timeout.is_unresolved():
        return None
    baked = rollout_seconds(rollout)
    if deploy_timeout.to_seconds() > baked:
        return None
    return (
        f"serving.deploy_timeout ({deploy_timeout.to_seconds():g} s) is not more than the "
        f"rollout's bakes and termination wait ({baked:g} s): a run that updates the endpoint "
        "stops waiting with EndpointDeployTimeout while SageMaker still rolls out. Raise "
        "serving.deploy_timeout or shorten rollout.wait_interval and rollout.termination_wait."
    )


def _unresolved(rollout: RolloutSettings) -> bool:
    durations = (rollout.wait_interval, rollout.termination_wait)
    return any(not isinstance(d, Duration) or d.is_unresolved() for d in durations) or (
        rollout.strategy not in STRATEGIES
        or not isinstance(rollout.linear_step_percent, int)
        or rollout.linear_step_percent <= 0
    )
