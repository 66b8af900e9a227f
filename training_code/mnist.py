"""Train and serve the MNIST classifier of the PyTorch example in SageMaker's PyTorch containers.

Training (SageMaker training toolkit): the toolkit runs ``python mnist.py --epochs 6 ...`` with
one ``--name value`` pair per hyperparameter and describes the job in ``SM_*`` environment
variables. The script reads the four MNIST IDX files of the ``training`` channel (and of the
``testing`` channel when there is one), trains the network on one or more hosts, prints the metric
lines ``train_loss=<float>``, ``test_loss=<float>`` and ``test_accuracy=<fraction>``, checkpoints
every epoch to ``--checkpoint-dir`` (and resumes from there), and writes ``model.pth`` plus a copy
of this file as ``code/mnist.py`` to ``SM_MODEL_DIR``.

Serving (SageMaker PyTorch inference toolkit): the model server imports this file from
``/opt/ml/model/code`` and calls ``model_fn``, ``input_fn``, ``predict_fn`` and ``output_fn``.

Importing this module only defines things; training runs under ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F  # noqa: N812 - the name PyTorch's examples and the blog post use
from torch import nn
from torch.nn.parallel import DistributedDataParallel

logger = logging.getLogger("mnist")

#: Mean and standard deviation of MNIST pixels scaled to 0-1; training and serving normalise alike.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
IMAGE_SIDE = 28
NUM_CLASSES = 10

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, three dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, one dimension

MODEL_FILE = "model.pth"
CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
DEFAULT_CHECKPOINT_DIR = "/opt/ml/checkpoints"
DEFAULT_MASTER_PORT = "29500"

JSON_CONTENT_TYPE = "application/json"
NPY_CONTENT_TYPE = "application/x-npy"


class DataError(ValueError):
    """A training or test file is missing or not a valid MNIST IDX file."""


class ConfigError(ValueError):
    """The SageMaker environment or the hyperparameters cannot work together."""


class PayloadError(ValueError):
    """An inference request or accept type that the endpoint cannot serve."""


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


class Net(nn.Module):
    """The network of the PyTorch MNIST example that the blog post trains."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def normalize_pixels(pixels: np.ndarray) -> torch.Tensor:
    """Images with pixel values 0-255, shaped (..., 28, 28), as the (N, 1, 28, 28) model input."""
    scaled = np.array(pixels, dtype=np.float32, copy=True)
    tensor = torch.from_numpy(scaled).reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
    return tensor.div_(255.0).sub_(MNIST_MEAN).div_(MNIST_STD)


# --------------------------------------------------------------------------------------------
# Data: MNIST IDX files, parsed with numpy
# --------------------------------------------------------------------------------------------


def find_idx_file(directory: Path, name: str) -> Path:
    """The path of ``name`` or ``name.gz`` directly in ``directory``; exactly one must exist."""
    plain, packed = directory / name, directory / f"{name}.gz"
    if plain.is_file() and packed.is_file():
        raise DataError(
            f"{directory}: both {name} and {name}.gz are present; keep one so that it is clear "
            "which data trains the model"
        )
    for candidate in (plain, packed):
        if candidate.is_file():
            return candidate
    if not directory.is_dir():
        raise DataError(
            f"{name}: the data directory {directory} does not exist (outside SageMaker, point "
            "SM_CHANNEL_TRAINING and optionally SM_CHANNEL_TESTING at a folder of MNIST IDX files)"
        )
    present = sorted(p.name for p in directory.iterdir())
    listing = ", ".join(present[:8]) + (", ..." if len(present) > 8 else "") if present else "none"
    raise DataError(f"{plain}: file not found (nor {packed.name}); files present: {listing}")


def _read_file_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz") or raw[:2] == b"\x1f\x8b":
            return gzip.decompress(raw)
        return raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot be read: {exc}") from exc


