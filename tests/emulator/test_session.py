"""The emulator process: where its state lives, how it is found from any folder, and that it
stops, whatever ends the block that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlpipeline_emulator.session import (
    HOME_VARIABLE,
    STATE_FILE,
    emulator_session,
    ensure_emulator,
    running_emulator,
    start_emulator,
    state_home,
)
from tests.emulator.processes import Lines, kill_group, process_group

# Slow: starts and stops emulator processes; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
#: Generous for a loaded machine (two suites at once on two cores), yet bounded.
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0


def test_state_home_is_the_variable_else_the_xdg_state_folder() -> None:
    assert state_home({HOME_VARIABLE: "/srv/emu"}) == Path("/srv/emu")
    assert state_home({"XDG_STATE_HOME": "/x"}) == Path("/x/mlpipeline-emulator")
    assert state_home({}) == Path("~/.local/state/mlpipeline-emulator").expanduser()


def test_no_emulator_is_recorded_in_an_empty_home(emulator_home: Path) -> None:
    assert running_emulator() is None


def test_a_stale_record_is_forgotten(emulator_home: Path) -> None:
    emulator_home.mkdir(parents=True)
    (emulator_home / STATE_FILE).write_text('{"pid": 999999999, "port": 1, "log": "x"}')

    assert running_emulator() is None
    assert not (emulator_home / STATE_FILE).exists()


def test_the_emulator_is_found_through_its_home_from_any_folder(
    emulator_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = start_emulator(timeout=START_TIMEOUT)
    try:
        monkeypatch.chdir(tmp_path)
        found = running_emulator()
        again, started = ensure_emulator()

        assert found is not None and (found.pid, found.port) == (emulator.pid, emulator.port)
        assert (started, again.pid) == (False, emulator.pid)
        assert emulator.log_path == emulator_home.resolve() / "emulator.log"
        assert emulator.client("s3").list_buckets()["Buckets"] == []
    finally:
        emulator.stop()
    assert not emulator.is_running()
    assert running_emulator() is None


def test_emulator_session_stops_the_emulator_when_its_block_fails(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="demo failed"),
        emulator_session(tmp_path) as emulator,
    ):
        assert emulator.is_running()
        assert running_emulator(tmp_path) is not None
        raise RuntimeError("demo failed")

    assert not emulator.is_running()
    assert not (tmp_path / STATE_FILE).exists()
    assert running_emulator(tmp_path) is None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_emulator_session_stops_the_emulator_on_ctrl_c_and_sigterm(
    tmp_path: Path, signum: int
) -> None:
    script = textwrap.dedent(
        f"""
        import signal, sys, time
        from pathlib import Path
        from mlpipeline_emulator.session import emulator_session
        # Ctrl-C as a terminal delivers it: a suite started in the background (`make test &`)
        # hands its children SIGINT ignored, and Python then raises no KeyboardInterrupt.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with emulator_session(Path({str(tmp_path)!r})) as emulator:
            print(emulator.pid, flush=True)
            time.sleep(600)
        """
    )
    emulator_pid = None
    demo = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # its own group: killed with what it started, if the test fails
    )
    try:
        with process_group(demo):
            assert demo.stdout is not None and demo.stderr is not None
            lines, errors = Lines(demo.stdout), Lines(demo.stderr)
            line = lines.next(START_TIMEOUT)
            while line and not line.strip().isdigit():  # whatever else the demo prints first
                line = lines.next(START_TIMEOUT)
            assert line, errors.rest(1)
            emulator_pid = int(line)
            demo.send_signal(signum)
            demo.wait(timeout=STOP_TIMEOUT)
            stderr = errors.rest(STOP_TIMEOUT)
    finally:
        if emulator_pid is not None:  # the emulator leads a group of its own
            kill_group(emulator_pid)

    assert "KeyboardInterrupt" in stderr  # how the demo ended: the signal, raised
    assert demo.returncode != 0
    with pytest.raises(ProcessLookupError):
        os.kill(emulator_pid, 0)
    assert not (tmp_path / STATE_FILE).exists()
