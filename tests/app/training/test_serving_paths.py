"""The vectorised serving path keeps every check of the per-value one, and answers the same.

Whole-number JSON (what ``mlpipeline predict`` sends) is read by numpy without json.loads; any
other text goes through json.loads and one numpy conversion; the probabilities are written with
9 significant digits, which give back the model's float32 values exactly.
"""

from __future__ import annotations

import json
import random
import sys
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

# Slow: imports the script, and with it torch; `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

#: Texts the numpy reader must read exactly as json.loads does, or leave to it.
TEXTS = [
    "[1,2,3]",
    "[[1,2],[3,4]]",
    "[[0, 1], [2,  3]]",
    " [ 7 ,8 ] ",
    "[\n1,\t2]",
    "[[1,2],[3]]",
    "[]",
    "[[]]",
    "[01]",
    "[1 2]",
    "[1000]",
    "[1,2,]",
    "[,1]",
    "[[1,2]3]",
    "[1]]",
    "[[1],[2]",
    "[1,[2]]",
    "[[1,2],[3,4],]",
    "[[1,2][3,4]]",
    "[[1,2],,[3,4]]",
    "[255,999,0,10,100]",
    "[[[1,2],[3,4]],[[5,6],[7,8,9]]]",
    "[1.5, 2]",
    "[1e2, 3]",
    "[-1, 3]",
    "\ufeff[1]",
    "[" * 40 + "1" + "]" * 40,
    json.dumps([[[5] * 28] * 28] * 3),
    json.dumps([[[5] * 28] * 28] * 3, separators=(",", ":")),
]


def _fuzzed(count: int) -> list[str]:
    """Arrays of whole numbers written by json.dumps, most with one character changed."""
    rng = random.Random(0)
    texts = []
    for _ in range(count):
        shape = [rng.randint(1, 4) for _ in range(rng.randint(1, 4))]
        values = np.array([rng.randint(0, 300) for _ in range(int(np.prod(shape)))])
        text = json.dumps(values.reshape(shape).tolist(), separators=rng.choice([(",", ":"), None]))
        if rng.random() < 0.6:
            at = rng.randrange(len(text))
            text = (
                text[:at]
                + rng.choice(["", "[", "]", ",", " ", "0", "9", "1 ", "\n"])
                + text[at + 1 :]
            )
        texts.append(text)
    return texts


def _decoded(serving: ModuleType, text: str) -> Any:
    try:
        return serving._json_array(text)
    except serving.PayloadError as error:
        return str(error)


@pytest.fixture(scope="module")
def serving(mnist: ModuleType) -> ModuleType:
    """The script's serving module, as the entry point imported it."""
    return sys.modules[mnist.input_fn.__module__]


def test_the_numpy_reader_reads_what_json_reads_or_leaves_it_to_json(
    serving: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = TEXTS + _fuzzed(1500)
    fast = [_decoded(serving, text) for text in texts]
    monkeypatch.setattr(serving, "_whole_numbers", lambda raw: None)
    for text, got in zip(texts, fast, strict=True):
        expected = _decoded(serving, text)
        if isinstance(expected, str):
            assert got == expected, text
        else:
            assert isinstance(got, np.ndarray), text
            assert got.shape == expected.shape and (got == expected).all(), text


def test_the_numpy_reader_takes_whole_number_requests(serving: ModuleType) -> None:
    batch = np.arange(100 * 784).reshape(100, 28, 28) % 256
    text = json.dumps(batch.tolist())
    read = serving._whole_numbers(text.encode())
    assert read is not None and (read == batch).all()


@pytest.mark.parametrize(
    ("values", "found"),
    [
        ([[0] * 27 + [True]] * 28, "found true"),
        ([[False] + [0] * 27] * 28, "found false"),
        ([[0] * 27 + ["true"]] * 28, 'found "true"'),
        ([[0] * 27 + [None]] * 28, "found null"),
        ([[0] * 27 + [{"a": 1}]] * 28, 'found {"a": 1}'),
    ],
)
def test_a_value_that_is_no_number_among_numbers_is_named(
    mnist: ModuleType, values: Any, found: str
) -> None:
    with pytest.raises(mnist.PayloadError, match="pixel values must be numbers") as raised:
        mnist.input_fn(json.dumps(values), "application/json")
    assert found in str(raised.value)


def test_probabilities_are_the_models_float32_values_as_json_floats(mnist: ModuleType) -> None:
    logits = torch.randn(50, 10) * 8
    prediction = torch.softmax(logits, dim=1)
    prediction[0] = torch.tensor([1.0] + [0.0] * 9)  # certain: 1.0 and 0.0 stay floats
    answer = json.loads(mnist.output_fn(prediction, "application/json"))
    rows = [p["probabilities"] for p in answer["predictions"]]
    assert all(isinstance(value, float) for row in rows for value in row)
    assert (np.array(rows, dtype=np.float32) == prediction.numpy()).all()
    assert [p["label"] for p in answer["predictions"]] == prediction.argmax(dim=1).tolist()


def test_a_prediction_json_cannot_write_plainly_is_still_answered(mnist: ModuleType) -> None:
    prediction = torch.full((1, 10), float("nan"))
    answer = json.loads(mnist.output_fn(prediction, None))
    assert len(answer["predictions"][0]["probabilities"]) == 10
