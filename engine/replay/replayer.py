"""Debug-replay: run today's workflow code against a recorded history, offline.

``Replayer(registry).replay(history)``:

1. Fold the history's records into memory with the fold a worker uses: the execution's
   row and journal as they were when it was exported. A record whose verdict differs
   from the one recorded is reported (the fold changed).
2. Start the workflow's code on a ``ReplayRun`` (``replay_run.py``): recorded steps
   return their recorded results; no step body runs, nothing is written.
3. Let it run until it ends or every branch stops at the end of the history.
4. Judge it (``ReplayResult.verdict``):
   - ``ok``: every recorded step was asked for in order, with the same key, and a run
     the history ended ended the same way (same result, or same error);
   - ``diverged``: at some position the code asked for another step than the recorded
     one;
   - ``code_wants_more``: the history ended the run, and the code asks for a step past
     its end;
   - ``history_longer``: the code ended, and the history holds steps it never asked for;
   - ``result_differs``: the code ended otherwise than the history did.
   A history that ends with the run still going (waiting, or a step in flight) is ``ok``
   when the code reaches its end without diverging.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import EngineSignal, HistoryFileError, LogloomError, to_record
from ..fold import apply
from ..fold.effects import verdict
from ..fold.keys import execution_key, journal_prefix, parse_journal_seq
from ..fold.state import MemoryState
from ..wire.serde import from_json, to_json
from ..workflow.context import WorkflowContext
from ..workflow.registry import Registry
from ..workflow.registry import registry as default_registry
from ..workflow.starting import initial_state, run_arguments
from .history_file import HistoryFile
from .replay_run import EndOfHistory, ReplayRun, StepSeen

SETTLE_TURNS = 20  # event-loop turns without an answer: every branch is at the history's end
SETTLE_GRACE_S = 0.3  # then this long, for a recorded timer that ended a little early
ENDED = ("completed", "failed", "cancelled")


@dataclass
class ReplayResult:
    """What a replay found. ``ok`` is the verdict a test asserts."""

    execution_id: str
    workflow: str
    verdict: str  # ok, diverged, code_wants_more, history_longer, result_differs
    message: str
    steps_replayed: int  # recorded steps answered from the history
    position: int | None = None  # where it diverged
    recorded_step: str | None = None
    requested_step: str | None = None
    location: str | None = None  # the user code's file:line that asked for the step
    fold_mismatches: list[str] = field(default_factory=list)  # records the fold judges otherwise now
    steps: list[StepSeen] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok" and not self.fold_mismatches


class Replayer:
    """Replays histories against the workflows of ``registry`` (by default, every
    workflow imported so far)."""

    def __init__(self, registry: Registry | None = None):
        self.registry = registry or default_registry

    async def replay(self, history: HistoryFile, on_step: Callable[[StepSeen], None] | None = None) -> ReplayResult:
        """Replay ``history`` on an event loop of its own, in a thread: the code's tasks are
        the only ones there, and those left at the end of the history are cancelled
        without touching the caller's. ``on_step`` is called from that thread."""
        return await asyncio.to_thread(asyncio.run, self._replay(history, on_step))

    async def _replay(self, history: HistoryFile, on_step: Callable[[StepSeen], None] | None) -> ReplayResult:
        state, fold_mismatches = _fold(history)  # 1.
        row = state.get(execution_key(history.execution_id))
        if row is None:
            raise HistoryFileError(f"the history of {history.execution_id} never invokes it: no row to replay")
        if row["workflow"] not in self.registry.workflows:
            raise HistoryFileError(
                f"execution {history.execution_id} ran workflow {row['workflow']!r}, which the app does not define "
                f"(it has: {', '.join(sorted(self.registry.workflows)) or 'none'})"
            )
        wf = self.registry.get(row["workflow"])
        entries = {
            parse_journal_seq(key): entry for key, entry in state.scan(journal_prefix(history.execution_id))
        }  # fmt: skip
        run = ReplayRun(row, entries, state, self.registry, on_step)
        outcome = await _drive(run, wf, row)  # 2. 3.
        result = _judge(run, row, outcome)  # 4.
        result.fold_mismatches = fold_mismatches
        return result


def _fold(history: HistoryFile) -> tuple[MemoryState, list[str]]:
    """The history folded into memory, and each record whose verdict is not the recorded one."""
    state = MemoryState()
    mismatches = []
    for recorded in history.records:
        now = verdict(apply(state, recorded.record()))
        if now != recorded.outcome:
            mismatches.append(
                f"{recorded.type} at {recorded.partition}:{recorded.offset}: recorded {recorded.outcome!r}, "
                f"folds {now!r} now"
            )
    return state, mismatches


