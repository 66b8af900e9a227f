"""The serving half of a preflight: the model a job left, served through the script's own
handlers as SageMaker's PyTorch inference toolkit serves it, one request, one handler at a time.

The toolkit (aws/sagemaker-pytorch-inference-toolkit) puts ``/opt/ml/model/code`` on the
Python path (``torchserve._set_python_path``), imports ``SAGEMAKER_PROGRAM`` from there
(``sagemaker_inference/transformer.py``, ``_validate_user_module_and_set_functions``) and
calls ``model_fn(model_dir)`` at start-up, then ``input_fn(body, content_type)`` →
``predict_fn(data, model)`` → ``output_fn(prediction, accept)`` (or ``transform_fn``) per
request, ``application/json`` and ``text/csv`` bodies decoded to ``str``. When the entry point is
not in ``code/`` it silently falls back on its default handlers, whose ``model_fn`` loads only a
TorchScript ``model.pt``/``.pth`` (``default_pytorch_inference_handler.py``): the endpoint then
fails its health check. Here a missing entry point or handler is a finding instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ._process_serving import UTF8_TYPES, _call, _import_user_module

HANDLERS: Final = ("input_fn", "predict_fn", "output_fn")


@dataclass(frozen=True)
class Request:
    body: bytes
    content_type: str
    accept: str


@dataclass(frozen=True)
class Problem:
    """A serving rule broken: the rule's name and one line saying what and how to fix it."""

    rule: str
    message: str


def _error(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}" if text else type(error).__name__


def _handlers(module: Any) -> tuple[list[tuple[str, Callable[..., Any]]], Problem | None]:
    transform_fn = getattr(module, "transform_fn", None)
    found = {name: getattr(module, name, None) for name in HANDLERS}
    if transform_fn is not None:
        if any(found.values()):
            return [], Problem(
                "handlers",
                "defines transform_fn and also input_fn/predict_fn/output_fn, which the "
                "inference toolkit refuses: keep one or the other",
            )
        return [("transform_fn", transform_fn)], None
    missing = [name for name, handler in found.items() if handler is None]
    if missing:
        return [], Problem(
            "handlers",
            f"the entry point defines no {', '.join(missing)}: define input_fn(request_body, "
            "content_type), predict_fn(input_data, model) and output_fn(prediction, accept) "
            "(the toolkit's defaults expect a TorchScript model and are not what the "
            "pipeline serves)",
        )
    return [(name, found[name]) for name in HANDLERS], None  # type: ignore[misc]


def _arguments(name: str, value: Any, model: Any, request: Request) -> tuple[Any, ...]:
    """A handler's arguments, as the toolkit's ``_default_transform_fn`` passes them."""
    if name == "transform_fn":
        return (model, value, request.content_type, request.accept)
    if name == "input_fn":
        return (value, request.content_type)
    if name == "predict_fn":
        return (value, model)
    return (value, request.accept)


def _respond(
    handlers: list[tuple[str, Callable[..., Any]]], model: Any, request: Request
) -> Problem | None:
    value: Any = request.body
    if request.content_type in UTF8_TYPES:
        value = request.body.decode("utf-8")
    for name, function in handlers:
        try:
            value = _call(function, *_arguments(name, value, model, request))
        except Exception as error:  # the model server answers 500 with the error
            return Problem(name, f"fails on the {request.content_type} request: {_error(error)}")
    response = value[0] if isinstance(value, tuple) and value else value
    if not isinstance(response, (bytes, bytearray, str)) or not response:
        return Problem(
            handlers[-1][0],
            f"returned {type(response).__name__} {str(response)[:60]!r}; the model server "
            "sends bytes or str (or a (body, content_type) tuple): serialise the prediction",
        )
    return None


def serve_once(model_dir: Path, entry_point: str, request: Request) -> list[Problem]:
    """Import the entry point from ``model_dir/code`` alone, load the model with its
    ``model_fn`` and answer ``request``; the first rule broken, or nothing."""
    code_dir = model_dir / "code"
    try:
        module_name, module = _import_user_module(code_dir, entry_point)
    except Exception as error:
        return [
            Problem(
                "import",
                f"importing {entry_point} from $SM_MODEL_DIR/code/ alone fails: {_error(error)} "
                "- copy every module the entry point imports into $SM_MODEL_DIR/code/ too",
            )
        ]
    try:
        return _load_and_serve(module, model_dir, request)
    finally:
        sys.modules.pop(module_name, None)


def _load_and_serve(module: Any, model_dir: Path, request: Request) -> list[Problem]:
    model_fn = getattr(module, "model_fn", None)
    if model_fn is None:
        return [
            Problem(
                "model_fn",
                "the entry point defines no model_fn(model_dir): define it to load the model "
                "training saved (the toolkit's default only loads a TorchScript model.pt)",
            )
        ]
    handlers, problem = _handlers(module)
    try:
        model = _call(model_fn, str(model_dir))
    except Exception as error:  # the endpoint fails its ping health check
        return [Problem("model_fn", f"model_fn({model_dir}) fails: {_error(error)}")]
    if problem is not None:
        return [problem]
    found = _respond(handlers, model, request)
    return [found] if found is not None else []
