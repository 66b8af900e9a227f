"""Training jobs that really train: the job's entry point runs in one process per instance, given
what SageMaker and its training toolkit give a script in a framework container.

Per instance (``algo-1`` ... ``algo-N``) the run gets a folder laid out like the container's
``/opt/ml``: ``code`` (``sagemaker_submit_directory`` unpacked), ``input/config`` (the three JSON
files SageMaker writes), ``input/data/<channel>``, ``model``, ``output`` (``failure``),
``output/data``, ``output/intermediate`` and ``checkpoints``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from . import _process_s3 as s3
from ._training_host import (
    TOOLKIT_EXIT_CODE,
    HostDirs,
    HostProcess,
    LiveProcesses,
    free_port,
    terminate,
)
from ._training_toolkit import (
    INSTANCE_GROUP,
    NETWORK_INTERFACE,
    TOOLKIT_HYPERPARAMETERS,
    command_line_args,
    decode_hyperparameters,
    env_value,
    input_data_config,
    install_code,
    resource_config,
    user_hyperparameters,
)
from .runtime import TrainingJobSpec, TrainingOutcome, TrainingProgress, final_metrics

_DEFAULT_LOG_LEVEL: Final = 20
#: Variables of the machine running the emulator that would mislead a script about its cluster.
_CLUSTER_VARIABLES: Final = frozenset(
    {"MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"}
)
_LOCAL_CREDENTIALS: Final = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


@dataclass(frozen=True)
class TrainingSettings:
    """How :class:`TrainingRun` runs jobs; see ``ProcessRuntime``'s parameters."""

    python: str
    jobs_dir: Path
    keep_workdirs: bool
    s3_endpoint_url: str | None
    checkpoint_dir_arg: str | None
    stop_grace_seconds: float
    #: The runtime's running processes, across its jobs.
    live: LiveProcesses = field(default_factory=LiveProcesses)


class TrainingJobError(Exception):
    """Ends a run before the script's processes start; the message is the FailureReason."""


# --- one job ------------------------------------------------------------------------------


