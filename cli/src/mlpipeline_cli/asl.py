"""Turn a state machine in a synthesized CloudFormation template into plain ASL JSON.

CloudFormation holds a state machine's definition as ``Fn::Join`` of text and intrinsics. This
module resolves those intrinsics against stand-in values (or values you supply, such as the
physical names of a deployed stack's resources), so the definition can be read, asserted on,
executed by an ASL interpreter, or opened in Workflow Studio.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


#: The ARN a resource's stand-in name gives, by resource type (the rest: service:region:account).
_ARN_PATTERNS: Final = {
    "AWS::S3::Bucket": "arn:{partition}:s3:::{lowered}",
    "AWS::IAM::Role": "arn:{partition}:iam::{account}:role/{name}",
    "AWS::StepFunctions::StateMachine": (
        "arn:{partition}:states:{region}:{account}:stateMachine:{name}"
    ),
    "AWS::SNS::Topic": "arn:{partition}:sns:{region}:{account}:{name}",
    "AWS::KMS::Key": "arn:{partition}:kms:{region}:{account}:key/{lowered}",
    "AWS::Lambda::Function": "arn:{partition}:lambda:{region}:{account}:function:{name}",
}


@dataclass(frozen=True)
class Environment:
    """The values pseudo parameters and resources resolve to."""

    account: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"
    #: Logical id -> value of ``Ref`` (physical name or ARN); unlisted ids get a stand-in.
    refs: Mapping[str, str] = field(default_factory=dict)
    #: ``"LogicalId.Attribute"`` -> value of ``Fn::GetAtt``; unlisted ones get a stand-in.
    attributes: Mapping[str, str] = field(default_factory=dict)


class UnresolvableError(ValueError):
    """An intrinsic function this resolver does not evaluate."""


class TemplateResolver:
    """Evaluates the intrinsics of one template against an :class:`Environment`."""

    def __init__(self, template: Mapping[str, Any], env: Environment | None = None) -> None:
        self._template = template
        self._env = env or Environment()

    def pseudo(self, name: str) -> str | None:
        env = self._env
        return {
            "AWS::AccountId": env.account,
            "AWS::Region": env.region,
            "AWS::Partition": env.partition,
            "AWS::URLSuffix": env.url_suffix,
            "AWS::StackName": "stack",
            "AWS::NoValue": "",
        }.get(name)

    def ref(self, name: str) -> str:
        pseudo = self.pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self._env.refs:
            return self._env.refs[name]
        resource = self._template.get("Resources", {}).get(name)
        if resource is None:
            parameter = self._template.get("Parameters", {}).get(name)
            if parameter is not None and "Default" in parameter:
                return str(parameter["Default"])
            raise UnresolvableError(f"Ref to unknown logical id {name!r}")
        return self._stand_in_ref(name, resource["Type"])

    def get_att(self, name: str, attribute: str) -> str:
        key = f"{name}.{attribute}"
        if key in self._env.attributes:
            return self._env.attributes[key]
        resource = self._template.get("Resources", {}).get(name)
        if resource is None:
            raise UnresolvableError(f"Fn::GetAtt of unknown logical id {name!r}")
        if attribute == "Arn":
            return self._stand_in_arn(name, resource["Type"])
        return f"{name.lower()}-{attribute.lower()}"

    def _stand_in_ref(self, name: str, resource_type: str) -> str:
        # Ref gives a name for most types, an ARN for these.
        if resource_type in {
            "AWS::StepFunctions::StateMachine",
            "AWS::SNS::Topic",
            "AWS::IAM::ManagedPolicy",
        }:
            return self._stand_in_arn(name, resource_type)
        return name.lower()

    def _stand_in_arn(self, name: str, resource_type: str) -> str:
        env = self._env
        service = resource_type.split("::")[1].lower()
        lowered = name.lower()
        pattern = _ARN_PATTERNS.get(
            resource_type, "arn:{partition}:{service}:{region}:{account}:{lowered}"
        )
        return pattern.format(
            partition=env.partition,
            service=service,
            region=env.region,
            account=env.account,
            name=name,
            lowered=lowered,
        )

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by what it evaluates to."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = self._FUNCTIONS.get(key)
            if function is not None:
                return function(self, argument)
            if key.startswith("Fn::") or key == "Condition":
                raise UnresolvableError(f"intrinsic {key} is not evaluated")
        return {k: self.resolve(v) for k, v in value.items()}

    def _get_att(self, argument: Any) -> Any:
        name, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        return self.get_att(name, attribute)

    def _join(self, argument: Any) -> str:
        separator, parts = argument
        return str(separator.join(str(self.resolve(part)) for part in parts))

    def _find_in_map(self, argument: Any) -> Any:
        mapping, top, second = (self.resolve(part) for part in argument)
        try:
            return self._template["Mappings"][mapping][top][second]
        except KeyError:
            raise UnresolvableError(
                f"Fn::FindInMap: no {mapping}[{top}][{second}] in the template"
            ) from None

    def _select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, argument: Any) -> list[str]:
        separator, text = argument
        return str(self.resolve(text)).split(separator)

    #: The intrinsic functions evaluated, by their key.
    _FUNCTIONS: ClassVar[dict[str, Callable[[Any, Any], Any]]] = {
        "Ref": lambda self, argument: self.ref(argument),
        "Fn::GetAtt": _get_att,
        "Fn::Join": _join,
        "Fn::Sub": lambda self, argument: self._sub(argument),
        "Fn::FindInMap": _find_in_map,
        "Fn::Select": _select,
        "Fn::Split": _split,
    }

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, variables = argument[0], self.resolve(argument[1])

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(name)

        return _SUB_VARIABLE.sub(substitute, text)


def state_machines(template: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The state machine resources of ``template`` by logical id."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::StepFunctions::StateMachine"
    }


def render_definition(
    template: Mapping[str, Any],
    logical_id: str | None = None,
    env: Environment | None = None,
) -> dict[str, Any]:
    """The ASL definition of a state machine in ``template`` as a plain dict.

    ``logical_id`` may be omitted when the template has exactly one state machine.
    """
    machines = state_machines(template)
    if logical_id is None:
        if len(machines) != 1:
            raise ValueError(
                f"the template has {len(machines)} state machines "
                f"({', '.join(sorted(machines)) or 'none'}); name one by logical id"
            )
        (logical_id,) = machines
    try:
        properties = machines[logical_id]["Properties"]
    except KeyError:
        raise ValueError(f"no state machine {logical_id!r} in the template") from None
    resolver = TemplateResolver(template, env)
    if "DefinitionString" in properties:
        definition = json.loads(resolver.resolve(properties["DefinitionString"]))
    else:
        definition = resolver.resolve(properties["Definition"])
    substitutions = properties.get("DefinitionSubstitutions")
    if substitutions:
        text = json.dumps(definition)
        for name, value in resolver.resolve(substitutions).items():
            text = text.replace("${" + name + "}", str(value))
        definition = json.loads(text)
    return dict(definition)
