"""The delivery pipeline's settings, read from CDK context and validated all at once.

Context keys (``npx cdk deploy -c key=value``):

- ``pipeline_connection_arn`` (required): the AWS CodeConnections connection to the repository's
  host, ``arn:<partition>:codeconnections:<region>:<account>:connection/<id>`` (the older
  ``codestar-connections`` service name is accepted too).
- ``pipeline_repository`` (required): ``owner/name`` (GitLab groups: ``group/subgroup/name``).
- ``pipeline_branch``: the branch whose pushes run the pipeline. Default: ``main``.
- ``pipeline_account``, ``pipeline_region``: where the pipeline lives. Default: the account and
  region of the CLI's credentials (``CDK_DEFAULT_ACCOUNT``, ``CDK_DEFAULT_REGION``).
- ``pipeline_stages``: a JSON list (or, in cdk.json, a list) of ``{"name", "account",
  "region"}`` objects, deployed in that order. The first stage is smoke-tested; each later one
  waits for a manual approval. ``account`` and ``region`` default to the pipeline's. Default:
  ``[{"name": "Staging"}, {"name": "Production"}]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from constructs import Construct

CONNECTION_ARN: Final = "pipeline_connection_arn"
REPOSITORY: Final = "pipeline_repository"
BRANCH: Final = "pipeline_branch"
ACCOUNT: Final = "pipeline_account"
REGION: Final = "pipeline_region"
STAGES: Final = "pipeline_stages"
#: Every context key of the pipeline; giving any of them adds the pipeline to the app.
CONTEXT_KEYS: Final = (CONNECTION_ARN, REPOSITORY, BRANCH, ACCOUNT, REGION, STAGES)

DEFAULT_BRANCH: Final = "main"
DEFAULT_STAGE_NAMES: Final = ("Staging", "Production")
#: Stage names become construct ids, stack-name prefixes, CodePipeline stage names and part of
#: an IAM role name (at most 64 characters), hence the short limit.
STAGE_NAME_MAX: Final = 24

_CONNECTION_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:(codeconnections|codestar-connections):"
    r"[a-z]{2}(-[a-z]+)+-\d:\d{12}:connection/[A-Za-z0-9-]+$"
)
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
_BRANCH = re.compile(r"^(?!/|-)(?!.*(\.\.|//|@\{))[A-Za-z0-9._/-]+(?<![/.])$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_STAGE_NAME = re.compile(rf"^[A-Za-z][A-Za-z0-9-]{{0,{STAGE_NAME_MAX - 1}}}$")
_STAGE_KEYS: Final = frozenset({"name", "account", "region"})


@dataclass(frozen=True)
class StageSettings:
    """One deployment of the ML pipeline stack: a stage name, its account and region."""

    name: str
    account: str
    region: str


@dataclass(frozen=True)
class PipelineSettings:
    """Everything the delivery pipeline needs to know, every default filled in."""

    connection_arn: str
    repository: str
    branch: str
    account: str
    region: str
    stages: tuple[StageSettings, ...]

    @property
    def cross_account(self) -> bool:
        """True when a stage deploys to another account than the pipeline's."""
        return any(stage.account != self.account for stage in self.stages)

    def as_context(self) -> dict[str, str]:
        """These settings as context values, every default resolved, so that a synth elsewhere
        (the pipeline's own build) produces the same pipeline whatever its credentials."""
        stages = [{"name": s.name, "account": s.account, "region": s.region} for s in self.stages]
        return {
            CONNECTION_ARN: self.connection_arn,
            REPOSITORY: self.repository,
            BRANCH: self.branch,
            ACCOUNT: self.account,
            REGION: self.region,
            STAGES: json.dumps(stages, separators=(",", ":")),
        }

    @classmethod
    def from_context(cls, scope: Construct, environ: Mapping[str, str]) -> PipelineSettings | None:
        """The settings in ``scope``'s context, or None when no ``pipeline_*`` key is given.

        ``environ`` supplies ``CDK_DEFAULT_ACCOUNT`` and ``CDK_DEFAULT_REGION``, which the CDK
        CLI sets from its credentials. Raises one ``ValueError`` naming every key that is
        missing or malformed.
        """
        raw = {key: scope.node.try_get_context(key) for key in CONTEXT_KEYS}
        if all(value is None for value in raw.values()):
            return None
        problems: list[str] = []

        def text(key: str, default: str | None = None) -> str | None:
            value = raw[key]
            if value is None or value == "":
                return default
            if not isinstance(value, str):
                problems.append(f"{key}={value!r}: must be a string")
                return None
            return value.strip()

        def check(key: str, value: str | None, pattern: re.Pattern[str], allowed: str) -> None:
            if value is None:
                problems.append(f"{key}: missing; {allowed}")
            elif not pattern.match(value):
                problems.append(f"{key}={value!r}: {allowed}")

        connection_arn = text(CONNECTION_ARN)
        check(
            CONNECTION_ARN,
            connection_arn,
            _CONNECTION_ARN,
            "must be the ARN of a CodeConnections connection, "
            "'arn:<partition>:codeconnections:<region>:<account>:connection/<id>'",
        )
        repository = text(REPOSITORY)
        check(
            REPOSITORY,
            repository,
            _REPOSITORY,
            "must be the repository as 'owner/name' (letters, digits, '-', '_', '.')",
        )
        branch = text(BRANCH, DEFAULT_BRANCH)
        check(BRANCH, branch, _BRANCH, "must be a branch name such as 'main'")
        account = text(ACCOUNT, environ.get("CDK_DEFAULT_ACCOUNT"))
        check(
            ACCOUNT,
            account,
            _ACCOUNT,
            "must be a 12-digit AWS account id (default: the CLI credentials' account)",
        )
        region = text(REGION, environ.get("CDK_DEFAULT_REGION"))
        check(
            REGION,
            region,
            _REGION,
            "must be an AWS region such as 'eu-west-1' (default: the CLI's region)",
        )
        stages = _stages(raw[STAGES], account=account, region=region, problems=problems)

        if problems:
            listed = "\n".join(f"  - {line}" for line in problems)
            raise ValueError(f"Delivery pipeline: invalid context:\n{listed}")
        assert connection_arn and repository and branch and account and region
        return cls(
            connection_arn=connection_arn,
            repository=repository,
            branch=branch,
            account=account,
            region=region,
            stages=stages,
        )