class TrainingRun:
    """Runs one job from download to upload; :meth:`run` returns its outcome."""

    def __init__(
        self,
        job: TrainingJobSpec,
        progress: TrainingProgress,
        settings: TrainingSettings,
        log_dir: Path,
    ) -> None:
        self.job = job
        self.progress = progress
        self.settings = settings
        self.log_dir = log_dir
        self.hosts = [f"algo-{i}" for i in range(1, max(1, job.instance_count) + 1)]
        self.endpoint_url = s3.moto_endpoint_url(settings.s3_endpoint_url)
        self.hyperparameters = decode_hyperparameters(job.hyperparameters)
        self.user_hyperparameters = user_hyperparameters(self.hyperparameters)

    def run(self) -> TrainingOutcome:
        self.settings.jobs_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{self.job.name}-", dir=self.settings.jobs_dir))
        try:
            return self._run(work)
        except TrainingJobError as failed:
            return TrainingOutcome.failure(str(failed))
        finally:
            if not self.settings.keep_workdirs:
                shutil.rmtree(work, ignore_errors=True)

    # --- the three phases --------------------------------------------------------------------

    def _run(self, work: Path) -> TrainingOutcome:
        self.progress.enter("Downloading")
        program, submit_directory = self._entry_point()
        client = s3.s3_client(self.job.region, self.endpoint_url, self.job.account_id)
        dirs = {host: HostDirs(work / host) for host in self.hosts}
        for host_dirs in dirs.values():
            host_dirs.create()
        self._download_channels(client, dirs)
        self._download_code(client, submit_directory, work / "sourcedir.tar.gz", dirs)
        self._download_checkpoints(client, dirs)
        for host, host_dirs in dirs.items():
            self._write_config(host, host_dirs)
        if self.progress.stop_requested:
            return TrainingOutcome.failure("Stopped while downloading input data")

        self.progress.enter("Training")
        processes = self._start(program, submit_directory, dirs)
        failed, stopped = self._watch(processes)
        metrics: dict[str, float] = {}
        for process in reversed(processes):  # algo-1's values win
            metrics.update(final_metrics(process.metrics_lines(), self.job.metric_definitions))

        if failed is not None:
            with contextlib.suppress(ClientError, BotoCoreError, OSError, ValueError):
                self._upload_checkpoints(client, dirs)
            return TrainingOutcome.failure(failed.failure_reason())
        if not stopped:
            self.progress.enter("Uploading")
        try:
            self._upload_checkpoints(client, dirs)
            artifacts = self._upload_outputs(client, work, dirs)
        except (ClientError, BotoCoreError, OSError, ValueError) as error:
            return TrainingOutcome.failure(
                f"ClientError: Failed to upload the training job's output to "
                f"{self.job.output_path}: {error}"
            )
        return TrainingOutcome.success(metrics, model_artifacts=artifacts)

    def _entry_point(self) -> tuple[str, str]:
        program = self.hyperparameters.get("sagemaker_program")
        submit_directory = self.hyperparameters.get("sagemaker_submit_directory")
        if not isinstance(program, str) or not program:
            raise TrainingJobError(
                "ClientError: the local process runtime runs the script a framework container "
                "would run, named by the hyperparameter sagemaker_program; this job has none"
            )
        if not isinstance(submit_directory, str) or not submit_directory:
            raise TrainingJobError(
                "ClientError: the local process runtime needs the script's code as an s3:// "
                "tar.gz, or a path in the container, in the hyperparameter "
                f"sagemaker_submit_directory; got {submit_directory!r}"
            )
        return program, submit_directory

    def _download_code(
        self, client: Any, uri: str, archive: Path, dirs: Mapping[str, HostDirs]
    ) -> None:
        def fetch() -> Path:
            if not archive.exists():
                s3.download_file(client, uri, archive)
            return archive

        isolated = bool(self.job.request.get("EnableNetworkIsolation"))
        try:
            install_code(uri, list(dirs.values()), isolated=isolated, fetch=fetch)
        except (ClientError, BotoCoreError, OSError, ValueError) as error:
            # The toolkit downloads the code; its failure is a framework error.
            raise TrainingJobError(
                "AlgorithmError: framework error: cannot download and unpack "
                f"sagemaker_submit_directory {uri}: {error}, exit code: {TOOLKIT_EXIT_CODE}"
            ) from error

    def _download_channels(self, client: Any, dirs: Mapping[str, HostDirs]) -> None:
        declared = [
            str(c.get("ChannelName"))
            for c in self.job.request.get("InputDataConfig") or []
            if not (c.get("DataSource") or {}).get("S3DataSource")
        ]
        if declared:
            raise TrainingJobError(
                "ClientError: the local process runtime reads channels from S3 only; "
                f"not from the data sources of {', '.join(declared)}"
            )
        first = dirs[self.hosts[0]]
        for channel in self.job.input_channels:
            if channel.input_mode not in {"File", "FastFile"}:
                raise TrainingJobError(
                    f"ClientError: channel {channel.name}: the local process runtime copies "
                    f"data as File mode does; {channel.input_mode} input is not emulated"
                )
            if channel.s3_data_type not in {"S3Prefix", "ManifestFile"}:
                raise TrainingJobError(
                    f"ClientError: channel {channel.name}: S3DataType {channel.s3_data_type} is "
                    "not emulated (S3Prefix and ManifestFile are)"
                )
            sharded = channel.s3_data_distribution_type == "ShardedByS3Key"
            for index, host in enumerate(self.hosts):
                if not sharded and index > 0:
                    shutil.copytree(
                        first.channel(channel.name),
                        dirs[host].channel(channel.name),
                        dirs_exist_ok=True,
                    )
                    continue
                target = dirs[host].channel(channel.name)
                target.mkdir(parents=True, exist_ok=True)
                shard = (index, len(self.hosts)) if sharded else None
                download = (
                    s3.download_manifest
                    if channel.s3_data_type == "ManifestFile"
                    else s3.download_prefix
                )
                try:
                    count = download(client, channel.s3_uri, target, shard=shard)
                except ClientError as error:
                    raise TrainingJobError(self._no_objects(channel.s3_uri, error)) from error
                except (BotoCoreError, OSError, ValueError) as error:
                    raise TrainingJobError(
                        f"ClientError: Data download failed for channel {channel.name} from "
                        f"{channel.s3_uri}: {error}"
                    ) from error
                if count == 0 and index == 0:
                    raise TrainingJobError(self._no_objects(channel.s3_uri))

    def _no_objects(self, uri: str, error: Exception | None = None) -> str:
        bucket = s3.split_uri(uri)[0]
        reason = (
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
            f"Please ensure that the bucket exists in the selected region ({self.job.region}), "
            f'that objects exist under that S3 prefix, and that the role "{self.job.role_arn}" '
            f'has "s3:ListBucket" permissions on bucket "{bucket}".'
        )
        return f"{reason} ({error})" if error is not None else reason

    def _download_checkpoints(self, client: Any, dirs: Mapping[str, HostDirs]) -> None:
        """SageMaker copies ``CheckpointConfig.S3Uri`` to every instance's local path first."""
        if self.job.checkpoint is None:
            return
        for host_dirs in dirs.values():
            try:
                s3.download_prefix(
                    client, s3.join_uri(self.job.checkpoint.s3_uri, ""), host_dirs.checkpoints
                )
            except (ClientError, BotoCoreError, OSError, ValueError) as error:
                raise TrainingJobError(
                    f"ClientError: cannot download checkpoints from {self.job.checkpoint.s3_uri}: "
                    f"{error}"
                ) from error

    def _write_config(self, host: str, dirs: HostDirs) -> None:
        """The files SageMaker leaves in ``/opt/ml/input/config``."""
        files = {
            "hyperparameters.json": dict(self.job.hyperparameters),
            "resourceconfig.json": resource_config(self.job, self.hosts, host),
            "inputdataconfig.json": input_data_config(self.job),
        }
        for name, content in files.items():
            (dirs.input_config / name).write_text(json.dumps(content), encoding="utf-8")

    def _command(self, program: str, dirs: HostDirs) -> list[str]:
        args = command_line_args(self.user_hyperparameters)
        flag = self.settings.checkpoint_dir_arg
        if flag and flag.lstrip("-").replace("-", "_") not in {
            name.replace("-", "_") for name in self.user_hyperparameters
        }:
            args += [flag, str(dirs.checkpoints)]
        if program.endswith(".py"):
            return [self.settings.python, program, *args]
        return [str(dirs.code / program), *args]

    def _start(
        self, program: str, submit_directory: str, dirs: Mapping[str, HostDirs]
    ) -> list[HostProcess]:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        rendezvous = (
            {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
            if len(self.hosts) > 1
            else {}
        )
        processes: list[HostProcess] = []
        try:
            for host in self.hosts:
                env = self._environment(host, dirs[host], program, submit_directory)
                env.update(rendezvous)
                process = HostProcess(
                    host,
                    dirs[host],
                    self._command(program, dirs[host]),
                    env,
                    self.log_dir / f"{host}.log",
                )
                processes.append(process)
                self.settings.live.add(process)
        except OSError as error:
            self._end(processes, 0)
            raise TrainingJobError(
                f"AlgorithmError: ExecuteUserScriptError: cannot start {program}: {error}, "
                f"exit code: {TOOLKIT_EXIT_CODE}"
            ) from error
        return processes

    def _watch(self, processes: list[HostProcess]) -> tuple[HostProcess | None, bool]:
        """Wait for every instance; the first to fail fails the job and ends the others (as
        SageMaker ends a cluster), and a stop request ends them all. Returns the failed instance
        and whether the job was stopped."""
        failed: HostProcess | None = None
        stopped = False
        try:
            while True:
                codes = [p.poll() for p in processes]
                exited = [p for p, code in zip(processes, codes, strict=True) if code]
                if exited:
                    failed = min(exited, key=lambda p: p.finished_at or 0.0)
                    break
                if all(code == 0 for code in codes):
                    break
                if self.progress.wait_for_stop(0.1):
                    stopped = True
                    break
        finally:
            self._end(processes, self.settings.stop_grace_seconds if stopped else 5.0)
        return (None if stopped else failed), stopped

    def _end(self, processes: list[HostProcess], grace_seconds: float) -> None:
        terminate(processes, grace_seconds)
        for process in processes:
            process.close()
            self.settings.live.discard(process)

    def _environment(
        self, host: str, dirs: HostDirs, program: str, submit_directory: str
    ) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("SM_") and key not in _CLUSTER_VARIABLES
        }
        # The instances share this machine's cores, and the emulator needs one: OpenMP threads
        # that outnumber the free cores spin against each other (on two cores, two threads made
        # an MNIST epoch six times slower than one).
        cores = os.cpu_count() or 1
        share = max(1, cores // len(self.hosts))
        env.setdefault("OMP_NUM_THREADS", str(max(1, (cores - 1) // len(self.hosts))))
        env.update({"AWS_REGION": self.job.region, "AWS_DEFAULT_REGION": self.job.region})
        if self.endpoint_url:
            # The script's own AWS calls go to the emulator, as a container's go to AWS.
            env.pop("AWS_SESSION_TOKEN", None)
            env.pop("AWS_PROFILE", None)
            env.update(_LOCAL_CREDENTIALS)
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        env.update(self.job.environment)
        env.update(self._toolkit_variables(host, dirs, program, submit_directory, share))
        env.update(
            {
                "TRAINING_JOB_NAME": self.job.name,
                "TRAINING_JOB_ARN": self.job.arn,
                "CURRENT_HOST": host,
                "SAGEMAKER_REGION": str(self.hyperparameters.get("sagemaker_region") or ""),
                "SAGEMAKER_JOB_NAME": str(self.hyperparameters.get("sagemaker_job_name") or ""),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _toolkit_variables(
        self, host: str, dirs: HostDirs, program: str, submit_directory: str, cpus: int
    ) -> dict[str, str]:
        """The ``SM_*`` variables (the toolkit's ``Environment.to_env_vars``)."""
        channels = {c.name: str(dirs.channel(c.name)) for c in self.job.input_channels}
        framework = {
            k: v
            for k, v in self.hyperparameters.items()
            if (k.startswith("sagemaker_") or k in TOOLKIT_HYPERPARAMETERS)
            and k
            not in {
                "sagemaker_program",
                "sagemaker_submit_directory",
                "sagemaker_enable_cloudwatch_metrics",
                "sagemaker_region",
                "sagemaker_container_log_level",
                "sagemaker_job_name",
                "sagemaker_s3_output",
                *TOOLKIT_HYPERPARAMETERS,
            }
        }
        log_level = self.hyperparameters.get("sagemaker_container_log_level", _DEFAULT_LOG_LEVEL)
        module_name = program[:-3] if program.endswith(".py") else program
        instance_type = self.job.instance_type or "local"
        resources = resource_config(self.job, self.hosts, host)
        inputs = input_data_config(self.job)
        user_args = command_line_args(self.user_hyperparameters)
        training_env = {
            "additional_framework_parameters": framework,
            "channel_input_dirs": channels,
            "current_host": host,
            "current_instance_group": INSTANCE_GROUP,
            "current_instance_type": instance_type,
            "framework_module": None,
            "hosts": self.hosts,
            "hyperparameters": self.user_hyperparameters,
            "input_config_dir": str(dirs.input_config),
            "input_data_config": inputs,
            "input_dir": str(dirs.input),
            "is_master": host == self.hosts[0],
            "job_name": self.job.name,
            "log_level": log_level,
            "master_hostname": self.hosts[0],
            "model_dir": str(dirs.model),
            "module_dir": submit_directory,
            "module_name": module_name,
            "network_interface_name": NETWORK_INTERFACE,
            "num_cpus": cpus,
            "num_gpus": 0,
            "output_data_dir": str(dirs.output_data),
            "output_dir": str(dirs.output),
            "output_intermediate_dir": str(dirs.output_intermediate),
            "resource_config": resources,
            "user_entry_point": program,
        }
        variables: dict[str, Any] = {
            "hosts": self.hosts,
            "network_interface_name": NETWORK_INTERFACE,
            "hps": self.user_hyperparameters,
            "user_entry_point": program,
            "framework_params": framework,
            "resource_config": resources,
            "input_data_config": inputs,
            "output_data_dir": str(dirs.output_data),
            "channels": sorted(channels),
            "current_host": host,
            "current_instance_type": instance_type,
            "current_instance_group": INSTANCE_GROUP,
            "current_instance_group_hosts": self.hosts,
            "instance_groups": [INSTANCE_GROUP],
            "instance_groups_dict": {
                g["instance_group_name"]: g for g in resources["instance_groups"]
            },
            "distribution_instance_groups": [],
            "is_hetero": False,
            "module_name": module_name,
            "log_level": log_level,
            "framework_module": None,
            "input_dir": str(dirs.input),
            "input_config_dir": str(dirs.input_config),
            "output_dir": str(dirs.output),
            "num_cpus": cpus,
            "num_gpus": 0,
            "model_dir": str(dirs.model),
            "module_dir": submit_directory,
            "training_env": training_env,
            "user_args": user_args,
            "output_intermediate_dir": str(dirs.output_intermediate),
        }
        for name, path in channels.items():
            variables[f"channel_{name}"] = path
        for name, value in self.user_hyperparameters.items():
            variables[f"hp_{name}"] = value
        return {f"SM_{key.upper()}": env_value(value) for key, value in variables.items()}

    # --- uploading ---------------------------------------------------------------------------

    def _upload_checkpoints(self, client: Any, dirs: Mapping[str, HostDirs]) -> None:
        """SageMaker syncs the local path to ``CheckpointConfig.S3Uri`` while the job runs; here
        it happens once, when the processes have ended."""
        if self.job.checkpoint is None:
            return
        for host in self.hosts:
            s3.upload_tree(
                client,
                dirs[host].checkpoints,
                self.job.checkpoint.s3_uri,
                self.job.output_kms_key_id,
            )

    def _upload_outputs(self, client: Any, work: Path, dirs: Mapping[str, HostDirs]) -> str:
        """``model.tar.gz`` from every instance's model folder (merged), and ``output.tar.gz``
        from their ``output/data`` when there is any."""
        ordered = [dirs[host] for host in self.hosts]
        model_archive = s3.pack(
            s3.merged_files([d.model for d in ordered]), work / "upload" / "model.tar.gz"
        )
        model_uri = self.job.default_model_artifacts
        s3.upload_file(client, model_archive, model_uri, self.job.output_kms_key_id)
        output_files = s3.merged_files([d.output_data for d in ordered])
        if output_files:
            output_archive = s3.pack(output_files, work / "upload" / "output.tar.gz")
            s3.upload_file(
                client,
                output_archive,
                s3.join_uri(self.job.output_path, self.job.name, "output", "output.tar.gz"),
                self.job.output_kms_key_id,
            )
        return model_uri
