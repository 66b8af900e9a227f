"""The input an execution of a pipeline's state machine takes: keys, types, limits, messages.

Every key is optional; a run uses the pipeline's setting for each key it leaves out. The state
machine (:class:`mlpipeline_cdk.steps.PrepareRun`) enforces these rules before any SageMaker call
and fails a run that breaks one with :data:`INVALID_INPUT` and the key's :attr:`RunInputKey.message`
as the cause; the operator tool and the CD smoke test check input with :func:`check` first, with
the same messages, so a bad run is refused before it is started.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from ..instance_types import TRAINING_INSTANCE_TYPES
from .registry import APPROVAL_MODES, LATEST

#: The error a run with bad input fails with.
INVALID_INPUT: Final = "InvalidInput"

HYPERPARAMETERS: Final = "hyperparameters"
TRAINING_INSTANCE_TYPE: Final = "trainingInstanceType"
TRAINING_INSTANCE_COUNT: Final = "trainingInstanceCount"
TRAINING_DATA_URI: Final = "trainingDataUri"
MAX_RUNTIME_SECONDS: Final = "maxRuntimeSeconds"
SPOT: Final = "spot"
ACCURACY_THRESHOLD: Final = "accuracyThreshold"
#: ``automatic`` or ``manual``: overrides ``registry.approval`` for this run.
APPROVAL: Final = "approval"
#: A model package version ARN, or ``latest``: the run trains nothing and deploys that version.
MODEL_PACKAGE: Final = "modelPackage"
#: Set by the approval rule: deploy ``modelPackage`` only if a run in manual mode registered it.
ON_APPROVAL: Final = "onApproval"

#: ``{"enabled": false}`` trains once instead of tuning; ``{"maxJobs": N, "maxParallelJobs": M}``
#: changes a tuning pipeline's job counts. Only pipelines with ``tuning`` settings take this key.
TUNING: Final = "tuning"
TUNING_ENABLED: Final = "enabled"
TUNING_MAX_JOBS: Final = "maxJobs"
TUNING_MAX_PARALLEL_JOBS: Final = "maxParallelJobs"
TUNING_KEYS: Final = (TUNING_ENABLED, TUNING_MAX_JOBS, TUNING_MAX_PARALLEL_JOBS)
#: Training jobs per tuning job: 750, or 10,000 for Random search with a quota increase; 100
#: parallel ones with a quota increase (https://docs.aws.amazon.com/sagemaker/latest/dg/
#: automatic-model-tuning-limits.html). A pipeline's own strategy may allow fewer.
MAX_TUNING_JOBS: Final = 10_000
MAX_PARALLEL_TUNING_JOBS: Final = 100
TUNING_ENABLED_MESSAGE: Final = "tuning.enabled must be true or false"
TUNING_MAX_PARALLEL_JOBS_MESSAGE: Final = (
    f"tuning.maxParallelJobs must be a whole number from 1 to {MAX_PARALLEL_TUNING_JOBS}"
)
TUNING_PARALLEL_ABOVE_JOBS: Final = "tuning.maxParallelJobs must be at most tuning.maxJobs"

#: How this run's update of an existing endpoint shifts traffic, laid over the ``rollout``
#: settings: ``{"strategy": "linear", "linearStepPercent": 25, "waitIntervalSeconds": 60}``.
ROLLOUT: Final = "rollout"
ROLLOUT_STRATEGIES: Final = ("all_at_once", "canary", "linear")
#: Each number's key and its range: botocore's UpdateEndpoint DeploymentConfig (CanarySize at
#: most 50%, LinearStepSize 10-50%, WaitIntervalInSeconds and TerminationWaitInSeconds 0-3600).
ROLLOUT_NUMBERS: Final = {
    "canarySizePercent": (1, 50),
    "linearStepPercent": (10, 50),
    "waitIntervalSeconds": (0, 3600),
    "terminationWaitSeconds": (0, 3600),
}
ROLLOUT_KEYS: Final = ("strategy", *ROLLOUT_NUMBERS)
ROLLOUT_STRATEGY_MESSAGE: Final = "rollout.strategy must be 'all_at_once', 'canary' or 'linear'"


def rollout_number_message(name: str) -> str:
    """The cause a run fails with when ``rollout.<name>`` is out of SageMaker's range."""
    low, high = ROLLOUT_NUMBERS[name]
    return f"rollout.{name} must be a whole number from {low} to {high}"


