"""The training script run as the SageMaker training toolkit runs it: a process with SM_* env."""

from __future__ import annotations

import json
import math
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from mlpipeline_cdk.contract.script import (
    ACCURACY_METRIC,
    METRIC_DEFINITIONS,
    TEST_LOSS_METRIC,
    TRAIN_LOSS_METRIC,
    parse_metrics,
)

from .helpers import (
    ONE_EPOCH_ARGS,
    SCRIPT,
    SCRIPT_FILES,
    TEST_SAMPLES,
    TRAIN_SAMPLES,
    Run,
    run_script,
)

# Slow: runs the real script as one and two training hosts; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

TRAIN_LINE = re.compile(r"epoch=(\d+) batch=(\d+)/(\d+) train_loss=")
TEST_LINE = re.compile(r"epoch=(\d+) test_loss=\S+ test_accuracy=(\S+) \((\d+)/(\d+) correct\)")
SHARD_LINE = re.compile(
    r"rank=(\d+) world_size=(\d+) epoch=(\d+) shard_samples=(\d+) shard_head=\[([\d, ]+)\]"
)


def _epochs(pattern: re.Pattern[str], log: str) -> list[int]:
    return [int(match.group(1)) for match in pattern.finditer(log)]


# --- one epoch, run as the container runs it ------------------------------------------------


def test_one_epoch_exits_zero_and_leaves_no_failure_file(one_epoch_run: Run) -> None:
    one_epoch_run.assert_succeeded()
    assert not (one_epoch_run.output_dir / "failure").exists()


def test_model_is_a_cpu_state_dict_of_the_network(one_epoch_run: Run, mnist: ModuleType) -> None:
    one_epoch_run.assert_succeeded()
    state = torch.load(one_epoch_run.model_dir / "model.pth", weights_only=True)
    assert all(tensor.device.type == "cpu" for tensor in state.values())
    network = mnist.Net()
    network.load_state_dict(state)  # strict: no key missing, none extra, no "module." prefix
    assert set(state) == set(network.state_dict())


def test_script_and_its_modules_are_copied_to_the_model_code_folder(one_epoch_run: Run) -> None:
    one_epoch_run.assert_succeeded()
    code = one_epoch_run.model_dir / "code"
    assert SCRIPT.name in SCRIPT_FILES and len(SCRIPT_FILES) > 1
    assert sorted(path.name for path in code.iterdir()) == list(SCRIPT_FILES)
    for name in SCRIPT_FILES:
        assert (code / name).read_bytes() == (SCRIPT.parent / name).read_bytes(), name


