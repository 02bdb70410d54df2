"""A run's history as the run page shows it: a timeline, state snapshots, agent turns.

Pure: decoded history entries (``HistoryEntry``: type, at, fields with payloads decoded)
go in, plain data comes out; no I/O, no clock (the caller gives ``now_ms`` for a run
still going).

1. **Timeline.** One bar per step attempt, wait and child run, from its start to its end,
   placed on the run's span (from its invocation to its end, or to now). A step attempt
   starts at its record's ``started_at``; records written before that field (null) only
   say when it ended, so there a first attempt starts at the run's record before it (the
   run's start, the step before, or the wake that let it run), and a retry when the failed
   attempt said it was due (``retry_at``). A wait (timer, suspension, event, child) starts at the
   record that opened it and ends at the record that closed it (a timer no sooner than
   it was due).
2. **State.** The state recorded with each step (``WorkflowState``), in order.
3. **Agent turns.** The steps an agent records (``engine/agents/loop.py``): ``llm:N`` model
   calls (model, token usage, text and tool calls) and ``tool:N.i:name`` tool calls (their
   result or error), ``approve:N.i:name`` approvals, ``handoff:N:agent`` handoffs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ENDED_TYPES = frozenset({"ExecutionCompleted", "ExecutionFailed", "ExecutionCancelled"})
_STEP_ENDS = frozenset({"StepCompleted", "StepFailed", "StepAttemptFailed"})
_WAIT_OPENS = {"TimerScheduled": "timer", "Suspended": "suspend", "EventAwaited": "event", "ChildInvoked": "child"}
_MIN_BAR_PERCENT = 0.4  # a bar this wide at least, so an instant shows
_AGENT_STEP = re.compile(r"^(llm|tool|approve|handoff):(\d+)(?:\.(\d+))?(?::(.*))?$")


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@dataclass
class Bar:
    """One row of the timeline: a step attempt, a retry, a wait or a child run."""

    kind: str  # step, retry, timer, suspend, event, child, run
    name: str
    start_ms: int
    end_ms: int | None  # None: still open
    status: str  # completed, failed, retried, waiting, resumed, fired, timed out, cancelled...
    seq: int | None = None
    attempt: int | None = None
    detail: Any = None  # a result, an error, what a suspension asks
    child_id: str | None = None
    left_percent: float = 0.0
    width_percent: float = 0.0

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_ms is None else self.end_ms - self.start_ms


@dataclass
class Timeline:
    start_ms: int
    end_ms: int
    ended: bool
    bars: list[Bar] = field(default_factory=list)

    @property
    def span_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass
class StateSnapshot:
    step: str
    seq: int
    at: datetime
    state: Any


@dataclass
class ModelTurn:
    turn: int
    agent: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    text: str | None
    tool_calls: list[dict]
    stop_reason: str | None
    at: datetime


@dataclass
class ToolCall:
    turn: int
    index: int
    kind: str  # tool, approve, handoff
    name: str
    status: str
    result: Any = None
    error: Any = None
    child_id: str | None = None


@dataclass
class AgentView:
    turns: list[ModelTurn]
    calls: list[ToolCall]

    @property
    def input_tokens(self) -> int:
        return sum(t.input_tokens for t in self.turns)

    @property
    def output_tokens(self) -> int:
        return sum(t.output_tokens for t in self.turns)


def build_timeline(entries: list, now_ms: int) -> Timeline:
    """The bars of a run's history (see the module's docstring), scaled to its span."""
    if not entries:
        return Timeline(now_ms, now_ms, False)
    start = ms(entries[0].at)
    ending = next((e for e in reversed(entries) if e.type in ENDED_TYPES and e.outcome == "applied"), None)
    end = ms(ending.at) if ending is not None else max(now_ms, max(ms(e.at) for e in entries))
    bars: list[Bar] = []
    open_waits: dict[int, Bar] = {}  # seq -> its open wait
    retry_due: dict[int, int] = {}  # seq -> when its next attempt was due
    resumed_early: set[str] = set()  # resumes kept until their suspension opens (buffered)
    previous = start
    for entry in entries:
        at = ms(entry.at)
        fields = entry.fields
        if entry.outcome != "applied":
            continue
        if entry.type in _STEP_ENDS:
            seq = fields.get("seq")
            guessed = min(retry_due.pop(seq, previous), at)
            began = fields.get("started_at") or guessed  # null in records older than the field
            if entry.type == "StepAttemptFailed":
                bars.append(
                    Bar("retry", fields["key"], began, at, "retried", seq, fields.get("attempt"), fields["error"])
                )
                retry_due[seq] = fields.get("retry_at") or at
            else:
                completed = entry.type == "StepCompleted"
                detail = fields.get("result") if completed else fields.get("error")
                status = "completed" if completed else "failed"
                bars.append(Bar("step", fields["key"], began, at, status, seq, fields.get("attempt"), detail))
        elif entry.type in _WAIT_OPENS:
            kind = _WAIT_OPENS[entry.type]
            detail = fields.get("data") if kind == "suspend" else fields.get("topic") if kind == "event" else None
            child = fields.get("child_execution_id") if kind == "child" else None
            bar = Bar(kind, fields["key"], at, None, "waiting", fields.get("seq"), None, detail, child)
            if kind == "child":
                bar.detail = fields.get("workflow")
                if not fields.get("wait", True):  # started, not waited for: a point
                    bar.end_ms, bar.status = at, "started"
            bars.append(bar)
            if kind == "suspend" and bar.name in resumed_early:  # the kept resume ends it at once
                bar.end_ms, bar.status = at, "resumed"
            elif bar.end_ms is None:
                open_waits[bar.seq] = bar
        elif not _close_wait(entry, at, open_waits) and entry.type == "ResumeRequested":
            resumed_early.add(fields.get("name"))
        previous = at
    if ending is not None:  # what was still open ended with the run
        why = {"ExecutionCancelled": "cancelled", "ExecutionFailed": "failed"}.get(ending.type, "ended")
        for bar in open_waits.values():
            bar.end_ms, bar.status = end, why
    for bar in bars:
        bar.left_percent, bar.width_percent = _place(bar, start, end)
    return Timeline(start, end, ending is not None, bars)


def _close_wait(entry, at: int, open_waits: dict[int, Bar]) -> bool:
    """Ends the wait the record closes; whether it closed one."""
    fields = entry.fields
    if entry.type == "ResumeRequested":
        bar = next((b for b in open_waits.values() if b.kind == "suspend" and b.name == fields.get("name")), None)
        status = "resumed"
    elif entry.type in ("TimerFired", "EventDelivered", "ChildFinished"):
        bar = open_waits.get(fields.get("seq"))
        status = {"TimerFired": "fired", "EventDelivered": "delivered"}.get(entry.type) or fields.get("status", "")
        if bar is not None and entry.type == "TimerFired":
            if bar.kind == "timer":
                at = max(at, fields.get("due_at") or at)  # a sleep's record may come a little early
            else:
                status = "timed out"
    else:
        return False
    if bar is None:
        return False
    bar.end_ms, bar.status = at, status
    open_waits.pop(bar.seq, None)
    return True


def _place(bar: Bar, start: int, end: int) -> tuple[float, float]:
    span = max(end - start, 1)
    left = (bar.start_ms - start) / span * 100
    stop = end if bar.end_ms is None else bar.end_ms
    width = max((stop - bar.start_ms) / span * 100, _MIN_BAR_PERCENT)
    left = min(max(left, 0.0), 100.0 - _MIN_BAR_PERCENT)
    return round(left, 3), round(min(width, 100.0 - left), 3)


def state_snapshots(entries: list) -> list[StateSnapshot]:
    """The state recorded with each step, in order; none if the run keeps no state (a
    plain ``WorkflowState`` that stayed empty records ``{}`` with every step)."""
    snapshots = [
        StateSnapshot(e.fields["key"], e.fields.get("seq"), e.at, e.fields["state"])
        for e in entries
        if e.type in ("StepCompleted", "StepFailed") and e.outcome == "applied" and e.fields.get("state") is not None
    ]
    return snapshots if any(s.state != {} for s in snapshots) else []


def agent_view(entries: list) -> AgentView | None:
    """An agent's model turns and tool calls, from its steps; None if it made no model call."""
    turns: list[ModelTurn] = []
    calls: dict[str, ToolCall] = {}
    keys_by_seq: dict[int, str] = {}  # a child's end names its parent's position, not the step's key
    for entry in entries:
        if entry.outcome != "applied":
            continue
        fields = entry.fields
        key = fields.get("key")
        if entry.type == "ChildFinished":
            key = keys_by_seq.get(fields.get("seq"))
        elif entry.type == "ResumeRequested":
            key = fields.get("name")
        found = _AGENT_STEP.match(key) if isinstance(key, str) else None
        if found is None:
            continue
        keys_by_seq[fields.get("seq")] = key
        kind, turn, index, name = found.group(1), int(found.group(2)), int(found.group(3) or 0), found.group(4) or ""
        if kind == "llm":
            if entry.type == "StepCompleted" and isinstance(fields.get("result"), dict):
                turns.append(_turn(turn, entry))
            continue
        call = calls.setdefault(key, ToolCall(turn, index, kind, name, "started"))
        if entry.type == "StepCompleted" or (entry.type == "ChildFinished" and fields.get("status") == "completed"):
            call.status, call.result = "completed", fields.get("result")
        elif entry.type in ("StepFailed", "ChildFinished"):
            call.status, call.error = "failed", fields.get("error")
        elif entry.type == "ChildInvoked":
            call.status, call.child_id = "running", fields.get("child_execution_id")
        elif entry.type == "Suspended":
            call.status, call.result = "waiting", fields.get("data")
        elif entry.type == "ResumeRequested":
            call.status, call.result = "answered", fields.get("data")
    if not turns:
        return None
    return AgentView(turns, sorted(calls.values(), key=lambda c: (c.turn, c.index, c.kind)))


def _turn(turn: int, entry) -> ModelTurn:
    recorded = entry.fields["result"]
    response = recorded.get("response") or {}
    usage = recorded.get("usage") or {}
    return ModelTurn(
        turn=turn,
        agent=recorded.get("agent"),
        model=recorded.get("model"),
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        text=response.get("text"),
        tool_calls=list(response.get("tool_calls") or []),
        stop_reason=response.get("stop_reason"),
        at=entry.at,
    )


def invocation_of(entries: list) -> dict | None:
    """The fields of the run's applied invocation (its input, user and session), if it is there."""
    return next((e.fields for e in entries if e.type == "InvocationRequested" and e.outcome == "applied"), None)
