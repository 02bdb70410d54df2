"""One output switch for every command: ``--output table|json|jsonl``.

The default is a table on a terminal and JSON when stdout is piped, so a person reads and a
script parses. ``json`` is one document; ``jsonl`` is one line per item of a list.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

FORMATS = ("table", "json", "jsonl")


def add_output_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-o",
        "--output",
        choices=FORMATS,
        help="table (default on a terminal), json (default when piped), or jsonl (one line per item)",
    )
    p.add_argument("--json", action="store_const", const="json", dest="output", help="the same as --output json")


def chosen(args) -> str:
    return getattr(args, "output", None) or ("table" if sys.stdout.isatty() else "json")


def to_text(value: Any) -> str:
    """JSON for machines: datetimes as ISO 8601."""
    return json.dumps(value, indent=2, default=_default)


def line(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def emit(args, value: Any, table: Callable[[Any], Iterable[str]] | None = None) -> None:
    """Print ``value`` in the chosen format; ``table`` renders it for people (else JSON)."""
    fmt = chosen(args)
    if fmt == "jsonl":
        for item in value if isinstance(value, list) else [value]:
            print(line(item))
    elif fmt == "table" and table is not None:
        for text in table(value):
            print(text)
    else:
        print(to_text(value))


def columns(rows: list[list[str]], header: list[str]) -> Iterable[str]:
    """Rows under a header, each column as wide as its widest cell."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    for row in [header, *rows]:
        yield "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()


def when(value: datetime | None) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else "-"
