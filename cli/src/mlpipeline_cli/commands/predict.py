"""``predict``: send inputs to the pipeline's endpoint and print its answers."""

from __future__ import annotations

import json
from typing import Any

from mlpipeline_cdk.contract import outputs

from .._aws import CliError
from .._context import Context, print_json, table


def _inputs(context: Context) -> tuple[Any, list[str], list[Any] | None]:
    from .._inputs import import_reader, load_inputs, load_labels

    args = context.args
    reader = import_reader(args.reader) if args.reader else None
    inputs = load_inputs(list(args.files), reader)
    labels = load_labels(args.labels, reader) if args.labels else None
    array, sources = inputs.array, inputs.sources
    if labels is not None and len(labels) != len(array):
        raise CliError(f"{len(array)} inputs but {len(labels)} labels in {args.labels}")
    if args.limit:
        array, sources = array[: args.limit], sources[: args.limit]
        labels = labels[: args.limit] if labels is not None else None
    return array, sources, labels


def cmd_predict(context: Context) -> int:
    from .. import _predict

    args = context.args
    array, sources, truth = _inputs(context)
    endpoint = args.endpoint_name or context.pipeline.output(
        outputs.ENDPOINT_NAME, "--endpoint-name"
    )
    _predict.check_endpoint(context.client("sagemaker"), endpoint)
    predictions = _predict.predict(
        context.client("sagemaker-runtime"),
        endpoint,
        array,
        content_type=_predict.CONTENT_TYPES[args.content_type],
        batch_size=args.batch_size,
    )
    if truth is not None and any(p.label is None for p in predictions):
        raise CliError(
            f"endpoint {endpoint} answered without a label to compare with --labels: "
            f"{json.dumps(next(p.answer for p in predictions if p.label is None))[:120]}"
        )
    minimum = args.min_confidence
    if args.json:
        print_json(_document(endpoint, sources, predictions, truth, minimum))
        return 0
    rows = _rows(sources, predictions, truth, all_probabilities=args.probabilities)
    print(table(_mark_unsure(rows, predictions, minimum)))
    unsure = [p for p in predictions if p.is_unsure(minimum)]
    if unsure:
        print(_unsure_line(len(unsure), len(predictions), minimum))
    if truth:
        correct = _correct(predictions, truth)
        print(f"accuracy: {correct / len(truth):.2%} ({correct} of {len(truth)} correct)")
    return 0


def _mark_unsure(rows: list[list[str]], predictions: list[Any], minimum: float) -> list[list[str]]:
    """The PROBABILITY cells of unsure answers, marked LOW."""
    if "PROBABILITY" not in rows[0]:
        return rows
    column = rows[0].index("PROBABILITY")
    for row, prediction in zip(rows[1:], predictions, strict=True):
        if prediction.is_unsure(minimum):
            row[column] += " LOW"
    return rows


def _unsure_line(unsure: int, total: int, minimum: float) -> str:
    which = "the answer is" if total == 1 else f"{unsure} of {total} answers are"
    return (
        f"unsure: {which} below --min-confidence {minimum:g} (marked LOW); the model sees no "
        "clear class in such an input"
    )


def _correct(predictions: list[Any], truth: list[Any]) -> int:
    return sum(p.label == t for p, t in zip(predictions, truth, strict=True))


def _document(
    endpoint: str,
    sources: list[str],
    predictions: list[Any],
    truth: list[Any] | None,
    minimum: float,
) -> dict[str, Any]:
    items = []
    for index, (source, prediction) in enumerate(zip(sources, predictions, strict=True)):
        item: dict[str, Any] = {"source": source}
        if prediction.probabilities is not None:
            item["label"] = prediction.label
            item["probabilities"] = prediction.probabilities
            item["lowConfidence"] = prediction.is_unsure(minimum)
        else:
            item["prediction"] = prediction.answer
        if truth is not None:
            item["trueLabel"] = truth[index]
            item["correct"] = prediction.label == truth[index]
        items.append(item)
    document: dict[str, Any] = {
        "endpointName": endpoint,
        "minConfidence": minimum,
        "predictions": items,
    }
    if truth:
        correct = _correct(predictions, truth)
        document.update(accuracy=correct / len(truth), correct=correct, total=len(truth))
    return document


def _rows(
    sources: list[str],
    predictions: list[Any],
    truth: list[Any] | None,
    *,
    all_probabilities: bool,
) -> list[list[str]]:
    """A table: label and its probability for a classifier's answers, else the answers."""
    classifier = all(p.probabilities is not None for p in predictions)
    classes = max((len(p.probabilities) for p in predictions), default=0) if classifier else 0
    header = ["#", "SOURCE"] + (["LABEL", "PROBABILITY"] if classifier else ["PREDICTION"])
    header += ["TRUE", ""] if truth is not None else []
    header += [f"P({c})" for c in range(classes)] if all_probabilities else []
    rows = [header]
    for index, (source, prediction) in enumerate(zip(sources, predictions, strict=True)):
        row = [str(index), source]
        if classifier:
            row += [str(prediction.label), f"{prediction.probabilities[prediction.label]:.4f}"]
        else:
            row.append(json.dumps(prediction.answer, separators=(",", ":")))
        if truth is not None:
            row += [str(truth[index]), "ok" if prediction.label == truth[index] else "WRONG"]
        if all_probabilities and classifier:
            row += [f"{p:.4f}" for p in prediction.probabilities]
        rows.append(row)
    return rows
