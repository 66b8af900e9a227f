"""One epoch of training, the evaluation, the checkpoints and the model a job leaves.

Part of the training script (see ``mnist.py``); copied with it to ``code/`` of the model archive.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F  # noqa: N812 - the name PyTorch's examples and the blog post use
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mnist_hosts import Cluster, Environment, sum_across_ranks
from mnist_model import MODEL_FILE, DataError, Dataset

logger = logging.getLogger("mnist")

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


# --------------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------------


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Dataset,
    indices: torch.Tensor,
    *,
    batch_size: int,
    epoch: int,
    log_interval: int,
    cluster: Cluster | None = None,
) -> None:
    """One pass over ``data[indices]``; prints ``train_loss=`` every ``log_interval`` batches.

    The printed loss is the mean over the batches since the previous line, averaged over all
    ranks.
    """
    cluster = cluster or Cluster()
    model.train()
    indices = indices.to(data.labels.device)
    num_batches = math.ceil(len(indices) / batch_size)
    # Losses stay on the device between log lines so that a GPU is not synchronised every batch.
    window = torch.zeros((), dtype=torch.float64, device=data.labels.device)
    window_batches = 0
    for batch, start in enumerate(range(0, len(indices), batch_size), start=1):
        batch_indices = indices[start : start + batch_size]
        optimizer.zero_grad(set_to_none=True)
        loss = F.nll_loss(model(data.images[batch_indices]), data.labels[batch_indices])
        loss.backward()
        optimizer.step()
        window += loss.detach()
        window_batches += 1
        if batch % log_interval == 0 or batch == num_batches:
            mean = sum_across_ranks(window / window_batches, cluster) / cluster.world_size
            if cluster.is_main:
                logger.info(
                    "epoch=%d batch=%d/%d train_loss=%.6f", epoch, batch, num_batches, mean.item()
                )
            window.zero_()
            window_batches = 0


@torch.no_grad()
def evaluate(
    model: nn.Module, data: Dataset, *, batch_size: int, cluster: Cluster | None = None
) -> tuple[float, float, int, int]:
    """Mean loss, accuracy (a fraction), correct count and total over all of ``data``.

    With several ranks each evaluates every ``world_size``-th sample and the sums are added up,
    so the figures are exactly those of the whole test set.
    """
    cluster = cluster or Cluster()
    network = unwrap(model)  # no DDP hooks: ranks may run different numbers of batches here
    network.eval()
    indices = torch.arange(cluster.rank, len(data), cluster.world_size, device=data.labels.device)
    sums = torch.zeros(3, dtype=torch.float64, device=data.labels.device)
    for start in range(0, len(indices), batch_size):
        batch_indices = indices[start : start + batch_size]
        output = network(data.images[batch_indices])
        target = data.labels[batch_indices]
        sums[0] += F.nll_loss(output, target, reduction="sum")
        sums[1] += (output.argmax(dim=1) == target).sum()
        sums[2] += len(batch_indices)
    loss_sum, correct, total = sum_across_ranks(sums, cluster).tolist()
    return loss_sum / total, correct / total, int(correct), int(total)


@dataclass
class TrainingResult:
    """What a run produced, for callers such as the benchmark."""

    model: nn.Module
    epochs_trained: list[int]
    test_loss: float
    test_accuracy: float
    history: list[dict[str, float]]


# --------------------------------------------------------------------------------------------
# Checkpoints and the saved model
# --------------------------------------------------------------------------------------------


def _hyperparameters(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("batch_size", "lr", "momentum", "seed")
    return {key: getattr(args, key) for key in keys}


def prepare_checkpoint_dir(path: str) -> Path | None:
    try:
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    except OSError as exc:
        logger.warning("checkpoints disabled: cannot create %s (%s)", path, exc)
        return None


def _load_checkpoint(directory: Path | None, device: torch.device) -> dict[str, Any] | None:
    if directory is None or not (directory / CHECKPOINT_FILE).is_file():
        return None
    path = directory / CHECKPOINT_FILE
    try:
        checkpoint: dict[str, Any] = torch.load(path, map_location=device, weights_only=True)
        if checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"format {checkpoint.get('format')!r}, expected {CHECKPOINT_FORMAT}")
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(
            f"{path}: not a checkpoint of this script ({reason}); delete it to start afresh"
        ) from exc
    return checkpoint


def _atomic_save(obj: Any, path: Path) -> None:
    """Write ``path`` so that a reader (or an interrupted job) never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    torch.save(obj, temporary)
    os.replace(temporary, path)


