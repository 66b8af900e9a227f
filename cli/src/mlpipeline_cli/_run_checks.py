"""What ``run`` checks before anything starts, with the state machine's own messages.

The messages are the run-input contract's (:mod:`mlpipeline_cdk.contract.run_input`), which the
state machine fails a run with; nothing here restates them. The instance types SageMaker trains
on are the library's list (``mlpipeline_cdk.instance_types``, generated from botocore's
``TrainingInstanceType``) where the library has one, else botocore's enum itself.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any

from mlpipeline_cdk.contract import run_input as run_input_contract


@functools.cache
def training_instance_types() -> frozenset[str]:
    """The instance types CreateTrainingJob accepts (botocore ``sagemaker``
    ``TrainingInstanceType``, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ResourceConfig.html)."""
    try:
        library = importlib.import_module("mlpipeline_cdk.instance_types")
    except ImportError:
        import botocore.session

        model = botocore.session.get_session().get_service_model("sagemaker")
        return frozenset(model.shape_for("TrainingInstanceType").enum)
    return frozenset(library.TRAINING_INSTANCE_TYPES)


def check_run_value(key: str, value: Any) -> str | None:
    """The contract's message when ``value`` is not allowed for the run-input ``key``."""
    problems = run_input_contract.check({key: value})
    if (
        not problems
        and key == run_input_contract.TRAINING_INSTANCE_TYPE
        and value not in training_instance_types()
    ):
        problems = [run_input_contract.BY_NAME[key].message]
    return "; ".join(problems) or None


def data_uri_prefix(bucket: str, prefix: str) -> str:
    """``s3://bucket/prefix``, the URI prefix the state machine allows training data under
    (``MLPipeline`` passes ``data_bucket.s3_url_for_object(data_prefix)`` to PrepareRun)."""
    return f"s3://{bucket}/{prefix}"
