"""Training jobs that take time: ``InProgress`` while the runtime runs them, then ``Completed``,
``Failed`` or ``Stopped``, with the secondary statuses SageMaker reports; StopTrainingJob; unique
names; and DescribeTrainingJob showing every field the request carried."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceInUseException, ValidationError
from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from ._service_model import output_members
from ._state import LOCK, JobControl, TrainingJob, active_runtime, start_daemon, state_of
from .runtime import (
    RUNNING_STATUSES,
    CheckpointSpec,
    InputChannel,
    MetricDefinition,
    RunningStatus,
    TrainingJobSpec,
    TrainingOutcome,
)

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
    """The :class:`~mlpipeline_emulator.runtime.TrainingProgress` handed to a runner."""

    def __init__(
        self, backend: SageMakerModelBackend, job: TrainingJob, control: JobControl
    ) -> None:
        self._backend = backend
        self._job = job
        self._control = control

    def enter(self, status: RunningStatus, message: str = "") -> None:
        if status not in RUNNING_STATUSES:
            raise ValueError(f"status must be one of {RUNNING_STATUSES}, got {status!r}")
        with LOCK:
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
    control: JobControl,
    spec: TrainingJobSpec,
    outcome: TrainingOutcome,
) -> None:
    with LOCK:
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
    control: JobControl,
) -> None:
    timer: threading.Timer | None = None
    if spec.max_runtime_seconds:

        def _exceeded() -> None:
            with LOCK:
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


def wrap_create_training_job(original: Callable[..., Any]) -> Callable[..., TrainingJob]:
    def create_training_job(
        self: SageMakerModelBackend, request: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> TrainingJob:
        name = kwargs["training_job_name"]
        if request is None:
            request = _request_from_kwargs(kwargs)
        with LOCK:
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
            control = JobControl(request=copy.deepcopy(dict(request)))
            state_of(self).jobs[name] = control
        start_daemon(f"training-{name}", lambda: _train(self, job, spec, control))
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


def wrap_describe_training_job(original: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    def describe_training_job(self: SageMakerModelBackend, training_job_name: str) -> Any:
        with LOCK:
            response = copy.deepcopy(original(self, training_job_name))
            control = state_of(self).jobs.get(training_job_name)
            if control is not None:
                describe_members = output_members("DescribeTrainingJob")
                for key, value in control.request.items():
                    if key in describe_members and key not in response:
                        response[key] = copy.deepcopy(value)
            return response

    return describe_training_job


def stop_training_job(self: SageMakerModelBackend, training_job_name: str) -> None:
    with LOCK:
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
        control = state_of(self).jobs.get(training_job_name)
        job.training_job_status = "Stopping"
        _transition(job, "Stopping")
        if control is not None:
            control.stop.set()


def respond_create_training_job(self: SageMakerResponse) -> ActionResult:
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


def respond_stop_training_job(self: SageMakerResponse) -> EmptyResult:
    backend: Any = self.sagemaker_backend  # with the methods patched in
    backend.stop_training_job(self._get_param("TrainingJobName"))
    return EmptyResult()
