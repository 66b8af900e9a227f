"""Hyperparameter tuning jobs whose trials are real training jobs of the local SageMaker.

moto 5.2.5 records CreateHyperParameterTuningJob and answers DescribeHyperParameterTuningJob with
a job that is ``Completed`` at once and a made-up best training job; it has no
StopHyperParameterTuningJob and no ListTrainingJobsForHyperParameterTuningJob. Here, after the
SageMaker API Reference (https://docs.aws.amazon.com/sagemaker/latest/APIReference/):

- CreateHyperParameterTuningJob (checked first by the request gate: botocore's model and
  :mod:`._tuning_rules`) starts the job ``InProgress``. It launches training jobs from its
  ``TrainingJobDefinition``, at most ``MaxParallelTrainingJobs`` at a time and
  ``MaxNumberOfTrainingJobs`` in all (``Grid``: every combination once), each a CreateTrainingJob
  of the local SageMaker, so the runtime runs the real script on its data and reads its metrics.
  A trial's hyperparameters are the ``StaticHyperParameters``, the tuned values
  (:mod:`._tuning_search`) and ``_tuning_objective_metric``, the objective's name, which SageMaker
  adds and DescribeTrainingJob shows (a trial's description, e.g. ``'_tuning_objective_metric':
  'validation:auc'``, in "Mastering Machine Learning on AWS", ch. 14). A trial is named
  ``<tuning job>-NNN-xxxxxxxx`` (its number from 001 and 8 hex digits, e.g.
  ``xgboost-190407-1532-005-0e830ada`` of the tuning job ``xgboost-190407-1532``, ibid.), has the
  tuning job's ``Tags`` ("Tags that you specify for the tuning job are also added to all training
  jobs that the tuning job launches": CreateHyperParameterTuningJob, Tags) and its ARN as
  ``TuningJobArn``.
- A trial that ``Completed`` with the objective among its final metrics has ``ObjectiveStatus``
  ``Succeeded``; one in progress ``Pending``; any other ``Failed`` ("This typically occurs when
  the training job failed or did not emit an objective metric": HyperParameterTrainingJobSummary).
  ``BestTrainingJob`` is the best ``Succeeded`` trial by the objective's ``Type`` (the earliest on
  a tie). A failed trial counts as ``NonRetryableError``, or ``RetryableError`` when it failed on an
  internal error ("A failed training job can be retried only if it failed because an internal
  service error occurred": TrainingJobStatusCounters).
- The job ends ``Completed`` when it has launched its trials and they have ended, with at least
  one ``Succeeded``. With none, it ends ``Failed`` with SageMaker's reason, "No training job
  succeeded after N attempts. Please take a look at the training job failures to get more
  details." (SageMaker's words for N = 5: github.com/aws/amazon-sagemaker-examples/issues/2437);
  as SageMaker does, it launches no more trials once 5 have failed with none succeeding.
- StopHyperParameterTuningJob: ``Stopping``, every trial in progress stopped, then ``Stopped``
  ("Stops a running hyperparameter tuning job and all running training jobs that the tuning job
  launched": API_StopHyperParameterTuningJob.html); an unknown name is ``ResourceNotFound``, its
  modeled error.
- ListTrainingJobsForHyperParameterTuningJob (:mod:`._tuning_api`): ``StatusEquals``;
  ``SortBy`` ``Name`` (default), ``CreationTime``, ``Status`` or ``FinalObjectiveMetricValue``
  ("any training jobs that did not return an objective metric are not listed"); ``SortOrder``
  (default ``Ascending``); ``MaxResults`` (default 10) and ``NextToken``.

Not emulated: ``ResourceLimits.MaxRuntimeInSeconds``, ``TuningJobCompletionCriteria``, early
stopping (``TrainingJobEarlyStoppingType`` ``Auto``: every trial runs to its end).
"""

from __future__ import annotations

import copy
import datetime
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ResourceNotFound, ValidationError
from moto.sagemaker.models import SageMakerModelBackend

from . import _training_jobs as training
from ._state import LOCK, start_daemon
from ._tuning_search import TunedValues, parse_ranges, trial_values

Backend = Any
_RUNS: Final = "_mlpipeline_tuning_jobs"
#: How often a tuning job looks at its trials.
POLL_SECONDS: Final = 0.05
#: Failed trials, with none succeeded, after which SageMaker launches no more.
FAILED_ATTEMPTS_LIMIT: Final = 5
OBJECTIVE_HYPERPARAMETER: Final = "_tuning_objective_metric"
#: Members of a HyperParameterTrainingJobDefinition that a trial's CreateTrainingJob takes as is.
_TRAINING_MEMBERS: Final = (
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)
_RUNNING: Final = frozenset({"InProgress", "Stopping"})
_INTERNAL_ERROR: Final = "InternalServerError"