def read_idx_file(path: Path, magic: int, expected_dims: int) -> np.ndarray:
    """The unsigned-byte array in an MNIST IDX file, after checking magic number, dims and size."""
    raw = _read_file_bytes(path)
    header_size = 4 + 4 * expected_dims
    if len(raw) < header_size:
        raise DataError(
            f"{path}: truncated: {len(raw)} bytes is shorter than the {header_size}-byte IDX header"
        )
    found_magic = int.from_bytes(raw[:4], "big")
    if found_magic != magic:
        raise DataError(
            f"{path}: bad magic number {found_magic}, expected {magic} "
            f"({'images' if magic == IMAGES_MAGIC else 'labels'} IDX file of unsigned bytes)"
        )
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(expected_dims)]
    expected_size = header_size + math.prod(dims)
    if len(raw) < expected_size:
        raise DataError(
            f"{path}: truncated: the header announces {dims[0]} items ({expected_size} bytes) "
            f"but the file holds {len(raw)} bytes"
        )
    if len(raw) > expected_size:
        raise DataError(
            f"{path}: {len(raw) - expected_size} unexpected bytes after the {dims[0]} items "
            "the header announces"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def load_split(
    directory: Path, images_name: str, labels_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) and labels (N,) of one split, refused unless they form a valid pair."""
    images_path = find_idx_file(directory, images_name)
    labels_path = find_idx_file(directory, labels_name)
    images = read_idx_file(images_path, IMAGES_MAGIC, 3)
    labels = read_idx_file(labels_path, LABELS_MAGIC, 1)
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise DataError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]} pixels, "
            f"the network needs {IMAGE_SIDE}x{IMAGE_SIDE}"
        )
    if len(images) == 0:
        raise DataError(f"{images_path}: holds no images")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; the counts must agree"
        )
    if labels.max() >= NUM_CLASSES:
        raise DataError(f"{labels_path}: label {int(labels.max())} is outside 0-{NUM_CLASSES - 1}")
    return images, labels


@dataclass
class Dataset:
    """One split held in memory as model-ready tensors."""

    images: torch.Tensor  # (N, 1, 28, 28) float32, normalised
    labels: torch.Tensor  # (N,) int64

    @classmethod
    def from_arrays(cls, images: np.ndarray, labels: np.ndarray) -> Dataset:
        return cls(normalize_pixels(images), torch.from_numpy(labels.astype(np.int64)))

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device) -> Dataset:
        return Dataset(self.images.to(device), self.labels.to(device))


# --------------------------------------------------------------------------------------------
# Hyperparameters and the SageMaker environment
# --------------------------------------------------------------------------------------------


def _number(text: str, kind: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}")
    return value


def _integer(text: str, minimum: int) -> int:
    kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
    value = _number(text, kind)
    if value != int(value) or value < minimum:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}")
    return int(value)


def _positive_int(text: str) -> int:
    return _integer(text, 1)


def _seed(text: str) -> int:
    return _integer(text, 0)


def _positive_float(text: str) -> float:
    value = _number(text, "a positive number")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _momentum(text: str) -> float:
    value = _number(text, "a number in [0, 1)")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


class _ArgumentParser(argparse.ArgumentParser):
    """Also leaves argparse's complaint in SageMaker's failure file, shown as the job's reason."""

    def error(self, message: str) -> Any:
        write_failure(f"{self.prog}: error: {message}")
        return super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="mnist.py",
        description="Train the PyTorch MNIST example network (SageMaker training toolkit).",
        allow_abbrev=False,
    )
    parser.add_argument("--epochs", type=_positive_int, default=6, help="epochs (default: 6)")
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=64,
        help="training batch size per host (default: 64)",
    )
    parser.add_argument(
        "--test-batch-size",
        type=_positive_int,
        default=1000,
        help="test batch size (default: 1000)",
    )
    parser.add_argument(
        "--lr", type=_positive_float, default=0.002, help="Adam learning rate (default: 0.002)"
    )
    parser.add_argument(
        "--momentum",
        type=_momentum,
        default=0.9,
        help="Adam's beta1, the decay of its running mean of gradients, a momentum (default: 0.9)",
    )
    parser.add_argument("--seed", type=_seed, default=1, help="random seed (default: 1)")
    parser.add_argument(
        "--log-interval",
        type=_positive_int,
        default=10,
        help="batches between train_loss lines (default: 10)",
    )
    parser.add_argument(
        "--backend",
        choices=("auto", "gloo", "nccl"),
        default="auto",
        help="torch.distributed backend with several hosts (default: gloo on CPU, nccl on GPU)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        default=DEFAULT_CHECKPOINT_DIR,
        help=f"where to checkpoint each epoch and resume from (default: {DEFAULT_CHECKPOINT_DIR})",
    )
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


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


def choose_device(num_gpus: int) -> torch.device:
    """The first GPU when the host has one and CUDA works, else the CPU (one process per host)."""
    return (
        torch.device("cuda", 0)
        if num_gpus > 0 and torch.cuda.is_available()
        else torch.device("cpu")
    )


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


