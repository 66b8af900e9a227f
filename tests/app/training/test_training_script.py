"""The training script's parts called in this process: arguments, environment, data, checkpoints."""

from __future__ import annotations

import ast
import gzip
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from mlpipeline_cdk.contract.script import ACCURACY_METRIC, TEST_LOSS_METRIC, parse_metrics

from .helpers import ONE_EPOCH_ARGS, SCRIPT, SCRIPT_FILES, Run, script_env, with_epochs

# Slow: trains the real script with torch; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

RunMain = Callable[[], tuple[int, str, str]]

# --- importing the script --------------------------------------------------------------------


def test_importing_the_script_prints_nothing_and_writes_nothing(tmp_path: Path) -> None:
    # The script's folder on sys.path, as both toolkits put it, so that its modules import.
    code = (
        f"import runpy, sys; sys.path.insert(0, {str(SCRIPT.parent)!r}); "
        f"runpy.run_path({str(SCRIPT)!r}, run_name='mnist')"
    )
    env = script_env({"SM_MODEL_DIR": str(tmp_path / "model"), "SM_OUTPUT_DIR": str(tmp_path)})
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", SCRIPT_FILES)
def test_script_parses_as_python_3_8_for_older_serving_containers(name: str) -> None:
    ast.parse((SCRIPT.parent / name).read_text(), feature_version=(3, 8))


# --- hyperparameters -------------------------------------------------------------------------


def test_defaults_are_the_tuned_ones(mnist: ModuleType) -> None:
    args = mnist.parse_args([])
    assert (args.epochs, args.batch_size, args.test_batch_size) == (6, 64, 1000)
    assert (args.lr, args.momentum, args.seed, args.log_interval) == (0.002, 0.9, 1, 10)
    assert (args.backend, args.checkpoint_dir) == ("auto", "/opt/ml/checkpoints")


def test_hyperparameters_arrive_as_strings(mnist: ModuleType) -> None:
    args = mnist.parse_args(list(ONE_EPOCH_ARGS))
    assert (args.epochs, args.batch_size, args.test_batch_size) == (1, 64, 100)
    assert (args.lr, args.momentum, args.seed, args.log_interval) == (0.002, 0.9, 3, 5)
    assert args.backend == "gloo"


