"""The library README states the script contract that mlpipeline_cdk.contract.script encodes.

Another team writes its script from the README alone; every rule the pipeline relies on must be
there, as the code has it.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlpipeline_cdk.contract import script

ROOT = Path(__file__).resolve().parents[3]
SECTION = (
    (ROOT / "constructs" / "README.md")
    .read_text(encoding="utf-8")
    .split("## The script contract\n", 1)[1]
    .split("\n## ", 1)[0]
)


def test_the_metric_lines_and_their_regex_are_stated() -> None:
    for definition in script.METRIC_DEFINITIONS:
        printed, number = definition["Regex"].split("=", 1)
        assert f"`{printed}=<number>`" in SECTION
        assert f"`{number}`" in SECTION
    assert f"`{script.ACCURACY_METRIC}`" in SECTION


def test_layout_handlers_checkpoints_and_failure_file_are_stated() -> None:
    serving = script.serving_environment(entry_point="<entry_point>", region="r")
    assert f"SAGEMAKER_PROGRAM={serving['SAGEMAKER_PROGRAM']}" in SECTION
    assert f"SAGEMAKER_SUBMIT_DIRECTORY={serving['SAGEMAKER_SUBMIT_DIRECTORY']}" in SECTION
    assert f"`$SM_MODEL_DIR/{script.CODE_SUBDIR}/`" in SECTION
    for handler in script.HANDLERS:
        assert re.search(rf"`{handler}\(", SECTION), handler
    assert f"`{script.CHECKPOINT_DIR}`" in SECTION
    assert f"`{script.FAILURE_FILE}`" in SECTION
    assert f"`{script.TRAINING_CHANNEL}`" in SECTION
    assert f"`{script.RESERVED_HYPERPARAMETER_PREFIX}`" in SECTION
