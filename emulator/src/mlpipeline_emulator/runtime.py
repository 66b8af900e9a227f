"""What the local SageMaker asks of a runtime, and what it hands over.

The local SageMaker (see :func:`mlpipeline_emulator.install`) keeps the API's bookkeeping:
statuses, transitions, timestamps, errors. Whatever would happen on SageMaker's instances is
delegated to a runtime:

- a :class:`TrainingRunner` runs one training job, described by a :class:`TrainingJobSpec`,
  and says how it ended with a :class:`TrainingOutcome`;
- an :class:`EndpointHost` brings an endpoint's models up (:class:`EndpointSpec`), says whether
  that worked with a :class:`HostingOutcome`, answers ``InvokeEndpoint`` and takes endpoints down.

A runtime is any object with both sets of methods (:class:`LocalRuntime`). Runners and hosts are
called from background threads, one per job or deployment, never from the caller's request.
The specs are plain data copied from the requests: a runtime needs no moto objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

#: The secondary statuses a runner may report while a job is ``InProgress``, in order.
RunningStatus = Literal["Downloading", "Training", "Uploading"]
RUNNING_STATUSES: tuple[RunningStatus, ...] = ("Downloading", "Training", "Uploading")


# --- training ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputChannel:
    """One entry of ``InputDataConfig`` whose data lives in S3."""

    name: str
    #: ``S3DataSource.S3Uri``: a prefix or a manifest, as ``s3_data_type`` says.
    s3_uri: str
    s3_data_type: str = "S3Prefix"
    s3_data_distribution_type: str = "FullyReplicated"
    content_type: str | None = None
    compression_type: str | None = None
    #: The channel's own ``InputMode``, else the job's ``TrainingInputMode``.
    input_mode: str = "File"


@dataclass(frozen=True)
class MetricDefinition:
    """One entry of ``AlgorithmSpecification.MetricDefinitions``."""

    name: str
    regex: str


@dataclass(frozen=True)
class CheckpointSpec:
    """``CheckpointConfig``: SageMaker syncs ``local_path`` with ``s3_uri`` during training."""

    s3_uri: str
    local_path: str = "/opt/ml/checkpoints"


@dataclass(frozen=True)
class TrainingJobSpec:
    """Everything a CreateTrainingJob request asked for, as a runner needs it."""

    name: str
    arn: str
    account_id: str
    region: str
    role_arn: str
    #: ``AlgorithmSpecification.TrainingImage`` (``None`` when an ``AlgorithmName`` is used).
    training_image: str | None
    training_input_mode: str
    #: ``HyperParameters``; SageMaker passes them to the container as strings.
    hyperparameters: Mapping[str, str]
    #: ``Environment``: variables set in the training container.
    environment: Mapping[str, str]
    input_channels: tuple[InputChannel, ...]
    #: ``OutputDataConfig.S3OutputPath``; the model archive goes to
    #: ``<output_path>/<job name>/output/model.tar.gz`` unless the outcome names another place.
    output_path: str
    output_kms_key_id: str | None
    instance_type: str | None
    instance_count: int
    volume_size_gb: int | None
    metric_definitions: tuple[MetricDefinition, ...]
    checkpoint: CheckpointSpec | None
    #: ``StoppingCondition.MaxRuntimeInSeconds``; the local SageMaker enforces it.
    max_runtime_seconds: int | None
    enable_managed_spot_training: bool
    #: The whole request as received, for anything the fields above leave out.
    request: Mapping[str, Any] = field(repr=False)

    @property
    def default_model_artifacts(self) -> str:
        """Where SageMaker uploads ``/opt/ml/model`` as ``model.tar.gz``."""
        return f"{self.output_path.rstrip('/')}/{self.name}/output/model.tar.gz"


@dataclass(frozen=True)
class TrainingOutcome:
    """How a training job ended. Build one with :meth:`success` or :meth:`failure`."""

    succeeded: bool
    #: Final value of each metric. Only those named in the job's ``MetricDefinitions`` appear in
    #: ``FinalMetricDataList``, as on SageMaker (which only captures what a definition matches).
    metrics: Mapping[str, float] = field(default_factory=dict)
    #: S3 URI of the model archive; ``None`` means :attr:`TrainingJobSpec.default_model_artifacts`.
    model_artifacts: str | None = None
    failure_reason: str | None = None

    @classmethod
    def success(
        cls, metrics: Mapping[str, float] | None = None, model_artifacts: str | None = None
    ) -> TrainingOutcome:
        return cls(succeeded=True, metrics=dict(metrics or {}), model_artifacts=model_artifacts)

    @classmethod
    def failure(cls, reason: str) -> TrainingOutcome:
        return cls(succeeded=False, failure_reason=reason)


class TrainingProgress(Protocol):
    """What a runner may tell the local SageMaker while it runs, and learn from it."""

    def enter(self, status: RunningStatus, message: str = "") -> None:
        """Move the job's ``SecondaryStatus`` forward (``Downloading`` → ``Training`` →
        ``Uploading``). Statuses a runner skips are filled in, in order, when it returns."""

    @property
    def stop_requested(self) -> bool:
        """Whether StopTrainingJob was called or ``MaxRuntimeInSeconds`` has passed."""

    def wait_for_stop(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking early on a stop; ``True`` if stopped."""


