"""Every emulator test keeps its emulator's state in a folder of its own, never the user's
(``MLPIPELINE_EMULATOR_HOME``), so two suites that run at once never share an emulator; and
every process a test starts is ended, also when the test fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlpipeline_emulator.session import HOME_VARIABLE
from tests.emulator.processes import kill_recorded_emulator


@pytest.fixture(scope="session", autouse=True)
def _emulator_home_of_the_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home for this test process: even a test that forgets its own never uses the user's."""
    home = tmp_path_factory.mktemp("emulator-home")
    previous = os.environ.get(HOME_VARIABLE)
    os.environ[HOME_VARIABLE] = str(home)
    try:
        yield home
    finally:
        kill_recorded_emulator(home)
        if previous is None:
            os.environ.pop(HOME_VARIABLE, None)
        else:
            os.environ[HOME_VARIABLE] = previous


@pytest.fixture
def emulator_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's own emulator home; an emulator still recorded there at the end is killed."""
    home = tmp_path / "emulator-home"
    monkeypatch.setenv(HOME_VARIABLE, str(home))
    try:
        yield home
    finally:
        kill_recorded_emulator(home)