def test_a_whole_float_counts_as_an_integer(mnist: ModuleType) -> None:
    assert mnist.parse_args(["--epochs", "6.0"]).epochs == 6


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
        (["--batch-size", "6.5"], "argument --batch-size: expected a positive integer"),
        (["--lr", "-0.1"], "argument --lr: expected a positive number, got '-0.1'"),
        (["--lr", "nan"], "argument --lr: expected a positive number, got 'nan'"),
        (["--momentum", "1"], "argument --momentum: expected a number in [0, 1), got '1'"),
        (["--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
        (["--backend", "mpi"], "argument --backend: invalid choice: 'mpi'"),
        (["--learning-rate", "0.1"], "unrecognized arguments: --learning-rate 0.1"),
        (["--epoch", "3"], "unrecognized arguments: --epoch 3"),
    ],
)
def test_bad_hyperparameters_are_refused_and_reported(
    mnist: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exited:
        mnist.parse_args(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert message in (tmp_path / "failure").read_text()


# --- the SageMaker environment ---------------------------------------------------------------


def test_outside_sagemaker_a_single_cpu_host_is_assumed(mnist: ModuleType) -> None:
    env = mnist.Environment.from_environ({})
    assert (env.hosts, env.current_host, env.num_gpus) == (["algo-1"], "algo-1", 0)
    assert env.model_dir == Path("/opt/ml/model")
    assert env.train_dir == env.test_dir == Path("/opt/ml/input/data/training")
    assert env.output_data_dir is None


def test_sagemaker_variables_are_read(mnist: ModuleType) -> None:
    env = mnist.Environment.from_environ(
        {
            "SM_MODEL_DIR": "/m",
            "SM_CHANNEL_TRAINING": "/train",
            "SM_CHANNEL_TESTING": "/test",
            "SM_HOSTS": '["algo-1","algo-2"]',
            "SM_CURRENT_HOST": "algo-2",
            "SM_NUM_GPUS": "1",
            "SM_OUTPUT_DATA_DIR": "/out",
        }
    )
    assert (env.model_dir, env.train_dir, env.test_dir) == (
        Path("/m"),
        Path("/train"),
        Path("/test"),
    )
    assert (env.hosts, env.current_host, env.num_gpus) == (["algo-1", "algo-2"], "algo-2", 1)
    assert env.output_data_dir == Path("/out")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SM_HOSTS": "algo-1"}, "SM_HOSTS is not JSON"),
        ({"SM_HOSTS": "[]"}, "SM_HOSTS must be a JSON list of host names"),
        ({"SM_HOSTS": '["algo-1","algo-2"]'}, "SM_CURRENT_HOST '' is not one of SM_HOSTS"),
        ({"SM_CURRENT_HOST": "algo-9"}, "SM_CURRENT_HOST 'algo-9' is not one of SM_HOSTS"),
        ({"SM_NUM_GPUS": "one"}, "SM_NUM_GPUS must be an integer"),
    ],
)
def test_inconsistent_environments_are_refused(
    mnist: ModuleType, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(mnist.ConfigError, match=message):
        mnist.Environment.from_environ(environ)


# --- sharding --------------------------------------------------------------------------------


@pytest.mark.parametrize(("samples", "world_size"), [(960, 2), (1001, 3), (7, 7)])
def test_shards_are_disjoint_equal_and_cover_all_but_the_remainder(
    mnist: ModuleType, samples: int, world_size: int
) -> None:
    shards = [
        mnist.shard_indices(samples, r, world_size, seed=1, epoch=1) for r in range(world_size)
    ]
    assert {len(shard) for shard in shards} == {samples // world_size}
    union = torch.cat(shards)
    assert len(set(union.tolist())) == len(union) == samples - samples % world_size
    assert all(0 <= i < samples for i in union.tolist())


def test_shards_reshuffle_each_epoch_and_repeat_for_a_seed(mnist: ModuleType) -> None:
    epoch1 = mnist.shard_indices(960, 0, 2, seed=1, epoch=1)
    assert torch.equal(epoch1, mnist.shard_indices(960, 0, 2, seed=1, epoch=1))
    assert not torch.equal(epoch1, mnist.shard_indices(960, 0, 2, seed=1, epoch=2))
    assert not torch.equal(epoch1, mnist.shard_indices(960, 0, 2, seed=2, epoch=1))


def test_more_hosts_than_samples_is_refused(mnist: ModuleType) -> None:
    with pytest.raises(mnist.ConfigError, match="3 training samples cannot be shared by 4 hosts"):
        mnist.shard_indices(3, 0, 4, seed=1, epoch=1)


@pytest.fixture
def single_thread() -> Iterator[None]:
    # The subprocess runs use one thread; equal thread counts give bitwise-equal results.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- data problems: refused before training, the file named ----------------------------------


def _corrupt(channel: Path, name: str, data: bytes) -> Path:
    for stale in (channel / name, channel / f"{name}.gz"):
        stale.unlink(missing_ok=True)
    (channel / name).write_bytes(data)
    return channel / name


def _images_file(count: int, rows: int = 28) -> bytes:
    header = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (count, rows, 28))
    return header + bytes(count * rows * 28)


@pytest.fixture
def channel(tmp_path: Path, gz_channel: Path) -> Path:
    copy = tmp_path / "channel"
    shutil.copytree(gz_channel, copy)
    return copy


@pytest.fixture
def run_main(
    mnist: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    channel: Path,
) -> Iterator[RunMain]:
    for key in [k for k in os.environ if k.startswith("SM_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SM_CHANNEL_TRAINING", str(channel))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path / "output"))

    def run() -> tuple[int, str, str]:
        code = mnist.main(["--epochs", "1", "--checkpoint-dir", str(tmp_path / "ckpt")])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("train-images-idx3-ubyte", (2049).to_bytes(4, "big") + bytes(12), "bad magic number 2049"),
        ("train-labels-idx1-ubyte", (2049).to_bytes(4, "big"), "truncated: 4 bytes is shorter"),
        ("t10k-images-idx3-ubyte", _images_file(240)[:-100], "truncated: the header announces 240"),
        ("t10k-images-idx3-ubyte", _images_file(240) + b"x", "1 unexpected bytes after the 240"),
        ("t10k-images-idx3-ubyte", _images_file(240, rows=27), "images are 27x28 pixels"),
        ("train-labels-idx1-ubyte.gz", b"\x1f\x8bnot gzip", "cannot be read"),
    ],
)
def test_a_malformed_file_is_refused_naming_it(
    run_main: RunMain, channel: Path, name: str, content: bytes, problem: str
) -> None:
    if name.endswith(".gz"):
        (channel / name).write_bytes(content)
        path = channel / name
    else:
        path = _corrupt(channel, name, content)
    code, out, err = run_main()
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith(str(path)) and problem in last
    assert "train_loss=" not in out


def test_image_and_label_counts_must_agree(run_main: RunMain, channel: Path) -> None:
    images = _corrupt(channel, "t10k-images-idx3-ubyte", _images_file(239))
    code, _, err = run_main()
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"{images} holds 239 images but {channel / 't10k-labels-idx1-ubyte.gz'} holds 240 "
        "labels; the counts must agree"
    )


def test_labels_outside_0_to_9_are_refused(run_main: RunMain, channel: Path) -> None:
    labels = (2049).to_bytes(4, "big") + (240).to_bytes(4, "big") + bytes([12] * 240)
    path = _corrupt(channel, "t10k-labels-idx1-ubyte", labels)
    code, _, err = run_main()
    assert code == 1
    assert err.strip().splitlines()[-1] == f"{path}: label 12 is outside 0-9"