@dataclass
class _Outcome:
    ended: bool  # the code returned or raised
    value: object = None
    error: BaseException | None = None


async def _drive(run: ReplayRun, wf, row: dict) -> _Outcome:
    """Run the body until it ends, or until every branch is at the end of the history."""
    try:
        kwargs = run_arguments(wf, row)
    except LogloomError as exc:
        return _Outcome(True, error=exc)  # as the worker records it: the run fails at once
    ctx = WorkflowContext(run, row)
    ctx.state = initial_state(wf, row)
    body = run.body = asyncio.ensure_future(wf.fn(ctx, **kwargs))
    try:
        await _settle(run, body)
    finally:
        spawned = asyncio.all_tasks() - {asyncio.current_task()}  # the loop is the replay's own
        for task in spawned:  # branches at the end of the history, and orphans of a gather
            task.cancel()
        await asyncio.gather(*spawned, return_exceptions=True)
    if not body.done() or body.cancelled():
        return _Outcome(False)
    error = body.exception()
    if isinstance(error, EndOfHistory | EngineSignal):
        return _Outcome(False)  # a branch reached the end of the history, or diverged
    return _Outcome(True, None if error is not None else body.result(), error)


async def _settle(run: ReplayRun, body: asyncio.Future) -> None:
    while not body.done():
        seen = run.progress
        for _ in range(SETTLE_TURNS):
            await asyncio.sleep(0)
            if body.done() or run.progress != seen:
                break
        else:
            await asyncio.wait([body], timeout=SETTLE_GRACE_S)
            if run.progress == seen:
                return  # nothing moves: every branch is at the end of the history


def _judge(run: ReplayRun, row: dict, outcome: _Outcome) -> ReplayResult:
    answered = [s for s in run.seen if s.recorded is not None and s.recorded["key"] == s.requested]
    base = {
        "execution_id": run.execution_id,
        "workflow": row["workflow"],
        "steps_replayed": len(answered),
        "steps": run.seen,
    }
    history_ended = row["status"] in ENDED
    diverged = run.first_divergence()
    if diverged is not None:
        return ReplayResult(
            **base,
            verdict="diverged",
            message=(
                f"at position {diverged.position} the history recorded step {diverged.recorded['key']!r}, "
                f"but the code asks for step {diverged.requested!r}"
                + (f" ({diverged.location})" if diverged.location else "")
            ),
            position=diverged.position,
            recorded_step=diverged.recorded["key"],
            requested_step=diverged.requested,
            location=diverged.location,
        )
    past = next((s for s in run.seen if s.recorded is None), None)
    if past is not None and history_ended and row["status"] != "cancelled":
        return ReplayResult(
            **base,
            verdict="code_wants_more",
            message=(
                f"the history {row['status']} the run after {len(run.journal)} steps, but the code asks for "
                f"step {past.requested!r} at position {past.position}"
                + (f" ({past.location})" if past.location else "")
            ),
            position=past.position,
            requested_step=past.requested,
            location=past.location,
        )
    if outcome.ended:
        asked = {s.position for s in run.seen}
        unasked = [p for p in run.journal.positions() if p not in asked]
        if unasked:
            entry = run.journal.at(unasked[0])
            return ReplayResult(
                **base,
                verdict="history_longer",
                message=(
                    f"the code ended after asking for {len(asked)} steps, but the history holds "
                    f"{len(run.journal)}: step {entry['key']!r} at position {unasked[0]} was never asked for"
                ),
                position=unasked[0],
                recorded_step=entry["key"],
            )
        if history_ended:
            differs = _differs(row, outcome)
            if differs is not None:
                return ReplayResult(**base, verdict="result_differs", message=differs)
    where = "the code ended as the history did" if outcome.ended else "the code reached the end of the history"
    return ReplayResult(**base, verdict="ok", message=f"{where}: {len(answered)} recorded steps replayed")


def _differs(row: dict, outcome: _Outcome) -> str | None:
    """How the code's end differs from the recorded one, or None."""
    status = row["status"]
    if outcome.error is None:
        value = from_json(to_json(outcome.value, "the result"))
        if status == "completed" and value == from_json(row.get("result")):
            return None
        recorded = f"result {from_json(row.get('result'))!r}" if status == "completed" else status
        return f"the code returns {value!r}; the history recorded {recorded}"
    error = to_record(outcome.error)
    if status == "failed" and (error["type"], error["message"]) == (row["error"]["type"], row["error"]["message"]):
        return None
    recorded = (
        f"{row['error']['type']}: {row['error']['message']}"
        if status == "failed"
        else f"{status} with {from_json(row.get('result'))!r}"
    )
    return f"the code raises {error['type']}: {error['message']}; the history recorded {recorded}"
