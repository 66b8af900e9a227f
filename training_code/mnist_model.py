"""The network, the MNIST IDX files it learns from and the pixels it sees, for training and serving.

Part of the training script (see ``mnist.py``); copied with it to ``code/`` of the model archive.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the name PyTorch's examples and the blog post use
from torch import nn

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


class DataError(ValueError):
    """A training or test file is missing or not a valid MNIST IDX file."""


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


def choose_device(num_gpus: int) -> torch.device:
    """The first GPU when the host has one and CUDA works, else the CPU (one process per host)."""
    return (
        torch.device("cuda", 0)
        if num_gpus > 0 and torch.cuda.is_available()
        else torch.device("cpu")
    )


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
