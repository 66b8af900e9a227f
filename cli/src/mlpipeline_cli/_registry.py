"""The pipeline's model registry: its versions, the one a command names, the one that is live.

A pipeline registers every accepted model as a version of its model package group (stack output
:data:`~mlpipeline_cdk.contract.outputs.MODEL_PACKAGE_GROUP_NAME`), with its lineage in the
version's ``CustomerMetadataProperties`` under the keys of :mod:`mlpipeline_cdk.contract.registry`.
The requests and answers are SageMaker's (botocore's SageMaker model: ``ListModelPackages``,
``DescribeModelPackage``, ``DescribeEndpoint``, ``DescribeEndpointConfig``, ``DescribeModel``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from mlpipeline_cdk.contract import outputs
from mlpipeline_cdk.contract import registry as contract

from ._aws import CliError, error_code, error_message, is_client_error
from ._context import PROG, Context
from ._history import as_datetime, iso

#: A versioned model package's ARN: botocore's ``ModelPackageArn`` pattern
#: (``arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package/...``) with the group's
#: name (``ModelPackageGroupName``: ``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``) and a version number.
VERSION_ARN: Final = re.compile(
    r"arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]{9,16}:[0-9]{12}:model-package/"
    r"(?P<group>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})/(?P<version>[1-9][0-9]{0,8})"
)
#: ListModelPackages' largest page (botocore: ``MaxResults``, 1 to 100).
_PAGE: Final = 100
#: The Task resources that list a group's versions: the state machine's ``latest`` lookup
#: (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
_LIST_RESOURCE: Final = re.compile(r"^arn:[^:]+:states:::aws-sdk:sagemaker:listModelPackages$")


@dataclass(frozen=True)
class Version:
    """One version of a model package group, as DescribeModelPackage describes it."""

    arn: str
    number: int | None
    group: str
    status: str
    created: datetime | None
    approval_description: str | None
    lineage: Mapping[str, str]

    @property
    def label(self) -> str:
        """``version 3 of mnist-models`` (or the ARN of a package without a number)."""
        if self.number is None:
            return f"model package {self.arn}"
        return f"version {self.number} of {self.group}"

    @property
    def approval_mode(self) -> str | None:
        return self.lineage.get(contract.APPROVAL_MODE)

    @property
    def accuracy(self) -> float | None:
        return _number(self.lineage.get(contract.ACCURACY))

    @property
    def accuracy_threshold(self) -> float | None:
        return _number(self.lineage.get(contract.ACCURACY_THRESHOLD))

    @property
    def training_job(self) -> str | None:
        job = self.lineage.get(contract.TRAINING_JOB)
        # A version registered elsewhere may say "unknown" (the construct's stand-in).
        return job if job and job != "unknown" else None

    def to_json(self, *, live: bool | None = None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "modelPackageVersion": self.number,
            "modelPackageArn": self.arn,
            "modelPackageGroupName": self.group,
            "approvalStatus": self.status,
            "approvalDescription": self.approval_description,
            "approvalMode": self.approval_mode,
            "accuracy": self.accuracy,
            "accuracyThreshold": self.accuracy_threshold,
            "trainingJobName": self.training_job,
            "creationTime": iso(self.created),
        }
        if live is not None:
            document["live"] = live
        return document


def _number(text: Any) -> float | None:
    # The lineage keeps numbers as text ("0.9712"; "null" when unknown).
    try:
        value = float(str(text))
    except ValueError:
        return None
    return value if value == value and value >= 0 else None  # NaN and the -1 sentinel: none


def version_of(description: Mapping[str, Any]) -> Version:
    number = description.get("ModelPackageVersion")
    match = VERSION_ARN.fullmatch(str(description.get("ModelPackageArn", "")))
    return Version(
        arn=str(description["ModelPackageArn"]),
        number=int(number) if isinstance(number, int) else None,
        group=str(description.get("ModelPackageGroupName") or (match["group"] if match else "")),
        status=str(description.get("ModelApprovalStatus") or "-"),
        created=as_datetime(description.get("CreationTime")),
        approval_description=description.get("ApprovalDescription") or None,
        lineage=dict(description.get("CustomerMetadataProperties") or {}),
    )


def group_name(context: Context) -> str:
    """The pipeline's model package group: its stack's ``ModelPackageGroupName`` output."""
    return context.pipeline.output(outputs.MODEL_PACKAGE_GROUP_NAME, "--stack-name")


def summaries(context: Context, group: str, **filters: Any) -> Iterator[dict[str, Any]]:
    """Every version of ``group`` (ListModelPackages, all pages), newest first."""
    request: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": _PAGE,
        **filters,
    }
    while True:
        page = context.call("sagemaker", "list_model_packages", **request)
        yield from page.get("ModelPackageSummaryList", [])
        if not page.get("NextToken"):
            return
        request["NextToken"] = page["NextToken"]


def describe(context: Context, arn: str) -> Version:
    """DescribeModelPackage; a version that does not exist is a one-line error."""
    try:
        return version_of(context.call("sagemaker", "describe_model_package", ModelPackageName=arn))
    except Exception as exc:
        # SageMaker answers ValidationException "... does not exist." for a package that does
        # not exist (aws-controllers-k8s/sagemaker-controller, generator.yaml: ModelPackage's
        # 404 is that code and message).
        if (
            is_client_error(exc)
            and error_code(exc) == "ValidationException"
            and ("does not exist" in error_message(exc))
        ):
            raise CliError(
                f"model package {arn} does not exist (list the versions with: {PROG} models)"
            ) from exc
        raise


def parse_version(text: str) -> int | str | None:
    """A version number, or a version's ARN; ``None`` for anything else."""
    if text.isdigit() and int(text) >= 1:
        return int(text)
    if VERSION_ARN.fullmatch(text):
        return text
    return None


