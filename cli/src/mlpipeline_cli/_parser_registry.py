"""The options of the model registry's commands: ``models``, ``approve``, ``reject``, ``deploy``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Final

#: SageMaker's ``ApprovalDescription``: 0 to 1024 characters matching ``.*`` (botocore's
#: SageMaker model), so one line.
_DESCRIPTION_LIMIT: Final = 1024

Command = Callable[[str, str, str], argparse.ArgumentParser]


def _approval_description(option: str, *, required: bool) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if "\n" in text or "\r" in text:
            raise argparse.ArgumentTypeError(
                f"{option} must be one line (SageMaker's ApprovalDescription)"
            )
        if required and not text.strip():
            raise argparse.ArgumentTypeError(f"{option} must say why, in 1 to 1024 characters")
        if len(text) > _DESCRIPTION_LIMIT:
            raise argparse.ArgumentTypeError(
                f"{option} may have at most {_DESCRIPTION_LIMIT} characters (SageMaker's "
                f"ApprovalDescription), got {len(text)}"
            )
        return text

    return parse


def _version(text: str) -> int | str:
    from ._registry import parse_version

    named = parse_version(text)
    if named is None:
        raise argparse.ArgumentTypeError(
            "expected a version number of the pipeline's model package group (such as 3) or a "
            "version's ARN (arn:aws:sagemaker:REGION:ACCOUNT:model-package/GROUP/3), "
            f"got {text!r}"
        )
    return named


def _version_or_latest(text: str) -> int | str:
    from mlpipeline_cdk.contract.registry import LATEST

    return LATEST if text == LATEST else _version(text)


_VERSION_HELP: Final = (
    "a version number of the pipeline's model package group (see: mlpipeline models), or a "
    "version's ARN"
)


def add_registry_commands(
    command: Command, follow_options: Callable[[argparse.ArgumentParser], None]
) -> None:
    """The four commands; ``follow_options`` adds ``watch``'s options to ``deploy``."""
    from .commands.registry import cmd_approve, cmd_deploy, cmd_models, cmd_reject

    models = command(
        "models",
        "list the versions of the pipeline's model package group",
        "Every version of the pipeline's model package group (stack output "
        "ModelPackageGroupName), newest first: approval status, accuracy, creation date, "
        "training job, the approval's description, and which one the endpoint serves.",
    )
    models.add_argument("--json", action="store_true", help="print a JSON array")
    models.set_defaults(handler=cmd_models)

    approve = command(
        "approve",
        "approve a version",
        "Set a version's approval status to Approved. A version registered for manual approval "
        "is then deployed by the pipeline's approval rule (follow it with: mlpipeline watch "
        "--latest); any other is deployed with: mlpipeline deploy VERSION.",
    )
    approve.add_argument("version", type=_version, metavar="VERSION", help=_VERSION_HELP)
    approve.add_argument(
        "--description",
        type=_approval_description("--description", required=False),
        help="why, kept as the version's approval description (one line, up to 1024 characters)",
    )
    approve.add_argument(
        "--watch",
        action="store_true",
        help="follow the run the approval rule starts for the version to its end (a version "
        "registered for manual approval)",
    )
    follow_options(approve)
    approve.set_defaults(handler=cmd_approve)

    reject = command(
        "reject",
        "reject a version",
        "Set a version's approval status to Rejected: it is not deployed. A version the "
        "endpoint serves keeps being served until another one is deployed.",
    )
    reject.add_argument("version", type=_version, metavar="VERSION", help=_VERSION_HELP)
    reject.add_argument(
        "--reason",
        required=True,
        type=_approval_description("--reason", required=True),
        help="why, kept as the version's approval description (one line, up to 1024 characters)",
    )
    reject.add_argument("--json", action="store_true", help="print a JSON object")
    reject.set_defaults(handler=cmd_reject)

    deploy = command(
        "deploy",
        "deploy an Approved version (roll back or forward), without training",
        "Start a run that trains nothing and deploys a version of the model registry through "
        "the pipeline's deployment steps: VERSION, or latest (the newest Approved version). A "
        "version that does not exist or is not Approved is refused before anything starts.",
    )
    deploy.add_argument(
        "version",
        type=_version_or_latest,
        metavar="VERSION",
        help=_VERSION_HELP + ", or latest (the newest Approved)",
    )
    deploy.add_argument("--watch", action="store_true", help="follow the run to its end")
    follow_options(deploy)
    deploy.set_defaults(handler=cmd_deploy)
