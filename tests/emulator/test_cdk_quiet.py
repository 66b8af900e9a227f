"""The CDK CLI run against the emulator (``make demo``, ``make deploy-local``) prints no Node.js
deprecation warnings: they say nothing to the person running the demo."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from mlpipeline_emulator.cdk import cdk_environment
from mlpipeline_emulator.session import Emulator

#: Node 20 warns of ``new Buffer()`` (DEP0005) at runtime, as it warns of the deprecated modules
#: the CLI's and jsii's dependencies load.
DEPRECATED_CALL = "new Buffer(1)"


def _node(env: dict[str, str]) -> str:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed by the CDK CLI (see README)"
    result = subprocess.run(
        [node, "-e", DEPRECATED_CALL], env=env, capture_output=True, text=True, check=True
    )
    return result.stderr


def test_node_deprecation_warnings_are_off_in_the_cdk_cli_environment(tmp_path: Path) -> None:
    emulator = Emulator(port=4567, pid=1, log_path=tmp_path / "emulator.log")
    plain = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}

    assert "DeprecationWarning" in _node(plain)  # what the CLI would otherwise print
    assert "DeprecationWarning" not in _node(cdk_environment(emulator, plain))


def test_the_users_node_options_are_kept(tmp_path: Path) -> None:
    emulator = Emulator(port=4567, pid=1, log_path=tmp_path / "emulator.log")

    env = cdk_environment(emulator, {"NODE_OPTIONS": "--max-old-space-size=4096", "PATH": ""})
    again = cdk_environment(emulator, env)

    assert env["NODE_OPTIONS"] == "--max-old-space-size=4096 --no-deprecation"
    assert again["NODE_OPTIONS"] == env["NODE_OPTIONS"]


def test_the_aws_sdks_node_version_warning_is_off(tmp_path: Path) -> None:
    """The CLI's AWS SDK for JavaScript v3 otherwise warns, on Node 20, that its later releases
    need Node 22 (``(node:...) Warning: NodeVersionSupportWarning: ...``)."""
    emulator = Emulator(port=4567, pid=1, log_path=tmp_path / "emulator.log")

    env = cdk_environment(emulator, {"PATH": ""})

    assert env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] == "true"
