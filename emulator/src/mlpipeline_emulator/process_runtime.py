"""A runtime that does the real thing on this machine: training scripts run as processes, models
are served by their own inference handlers. No AWS account, no Docker.

>>> from mlpipeline_emulator import ProcessRuntime, local_sagemaker
>>> with local_sagemaker(ProcessRuntime()), mock_aws(...):  # doctest: +SKIP
...     ...  # CreateTrainingJob trains for real; InvokeEndpoint calls input_fn/predict_fn/output_fn

or ``python -m mlpipeline_emulator.server --runtime process``.

**Training** (``run``), in a work folder per job, one ``/opt/ml``-like folder per instance:

1. *Downloading*: ``sagemaker_submit_directory`` (an ``s3://`` tar.gz) is unpacked into
   ``code/``; each S3 channel into ``input/data/<channel>``; ``CheckpointConfig.S3Uri`` into
   ``checkpoints/``; ``input/config`` gets ``hyperparameters.json``, ``resourceconfig.json`` and
   ``inputdataconfig.json``.
2. *Training*: ``python <sagemaker_program> --name value ...`` (the training toolkit's
   arguments) runs in ``code/``, one process per instance (``algo-1`` ... ``algo-N``, rendezvous
   through ``MASTER_ADDR=127.0.0.1`` and a free ``MASTER_PORT``), with the toolkit's ``SM_*``
   variables. stdout and stderr go to ``logs/training/<job>/<host>.log``; metrics are read from
   there with the job's ``MetricDefinitions``. StopTrainingJob and ``MaxRuntimeInSeconds`` send
   SIGTERM, then SIGKILL. A failed instance fails the job (and ends the others) with
   SageMaker's ``AlgorithmError: <failure file>, exit code: 1``.
3. *Uploading*: ``model.tar.gz`` (every instance's ``model/`` merged) to
   ``<S3OutputPath>/<job>/output/``, ``output.tar.gz`` from ``output/data`` when there is any,
   ``checkpoints/`` back to ``CheckpointConfig.S3Uri``.

**Hosting** (``deploy``, ``invoke``, ``undeploy``) happens in this process: the container's
``ModelDataUrl`` is unpacked, ``model/code/$SAGEMAKER_PROGRAM`` imported as a module of its own,
``model_fn`` called at deployment (an exception fails the deployment like a failed health check;
an update keeps the old model serving), then each InvokeEndpoint runs ``input_fn`` →
``predict_fn`` → ``output_fn`` as the inference toolkit does; an exception answers ``ModelError``.
"""

from __future__ import annotations

import atexit
import os
import sys
import tempfile
import threading
from pathlib import Path

from ._process_serving import Hosting
from ._process_training import TrainingRun, TrainingSettings
from .runtime import (
    EndpointSpec,
    HostingOutcome,
    InvocationRequest,
    InvocationResult,
    TrainingJobSpec,
    TrainingOutcome,
    TrainingProgress,
)

#: The flag that tells this project's training script where its checkpoints live.
DEFAULT_CHECKPOINT_DIR_ARG = "--checkpoint-dir"


