"""A run's hyperparameter tuning job: found in the execution's history, read with
DescribeHyperParameterTuningJob and ListTrainingJobsForHyperParameterTuningJob, shown by
``watch`` as its trials go (their hyperparameters, status and objective, the best so far) and by
``describe`` afterwards.

Shapes (botocore's SageMaker model): DescribeHyperParameterTuningJob answers with
``HyperParameterTuningJobStatus``, ``TrainingJobStatusCounters`` (required) and
``BestTrainingJob`` (a ``HyperParameterTrainingJobSummary``, when a trial completed);
ListTrainingJobsForHyperParameterTuningJob with ``TrainingJobSummaries`` of the same shape
(``TrainingJobName``, ``TrainingJobStatus``, ``TunedHyperParameters`` required;
``FinalHyperParameterTuningJobObjectiveMetric`` {``MetricName``, ``Value``} when it reported
one), at most 100 per page (``MaxResults``) with ``NextToken``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from ._history import local_time

#: The task that runs a tuning job (``arn:aws:states:::sagemaker:createHyperParameterTuningJob``).
_ACTION = "createHyperParameterTuningJob"
#: The task state that runs it (mlpipeline_cdk.steps._tuning.TuningBranch).
TUNING_STATE = "Tune"
_ENDED = frozenset({"Completed", "Failed", "Stopped"})


def tuning_job_name(history: Iterable[Mapping[str, Any]]) -> str | None:
    """The tuning job a run started, from its TaskScheduled event's resolved parameters."""
    for event in history:
        details = event.get("taskScheduledEventDetails") or {}
        if details.get("resourceType") != "sagemaker":
            continue
        if not str(details.get("resource", "")).startswith(_ACTION):
            continue
        try:
            parameters = json.loads(details.get("parameters") or "{}")
        except json.JSONDecodeError:
            continue
        name = parameters.get("HyperParameterTuningJobName")
        if isinstance(name, str):
            return name
    return None


def _trial(summary: Mapping[str, Any]) -> dict[str, Any]:
    objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    return {
        "trainingJobName": summary.get("TrainingJobName"),
        "status": summary.get("TrainingJobStatus"),
        "hyperparameters": dict(summary.get("TunedHyperParameters") or {}),
        "objective": objective.get("Value"),
        "failureReason": summary.get("FailureReason"),
    }


def tuning_record(sagemaker: Any, name: str) -> dict[str, Any]:
    """The tuning job and every trial it started, as plain JSON."""
    job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    trials: list[dict[str, Any]] = []
    request: dict[str, Any] = {"HyperParameterTuningJobName": name, "MaxResults": 100}
    while True:
        page = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(**request)
        trials.extend(_trial(s) for s in page.get("TrainingJobSummaries", []))
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    config = job.get("HyperParameterTuningJobConfig") or {}
    objective = config.get("HyperParameterTuningJobObjective") or {}
    best = job.get("BestTrainingJob")
    return {
        "tuningJobName": name,
        "status": job.get("HyperParameterTuningJobStatus"),
        "strategy": config.get("Strategy"),
        "objective": {"metric": objective.get("MetricName"), "type": objective.get("Type")},
        "counters": dict(job.get("TrainingJobStatusCounters") or {}),
        "failureReason": job.get("FailureReason"),
        "best": _trial(best) if best else None,
        "trials": sorted(trials, key=lambda t: str(t["trainingJobName"])),
    }


def trial_line(trial: Mapping[str, Any], metric: str | None) -> str:
    parameters = " ".join(f"{k}={v}" for k, v in sorted(trial["hyperparameters"].items()))
    value = trial["objective"]
    objective = f" {metric}={value:.4f}" if isinstance(value, int | float) else ""
    reason = f" ({trial['failureReason']})" if trial.get("failureReason") else ""
    return f"{trial['trainingJobName']} {trial['status']} {parameters}{objective}{reason}"


def tuning_lines(record: Mapping[str, Any]) -> list[str]:
    """``describe``'s text for a tuning job: the job, the best trial, then every trial."""
    metric = record["objective"]["metric"]
    counters = ", ".join(f"{k} {v}" for k, v in sorted(record["counters"].items()) if v)
    lines = [
        f"tuning:    {record['tuningJobName']} {record['status']} ({record['strategy']}, "
        f"{record['objective']['type']} {metric}; {counters or 'no trials'})"
    ]
    if record.get("failureReason"):
        lines.append(f"  reason:  {record['failureReason']}")
    best = record.get("best")
    lines.append(f"  best:    {trial_line(best, metric)}" if best else "  best:    none")
    lines.extend(f"  trial:   {trial_line(t, metric)}" for t in record["trials"])
    return lines


class TuningFollower:
    """``watch``'s view of the run's tuning job, called between polls of the execution: finds
    the job in the history, then prints each trial whose status or objective changed and the
    best so far, until the job ends (``--json``: one JSON object per change, of type
    ``tuning_trial``, ``tuning_best`` or ``tuning_job_status``)."""

    def __init__(
        self,
        stepfunctions: Any,
        sagemaker: Callable[[], Any],
        execution_arn: str,
        *,
        json_lines: bool,
        out: TextIO = sys.stdout,
    ) -> None:
        """Lines go to ``out`` as watch's own do: with the local time first, and on a terminal
        after clearing the status line it redraws at the bottom."""
        self._sfn = stepfunctions
        self._sagemaker = sagemaker
        self._arn = execution_arn
        self._json = json_lines
        self._out = out
        self._name: str | None = None
        self._seen: dict[str, tuple[Any, Any]] = {}
        self._best: str | None = None
        self._done = False

    def _find(self) -> str | None:
        request: dict[str, Any] = {"executionArn": self._arn, "maxResults": 1000}
        while True:
            page = self._sfn.get_execution_history(**request)
            name = tuning_job_name(page.get("events", []))
            if name or not page.get("nextToken"):
                return name
            request["nextToken"] = page["nextToken"]

    def poll(self) -> None:
        if self._done:
            return
        self._name = self._name or self._find()
        if self._name is None:
            return
        record = tuning_record(self._sagemaker(), self._name)
        metric = record["objective"]["metric"]
        for trial in record["trials"]:
            key = (trial["status"], trial["objective"])
            if self._seen.get(trial["trainingJobName"]) != key:
                self._seen[trial["trainingJobName"]] = key
                self._emit("tuning_trial", trial, f"tuning trial {trial_line(trial, metric)}")
        best = record["best"]
        if best and best["trainingJobName"] != self._best:
            self._best = best["trainingJobName"]
            self._emit("tuning_best", best, f"tuning best so far: {trial_line(best, metric)}")
        if record["status"] in _ENDED:
            self._done = True
            self._emit(
                "tuning_job_status",
                {k: v for k, v in record.items() if k != "trials"},
                f"tuning job {self._name} {record['status']}",
            )

    def _emit(self, kind: str, details: Mapping[str, Any], text: str) -> None:
        """One line; with ``--json`` an object like watch's other events (``type``,
        ``timestamp``, ``state``, ``elapsedSeconds``, ``details``)."""
        now = datetime.now(UTC)
        if not self._json:
            clear = "\r\x1b[K" if self._out.isatty() else ""
            text = f"{clear}{local_time(now)}  {text}"
        else:
            text = json.dumps(
                {
                    "type": kind,
                    "timestamp": now.isoformat(),
                    "state": TUNING_STATE,
                    "elapsedSeconds": None,
                    "details": details,
                },
                default=str,
            )
        print(text, file=self._out, flush=True)
