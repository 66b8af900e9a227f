"""Preflight: a training and serving script checked against the pipeline's script contract on
this machine, in seconds, before a paid training job runs it.

``mlpipeline-emulator preflight SCRIPT_DIR --entry-point mnist.py --data DIR`` (or
:func:`run_preflight`) runs the script as SageMaker's training toolkit would, through the process
runtime's training path (:class:`~._process_training.TrainingRun`, an in-process moto S3 holding
the code archive and the data): once on one host, once on two; then serves the model it left
through its own handlers with one request, as SageMaker's PyTorch inference toolkit would. When
the one-host run succeeds, a third run on a training channel of junk checks that a failing script
says why in ``/opt/ml/output/failure``. Each rule gets one line: ``ok``, ``FAIL`` (what is
wrong, and how to fix it) or ``skip`` (not checked, because a rule it needs failed).

The rules are those of ``mlpipeline_cdk.contract.script`` (documented in the library README,
*The script contract*); the metric regexes are read from there.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from ._preflight_jobs import JobResult, LocalJobs
from ._preflight_serving import Request, serve_once

Status = Literal["ok", "FAIL", "skip"]

#: What ``mlpipeline predict`` sends: a JSON batch of one 28 x 28 image of pixel values.
DEFAULT_REQUEST: Final = json.dumps([[[0] * 28] * 28], separators=(",", ":")).encode()
_JSON: Final = "application/json"
#: The junk the failure check trains on: one file no training script can read as data.
JUNK_FILE: Final = "not-training-data.txt"
_ONE_LINE_LIMIT: Final = 400


class PreflightError(ValueError):
    """Preflight settings that cannot work; the message names the setting."""


@dataclass(frozen=True)
class Finding:
    rule: str
    status: Status
    message: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.rule}: {self.message}"


@dataclass
class PreflightReport:
    findings: list[Finding] = field(default_factory=list)
    workdir: Path | None = None

    def add(self, rule: str, status: Status, message: str) -> None:
        self.findings.append(Finding(rule, status, message))

    @property
    def broken(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "FAIL"]

    @property
    def passed(self) -> bool:
        return not self.broken


@dataclass(frozen=True)
class PreflightSettings:
    """What to check: the script folder and entry point, local folders as channels (at least
    ``training``), hyperparameters as SageMaker passes them (strings), the contract's metric
    definitions and the name of the accuracy metric the gate reads."""

    script_dir: Path
    entry_point: str
    channels: Mapping[str, Path]
    metric_definitions: Sequence[Mapping[str, str]]
    accuracy_metric: str
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    #: A hyperparameter name (``checkpoint-dir``) that takes each host's checkpoint folder; without
    #: one the script writes wherever it writes (``/opt/ml/checkpoints`` on SageMaker).
    checkpoint_arg: str | None = None
    request: Request = field(default_factory=lambda: Request(DEFAULT_REQUEST, _JSON, _JSON))
    timeout: float = 300.0
    workdir: Path | None = None


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _ONE_LINE_LIMIT else flat[: _ONE_LINE_LIMIT - 3] + "..."


def check_settings(settings: PreflightSettings) -> None:
    """Refuse settings that cannot work, naming the setting and what is allowed."""
    if not settings.script_dir.is_dir():
        raise PreflightError(f"SCRIPT_DIR {settings.script_dir}: not a folder")
    entry = settings.script_dir / settings.entry_point
    if not settings.entry_point or not entry.is_file():
        present = sorted(p.name for p in settings.script_dir.glob("*.py"))
        raise PreflightError(
            f"--entry-point {settings.entry_point!r}: no such file in {settings.script_dir} "
            f"(its .py files: {', '.join(present) or 'none'})"
        )
    if "training" not in settings.channels:
        raise PreflightError("--data: the training channel is required (the pipeline's channel)")
    for name, directory in settings.channels.items():
        if not directory.is_dir() or not any(p.is_file() for p in directory.rglob("*")):
            raise PreflightError(f"channel {name} ({directory}): not a folder with files in it")
    for name in settings.hyperparameters:
        if not name or name.startswith("sagemaker_"):
            raise PreflightError(
                f"--hyperparameter {name!r}: names must be non-empty and not start with "
                "sagemaker_ (reserved for the pipeline)"
            )
    if settings.timeout <= 0:
        raise PreflightError(f"--timeout {settings.timeout}: must be a positive number of seconds")


# --- the rules ---------------------------------------------------------------------------------


def _accuracy_regex(settings: PreflightSettings) -> str:
    for definition in settings.metric_definitions:
        if definition["Name"] == settings.accuracy_metric:
            return definition["Regex"]
    raise PreflightError(f"no metric definition named {settings.accuracy_metric}")


def _failed_run(result: JobResult, hosts: str) -> str:
    if result.timed_out:
        return f"did not finish within {result.seconds:.0f} s on {hosts} (log: {result.log_dir})"
    reason = result.outcome.failure_reason or "no reason given"
    return f"fails on {hosts}: {_one_line(reason)} (log: {result.log_dir})"


def _metric_problem(log: str, regex: str) -> str | None:
    values = [float(match) for match in re.findall(regex, log)]
    printed = regex.split("=", 1)[0] if "=" in regex else regex
    if not values:
        near = re.search(r"test[:_ ]?accuracy\S*", log, flags=re.IGNORECASE)
        seen = f"; it printed {near.group(0)[:40]!r} instead" if near else ""
        return (
            f"prints no line the accuracy gate reads{seen}: print "
            f"'{printed}=<fraction 0 to 1>' (e.g. print(f\"{printed}={{accuracy:.4f}}\")); "
            f"SageMaker captures it with the regex {regex}"
        )
    if not 0 <= values[-1] <= 1:
        return (
            f"the last {printed} is {values[-1]:g}, not a fraction from 0 to 1: the gate "
            "compares it with accuracy_threshold (0 to 1); print the fraction"
        )
    return None


def _check_one_host(report: PreflightReport, result: JobResult, regex: str) -> bool:
    if not result.succeeded:
        report.add("one-host", "FAIL", _failed_run(result, "one host") + " - fix the error")
        return False
    report.add("one-host", "ok", f"exits 0 on one host ({result.seconds:.1f} s)")
    problem = _metric_problem(result.log(), regex)
    if problem is not None:
        report.add("metric", "FAIL", problem)
    else:
        value = re.findall(regex, result.log())[-1]
        report.add("metric", "ok", f"prints the accuracy the gate reads ({value})")
    return True


def _check_model_dir(report: PreflightReport, model_dir: Path, entry_point: str) -> str | None:
    """The model and code rules; what serving would need but lacks, if anything."""
    code = model_dir / "code"
    saved = [p for p in model_dir.rglob("*") if p.is_file() and not p.is_relative_to(code)]
    if saved:
        names = ", ".join(sorted(p.relative_to(model_dir).as_posix() for p in saved)[:4])
        report.add("model", "ok", f"writes a model to $SM_MODEL_DIR ({names})")
    else:
        report.add(
            "model",
            "FAIL",
            "writes no model file to $SM_MODEL_DIR (only code/ or nothing): save the trained "
            "model there, e.g. torch.save(model.state_dict(), os.path.join(os.environ"
            "['SM_MODEL_DIR'], 'model.pth'))",
        )
    if (code / entry_point).is_file():
        report.add("code", "ok", f"copies its serving code to $SM_MODEL_DIR/code/ ({entry_point})")
        return None if saved else "a model file in $SM_MODEL_DIR"
    held = ", ".join(sorted(p.name for p in code.iterdir())) if code.is_dir() else "no code/"
    report.add(
        "code",
        "FAIL",
        f"$SM_MODEL_DIR/code/{entry_point} is missing (found: {held}); the endpoint imports "
        "the entry point from there: copy the script's files there under their own names, e.g. "
        "shutil.copytree(os.path.dirname(os.path.abspath(__file__)), os.path.join(os.environ"
        "['SM_MODEL_DIR'], 'code'), dirs_exist_ok=True)",
    )
    return f"{entry_point} in $SM_MODEL_DIR/code/"


def _check_serving(report: PreflightReport, model_dir: Path, settings: PreflightSettings) -> None:
    problems = serve_once(model_dir, settings.entry_point, settings.request)
    for problem in problems:
        report.add(problem.rule, "FAIL", problem.message)
    if not problems:
        report.add(
            "serving",
            "ok",
            f"imports from code/ alone, model_fn loads the model, the handlers answer one "
            f"{settings.request.content_type} request",
        )


def _check_failure_file(report: PreflightReport, result: JobResult) -> None:
    rule = "failure-file"
    if result.succeeded:
        report.add(
            rule,
            "skip",
            f"exits 0 on a training channel holding only {JUNK_FILE}, so its failure report "
            "was not seen",
        )
    elif result.timed_out:
        report.add(rule, "skip", "the failing run did not end in time")
    elif (result.failure_file() or "").strip():
        said = _one_line(result.failure_file() or "")[:80]
        report.add(rule, "ok", f"a failure says why in /opt/ml/output/failure ({said})")
    else:
        report.add(
            rule,
            "FAIL",
            "failed without writing $SM_OUTPUT_DIR/failure (/opt/ml/output/failure), so the "
            "job's FailureReason is only a stderr excerpt: catch errors in main, write a one-line "
            "reason there, then exit nonzero",
        )


def _check_two_hosts(report: PreflightReport, result: JobResult, regex: str | None) -> None:
    """``regex``: the accuracy metric's, unless the one-host run already broke that rule."""
    rule = "two-hosts"
    if not result.succeeded:
        report.add(
            rule,
            "FAIL",
            _failed_run(result, 'two hosts (SM_HOSTS=["algo-1","algo-2"])')
            + " - take rank and world size from SM_HOSTS and SM_CURRENT_HOST, rendezvous at "
            "MASTER_ADDR/MASTER_PORT if set, else the first host",
        )
    elif regex is not None and _metric_problem(result.log("algo-1"), regex) is not None:
        report.add(
            rule,
            "FAIL",
            "with two hosts algo-1 prints no valid accuracy line: print the metrics from the "
            "first host (SM_HOSTS[0])",
        )
    else:
        report.add(rule, "ok", f"exits 0 on two hosts ({result.seconds:.1f} s)")


