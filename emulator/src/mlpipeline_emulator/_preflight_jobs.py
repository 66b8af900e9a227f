"""The training jobs of a preflight: a script folder and local data run through the process
runtime's :class:`~._process_training.TrainingRun` (the path a CreateTrainingJob takes), on an
in-process moto S3 that holds the code archive and the channels. No AWS, no Docker.
"""

from __future__ import annotations

import fnmatch
import shutil
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from . import _process_s3 as s3
from ._process_training import TrainingRun, TrainingSettings
from ._training_host import HostDirs
from .runtime import (
    InputChannel,
    MetricDefinition,
    RunningStatus,
    TrainingJobSpec,
    TrainingOutcome,
)

REGION: Final = "us-east-1"
ACCOUNT: Final = "123456789012"
BUCKET: Final = "mlpipeline-preflight"
#: Never packed into the code archive: what the library's source asset leaves out
#: (``mlpipeline_cdk.source_asset.DEFAULT_EXCLUDES``).
SOURCE_EXCLUDES: Final = ("__pycache__", "*.pyc", "*.pyo", ".*")


class _Deadline:
    """The :class:`~.runtime.TrainingProgress` of a preflight job: a stop once ``seconds`` have
    passed (``MaxRuntimeInSeconds``)."""

    def __init__(self, seconds: float) -> None:
        self._ends = time.monotonic() + seconds
        self._event = threading.Event()
        self.timed_out = False

    def enter(self, status: RunningStatus, message: str = "") -> None:
        """The secondary status is of no interest here."""

    @property
    def stop_requested(self) -> bool:
        if time.monotonic() >= self._ends:
            self.timed_out = True
        return self.timed_out

    def wait_for_stop(self, timeout: float) -> bool:
        remaining = self._ends - time.monotonic()
        self._event.wait(max(0.0, min(timeout, remaining)))
        return self.stop_requested


@dataclass(frozen=True)
class JobResult:
    """A finished preflight job: its outcome and what its instances left."""

    name: str
    outcome: TrainingOutcome
    hosts: Mapping[str, HostDirs]
    log_dir: Path
    seconds: float
    timed_out: bool

    @property
    def succeeded(self) -> bool:
        return self.outcome.succeeded and not self.timed_out

    def log(self, host: str = "algo-1") -> str:
        path = self.log_path(host)
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    def log_path(self, host: str = "algo-1") -> Path:
        return self.log_dir / f"{host}.log"

    def failure_file(self) -> str | None:
        """The text of the first ``/opt/ml/output/failure`` an instance wrote, if any."""
        for dirs in self.hosts.values():
            path = dirs.output / "failure"
            if path.is_file():
                return path.read_text(encoding="utf-8", errors="replace")
        return None


def source_files(script_dir: Path) -> dict[str, Path]:
    """The script folder's files by archive name, as the library packs them."""
    files: dict[str, Path] = {}
    for path in sorted(script_dir.rglob("*")):
        relative = path.relative_to(script_dir)
        excluded = any(
            fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in SOURCE_EXCLUDES
        )
        if path.is_file() and not excluded:
            files[relative.as_posix()] = path
    return files


