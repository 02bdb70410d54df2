"""The rules of the house that a linter cannot see: module size, no private names across modules,
complete dispatch tables, one owner of names. (The layer rule is import-linter's, in scripts/lint.sh.)"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine import fold
from engine.fold import EffectKind
from engine.fold.dispatch import RULES
from engine.runtime.messenger import SENDS
from engine.runtime.processor import ACTIONS
from engine.wire.records import RecordType

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted((ROOT / "engine").rglob("*.py"))
MAX_MODULE_LINES = 500


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_500_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines: it holds two things"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_names_defined(tree: ast.AST) -> set[str]:
    """Private names a module defines: functions, classes, assigned names and attributes."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            out.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
    return {name for name in out if _private(name)}


TREES = {path: ast.parse(path.read_text()) for path in MODULES}
ENGINE_PRIVATE = set().union(*(_private_names_defined(tree) for tree in TREES.values()))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_uses_another_modules_private_names(path):
    """Neither ``from engine.x import _name`` nor ``something._name`` where ``_name`` belongs to
    another engine module (a class's own ``self._x`` and a module's own names are fine)."""
    tree, own = TREES[path], _private_names_defined(TREES[path])
    used = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("engine")):
            used += [f"imports {a.name}" for a in node.names if _private(a.name)]
        elif isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in own:
            if node.attr in ENGINE_PRIVATE:
                used.append(f"line {node.lineno}: {ast.unparse(node)}")
    assert used == [], f"{path.relative_to(ROOT)} uses private names of other modules: {used}"


def test_every_record_type_has_a_fold_rule():
    assert set(RULES) | {RecordType.PARTITION_CLAIMED} == set(RecordType)


def test_the_processor_acts_on_every_effect_and_the_messenger_sends_the_cross_partition_ones():
    assert set(ACTIONS) == set(EffectKind)
    assert set(SENDS) == fold.CROSS_PARTITION


@pytest.mark.parametrize(
    "patch,module,message",
    [
        ("engine.fold.waits.RULES.clear()", "engine.fold.dispatch", "the fold has no rule for"),
        (
            "engine.fold.CROSS_PARTITION = frozenset({engine.fold.EffectKind.SPAWN})",
            "engine.runtime.processor",
            "the partition processor has no action for",
        ),
        (
            "engine.fold.CROSS_PARTITION = engine.fold.CROSS_PARTITION | {engine.fold.EffectKind.STEP}",
            "engine.runtime.messenger",
            "the messenger's sends",
        ),
    ],
    ids=["fold rule", "processor action", "messenger send"],
)
def test_a_dispatch_table_with_a_gap_fails_when_its_module_loads(patch, module, message):
    code = f"import importlib, engine, {module}\n{patch}\nimportlib.reload({module})\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode != 0 and "ImportError" in done.stderr and message in done.stderr, done.stderr


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_names_py_builds_topic_and_group_names(path):
    if path == ROOT / "engine" / "names.py":
        return
    built = re.findall(r"f\"\{[\w.]*namespace\}\.", path.read_text())
    assert built == [], f"{path.name} builds a name from the namespace; use engine.names"
