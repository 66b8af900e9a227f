"""The tuning job API calls moto lacks, as responses of its SageMaker: the trials of a tuning job
(ListTrainingJobsForHyperParameterTuningJob) and StopHyperParameterTuningJob; and the patches
that install :mod:`._tuning_jobs` into moto (applied by :mod:`._sagemaker_backend`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from moto.core.responses import ActionResult, EmptyResult
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse

from ._state import LOCK
from ._tuning_jobs import (
    Backend,
    run_named,
    stop_hyper_parameter_tuning_job,
    trial_summaries,
    wrap_create_hyper_parameter_tuning_job,
    wrap_describe_hyper_parameter_tuning_job,
)

#: ListTrainingJobsForHyperParameterTuningJob's default MaxResults ("The default value is 10").
DEFAULT_MAX_RESULTS: Final = 10

_SORT_KEYS: Final[dict[str, Callable[[dict[str, Any]], Any]]] = {
    "Name": lambda s: s["TrainingJobName"],
    "CreationTime": lambda s: s["CreationTime"],
    "Status": lambda s: s["TrainingJobStatus"],
    "FinalObjectiveMetricValue": lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"][
        "Value"
    ],
}


def list_training_jobs_for_hyper_parameter_tuning_job(
    self: Backend,
    hyper_parameter_tuning_job_name: str,
    status_equals: str | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
) -> list[dict[str, Any]]:
    with LOCK:
        run = run_named(self, hyper_parameter_tuning_job_name)
        summaries = trial_summaries(self, run)
    if status_equals:
        summaries = [s for s in summaries if s["TrainingJobStatus"] == status_equals]
    sort_by = sort_by or "Name"
    if sort_by == "FinalObjectiveMetricValue":
        summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
    return sorted(summaries, key=_SORT_KEYS[sort_by], reverse=sort_order == "Descending")


def respond_list_training_jobs_for_hyper_parameter_tuning_job(
    self: SageMakerResponse,
) -> ActionResult:
    backend: Any = self.sagemaker_backend  # with the methods patched in
    summaries = backend.list_training_jobs_for_hyper_parameter_tuning_job(
        self._get_param("HyperParameterTuningJobName"),
        status_equals=self._get_param("StatusEquals"),
        sort_by=self._get_param("SortBy"),
        sort_order=self._get_param("SortOrder"),
    )
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxResults") or DEFAULT_MAX_RESULTS)
    result: dict[str, Any] = {"TrainingJobSummaries": summaries[start : start + size]}
    if start + size < len(summaries):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


def respond_stop_hyper_parameter_tuning_job(self: SageMakerResponse) -> EmptyResult:
    backend: Any = self.sagemaker_backend  # with the methods patched in
    backend.stop_hyper_parameter_tuning_job(self._get_param("HyperParameterTuningJobName"))
    return EmptyResult()


#: (class, attribute, build from the original) for :mod:`._sagemaker_backend`.
PATCHES: Final[tuple[tuple[type, str, Callable[[Any], Any]], ...]] = (
    (
        SageMakerModelBackend,
        "create_hyper_parameter_tuning_job",
        wrap_create_hyper_parameter_tuning_job,
    ),
    (
        SageMakerModelBackend,
        "describe_hyper_parameter_tuning_job",
        wrap_describe_hyper_parameter_tuning_job,
    ),
    (
        SageMakerModelBackend,
        "stop_hyper_parameter_tuning_job",
        lambda _: stop_hyper_parameter_tuning_job,
    ),
    (
        SageMakerModelBackend,
        "list_training_jobs_for_hyper_parameter_tuning_job",
        lambda _: list_training_jobs_for_hyper_parameter_tuning_job,
    ),
    (
        SageMakerResponse,
        "stop_hyper_parameter_tuning_job",
        lambda _: respond_stop_hyper_parameter_tuning_job,
    ),
    (
        SageMakerResponse,
        "list_training_jobs_for_hyper_parameter_tuning_job",
        lambda _: respond_list_training_jobs_for_hyper_parameter_tuning_job,
    ),
)
