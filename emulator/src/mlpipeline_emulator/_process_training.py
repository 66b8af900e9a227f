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
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from . import _process_s3 as s3
from .runtime import TrainingJobSpec, TrainingOutcome, TrainingProgress, final_metrics

#: Hyperparameters the training toolkit keeps from the script, besides any ``sagemaker_*`` one
#: (sagemaker_training.params.SAGEMAKER_HYPERPARAMETERS).
_TOOLKIT_HYPERPARAMETERS: Final = frozenset(
    {"default_user_module_name", "_tuning_objective_metric"}
)
_INSTANCE_GROUP: Final = "homogeneousCluster"
_NETWORK_INTERFACE: Final = "eth0"
_DEFAULT_LOG_LEVEL: Final = 20
#: SageMaker shows the first 1,024 characters of ``/opt/ml/output/failure`` as FailureReason.
FAILURE_REASON_LIMIT: Final = 1024
#: The training toolkit exits with 1 whenever the script fails (a ``ClientError``).
_TOOLKIT_EXIT_CODE: Final = 1
#: Where the toolkit starts quoting stderr in its ``ErrorMessage``: the first line naming an error.
_ERROR_LINE: Final = re.compile(r"Traceback|\w*(?:Error|Exception)\b")
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


class TrainingJobError(Exception):
    """Ends a run before the script's processes start; the message is the FailureReason."""


# --- the training toolkit's view of hyperparameters ----------------------------------------


def decode_hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """Each value JSON-decoded when it is JSON, else kept as the string it is (the toolkit's
    ``read_hyperparameters``)."""
    decoded: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            decoded[name] = json.loads(value)
        except (ValueError, TypeError):
            decoded[name] = value
    return decoded


def user_hyperparameters(decoded: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters the script sees: all but the toolkit's own (``sagemaker_*`` ...)."""
    return {
        name: value
        for name, value in decoded.items()
        if not name.startswith("sagemaker_") and name not in _TOOLKIT_HYPERPARAMETERS
    }


def _argument_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items()))
    return str(value)


def command_line_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """``--name value`` per hyperparameter, sorted by name, values as ``str()`` renders the
    decoded JSON (``True``, ``0.001``, ``[1, 2]``), one-letter names as ``-n`` (the toolkit's
    ``mapping.to_cmd_args``)."""
    args: list[str] = []
    for name in sorted(hyperparameters):
        args += [
            f"--{name}" if len(name) > 1 else f"-{name}",
            _argument_value(hyperparameters[name]),
        ]
    return args


def env_value(value: Any) -> str:
    """A value as the toolkit writes it into an ``SM_*`` variable (``mapping.to_env_vars``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


# --- one instance -------------------------------------------------------------------------


@dataclass(frozen=True)
class HostDirs:
    """One instance's ``/opt/ml``."""

    root: Path

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def input_config(self) -> Path:
        return self.input / "config"

    def channel(self, name: str) -> Path:
        return self.input / "data" / name

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def output_data(self) -> Path:
        return self.output / "data"

    @property
    def output_intermediate(self) -> Path:
        return self.output / "intermediate"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def create(self) -> None:
        for directory in (
            self.code,
            self.input_config,
            self.input / "data",
            self.model,
            self.output_data,
            self.output_intermediate,
            self.checkpoints,
        ):
            directory.mkdir(parents=True, exist_ok=True)


