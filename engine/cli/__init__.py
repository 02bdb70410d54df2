"""The ``logloom`` command. Parsing and printing only; the work is done by the engine.

Exit codes: 0 success · 1 the workflow failed · 2 bad usage or input · 3 not found ·
4 timed out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys

from ..errors import ExecutionNotFoundError, LogloomError, WorkflowFailedError
from . import events, history, run, workflows
from .common import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="logloom", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    run.add_parsers(sub)  # run, worker
    workflows.add_invoke_parser(sub)
    history.add_parsers(sub)
    events.add_parsers(sub)  # publish
    workflows.add_resume_parser(sub)
    workflows.add_workflow_parser(sub)  # workflow list|cancel|get
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return asyncio.run(args.func(args))
    except WorkflowFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ExecutionNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    except (LogloomError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