def test_the_code_folder_serves_on_its_own(one_epoch_run: Run, tmp_path: Path) -> None:
    # As the inference toolkit does: code/ on the path, the entry point imported from there.
    one_epoch_run.assert_succeeded()
    code, model_dir = one_epoch_run.model_dir / "code", one_epoch_run.model_dir
    program = (
        "import sys; sys.path.insert(0, sys.argv[1]); import mnist; "
        "body = mnist.input_fn('[' + ','.join(['0'] * 784) + ']', 'application/json'); "
        "print(mnist.output_fn(mnist.predict_fn(body, mnist.model_fn(sys.argv[2])), None)); "
        "print(sorted(m.__file__ for n, m in sys.modules.items() if n.startswith('mnist')))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", program, str(code), str(model_dir)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    response, files = result.stdout.splitlines()
    assert '"predictions": [{"label": ' in response
    assert files == repr([str(code / name) for name in SCRIPT_FILES])


def test_metric_definitions_capture_the_printed_metrics(one_epoch_run: Run) -> None:
    one_epoch_run.assert_succeeded()
    log = one_epoch_run.stdout
    metrics = parse_metrics(log)
    assert set(metrics) == {definition["Name"] for definition in METRIC_DEFINITIONS}

    batches = math.ceil(TRAIN_SAMPLES / 64)  # 15, with a train_loss line every 5
    assert len(metrics[TRAIN_LOSS_METRIC]) == len(TRAIN_LINE.findall(log)) == batches // 5
    assert all(0 < loss < 10 for loss in metrics[TRAIN_LOSS_METRIC])
    assert metrics[TRAIN_LOSS_METRIC][-1] < metrics[TRAIN_LOSS_METRIC][0]  # it learns

    (test_line,) = TEST_LINE.findall(log)  # one test line for the one epoch
    (test_loss,) = metrics[TEST_LOSS_METRIC]
    (accuracy,) = metrics[ACCURACY_METRIC]
    _, printed, correct, total = test_line
    assert 0 < test_loss < 10
    assert accuracy == float(printed) == round(int(correct) / int(total), 6)
    assert int(total) == TEST_SAMPLES
    assert 0.3 < accuracy <= 1  # a fraction, far above chance after one epoch


def test_every_hyperparameter_reaches_the_run(one_epoch_run: Run) -> None:
    one_epoch_run.assert_succeeded()
    line = next(x for x in one_epoch_run.stdout.splitlines() if "hyperparameters: " in x)
    used = json.loads(line.split("hyperparameters: ", 1)[1])
    given = dict(zip(ONE_EPOCH_ARGS[::2], ONE_EPOCH_ARGS[1::2], strict=True))
    for flag, value in given.items():
        assert str(used[flag.removeprefix("--").replace("-", "_")]) == value, flag


def test_output_data_dir_receives_the_metric_history(one_epoch_run: Run) -> None:
    one_epoch_run.assert_succeeded()
    history = json.loads(
        (one_epoch_run.output_dir / "data" / "algo-1" / "metrics.json").read_text()
    )
    assert [entry["epoch"] for entry in history] == [1]
    assert history[0]["test_accuracy"] == parse_metrics(one_epoch_run.stdout)[ACCURACY_METRIC][0]


# --- checkpoints ----------------------------------------------------------------------------


def test_checkpoint_dir_holds_only_the_finished_checkpoint(one_epoch_run: Run) -> None:
    one_epoch_run.assert_succeeded()
    assert [p.name for p in one_epoch_run.checkpoint_dir.iterdir()] == ["checkpoint.pt"]
    checkpoint = torch.load(one_epoch_run.checkpoint_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 1
    assert {"model", "optimizer", "hyperparameters", "history"} <= set(checkpoint)


def test_resume_trains_only_the_epochs_after_the_checkpoint(resumed_run: Run) -> None:
    resumed_run.assert_succeeded()
    log = resumed_run.stdout
    assert "continuing with epoch 2 of 2" in log
    assert set(_epochs(TRAIN_LINE, log)) == {2}
    assert _epochs(TEST_LINE, log) == [2]
    checkpoint = torch.load(resumed_run.checkpoint_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 2
    assert [entry["epoch"] for entry in checkpoint["history"]] == [1, 2]


# --- distributed: two hosts on 127.0.0.1 ----------------------------------------------------


def test_both_hosts_join_and_finish(two_host_runs: list[Run]) -> None:
    for run in two_host_runs:
        run.assert_succeeded()
        assert "joined gloo process group at 127.0.0.1" in run.stdout


def test_only_rank_zero_writes_the_model(two_host_runs: list[Run]) -> None:
    rank0, rank1 = two_host_runs
    assert (rank0.model_dir / "model.pth").is_file()
    for name in SCRIPT_FILES:
        assert (rank0.model_dir / "code" / name).is_file(), name
    assert not rank1.model_dir.exists()
    assert not rank1.checkpoint_dir.exists()


def test_only_rank_zero_prints_metrics(two_host_runs: list[Run]) -> None:
    rank0, rank1 = two_host_runs
    assert all(not values for values in parse_metrics(rank1.stdout).values())
    metrics = parse_metrics(rank0.stdout)
    # Each rank trains 480 digits: 8 batches of 64 (the last of 32), a train_loss line every 2.
    assert len(metrics[TRAIN_LOSS_METRIC]) == 4
    (test_line,) = TEST_LINE.findall(rank0.stdout)
    assert int(test_line[3]) == TEST_SAMPLES  # the whole test set, summed over both ranks
    assert 0 < metrics[ACCURACY_METRIC][0] <= 1


def test_ranks_train_on_distinct_equal_shards(two_host_runs: list[Run]) -> None:
    shards = [SHARD_LINE.search(run.stdout) for run in two_host_runs]
    assert shards[0] is not None and shards[1] is not None
    assert [int(m.group(1)) for m in shards] == [0, 1]
    assert [int(m.group(2)) for m in shards] == [2, 2]
    assert [int(m.group(4)) for m in shards] == [TRAIN_SAMPLES // 2] * 2
    heads = [{int(i) for i in m.group(5).split(",")} for m in shards]
    assert not heads[0] & heads[1]


# --- a data problem stops the job before training ------------------------------------------


def test_bad_file_fails_the_process_naming_it_last_on_stderr(
    tmp_path: Path, gz_channel: Path
) -> None:
    channel = tmp_path / "channel"
    shutil.copytree(gz_channel, channel)
    (channel / "t10k-labels-idx1-ubyte.gz").unlink()
    (channel / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03" + bytes(12))
    run = run_script(tmp_path, channel, ["--epochs", "1"])
    assert run.process.returncode == 1
    last_line = run.process.stderr.strip().splitlines()[-1]
    assert last_line.startswith(str(channel / "t10k-labels-idx1-ubyte"))
    assert "bad magic number 2051, expected 2049" in last_line
    assert (run.output_dir / "failure").read_text().strip() == last_line
    assert "train_loss=" not in run.stdout
    assert not run.model_dir.exists()


# --- a native crash leaves the Python stack in the job's log -----------------------------------

#: Loaded by Python at start-up (a ``sitecustomize`` module on ``PYTHONPATH``), before the script
#: runs: saving the model becomes an abort, a stand-in for a C++ ``std::terminate`` inside torch,
#: which Python cannot catch.
_ABORT_WHILE_SAVING = f"""
import os, sys
sys.path.insert(0, {str(SCRIPT.parent)!r})
import mnist_training
mnist_training.save_artifacts = lambda *args, **kwargs: os.abort()
"""


def test_a_native_abort_prints_the_python_stack_to_stderr(tmp_path: Path, gz_channel: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_ABORT_WHILE_SAVING, encoding="utf-8")
    run = run_script(tmp_path, gz_channel, ["--epochs", "1"], PYTHONPATH=str(site))
    stderr = run.process.stderr
    assert run.process.returncode == -signal.SIGABRT, stderr[-2000:]
    assert "Fatal Python error: Aborted" in stderr
    stack = stderr[stderr.index("Fatal Python error") :]
    assert re.search(r'File ".*mnist\.py", line \d+ in _train', stack), stack
    assert re.search(r'File ".*mnist\.py", line \d+ in main', stack), stack
