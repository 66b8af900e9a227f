"""One snapshot per stack: any change to the synthesized CloudFormation shows up in review.

Asset hashes are replaced by a placeholder, so editing the training script does not churn the
snapshot; the archive's content has its own tests.
"""

from __future__ import annotations

import json
import re
from typing import Any

from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def normalise(template: dict[str, Any]) -> Any:
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))


def test_ml_pipeline_stack_snapshot(
    ml_template_json: dict[str, Any], snapshot: SnapshotAssertion
) -> None:
    assert normalise(ml_template_json) == snapshot(extension_class=JSONSnapshotExtension)
