"""Import ``training_code/mnist.py`` in this process, as SageMaker's toolkits import it: a plain
module from its folder, with that folder on ``sys.path`` so that it imports the modules beside it.

Used by the benchmarks and the tests that call the script's functions and handlers directly.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "training_code" / "mnist.py"


def load_script(name: str = "mnist") -> ModuleType:
    """The script as a module named ``name`` (also put in ``sys.modules``: dataclasses look their
    module up there)."""
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    # No __pycache__ in training_code/: everything there is packaged into the job's source.
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(SCRIPT.parent))
        sys.dont_write_bytecode = writes_bytecode
    return module
