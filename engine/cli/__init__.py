"""The ``logloom`` command: parsing, printing and exit codes. The work is done by the engine.

One module per noun (``workflow.py``, ``history.py``, ``events.py``, ``session.py``,
``schedule.py``, ``queue.py``, ``replay.py``, ``cluster.py`` for workers and partitions,
``agent.py`` for streaming agent runs, and ``run.py`` for the commands that host a
worker); the exit codes are in ``exits.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from importlib.metadata import entry_points

from ..errors import LogloomError
from ..replay.history_file import engine_version
from . import agent, cluster, events, exits, history, queue, replay, run, schedule, session, workflow
from .exits import Exit

DESCRIPTION = "Durable execution for Python workflows, on a partitioned log: run workers, start and inspect runs."


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="logloom",
        description=DESCRIPTION,
        epilog="exit codes:\n" + exits.table() + "\n\n`logloom COMMAND --help` shows a command's flags and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"logloom {engine_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.add_parsers(sub)  # run, worker
    workflow.add_invoke_parser(sub)
    history.add_parsers(sub)  # history show|export
    replay.add_parsers(sub)  # replay run
    events.add_parsers(sub)  # publish, dead-letter
    workflow.add_resume_parser(sub)
    workflow.add_workflow_parser(sub)  # workflow start|execute|get|describe|result|list|count|cancel|terminate|resume
    session.add_parsers(sub)
    schedule.add_parsers(sub)  # schedule list|get|create|pause|resume|delete|trigger|backfill
    queue.add_parsers(sub)  # queue list|get|set-limit
    cluster.add_parsers(sub)  # workflows, partitions
    agent.add_parsers(sub)  # agent stream|attach
    _add_plugin_parsers(sub)  # serve (connectors/http)
    return p


def _add_plugin_parsers(sub: argparse._SubParsersAction) -> None:
    """Commands of packages above the engine (the connectors), found by their
    ``logloom.commands`` entry points: the engine never imports them (docs/architecture.md)."""
    for entry in sorted(entry_points(group="logloom.commands"), key=lambda e: e.name):
        entry.load()(sub)


def _configure_logging(args) -> None:
    level = logging.ERROR if args.quiet else {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # librdkafka retries a dead bootstrap with a line per attempt: only -v shows them.
    logging.getLogger("engine.librdkafka").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL + 1)


def shorthand(argv: list[str]) -> list[str]:
    """``logloom history ID`` is ``logloom history show ID``."""
    if argv[:1] == ["history"] and len(argv) > 1 and argv[1] not in (*history.VERBS, "-h", "--help"):
        return ["history", "show", *argv[1:]]
    return argv


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(shorthand(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # logloom --help | head
        return _closed_pipe()
    _configure_logging(args)
    args.on_interrupt = None  # a command that can be resumed says how, once it knows
    try:
        return int(asyncio.run(args.func(args)))
    except KeyboardInterrupt:
        print(args.on_interrupt or "interrupted", file=sys.stderr)
        return Exit.INTERRUPTED
    except BrokenPipeError:  # | head took what it wanted
        return _closed_pipe()
    except (LogloomError, TimeoutError, ValueError) as exc:
        code = exits.for_error(exc)
        print(f"error: {exc}", file=sys.stderr)
        return code


def _closed_pipe() -> int:
    """The reader went away: no traceback, and no second error when Python flushes stdout at exit."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return Exit.BROKEN_PIPE
