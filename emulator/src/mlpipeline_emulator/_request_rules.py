"""Every SageMaker request checked against SageMaker's API model, as SageMaker checks it.

The constraints are botocore's service model of SageMaker (``required``, ``min``/``max`` lengths
of strings, lists and maps, ``min``/``max`` values of numbers, ``pattern``, ``enum``), applied to
every member at every depth. A request that breaks any of them is refused as SageMaker refuses it:
``ValidationException``, HTTP 400, with every broken constraint in one message, in the format
AWS's services use, e.g. (SageMaker's CreateModel, quoted in
github.com/aws-samples/sagemaker-ml-workflow-with-apache-airflow/issues/3)::

    2 validation errors detected: Value 'x y' at 'modelName' failed to satisfy constraint:
    Member must have length less than or equal to 63; Value 'x y' at 'modelName' failed to
    satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*

Members are named by their path in lowerCamelCase, list elements as ``<n>.member`` counting from
1 (``tags.6.member.value``: github.com/SWO-GS/auto-tag/issues/90); a missing required member is
``Value null at 'roleArn' failed to satisfy constraint: Member must not be null``
(github.com/serverless/serverless/issues/2036); an enum is listed as ``Member must satisfy enum
value set: [ml.p2.xlarge, ...]`` (github.com/aws-samples/aws-sagemaker-heart-disease-prediction
/issues/1). A sensitive member's value is left out of the message (``Value at 'x' ...``), as
AWS's services do for members the model marks ``sensitive``.

A value of the wrong JSON type cannot be read at all; it is refused as
``SerializationException`` (the JSON protocol's deserialization error), before any constraint.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from . import _java_regex
from ._service_model import service_model

VALIDATION: Final = "ValidationException"
SERIALIZATION: Final = "SerializationException"


class RefusedRequestError(Exception):
    """A request SageMaker refuses before doing anything: the error code and message it sends."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class _Violation:
    path: str
    value: Any
    sensitive: bool
    constraint: str

    def text(self) -> str:
        if self.sensitive:
            return f"Value at '{self.path}' failed to satisfy constraint: {self.constraint}"
        return (
            f"Value {_render(self.value)} at '{self.path}' failed to satisfy constraint: "
            f"{self.constraint}"
        )


def _render(value: Any) -> str:
    """A value as Java's ``toString`` renders it in AWS's messages."""
    if value is None:
        return "null"
    return f"'{_java_string(value)}'"


def _java_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_java_string(v) for v in value) + "]"
    return str(value)


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


_JSON_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "structure": (dict,),
    "list": (list,),
    "map": (dict,),
    "blob": (str, bytes),
    "timestamp": (int, float, str, datetime.datetime),
}
_NAMES: Final = {"integer": "an Integer", "long": "a Long", "boolean": "a Boolean"}


def _type_error(shape: Any, value: Any, path: str) -> RefusedRequestError | None:
    allowed = _JSON_TYPES.get(shape.type_name, (object,))
    number = shape.type_name in ("integer", "long", "float", "double")
    if isinstance(value, allowed) and not (number and isinstance(value, bool)):
        return None
    found = type(value).__name__.upper()
    wanted = _NAMES.get(shape.type_name, f"a {shape.type_name}")
    return RefusedRequestError(
        SERIALIZATION, f"{found}_VALUE at '{path}' can not be converted to {wanted}"
    )


def _bound_constraints(shape: Any, measured: float, what: str) -> list[str]:
    """The shape's ``min``/``max`` broken by ``measured``: a ``length`` (strings, lists, maps,
    blobs) or a ``value`` (numbers), worded as SageMaker words each."""
    found = []
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measured < low:
        found.append(f"Member must have {what} greater than or equal to {low}")
    if high is not None and measured > high:
        found.append(f"Member must have {what} less than or equal to {high}")
    return found


def _size_constraints(shape: Any, size: int) -> list[str]:
    return _bound_constraints(shape, size, "length")


def _string_constraints(shape: Any, value: str) -> list[str]:
    found = _size_constraints(shape, len(value))
    if shape.enum and value not in shape.enum:
        found.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    pattern = shape.metadata.get("pattern")
    if pattern is not None and not _java_regex.matches(pattern, value):
        found.append(f"Member must satisfy regular expression pattern: {pattern}")
    return found


class _Walk:
    """One request's walk through its shape, collecting every broken constraint."""

    def __init__(self) -> None:
        self.violations: list[_Violation] = []

    def add(self, shape: Any, path: str, value: Any, constraints: list[str]) -> None:
        sensitive = bool(shape.metadata.get("sensitive"))
        self.violations.extend(_Violation(path, value, sensitive, c) for c in constraints)

    def value(self, shape: Any, value: Any, path: str) -> None:
        refused = _type_error(shape, value, path)
        if refused is not None:
            raise refused
        kind = shape.type_name
        if kind == "structure":
            self.structure(shape, value, path)
        elif kind == "list":
            self.add(shape, path, value, _size_constraints(shape, len(value)))
            for index, item in enumerate(value, start=1):
                self.value(shape.member, item, f"{path}.{index}.member")
        elif kind == "map":
            self.map(shape, value, path)
        elif kind == "string":
            self.add(shape, path, value, _string_constraints(shape, value))
        elif kind == "blob":
            self.add(shape, path, value, _size_constraints(shape, len(value)))
        elif kind in ("integer", "long", "float", "double"):
            self.add(shape, path, value, _bound_constraints(shape, value, "value"))

    def structure(self, shape: Any, value: Mapping[str, Any], path: str) -> None:
        required = set(shape.required_members)
        for name, member in shape.members.items():
            member_path = f"{path}.{_lower_camel(name)}" if path else _lower_camel(name)
            item = value.get(name)
            if item is None:
                if name in required:
                    self.add(member, member_path, None, ["Member must not be null"])
                continue
            self.value(member, item, member_path)

    def map(self, shape: Any, value: Mapping[str, Any], path: str) -> None:
        self.add(shape, path, value, _size_constraints(shape, len(value)))
        key_problems: list[str] = []
        value_problems: list[str] = []
        for key, item in value.items():
            key_problems += _string_constraints(shape.key, key)
            refused = _type_error(shape.value, item, path)
            if refused is not None:
                raise refused
            if shape.value.type_name == "string":
                value_problems += _string_constraints(shape.value, item)
            else:
                inner = _Walk()
                inner.value(shape.value, item, f"{path}.{key}")
                self.violations.extend(inner.violations)
        for kind, problems in (("keys", key_problems), ("value", value_problems)):
            if problems:
                listed = ", ".join(dict.fromkeys(problems))
                self.add(shape, path, value, [f"Map {kind} must satisfy constraint: [{listed}]"])


def problems(operation: str, request: Mapping[str, Any], service: str = "sagemaker") -> list[str]:
    """Every broken constraint of ``request``, in AWS's wording; raises :class:`RefusedRequestError`
    for a value of the wrong type."""
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        return []
    walk = _Walk()
    walk.structure(shape, request, "")
    return [v.text() for v in walk.violations]


def check(operation: str, request: Mapping[str, Any]) -> None:
    """Raise :class:`RefusedRequestError` as SageMaker would if ``request`` breaks its API model."""
    found = problems(operation, request)
    if found:
        raise RefusedRequestError(VALIDATION, validation_message(found))


def validation_message(found: list[str]) -> str:
    noun = "validation error" if len(found) == 1 else "validation errors"
    return f"{len(found)} {noun} detected: " + "; ".join(found)