@dataclass(frozen=True)
class _Trial:
    name: str
    tuned: TunedValues


@dataclass
class TuningRun:
    """One tuning job: its request, its trials, and how it ends."""

    name: str
    arn: str
    request: dict[str, Any]
    creation_time: datetime.datetime
    trials: list[_Trial] = field(default_factory=list)
    status: str = "InProgress"
    last_modified_time: datetime.datetime | None = None
    end_time: datetime.datetime | None = None
    failure_reason: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.request["HyperParameterTuningJobConfig"])

    @property
    def objective(self) -> tuple[str, str]:
        objective = self.config["HyperParameterTuningJobObjective"]
        return str(objective["MetricName"]), str(objective["Type"])

    def limits(self) -> tuple[int, int]:
        """(trials in all, trials at a time)."""
        config = self.config
        limits = config["ResourceLimits"]
        total = limits.get("MaxNumberOfTrainingJobs")
        if total is None:  # Grid: every combination (the request gate refuses it otherwise)
            total = parse_ranges(config.get("ParameterRanges")).grid_size()
        return int(total), int(limits["MaxParallelTrainingJobs"])


def runs(backend: Backend) -> dict[str, TuningRun]:
    found: dict[str, TuningRun] | None = backend.__dict__.get(_RUNS)
    if found is None:
        found = {}
        setattr(backend, _RUNS, found)
    return found


# --- trials --------------------------------------------------------------------------------


def _trial_request(run: TuningRun, name: str, tuned: TunedValues) -> dict[str, Any]:
    definition = run.request["TrainingJobDefinition"]
    request = {k: copy.deepcopy(definition[k]) for k in _TRAINING_MEMBERS if k in definition}
    resources = definition.get("HyperParameterTuningResourceConfig")
    if "ResourceConfig" not in request and resources:
        first = (resources.get("InstanceConfigs") or [{}])[0]
        request["ResourceConfig"] = {
            "InstanceType": resources.get("InstanceType") or first.get("InstanceType"),
            "InstanceCount": resources.get("InstanceCount") or first.get("InstanceCount") or 1,
            "VolumeSizeInGB": resources.get("VolumeSizeInGB") or first.get("VolumeSizeInGB"),
        }
    hyperparameters = dict(definition.get("StaticHyperParameters") or {})
    hyperparameters.update(tuned)
    hyperparameters[OBJECTIVE_HYPERPARAMETER] = run.objective[0]
    request.update(
        TrainingJobName=name,
        AlgorithmSpecification=copy.deepcopy(definition["AlgorithmSpecification"]),
        HyperParameters=hyperparameters,
        TuningJobArn=run.arn,
    )
    if run.request.get("Tags"):
        request["Tags"] = copy.deepcopy(run.request["Tags"])
    return request


def _launch(backend: SageMakerModelBackend, run: TuningRun, tuned: TunedValues) -> None:
    name = f"{run.name}-{len(run.trials) + 1:03d}-{secrets.token_hex(4)}"
    request = _trial_request(run, name, tuned)
    launch: Any = backend.create_training_job  # the local SageMaker's, with ``request``
    launch(
        request=request,
        training_job_name=name,
        hyper_parameters=request["HyperParameters"],
        algorithm_specification=request["AlgorithmSpecification"],
        role_arn=request.get("RoleArn"),
        input_data_config=request.get("InputDataConfig"),
        output_data_config=request.get("OutputDataConfig"),
        resource_config=request.get("ResourceConfig"),
        vpc_config=request.get("VpcConfig"),
        stopping_condition=request.get("StoppingCondition"),
        tags=request.get("Tags"),
        enable_network_isolation=bool(request.get("EnableNetworkIsolation")),
        enable_inter_container_traffic_encryption=bool(
            request.get("EnableInterContainerTrafficEncryption")
        ),
        enable_managed_spot_training=bool(request.get("EnableManagedSpotTraining")),
        checkpoint_config=request.get("CheckpointConfig"),
        debug_hook_config=None,
        debug_rule_configurations=None,
        tensor_board_output_config=None,
        experiment_config=None,
    )
    run.trials.append(_Trial(name=name, tuned=dict(tuned)))


