"""The preflight: a script that keeps the contract passes; a script that breaks one rule gets
exactly that rule's one-line finding and a nonzero exit.

The broken scripts are variants of a tiny script without torch that keeps every rule (it starts
in milliseconds); the real training script runs once, marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlpipeline_cdk.contract import script as contract
from mlpipeline_emulator.cli import main
from mlpipeline_emulator.preflight import PreflightSettings, run_preflight
from scripts.mnist_data import MnistSplits, load_sample_digits, split_digits, write_splits

ROOT = Path(__file__).resolve().parents[2]

#: A script that keeps the contract: trains on data.json of its training channel, prints the
#: metric, saves a model, copies its folder to code/, serves through four handlers, and says why
#: in the failure file when it fails. Each variant below replaces one marked line.
GOOD = """
import json, os, shutil, sys
from pathlib import Path

import helper  # a module beside the entry point, as the serving code needs it too

def model_fn(model_dir):
    return json.loads(Path(model_dir, "model.json").read_text())  # MODEL_FN

def input_fn(body, content_type):
    return json.loads(body)  # INPUT_FN

def predict_fn(data, model):
    return {"sum": helper.total(data) * model["scale"]}

def output_fn(prediction, accept):
    return json.dumps(prediction)  # OUTPUT_FN

def main():
    hosts = json.loads(os.environ["SM_HOSTS"])  # HOSTS
    data = Path(os.environ["SM_CHANNEL_TRAINING"], "data.json")
    try:
        accuracy = json.loads(data.read_text())["accuracy"]  # READ
    except (OSError, ValueError, KeyError) as error:
        Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text(f"bad data: {error}")  # FAILURE
        return 1
    model_dir = Path(os.environ["SM_MODEL_DIR"])
    if os.environ["SM_CURRENT_HOST"] == hosts[0]:
        (model_dir / "model.json").write_text(json.dumps({"scale": 2}))  # SAVE
        shutil.copytree(Path(__file__).parent, model_dir / "code", dirs_exist_ok=True)  # COPY
        print(f"epoch=1 test_accuracy={accuracy}")  # METRIC
    return 0  # EXIT

if __name__ == "__main__":
    sys.exit(main())
