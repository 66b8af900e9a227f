"""moto's SageMaker, made to behave like SageMaker over time.

moto completes a training job and puts an endpoint in service the moment they are created, and
has no UpdateEndpoint or StopTrainingJob. The patches here keep moto's resources and messages
and add what the service does: a training job is ``InProgress`` while a runtime runs it, an
endpoint is ``Creating`` or ``Updating`` while a runtime deploys it, an update that fails rolls
back, and names are unique. Each job or deployment runs on its own daemon thread.

The emulation's own bookkeeping lives on each moto backend (so ``mock_aws`` resets clear it) and
never among a resource's attributes, which moto turns into response fields.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlparse

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import (
    FakeEndpoint,
    FakeEndpointConfig,
    FakeTrainingJob,
    Model,
    SageMakerModelBackend,
    sagemaker_backends,
)
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from ._service_model import output_members
from .runtime import (
    RUNNING_STATUSES,
    CheckpointSpec,
    ContainerSpec,
    EndpointSpec,
    HostingOutcome,
    InputChannel,
    InvocationRequest,
    LocalRuntime,
    MetricDefinition,
    ModelError,
    RunningStatus,
    TrainingJobSpec,
    TrainingOutcome,
    VariantSpec,
)

# One lock for every resource the emulation mutates: moto builds responses by iterating a
# resource's attributes, which must not change under it.
_LOCK: Final = threading.RLock()
_STATE_ATTRIBUTE: Final = "_mlpipeline_local_state"

_MESSAGES: Final[dict[str, str]] = {
    "Starting": "Launching requested ML instances",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job stopped: MaxRuntimeInSeconds was exceeded",
}
_IN_PROGRESS_ENDPOINT: Final = frozenset(
    {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed"}
)


class _RuntimeValidationError(ServiceException):
    code = "ValidationError"


class _RuntimeModelError(ServiceException):
    code = "ModelError"


class _NoRuntimeError(RuntimeError):
    pass


#: moto's FakeTrainingJob and FakeEndpoint, to which the emulation gives attributes moto does not
#: declare (and must: moto turns a resource's attributes into its Describe response).
TrainingJob = Any
Endpoint = Any

_active_runtime: LocalRuntime | None = None


def set_runtime(runtime: LocalRuntime | None) -> None:
    global _active_runtime
    _active_runtime = runtime


def active_runtime() -> LocalRuntime:
    runtime = _active_runtime
    if runtime is None:
        raise _NoRuntimeError("mlpipeline_cdk.local is not installed")
    return runtime


# --- per-backend state -------------------------------------------------------------------------


@dataclass
class _JobControl:
    request: dict[str, Any]
    stop: threading.Event = field(default_factory=threading.Event)
    stop_status: str = "Stopped"


@dataclass
class _BackendState:
    jobs: dict[str, _JobControl] = field(default_factory=dict)


def _state(backend: SageMakerModelBackend) -> _BackendState:
    state = backend.__dict__.get(_STATE_ATTRIBUTE)
    if not isinstance(state, _BackendState):
        state = _BackendState()
        backend.__dict__[_STATE_ATTRIBUTE] = state
    return state


def _start_daemon(name: str, target: Callable[[], None]) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()


# --- training jobs -----------------------------------------------------------------------------


def _training_job_spec(
    backend: SageMakerModelBackend, request: Mapping[str, Any]
) -> TrainingJobSpec:
    name = str(request["TrainingJobName"])
    algorithm = request.get("AlgorithmSpecification") or {}
    job_input_mode = str(algorithm.get("TrainingInputMode") or "File")
    channels = []
    for channel in request.get("InputDataConfig") or []:
        s3 = (channel.get("DataSource") or {}).get("S3DataSource")
        if not s3:
            continue
        channels.append(
            InputChannel(
                name=str(channel["ChannelName"]),
                s3_uri=str(s3["S3Uri"]),
                s3_data_type=str(s3.get("S3DataType") or "S3Prefix"),
                s3_data_distribution_type=str(
                    s3.get("S3DataDistributionType") or "FullyReplicated"
                ),
                content_type=channel.get("ContentType"),
                compression_type=channel.get("CompressionType"),
                input_mode=str(channel.get("InputMode") or job_input_mode),
            )
        )
    output = request.get("OutputDataConfig") or {}
    resources = request.get("ResourceConfig") or {}
    checkpoint = request.get("CheckpointConfig")
    stopping = request.get("StoppingCondition") or {}
    max_runtime = stopping.get("MaxRuntimeInSeconds")
    return TrainingJobSpec(
        name=name,
        arn=FakeTrainingJob.arn_formatter(name, backend.account_id, backend.region_name),
        account_id=backend.account_id,
        region=backend.region_name,
        role_arn=str(request.get("RoleArn") or ""),
        training_image=algorithm.get("TrainingImage"),
        training_input_mode=job_input_mode,
        hyperparameters={str(k): str(v) for k, v in (request.get("HyperParameters") or {}).items()},
        environment={str(k): str(v) for k, v in (request.get("Environment") or {}).items()},
        input_channels=tuple(channels),
        output_path=str(output.get("S3OutputPath") or ""),
        output_kms_key_id=output.get("KmsKeyId"),
        instance_type=resources.get("InstanceType"),
        instance_count=int(resources.get("InstanceCount") or 1),
        volume_size_gb=resources.get("VolumeSizeInGB"),
        metric_definitions=tuple(
            MetricDefinition(name=str(d["Name"]), regex=str(d["Regex"]))
            for d in algorithm.get("MetricDefinitions") or []
        ),
        checkpoint=(
            CheckpointSpec(
                s3_uri=str(checkpoint["S3Uri"]),
                local_path=str(checkpoint.get("LocalPath") or "/opt/ml/checkpoints"),
            )
            if checkpoint
            else None
        ),
        max_runtime_seconds=int(max_runtime) if max_runtime else None,
        enable_managed_spot_training=bool(request.get("EnableManagedSpotTraining")),
        request=copy.deepcopy(dict(request)),
    )


def _transition(job: TrainingJob, status: str, *, final: bool = False) -> None:
    now = utcnow()
    transitions: list[dict[str, Any]] = job.secondary_status_transitions
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    entry: dict[str, Any] = {"Status": status, "StartTime": now, "StatusMessage": _MESSAGES[status]}
    if final:
        entry["EndTime"] = now
    transitions.append(entry)
    job.secondary_status = status
    job.last_modified_time = now


def _is_current(backend: SageMakerModelBackend, job: TrainingJob) -> bool:
    return backend.training_jobs.get(job.training_job_name) is job


class _Progress:
    """The :class:`~mlpipeline_cdk.local.runtime.TrainingProgress` handed to a runner."""

    def __init__(
        self, backend: SageMakerModelBackend, job: TrainingJob, control: _JobControl
    ) -> None:
        self._backend = backend
        self._job = job
        self._control = control

    def enter(self, status: RunningStatus, message: str = "") -> None:
        if status not in RUNNING_STATUSES:
            raise ValueError(f"status must be one of {RUNNING_STATUSES}, got {status!r}")
        with _LOCK:
            if not _is_current(self._backend, self._job):
                return
            if self._job.training_job_status != "InProgress":
                return
            self.advance_to(status)
            if message:
                self._job.secondary_status_transitions[-1]["StatusMessage"] = message

    def advance_to(self, status: RunningStatus) -> None:
        """Enter ``status`` and every running status before it not yet entered."""
        current = self._job.secondary_status
        start = RUNNING_STATUSES.index(current) + 1 if current in RUNNING_STATUSES else 0
        target = RUNNING_STATUSES.index(status)
        for pending in RUNNING_STATUSES[start : target + 1]:
            _transition(self._job, pending)
            if pending == "Downloading":
                self._job.training_start_time = self._job.last_modified_time

    @property
    def stop_requested(self) -> bool:
        return self._control.stop.is_set()

    def wait_for_stop(self, timeout: float) -> bool:
        return self._control.stop.wait(timeout)


def _finish_training(
    backend: SageMakerModelBackend,
    job: TrainingJob,
    control: _JobControl,
    spec: TrainingJobSpec,
    outcome: TrainingOutcome,
) -> None:
    with _LOCK:
        if not _is_current(backend, job):
            return
        progress = _Progress(backend, job, control)
        if control.stop.is_set():
            job.training_job_status = "Stopped"
            _transition(job, control.stop_status, final=True)
            if outcome.succeeded:
                job.model_artifacts = {
                    "S3ModelArtifacts": outcome.model_artifacts or spec.default_model_artifacts
                }
        elif outcome.succeeded:
            progress.advance_to("Uploading")
            defined = [d.name for d in spec.metric_definitions]
            now = utcnow()
            metrics = [
                {"MetricName": name, "Value": float(outcome.metrics[name]), "Timestamp": now}
                for name in defined
                if name in outcome.metrics
            ]
            job.final_metric_data_list = metrics or None
            job.model_artifacts = {
                "S3ModelArtifacts": outcome.model_artifacts or spec.default_model_artifacts
            }
            job.training_job_status = "Completed"
            _transition(job, "Completed", final=True)
        else:
            job.training_job_status = "Failed"
            job.failure_reason = outcome.failure_reason or "AlgorithmError: training failed"
            _transition(job, "Failed", final=True)
        end = job.last_modified_time
        job.training_end_time = end
        start = job.training_start_time or job.creation_time
        seconds = max(1, round((end - start).total_seconds()))
        job.training_time_in_seconds = seconds
        job.billable_time_in_seconds = seconds


def _train(
    backend: SageMakerModelBackend,
    job: TrainingJob,
    spec: TrainingJobSpec,
    control: _JobControl,
) -> None:
    timer: threading.Timer | None = None
    if spec.max_runtime_seconds:

        def _exceeded() -> None:
            with _LOCK:
                if job.training_job_status == "InProgress":
                    control.stop_status = "MaxRuntimeExceeded"
                    control.stop.set()

        timer = threading.Timer(spec.max_runtime_seconds, _exceeded)
        timer.daemon = True
        timer.start()
    try:
        outcome = active_runtime().run(spec, _Progress(backend, job, control))
    except Exception as error:
        outcome = TrainingOutcome.failure(f"InternalServerError: {type(error).__name__}: {error}")
    finally:
        if timer is not None:
            timer.cancel()
    _finish_training(backend, job, control, spec, outcome)


def _create_training_job(original: Callable[..., Any]) -> Callable[..., TrainingJob]:
    def create_training_job(
        self: SageMakerModelBackend, request: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> TrainingJob:
        name = kwargs["training_job_name"]
        if request is None:
            request = _request_from_kwargs(kwargs)
        with _LOCK:
            if name in self.training_jobs:
                arn = FakeTrainingJob.arn_formatter(name, self.account_id, self.region_name)
                raise ResourceInUseException(
                    "Training job names must be unique within an AWS account and region, and a "
                    f"training job with this name already exists ({arn})"
                )
            spec = _training_job_spec(self, request)
            job = original(self, **copy.deepcopy(kwargs))
            now = utcnow()
            # moto replaces the request's MetricDefinitions with a sample; keep the request's.
            job.algorithm_specification = copy.deepcopy(request.get("AlgorithmSpecification"))
            job.training_job_status = "InProgress"
            job.secondary_status = "Starting"
            job.creation_time = job.last_modified_time = now
            job.secondary_status_transitions = [
                {"Status": "Starting", "StartTime": now, "StatusMessage": _MESSAGES["Starting"]}
            ]
            job.model_artifacts = None
            job.final_metric_data_list = None
            job.training_start_time = None
            job.training_end_time = None
            job.failure_reason = None
            job.training_time_in_seconds = None
            job.billable_time_in_seconds = None
            control = _JobControl(request=copy.deepcopy(dict(request)))
            _state(self).jobs[name] = control
        _start_daemon(f"training-{name}", lambda: _train(self, job, spec, control))
        return job

    return create_training_job


def _request_from_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The request as moto's own callers (CloudFormation) pass it: snake_case keywords."""
    request = {
        "".join(word.title() for word in key.split("_")): value
        for key, value in kwargs.items()
        if value is not None
    }
    return request


