"""What is recorded when the endpoint is stopped (deleted, its configuration and model kept), by
the idle check or by ``mlpipeline endpoint stop``; ``mlpipeline endpoint start`` reads it back.

One JSON object per endpoint, ``endpoint-stops/<endpoint name>.json`` in the artifacts bucket,
overwritten by each stop: the last stop is what ``endpoint start`` restores, and one known key is
read in one call and written under a one-prefix grant. (Tags on the endpoint configuration would
be kept with it, but finding the configuration of the last stop would mean listing every
configuration and its tags.)
"""

from __future__ import annotations

from typing import Final

#: Key prefix of the records in the artifacts bucket.
STOPS_PREFIX: Final = "endpoint-stops/"

ENDPOINT_NAME: Final = "endpointName"
ENDPOINT_CONFIG_NAME: Final = "endpointConfigName"
#: The configuration's ProductionVariants as DescribeEndpointConfig returns them (model name,
#: instance type and count, or serverless configuration).
VARIANTS: Final = "variants"
#: When the endpoint was deleted (ISO 8601, UTC).
STOPPED_AT: Final = "stoppedAt"
#: ``idle-check`` or ``operator``.
STOPPED_BY: Final = "stoppedBy"
REASON: Final = "reason"
IDLE_CHECK: Final = "idle-check"
OPERATOR: Final = "operator"


def record_key(endpoint_name: str) -> str:
    return f"{STOPS_PREFIX}{endpoint_name}.json"