def tuning_max_jobs_message(low: int = 1, high: int = MAX_TUNING_JOBS) -> str:
    """The cause a run fails with when ``tuning.maxJobs`` is out of the pipeline's bounds."""
    return f"tuning.maxJobs must be a whole number from {low} to {high}"


#: SageMaker's limit on a training job's MaxRuntimeInSeconds without a quota increase: 28 days.
MAX_RUNTIME_LIMIT: Final = 28 * 24 * 3600
#: Above this, a job's instance count is almost certainly a typo (the service quota decides).
MAX_INSTANCE_COUNT: Final = 100

Kind = Literal["object", "string", "whole", "number", "boolean"]


@dataclass(frozen=True)
class RunInputKey:
    """One key of the run input."""

    name: str
    kind: Kind
    #: What is allowed, as the README's table says it.
    rule: str
    #: The cause a run that breaks the rule fails with; ``{prefix}`` is the data URI prefix,
    #: ``{groups}`` the model package groups the pipeline deploys from.
    message: str
    minimum: float | None = None
    maximum: float | None = None


KEYS: Final[tuple[RunInputKey, ...]] = (
    RunInputKey(
        HYPERPARAMETERS,
        "object",
        'object of strings, laid over the pipeline\'s, e.g. {"epochs": "2", "lr": "0.01"}',
        'hyperparameters must be an object of strings, e.g. {"epochs": "2"}',
    ),
    RunInputKey(
        TRAINING_INSTANCE_TYPE,
        "string",
        "an instance type SageMaker offers for training (botocore's `TrainingInstanceType`)",
        "trainingInstanceType must be a SageMaker training instance type, such as ml.m5.xlarge "
        "or ml.g5.xlarge (one of botocore's TrainingInstanceType values)",
    ),
    RunInputKey(
        TRAINING_INSTANCE_COUNT,
        "whole",
        f"1 to {MAX_INSTANCE_COUNT}; more than 1 trains distributed",
        f"trainingInstanceCount must be a whole number from 1 to {MAX_INSTANCE_COUNT}",
        1,
        MAX_INSTANCE_COUNT,
    ),
    RunInputKey(
        TRAINING_DATA_URI,
        "string",
        "an `s3://` URI under the pipeline's data bucket and prefix",
        "trainingDataUri must be an S3 URI under {prefix}",
    ),
    RunInputKey(
        MAX_RUNTIME_SECONDS,
        "whole",
        f"1 to {MAX_RUNTIME_LIMIT:,}",
        f"maxRuntimeSeconds must be a whole number from 1 to {MAX_RUNTIME_LIMIT}",
        1,
        MAX_RUNTIME_LIMIT,
    ),
    RunInputKey(
        SPOT,
        "boolean",
        "managed spot training; the job may wait up to twice its runtime and resumes from "
        "checkpoints",
        "spot must be true or false",
    ),
    RunInputKey(
        ACCURACY_THRESHOLD,
        "number",
        "0 to 1; the model is deployed only if its final test accuracy reaches it",
        "accuracyThreshold must be a number from 0 to 1",
        0,
        1,
    ),
    RunInputKey(
        APPROVAL,
        "string",
        "`automatic` (register as Approved and deploy) or `manual` (register as "
        "PendingManualApproval; approving the version deploys it)",
        "approval must be 'automatic' or 'manual'",
    ),
    RunInputKey(
        MODEL_PACKAGE,
        "string",
        "`latest` or the ARN of a version of the pipeline's model package group (or of "
        "`registry.promote_from`'s): the run trains nothing and deploys that Approved version",
        "modelPackage must be 'latest' or the ARN of a version of {groups}, "
        "e.g. arn:aws:sagemaker:<region>:<account>:model-package/<group>/3",
    ),
    RunInputKey(
        ON_APPROVAL,
        "boolean",
        "set by the approval rule: with `modelPackage`, deploy it only if a run in `manual` mode "
        "registered it (a run in `automatic` mode deploys its own version)",
        "onApproval must be true or false",
    ),
    RunInputKey(
        TUNING,
        "object",
        'pipelines with tuning settings: {"enabled": false} trains once; {"maxJobs": N, '
        '"maxParallelJobs": M} changes the job counts (M <= N, within the strategy\'s limit)',
        "tuning must be an object with only the keys enabled, maxJobs and maxParallelJobs, e.g. "
        '{"enabled": false} or {"maxJobs": 8, "maxParallelJobs": 2}',
    ),
    RunInputKey(
        ROLLOUT,
        "object",
        "how this run's update of the endpoint shifts traffic, laid over the `rollout` "
        'settings: {"strategy": "all_at_once" | "canary" | "linear", "canarySizePercent": 1-50, '
        '"linearStepPercent": 10-50, "waitIntervalSeconds": 0-3600, '
        '"terminationWaitSeconds": 0-3600}',
        "rollout must be an object with only the keys strategy, canarySizePercent, "
        'linearStepPercent, waitIntervalSeconds and terminationWaitSeconds, e.g. {"strategy": '
        '"linear", "linearStepPercent": 25}',
    ),
)
BY_NAME: Final = {key.name: key for key in KEYS}
#: The keys an execution's input may have, all optional.
RUN_INPUT_KEYS: Final = tuple(BY_NAME)

