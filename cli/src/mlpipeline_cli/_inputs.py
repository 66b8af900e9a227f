"""What ``predict`` sends: arrays from ``.npy`` and ``.json`` files, or from a reader of yours.

Every file holds a batch: its first axis counts the inputs, the rest is one input's shape, and
the files' batches are joined along that axis. Other formats (images, IDX files, CSV, ...) are
read by a *reader*, ``--reader MODULE:FUNCTION``: a callable that takes a path and returns an
array batched the same way. The module is imported with the current folder first on
``sys.path``, as ``python -m`` does, so an app's own ``scripts/`` folder works unpackaged.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ._aws import CliError

Reader = Callable[[Path], Any]
#: The formats read without a reader.
BUILT_IN_SUFFIXES: Final = (".npy", ".json")


@dataclass(frozen=True)
class Inputs:
    """Inputs batched along the first axis, and where each came from."""

    array: npt.NDArray[Any]
    sources: list[str]


def import_reader(spec: str) -> Reader:
    """The callable named ``MODULE:FUNCTION``, imported with the current folder on sys.path."""
    module_name, colon, function_name = spec.partition(":")
    if not colon or not module_name or not function_name:
        raise CliError(f"--reader {spec}: expected MODULE:FUNCTION, e.g. scripts.readers:read")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CliError(f"--reader {spec}: cannot import {module_name}: {exc}") from exc
    reader = getattr(module, function_name, None)
    if not callable(reader):
        raise CliError(f"--reader {spec}: {module_name} has no function {function_name}")
    return reader  # type: ignore[no-any-return]


def read_array(path: Path, reader: Reader | None) -> npt.NDArray[Any]:
    """One file's array: ``.npy`` and ``.json`` built in, anything else through ``reader``."""
    suffix = path.suffix.lower()
    if suffix in BUILT_IN_SUFFIXES:
        value = _read_built_in(path, suffix)
    elif reader is None:
        raise CliError(
            f"{path}: not a .npy or .json file; name a reader of {suffix or 'such'} files "
            "with --reader MODULE:FUNCTION"
        )
    else:
        try:
            value = reader(path)
        except (OSError, ValueError, EOFError) as exc:
            text = str(exc)
            raise CliError(text if path.name in text else f"{path}: {text}") from exc
    array = np.asarray(value)
    if array.ndim == 0 or array.dtype.kind not in "biuf":
        raise CliError(
            f"{path}: expected a batch of numbers (an array or a list), got {value!r:.60}"
        )
    return array


def _read_built_in(path: Path, suffix: str) -> Any:
    try:
        if suffix == ".json":
            return json.loads(path.read_text(encoding="utf-8"))
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        kind = "a JSON document" if suffix == ".json" else "a .npy array"
        raise CliError(f"{path}: not {kind}: {exc}") from exc
    if not isinstance(value, np.ndarray):
        raise CliError(f"{path}: a .npz archive; give one array saved by numpy.save")
    return value


def load_inputs(paths: list[Path], reader: Reader | None) -> Inputs:
    """Every file's inputs, in order, joined along the first axis."""
    arrays: list[npt.NDArray[Any]] = []
    sources: list[str] = []
    for path in paths:
        array = read_array(path, reader)
        if len(array) == 0:
            raise CliError(f"{path}: holds no inputs")
        if arrays and array.shape[1:] != arrays[0].shape[1:]:
            raise CliError(
                f"{path}: inputs shaped {array.shape[1:]}, but those of {paths[0].name} are "
                f"shaped {arrays[0].shape[1:]}"
            )
        arrays.append(array)
        sources.extend(
            [path.name] if len(array) == 1 else [f"{path.name}[{i}]" for i in range(len(array))]
        )
    return Inputs(np.concatenate(arrays), sources)


def load_labels(path: Path, reader: Reader | None) -> list[Any]:
    """The true labels, one per input: a flat array or list of whole numbers or strings."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"{path}: not a JSON document: {exc}") from exc
        if isinstance(value, list) and all(isinstance(v, (int, str)) for v in value):
            return list(value)
        raise CliError(f"{path}: expected labels, a JSON list of whole numbers or strings")
    array = read_array(path, reader)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise CliError(f"{path}: expected labels, whole numbers shaped (N,)")
    return [int(label) for label in array]
