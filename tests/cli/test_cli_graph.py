"""``mlpipeline graph`` and ``export``: from the synthesized template and from a deployed machine.

The README's diagram is the command's output for the app's template; a test keeps it so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlpipeline_cli.asl import Environment, render_definition
from mlpipeline_cli.cli import main
from mlpipeline_cli.graph import describe_condition, to_dot, to_mermaid

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def template_file(tmp_path: Path, ml_template_json: dict[str, Any]) -> Path:
    path = tmp_path / "MLPipelineStack.template.json"
    path.write_text(json.dumps(ml_template_json))
    return path


def _readme_mermaid() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Operating a deployed pipeline\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```mermaid\n(.*?)```", section, re.DOTALL)
    assert match, "the README's Operating section has no ```mermaid block"
    return match.group(1)


def test_readme_shows_the_graph_the_command_draws_from_the_template(
    template_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", "--template", str(template_file)]) == 0
    drawn = capsys.readouterr().out
    assert _readme_mermaid() == drawn, (
        "README.md's diagram is out of date: run `make synth`, then "
        "`.venv/bin/mlpipeline graph --template cdk.out/MLPipelineStack.template.json` and "
        "paste the output into the ```mermaid block of 'Operating a deployed pipeline'"
    )


def test_mermaid_graph_of_the_pipeline_has_every_state_and_edge_kind(
    template_file: Path, ml_template_json: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", "--template", str(template_file)]) == 0
    text = capsys.readouterr().out
    definition = render_definition(ml_template_json)
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    START(("start"))' in lines
    assert "    START --> ApplyRunDefaults" in lines
    assert '    Train["Train<br/>sagemaker:createTrainingJob.sync"]' in lines
    assert "    Train --> HasFinalMetrics" in lines
    # Catch edges are dashed and name the errors.
    assert '    Train -.->|"States.ALL"| ExplainTrainingFailure' in lines
    assert '    CheckHyperparameterValues -.->|"InvalidInput"| NotifyFailure' in lines
    # Choice rules carry a short condition, the default says so.
    assert '    ChooseCapacity -->|"$.config.spot == true"| UseSpotCapacity' in lines
    assert '    ChooseCapacity -->|"default"| UseOnDemandCapacity' in lines
    assert (
        '    IsModelGoodEnough -->|"$.evaluation.accuracy #lt; $.evaluation.threshold"| '
        "ModelBelowThreshold" in lines
    )
    # The Map's item processor is a subgraph of its own.
    start = lines.index(
        '    subgraph CheckHyperparameterValues_items["CheckHyperparameterValues: each item"]'
    )
    inner = lines[start : lines.index("    end", start)]
    assert '        HyperparameterValueIsNotString(["HyperparameterValueIsNotString"])' in inner
    assert (
        '    CheckHyperparameterValues -.->|"each item"| CheckHyperparameterValues_START' in lines
    )
    # Terminals: the Fail states, and the end that RunSucceeded leads to.
    assert "    class RunFailed,HyperparameterValueIsNotString failState" in lines
    assert "    RunSucceeded --> END" in lines
    declared = {
        re.match(r"\s+(\w+)[\[({]", line).group(1)
        for line in lines
        if re.match(r"\s+\w+[\[({]", line)
    }
    assert set(definition["States"]) <= declared


def test_graph_output_is_deterministic(
    template_file: Path, ml_template_json: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["graph", "--template", str(template_file)])
    first = capsys.readouterr().out
    main(["graph", "--template", str(template_file)])
    assert capsys.readouterr().out == first
    # The order of the States object does not matter: the walk from StartAt decides.
    definition = render_definition(ml_template_json)
    shuffled = dict(definition, States=dict(reversed(list(definition["States"].items()))))
    assert to_mermaid(shuffled) == to_mermaid(definition) == first
    assert to_dot(shuffled) == to_dot(definition)


def test_dot_graph_of_the_pipeline(template_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", "--template", str(template_file), "--format", "dot"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'digraph "MLPipelineStack" {'
    assert lines[-1] == "}"
    assert '    "Train" -> "ExplainTrainingFailure" [label="States.ALL", style=dashed];' in lines
    assert '    "ChooseCapacity" -> "UseSpotCapacity" [label="$.config.spot == true"];' in lines
    assert '    "RunSucceeded" -> "END";' in lines
    assert '    subgraph "cluster_CheckHyperparameterValues_items" {' in lines
    assert (
        '    "Train" [label="Train\\nsagemaker:createTrainingJob.sync", shape=box, '
        'style="rounded"];'
    ) in lines


# --- names and conditions that need care ---------------------------------------------------------

AWKWARD: dict[str, Any] = {
    "StartAt": 'Say "hi" & <go>',
    "States": {
        'Say "hi" & <go>': {"Type": "Pass", "Next": "end"},
        "end": {
            "Type": "Choice",
            "Choices": [
                {
                    "Or": [
                        {"Variable": "$.a", "StringEquals": "x|y"},
                        {"Variable": "$.a", "StringEquals": "#1"},
                    ],
                    "Next": "1st step",
                },
                {"Not": {"Variable": "$.n", "NumericGreaterThanEquals": 3}, "Next": "Wait a bit"},
                {"Variable": "$.flag", "IsPresent": False, "Next": "Fan out"},
            ],
            "Default": "Done!",
        },
        "1st step": {
            "Type": "Map",
            "ItemProcessor": {
                "StartAt": "end",  # names inside a processor are their own scope for ids
                "States": {"end": {"Type": "Pass", "End": True}},
            },
            "Next": "Done!",
        },
        "Wait a bit": {"Type": "Wait", "Seconds": 5, "Next": "Done!"},
        "Fan out": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Succeed"}}},
                {
                    "StartAt": "Right",
                    "States": {
                        "Right": {
                            "Type": "Task",
                            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:right:1",
                            "End": True,
                        }
                    },
                },
            ],
            "Catch": [{"ErrorEquals": ["States.Timeout", "Custom.Error"], "Next": "Oops"}],
            "Next": "Done!",
        },
        "Oops": {"Type": "Fail", "Error": "Oops"},
        "Done!": {"Type": "Succeed"},
        "Unreachable": {"Type": "Pass", "End": True},
    },
}


def test_mermaid_escapes_names_and_labels() -> None:
    text = to_mermaid(AWKWARD)
    assert '    Say_hi_go("Say #quot;hi#quot; #amp; #lt;go#gt;")' in text
    # "end" is a Mermaid keyword: never an id.
    assert '    end_{"end"}' in text
    assert "    end_ -->|\"$.a in ('x#124;y', '#35;1')\"| s1st_step" in text
    assert '    end_ -->|"$.n #lt; 3"| Wait_a_bit' in text
    assert '    end_ -->|"$.flag absent"| Fan_out' in text
    assert '    end_ -->|"default"| Done' in text
    assert '    Fan_out -.->|"States.Timeout, Custom.Error"| Oops' in text
    assert '        Right["Right<br/>lambda:right"]' in text
    assert '    Fan_out -.->|"branch 1"| Fan_out_1_START' in text
    # The processor's own "end" state gets an id of its own.
    assert '        end__2("end")' in text
    assert '    Unreachable("Unreachable")' in text
    assert text.index("Unreachable(") > text.index('Done(["Done!"])')
    for line in text.splitlines()[1:]:
        # Every line is a node, an edge, a subgraph or a class statement; no raw quote inside.
        body = re.sub(r'"[^"]*"', '""', line)
        assert '"' not in body.replace('""', "")


def test_dot_escapes_names_and_labels() -> None:
    text = to_dot(AWKWARD, name='odd "name"')
    assert text.startswith('digraph "odd \\"name\\"" {')
    assert '    "Say_hi_go" [label="Say \\"hi\\" & <go>", ' in text
    assert '    "end_" -> "Wait_a_bit" [label="$.n < 3"];' in text
    assert '    "Fan_out" -> "Oops" [label="States.Timeout, Custom.Error", style=dashed];' in text


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ({"Variable": "$.x", "StringEquals": "a"}, "$.x == 'a'"),
        ({"Variable": "$.x", "StringEqualsPath": "$.y"}, "$.x == $.y"),
        ({"Variable": "$.n", "NumericLessThanEquals": 2.5}, "$.n <= 2.5"),
        ({"Variable": "$.b", "BooleanEquals": False}, "$.b == false"),
        (
            {"Variable": "$.t", "TimestampGreaterThan": "2026-01-01T00:00:00Z"},
            "$.t > '2026-01-01T00:00:00Z'",
        ),
        ({"Variable": "$.s", "StringMatches": "ml.*"}, "$.s matches 'ml.*'"),
        ({"Not": {"Variable": "$.s", "StringMatches": "*.*"}}, "$.s not matches '*.*'"),
        ({"Variable": "$.v", "IsNull": True}, "$.v is null"),
        ({"Not": {"Variable": "$.v", "IsString": True}}, "$.v is not a string"),
        (
            {
                "And": [
                    {"Variable": "$.a", "IsNumeric": True},
                    {
                        "Or": [
                            {"Variable": "$.a", "NumericEquals": 1},
                            {"Variable": "$.b", "NumericEquals": 2},
                        ]
                    },
                ]
            },
            "$.a is a number and ($.a == 1 or $.b == 2)",
        ),
        ({"Condition": "{% $states.input.n > 3 %}"}, "$states.input.n > 3"),
    ],
)
def test_conditions_are_summarised(rule: dict[str, Any], text: str) -> None:
    assert describe_condition({**rule, "Next": "X"}) == text


def test_long_conditions_are_cut_short() -> None:
    rule = {"Variable": "$.a_very_long_variable_name", "StringEquals": "x" * 80, "Next": "X"}
    summary = describe_condition(rule)
    assert len(summary) == 60 and summary.endswith("...")


# --- deployed, export ----------------------------------------------------------------------------


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        arn = boto3.client("stepfunctions").create_state_machine(
            name="Pipeline",
            roleArn="arn:aws:iam::123456789012:role/pipeline",
            definition=json.dumps(AWKWARD),
        )["stateMachineArn"]
        yield arn


def test_graph_of_the_deployed_state_machine(
    deployed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-machine-arn", deployed, "graph", "--format", "dot"]) == 0
    assert capsys.readouterr().out == to_dot(AWKWARD, name="Pipeline")


def test_export_of_the_deployed_state_machine_is_its_definition(
    deployed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-machine-arn", deployed, "export"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == AWKWARD
    assert out == json.dumps(AWKWARD, indent=2) + "\n"
    assert err == ""


def test_export_from_the_template_uses_stand_ins_and_says_so(
    template_file: Path, ml_template_json: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--region", "eu-west-1", "export", "--template", str(template_file)]
    assert main([*argv, "--account", "111122223333"]) == 0
    out, err = capsys.readouterr()
    expected = render_definition(
        ml_template_json, env=Environment(account="111122223333", region="eu-west-1")
    )
    assert json.loads(out) == expected
    assert "arn:aws:states:::sagemaker:createTrainingJob.sync" in out
    assert ":eu-west-1:111122223333:" in out
    assert err.startswith("mlpipeline: note: ")
    assert "stand-ins (account 111122223333, region eu-west-1)" in err


def test_template_problems_are_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        "missing.json": None,
        "broken.json": "{not json",
        "empty.json": json.dumps({"Resources": {}}),
    }
    messages = []
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_text(content)
        assert main(["graph", "--template", str(tmp_path / name)]) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.splitlines()) == 1
        messages.append(err)
    assert "missing.json: cannot be read" in messages[0]
    assert "broken.json: not a JSON template" in messages[1]
    assert "empty.json: the template has 0 state machines" in messages[2]


def test_library_readme_shows_the_same_graph(
    template_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", "--template", str(template_file)]) == 0
    drawn = capsys.readouterr().out
    readme = (ROOT / "constructs" / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- graph:start -->", 1)[1].split("<!-- graph:end -->", 1)[0]
    match = re.search(r"```mermaid\n(.*?)```", section, re.DOTALL)
    assert match, "constructs/README.md has no ```mermaid block between the graph markers"
    assert match.group(1) == drawn, (
        "constructs/README.md's diagram is out of date: paste the output of `.venv/bin/mlpipeline "
        "graph --template cdk.out/MLPipelineStack.template.json` between the graph markers"
    )
