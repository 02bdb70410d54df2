"""``python -m engine.cli.reference``: the command reference of docs/cli.md, made from the parser.

docs/cli.md holds this text between two markers; ``tests/unit/test_cli_reference.py`` fails
when they differ, so the reference is always the parser's truth.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator

from . import parser

BEGIN = "<!-- reference: made by `python -m engine.cli.reference` from the parser; a test checks it -->"
END = "<!-- end of reference -->"
WIDTH = 100
SHARED = {"--kafka", "--namespace", "--data-dir", "--connect-timeout", "-v", "-q", "-o", "--json", "-h"}


def commands(p: argparse.ArgumentParser, path: str = "logloom") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every command that does something, with its full name, in the parser's order."""
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, p
        return
    for name, child in subs[0].choices.items():
        yield from commands(child, f"{path} {name}")


def _flag(action: argparse.Action) -> str:
    names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.metavar or action.dest}`"
    if action.option_strings and action.nargs != 0:
        names += f" {action.metavar or action.dest.upper()}"
    return names


def _choices(action: argparse.Action) -> str:
    return f" One of: {', '.join(map(str, action.choices))}." if action.choices and action.option_strings else ""


def render() -> str:
    """The reference, at a fixed width: usage lines wrap the same on every terminal."""
    width, os.environ["COLUMNS"] = os.environ.get("COLUMNS"), str(WIDTH)
    try:
        return _render()
    finally:
        if width is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = width


def _render() -> str:
    out = [BEGIN, ""]
    for path, p in commands(parser()):
        out += [f"### `{path}`", "", p.description or "", "", "```", p.format_usage().strip(), "```", ""]
        rows = [
            f"| {_flag(a)} | {(a.help or '').replace('|', '/')}{_choices(a)} |"
            for a in p._actions
            if not (set(a.option_strings) & SHARED) and a.help != argparse.SUPPRESS
        ]
        if rows:
            out += ["| argument | meaning |", "| --- | --- |", *rows, ""]
        epilog = (p.epilog or "").split("\n\n")
        examples = [line.strip() for line in epilog[0].splitlines()[1:]]
        codes = [line.strip().split(None, 1) for line in epilog[1].splitlines()[1:]] if len(epilog) > 1 else []
        out += ["Examples:", "", "```bash", *examples, "```", ""]
        out += ["Exit codes: " + ", ".join(f"{code} ({meaning})" for code, meaning in codes) + ".", ""]
    out.append(END)
    return "\n".join(out)


if __name__ == "__main__":
    print(render())
