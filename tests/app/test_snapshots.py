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
#: cdk-assets names a destination ``<asset hash>:<account>-<region>-<hash of the destination>``;
#: the destination holds the object key, which is the asset hash again.
_DESTINATION_HASH = re.compile(r"(<asset-hash>:[0-9]{12}-[a-z0-9-]+?-)[0-9a-f]{8}\b")


def normalise(template: dict[str, Any]) -> Any:
    text = _ASSET_HASH.sub("<asset-hash>", json.dumps(template))
    return json.loads(_DESTINATION_HASH.sub(r"\1<destination-hash>", text))


def test_ml_pipeline_stack_snapshot(
    ml_template_json: dict[str, Any], snapshot: SnapshotAssertion
) -> None:
    assert normalise(ml_template_json) == snapshot(extension_class=JSONSnapshotExtension)