def _objective_value(job: Any, metric: str) -> float | None:
    if job.training_job_status != "Completed":
        return None
    for entry in job.final_metric_data_list or []:
        if entry.get("MetricName") == metric:
            return float(entry["Value"])
    return None


def _objective_status(job: Any, metric: str) -> str:
    if job.training_job_status in _RUNNING:
        return "Pending"
    return "Succeeded" if _objective_value(job, metric) is not None else "Failed"


def _summary(backend: Backend, run: TuningRun, trial: _Trial) -> dict[str, Any]:
    """The trial as a HyperParameterTrainingJobSummary."""
    job = backend.training_jobs[trial.name]
    metric = run.objective[0]
    summary: dict[str, Any] = {
        "TrainingJobName": trial.name,
        "TrainingJobArn": job.arn,
        "CreationTime": job.creation_time,
        "TrainingJobStatus": job.training_job_status,
        "TunedHyperParameters": dict(trial.tuned),
        "ObjectiveStatus": _objective_status(job, metric),
    }
    optional = {
        "TrainingStartTime": job.training_start_time,
        "TrainingEndTime": job.training_end_time,
        "FailureReason": job.failure_reason,
    }
    summary.update({k: v for k, v in optional.items() if v is not None})
    value = _objective_value(job, metric)
    if value is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "MetricName": metric,
            "Value": value,
        }
    return summary


def trial_summaries(backend: Backend, run: TuningRun) -> list[dict[str, Any]]:
    return [_summary(backend, run, t) for t in run.trials if t.name in backend.training_jobs]


def _best(run: TuningRun, summaries: list[dict[str, Any]]) -> dict[str, Any] | None:
    scored = [s for s in summaries if s["ObjectiveStatus"] == "Succeeded"]
    if not scored:
        return None
    sign = -1.0 if run.objective[1] == "Maximize" else 1.0
    return min(
        scored, key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )


def _status_counters(summaries: list[dict[str, Any]]) -> dict[str, int]:
    counters = dict.fromkeys(
        ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0
    )
    for s in summaries:
        status = s["TrainingJobStatus"]
        if status in _RUNNING:
            counters["InProgress"] += 1
        elif status == "Failed":
            internal = str(s.get("FailureReason", "")).startswith(_INTERNAL_ERROR)
            counters["RetryableError" if internal else "NonRetryableError"] += 1
        elif status in counters:
            counters[status] += 1
    return counters


def _objective_counters(summaries: list[dict[str, Any]]) -> dict[str, int]:
    counters = dict.fromkeys(("Succeeded", "Pending", "Failed"), 0)
    for s in summaries:
        counters[s["ObjectiveStatus"]] += 1
    return counters


# --- the job's own thread -----------------------------------------------------------------


def _next_step(backend: Backend, run: TuningRun, values: Iterator[TunedValues]) -> bool:
    """Launch a trial if one may start; ``False`` once nothing runs and nothing more will."""
    summaries = trial_summaries(backend, run)
    running = sum(1 for s in summaries if s["TrainingJobStatus"] in _RUNNING)
    if run.stop.is_set():
        for s in summaries:
            if s["TrainingJobStatus"] == "InProgress":
                training.stop_training_job(backend, s["TrainingJobName"])
        return running > 0
    total, parallel = run.limits()
    succeeded = any(s["ObjectiveStatus"] == "Succeeded" for s in summaries)
    failed = sum(1 for s in summaries if s["ObjectiveStatus"] == "Failed")
    more = len(run.trials) < total and (succeeded or failed < FAILED_ATTEMPTS_LIMIT)
    if more and running < parallel:
        tuned = next(values, None)
        if tuned is not None:
            _launch(backend, run, tuned)
            return True
        more = False
    return more or running > 0


def _finish(backend: Backend, run: TuningRun, error: Exception | None) -> None:
    summaries = trial_summaries(backend, run)
    if run.stop.is_set():
        run.status = "Stopped"
    elif error is None and _best(run, summaries) is not None:
        run.status = "Completed"
    else:
        run.status = "Failed"
        run.failure_reason = (
            f"{_INTERNAL_ERROR}: {type(error).__name__}: {error}"
            if error is not None
            else f"No training job succeeded after {len(run.trials)} attempts. Please take a "
            "look at the training job failures to get more details."
        )
    run.end_time = run.last_modified_time = utcnow()


