"""What ``run`` checks before anything starts, with the state machine's own messages.

The messages and rules are the run-input contract's (:mod:`mlpipeline_cdk.contract.run_input`),
which the state machine fails a run with; nothing here restates them. The contract's instance
types are the library's list (``mlpipeline_cdk.instance_types``, generated from botocore's
``TrainingInstanceType``), so the CLI and the state machine refuse the same ones.
"""

from __future__ import annotations

from typing import Any

from mlpipeline_cdk.contract import run_input as run_input_contract


def check_run_value(key: str, value: Any) -> str | None:
    """The contract's message when ``value`` is not allowed for the run-input ``key``."""
    return "; ".join(run_input_contract.check({key: value})) or None


def data_uri_prefix(bucket: str, prefix: str) -> str:
    """``s3://bucket/prefix``, the URI prefix the state machine allows training data under
    (``MLPipeline`` passes ``data_bucket.s3_url_for_object(data_prefix)`` to PrepareRun)."""
    return f"s3://{bucket}/{prefix}"
