"""The hosts of a training job: what SageMaker tells each one, how they train together.

The ``SM_*`` variables of the SageMaker training toolkit, the failure file SageMaker reports, the
torch.distributed process group of several hosts and each host's share of the training data.
Part of the training script (see ``mnist.py``); copied with it to ``code/`` of the model archive.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

logger = logging.getLogger("mnist")

# --------------------------------------------------------------------------------------------
# The SageMaker environment
# --------------------------------------------------------------------------------------------


class ConfigError(ValueError):
    """The SageMaker environment or the hyperparameters cannot work together."""


@dataclass(frozen=True)
class Environment:
    """What the SageMaker training toolkit tells the script through ``SM_*`` variables."""

    model_dir: Path
    train_dir: Path
    test_dir: Path
    hosts: list[str] = field(default_factory=lambda: ["algo-1"])
    current_host: str = "algo-1"
    num_gpus: int = 0
    output_data_dir: Path | None = None

    @property
    def is_main_host(self) -> bool:
        """Whether this host gets rank 0, the one that saves the model and checkpoints."""
        return self.hosts.index(self.current_host) == 0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Environment:
        """Read the variables, with single-host CPU defaults where SageMaker would set them."""
        train_dir = Path(environ.get("SM_CHANNEL_TRAINING", "/opt/ml/input/data/training"))
        test_dir = (
            Path(environ["SM_CHANNEL_TESTING"]) if environ.get("SM_CHANNEL_TESTING") else None
        )
        try:
            hosts = json.loads(environ.get("SM_HOSTS", '["algo-1"]'))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"SM_HOSTS is not JSON: {exc}") from exc
        if not (isinstance(hosts, list) and hosts and all(isinstance(h, str) for h in hosts)):
            raise ConfigError(f"SM_HOSTS must be a JSON list of host names, got {hosts!r}")
        current_host = environ.get("SM_CURRENT_HOST", hosts[0] if len(hosts) == 1 else "")
        if current_host not in hosts:
            raise ConfigError(f"SM_CURRENT_HOST {current_host!r} is not one of SM_HOSTS {hosts}")
        try:
            num_gpus = int(environ.get("SM_NUM_GPUS", "0"))
        except ValueError as exc:
            raise ConfigError(f"SM_NUM_GPUS must be an integer: {exc}") from exc
        output_data_dir = environ.get("SM_OUTPUT_DATA_DIR")
        return cls(
            model_dir=Path(environ.get("SM_MODEL_DIR", "/opt/ml/model")),
            train_dir=train_dir,
            test_dir=test_dir or train_dir,
            hosts=hosts,
            current_host=current_host,
            num_gpus=num_gpus,
            output_data_dir=Path(output_data_dir) if output_data_dir else None,
        )


def write_failure(message: str) -> None:
    """Leave ``message`` in ``$SM_OUTPUT_DIR/failure``, the reason SageMaker gives for a failure."""
    output_dir = os.environ.get("SM_OUTPUT_DIR")
    if not output_dir:
        return
    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        Path(output_dir, "failure").write_text(message + "\n", encoding="utf-8")
    except OSError as exc:
        logger.warning("could not write the failure file in %s: %s", output_dir, exc)


# --------------------------------------------------------------------------------------------
# Distribution
# --------------------------------------------------------------------------------------------

DEFAULT_MASTER_PORT = "29500"


@dataclass(frozen=True)
class Cluster:
    rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_cluster(env: Environment, backend: str, device: torch.device) -> Cluster:
    """Join the process group when SM_HOSTS lists several hosts; rank = position in SM_HOSTS."""
    if len(env.hosts) == 1:
        return Cluster()
    if backend == "auto":
        backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and device.type != "cuda":
        raise ConfigError("--backend nccl needs a GPU; on CPU instances use gloo")
    rank, world_size = env.hosts.index(env.current_host), len(env.hosts)
    # SageMaker resolves host names such as algo-1 on the job's network; MASTER_ADDR and
    # MASTER_PORT, when set, win (as torch.distributed's env:// rendezvous defines them).
    os.environ.setdefault("MASTER_ADDR", env.hosts[0])
    os.environ.setdefault("MASTER_PORT", DEFAULT_MASTER_PORT)
    os.environ["WORLD_SIZE"], os.environ["RANK"] = str(world_size), str(rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world_size)
    logger.info(
        "joined %s process group at %s:%s as rank %d of %d (host %s)",
        backend,
        os.environ["MASTER_ADDR"],
        os.environ["MASTER_PORT"],
        rank,
        world_size,
        env.current_host,
    )
    return Cluster(rank=rank, world_size=world_size)


def seed_for(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


def shard_indices(
    num_samples: int, rank: int, world_size: int, seed: int, epoch: int
) -> torch.Tensor:
    """This rank's training indices for ``epoch``: a disjoint, equal-sized share of one shuffle.

    Every rank draws the same permutation (seeded by ``seed`` and ``epoch``) and keeps every
    ``world_size``-th element starting at its rank, so shares never overlap and every rank runs
    the same number of batches (which DistributedDataParallel needs). The at most
    ``world_size - 1`` samples left over change from epoch to epoch.
    """
    if num_samples < world_size:
        raise ConfigError(f"{num_samples} training samples cannot be shared by {world_size} hosts")
    generator = torch.Generator().manual_seed(seed_for(seed, epoch))
    permutation = torch.randperm(num_samples, generator=generator)
    per_rank = num_samples // world_size
    return permutation[rank : per_rank * world_size : world_size]


def sum_across_ranks(values: torch.Tensor, cluster: Cluster) -> torch.Tensor:
    if cluster.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values