class ProcessRuntime:
    """A :class:`~mlpipeline_emulator.runtime.LocalRuntime` that trains and serves for real.

    :param s3_endpoint_url: The S3 the runtime downloads from and uploads to. Default: the
        emulator's own: plain boto3 while ``mock_aws`` is active, else the moto server on
        ``$MOTO_PORT`` (what :func:`~mlpipeline_emulator.server.serve` sets).
    :param workdir: Root of the work folders (``jobs/``, ``endpoints/``) and logs (``logs/``).
        Default: a new temporary folder.
    :param keep_workdirs: Keep each job's and endpoint's work folder after it ends (logs are
        always kept). Default: they are deleted.
    :param python: The interpreter that runs ``.py`` entry points. Default: this one, so the
        script sees the packages installed here (torch, numpy) as a framework container would.
    :param checkpoint_dir_arg: A script cannot write SageMaker's ``/opt/ml/checkpoints`` here,
        so each instance's ``checkpoints/`` folder (synced with ``CheckpointConfig.S3Uri``) is
        passed with this flag, unless a hyperparameter of that name is set. ``None`` passes
        nothing, and the script falls back on its own default. Default: ``--checkpoint-dir``,
        the flag of this project's ``mnist.py``.
    :param stop_grace_seconds: Between SIGTERM and SIGKILL when a job is stopped (SageMaker
        waits 120 s). Default: 10 s.
    """

    def __init__(
        self,
        *,
        s3_endpoint_url: str | None = None,
        workdir: Path | None = None,
        keep_workdirs: bool = False,
        python: str = sys.executable,
        checkpoint_dir_arg: str | None = DEFAULT_CHECKPOINT_DIR_ARG,
        stop_grace_seconds: float = 10.0,
    ) -> None:
        self.workdir = (
            Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="mlpipeline-"))
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs_dir = self.workdir / "logs"
        self._settings = TrainingSettings(
            python=python,
            jobs_dir=self.workdir / "jobs",
            keep_workdirs=keep_workdirs,
            s3_endpoint_url=s3_endpoint_url,
            checkpoint_dir_arg=checkpoint_dir_arg,
            stop_grace_seconds=stop_grace_seconds,
        )
        self._hosting = Hosting(
            endpoints_dir=self.workdir / "endpoints",
            logs_dir=self.logs_dir / "endpoints",
            keep_workdirs=keep_workdirs,
            s3_endpoint_url=s3_endpoint_url,
        )
        self._lock = threading.Lock()
        self._training_logs: dict[str, Path] = {}

    # --- logs --------------------------------------------------------------------------------

    def training_log_dir(self, job_name: str) -> Path:
        """The folder of the latest job of that name: ``<host>.log`` per instance, the script's
        stdout and stderr (CloudWatch's ``/aws/sagemaker/TrainingJobs`` streams)."""
        with self._lock:
            known = self._training_logs.get(job_name)
        return known if known is not None else self.logs_dir / "training" / job_name

    def endpoint_log(self, endpoint_name: str) -> Path:
        """The endpoint's log: deployments, ``model_fn`` and invocation errors with tracebacks."""
        return self._hosting.log_path(endpoint_name)

    def _new_training_log_dir(self, job_name: str) -> Path:
        base = self.logs_dir / "training"
        base.mkdir(parents=True, exist_ok=True)
        with self._lock:
            # A name comes back after moto is reset; each run keeps its own logs.
            candidate, number = base / job_name, 1
            while candidate.exists():
                number += 1
                candidate = base / f"{job_name}.{number}"
            candidate.mkdir()
            self._training_logs[job_name] = candidate
        return candidate

    # --- TrainingRunner ----------------------------------------------------------------------

    def run(self, job: TrainingJobSpec, progress: TrainingProgress) -> TrainingOutcome:
        log_dir = self._new_training_log_dir(job.name)
        return TrainingRun(job, progress, self._settings, log_dir).run()

    # --- EndpointHost ------------------------------------------------------------------------

    def deploy(self, endpoint: EndpointSpec) -> HostingOutcome:
        return self._hosting.deploy(endpoint)

    def undeploy(self, endpoint_name: str) -> None:
        self._hosting.undeploy(endpoint_name)

    def invoke(self, request: InvocationRequest) -> InvocationResult:
        return self._hosting.invoke(request)

    def close(self) -> None:
        """Take every endpoint down (the emulator is not told when moto is reset or the server
        stops), and kill the processes of the jobs still training. Logs stay; work folders go
        unless ``keep_workdirs``."""
        self._settings.live.kill_all()
        self._hosting.undeploy_all()

    def __repr__(self) -> str:
        return f"ProcessRuntime(workdir={str(self.workdir)!r})"


def from_environment() -> ProcessRuntime:
    """A :class:`ProcessRuntime` configured by environment variables, for the server's
    ``--runtime``: ``MLPIPELINE_LOCAL_WORKDIR`` (default: a temporary folder) and
    ``MLPIPELINE_LOCAL_KEEP_WORKDIRS`` (``1`` or ``true`` keeps them)."""
    workdir = os.environ.get("MLPIPELINE_LOCAL_WORKDIR")
    keep = os.environ.get("MLPIPELINE_LOCAL_KEEP_WORKDIRS", "").lower() in {"1", "true", "yes"}
    runtime = ProcessRuntime(workdir=Path(workdir) if workdir else None, keep_workdirs=keep)
    atexit.register(runtime.close)  # the server does not know it has a runtime to close
    return runtime
