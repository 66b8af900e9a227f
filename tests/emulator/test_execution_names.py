"""StartExecution's name rules in the emulator, and the library's check of them agreeing."""

from __future__ import annotations

import pytest

from mlpipeline_cdk.contract.run_input import is_valid_execution_name
from mlpipeline_emulator import _executions

LEGAL_NAMES = ["run-1", "run(1)!'x", "étape_1", "x" * 80, "a.b@c+d=e", "数据-1", "-"]
ILLEGAL_NAMES = [
    "",
    "x" * 81,
    "a b/c",
    "a b",
    "a\tb",
    "abc\n",
    "a\u00a0b",
    *[f"a{c}b" for c in '<>{}[]?*"#%\\^|~`$&,;:/'],
    "a\x00b",
    "a\x1fb",
    "a\x7fb",
    "a\x85b",
    "a\x9fb",
]


@pytest.mark.parametrize("name", LEGAL_NAMES)
def test_legal_execution_names_are_accepted(name: str) -> None:
    assert _executions.is_valid_name(name)


@pytest.mark.parametrize("name", ILLEGAL_NAMES)
def test_illegal_execution_names_are_refused(name: str) -> None:
    assert not _executions.is_valid_name(name)


@pytest.mark.parametrize("name", LEGAL_NAMES + ILLEGAL_NAMES)
def test_the_library_and_the_emulator_agree_on_execution_names(name: str) -> None:
    assert is_valid_execution_name(name) is _executions.is_valid_name(name)