def _tune(backend: Backend, run: TuningRun) -> None:
    config = run.config
    ranges = parse_ranges(config.get("ParameterRanges"))
    values = trial_values(str(config["Strategy"]), ranges, config.get("RandomSeed"))
    while True:
        with LOCK:
            if runs(backend).get(run.name) is not run or run.status not in _RUNNING:
                return  # moto was reset
            error: Exception | None = None
            try:
                going = _next_step(backend, run, values)
            except Exception as failure:  # a trial could not be launched: the job fails
                error, going = failure, False
            if not going:
                _finish(backend, run, error)
            _mirror(backend, run)
            if not going:
                return
        time.sleep(POLL_SECONDS)


# --- the API ------------------------------------------------------------------------------


def _describe(backend: Backend, run: TuningRun) -> dict[str, Any]:
    summaries = trial_summaries(backend, run)
    response: dict[str, Any] = {
        "HyperParameterTuningJobName": run.name,
        "HyperParameterTuningJobArn": run.arn,
        "HyperParameterTuningJobConfig": copy.deepcopy(run.config),
        "HyperParameterTuningJobStatus": run.status,
        "CreationTime": run.creation_time,
        "LastModifiedTime": run.last_modified_time or run.creation_time,
        "TrainingJobStatusCounters": _status_counters(summaries),
        "ObjectiveStatusCounters": _objective_counters(summaries),
    }
    if run.request.get("TrainingJobDefinition"):
        response["TrainingJobDefinition"] = copy.deepcopy(run.request["TrainingJobDefinition"])
    best = _best(run, summaries)
    if best is not None:
        response["BestTrainingJob"] = best
    if run.end_time is not None:
        response["HyperParameterTuningEndTime"] = run.end_time
    if run.failure_reason is not None:
        response["FailureReason"] = run.failure_reason
    end = run.end_time or utcnow()
    response["ConsumedResources"] = {
        "RuntimeInSeconds": max(0, round((end - run.creation_time).total_seconds()))
    }
    return response


def _mirror(backend: Backend, run: TuningRun) -> None:
    """What moto's own ListHyperParameterTuningJobs reads from its record of the job."""
    record = backend.hyper_parameter_tuning_jobs.get(run.name)
    if record is None:
        return
    described = _describe(backend, run)
    record.hyper_parameter_tuning_job_status = run.status
    record.training_job_status_counters = described["TrainingJobStatusCounters"]
    record.objective_status_counters = described["ObjectiveStatusCounters"]
    record.last_modified_time = described["LastModifiedTime"]
    record.hyper_parameter_tuning_end_time = run.end_time


def wrap_create_hyper_parameter_tuning_job(original: Callable[..., str]) -> Callable[..., str]:
    def create_hyper_parameter_tuning_job(self: Backend, **kwargs: Any) -> str:
        request = training._request_from_kwargs(kwargs)
        with LOCK:
            arn = original(self, **copy.deepcopy(kwargs))  # ResourceInUse for a taken name
            name = str(request["HyperParameterTuningJobName"])
            run = TuningRun(name=name, arn=arn, request=request, creation_time=utcnow())
            run.last_modified_time = run.creation_time
            runs(self)[name] = run
            _mirror(self, run)
        start_daemon(f"tuning-{name}", lambda: _tune(self, run))
        return arn

    return create_hyper_parameter_tuning_job


def wrap_describe_hyper_parameter_tuning_job(
    original: Callable[..., dict[str, Any]],
) -> Callable[..., dict[str, Any]]:
    def describe_hyper_parameter_tuning_job(
        self: Backend, hyper_parameter_tuning_job_name: str
    ) -> dict[str, Any]:
        with LOCK:
            run = runs(self).get(hyper_parameter_tuning_job_name)
            if run is None:
                return original(self, hyper_parameter_tuning_job_name)
            return _describe(self, run)

    return describe_hyper_parameter_tuning_job


def run_named(backend: Backend, name: str) -> TuningRun:
    run = runs(backend).get(name)
    if run is None:
        # DescribeHyperParameterTuningJob's own error, moto's message.
        raise ResourceNotFound(message=f"Could not find hyper parameter tuning job '{name}'.")
    return run


def stop_hyper_parameter_tuning_job(self: Backend, hyper_parameter_tuning_job_name: str) -> None:
    with LOCK:
        run = run_named(self, hyper_parameter_tuning_job_name)
        if run.status != "InProgress":
            raise ValidationError(
                message="The request was rejected because the hyperparameter tuning job is in "
                f"status {run.status}."
            )
        run.status = "Stopping"
        run.last_modified_time = utcnow()
        run.stop.set()
        _mirror(self, run)
