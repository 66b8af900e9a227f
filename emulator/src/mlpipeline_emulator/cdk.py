"""The real CDK CLI, pointed at the emulator: synth, bootstrap, deploy and destroy of any CDK app.

The CLI is the app's own (``node_modules/.bin/cdk`` in the app's folder) when it has one, else
the pinned :data:`CDK_CLI_VERSION` through ``npx``. It is pointed at the emulator by its
environment alone (:func:`cdk_environment`); the template is the one that deploys to AWS.

From Python::

    with emulator_session() as emulator:
        synth(emulator, app_dir=app)
        bootstrap(emulator, app_dir=app)
        deploy(emulator, ["MyStack"], app_dir=app)
        outputs = stack_outputs(emulator, "MyStack")
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from .session import Emulator, EmulatorError

#: The CDK CLI run through ``npx`` when the app has none of its own.
CDK_CLI_VERSION: Final = "2.1148.1"
#: What the CDK CLI is given to deploy: the assembly ``synth`` writes.
ASSEMBLY_DIR: Final = "cdk.out"
#: Variables that could send the CLI to AWS instead of the emulator.
_REMOVED_VARIABLES: Final = frozenset(
    {
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    }
)


def cdk_environment(
    emulator: Emulator, base: Mapping[str, str] | None = None, account: str | None = None
) -> dict[str, str]:
    """The environment that points the CDK CLI (AWS SDK for JavaScript v3) at the emulator:
    ``AWS_ENDPOINT_URL`` for every service (S3 included: on an IP address the SDK addresses
    buckets path-style), credentials that act in ``account`` (default: the emulator's default
    account), the region; no profile, config file or instance
    metadata that could send it elsewhere; Node's deprecation and Node-version warnings off.
    Outside a virtual environment, this interpreter's folder comes first on ``PATH``, so that an
    app run as ``python3 app.py`` finds the packages installed beside the emulator."""
    env = dict(os.environ if base is None else base)
    for name in list(env):
        if name.startswith(("AWS_ENDPOINT_URL_", "CDK_DEPLOY_")) or name in _REMOVED_VARIABLES:
            del env[name]
    state_dir = emulator.log_path.parent
    # Node's deprecation warnings (of the CLI's and jsii's dependencies) say nothing to a user of
    # the CLI; --no-deprecation silences them (https://nodejs.org/api/cli.html#--no-deprecation).
    node_options = env.get("NODE_OPTIONS", "").split()
    if "--no-deprecation" not in node_options:
        env["NODE_OPTIONS"] = " ".join([*node_options, "--no-deprecation"])
    if "VIRTUAL_ENV" not in env:
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.update(
        emulator.environment(account),
        AWS_CONFIG_FILE=str(state_dir / "aws-config-none"),
        AWS_SHARED_CREDENTIALS_FILE=str(state_dir / "aws-credentials-none"),
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        # The AWS SDK for JavaScript v3 in the CLI warns that its later releases need Node 22
        # (NodeVersionSupportWarning) unless this is "true": @aws-sdk/core's
        # submodules/client/emitWarningIfUnsupportedVersion.js, bundled in aws-cdk's lib/index.js.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED="true",
    )
    return env


def cdk_command(app_dir: Path) -> list[str]:
    """The app's own CDK CLI, else the pinned one through ``npx``."""
    local = app_dir / "node_modules" / ".bin" / "cdk"
    if local.exists():
        return [str(local)]
    npx = shutil.which("npx")
    if npx is None:
        raise EmulatorError(
            f"no CDK CLI: {local} does not exist and npx (Node.js) is not on PATH; "
            f"install one (npm install aws-cdk@{CDK_CLI_VERSION})"
        )
    return [npx, "--yes", f"aws-cdk@{CDK_CLI_VERSION}"]


