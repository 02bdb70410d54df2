"""Loading a user's application: a module path or a ``.py`` file whose workflows register on import."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from ..errors import LogloomError
from .registry import Workflow, registry


def load_app(spec: str) -> None:
    """Import ``spec`` (``pkg.module`` or ``path/to/file.py``) so its workflows register."""
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise LogloomError(f"no such file: {spec}")
        name = path.stem
        sys.path.insert(0, str(path.parent))
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        module_spec.loader.exec_module(module)
    else:
        if "" not in sys.path:
            sys.path.insert(0, "")
        importlib.import_module(spec)


def load_workflow(target: str) -> Workflow:
    """``APP:WORKFLOW``: import APP, then find WORKFLOW by registered name."""
    app, sep, name = target.rpartition(":")
    if not sep or not app or not name:
        raise LogloomError(f"expected APP:WORKFLOW, got {target!r}")
    load_app(app)
    return registry.get(name)