class HostProcess:
    """The script running for one instance, its output copied line by line to the instance's
    log (the CloudWatch stream ``<job>/algo-N``)."""

    def __init__(
        self,
        host: str,
        dirs: HostDirs,
        command: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
    ) -> None:
        self.host = host
        self.dirs = dirs
        self.command = list(command)
        self.log_path = log_path
        self.stderr_tail: deque[str] = deque(maxlen=1000)
        self._log = log_path.open("a", encoding="utf-8")
        self._log_lock = threading.Lock()
        self.write_log(f"Invoking script with the following command:\n\n{shlex.join(command)}\n")
        try:
            # A session of its own: stopping the job signals the script and what it started.
            self.process = subprocess.Popen(
                self.command,
                cwd=dirs.code,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError:
            self._log.close()
            raise
        self.finished_at: float | None = None
        self._readers = [
            threading.Thread(target=self._copy, args=(self.process.stdout, False), daemon=True),
            threading.Thread(target=self._copy, args=(self.process.stderr, True), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def write_log(self, text: str) -> None:
        with self._log_lock:
            if not self._log.closed:  # a process the script left behind may still write
                self._log.write(text if text.endswith("\n") else text + "\n")
                self._log.flush()

    def _copy(self, stream: IO[bytes] | None, is_stderr: bool) -> None:
        if stream is None:
            return
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.write_log(line)
            if is_stderr:
                self.stderr_tail.append(line)

    def poll(self) -> int | None:
        code = self.process.poll()
        if code is not None and self.finished_at is None:
            self.finished_at = time.monotonic()
        return code

    @property
    def exit_code(self) -> int:
        """The exit status as a shell reports it (128 + signal for a killed process)."""
        code = self.process.returncode
        return 128 - code if code is not None and code < 0 else int(code or 0)

    def send(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def close(self, timeout: float = 5.0) -> None:
        for reader in self._readers:
            reader.join(timeout)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        with self._log_lock:
            self._log.close()

    def failure_reason(self) -> str:
        """FailureReason as SageMaker builds it for a framework container: ``AlgorithmError:``,
        the first 1,024 characters of the failure file (the script's, else the one the toolkit
        writes: ``ExecuteUserScriptError`` with the stderr from the first error on), and the
        toolkit's exit code."""
        failure_file = self.dirs.output / "failure"
        text = ""
        if failure_file.is_file():
            text = failure_file.read_text(encoding="utf-8", errors="replace")
        if not text.strip():
            text = (
                f"ExecuteUserScriptError:\nExitCode {self.exit_code}\n"
                f'ErrorMessage "{self._error_message()}"\nCommand "{" ".join(self.command)}"'
            )
        text = text[:FAILURE_REASON_LIMIT].rstrip()
        return f"AlgorithmError: {text}, exit code: {_TOOLKIT_EXIT_CODE}"

    def _error_message(self) -> str:
        lines = list(self.stderr_tail)
        start = next((i for i, line in enumerate(lines) if _ERROR_LINE.search(line)), len(lines))
        quoted = dict.fromkeys(line.strip(" :") for line in lines[start:] if line.strip())
        return "\n".join(quoted)

    def metrics_lines(self) -> list[str]:
        return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _terminate(processes: Sequence[HostProcess], grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL whatever still runs after ``grace_seconds`` (as StopTrainingJob)."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.send(signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while any(p.poll() is None for p in running) and time.monotonic() < deadline:
        time.sleep(0.05)
    for process in running:
        if process.poll() is None:
            process.send(signal.SIGKILL)
            process.process.wait()
            process.poll()


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
        client = s3.s3_client(self.job.region, self.endpoint_url)
        dirs = {host: HostDirs(work / host) for host in self.hosts}
        for host_dirs in dirs.values():
            host_dirs.create()
        self._download_code(client, submit_directory, work / "sourcedir.tar.gz", dirs)
        self._download_channels(client, dirs)
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
        if not isinstance(submit_directory, str) or not submit_directory.startswith("s3://"):
            raise TrainingJobError(
                "ClientError: the local process runtime needs the script's code as an s3:// "
                "tar.gz in the hyperparameter sagemaker_submit_directory; got "
                f"{submit_directory!r}"
            )
        return program, submit_directory

    def _download_code(
        self, client: Any, uri: str, archive: Path, dirs: Mapping[str, HostDirs]
    ) -> None:
        try:
            s3.download_file(client, uri, archive)
            for host_dirs in dirs.values():
                s3.extract(archive, host_dirs.code)
        except (ClientError, BotoCoreError, OSError, ValueError) as error:
            # The toolkit downloads the code; its failure is a framework error.
            raise TrainingJobError(
                "AlgorithmError: framework error: cannot download and unpack "
                f"sagemaker_submit_directory {uri}: {error}, exit code: {_TOOLKIT_EXIT_CODE}"
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
            "resourceconfig.json": self._resource_config(host),
            "inputdataconfig.json": self._input_data_config(),
        }
        for name, content in files.items():
            (dirs.input_config / name).write_text(json.dumps(content), encoding="utf-8")

    def _resource_config(self, host: str) -> dict[str, Any]:
        instance_type = self.job.instance_type or "local"
        return {
            "current_host": host,
            "current_instance_type": instance_type,
            "current_group_name": _INSTANCE_GROUP,
            "hosts": self.hosts,
            "instance_groups": [
                {
                    "instance_group_name": _INSTANCE_GROUP,
                    "instance_type": instance_type,
                    "hosts": self.hosts,
                }
            ],
            "network_interface_name": _NETWORK_INTERFACE,
        }

    def _input_data_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for channel in self.job.input_channels:
            entry = {
                "TrainingInputMode": channel.input_mode,
                "S3DistributionType": channel.s3_data_distribution_type,
                "RecordWrapperType": "None",
            }
            if channel.content_type:
                entry["ContentType"] = channel.content_type
            if channel.compression_type:
                entry["CompressionType"] = channel.compression_type
            config[channel.name] = entry
        return config

    # --- training ----------------------------------------------------------------------------

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
            {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
            if len(self.hosts) > 1
            else {}
        )
        processes: list[HostProcess] = []
        try:
            for host in self.hosts:
                env = self._environment(host, dirs[host], program, submit_directory)
                env.update(rendezvous)
                processes.append(
                    HostProcess(
                        host,
                        dirs[host],
                        self._command(program, dirs[host]),
                        env,
                        self.log_dir / f"{host}.log",
                    )
                )
        except OSError as error:
            _terminate(processes, 0)
            for process in processes:
                process.close()
            raise TrainingJobError(
                f"AlgorithmError: ExecuteUserScriptError: cannot start {program}: {error}, "
                f"exit code: {_TOOLKIT_EXIT_CODE}"
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
            _terminate(processes, self.settings.stop_grace_seconds if stopped else 5.0)
            for process in processes:
                process.close()
        return (None if stopped else failed), stopped

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
            if (k.startswith("sagemaker_") or k in _TOOLKIT_HYPERPARAMETERS)
            and k
            not in {
                "sagemaker_program",
                "sagemaker_submit_directory",
                "sagemaker_enable_cloudwatch_metrics",
                "sagemaker_region",
                "sagemaker_container_log_level",
                "sagemaker_job_name",
                "sagemaker_s3_output",
                *_TOOLKIT_HYPERPARAMETERS,
            }
        }
        log_level = self.hyperparameters.get("sagemaker_container_log_level", _DEFAULT_LOG_LEVEL)
        module_name = program[:-3] if program.endswith(".py") else program
        instance_type = self.job.instance_type or "local"
        resource_config = self._resource_config(host)
        input_data_config = self._input_data_config()
        user_args = command_line_args(self.user_hyperparameters)
        training_env = {
            "additional_framework_parameters": framework,
            "channel_input_dirs": channels,
            "current_host": host,
            "current_instance_group": _INSTANCE_GROUP,
            "current_instance_type": instance_type,
            "framework_module": None,
            "hosts": self.hosts,
            "hyperparameters": self.user_hyperparameters,
            "input_config_dir": str(dirs.input_config),
            "input_data_config": input_data_config,
            "input_dir": str(dirs.input),
            "is_master": host == self.hosts[0],
            "job_name": self.job.name,
            "log_level": log_level,
            "master_hostname": self.hosts[0],
            "model_dir": str(dirs.model),
            "module_dir": submit_directory,
            "module_name": module_name,
            "network_interface_name": _NETWORK_INTERFACE,
            "num_cpus": cpus,
            "num_gpus": 0,
            "output_data_dir": str(dirs.output_data),
            "output_dir": str(dirs.output),
            "output_intermediate_dir": str(dirs.output_intermediate),
            "resource_config": resource_config,
            "user_entry_point": program,
        }
        variables: dict[str, Any] = {
            "hosts": self.hosts,
            "network_interface_name": _NETWORK_INTERFACE,
            "hps": self.user_hyperparameters,
            "user_entry_point": program,
            "framework_params": framework,
            "resource_config": resource_config,
            "input_data_config": input_data_config,
            "output_data_dir": str(dirs.output_data),
            "channels": sorted(channels),
            "current_host": host,
            "current_instance_type": instance_type,
            "current_instance_group": _INSTANCE_GROUP,
            "current_instance_group_hosts": self.hosts,
            "instance_groups": [_INSTANCE_GROUP],
            "instance_groups_dict": {
                g["instance_group_name"]: g for g in resource_config["instance_groups"]
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