def resolve(context: Context, named: int | str) -> Version:
    """The version ``named``: a number of the pipeline's group, or a version's ARN."""
    if isinstance(named, str):
        context.clients.use_region_of(named)
        return describe(context, named)
    group = group_name(context)
    numbers = []
    for summary in summaries(context, group):
        if summary.get("ModelPackageVersion") == named:
            return describe(context, str(summary["ModelPackageArn"]))
        numbers.append(summary.get("ModelPackageVersion"))
    have = (
        f"its versions are {_ranges(n for n in numbers if isinstance(n, int))}"
        if numbers
        else "it has no versions yet: a run whose model passes the gate registers one"
    )
    raise CliError(f"model package group {group} has no version {named}; {have}")


def _ranges(numbers: Iterator[int]) -> str:
    ordered = sorted(set(numbers))
    parts: list[str] = []
    start = previous = ordered[0]
    for number in [*ordered[1:], None]:
        if number is not None and number == previous + 1:
            previous = number
            continue
        parts.append(str(start) if start == previous else f"{start} to {previous}")
        if number is not None:
            start = previous = number
    return ", ".join(parts)


def latest_group(context: Context) -> str:
    """The group whose newest Approved version ``modelPackage: latest`` deploys: the
    ``ModelPackageGroupName`` of the state machine's ``listModelPackages`` task (the pipeline's
    own group, or the group it promotes from); the pipeline's own when the definition names
    none."""
    own = group_name(context)
    try:
        described = context.call(
            "stepfunctions",
            "describe_state_machine",
            stateMachineArn=context.pipeline.state_machine_arn,
        )
    except Exception as exc:
        if is_client_error(exc):
            return own  # no permission to read the definition: the group the stack names
        raise
    try:
        definition = json.loads(str(described.get("definition", "{}")))
    except ValueError:
        return own
    for state in _states(definition):
        parameters = state.get("Parameters")
        if _LIST_RESOURCE.match(str(state.get("Resource", ""))) and isinstance(parameters, dict):
            group = parameters.get("ModelPackageGroupName")
            if isinstance(group, str) and group:
                return group
    return own


def _states(machine: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for state in (machine.get("States") or {}).values():
        if not isinstance(state, dict):
            continue
        yield state
        for inner in [state.get("ItemProcessor") or state.get("Iterator") or {}]:
            yield from _states(inner)
        for branch in state.get("Branches", []):
            yield from _states(branch)


def newest_approved(context: Context, group: str) -> Version | None:
    """The newest Approved version of ``group``, as the state machine's ``latest`` finds it
    (ListModelPackages, Approved, by CreationTime descending, one result)."""
    page = context.call(
        "sagemaker",
        "list_model_packages",
        ModelPackageGroupName=group,
        ModelApprovalStatus=contract.APPROVED,
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    found = page.get("ModelPackageSummaryList", [])
    return describe(context, str(found[0]["ModelPackageArn"])) if found else None


# --------------------------------------------------------------------------------------------
# The live version
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Live:
    """What the pipeline's endpoint serves: the model packages of its models."""

    endpoint: str | None
    packages: frozenset[str]

    def serves(self, version: Version) -> bool:
        return any(_same_package(name, version.arn) for name in self.packages)


def _same_package(name: str, arn: str) -> bool:
    # A model's ModelPackageName is "the name or ARN of the model package" (botocore's
    # ContainerDefinition); a versioned package's name is GROUP/VERSION, its ARN's resource.
    return name == arn or arn.endswith(f":model-package/{name}")


def _is_missing(exc: Exception) -> bool:
    # SageMaker answers ValidationException "Could not find endpoint ..." (and "... model",
    # "... endpoint configuration") for a resource that does not exist.
    return (
        is_client_error(exc)
        and error_code(exc) in {"ValidationException", "ValidationError"}
        and any(words in error_message(exc) for words in ("Could not find", "does not exist"))
    )


def live(context: Context) -> Live:
    """The model packages the pipeline's endpoint serves: DescribeEndpoint's
    ``EndpointConfigName`` (the configuration in service; an update in progress is its
    ``PendingDeploymentSummary``, "the summary of an in-progress deployment when an endpoint is
    creating or updating with a new endpoint configuration":
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_PendingDeploymentSummary.html),
    that configuration's variants' models, and each model's containers' ``ModelPackageName``
    (a model created from a version: ``PrimaryContainer: {ModelPackageName}``). Nothing when
    there is no endpoint (yet)."""
    try:
        endpoint = context.pipeline.output(outputs.ENDPOINT_NAME, "--state-machine-arn")
    except CliError:
        return Live(None, frozenset())  # a pipeline without a deployment: nothing is live
    try:
        described = context.call("sagemaker", "describe_endpoint", EndpointName=endpoint)
        config = context.call(
            "sagemaker",
            "describe_endpoint_config",
            EndpointConfigName=str(described["EndpointConfigName"]),
        )
        packages: set[str] = set()
        for variant in config.get("ProductionVariants", []):
            model = context.call("sagemaker", "describe_model", ModelName=variant["ModelName"])
            containers = [model.get("PrimaryContainer") or {}, *model.get("Containers", [])]
            packages.update(
                str(c["ModelPackageName"]) for c in containers if c.get("ModelPackageName")
            )
    except Exception as exc:
        if _is_missing(exc):
            return Live(endpoint, frozenset())
        raise
    return Live(endpoint, frozenset(packages))
