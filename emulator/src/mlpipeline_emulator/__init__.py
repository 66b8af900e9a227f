"""A local AWS for CDK apps: moto with a local SageMaker, the Step Functions integration that
drives it, and CloudFormation support for what the CDK synthesizes, deployed into by the real
CDK CLI (the ``mlpipeline-emulator`` command, :mod:`.cli`).

Deploy a CDK app from Python (:mod:`.session`, :mod:`.cdk`)::

    from mlpipeline_emulator import bootstrap, deploy, emulator_session, stack_outputs, synth

    with emulator_session() as emulator:       # stopped at the end, on errors and on Ctrl-C
        synth(emulator, app_dir=app)
        bootstrap(emulator, app_dir=app)
        deploy(emulator, ["MyStack"], app_dir=app)
        print(stack_outputs(emulator, "MyStack"))

Or install the local SageMaker into moto and use moto as usual (``mock_aws`` in process, or
:mod:`.server`)::

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
from .cdk import (
    CDK_CLI_VERSION,
    assembly_stacks,
    bootstrap,
    cdk_environment,
    deploy,
    destroy,
    run_cdk,
    stack_outputs,
    synth,
)
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
from .session import (
    Emulator,
    EmulatorError,
    emulator_session,
    ensure_emulator,
    running_emulator,
    start_emulator,
    state_home,
)

__all__ = [
    "CDK_CLI_VERSION",
    "CheckpointSpec",
    "ContainerSpec",
    "Emulator",
    "EmulatorError",
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
    "assembly_stacks",
    "bootstrap",
    "cdk_environment",
    "deploy",
    "destroy",
    "echo",
    "emulator_session",
    "ensure_emulator",
    "error_name",
    "final_metrics",
    "install",
    "local_sagemaker",
    "run_cdk",
    "running_emulator",
    "stack_outputs",
    "start_emulator",
    "state_home",
    "synth",
    "uninstall",
]
