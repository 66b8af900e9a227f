"""Endpoint invocation metrics, written as SageMaker writes them, into moto's CloudWatch, so
that GetMetricData (the idle check, dashboards, a person) reads what the emulator served.

SageMaker publishes, for each InvokeEndpoint request an endpoint receives, in the namespace
``AWS/SageMaker`` with the dimensions ``EndpointName`` and ``VariantName``
(https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html, "Endpoint
invocation metrics"):

- ``Invocations``: the number of requests sent to the endpoint (Units: None; Sum is the count).
- ``Invocation4XXErrors`` / ``Invocation5XXErrors``: requests where the model returned a 4xx /
  5xx status (Units: None). The emulator's model server reports a failure as a
  :class:`~.runtime.ModelError`, which it counts as a 5xx: a model that raises answers 500.
- ``ModelLatency``: the time the model took to answer, as SageMaker sees it (Units:
  Microseconds).
- ``OverheadLatency``: the time SageMaker's own handling added to the request (Units:
  Microseconds).

Moto's own PutMetricData stands in for SageMaker's publishing; the data points carry the time
of the request, so tests that need an endpoint to look idle age them with :func:`age`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Final

from moto.cloudwatch.models import cloudwatch_backends

from ._state import LOCK
from .runtime import ModelError

NAMESPACE: Final = "AWS/SageMaker"
#: The variant every endpoint of the pipeline serves.
VARIANT: Final = "AllTraffic"


@contextmanager
def invocation(account: str, region: str, endpoint_name: str, *, received: float) -> Iterator[None]:
    """Time the model's answer to one request (``received``: ``time.perf_counter()`` when the
    request arrived) and record the request's metrics when it ends, well or with a model error.
    Requests refused before they reach the endpoint (validation, no such endpoint) are not
    counted, as SageMaker counts requests sent to the endpoint."""
    started = time.perf_counter()
    failed = False
    try:
        yield
    except ModelError:
        failed = True
        raise
    finally:
        model_seconds = time.perf_counter() - started
        total = time.perf_counter() - received
        record(
            account,
            region,
            endpoint_name,
            model_seconds=model_seconds,
            overhead_seconds=max(0.0, total - model_seconds),
            status=500 if failed else 200,
        )


def record(
    account: str,
    region: str,
    endpoint_name: str,
    *,
    model_seconds: float,
    overhead_seconds: float,
    status: int,
    variant: str = VARIANT,
) -> None:
    """Record one request to ``endpoint_name`` as SageMaker's metrics."""
    dimensions = [
        {"Name": "EndpointName", "Value": endpoint_name},
        {"Name": "VariantName", "Value": variant},
    ]

    def datum(name: str, value: float, unit: str) -> dict[str, Any]:
        return {"MetricName": name, "Dimensions": dimensions, "Value": value, "Unit": unit}

    data = [
        datum("Invocations", 1, "None"),
        datum("Invocation4XXErrors", 1 if 400 <= status < 500 else 0, "None"),
        datum("Invocation5XXErrors", 1 if status >= 500 else 0, "None"),
        datum("ModelLatency", round(model_seconds * 1_000_000), "Microseconds"),
        datum("OverheadLatency", round(overhead_seconds * 1_000_000), "Microseconds"),
    ]
    with LOCK:
        cloudwatch_backends[account][region].put_metric_data(NAMESPACE, data)


def age(account: str, region: str, endpoint_name: str, by: timedelta) -> int:
    """Move the data points of ``endpoint_name``'s metrics ``by`` into the past (a test's way of
    letting time pass); returns how many moved."""
    moved = 0
    with LOCK:
        for datum in cloudwatch_backends[account][region].metric_data:
            if datum.namespace != NAMESPACE:
                continue
            if any(d.name == "EndpointName" and d.value == endpoint_name for d in datum.dimensions):
                datum.timestamp = datum.timestamp - by
                moved += 1
    return moved