NOT_AN_OBJECT: Final = (
    'the run input must be a JSON object, e.g. {} or {"hyperparameters": {"epochs": "2"}}'
)
HYPERPARAMETER_NOT_STRING: Final = (
    'hyperparameters: every value must be a string, as SageMaker takes them, e.g. {"epochs": "2"}'
)


def unknown_keys_message(run_input_json: str, keys: tuple[str, ...] = RUN_INPUT_KEYS) -> str:
    """``keys``: those the pipeline takes (``tuning`` only with tuning settings)."""
    return f"the run input may only have the keys {', '.join(keys)}; got {run_input_json}"


def _whole(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and float(value).is_integer()


#: A versioned model package's ARN (botocore: ModelPackageArn, with a version number).
_VERSION_ARN: Final = re.compile(
    r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package/"
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/[1-9][0-9]*"
)


def _is_valid(key: RunInputKey, value: Any, data_uri_prefix: str | None) -> bool:
    if key.kind == "object":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if key.kind == "boolean":
        return isinstance(value, bool)
    if key.kind == "string":
        if not isinstance(value, str):
            return False
        if key.name == TRAINING_INSTANCE_TYPE:
            return value in TRAINING_INSTANCE_TYPES
        if key.name == TRAINING_DATA_URI:
            return data_uri_prefix is None or value.startswith(data_uri_prefix)
        if key.name == APPROVAL:
            return value in APPROVAL_MODES
        if key.name == MODEL_PACKAGE:
            return value == LATEST or _VERSION_ARN.fullmatch(value) is not None
        return True
    numeric = not isinstance(value, bool) and isinstance(value, int | float)
    if not numeric or (key.kind == "whole" and not _whole(value)):
        return False
    low = -math.inf if key.minimum is None else key.minimum
    high = math.inf if key.maximum is None else key.maximum
    return bool(low <= value <= high)


def check(run_input: Any, *, data_uri_prefix: str | None = None) -> list[str]:
    """Every rule ``run_input`` breaks, as the messages the state machine would fail with.

    ``data_uri_prefix`` is the pipeline's ``s3://bucket/prefix``; without it,
    ``trainingDataUri`` is checked for its type only.
    """
    if not isinstance(run_input, Mapping):
        return [NOT_AN_OBJECT]
    unknown = set(run_input) - set(RUN_INPUT_KEYS)
    problems: list[str] = []
    if unknown:
        problems.append(unknown_keys_message(json.dumps(run_input, separators=(",", ":"))))
    for name, value in run_input.items():
        key = BY_NAME.get(name)
        if key is None:
            continue
        if key.name == TUNING:
            problems.extend(tuning_input_problems(value))
            continue
        if key.name == ROLLOUT:
            problems.extend(rollout_input_problems(value))
            continue
        if key.name == HYPERPARAMETERS and isinstance(value, dict):
            if not all(isinstance(v, str) for v in value.values()):
                problems.append(HYPERPARAMETER_NOT_STRING)
            continue
        if not _is_valid(key, value, data_uri_prefix):
            problems.append(
                key.message.format(
                    prefix=data_uri_prefix or "the data prefix",
                    groups="the pipeline's model package group",
                )
            )
    return problems


def tuning_input_problems(value: Any) -> list[str]:
    """What is wrong with a run input's ``tuning``, with SageMaker's own limits (a pipeline's
    state machine also holds the counts to its strategy's limits)."""
    if not isinstance(value, dict) or set(value) - set(TUNING_KEYS):
        return [BY_NAME[TUNING].message]
    problems = []
    if TUNING_ENABLED in value and not isinstance(value[TUNING_ENABLED], bool):
        problems.append(TUNING_ENABLED_MESSAGE)
    jobs, parallel = value.get(TUNING_MAX_JOBS), value.get(TUNING_MAX_PARALLEL_JOBS)
    if jobs is not None and not (_whole(jobs) and 1 <= jobs <= MAX_TUNING_JOBS):
        problems.append(tuning_max_jobs_message())
    if parallel is not None and not (
        _whole(parallel) and 1 <= parallel <= MAX_PARALLEL_TUNING_JOBS
    ):
        problems.append(TUNING_MAX_PARALLEL_JOBS_MESSAGE)
    elif parallel is not None and _whole(jobs) and parallel > jobs:
        problems.append(TUNING_PARALLEL_ABOVE_JOBS)
    return problems


def rollout_input_problems(value: Any) -> list[str]:
    """What is wrong with a run input's ``rollout`` (SageMaker's limits, see :data:`ROLLOUT`)."""
    if not isinstance(value, dict) or set(value) - set(ROLLOUT_KEYS):
        return [BY_NAME[ROLLOUT].message]
    problems = []
    if "strategy" in value and value["strategy"] not in ROLLOUT_STRATEGIES:
        problems.append(ROLLOUT_STRATEGY_MESSAGE)
    for name, (low, high) in ROLLOUT_NUMBERS.items():
        number: Any = value.get(name)
        if name in value and not (_whole(number) and low <= number <= high):
            problems.append(rollout_number_message(name))
    return problems


#: A name Step Functions accepts for an execution: 1 to 80 characters, none of whitespace,
#: brackets, wildcards, punctuation or control characters (StartExecution's ``name``).
#: Matched whole (``fullmatch``): ``$`` would also match before a final newline.
_EXECUTION_NAME: Final = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")


def is_valid_execution_name(name: str) -> bool:
    """True for a name StartExecution accepts (AWS Step Functions API reference, StartExecution:
    "name ... must not contain whitespace, brackets < > { } [ ], wildcard characters ? *, special
    characters \" # % \\ ^ | ~ ` $ & , ; : /, control characters"; 1 to 80 characters)."""
    return _EXECUTION_NAME.fullmatch(name) is not None