# --- running it --------------------------------------------------------------------------------


def _run_in_thread(
    jobs: LocalJobs, name: str, channels: Mapping[str, str]
) -> tuple[threading.Thread, dict[str, JobResult]]:
    box: dict[str, JobResult] = {}
    thread = threading.Thread(
        target=lambda: box.__setitem__("result", jobs.run(name, channels, 1)), daemon=True
    )
    thread.start()
    return thread, box


def _checks(settings: PreflightSettings, jobs: LocalJobs, report: PreflightReport) -> None:
    regex = _accuracy_regex(settings)
    uris = jobs.upload(settings.script_dir, settings.channels)
    junk = {**uris, "training": jobs.upload_file(f"junk/{JUNK_FILE}", b"no data here\n")}
    # The junk run needs no CPU to speak of; it runs beside the one-host run.
    thread, box = _run_in_thread(jobs, "preflight-failure", junk)
    one = jobs.run("preflight-one-host", uris, 1)
    thread.join()
    if not _check_one_host(report, one, regex):
        _check_failure_file(report, one)
        for rule in ("model", "code", "serving", "two-hosts"):
            report.add(rule, "skip", "needs a successful one-host run")
        return
    model_dir = jobs.download_model(one, jobs.workdir / "serving" / "model")
    lacking = _check_model_dir(report, model_dir, settings.entry_point)
    if lacking is None:
        _check_serving(report, model_dir, settings)
    else:
        report.add("serving", "skip", f"needs {lacking}")
    if "result" in box:
        _check_failure_file(report, box["result"])
    else:
        report.add("failure-file", "skip", "the run on junk data could not be started")
    metric_ok = not any(f.rule == "metric" for f in report.broken)
    two = jobs.run("preflight-two-hosts", uris, 2)
    _check_two_hosts(report, two, regex if metric_ok else None)


def run_preflight(settings: PreflightSettings, *, keep: bool = False) -> PreflightReport:
    """Check the script; the work folder (logs, each host's ``/opt/ml``) is deleted afterwards
    unless ``keep`` or :attr:`PreflightSettings.workdir` is given."""
    from moto import mock_aws  # a second or two to import; only when a preflight runs

    check_settings(settings)
    workdir = settings.workdir or Path(tempfile.mkdtemp(prefix="mlpipeline-preflight-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report = PreflightReport(workdir=workdir)
    jobs = LocalJobs(
        workdir=workdir,
        entry_point=settings.entry_point,
        hyperparameters=settings.hyperparameters,
        metric_definitions=settings.metric_definitions,
        checkpoint_arg=settings.checkpoint_arg,
        timeout=settings.timeout,
    )
    try:
        with mock_aws():
            _checks(settings, jobs, report)
    finally:
        if not keep and settings.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
            report.workdir = None
    return report
