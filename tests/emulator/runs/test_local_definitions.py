"""What CreateStateMachine accepts of the optimized SageMaker integration."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.emulator.runs.helpers import ROLE, machine, task

SM = "arn:aws:states:::sagemaker"


def create(sfn: Any, resource: str, parameters: dict[str, Any]) -> None:
    definition = machine("Task", Task=task(resource, parameters))
    sfn.create_state_machine(name="machine", definition=json.dumps(definition), roleArn=ROLE)


@pytest.mark.parametrize(
    "action",
    [
        "deleteEndpoint",  # no optimized delete: aws-sdk:sagemaker:deleteEndpoint is the way
        "deleteEndpointConfig",
        "deleteModel",
        "describeTrainingJob",
        "createEndpoint.sync",  # .sync only exists for jobs
        "createTrainingJob.waitForTaskToken",  # SageMaker has no callback pattern
    ],
)
def test_resources_step_functions_does_not_offer_are_refused(sfn: Any, action: str) -> None:
    with pytest.raises(sfn.exceptions.ClientError, match="not recognized"):
        create(sfn, f"{SM}:{action}", {})


@pytest.mark.parametrize("action", ["createProcessingJob.sync", "createLabelingJob"])
def test_integrations_not_emulated_say_so(sfn: Any, action: str) -> None:
    with pytest.raises(sfn.exceptions.ClientError, match=r"not emulated by mlpipeline_emulator"):
        create(sfn, f"{SM}:{action}", {})


def test_fields_the_api_does_not_have_are_refused(sfn: Any) -> None:
    with pytest.raises(sfn.exceptions.ClientError, match='"Hyperparameters" is not supported'):
        create(sfn, f"{SM}:createTrainingJob.sync", {"TrainingJobName": "j", "Hyperparameters": {}})


def test_json_path_fields_are_checked_by_their_name(sfn: Any) -> None:
    create(sfn, f"{SM}:createEndpoint", {"EndpointName.$": "$.name", "EndpointConfigName": "c"})

    with pytest.raises(sfn.exceptions.ClientError, match='"EndpointNam" is not supported'):
        create(sfn, f"{SM}:createEndpoint", {"EndpointNam.$": "$.name"})
