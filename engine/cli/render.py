"""How executions and their records read to people: progress lines, and ``describe``.

Every wait shows the exact command that ends it, with the flags that reach the same log.
"""

from __future__ import annotations

import json
import shlex

from ..client import Execution, HistoryRecord
from ..clock import to_datetime
from ..wire.serde import from_json
from .output import when


def where_flags(args) -> str:
    """The flags that reach the log this command reached, for commands it suggests."""
    parts = []
    for flag, name in (("--kafka", "kafka"), ("--namespace", "namespace"), ("--data-dir", "data_dir")):
        value = getattr(args, name, None)
        if value:
            parts += [flag, str(value)]
    return " " + shlex.join(parts) if parts else ""


def resume_command(args, execution_id: str, name: str, session_id: str | None = None) -> str:
    session = f" --session-id {shlex.quote(session_id)}" if session_id else ""
    return f"logloom resume {shlex.quote(execution_id)} {shlex.quote(name)} --data '<JSON>'{session}{where_flags(args)}"


def publish_command(args, topic: str, event_key: str | None) -> str:
    target = f"{topic}/{event_key}" if event_key else topic
    return f"logloom publish {shlex.quote(target)} --data '<JSON>'{where_flags(args)}"


def _error(error: dict | None) -> str:
    if not error:
        return "?"
    return f"{error.get('type')}: {error.get('message')}"


def _ms(at_ms: int | None) -> str:
    return when(to_datetime(at_ms))


def progress(args, record: HistoryRecord, execution_id: str) -> str | None:
    """One line for a record of a run as it happens, or None for records people need not see."""
    f, t = record.fields, record.type
    if record.outcome != "applied":
        return None
    if t == "InvocationRequested":
        return f"execution {execution_id} of {f['workflow']} invoked"
    if t == "ExecutionStarted":
        return f"started on worker {f['worker']}"
    if t == "StepCompleted":
        return f"  step {f['key']} done" + (f" (attempt {f['attempt']})" if f["attempt"] > 1 else "")
    if t == "StepAttemptFailed":
        return (
            f"  step {f['key']} attempt {f['attempt']} failed: {_error(f['error'])}; next attempt {_ms(f['retry_at'])}"
        )
    if t == "StepFailed":
        return f"  step {f['key']} failed after {f['attempt']} attempt(s): {_error(f['error'])}"
    if t == "TimerScheduled":
        return f"  sleeps until {_ms(f['due_at'])} ({f['key']})"
    if t == "TimerFired":
        return f"  woke up ({f['key']})"
    if t == "Suspended":
        data = from_json(f.get("data"))
        asks = f" ({json.dumps(data)})" if data not in (None, {}) else ""
        return f"  waits for {f['key']!r}{asks}; resume it with: {resume_command(args, execution_id, f['key'])}"
    if t == "ResumeRequested":
        return f"  resumed at {f['name']!r}"
    if t == "EventAwaited":
        topic = f"{f['topic']}/{f['event_key']}" if f.get("event_key") else f["topic"]
        return (
            f"  waits for an event on {topic} ({f['key']}); publish it with: "
            f"{publish_command(args, f['topic'], f.get('event_key'))}"
        )
    if t == "EventDelivered":
        return f"  event arrived from {f['topic']} (partition {f['partition']}, offset {f['offset']})"
    if t == "ChildInvoked":
        verb = "runs and waits for" if f["wait"] else "started"
        return f"  {verb} child {f['child_execution_id']} ({f['workflow']})"
    if t == "ChildFinished":
        return f"  child {f['child_execution_id']} {f['status']}"
    if t == "ExecutionCompleted":
        return "completed"
    if t == "ExecutionFailed":
        return f"failed: {_error(f['error'])}"
    if t == "ExecutionCancelled":
        return f"{'terminated' if f.get('terminated') else 'cancelled'}: {f['reason']}"
    if t == "CancelRequested":
        return f"  {'termination' if f.get('terminate') else 'cancellation'} requested: {f['reason']}"
    return None


