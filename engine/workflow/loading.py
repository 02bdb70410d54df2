"""Loading a user's application: a module path or a ``.py`` file whose workflows register on import.

An app that does not import is one ``AppLoadError`` line naming the file and the line
(a syntax error, a missing module, an exception at import), not a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path

from ..errors import AppLoadError, LogloomError
from .registry import Workflow, registry


def load_app(spec: str) -> list[str]:
    """Import ``spec`` (``pkg.module`` or ``path/to/file.py``) so its workflows register.

    Returns the names of the workflows it registered (empty: a warning for the caller)."""
    before = set(registry.workflows)
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec).resolve()
        if not path.is_file():
            raise AppLoadError(f"no such file: {spec}")
        name = path.stem
        sys.path.insert(0, str(path.parent))
        module_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        _importing(spec, lambda: module_spec.loader.exec_module(module), home=path.parent)
    else:
        if "" not in sys.path:
            sys.path.insert(0, "")
        _importing(spec, lambda: importlib.import_module(spec), home=Path.cwd())
    return sorted(set(registry.workflows) - before)


def _importing(spec: str, run, home: Path) -> None:
    try:
        run()
    except SyntaxError as exc:
        raise AppLoadError(f"{exc.filename}:{exc.lineno}: syntax error in {spec}: {exc.msg}") from None
    except ModuleNotFoundError as exc:
        if exc.name == spec or spec.startswith(f"{exc.name}."):
            raise AppLoadError(
                f"no module named {spec!r} (run from the directory that holds it, or give a path to a .py file)"
            ) from None
        raise AppLoadError(f"{_where(exc, home)}: {spec} imports a module that is not installed: {exc.name}") from None
    except Exception as exc:  # whatever the app raised while it was imported
        raise AppLoadError(f"{_where(exc, home)}: {spec} raised {type(exc).__name__} at import: {exc}") from None


def _where(exc: BaseException, home: Path) -> str:
    """``file:line`` of the innermost frame of the app's own code (under ``home``)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve().is_relative_to(home)]
    frame = frames[-1] if frames else traceback.extract_tb(exc.__traceback__)[-1]
    return f"{frame.filename}:{frame.lineno}"


def load_workflow(target: str) -> Workflow:
    """``APP:WORKFLOW``: import APP, then find WORKFLOW by registered name."""
    app, sep, name = target.rpartition(":")
    if not sep or not app or not name:
        raise LogloomError(f"expected APP:WORKFLOW, got {target!r}")
    load_app(app)
    return registry.get(name)