def _seed_for(*parts: int) -> int:
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
    generator = torch.Generator().manual_seed(_seed_for(seed, epoch))
    permutation = torch.randperm(num_samples, generator=generator)
    per_rank = num_samples // world_size
    return permutation[rank : per_rank * world_size : world_size]


def _sum_across_ranks(values: torch.Tensor, cluster: Cluster) -> torch.Tensor:
    if cluster.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


# --------------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------------


def _unwrap(model: nn.Module) -> nn.Module:
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
            mean = _sum_across_ranks(window / window_batches, cluster) / cluster.world_size
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
    network = _unwrap(model)  # no DDP hooks: ranks may run different numbers of batches here
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
    loss_sum, correct, total = _sum_across_ranks(sums, cluster).tolist()
    return loss_sum / total, correct / total, int(correct), int(total)


@dataclass
class TrainingResult:
    """What a run produced, for callers such as the benchmark."""

    model: nn.Module
    epochs_trained: list[int]
    test_loss: float
    test_accuracy: float
    history: list[dict[str, float]]


def _hyperparameters(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("batch_size", "lr", "momentum", "seed")
    return {key: getattr(args, key) for key in keys}


def _prepare_checkpoint_dir(path: str) -> Path | None:
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


def _save_checkpoint(
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
        "model": {k: v.cpu() for k, v in _unwrap(model).state_dict().items()},
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


def _save_artifacts(model: nn.Module, env: Environment, history: list[dict[str, float]]) -> None:
    env.model_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.cpu() for k, v in _unwrap(model).state_dict().items()}
    _atomic_save(state, env.model_dir / MODEL_FILE)
    code_dir = env.model_dir / "code"
    code_dir.mkdir(exist_ok=True)
    # The serving container imports the inference handlers from /opt/ml/model/code.
    shutil.copyfile(Path(__file__).resolve(), code_dir / "mnist.py")
    logger.info("saved %s and code/mnist.py to %s", MODEL_FILE, env.model_dir)
    if env.output_data_dir is not None:
        env.output_data_dir.mkdir(parents=True, exist_ok=True)
        (env.output_data_dir / "metrics.json").write_text(json.dumps(history, indent=2) + "\n")


def _log_test_metrics(epoch: int, loss: float, accuracy: float, correct: int, total: int) -> None:
    logger.info(
        "epoch=%d test_loss=%.6f test_accuracy=%.6f (%d/%d correct)",
        epoch,
        loss,
        accuracy,
        correct,
        total,
    )


def train(args: argparse.Namespace, env: Environment) -> TrainingResult:
    """Load the data, train (resuming from a checkpoint), evaluate each epoch and save the model."""
    started = time.monotonic()
    train_images, train_labels = load_split(env.train_dir, TRAIN_IMAGES, TRAIN_LABELS)
    test_images, test_labels = load_split(env.test_dir, TEST_IMAGES, TEST_LABELS)
    if env.is_main_host:
        try:  # before training, not after it: SageMaker always sets a writable SM_MODEL_DIR
            env.model_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the model directory {env.model_dir} ({exc}); set SM_MODEL_DIR"
            ) from exc
    device = choose_device(env.num_gpus)
    if env.num_gpus > 0 and device.type == "cpu":
        logger.warning("SM_NUM_GPUS=%d but CUDA is not available: training on CPU", env.num_gpus)
    cluster = init_cluster(env, args.backend, device)
    try:
        train_data = Dataset.from_arrays(train_images, train_labels).to(device)
        test_data = Dataset.from_arrays(test_images, test_labels).to(device)
        logger.info(
            "loaded %d training images from %s and %d test images from %s in %.1fs; device %s",
            len(train_data),
            env.train_dir,
            len(test_data),
            env.test_dir,
            time.monotonic() - started,
            device,
        )
        result = _train(args, env, cluster, device, train_data, test_data)
        logger.info("training finished in %.1fs", time.monotonic() - started)
        return result
    finally:
        if cluster.distributed:
            dist.destroy_process_group()


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