@runtime_checkable
class TrainingRunner(Protocol):
    """Runs training jobs."""

    def run(self, job: TrainingJobSpec, progress: TrainingProgress) -> TrainingOutcome:
        """Run ``job`` to its end and say how it went.

        Called on a background thread while the job is ``InProgress``. Raising an exception fails
        the job with the exception as ``FailureReason``. After a stop request the job ends
        ``Stopped`` whatever the outcome, so a runner should return soon after one.
        """


# --- hosting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerSpec:
    """One container of a model (``PrimaryContainer`` or an entry of ``Containers``)."""

    image: str | None
    #: ``ModelDataUrl``: the model archive the container serves.
    model_data_url: str | None
    environment: Mapping[str, str]
    mode: str | None = None


@dataclass(frozen=True)
class VariantSpec:
    """One production variant of an endpoint configuration, with its model resolved."""

    variant_name: str
    model_name: str
    containers: tuple[ContainerSpec, ...]
    instance_type: str | None
    initial_instance_count: int | None
    execution_role_arn: str | None


@dataclass(frozen=True)
class EndpointSpec:
    """What an endpoint is to serve: its configuration, resolved down to containers."""

    endpoint_name: str
    endpoint_arn: str
    endpoint_config_name: str
    variants: tuple[VariantSpec, ...]
    account_id: str
    region: str
    #: For UpdateEndpoint, the configuration the endpoint serves until the update succeeds.
    previous_config_name: str | None = None


@dataclass(frozen=True)
class HostingOutcome:
    """Whether a deployment came up. Build one with :meth:`in_service` or :meth:`failed`."""

    succeeded: bool
    failure_reason: str | None = None

    @classmethod
    def in_service(cls) -> HostingOutcome:
        return cls(succeeded=True)

    @classmethod
    def failed(cls, reason: str) -> HostingOutcome:
        return cls(succeeded=False, failure_reason=reason)


@dataclass(frozen=True)
class InvocationRequest:
    """A sagemaker-runtime InvokeEndpoint request for an ``InService`` endpoint."""

    endpoint_name: str
    endpoint_config_name: str
    body: bytes
    content_type: str | None
    accept: str | None


@dataclass(frozen=True)
class InvocationResult:
    """What InvokeEndpoint returns."""

    body: bytes
    content_type: str = "application/json"


class ModelError(Exception):
    """Raised by :meth:`EndpointHost.invoke` when the model fails; the caller gets SageMaker's
    ``ModelError`` (HTTP 424) with this message."""


@runtime_checkable
class EndpointHost(Protocol):
    """Hosts endpoints."""

    def deploy(self, endpoint: EndpointSpec) -> HostingOutcome:
        """Bring ``endpoint`` up on its configuration (CreateEndpoint, UpdateEndpoint).

        Called on a background thread while the endpoint is ``Creating`` or ``Updating``. Raising
        an exception counts as a failure with the exception as ``FailureReason``. A failed update
        leaves the endpoint serving its previous configuration, so a host must keep it serving.
        """

    def undeploy(self, endpoint_name: str) -> None:
        """Take the endpoint down (DeleteEndpoint). Errors are ignored."""

    def invoke(self, request: InvocationRequest) -> InvocationResult:
        """Answer one InvokeEndpoint request; raise :class:`ModelError` for a model failure."""


@runtime_checkable
class LocalRuntime(TrainingRunner, EndpointHost, Protocol):
    """A runtime for the local SageMaker: trains and hosts."""


# --- helpers for runtimes ----------------------------------------------------------------------


def final_metrics(
    lines: Iterable[str], definitions: Iterable[MetricDefinition]
) -> dict[str, float]:
    """The final value of each metric in a training log, read as SageMaker reads it: the first
    group of each definition's regex, in every line, the last match winning."""
    compiled = [(d.name, re.compile(d.regex)) for d in definitions]
    values: dict[str, float] = {}
    for line in lines:
        for name, pattern in compiled:
            for match in pattern.finditer(line):
                try:
                    values[name] = float(match.group(1))
                except (IndexError, ValueError):
                    continue
    return values
