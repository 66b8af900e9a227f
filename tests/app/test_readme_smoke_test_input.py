"""The README shows the input the delivery pipeline's smoke test really sends, and the state
machine accepts it (hyperparameter values are strings)."""

from __future__ import annotations

import json
import re
import sys

from mlpipeline_cdk.contract import run_input
from stacks.pipeline_stack import SMOKE_TEST_INPUT

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import smoke_test  # scripts/ is not a package: imported by path


def test_readme_shows_the_smoke_tests_input_which_the_state_machine_accepts() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [shown] = re.findall(r"starts one execution with\s+`(\{.*?\})`", readme, re.S)

    assert json.loads(shown) == SMOKE_TEST_INPUT == json.loads(smoke_test.DEFAULT_INPUT)
    assert run_input.check(SMOKE_TEST_INPUT) == []
