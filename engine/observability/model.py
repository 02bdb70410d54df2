"""The span model: which spans a record folded live makes, with ids and times from the journal.

No I/O and no OpenTelemetry: a ``FoldedRecord`` (and what ``StepStarts`` remembers of
the run) goes in, ``SpanSpec``s come out; the exporter turns them into SDK spans. A span
is made when what it covers has ENDED, since a span is exported once, whole:

1. a journal entry (a step, a sleep, a suspension, an event wait, a child, a session
   turn) whose outcome the record fixed (the fold's ``STEP`` effect with a completed or
   failed entry): a span from the entry's start to the record's ``at``, a child of the
   run's span. A wait starts when it was opened (the entry's ``at`` before it ended); a
   step body's span starts when its first attempt began (the outcome's ``started_at``).
   Records written before that field say only when a step ended: there the span starts
   at the run's previous record (``StepStarts``), or, when that is not known (the record
   came first to this worker), at the end of the entry before it or at the run's start. A
   sleep ends at its due time (its ``TimerFired`` is written a little before it:
   ``runtime.timers``, and the run waits until it is due);
2. a failed attempt (``STEP`` with a ``retrying`` entry): a child span of its step's span,
   from its start (its ``started_at``; in older records the previous attempt's
   ``retry_at``, or as in 1) to the record's ``at``;
3. a run's end (``FINISHED``): the run's span, from ``ExecutionStarted`` (the row's
   ``started_at``) to the end. A child run's span is a child of its parent's entry span
   for it; a root run's span has no parent, or the ``traceparent`` it was invoked with
   (then the whole tree is in that trace: ``trace_of``);
4. extra spans for the entry by kind (``genai.py``: an agent's model and tool calls).

A record the fold rejected or found a duplicate (``FENCED``, ``DUPLICATE``, ``IGNORED``)
makes no span.
"""

from __future__ import annotations

from ..fold.effects import EffectKind
from ..fold.keys import execution_key, journal_key
from ..fold.rows import EntryKind, EntryStatus
from ..workflow.interceptors import FoldedRecord
from . import genai, ids
from .spec import SpanEvent, SpanSpec

_STEP, _FINISHED = EffectKind.STEP, EffectKind.FINISHED
_SKIP = frozenset((EffectKind.FENCED, EffectKind.DUPLICATE, EffectKind.IGNORED))
_ENDED = frozenset((EntryStatus.COMPLETED, EntryStatus.FAILED))
_RETRYING = EntryStatus.RETRYING
MAX_RUNS_TRACKED = 100_000  # runs whose last record time ``StepStarts`` keeps
_WAIT_KINDS = {EntryKind.TIMER: "sleep", EntryKind.SUSPEND: "suspend", EntryKind.EVENT: "wait event"}


class StepStarts:
    """When each run last made progress (the ``at`` of its last record folded here), and
    when a retried step's next attempt was due: the start of a step's span and of an
    attempt's, as far as the journal tells. In memory, per worker; a run's entries leave
    when it ends, and at most ``MAX_RUNS_TRACKED`` runs are kept."""

    def __init__(self):
        self.last_at: dict[str, int] = {}
        self.retry_at: dict[tuple[str, int], int] = {}  # (run, seq): when its next attempt is due
        self.first_at: dict[tuple[str, int], int] = {}  # (run, seq): when its first attempt began

    def saw(self, execution_id: str, at_ms: int) -> int | None:
        """Record that the run made progress at ``at_ms``; returns the previous time."""
        before = self.last_at.get(execution_id)
        if before is None and len(self.last_at) >= MAX_RUNS_TRACKED:  # runs that moved away never end here
            del self.last_at[next(iter(self.last_at))]  # the longest known: its span falls back to the journal
        self.last_at[execution_id] = at_ms
        return before

    def ended(self, execution_id: str) -> None:
        self.last_at.pop(execution_id, None)
        for pending in (self.retry_at, self.first_at):
            for key in [k for k in pending if k[0] == execution_id]:
                del pending[key]


def spans_of(folded: FoldedRecord, starts: StepStarts) -> list[SpanSpec]:
    """The spans that ``folded`` ends (1-4 above)."""
    effects = folded.effects
    for effect in effects:
        if effect.kind in _SKIP:
            return []
    r = folded.record
    execution_id, at_ms = r["execution_id"], r["at"]
    previous_at = starts.saw(execution_id, at_ms) if execution_id else None
    spans: list[SpanSpec] = []
    for effect in effects:
        if effect.kind is _STEP and effect.execution_id == execution_id:
            seq, entry = effect.data
            row = folded.state.get(execution_key(execution_id))
            if row is None:
                continue
            if entry["status"] in _ENDED:
                spans += _entry_spans(folded, row, seq, entry, at_ms, previous_at, starts)
            elif entry["status"] == _RETRYING:
                spans.append(_attempt_span(folded, row, seq, entry, at_ms, previous_at, starts))
        elif effect.kind is _FINISHED and effect.execution_id == execution_id:
            spans.append(run_span(effect.data, at_ms))
            starts.ended(execution_id)
    return spans


