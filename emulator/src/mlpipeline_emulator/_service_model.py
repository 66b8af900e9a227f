"""SageMaker's API model, as botocore ships it, loaded once and only when first needed."""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.session import get_session


@cache
def service_model(service: str) -> Any:
    """botocore's model of ``service`` (``sagemaker``, ``sagemaker-runtime``)."""
    return get_session().get_service_model(service)


def sagemaker_model() -> Any:
    return service_model("sagemaker")


@cache
def input_members(operation: str) -> frozenset[str]:
    """The request fields of a SageMaker operation, e.g. ``CreateTrainingJob``."""
    return frozenset(sagemaker_model().operation_model(operation).input_shape.members)


@cache
def output_members(operation: str) -> frozenset[str]:
    """The response fields of a SageMaker operation, e.g. ``DescribeTrainingJob``."""
    return frozenset(sagemaker_model().operation_model(operation).output_shape.members)
