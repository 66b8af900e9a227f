"""The MLPipeline construct's own state machine, as synthesized, executed on the local SageMaker."""

from __future__ import annotations

from typing import Any

from mlpipeline_cdk.asl import render_definition
from mlpipeline_cdk.local import ScriptedRuntime, TrainingOutcome
from tests.local.helpers import RunMachine, wait_for


def test_synthesized_state_machine_trains_and_deploys(
    ml_template_json: dict[str, Any],
    runtime: ScriptedRuntime,
    run_machine: RunMachine,
    sagemaker: Any,
) -> None:
    runtime.script_training(TrainingOutcome.success({"test:accuracy": 0.97}))

    result = run_machine(render_definition(ml_template_json))

    assert result.status == "SUCCEEDED", result.cause
    (job,) = runtime.training_jobs
    (deployment,) = runtime.deployments
    (container,) = deployment.variants[0].containers
    assert container.model_data_url == job.default_model_artifacts
    (endpoint,) = sagemaker.list_endpoints()["Endpoints"]
    wait_for(
        lambda: (
            sagemaker.describe_endpoint(EndpointName=endpoint["EndpointName"])["EndpointStatus"]
            == "InService"
        ),
        "the endpoint to be in service",
    )
