"""The monitoring settings group: a CloudWatch dashboard per pipeline and the metrics each run
publishes (see :mod:`.settings` for how settings are declared, :mod:`._dashboard` and
:mod:`.steps._metrics` for what they build).

Costs (https://aws.amazon.com/cloudwatch/pricing/): a dashboard is $3.00 per month beyond the
free tier's 3 dashboards (of up to 50 metrics each); each custom metric (name and dimensions)
is $0.30 per month beyond the free tier's 10, prorated by the hour it is published in. A run
publishes 3 metrics under one dimension.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from aws_cdk import Duration

from ._declare import about
from ._validation import is_token

#: PutDashboard's DashboardName: "The maximum length is 255, and valid characters are A-Z, a-z,
#: 0-9, "-", and "_"" (CloudWatch API reference, PutDashboard; botocore's cloudwatch model).
DASHBOARD_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")
#: PutMetricData's Namespace: 1 to 255 characters, botocore's pattern ``[^:].*``; "You cannot
#: specify a namespace that begins with "AWS/"" (CloudWatch API reference, PutMetricData).
_NAMESPACE_MAX: Final = 255
DEFAULT_NAMESPACE: Final = "MLPipeline"


def check_dashboard_name(value: str | None) -> str | None:
    if value is None or is_token(value) or DASHBOARD_NAME.fullmatch(value):
        return None
    return (
        "must be 1 to 255 characters, each a letter, digit, '-' or '_' (CloudWatch's "
        "DashboardName); leave it out for a name CloudFormation makes unique"
    )


def check_namespace(value: str) -> str | None:
    if is_token(value):
        return "must be known at synth time: the dashboard and the IAM condition name it"
    if not 1 <= len(value) <= _NAMESPACE_MAX or value.startswith(":"):
        return "must be 1 to 255 characters, not starting with ':' (CloudWatch's Namespace)"
    if value.startswith("AWS/"):
        return "must not start with 'AWS/': those namespaces are reserved for AWS services"
    return None


def check_period(value: Duration) -> str | None:
    if is_token(value.to_seconds()):
        return None
    seconds = value.to_seconds()
    if seconds < 60 or seconds % 60 or seconds > 86400:
        return (
            "must be whole minutes, from 1 minute to 1 day (SageMaker and Step Functions "
            "publish their metrics every minute)"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class MonitoringSettings:
    """A CloudWatch dashboard of the pipeline and its endpoint, and the metrics runs publish."""

    dashboard: bool = field(
        default=True,
        metadata=about(
            "Create a CloudWatch dashboard: runs started, succeeded and failed; each run's "
            "accepted accuracy against the threshold; training time; the endpoint's "
            "invocations, latency, errors and instances; the rollout alarms. Its console URL "
            "is the `DashboardUrl` output. $3.00 a month beyond the account's 3 free "
            "dashboards.",
            types=(bool,),
        ),
    )
    dashboard_name: str | None = field(
        default=None,
        metadata=about(
            "The dashboard's name, unique in the account (dashboards are global, not "
            "regional): 1 to 255 letters, digits, `-` and `_`.",
            types=(str,),
            check=check_dashboard_name,
            shown="one CloudFormation makes unique",
        ),
    )
    period: Duration = field(
        default=Duration.minutes(5),
        metadata=about(
            "The period of the dashboard's graphs: whole minutes, 1 minute to 1 day.",
            types=(Duration,),
            check=check_period,
            shown="5 minutes",
        ),
    )
    publish_metrics: bool = field(
        default=True,
        metadata=about(
            "Each run that accepts a model publishes its accuracy, the threshold and the "
            "training time (`cloudwatch:PutMetricData`, dimension `Pipeline`: the state "
            "machine's name): 3 custom metrics, $0.30 each a month beyond the account's 10 "
            "free. A failed publication does not fail the run.",
            types=(bool,),
        ),
    )
    namespace: str = field(
        default=DEFAULT_NAMESPACE,
        metadata=about(
            "The CloudWatch namespace runs publish to (not starting with `AWS/`).",
            types=(str,),
            check=check_namespace,
        ),
    )