def run_span(row: dict, end_ms: int) -> SpanSpec:
    execution_id = row["id"]
    parent = row.get("parent")
    if row.get("parent_id") and parent and parent.get("seq") is not None:
        parent_span = ids.entry_span(row["parent_id"], parent["seq"])
    elif row.get("parent_id"):
        parent_span = ids.run_span(row["parent_id"])
    else:
        parent_span = None
    start_ms = row.get("started_at") or row.get("created_at") or end_ms
    attributes = {
        "logloom.execution_id": execution_id,
        "logloom.workflow": row["workflow"],
        "logloom.status": row["status"],
        "logloom.root_execution_id": row.get("root_id") or execution_id,
        "logloom.created_at_ms": row.get("created_at") or start_ms,
    }
    if row.get("parent_id"):
        attributes["logloom.parent_execution_id"] = row["parent_id"]
    if row.get("session_id"):
        attributes["logloom.session_id"] = row["session_id"]
    error = row.get("error")
    return SpanSpec(
        name=f"run {row['workflow']}",
        trace_id=trace_of(row),
        span_id=ids.run_span(execution_id),
        parent_span_id=parent_span,
        start_ms=start_ms,
        end_ms=max(end_ms, start_ms),
        attributes=attributes,
        error=None if not error else f"{error.get('type')}: {error.get('message')}",
        remote_parent=None if parent_span is not None else _remote_parent(row),
    )


def trace_of(row: dict) -> int:
    """The run's trace: its tree's ``traceparent`` trace, if the root was invoked with one
    (children inherit it), else the one derived from the root execution id."""
    remote = _remote_parent(row)
    return remote[0] if remote is not None else ids.trace_id(row.get("root_id") or row["id"])


def _remote_parent(row: dict) -> tuple[int, int, int] | None:
    """The ``traceparent`` a run's tree was invoked with (W3C: ``00-<trace>-<span>-<flags>``)."""
    value = row.get("traceparent")
    if not value:
        return None
    parts = value.split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        return int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None


def _step_start(folded: FoldedRecord, execution_id: str, seq: int, previous_at: int | None, row: dict) -> int:
    """Where a step attempt's span starts (1. above): when it began, as its record says;
    for older records, guessed from what came before it."""
    started = folded.record.get("started_at")
    if started is not None:
        return started
    if previous_at is not None:
        return previous_at
    before = folded.state.get(journal_key(execution_id, seq - 1)) if seq > 1 else None
    if before is not None:
        return before.get("due_at") or before["at"]
    return row.get("started_at") or row.get("created_at") or folded.record["at"]


def _entry_spans(folded, row, seq, entry, end_ms, previous_at, starts) -> list[SpanSpec]:
    execution_id = row["id"]
    kind = entry.get("kind")
    if kind is None:  # a step body: from its first attempt's start
        starts.retry_at.pop((execution_id, seq), None)
        first = starts.first_at.pop((execution_id, seq), None)
        if first is None:
            first = _step_start(folded, execution_id, seq, previous_at, row)
        start_ms = min(first, end_ms)
        name, attributes = f"step {entry['key']}", {"logloom.step.attempts": entry["attempt"]}
    else:
        start_ms = min(entry["at"], end_ms)
        label = _WAIT_KINDS.get(kind, str(kind))
        name, attributes = f"{label} {entry['key']}", {"logloom.wait.kind": str(kind)}
        if kind == EntryKind.CHILD:
            name = f"child {entry.get('workflow')}"
            attributes["logloom.child_execution_id"] = entry["child"]
        if entry.get("due_at") is not None:
            attributes["logloom.wait.due_at_ms"] = entry["due_at"]
            if kind == EntryKind.TIMER:  # its TimerFired is written a little early; the run waits until due
                end_ms = max(end_ms, entry["due_at"])
    attributes.update({"logloom.execution_id": execution_id, "logloom.step.key": entry["key"], "logloom.step.seq": seq})
    error = entry.get("error") if entry["status"] == EntryStatus.FAILED else None
    span = SpanSpec(
        name=name,
        trace_id=trace_of(row),
        span_id=ids.entry_span(execution_id, seq),
        parent_span_id=ids.run_span(execution_id),
        start_ms=start_ms,
        end_ms=end_ms,
        attributes=attributes,
        error=None if not error else f"{error.get('type')}: {error.get('message')}",
    )
    return [span, *genai.spans_for(span, entry, folded.state)]


def _attempt_span(folded, row, seq, entry, end_ms, previous_at, starts) -> SpanSpec:
    execution_id, attempt = row["id"], entry["attempt"]
    due_ms = starts.retry_at.pop((execution_id, seq), None)
    start_ms = folded.record.get("started_at") or due_ms
    if start_ms is None:
        start_ms = _step_start(folded, execution_id, seq, previous_at, row)
    starts.first_at.setdefault((execution_id, seq), start_ms)
    starts.retry_at[(execution_id, seq)] = entry["retry_at"]
    error = entry.get("error") or {}
    return SpanSpec(
        name=f"attempt {attempt} {entry['key']}",
        trace_id=trace_of(row),
        span_id=ids.attempt_span(execution_id, seq, attempt),
        parent_span_id=ids.entry_span(execution_id, seq),
        start_ms=min(start_ms, end_ms),
        end_ms=end_ms,
        attributes={
            "logloom.execution_id": execution_id,
            "logloom.step.key": entry["key"],
            "logloom.step.attempt": attempt,
            "logloom.step.retry_at_ms": entry["retry_at"],
        },
        error=f"{error.get('type')}: {error.get('message')}",
        events=(
            SpanEvent(
                "exception",
                end_ms,
                {"exception.type": str(error.get("type")), "exception.message": str(error.get("message"))},
            ),
        ),
    )