def _resume(
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


def _train(
    args: argparse.Namespace,
    env: Environment,
    cluster: Cluster,
    device: torch.device,
    train_data: Dataset,
    test_data: Dataset,
) -> TrainingResult:
    torch.manual_seed(args.seed)
    network = Net().to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=args.lr, betas=(args.momentum, 0.999))

    checkpoint_dir = _prepare_checkpoint_dir(args.checkpoint_dir) if cluster.is_main else None
    start_epoch, history = _resume(network, optimizer, args, cluster, device, checkpoint_dir)

    model: nn.Module = network
    if cluster.distributed:
        model = DistributedDataParallel(
            network, device_ids=[device] if device.type == "cuda" else None
        )

    epochs_trained: list[int] = []
    for epoch in range(start_epoch, args.epochs + 1):
        epoch_started = time.monotonic()
        indices = shard_indices(len(train_data), cluster.rank, cluster.world_size, args.seed, epoch)
        logger.info(
            "rank=%d world_size=%d epoch=%d shard_samples=%d shard_head=%s",
            cluster.rank,
            cluster.world_size,
            epoch,
            len(indices),
            indices[:8].tolist(),
        )
        torch.manual_seed(_seed_for(args.seed, epoch, cluster.rank))  # dropout masks
        train_epoch(
            model,
            optimizer,
            train_data,
            indices,
            batch_size=args.batch_size,
            epoch=epoch,
            log_interval=args.log_interval,
            cluster=cluster,
        )
        metrics = evaluate(model, test_data, batch_size=args.test_batch_size, cluster=cluster)
        history.append({"epoch": epoch, "test_loss": metrics[0], "test_accuracy": metrics[1]})
        epochs_trained.append(epoch)
        if cluster.is_main:
            _log_test_metrics(epoch, *metrics)
            logger.info("epoch %d took %.1fs", epoch, time.monotonic() - epoch_started)
            if checkpoint_dir is not None and not _save_checkpoint(
                checkpoint_dir, model, optimizer, epoch, args, history
            ):
                checkpoint_dir = None

    if not epochs_trained:
        # Interrupted after the last checkpoint but before the model was saved: evaluate again so
        # that the job still reports its final metrics.
        logger.info(
            "the checkpoint already covers all %d epochs; nothing left to train", args.epochs
        )
        metrics = evaluate(model, test_data, batch_size=args.test_batch_size, cluster=cluster)
        if cluster.is_main:
            _log_test_metrics(args.epochs, *metrics)

    if cluster.is_main:
        _save_artifacts(model, env, history)
    if cluster.distributed:
        dist.barrier()
    return TrainingResult(_unwrap(model), epochs_trained, metrics[0], metrics[1], history)


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)  # CloudWatch gets stdout; metrics are read there
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.handlers[:] = [handler]
    logger.propagate = False
    level = os.environ.get("SM_LOG_LEVEL", "")
    logger.setLevel(int(level) if level.isdigit() else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the training job: 0 on success, 1 when the data or environment is unusable."""
    _configure_logging()
    args = parse_args(argv)
    try:
        env = Environment.from_environ(os.environ)
        logger.info("hyperparameters: %s", json.dumps(vars(args), sort_keys=True))
        train(args, env)
    except (DataError, ConfigError) as exc:
        message = " ".join(str(exc).split())  # one line: the last one on stderr says it all
        sys.stdout.flush()
        write_failure(message)
        print(message, file=sys.stderr, flush=True)
        return 1
    except Exception as exc:
        write_failure(f"{type(exc).__name__}: {exc}")
        raise
    return 0


# --------------------------------------------------------------------------------------------
# Serving: the SageMaker PyTorch inference toolkit calls these four functions.
# The toolkit counts each handler's parameters to decide whether to pass a context, so their
# signatures must stay exactly as they are.
# --------------------------------------------------------------------------------------------

_SHAPES_EXPECTED = (
    "one image shaped (28, 28) or (784,), or a batch shaped (N, 28, 28), (N, 784) or (N, 1, 28, 28)"
)


def model_fn(model_dir: str) -> nn.Module:
    """Load ``model.pth`` from ``model_dir`` onto the GPU if there is one, else the CPU."""
    path = Path(model_dir) / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: model_fn loads the {MODEL_FILE} training writes"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = Net()
    model.load_state_dict(state)
    return model.to(choose_device(torch.cuda.device_count())).eval()


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _check_numbers(data: list[Any]) -> None:
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool) or not isinstance(item, (int, float)):
            raise PayloadError(
                f"pixel values must be numbers between 0 and 255, found {json.dumps(item)[:40]}"
            )


def _json_array(body: str | bytes | bytearray) -> np.ndarray:
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError(f"application/json body is not UTF-8 text: {exc}") from None
    if not body.strip():
        raise PayloadError(f"the request body is empty; expected a JSON array: {_SHAPES_EXPECTED}")
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"the request body is not valid JSON ({exc})") from None
    except RecursionError:
        raise PayloadError(
            f"the JSON arrays are nested too deeply; send {_SHAPES_EXPECTED}"
        ) from None
    if not isinstance(data, list):
        raise PayloadError(
            f"expected a JSON array, got a JSON {type(data).__name__}; send {_SHAPES_EXPECTED}"
        )
    _check_numbers(data)
    try:
        return np.array(data, dtype=np.float64)
    except OverflowError:
        raise PayloadError("pixel values must be numbers between 0 and 255") from None
    except ValueError:  # rows of different lengths, or more dimensions than numpy allows
        raise PayloadError(
            f"the JSON arrays are ragged or nested too deeply; expected {_SHAPES_EXPECTED}"
        ) from None


def _npy_array(body: str | bytes | bytearray) -> np.ndarray:
    if isinstance(body, str):
        raise PayloadError(
            "an application/x-npy body must be the bytes numpy.save writes, not text"
        )
    if not body:
        raise PayloadError(f"the request body is empty; expected a .npy array: {_SHAPES_EXPECTED}")
    try:
        array = np.load(io.BytesIO(bytes(body)), allow_pickle=False)
    except Exception as exc:
        raise PayloadError(f"the body is not an array written by numpy.save ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise PayloadError("the body is a .npz archive; send one array written by numpy.save")
    if array.dtype.kind not in "iuf":
        raise PayloadError(
            f"expected a numeric array of pixel values 0-255, got dtype {array.dtype}"
        )
    return array.astype(np.float64)


def _as_batch(array: np.ndarray) -> np.ndarray:
    shape, side = array.shape, IMAGE_SIDE
    if shape in ((side, side), (side * side,)):
        return array.reshape(1, side, side)
    batch_shapes = ((side * side,), (side, side), (1, side, side))
    if array.ndim >= 2 and shape[1:] in batch_shapes:
        if shape[0] == 0:
            raise PayloadError(f"the batch holds no images; expected {_SHAPES_EXPECTED}")
        return array.reshape(-1, side, side)
    raise PayloadError(f"expected {_SHAPES_EXPECTED}; got an array shaped {shape}")


def input_fn(
    request_body: str | bytes | bytearray, request_content_type: str | None
) -> torch.Tensor:
    """Decode a JSON or NPY request of MNIST images (pixels 0-255) into normalised model input."""
    media_type = _media_type(request_content_type or "")
    if media_type == JSON_CONTENT_TYPE:
        array = _json_array(request_body)
    elif media_type == NPY_CONTENT_TYPE:
        array = _npy_array(request_body)
    else:
        raise PayloadError(
            f"unsupported content type {request_content_type!r}: send {JSON_CONTENT_TYPE} "
            f"or {NPY_CONTENT_TYPE}"
        )
    batch = _as_batch(array)
    if not np.isfinite(batch).all():
        raise PayloadError("pixel values must be finite numbers between 0 and 255")
    low, high = float(batch.min()), float(batch.max())
    if low < 0 or high > 255:
        raise PayloadError(
            f"pixel values must be between 0 and 255 as in the MNIST files; got {low:g} to {high:g}"
        )
    return normalize_pixels(batch)


def predict_fn(input_data: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """Class probabilities, shaped (N, 10), on the CPU."""
    expected = (1, IMAGE_SIDE, IMAGE_SIDE)
    if not isinstance(input_data, torch.Tensor) or input_data.shape[1:] != expected:
        raise PayloadError("predict_fn expects the (N, 1, 28, 28) tensor that input_fn returns")
    device = next(model.parameters()).device
    model.eval()
    with torch.inference_mode():
        return model(input_data.to(device)).exp().cpu()


def output_fn(prediction: torch.Tensor, accept: str | None) -> bytes:
    """Serialise the probabilities as ``{"predictions": [{"label", "probabilities"}, ...]}``."""
    offered = [_media_type(part) for part in (accept or "").split(",") if part.strip()]
    if offered and not {JSON_CONTENT_TYPE, "application/*", "*/*"} & set(offered):
        raise PayloadError(
            f"unsupported accept type {accept!r}: this endpoint responds with {JSON_CONTENT_TYPE}"
        )
    probabilities = prediction.detach().cpu().double()
    predictions = [
        {"label": int(row.argmax()), "probabilities": row.tolist()} for row in probabilities
    ]
    return json.dumps({"predictions": predictions}).encode("utf-8")


if __name__ == "__main__":
    sys.exit(main())
