"""``logloom replay``: run today's code against recorded histories, offline (``engine.replay``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

from .. import names
from ..errors import HistoryFileError
from ..replay.history_file import HistoryFile, load
from ..replay.replay_run import StepSeen
from ..replay.replayer import Replayer, ReplayResult
from ..replay.verify import verify_partition
from ..wire.serde import from_json
from ..workflow.loading import load_app
from .common import add_log_options, add_logging_options, command, config_from, engine
from .exits import Exit
from .output import add_output_option, chosen, to_text


def _histories(paths: list[str]) -> list[tuple[str, HistoryFile]]:
    """Each history file named, and every ``*.json`` in a directory named (``history
    export``); each followed by the child runs' histories it holds, down the tree."""
    out = []
    for name in paths:
        path = Path(name)
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise HistoryFileError(f"{name} holds no history files (*.json)")
        for file in files:
            out += _with_children(str(file), load(file))
    return out


def _with_children(source: str, history: HistoryFile) -> list[tuple[str, HistoryFile]]:
    runs = [(source, history)]
    for child in history.children:
        runs += _with_children(f"{source} > {child.execution_id}", child)
    return runs


def _step_line(step: StepSeen) -> str:
    recorded = step.recorded
    shown = ""
    if recorded is not None and recorded["key"] == step.requested and recorded["status"] == "completed":
        shown = json.dumps(from_json(recorded.get("result")), default=str)
        shown = f"  -> {shown if len(shown) <= 80 else shown[:77] + '...'}"
    elif recorded is not None and recorded["status"] == "failed":
        shown = f"  -> {recorded['error']['type']}: {recorded['error']['message']}"
    return f"  {step.position:>4}  {step.requested:<24} {step.verdict:<12}{shown}   {step.location or ''}"


def _summary(source: str, result: ReplayResult) -> dict:
    return {
        "file": source,
        "execution_id": result.execution_id,
        "workflow": result.workflow,
        "verdict": result.verdict if not result.fold_mismatches else "fold_differs",
        "message": result.message,
        "steps_replayed": result.steps_replayed,
        "position": result.position,
        "recorded_step": result.recorded_step,
        "requested_step": result.requested_step,
        "location": result.location,
        "fold_mismatches": result.fold_mismatches,
    }


async def cmd_run(args) -> int:
    load_app(args.app)
    histories = _histories(args.histories)
    table = chosen(args) == "table"
    replayer = Replayer()
    summaries = []
    for source, history in histories:
        if table and args.step_through:
            print(f"{source}: {history.execution_id} ({history.workflow})")
        on_step = (lambda step: print(_step_line(step), flush=True)) if table and args.step_through else None
        result = await replayer.replay(history, on_step=on_step)
        summary = _summary(source, result)
        summaries.append(summary)
        if table:
            print(f"{summary['verdict']:<16} {history.execution_id}: {result.message}")
            for mismatch in result.fold_mismatches:
                print(f"{'':<16} the fold: {mismatch}")
    if not table:
        print(to_text(summaries if len(summaries) > 1 else summaries[0]))
    return Exit.OK if all(s["verdict"] == "ok" for s in summaries) else Exit.FAILED


async def cmd_verify(args) -> int:
    config = config_from(args)
    async with engine(args, read_only=args.kafka is None) as (client, _):
        log = client.log
        partitions = range(log.num_partitions) if args.all else [args.partition]
        with tempfile.TemporaryDirectory(prefix="logloom-verify-") as temporary:
            scratch = args.scratch_dir or temporary
            results = []
            for partition in partitions:
                if not 0 <= partition < log.num_partitions:
                    raise ValueError(f"--partition {partition}: the log has partitions 0 to {log.num_partitions - 1}")
                store = names.store_path(config.data_dir, log.namespace, partition)
                results.append(await verify_partition(log, partition, store, scratch))
    shown = [dataclasses.asdict(r) for r in results]
    if chosen(args) == "table":
        for r in results:
            if r.equal:
                print(f"partition {r.partition}: equal at offset {r.offset}, {r.keys:,} keys, "
                      f"sha256 {r.checksum[:16]}, {r.seconds:.2f} s")  # fmt: skip
            else:
                diff = r.first_difference
                print(f"partition {r.partition}: DIFFERS at offset {r.offset}: first at key {diff['key']}")
                print(f"  live:    {json.dumps(diff['live'], default=str)}")
                print(f"  rebuilt: {json.dumps(diff['rebuilt'], default=str)}")
    else:
        print(to_text(shown if args.all else shown[0]))
    return Exit.OK if all(r.equal for r in results) else Exit.FAILED


def add_parsers(sub: argparse._SubParsersAction) -> None:
    replay = command(
        sub,
        "replay",
        "check today's code against recorded histories offline (run), and the stores against the log (verify)",
        ["logloom replay run app.py order-7.json --step-through", "logloom replay verify --all"],
        [Exit.OK, Exit.FAILED, Exit.USAGE],
    )
    verbs = replay.add_subparsers(dest="verb", required=True, metavar="VERB")
    run = command(
        verbs,
        "run",
        "run APP's workflow code against history files (logloom history ID --json, or history export) "
        "and the child runs' histories they hold: "
        "recorded steps return their recorded results, no step body runs, nothing is written; "
        "prints ok or the first divergence",
        [
            "logloom replay run app.py order-7.json",
            "logloom replay run app.py order-7.json --step-through",
            "logloom replay run myapp.workflows ./failed --output json",
        ],
        [Exit.OK, Exit.FAILED, Exit.USAGE],
    )
    run.add_argument("app", metavar="APP", help="a module path or .py file whose workflows register on import")
    run.add_argument("histories", metavar="FILE", nargs="+", help="history files, or directories of them")
    run.add_argument("--step-through", action="store_true", help="print each step as the code reaches it")
    add_output_option(run)
    add_logging_options(run)
    run.set_defaults(func=cmd_run)

    verify = command(
        verbs,
        "verify",
        "rebuild partitions from offset 0 into a scratch store and compare them with the live stores under "
        "--data-dir, key by key, at the offset the live store has applied; works while the worker runs",
        ["logloom replay verify --partition 0 --data-dir /var/lib/logloom", "logloom replay verify --all --json"],
        [Exit.OK, Exit.FAILED, Exit.USAGE, Exit.NOT_FOUND, Exit.UNAVAILABLE],
    )
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("--partition", type=int, metavar="N", help="the journal partition to verify")
    which.add_argument("--all", action="store_true", help="every partition")
    verify.add_argument(
        "--scratch-dir", metavar="DIR", help="keep the rebuilt stores here: the next verify folds only the tail"
    )
    add_log_options(verify)
    verify.set_defaults(func=cmd_verify)
