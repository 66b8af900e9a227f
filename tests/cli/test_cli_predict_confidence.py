"""``predict`` says when the model is unsure: a label whose probability is below
``--min-confidence`` (default 0.5) is marked LOW, with a line saying so, and flagged in JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlpipeline_cli.cli import main

ENDPOINT = "mnist-endpoint"


def _probabilities(label: int, confidence: float) -> list[float]:
    rest = (1 - confidence) / 9
    return [confidence if i == label else rest for i in range(10)]


class Endpoint:
    """Answers, for each input, a label and probabilities read from the input: the first value
    is the label, the second the label's probability in hundredths."""

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        batch = json.loads(request["Body"])
        answers = [
            {"label": int(item[0]), "probabilities": _probabilities(int(item[0]), item[1] / 100)}
            for item in batch
        ]
        return {"Body": io.BytesIO(json.dumps({"predictions": answers}).encode())}


class InService:
    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:  # noqa: N803 - boto3's
        return {"EndpointName": EndpointName, "EndpointStatus": "InService"}


class Clients:
    region = "us-east-1"

    def client(self, service: str) -> Any:
        return {"sagemaker": InService(), "sagemaker-runtime": Endpoint()}[service]

    def use_region_of(self, arn: str) -> None:
        pass


def _predict(tmp_path: Path, inputs: list[list[int]], *options: str) -> int:
    np.save(tmp_path / "inputs.npy", np.array(inputs))
    argv = ["predict", str(tmp_path / "inputs.npy"), "--endpoint-name", ENDPOINT, *options]
    return main(argv, clients=Clients())


def test_an_unclear_input_is_called_unsure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _predict(tmp_path, [[3, 16]]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "#  SOURCE      LABEL  PROBABILITY",
        "0  inputs.npy  3      0.1600 LOW",
        "unsure: the answer is below --min-confidence 0.5 (marked LOW); the model sees no clear "
        "class in such an input",
    ]


def test_clear_inputs_are_not_marked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _predict(tmp_path, [[7, 97], [1, 50]]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "#  SOURCE         LABEL  PROBABILITY",
        "0  inputs.npy[0]  7      0.9700",
        "1  inputs.npy[1]  1      0.5000",
    ]


def test_min_confidence_sets_the_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _predict(tmp_path, [[7, 97], [1, 80], [2, 30]], "--min-confidence", "0.9") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == [
        "0  inputs.npy[0]  7      0.9700",
        "1  inputs.npy[1]  1      0.8000 LOW",
        "2  inputs.npy[2]  2      0.3000 LOW",
        "unsure: 2 of 3 answers are below --min-confidence 0.9 (marked LOW); the model sees no "
        "clear class in such an input",
    ]


def test_json_flags_low_confidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _predict(tmp_path, [[3, 16], [7, 97]], "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert document["minConfidence"] == 0.5
    assert [p["lowConfidence"] for p in document["predictions"]] == [True, False]


def test_min_confidence_is_a_fraction(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["predict", "x.npy", "--min-confidence", "2"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "mlpipeline: error: argument --min-confidence: expected a number from 0 to 1, got '2' "
        "(see: mlpipeline predict --help)"
    )
