"""What the state machine's role needs for the deployment's run-start tags."""

from __future__ import annotations

import json
from typing import Any


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _allows(statement: dict[str, Any], action: str, resource_suffix: str) -> bool:
    actions = (
        statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    )
    return action in actions and resource_suffix in json.dumps(statement["Resource"])


def test_state_machine_may_tag_and_read_tags_of_its_endpoint_configurations(
    ml_template_json: dict[str, Any],
) -> None:
    # CreateEndpointConfig with Tags needs sagemaker:AddTags too; the run reads them back.
    statements = _statements(ml_template_json)
    for action in ("sagemaker:AddTags", "sagemaker:ListTags"):
        assert any(_allows(s, action, ":endpoint-config/mnist-*") for s in statements), action