def save_checkpoint(
    directory: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    args: argparse.Namespace,
    history: list[dict[str, float]],
) -> bool:
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "epoch": epoch,
        "model": {k: v.cpu() for k, v in unwrap(model).state_dict().items()},
        "optimizer": optimizer.state_dict(),
        # Shuffling and dropout are reseeded from (seed, epoch, rank) at every epoch, so the seed
        # and the epoch are all the random state a resumed run needs to continue as it would have.
        "hyperparameters": _hyperparameters(args),
        "history": history,
    }
    try:
        _atomic_save(checkpoint, directory / CHECKPOINT_FILE)
    except OSError as exc:
        logger.warning("checkpoints disabled: cannot write to %s (%s)", directory, exc)
        return False
    logger.info("checkpoint of epoch %d saved to %s", epoch, directory / CHECKPOINT_FILE)
    return True


def save_artifacts(model: nn.Module, env: Environment, history: list[dict[str, float]]) -> None:
    env.model_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.cpu() for k, v in unwrap(model).state_dict().items()}
    _atomic_save(state, env.model_dir / MODEL_FILE)
    code_dir = env.model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    # The serving container imports the entry point, and with it the modules beside it, from
    # /opt/ml/model/code: all of the script's files go there, under their own names.
    copied = []
    for source in sorted(Path(__file__).resolve().parent.glob("*.py")):
        shutil.copyfile(source, code_dir / source.name)
        copied.append(f"code/{source.name}")
    logger.info("saved %s and %s to %s", MODEL_FILE, ", ".join(copied), env.model_dir)
    if env.output_data_dir is not None:
        env.output_data_dir.mkdir(parents=True, exist_ok=True)
        (env.output_data_dir / "metrics.json").write_text(json.dumps(history, indent=2) + "\n")


def _shared_checkpoint(
    checkpoint_dir: Path | None, cluster: Cluster, device: torch.device
) -> dict[str, Any] | None:
    """The checkpoint rank 0 finds, on every rank."""
    checkpoint, problem = None, None
    try:
        checkpoint = _load_checkpoint(checkpoint_dir, device)
    except DataError as exc:
        problem = str(exc)
    if cluster.distributed:
        # Rank 0 alone reads and writes checkpoints; the others get its copy (or its complaint, so
        # that no rank waits for a peer that has given up), and all resume alike.
        shared: list[Any] = [checkpoint, problem]
        dist.broadcast_object_list(shared, src=0, device=device if device.type == "cuda" else None)
        checkpoint, problem = shared
    if problem is not None:
        raise DataError(problem)
    return checkpoint


def resume(
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    args: argparse.Namespace,
    cluster: Cluster,
    device: torch.device,
    checkpoint_dir: Path | None,
) -> tuple[int, list[dict[str, float]]]:
    """Load the latest checkpoint into ``network`` and ``optimizer``; the first epoch still to
    train and the history so far."""
    checkpoint = _shared_checkpoint(checkpoint_dir, cluster, device)
    if checkpoint is None:
        return 1, []
    network.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    start_epoch, history = checkpoint["epoch"] + 1, list(checkpoint["history"])
    if cluster.is_main:
        changed = {
            k: (v, checkpoint["hyperparameters"].get(k))
            for k, v in _hyperparameters(args).items()
            if checkpoint["hyperparameters"].get(k) != v
        }
        if changed:
            logger.warning("resuming with changed hyperparameters (now, before): %s", changed)
        logger.info(
            "resumed from %s after epoch %d; continuing with epoch %d of %d",
            checkpoint_dir,
            checkpoint["epoch"],
            start_epoch,
            args.epochs,
        )
    return start_epoch, history
