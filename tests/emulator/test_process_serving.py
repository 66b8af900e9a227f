"""The process runtime imports an endpoint's handlers as SageMaker's inference toolkit does."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from mlpipeline_emulator._process_serving import _import_user_module

HELPER = "helper_of_the_serving_test"


def _code(folder: Path, where: str) -> Path:
    folder.mkdir()
    (folder / f"{HELPER}.py").write_text(f"WHERE = {where!r}\n")
    (folder / "entry.py").write_text(f"from {HELPER} import WHERE\n")
    return folder


def test_the_entry_point_imports_its_neighbours_from_its_code_folder(tmp_path: Path) -> None:
    code = _code(tmp_path / "code", "code")
    name, module = _import_user_module(code, "entry.py")
    try:
        assert module.WHERE == "code"
        assert str(code) not in sys.path
        assert HELPER not in sys.modules  # the neighbour belongs to the deployment
    finally:
        sys.modules.pop(name, None)


def test_a_module_of_the_same_name_imported_earlier_does_not_stand_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As when the same script was imported from its source folder earlier in this process: a
    # model server's fresh worker would still import the neighbour from the code folder.
    monkeypatch.syspath_prepend(str(_code(tmp_path / "source", "source")))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    earlier = importlib.import_module(HELPER)
    monkeypatch.setitem(sys.modules, HELPER, earlier)
    name, module = _import_user_module(_code(tmp_path / "code", "code"), "entry.py")
    try:
        assert module.WHERE == "code"
        assert sys.modules[HELPER] is earlier
    finally:
        sys.modules.pop(name, None)
