"""MLPipeline's settings, each declared once: its type, default, documentation and check.

The groups are frozen, keyword-only dataclasses. Each field's ``metadata`` holds its
documentation (``doc``), a description of its default (``default``), the runtime types it takes
(``types``) and a check (``check``: value → what is allowed, or None when fine). The constructor's
signature, the validation (:func:`settings_problems`) and the README tables
(:func:`readme_table`) all follow from these declarations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from aws_cdk import Duration, Size
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from ._checks import (
    check_count,
    check_data_prefix,
    check_emails,
    check_endpoint_name,
    check_fraction,
    check_hook,
    check_instance_type,
    check_poll_interval,
    check_runtime,
    check_security_groups,
    check_training_instance_type,
    check_volume,
    is_a,
)
from ._declare import about
from ._validation import is_token
from .autoscaling import AutoscalingSettings
from .capture import CaptureSettings
from .idle_stop import IdleStopSettings
from .monitoring import MonitoringSettings as MonitoringSettings
from .registry_settings import RegistrySettings as RegistrySettings
from .rollout_settings import RolloutSettings
from .serverless import ServerlessSettings
from .tuning import TuningSettings

if TYPE_CHECKING:
    from constructs import Construct

    from .steps import FailureHandler

HyperparameterValue = str | int | float | bool


# --- the groups -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TrainingSettings:
    """How models are trained and judged. A run's input may override the instance type and
    count, the hyperparameters, spot capacity and the accuracy threshold."""

    hyperparameters: Mapping[str, HyperparameterValue] = field(
        default_factory=dict,
        metadata=about(
            "Passed to the script as `--name value` arguments; a run's input may override them.",
            types=(Mapping,),
            shown="none: the script's own defaults apply",
        ),
    )
    instance_type: str = field(
        default="ml.m5.xlarge",
        metadata=about(
            "Training instance type, one SageMaker offers for training (a run may choose "
            "another). GPU types train on the GPU image; types with local instance storage get "
            "no volume key (their storage is encrypted by the instance's hardware).",
            types=(str,),
            check=check_training_instance_type,
        ),
    )
    instance_count: int = field(
        default=1,
        metadata=about(
            "More than one runs distributed training.",
            types=(int,),
            check=check_count,
        ),
    )
    volume_size: Size | None = field(
        default=None,
        metadata=about(
            "Storage attached to each training instance.",
            types=(Size,),
            check=check_volume,
            shown="30 GiB",
        ),
    )
    max_runtime: Duration | None = field(
        default=None,
        metadata=about(
            "The training job's stopping condition.",
            types=(Duration,),
            check=check_runtime,
            shown="2 hours",
        ),
    )
    spot: bool = field(
        default=False,
        metadata=about(
            "Train on managed spot capacity (the job may wait up to twice `max_runtime` for "
            "capacity and resumes from its checkpoints).",
            types=(bool,),
        ),
    )
    accuracy_threshold: float = field(
        default=0.9,
        metadata=about(
            "Minimum final test accuracy (0 to 1) a model needs to be deployed.",
            types=(int, float),
            check=check_fraction,
        ),
    )
    image: tasks.DockerImage | None = field(
        default=None,
        metadata=about(
            "The training container.",
            types=(tasks.DockerImage,),
            shown="the SageMaker PyTorch training Deep Learning Container of the stack's region, "
            "its GPU variant for a run on a GPU instance type; yours is used as given",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class ServingSettings:
    """The endpoint every run deploys to (created by the first run, updated in place later)."""

    endpoint_name: str | None = field(
        default=None,
        metadata=about(
            "Lowercase name of the endpoint; two pipelines of one app may not share it in one "
            "account and region.",
            types=(str,),
            check=check_endpoint_name,
            shown="`<name_prefix>-endpoint`",
        ),
    )
    instance_type: str = field(
        default="ml.m5.large",
        metadata=about(
            "Endpoint instance type.",
            types=(str,),
            check=check_instance_type,
        ),
    )
    instance_count: int = field(
        default=1,
        metadata=about(
            "Endpoint instance count.",
            types=(int,),
            check=check_count,
        ),
    )
    image: tasks.DockerImage | None = field(
        default=None,
        metadata=about(
            "The serving container.",
            types=(tasks.DockerImage,),
            shown="the SageMaker PyTorch inference Deep Learning Container of the stack's region, "
            "its GPU variant when `serving.instance_type` has GPUs",
        ),
    )
    poll_interval: Duration = field(
        default=Duration.seconds(30),
        metadata=about(
            "How often a run checks the endpoint while it deploys.",
            types=(Duration,),
            check=check_poll_interval,
            shown="30 seconds",
        ),
    )
    deploy_timeout: Duration = field(
        default=Duration.minutes(60),
        metadata=about(
            "How long a run waits for the endpoint to come into service (at least "
            "`poll_interval`).",
            types=(Duration,),
            shown="60 minutes",
        ),
    )
    delete_endpoint_with_stack: bool = field(
        default=True,
        metadata=about(
            "Delete the endpoint when the stack is deleted, so it stops billing (buckets and key "
            "are kept anyway).",
            types=(bool,),
        ),
    )
    serverless: ServerlessSettings | None = field(
        default=None,
        metadata=about(
            "Deploy to a serverless endpoint instead of instances (see "
            "[Serverless endpoints](#serverless-endpoints)).",
            types=(ServerlessSettings,),
            shown="none: instances (`instance_type`, `instance_count`)",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class StorageSettings:
    """Where data and models live and what encrypts them. Each resource comes as a pair: bring
    your own, or tweak the one the pipeline creates (`*_props`), not both."""

    data_bucket: s3.IBucket | None = field(
        default=None,
        metadata=about(
            "An existing bucket with the training data; granted to the SageMaker role (read, under "
            "`data_prefix`), never changed.",
            types=(s3.IBucket,),
            shown="a bucket is created with `defaults.data_bucket_props`",
        ),
    )
    data_bucket_props: Mapping[str, Any] | None = field(
        default=None,
        metadata=about(
            "`s3.Bucket` keyword arguments laid over the defaults of the created data bucket.",
            types=(Mapping,),
            shown="the secure defaults",
        ),
    )
    data_prefix: str = field(
        default="training-data/",
        metadata=about(
            "Key prefix of the training data; a run's `trainingDataUri` must lie under it.",
            types=(str,),
            check=check_data_prefix,
        ),
    )
    artifacts_bucket: s3.IBucket | None = field(
        default=None,
        metadata=about(
            "An existing bucket for model artifacts and checkpoints (`models/`, `checkpoints/`).",
            types=(s3.IBucket,),
            shown="a bucket is created like the data bucket",
        ),
    )
    artifacts_bucket_props: Mapping[str, Any] | None = field(
        default=None,
        metadata=about(
            "`s3.Bucket` keyword arguments for the created artifacts bucket.",
            types=(Mapping,),
            shown="the secure defaults",
        ),
    )
    encryption_key: kms.IKey | None = field(
        default=None,
        metadata=about(
            "An existing KMS key for buckets, logs, topic, volumes and artifacts; its policy must "
            "let CloudWatch Logs and EventBridge use it when it is not defined in this app.",
            types=(kms.IKey,),
            shown="a key is created, rotated yearly, retained",
        ),
    )
    encryption_key_props: Mapping[str, Any] | None = field(
        default=None,
        metadata=about(
            "`kms.Key` keyword arguments for the created key.",
            types=(Mapping,),
            shown="the secure defaults",
        ),
    )


@dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    """Where training jobs and the model run."""

    vpc: ec2.IVpc | None = field(
        default=None,
        metadata=about(
            "Run training jobs and the model in this VPC.",
            types=(ec2.IVpc,),
            shown="SageMaker's network",
        ),
    )
    vpc_subnets: ec2.SubnetSelection | None = field(
        default=None,
        metadata=about(
            "Subnets of `vpc` to use (needs `vpc`).",
            types=(ec2.SubnetSelection,),
            shown="the VPC's private subnets",
        ),
    )
    security_groups: Sequence[ec2.ISecurityGroup] | None = field(
        default=None,
        metadata=about(
            "Security groups of the jobs and the model (needs `vpc`).",
            types=(Sequence,),
            check=check_security_groups,
            shown="one that lets training instances reach each other",
        ),
    )
    enable_network_isolation: bool = field(
        default=False,
        metadata=about(
            "No network access from the training and serving containers.",
            types=(bool,),
        ),
    )
    encrypt_inter_container_traffic: bool = field(
        default=False,
        metadata=about(
            "Encrypt traffic between training instances (slower).",
            types=(bool,),
        ),
    )


@dataclass(frozen=True, kw_only=True)
class TriggerSettings:
    """What starts a run besides you (each run starts with input `{}`)."""

    schedule: events.Schedule | None = field(
        default=None,
        metadata=about(
            "Start a run on this schedule.",
            types=(events.Schedule,),
            shown="no schedule",
        ),
    )
    retrain_on_new_data: bool = field(
        default=False,
        metadata=about(
            "Start a run whenever an object is created under `data_prefix` (S3 → EventBridge). "
            "A given `data_bucket` must already send its events to EventBridge, and CDK-managed "
            "notifications added to the data bucket must keep EventBridge on "
            "(`enable_event_bridge_notification()`); both are checked at synth.",
            types=(bool,),
        ),
    )


@dataclass(frozen=True, kw_only=True)
class NotificationSettings:
    """Where failures are reported."""

    failure_topic: sns.ITopic | None = field(
        default=None,
        metadata=about(
            "An existing SNS topic for failures.",
            types=(sns.ITopic,),
            shown="a topic encrypted with the pipeline key, refusing plain HTTP",
        ),
    )
    failure_topic_props: Mapping[str, Any] | None = field(
        default=None,
        metadata=about(
            "`sns.Topic` keyword arguments for the created topic.",
            types=(Mapping,),
            shown="the secure defaults",
        ),
    )
    emails: Sequence[str] = field(
        default=(),
        metadata=about(
            "Addresses subscribed to the failure topic (each must confirm).",
            types=(Sequence,),
            check=check_emails,
            shown="none",
        ),
    )


@dataclass(frozen=True)
class HookContext:
    """What a hook may use to build its states: read-only, never the construct being built."""

    #: Where to create the hook's states (``sfn.Pass(context.scope, "Id")``).
    scope: Construct
    data_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    role: iam.IRole
    encryption_key: kms.IKey
    #: ``failure.catch(state)`` / ``failure.reject(...)`` route errors to the failure handling.
    failure: FailureHandler
    name_prefix: str
    data_prefix: str


#: Builds states to put into the pipeline's state machine from a :class:`HookContext`.
Hook = Callable[[HookContext], sfn.IChainable]


@dataclass(frozen=True, kw_only=True)
class Hooks:
    """Your own states in the pipeline's state machine."""

    before_training: Hook | None = field(
        default=None,
        metadata=about(
            "States run after the input is checked and before training.",
            check=check_hook,
            shown="none",
        ),
    )
    after_evaluation: Hook | None = field(
        default=None,
        metadata=about(
            "States run after the model passed evaluation, before deployment.",
            check=check_hook,
            shown="none",
        ),
    )
    deployment: Hook | None = field(
        default=None,
        metadata=about(
            "States that replace the endpoint deployment; then no endpoint is created or deleted.",
            check=check_hook,
            shown="deploy to `serving.endpoint_name`",
        ),
    )


