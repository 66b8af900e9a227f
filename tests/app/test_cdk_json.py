"""cdk.json sets exactly the feature flags a new CDK app gets from ``cdk init`` with the pinned
CDK CLI and aws-cdk-lib, so that the CLI reports no unconfigured flags."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import aws_cdk

from conftest import ROOT


def _library_recommended_flags() -> dict[str, Any]:
    """aws-cdk-lib's own list (``recommended-feature-flags.json`` in the jsii package that the
    Python distribution installs), the one its release's ``cdk init`` writes."""
    [package] = (Path(aws_cdk.__file__).parent / "_jsii").glob("aws-cdk-lib@*.jsii.tgz")
    with tarfile.open(package) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        return dict(json.load(member))


def _cli_recommended_flags() -> dict[str, Any]:
    """What the pinned CDK CLI's ``cdk init`` writes into a new app's cdk.json context
    (aws-cdk lib/commands/init/init.js, ``currentlyRecommendedAwsCdkLibFlags``)."""
    path = ROOT / "node_modules/aws-cdk/lib/init-templates/.recommended-feature-flags.json"
    return dict(json.loads(path.read_text()))


def test_cdk_json_context_is_the_recommended_feature_flags_of_the_pinned_library() -> None:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]

    assert context == _library_recommended_flags()


def test_the_pinned_cli_recommends_the_same_flags_as_the_pinned_library() -> None:
    assert _cli_recommended_flags() == _library_recommended_flags()