"""
HELPER = "def total(values):\n    return sum(sum(row) for row in values)\n"

#: rule -> (marked line's tag, replacement of the whole line)
BROKEN = {
    "one-host": (
        "EXIT",
        "    Path(os.environ['SM_OUTPUT_DIR'], 'failure').write_text('boom'); return 3",
    ),
    "metric": ("METRIC", "        print(f'test:accuracy={accuracy}')"),
    "model": ("SAVE", "        pass"),
    "code": ("COPY", "        pass"),
    "import": (
        "COPY",
        "        (model_dir / 'code').mkdir(); shutil.copy(__file__, model_dir / 'code')",
    ),
    "model_fn": ("MODEL_FN", "    return json.loads(Path(model_dir, 'weights.json').read_text())"),
    "handlers": ("INPUT_FN", "    return json.loads(body)\ndel input_fn"),
    "input_fn": ("INPUT_FN", "    return json.loads(body.decode())"),
    "output_fn": ("OUTPUT_FN", "    return prediction"),
    "failure-file": ("FAILURE", "        raise"),
    "two-hosts": (
        "HOSTS",
        "    hosts = json.loads(os.environ['SM_HOSTS']); assert len(hosts) == 1",
    ),
}


def _script(folder: Path, tag: str | None = None, line: str = "") -> Path:
    folder.mkdir(parents=True)
    lines = GOOD.splitlines()
    if tag is not None:
        (index,) = [i for i, text in enumerate(lines) if text.endswith(f"# {tag}")]
        lines[index] = line
    (folder / "train.py").write_text("\n".join(lines) + "\n")
    (folder / "helper.py").write_text(HELPER)
    return folder


def _data(folder: Path) -> Path:
    folder.mkdir()
    (folder / "data.json").write_text(json.dumps({"accuracy": 0.95}))
    return folder


def _preflight(tmp_path: Path, script_dir: Path, *extra: str) -> int:
    return main(
        [
            "preflight",
            str(script_dir),
            "--entry-point",
            "train.py",
            "--data",
            str(_data(tmp_path / "data")),
            "--request",
            str(_request(tmp_path)),
            *extra,
        ]
    )


def _request(tmp_path: Path) -> Path:
    path = tmp_path / "request.json"
    path.write_text("[[1, 2], [3, 4]]")
    return path


def _lines(output: str, status: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith(status)]


def test_a_script_that_keeps_the_contract_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _preflight(tmp_path, _script(tmp_path / "good")) == 0
    output = capsys.readouterr().out
    assert _lines(output, "FAIL") == []
    ok = [line.split(":")[0].split()[-1] for line in _lines(output, "ok")]
    assert ok == [
        "one-host",
        "metric",
        "model",
        "code",
        "serving",
        "failure-file",
        "two-hosts",
    ]
    assert "0 rules broken." in output


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_each_broken_rule_gets_exactly_its_one_line_finding(
    rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tag, line = BROKEN[rule]
    assert _preflight(tmp_path, _script(tmp_path / "broken", tag, line)) == 1
    output = capsys.readouterr().out
    failures = _lines(output, "FAIL")
    assert len(failures) == 1, output
    assert failures[0].startswith(f"FAIL  {rule}: "), output
    assert "1 rule broken." in output


def test_a_finding_says_how_to_fix_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tag, line = BROKEN["metric"]
    _preflight(tmp_path, _script(tmp_path / "broken", tag, line))
    (finding,) = _lines(capsys.readouterr().out, "FAIL")
    assert "'test:accuracy=0.95' instead" in finding
    assert "print 'test_accuracy=<fraction 0 to 1>'" in finding
    assert contract.METRIC_DEFINITIONS[2]["Regex"] in finding


def test_an_accuracy_in_percent_is_a_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script(tmp_path / "percent", "METRIC", "        print('test_accuracy=95.0')")
    assert _preflight(tmp_path, script) == 1
    (finding,) = _lines(capsys.readouterr().out, "FAIL")
    assert finding.startswith("FAIL  metric: the last test_accuracy is 95")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--entry-point", "missing.py"], "--entry-point 'missing.py'"),
        (["--hyperparameter", "sagemaker_program=x.py"], "--hyperparameter 'sagemaker_program'"),
        (["--hyperparameter", "epochs"], "--hyperparameter takes NAME=VALUE"),
        (["--timeout", "0"], "--timeout"),
    ],
)
def test_unusable_settings_are_refused_naming_the_option(
    args: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script(tmp_path / "good")
    command = ["preflight", str(script), "--entry-point", "train.py", "--data"]
    command += [str(_data(tmp_path / "data")), *args]
    with pytest.raises(SystemExit) if "NAME=VALUE" in named else _no_exit():
        assert main(command) == 2
    assert named in capsys.readouterr().err


class _no_exit:  # noqa: N801 - used as a context manager beside pytest.raises
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


@pytest.mark.slow
def test_the_real_training_script_passes(tmp_path: Path) -> None:
    full = split_digits(*load_sample_digits(), test_fraction=0.2, seed=0)
    data = tmp_path / "mnist"
    sample = MnistSplits(
        full.train_images[:600],
        full.train_labels[:600],
        full.test_images[:200],
        full.test_labels[:200],
    )
    write_splits(data, sample)
    report = run_preflight(
        PreflightSettings(
            script_dir=ROOT / "training_code",
            entry_point="mnist.py",
            channels={"training": data},
            metric_definitions=contract.METRIC_DEFINITIONS,
            accuracy_metric=contract.ACCURACY_METRIC,
            hyperparameters={"epochs": "1", "test-batch-size": "100"},
            checkpoint_arg="checkpoint-dir",
        )
    )
    assert [f.line() for f in report.broken] == []
    assert [f.rule for f in report.findings if f.status == "ok"] == [
        "one-host",
        "metric",
        "model",
        "code",
        "serving",
        "failure-file",
        "two-hosts",
    ]
