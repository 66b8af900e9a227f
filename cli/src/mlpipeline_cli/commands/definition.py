"""``graph`` and ``export``: the state machine's definition, drawn or as plain ASL JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .._aws import CliError, UsageError
from .._context import PROG, Context


def _read_template(path: Path) -> dict[str, Any]:
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise CliError(f"{path}: not a JSON template: {exc}") from exc
    if not isinstance(template, dict):
        raise CliError(f"{path}: not a CloudFormation template (a JSON object)")
    return template


def _definition(context: Context) -> tuple[dict[str, Any], str]:
    """The state machine's definition and a name for it: from --template or the deployed one."""
    from ..asl import Environment, UnresolvableError, render_definition

    args = context.args
    if args.template is not None:
        path: Path = args.template
        template = _read_template(path)
        defaults = Environment()
        environment = Environment(
            account=args.account or defaults.account, region=args.region or defaults.region
        )
        try:
            definition = render_definition(template, args.logical_id, environment)
        except (UnresolvableError, ValueError) as exc:
            raise CliError(f"{path}: {exc}") from exc
        return definition, path.name.removesuffix(".template.json")
    if args.account:
        raise UsageError("--account sets the stand-in values of --template; give a template")
    arn = context.pipeline.state_machine_arn
    described = context.call("stepfunctions", "describe_state_machine", stateMachineArn=arn)
    definition = json.loads(described["definition"])
    return dict(definition), str(described.get("name") or arn.rsplit(":", 1)[-1])


def cmd_graph(context: Context) -> int:
    from ..graph import to_dot, to_mermaid

    definition, name = _definition(context)
    try:
        text = (
            to_mermaid(definition)
            if context.args.format == "mermaid"
            else to_dot(definition, name=name)
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    sys.stdout.write(text)
    return 0


def cmd_export(context: Context) -> int:
    args = context.args
    definition, _ = _definition(context)
    print(json.dumps(definition, indent=2))
    if args.template is not None:
        from ..asl import Environment

        defaults = Environment()
        print(
            f"{PROG}: note: ARNs, bucket names and other values CloudFormation fills in at "
            f"deploy time are stand-ins (account {args.account or defaults.account}, region "
            f"{args.region or defaults.region}); export the deployed state machine for the "
            "real ones",
            file=sys.stderr,
        )
    return 0