#: The groups by the constructor argument that takes them.
GROUPS: Final[Mapping[str, type]] = {
    "training": TrainingSettings,
    "serving": ServingSettings,
    "storage": StorageSettings,
    "network": NetworkSettings,
    "triggers": TriggerSettings,
    "notifications": NotificationSettings,
    "hooks": Hooks,
    "registry": RegistrySettings,
    # Optional: a pipeline without it trains one job per run.
    "tuning": TuningSettings,
    "monitoring": MonitoringSettings,
    # Optional: a pipeline without it captures no requests.
    "capture": CaptureSettings,
    # Optional: a pipeline without it keeps its endpoint until a run or a person changes it.
    "idle_stop": IdleStopSettings,
    # Optional: a pipeline without it serves on serving.instance_count instances.
    "autoscaling": AutoscalingSettings,
    "rollout": RolloutSettings,
}


def settings_problems(name: str, group: object) -> list[tuple[str, Any, str]]:
    """``(setting, value, what is allowed)`` for each field of ``group`` that has the wrong type
    or fails its check; a group of the wrong type is one problem."""
    expected = GROUPS[name]
    if not isinstance(group, expected):
        return [(name, group, f"must be a {expected.__name__}")]
    problems: list[tuple[str, Any, str]] = []
    for spec in dataclasses.fields(expected):
        value = getattr(group, spec.name)
        types = spec.metadata.get("types")
        if value is None or is_token(value):
            continue
        if types and not is_a(value, types):
            allowed = " or ".join(t.__name__ for t in types)
            problems.append((f"{name}.{spec.name}", value, f"must be a {allowed}"))
            continue
        check = spec.metadata.get("check")
        message = check(value) if check else None
        if message:
            problems.append((f"{name}.{spec.name}", _shown(value), message))
    return problems


def _shown(value: Any) -> Any:
    if isinstance(value, Size) and not value.is_unresolved():
        return f"{value.to_gibibytes()} GiB"
    if isinstance(value, Duration) and not value.is_unresolved():
        millis = value.to_milliseconds()
        return f"{millis // 1000} s" if millis % 1000 == 0 else f"{millis} ms"
    return value


def readme_table(name: str) -> str:
    """The README's table of the ``name`` group, generated from the declarations."""
    rows = ["| Setting | Type | Default | What it does |", "| --- | --- | --- | --- |"]
    for spec in dataclasses.fields(GROUPS[name]):
        shown = spec.metadata.get("shown")
        if shown is None:
            factory = spec.default_factory
            default = factory() if callable(factory) else spec.default
            shown = f"`{default!r}`"
        kind = str(spec.type).replace("|", "\\|")
        rows.append(f"| `{name}.{spec.name}` | `{kind}` | {shown} | {spec.metadata['doc']} |")
    return "\n".join(rows)