def test_a_missing_file_is_refused_naming_it(
    run_main: RunMain, channel: Path, tmp_path: Path
) -> None:
    (channel / "train-labels-idx1-ubyte.gz").unlink()
    code, _, err = run_main()
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"{channel / 'train-labels-idx1-ubyte'}: file not found")
    assert "files present: t10k-images-idx3-ubyte.gz" in last
    assert (tmp_path / "output" / "failure").read_text().strip() == last


def test_both_forms_of_a_file_are_refused_as_ambiguous(run_main: RunMain, channel: Path) -> None:
    packed = channel / "train-labels-idx1-ubyte.gz"
    (channel / "train-labels-idx1-ubyte").write_bytes(gzip.decompress(packed.read_bytes()))
    code, _, err = run_main()
    assert code == 1
    assert "both train-labels-idx1-ubyte and train-labels-idx1-ubyte.gz are present" in err


def test_a_missing_channel_names_the_variables_to_set(
    run_main: RunMain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SM_CHANNEL_TRAINING", str(tmp_path / "nowhere"))
    code, _, err = run_main()
    assert code == 1
    assert f"the data directory {tmp_path / 'nowhere'} does not exist" in err
    assert "SM_CHANNEL_TRAINING" in err


@pytest.mark.usefixtures("single_thread")
def test_test_files_come_from_the_testing_channel_when_given(
    run_main: RunMain, monkeypatch: pytest.MonkeyPatch, channel: Path, tmp_path: Path
) -> None:
    testing = tmp_path / "testing"
    testing.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.move(channel / name, testing / name)
    monkeypatch.setenv("SM_CHANNEL_TESTING", str(testing))
    code, out, _ = run_main()
    assert code == 0
    assert f"and 240 test images from {testing}" in out


# --- checkpoints, in process -------------------------------------------------------------------


def _env(mnist: ModuleType, tmp_path: Path, channel: Path) -> Any:
    return mnist.Environment(model_dir=tmp_path / "model", train_dir=channel, test_dir=channel)


@pytest.mark.usefixtures("single_thread")
def test_resumed_run_ends_where_an_uninterrupted_run_ends(
    mnist: ModuleType, resumed_run: Run, tmp_path: Path, gz_channel: Path
) -> None:
    resumed_run.assert_succeeded()
    args = mnist.parse_args([*with_epochs(ONE_EPOCH_ARGS, 2), "--checkpoint-dir", str(tmp_path)])
    straight = mnist.train(args, _env(mnist, tmp_path, gz_channel))
    assert straight.epochs_trained == [1, 2]
    resumed = torch.load(resumed_run.model_dir / "model.pth", weights_only=True)
    uninterrupted = straight.model.state_dict()
    assert resumed.keys() == uninterrupted.keys()
    for key, tensor in resumed.items():
        assert torch.equal(tensor, uninterrupted[key]), key


@pytest.mark.usefixtures("single_thread")
def test_a_checkpoint_covering_all_epochs_still_reports_and_saves(
    mnist: ModuleType,
    one_epoch_run: Run,
    tmp_path: Path,
    gz_channel: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A job interrupted after its last checkpoint but before saving the model.
    one_epoch_run.assert_succeeded()
    shutil.copytree(one_epoch_run.checkpoint_dir, tmp_path / "ckpt")
    mnist._configure_logging()
    args = mnist.parse_args([*ONE_EPOCH_ARGS, "--checkpoint-dir", str(tmp_path / "ckpt")])
    result = mnist.train(args, _env(mnist, tmp_path, gz_channel))
    log = capsys.readouterr().out
    assert result.epochs_trained == []
    assert "nothing left to train" in log and "train_loss=" not in log
    metrics = parse_metrics(log)
    assert metrics[ACCURACY_METRIC] == parse_metrics(one_epoch_run.stdout)[ACCURACY_METRIC]
    assert len(metrics[TEST_LOSS_METRIC]) == 1
    assert (tmp_path / "model" / "model.pth").is_file()


@pytest.mark.usefixtures("single_thread")
def test_an_uncreatable_checkpoint_dir_only_disables_checkpoints(
    mnist: ModuleType, tmp_path: Path, gz_channel: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    args = mnist.parse_args(["--epochs", "1", "--checkpoint-dir", str(blocker / "ckpt")])
    with caplog.at_level(logging.INFO, logger="mnist"):
        result = mnist.train(args, _env(mnist, tmp_path, gz_channel))
    assert result.epochs_trained == [1]
    assert f"checkpoints disabled: cannot create {blocker / 'ckpt'}" in caplog.text
    assert (tmp_path / "model" / "model.pth").is_file()


def test_an_unreadable_checkpoint_is_refused_naming_it(run_main: RunMain, tmp_path: Path) -> None:
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    code, out, err = run_main()
    assert code == 1
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(f"{tmp_path / 'ckpt' / 'checkpoint.pt'}: not a checkpoint")
    )
    assert "train_loss=" not in out


def test_an_uncreatable_model_dir_is_refused_before_training(
    run_main: RunMain, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SM_MODEL_DIR", str(blocker / "model"))
    code, out, err = run_main()
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"cannot create the model directory {blocker / 'model'}")
    assert last.endswith("set SM_MODEL_DIR")
    assert "train_loss=" not in out