_STAGES_SHAPE = "must be a non-empty list of {'name', 'account', 'region'} objects"


def _stages(
    value: Any, *, account: str | None, region: str | None, problems: list[str]
) -> tuple[StageSettings, ...]:
    items = _stage_items(value, problems)
    stages: list[StageSettings] = []
    for index, item in enumerate(items):
        stage = _stage(
            item, f"{STAGES}[{index}]", account=account, region=region, problems=problems
        )
        if stage is not None:
            stages.append(stage)

    names = [stage.name for stage in stages]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.append(f"{STAGES}: stage names must be unique; repeated: {duplicates}")
    return tuple(stages)


def _stage_items(value: Any, problems: list[str]) -> list[Any]:
    """The stage list, parsed from JSON when given as a string; [] after a problem."""
    if value is None or value == "":
        return [{"name": name} for name in DEFAULT_STAGE_NAMES]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            problems.append(f"{STAGES}={value!r}: is not valid JSON ({error.msg})")
            return []
    if not isinstance(value, list) or not value:
        problems.append(f"{STAGES}={value!r}: {_STAGES_SHAPE}")
        return []
    return value


def _stage(
    item: Any, where: str, *, account: str | None, region: str | None, problems: list[str]
) -> StageSettings | None:
    if not isinstance(item, dict):
        problems.append(f"{where}={item!r}: {_STAGES_SHAPE}")
        return None
    unknown = sorted(set(item) - _STAGE_KEYS)
    if unknown:
        problems.append(f"{where}: unknown keys {unknown}; allowed: name, account, region")
    name = item.get("name")
    if not isinstance(name, str) or not _STAGE_NAME.match(name):
        problems.append(
            f"{where}.name={name!r}: must be 1 to {STAGE_NAME_MAX} letters, digits and "
            "hyphens, starting with a letter"
        )
    # Values left out default to the pipeline's, whose own problems are reported above.
    stage_account = item.get("account", account)
    if "account" in item and not (isinstance(stage_account, str) and _ACCOUNT.match(stage_account)):
        problems.append(f"{where}.account={stage_account!r}: must be a 12-digit account id")
    stage_region = item.get("region", region)
    if "region" in item and not (isinstance(stage_region, str) and _REGION.match(stage_region)):
        problems.append(
            f"{where}.region={stage_region!r}: must be an AWS region such as 'eu-west-1'"
        )
    if isinstance(name, str) and isinstance(stage_account, str) and isinstance(stage_region, str):
        return StageSettings(name=name, account=stage_account, region=stage_region)
    return None
