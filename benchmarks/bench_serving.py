"""Benchmark the serving path of the training script (training_code/mnist_serving.py).

For JSON and NPY requests of 1 and 100 MNIST digits, the requests per second of the handlers the
endpoint runs (``input_fn`` → ``predict_fn`` → ``output_fn``, the model loaded by ``model_fn``)
against a bare forward pass of the same model on the same, already normalised, batch. Each pair
is measured call by call in turn in this one process; the ratio is the median over all pairs of
calls of the bare call's time over the handlers' (each pair sees the same load).
Targets at batch 100: JSON at least 0.45 of the bare forward pass, NPY at least 0.9; the
benchmark exits 1 when one is missed.

Run: ``.venv/bin/python -m benchmarks.bench_serving [--rounds 5] [--seconds 1] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from scripts.mnist_data import load_sample_digits
from scripts.training_script import load_script

TARGETS = {"application/json": 0.45, "application/x-npy": 0.9}
BATCHES = (1, 100)


def body(images: np.ndarray, content_type: str) -> str | bytes:
    """What a client sends: pixel values as whole numbers (as ``mlpipeline predict`` does)."""
    if content_type == "application/json":
        return json.dumps(images.astype(np.int64).tolist(), separators=(",", ":"))
    buffer = io.BytesIO()
    np.save(buffer, images.astype(np.uint8), allow_pickle=False)
    return buffer.getvalue()


def paired(
    serve: Callable[[], Any], bare: Callable[[], Any], seconds: float
) -> tuple[list[float], list[float]]:
    """Seconds per call of each, for calls made one of each in turn for at least ``seconds``."""
    serve(), bare()  # warm up
    served: list[float] = []
    bared: list[float] = []
    while sum(served) + sum(bared) < seconds:
        started = time.perf_counter()
        serve()
        middle = time.perf_counter()
        bare()
        served.append(middle - started)
        bared.append(time.perf_counter() - middle)
    return served, bared


def measure(
    mnist: ModuleType,
    model: torch.nn.Module,
    images: np.ndarray,
    content_type: str,
    rounds: int,
    seconds: float,
) -> tuple[float, float, float]:
    """Requests/s of the handlers and of the bare forward pass (medians over all calls), and
    the median over all pairs of their ratio: a pair's two calls run a few milliseconds apart,
    so each ratio sees one load of a shared machine."""
    request = body(images, content_type)
    ready = mnist.input_fn(request, content_type)

    def serve() -> bytes:
        prediction = mnist.predict_fn(mnist.input_fn(request, content_type), model)
        return mnist.output_fn(prediction, "application/json")  # type: ignore[no-any-return]

    def bare() -> torch.Tensor:
        with torch.inference_mode():
            return model(ready)  # type: ignore[no-any-return]

    served: list[float] = []
    bared: list[float] = []
    for _ in range(rounds):
        s, b = paired(serve, bare, seconds)
        served += s
        bared += b
    ratio = statistics.median(b / s for s, b in zip(served, bared, strict=True))
    return 1 / statistics.median(served), 1 / statistics.median(bared), ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="per round and request")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    mnist = load_script()
    images = load_sample_digits()[0]
    with tempfile.TemporaryDirectory() as model_dir:
        torch.manual_seed(0)
        torch.save(mnist.Net().state_dict(), Path(model_dir) / "model.pth")
        model = mnist.model_fn(model_dir)  # the model as the endpoint loads it
    print(f"serving path vs bare forward pass, {args.threads} thread(s), {args.rounds} rounds")
    print(f"{'request':<20} {'batch':>5} {'handlers/s':>11} {'forward/s':>10} {'ratio':>6}")
    missed = []
    for content_type in TARGETS:
        for size in BATCHES:
            served, bare, ratio = measure(
                mnist, model, images[:size], content_type, args.rounds, args.seconds
            )
            target = TARGETS[content_type] if size == max(BATCHES) else None
            verdict = "" if target is None else f"  target >= {target}"
            if target is not None and ratio < target:
                verdict += "  MISSED"
                missed.append(f"{content_type} at batch {size}: {ratio:.2f} < {target}")
            print(
                f"{content_type:<20} {size:>5} {served:>11.0f} {bare:>10.0f} {ratio:>6.2f}{verdict}"
            )
    if missed:
        print("missed: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
