"""Train and serve the MNIST classifier of the PyTorch example in SageMaker's PyTorch containers.

Training (SageMaker training toolkit): the toolkit runs ``python mnist.py --epochs 6 ...`` with
one ``--name value`` pair per hyperparameter and describes the job in ``SM_*`` environment
variables. The script reads the four MNIST IDX files of the ``training`` channel (and of the
``testing`` channel when there is one), trains the network on one or more hosts, prints the metric
lines ``train_loss=<float>``, ``test_loss=<float>`` and ``test_accuracy=<fraction>``, checkpoints
every epoch to ``--checkpoint-dir`` (and resumes from there), and writes ``model.pth`` plus a copy
of this file and of the modules beside it to ``code/`` in ``SM_MODEL_DIR``.

Serving (SageMaker PyTorch inference toolkit): the model server puts ``/opt/ml/model/code`` on
the Python path, imports this file from there and calls ``model_fn``, ``input_fn``,
``predict_fn`` and ``output_fn``, which this module re-exports from ``mnist_serving``.

This file is the entry point: hyperparameters, ``main`` and the training loop. The rest of the
script sits beside it, imported as top-level modules (the folder SageMaker runs the script from is
on the Python path, in training as in serving):

- ``mnist_model.py``: the network, the MNIST IDX files and pixel normalisation;
- ``mnist_hosts.py``: the ``SM_*`` environment, the process group of several hosts, data shards;
- ``mnist_training.py``: one epoch, the evaluation, checkpoints and the saved model;
- ``mnist_serving.py``: the inference handlers.

Importing this module only defines things; training runs under ``if __name__ == "__main__"``.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mnist_hosts import (
    Cluster,
    ConfigError,
    Environment,
    init_cluster,
    seed_for,
    shard_indices,
    write_failure,
)
from mnist_model import (
    MNIST_MEAN,
    MNIST_STD,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    DataError,
    Dataset,
    Net,
    choose_device,
    load_split,
)
from mnist_serving import PayloadError, input_fn, model_fn, output_fn, predict_fn
from mnist_training import (
    TrainingResult,
    evaluate,
    prepare_checkpoint_dir,
    resume,
    save_artifacts,
    save_checkpoint,
    train_epoch,
    unwrap,
)

#: What callers find on this module: the serving toolkit looks its handlers up here, by name.
__all__ = [
    "MNIST_MEAN",
    "MNIST_STD",
    "ConfigError",
    "DataError",
    "Dataset",
    "Environment",
    "Net",
    "PayloadError",
    "TrainingResult",
    "build_parser",
    "evaluate",
    "input_fn",
    "main",
    "model_fn",
    "output_fn",
    "parse_args",
    "predict_fn",
    "shard_indices",
    "train",
    "train_epoch",
]

logger = logging.getLogger("mnist")

DEFAULT_CHECKPOINT_DIR = "/opt/ml/checkpoints"


# --------------------------------------------------------------------------------------------
# Hyperparameters
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
        prog=os.path.basename(__file__),  # the entry point, under whatever name it has
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


# --------------------------------------------------------------------------------------------
# The training loop and the entry point
# --------------------------------------------------------------------------------------------


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

    checkpoint_dir = prepare_checkpoint_dir(args.checkpoint_dir) if cluster.is_main else None
    start_epoch, history = resume(network, optimizer, args, cluster, device, checkpoint_dir)

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
        torch.manual_seed(seed_for(args.seed, epoch, cluster.rank))  # dropout masks
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
            if checkpoint_dir is not None and not save_checkpoint(
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
        save_artifacts(model, env, history)
    if cluster.distributed:
        dist.barrier()
    return TrainingResult(unwrap(model), epochs_trained, metrics[0], metrics[1], history)


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


if __name__ == "__main__":
    # A native crash (a C++ abort or a segmentation fault inside torch or its process group)
    # otherwise leaves one line such as "terminate called ..." in the job's log: print every
    # thread's Python stack to stderr as well, which CloudWatch keeps beside it.
    faulthandler.enable()
    sys.exit(main())