def describe(args, execution: Execution, history: list[HistoryRecord]) -> dict:
    """What a person asks of a run: where it is, what it waits for, what failed, its children."""
    steps: dict[str, dict] = {}
    children: dict[str, dict] = {}
    last_failure = None
    for r in history:
        f = r.fields
        if r.outcome != "applied":
            continue
        if r.type in ("StepCompleted", "StepFailed", "StepAttemptFailed"):
            steps[f["key"]] = {"step": f["key"], "status": r.type, "attempts": f["attempt"], "at": r.at}
            if r.type != "StepCompleted":
                last_failure = {"step": f["key"], "attempt": f["attempt"], "at": r.at, **(f.get("error") or {})}
                if r.type == "StepAttemptFailed":
                    steps[f["key"]]["next_attempt_at"] = _ms(f["retry_at"])
        elif r.type == "ChildInvoked":
            children[f["child_execution_id"]] = {"execution_id": f["child_execution_id"], "workflow": f["workflow"],
                                                 "status": "started"}  # fmt: skip
        elif r.type == "ChildFinished" and f["child_execution_id"] in children:
            children[f["child_execution_id"]]["status"] = f["status"]
    if execution.error and execution.status in ("failed", "cancelled"):
        last_failure = {"step": execution.error.get("step"), **execution.error}
    pending = next((s for s in reversed(steps.values()) if s["status"] == "StepAttemptFailed"), None)
    waits = []
    for wait in execution.waiting_for:
        shown = dict(wait)
        if wait["kind"] == "suspend":
            shown["resume_with"] = resume_command(args, execution.execution_id, wait["key"], execution.session_id)
        elif wait["kind"] == "event":
            shown["publish_with"] = publish_command(args, wait["topic"], wait.get("event_key"))
        waits.append(shown)
    ended = execution.completed_at
    return {
        "execution_id": execution.execution_id,
        "workflow": execution.workflow,
        "status": execution.status,
        "created_at": execution.created_at,
        "started_at": execution.started_at,
        "completed_at": ended,
        "duration_s": round((ended - execution.started_at).total_seconds(), 3)
        if ended and execution.started_at
        else None,
        "session_id": execution.session_id,
        "user_id": execution.user_id,
        "parent_execution_id": execution.parent_execution_id,
        "root_execution_id": execution.root_execution_id,
        "steps_done": sum(s["status"] == "StepCompleted" for s in steps.values()),
        "pending_step": pending,
        "waiting_for": waits,
        "children": list(children.values()),
        "last_failure": last_failure,
        "result": execution.result,
        "queue": execution.queue,  # {name, key, priority, slot, position}, on a queue
    }


def describe_lines(view: dict) -> list[str]:
    lines = [f"execution   {view['execution_id']}  ({view['workflow']})", f"status      {view['status']}"]
    times = f"created {when(view['created_at'])}  started {when(view['started_at'])}"
    if view["completed_at"]:
        times += f"  ended {when(view['completed_at'])}  ({view['duration_s']} s)"
    lines.append(f"times       {times}")
    for label, key in (("session", "session_id"), ("user", "user_id"), ("parent", "parent_execution_id")):
        if view[key]:
            lines.append(f"{label:<11} {view[key]}")
    queued = view.get("queue")
    if queued:
        where = f"{queued['name']}" + (f" (key {queued['key']})" if queued.get("key") is not None else "")
        slot = {"held": "holds a slot", "released": "gave its slot back while it waits"}.get(queued["slot"], "done")
        if queued.get("position"):
            slot = f"queued, {queued['position']} in line"
        lines.append(f"queue       {where}: {slot}")
    lines.append(f"steps       {view['steps_done']} done")
    if view["pending_step"]:
        p = view["pending_step"]
        lines.append(f"pending     step {p['step']}: attempt {p['attempts']} failed, next at {p['next_attempt_at']}")
    for wait in view["waiting_for"]:
        what = f"{wait['kind']} {wait['key']!r}"
        if wait["kind"] == "event":
            what += f" on {wait['topic']}" + (f"/{wait['event_key']}" if wait.get("event_key") else "")
        if wait.get("due_at"):
            what += f" until {when(wait['due_at'])}"
        if wait.get("timeout_at"):
            what += f" (times out {when(wait['timeout_at'])})"
        lines.append(f"waits for   {what}")
        command = wait.get("resume_with") or wait.get("publish_with")
        if command:
            lines.append(f"            {command}")
    for child in view["children"]:
        lines.append(f"child       {child['execution_id']}  ({child['workflow']})  {child['status']}")
    failure = view["last_failure"]
    if failure:
        step = f"step {failure['step']}" if failure.get("step") else "the run"
        lines.append(f"last failure  {step}: [{failure.get('code')}] {failure.get('type')}: {failure.get('message')}")
        if failure.get("traceback"):
            lines += ["  " + line for line in failure["traceback"].rstrip().splitlines()]
    if view["status"] == "completed":
        lines.append(f"result      {json.dumps(view['result'])}")
    return lines