def _describe_training_job(original: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    def describe_training_job(self: SageMakerModelBackend, training_job_name: str) -> Any:
        with _LOCK:
            response = copy.deepcopy(original(self, training_job_name))
            control = _state(self).jobs.get(training_job_name)
            if control is not None:
                describe_members = output_members("DescribeTrainingJob")
                for key, value in control.request.items():
                    if key in describe_members and key not in response:
                        response[key] = copy.deepcopy(value)
            return response

    return describe_training_job


def _stop_training_job(self: SageMakerModelBackend, training_job_name: str) -> None:
    with _LOCK:
        job = self.training_jobs.get(training_job_name)
        if job is None:
            arn = FakeTrainingJob.arn_formatter(
                training_job_name, self.account_id, self.region_name
            )
            raise ValidationError(message=f"Could not find training job '{arn}'.")
        if job.training_job_status != "InProgress":
            raise ValidationError(
                message="The request was rejected because the training job is in status "
                f"{job.training_job_status}."
            )
        control = _state(self).jobs.get(training_job_name)
        job.training_job_status = "Stopping"
        _transition(job, "Stopping")
        if control is not None:
            control.stop.set()


def _response_create_training_job(self: SageMakerResponse) -> ActionResult:
    request = copy.deepcopy(dict(self.params))
    backend: Any = self.sagemaker_backend  # with the methods patched in
    job = backend.create_training_job(
        request=request,
        training_job_name=self._get_param("TrainingJobName"),
        hyper_parameters=self._get_param("HyperParameters"),
        algorithm_specification=self._get_param("AlgorithmSpecification"),
        role_arn=self._get_param("RoleArn"),
        input_data_config=self._get_param("InputDataConfig"),
        output_data_config=self._get_param("OutputDataConfig"),
        resource_config=self._get_param("ResourceConfig"),
        vpc_config=self._get_param("VpcConfig"),
        stopping_condition=self._get_param("StoppingCondition"),
        tags=self._get_param("Tags"),
        enable_network_isolation=self._get_param("EnableNetworkIsolation", False),
        enable_inter_container_traffic_encryption=self._get_param(
            "EnableInterContainerTrafficEncryption", False
        ),
        enable_managed_spot_training=self._get_param("EnableManagedSpotTraining", False),
        checkpoint_config=self._get_param("CheckpointConfig"),
        debug_hook_config=self._get_param("DebugHookConfig"),
        debug_rule_configurations=self._get_param("DebugRuleConfigurations"),
        tensor_board_output_config=self._get_param("TensorBoardOutputConfig"),
        experiment_config=self._get_param("ExperimentConfig"),
    )
    return ActionResult({"TrainingJobArn": job.arn})


def _response_stop_training_job(self: SageMakerResponse) -> EmptyResult:
    backend: Any = self.sagemaker_backend  # with the methods patched in
    backend.stop_training_job(self._get_param("TrainingJobName"))
    return EmptyResult()


# --- models and endpoint configurations: unique names ------------------------------------------


def _create_model(original: Callable[..., Model]) -> Callable[..., Model]:
    def create_model(self: SageMakerModelBackend, **kwargs: Any) -> Model:
        name = kwargs["model_name"]
        with _LOCK:
            if name in self._models:
                arn = arn_formatter("model", name, self.account_id, self.region_name)
                raise ValidationError(message=f'Cannot create already existing model "{arn}".')
            return original(self, **kwargs)

    return create_model


def _create_endpoint_config(
    original: Callable[..., FakeEndpointConfig],
) -> Callable[..., FakeEndpointConfig]:
    def create_endpoint_config(self: SageMakerModelBackend, **kwargs: Any) -> FakeEndpointConfig:
        name = kwargs["endpoint_config_name"]
        with _LOCK:
            if name in self.endpoint_configs:
                arn = FakeEndpointConfig.arn_formatter(name, self.account_id, self.region_name)
                raise ValidationError(
                    message=f'Cannot create already existing endpoint configuration "{arn}".'
                )
            return original(self, **kwargs)

    return create_endpoint_config


# --- endpoints ---------------------------------------------------------------------------------


def _endpoint_arn(backend: SageMakerModelBackend, name: str) -> str:
    return str(FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name))


