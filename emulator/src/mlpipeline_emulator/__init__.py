"""A local SageMaker for moto, and the Step Functions integration that drives it.

Install it, then use moto as usual (``mock_aws`` in process, or :mod:`.server`)::

    from moto import mock_aws
    from mlpipeline_emulator import ScriptedRuntime, TrainingOutcome, local_sagemaker

    runtime = ScriptedRuntime(training=TrainingOutcome.success({"test:accuracy": 0.98}))
    with local_sagemaker(runtime), mock_aws(
        config={"stepfunctions": {"execute_state_machine": True}}
    ):
        ...  # create and execute state machines that use arn:aws:states:::sagemaker:*

What happens on SageMaker's instances is up to a runtime (:mod:`.runtime`);
:class:`ScriptedRuntime` plays back scripted outcomes for tests.
"""

from ._install import install, local_sagemaker, uninstall
from ._stepfunctions_sagemaker import error_name
from .process_runtime import ProcessRuntime as ProcessRuntime
from .runtime import (
    CheckpointSpec,
    ContainerSpec,
    EndpointHost,
    EndpointSpec,
    HostingOutcome,
    InputChannel,
    InvocationRequest,
    InvocationResult,
    LocalRuntime,
    MetricDefinition,
    ModelError,
    TrainingJobSpec,
    TrainingOutcome,
    TrainingProgress,
    TrainingRunner,
    VariantSpec,
    final_metrics,
)
from .scripted import ScriptedRuntime, echo

__all__ = [
    "CheckpointSpec",
    "ContainerSpec",
    "EndpointHost",
    "EndpointSpec",
    "HostingOutcome",
    "InputChannel",
    "InvocationRequest",
    "InvocationResult",
    "LocalRuntime",
    "MetricDefinition",
    "ModelError",
    "ScriptedRuntime",
    "TrainingJobSpec",
    "TrainingOutcome",
    "TrainingProgress",
    "TrainingRunner",
    "VariantSpec",
    "echo",
    "error_name",
    "final_metrics",
    "install",
    "local_sagemaker",
    "uninstall",
]