class LocalJobs:
    """Runs jobs of one script on local data; use inside ``mock_aws`` (see :meth:`upload`)."""

    def __init__(
        self,
        *,
        workdir: Path,
        entry_point: str,
        hyperparameters: Mapping[str, str],
        metric_definitions: Sequence[Mapping[str, str]],
        checkpoint_arg: str | None,
        timeout: float,
    ) -> None:
        self.workdir = workdir
        self.entry_point = entry_point
        self.hyperparameters = dict(hyperparameters)
        self.metric_definitions = tuple(
            MetricDefinition(d["Name"], d["Regex"]) for d in metric_definitions
        )
        self.checkpoint_arg = checkpoint_arg
        self.timeout = timeout
        self.code_uri = f"s3://{BUCKET}/code/sourcedir.tar.gz"
        self.client: Any = None

    def upload(self, script_dir: Path, channels: Mapping[str, Path]) -> dict[str, str]:
        """Put the code archive and each channel's files in the (mocked) S3; the channels'
        URIs by name."""
        self.client = s3.s3_client(REGION, None)
        self.client.create_bucket(Bucket=BUCKET)
        archive = s3.pack(source_files(script_dir), self.workdir / "upload" / "sourcedir.tar.gz")
        s3.upload_file(self.client, archive, self.code_uri)
        uris = {}
        for name, directory in channels.items():
            uri = f"s3://{BUCKET}/data/{name}/"
            s3.upload_tree(self.client, directory, uri)
            uris[name] = uri
        return uris

    def upload_file(self, key: str, data: bytes) -> str:
        """Put one object; the URI of its folder, as a channel's ``S3Prefix``."""
        self.client.put_object(Bucket=BUCKET, Key=key, Body=data)
        return f"s3://{BUCKET}/{key.rsplit('/', 1)[0]}/"

    def _spec(self, name: str, channels: Mapping[str, str], instance_count: int) -> TrainingJobSpec:
        hyperparameters = {
            **self.hyperparameters,
            # What the pipeline sets (mlpipeline_cdk.contract.script.training_hyperparameters).
            "sagemaker_program": self.entry_point,
            "sagemaker_submit_directory": self.code_uri,
            "sagemaker_region": REGION,
            "sagemaker_container_log_level": "20",
        }
        request = {
            "TrainingJobName": name,
            "InputDataConfig": [
                {
                    "ChannelName": channel,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
                for channel, uri in channels.items()
            ],
        }
        return TrainingJobSpec(
            name=name,
            arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name}",
            account_id=ACCOUNT,
            region=REGION,
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/preflight",
            training_image=None,
            training_input_mode="File",
            hyperparameters=hyperparameters,
            environment={},
            input_channels=tuple(InputChannel(c, uri) for c, uri in channels.items()),
            output_path=f"s3://{BUCKET}/models",
            output_kms_key_id=None,
            instance_type="ml.m5.xlarge",
            instance_count=instance_count,
            volume_size_gb=None,
            metric_definitions=self.metric_definitions,
            checkpoint=None,
            max_runtime_seconds=int(self.timeout),
            enable_managed_spot_training=False,
            request=request,
        )

    def run(self, name: str, channels: Mapping[str, str], instance_count: int) -> JobResult:
        """Run one job to its end; its instances' folders are kept for inspection."""
        jobs_dir = self.workdir / "jobs" / name
        settings = TrainingSettings(
            python=sys.executable,
            jobs_dir=jobs_dir,
            keep_workdirs=True,
            s3_endpoint_url=None,
            checkpoint_dir_arg=f"--{self.checkpoint_arg}" if self.checkpoint_arg else None,
            stop_grace_seconds=5.0,
        )
        deadline = _Deadline(self.timeout)
        log_dir = self.workdir / "logs" / name
        started = time.monotonic()
        job = self._spec(name, channels, instance_count)
        outcome = TrainingRun(job, deadline, settings, log_dir).run()
        work = next(iter(sorted(jobs_dir.iterdir())), jobs_dir) if jobs_dir.is_dir() else jobs_dir
        hosts = {f"algo-{i}": HostDirs(work / f"algo-{i}") for i in range(1, instance_count + 1)}
        return JobResult(
            name=name,
            outcome=outcome,
            hosts=hosts,
            log_dir=log_dir,
            seconds=time.monotonic() - started,
            timed_out=deadline.timed_out,
        )

    def download_model(self, result: JobResult, target: Path) -> Path:
        """Unpack the job's ``model.tar.gz`` (every instance's model folder, merged) into
        ``target``, as SageMaker unpacks it into ``/opt/ml/model`` for serving."""
        uri = result.outcome.model_artifacts or ""
        archive = self.workdir / "upload" / f"{result.name}-model.tar.gz"
        s3.download_file(self.client, uri, archive)
        if target.exists():
            shutil.rmtree(target)
        s3.extract(archive, target)
        return target