def _config_or_error(backend: SageMakerModelBackend, config_name: str) -> FakeEndpointConfig:
    config = backend.endpoint_configs.get(config_name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(config_name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
    return config


def _container(definition: Mapping[str, Any]) -> ContainerSpec:
    return ContainerSpec(
        image=definition.get("Image"),
        model_data_url=definition.get("ModelDataUrl"),
        environment={str(k): str(v) for k, v in (definition.get("Environment") or {}).items()},
        mode=definition.get("Mode"),
    )


def _endpoint_spec(
    backend: SageMakerModelBackend,
    endpoint_name: str,
    config: FakeEndpointConfig,
    previous_config_name: str | None,
) -> EndpointSpec:
    variants = []
    for variant in config.production_variants:
        model: Model = backend.describe_model(variant["ModelName"])
        definitions = list(model.containers or [])
        if model.primary_container:
            definitions.insert(0, model.primary_container)
        variants.append(
            VariantSpec(
                variant_name=str(variant["VariantName"]),
                model_name=str(variant["ModelName"]),
                containers=tuple(_container(d) for d in definitions),
                instance_type=variant.get("InstanceType"),
                initial_instance_count=variant.get("InitialInstanceCount"),
                execution_role_arn=model.execution_role_arn,
            )
        )
    return EndpointSpec(
        endpoint_name=endpoint_name,
        endpoint_arn=_endpoint_arn(backend, endpoint_name),
        endpoint_config_name=config.endpoint_config_name,
        variants=tuple(variants),
        account_id=backend.account_id,
        region=backend.region_name,
        previous_config_name=previous_config_name,
    )


def _is_current_endpoint(backend: SageMakerModelBackend, endpoint: Endpoint) -> bool:
    return backend.endpoints.get(endpoint.endpoint_name) is endpoint


def _deploy(
    backend: SageMakerModelBackend,
    endpoint: Endpoint,
    spec: EndpointSpec,
    config_variants: list[dict[str, Any]],
) -> None:
    try:
        outcome = active_runtime().deploy(spec)
    except Exception as error:
        outcome = HostingOutcome.failed(f"InternalServerError: {type(error).__name__}: {error}")
    with _LOCK:
        if not _is_current_endpoint(backend, endpoint):
            return  # deleted meanwhile
        if outcome.succeeded:
            endpoint.endpoint_config_name = spec.endpoint_config_name
            endpoint.production_variants = endpoint._process_production_variants(config_variants)
            endpoint.endpoint_status = "InService"
            endpoint.failure_reason = None
        else:
            reason = outcome.failure_reason or "The endpoint failed to deploy."
            # A failed update rolls back: the endpoint serves its previous configuration.
            endpoint.endpoint_status = "InService" if spec.previous_config_name else "Failed"
            endpoint.failure_reason = reason
        endpoint.last_modified_time = utcnow()


def _start_deployment(
    backend: SageMakerModelBackend,
    endpoint: Endpoint,
    config: FakeEndpointConfig,
    previous_config_name: str | None,
) -> None:
    spec = _endpoint_spec(backend, endpoint.endpoint_name, config, previous_config_name)
    variants = copy.deepcopy(config.production_variants)
    _start_daemon(
        f"endpoint-{endpoint.endpoint_name}", lambda: _deploy(backend, endpoint, spec, variants)
    )


def _create_endpoint(original: Callable[..., FakeEndpoint]) -> Callable[..., FakeEndpoint]:
    def create_endpoint(
        self: SageMakerModelBackend,
        endpoint_name: str,
        endpoint_config_name: str,
        tags: list[dict[str, str]] | None = None,
    ) -> FakeEndpoint:
        with _LOCK:
            if endpoint_name in self.endpoints:
                raise ValidationError(
                    message="Cannot create already existing endpoint "
                    f'"{_endpoint_arn(self, endpoint_name)}".'
                )
            config = _config_or_error(self, endpoint_config_name)
            endpoint = original(
                self,
                endpoint_name=endpoint_name,
                endpoint_config_name=endpoint_config_name,
                tags=tags,
            )
            endpoint.endpoint_status = "Creating"
            endpoint.failure_reason = None
            try:
                _start_deployment(self, endpoint, config, previous_config_name=None)
            except Exception:
                del self.endpoints[endpoint_name]
                raise
            return endpoint

    return create_endpoint


def _update_endpoint(
    self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str
) -> FakeEndpoint:
    with _LOCK:
        endpoint = self.endpoints.get(endpoint_name)
        arn = _endpoint_arn(self, endpoint_name)
        if endpoint is None:
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        if endpoint.endpoint_status in _IN_PROGRESS_ENDPOINT:
            raise ValidationError(message=f'Cannot update in-progress endpoint "{arn}".')
        if endpoint.endpoint_status == "Failed":
            raise ValidationError(message=f'Cannot update failed endpoint "{arn}".')
        config = _config_or_error(self, endpoint_config_name)
        _start_deployment(
            self, endpoint, config, previous_config_name=endpoint.endpoint_config_name
        )
        endpoint.endpoint_status = "Updating"
        endpoint.last_modified_time = utcnow()
        return endpoint


def _describe_endpoint(original: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    def describe_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> Any:
        with _LOCK:
            return copy.deepcopy(original(self, endpoint_name))

    return describe_endpoint


def _delete_endpoint(original: Callable[..., None]) -> Callable[..., None]:
    def delete_endpoint(self: SageMakerModelBackend, endpoint_name: str) -> None:
        with _LOCK:
            original(self, endpoint_name)
        runtime = _active_runtime
        if runtime is not None:
            # DeleteEndpoint succeeds whatever the host makes of it.
            with contextlib.suppress(Exception):
                runtime.undeploy(endpoint_name)

    return delete_endpoint


def _response_update_endpoint(self: SageMakerResponse) -> ActionResult:
    backend: Any = self.sagemaker_backend  # with the methods patched in
    endpoint = backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


# --- sagemaker-runtime InvokeEndpoint ----------------------------------------------------------


def _invoke_endpoint(original: Callable[..., Any]) -> Callable[..., Any]:
    def invoke_endpoint(self: SageMakerRuntimeResponse) -> Any:
        runtime = _active_runtime
        if runtime is None:
            return original(self)
        # POST /endpoints/{EndpointName}/invocations
        endpoint_name = unquote(urlparse(self.path).path.split("/")[2])
        backend: SageMakerModelBackend = sagemaker_backends[self.current_account][self.region]
        with _LOCK:
            endpoint = backend.endpoints.get(endpoint_name)
            serving = endpoint is not None and endpoint.endpoint_status in {"InService", "Updating"}
            config_name = endpoint.endpoint_config_name if endpoint is not None else ""
        if not serving:
            raise _RuntimeValidationError(
                f"Endpoint {endpoint_name} of account {self.current_account} not found."
            )
        body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
        try:
            result = runtime.invoke(
                InvocationRequest(
                    endpoint_name=endpoint_name,
                    endpoint_config_name=config_name,
                    body=body,
                    content_type=self.headers.get("Content-Type"),
                    accept=self.headers.get("Accept"),
                )
            )
        except ModelError as error:
            raise _RuntimeModelError(str(error)) from error
        return 200, {"Content-Type": result.content_type}, result.body

    return invoke_endpoint


# --- patch table -------------------------------------------------------------------------------

_MISSING: Final = object()


@dataclass(frozen=True)
class _Patch:
    owner: type
    name: str
    build: Callable[[Any], Any]


_PATCHES: Final = (
    _Patch(SageMakerModelBackend, "create_training_job", _create_training_job),
    _Patch(SageMakerModelBackend, "describe_training_job", _describe_training_job),
    _Patch(SageMakerModelBackend, "stop_training_job", lambda _: _stop_training_job),
    _Patch(SageMakerModelBackend, "create_model", _create_model),
    _Patch(SageMakerModelBackend, "create_endpoint_config", _create_endpoint_config),
    _Patch(SageMakerModelBackend, "create_endpoint", _create_endpoint),
    _Patch(SageMakerModelBackend, "update_endpoint", lambda _: _update_endpoint),
    _Patch(SageMakerModelBackend, "describe_endpoint", _describe_endpoint),
    _Patch(SageMakerModelBackend, "delete_endpoint", _delete_endpoint),
    _Patch(SageMakerResponse, "create_training_job", lambda _: _response_create_training_job),
    _Patch(SageMakerResponse, "stop_training_job", lambda _: _response_stop_training_job),
    _Patch(SageMakerResponse, "update_endpoint", lambda _: _response_update_endpoint),
    _Patch(SageMakerRuntimeResponse, "invoke_endpoint", _invoke_endpoint),
)
_originals: dict[tuple[type, str], Any] = {}


def patch() -> None:
    """Apply every patch once; applying again changes nothing."""
    with _LOCK:
        for p in _PATCHES:
            key = (p.owner, p.name)
            if key in _originals:
                continue
            original = p.owner.__dict__.get(p.name, _MISSING)
            _originals[key] = original
            setattr(p.owner, p.name, p.build(original))


def unpatch() -> None:
    """Restore moto's own methods."""
    with _LOCK:
        for (owner, name), original in _originals.items():
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        _originals.clear()