def run_cdk(
    args: Sequence[str],
    emulator: Emulator,
    *,
    app_dir: Path | None = None,
    capture: bool = False,
    check: bool = True,
    account: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the CDK CLI (:func:`cdk_command`) in ``app_dir`` (default: the current directory)
    against ``emulator``, with the credentials of ``account`` (default: the emulator's default
    account). ``capture``: collect stdout and stderr (as text) instead of passing them
    through."""
    app_dir = Path.cwd() if app_dir is None else app_dir
    result = subprocess.run(
        [*cdk_command(app_dir), *args, "--no-notices"],
        cwd=app_dir,
        env=cdk_environment(emulator, account=account),
        stdin=subprocess.DEVNULL,
        capture_output=capture,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        detail = f"\n{result.stdout}{result.stderr}" if capture else ""
        raise EmulatorError(f"`cdk {' '.join(args)}` exited with {result.returncode}{detail}")
    return result


def synth(
    emulator: Emulator,
    *,
    app_dir: Path | None = None,
    output: str = ASSEMBLY_DIR,
    capture: bool = False,
    account: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``cdk synth`` of every stack into ``output`` (relative to ``app_dir``); env-agnostic
    stacks are synthesized for ``account``."""
    return run_cdk(
        ["synth", "--quiet", "--output", output],
        emulator,
        app_dir=app_dir,
        capture=capture,
        account=account,
    )


def bootstrap(
    emulator: Emulator,
    *,
    app_dir: Path | None = None,
    assembly: str = ASSEMBLY_DIR,
    capture: bool = False,
    account: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``cdk bootstrap`` of ``account`` (default: the emulator's default account) and the
    emulator's region, with that account's credentials (the CLI reads the synthesized
    ``assembly`` rather than running the app again)."""
    target = account or emulator.account
    return run_cdk(
        ["bootstrap", f"aws://{target}/{emulator.region}", "--app", assembly],
        emulator,
        app_dir=app_dir,
        capture=capture,
        account=account,
    )


def _on_stacks(
    verb: str,
    flags: Sequence[str],
    emulator: Emulator,
    stacks: Sequence[str] | str,
    app_dir: Path | None,
    assembly: str,
    capture: bool,
    account: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``cdk VERB STACK... --app ASSEMBLY FLAGS`` (``--all`` when no stack is named)."""
    names = [stacks] if isinstance(stacks, str) else list(stacks)
    return run_cdk(
        [verb, *(names or ["--all"]), "--app", assembly, *flags],
        emulator,
        app_dir=app_dir,
        capture=capture,
        account=account,
    )


def deploy(
    emulator: Emulator,
    stacks: Sequence[str] | str = (),
    *,
    app_dir: Path | None = None,
    assembly: str = ASSEMBLY_DIR,
    capture: bool = False,
    account: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``cdk deploy`` of ``stacks`` (names or patterns, as the CLI takes them; default: every
    stack of the app) from the synthesized ``assembly``, without prompts, with the credentials
    of ``account`` (default: the emulator's default account), where env-agnostic stacks go."""
    flags = ["--require-approval", "never"]
    return _on_stacks("deploy", flags, emulator, stacks, app_dir, assembly, capture, account)


def destroy(
    emulator: Emulator,
    stacks: Sequence[str] | str = (),
    *,
    app_dir: Path | None = None,
    assembly: str = ASSEMBLY_DIR,
    capture: bool = False,
    account: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """``cdk destroy --force`` of ``stacks`` (default: every stack of the app) in ``account``."""
    flags = ["--force"]
    return _on_stacks("destroy", flags, emulator, stacks, app_dir, assembly, capture, account)


def assembly_stacks(assembly: Path, patterns: Sequence[str] = ()) -> list[str]:
    """The names of the stacks in a synthesized ``assembly`` that ``patterns`` select (as the
    CLI matches them: the stack's name or its artifact id, ``*`` wildcards), in the order of
    its manifest; every stack when there are no patterns."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    names = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        name = str(artifact.get("properties", {}).get("stackName", artifact_id))
        if not patterns or any(
            fnmatch.fnmatchcase(candidate, pattern)
            for pattern in patterns
            for candidate in (name, artifact_id, artifact.get("displayName", ""))
        ):
            names.append(name)
    return names


def stack_outputs(
    emulator: Emulator, stack_name: str, account: str | None = None
) -> dict[str, str]:
    """A deployed stack's outputs, ``{OutputKey: OutputValue}``, in ``account``."""
    cloudformation = emulator.client("cloudformation", account)
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
