"""The fold's rules for cron schedules (rule 14).

A schedule lives on the partition of its routing key (``names.schedule_routing_key``),
and so do the runs it starts: their ids say which schedule and which tick
(``names.tick_execution_id``), and ``names.routing_key`` routes them there. So this fold
sees a schedule's ticks and its runs end, in log order. It reads no clock and no time
zone data: the writer of each record computed the ticks (``workflow/cron.py``).

14. Schedules.
    - ``ScheduleSet`` creates a schedule, or changes its spec (cron, time zone, policies);
      the same spec again changes nothing. Unless paused, its timer is set at the
      record's ``next_tick_ms``. A paused schedule stays paused.
    - ``ScheduleTicked`` (the owner: the timer went off) starts a run for each tick it
      carries, oldest first, unless a run of that tick exists (**exactly one run per
      tick**, whoever fired it and however often), and sets the timer at the next tick.
      A tick while an earlier run of the schedule is open follows the overlap policy:
      ``skip`` drops the tick; ``buffer_one`` keeps the latest such tick and starts it
      when the open runs have ended; ``allow_all`` starts it.
    - ``ScheduleCommand``: ``pause`` (removes the timer), ``resume`` (sets it at the
      record's ``next_tick_ms``: ticks missed while paused never run), ``delete`` (open
      runs go on), ``trigger`` (one run now, whatever the overlap policy or pause) and
      ``backfill`` (a run for each tick given that has none yet).
    - A run of the schedule ends: it is no longer open; a buffered tick starts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from .. import names
from ..wire.records import RecordType
from .effects import Effect, EffectKind, duplicate, ignored
from .keys import execution_key, schedule_key, schedule_timer_key
from .rows import new_execution
from .state import State

SKIP, BUFFER_ONE, ALLOW_ALL = "skip", "buffer_one", "allow_all"
OVERLAP_POLICIES = (SKIP, BUFFER_ONE, ALLOW_ALL)
_SPEC = ("workflow", "key", "cron", "timezone", "overlap", "catch_up_s")


def schedule_set(state: State, r: dict) -> list[Effect]:
    schedule_id = r["schedule_id"]
    row = state.get(schedule_key(schedule_id))
    spec = {field: r[field] for field in _SPEC}
    if row is not None and all(row[field] == spec[field] for field in _SPEC):
        return [duplicate("", f"schedule {schedule_id} is unchanged")]
    effects: list[Effect] = []
    if row is None:
        row = {
            "id": schedule_id,
            **spec,
            "source": r["source"],
            "paused": False,
            "next_tick": None,
            "last_tick": None,  # the latest tick that came due, run or not
            "last_run_tick": None,  # the latest tick that started a run
            "open": [],  # its runs still active
            "buffered": None,  # buffer_one: the tick to start once the open runs end
            "runs": 0,
            "skipped": 0,
            "created_at": r["at"],
        }
    else:
        row.update(spec, source=r["source"])
        effects += _clear_timer(state, row)
    row["updated_at"] = r["at"]
    if not row["paused"]:
        effects += _set_timer(state, row, r.get("next_tick_ms"))
    state.put(schedule_key(schedule_id), row)
    return [*effects, Effect(EffectKind.SCHEDULE, "", row)]


def schedule_ticked(state: State, r: dict) -> list[Effect]:
    schedule_id = r["schedule_id"]
    timer = schedule_timer_key(r["due_at"], schedule_id)
    state.delete(timer)  # always: a timer fires once
    done = Effect(EffectKind.TIMER_DONE, "", timer)
    row = state.get(schedule_key(schedule_id))
    if row is None:
        return [done, ignored("", f"no schedule {schedule_id}")]
    if row["paused"] or row["next_tick"] != r["due_at"]:
        return [done, ignored("", f"schedule {schedule_id}: its timer moved (paused or changed)")]
    effects = [done]
    upcoming = r.get("next_tick_ms")
    for tick in r["ticks"]:
        if row["last_tick"] is not None and tick <= row["last_tick"]:
            continue
        row["last_tick"] = tick
        effects += _tick(state, row, tick, r["at"], upcoming)
    row["next_tick"] = None
    effects += _set_timer(state, row, upcoming)
    state.put(schedule_key(schedule_id), row)
    return [*effects, Effect(EffectKind.SCHEDULE, "", row)]


def schedule_command(state: State, r: dict) -> list[Effect]:
    schedule_id, action = r["schedule_id"], r["action"]
    row = state.get(schedule_key(schedule_id))
    if row is None:
        return [ignored("", f"no schedule {schedule_id}")]
    effects: list[Effect] = []
    if action == "pause":
        if row["paused"]:
            return [duplicate("", f"schedule {schedule_id} is already paused")]
        row["paused"] = True
        effects += _clear_timer(state, row)
    elif action == "resume":
        if not row["paused"]:
            return [duplicate("", f"schedule {schedule_id} is not paused")]
        row["paused"] = False
        effects += _set_timer(state, row, r.get("next_tick_ms"))
    elif action == "delete":
        effects += _clear_timer(state, row)
        state.delete(schedule_key(schedule_id))
        return [*effects, Effect(EffectKind.SCHEDULE, "", None)]
    elif action == "trigger":
        run_id = names.trigger_execution_id_of_schedule(schedule_id, r["trigger_id"] or "0")
        effects += _start(state, row, run_id, r["at"], r["at"], row["next_tick"])
    elif action == "backfill":
        for tick in sorted(set(r["ticks"])):
            effects += _start(state, row, names.tick_execution_id(schedule_id, tick), tick, r["at"], row["next_tick"])
    else:
        return [ignored("", f"unknown schedule action {action!r}")]
    row["updated_at"] = r["at"]
    state.put(schedule_key(schedule_id), row)
    return [*effects, Effect(EffectKind.SCHEDULE, "", row)]


def on_run_ended(state: State, run: dict, at_ms: int) -> list[Effect]:
    """A run ended: if a schedule started it, it is no longer open; a buffered tick starts."""
    schedule_id = names.scheduled_run_schedule(run["id"])
    row = state.get(schedule_key(schedule_id)) if schedule_id is not None else None
    if row is None or run["id"] not in row["open"]:
        return []
    row["open"].remove(run["id"])
    effects: list[Effect] = []
    if row["buffered"] is not None and not row["open"] and not row["paused"]:
        tick, row["buffered"] = row["buffered"], None
        effects += _start(state, row, names.tick_execution_id(schedule_id, tick), tick, at_ms, row["next_tick"])
    state.put(schedule_key(schedule_id), row)
    return effects


def _tick(state: State, row: dict, tick: int, at_ms: int, upcoming: int | None) -> list[Effect]:
    """One due tick, after the overlap policy."""
    if row["open"] and row["overlap"] != ALLOW_ALL:
        if row["overlap"] == BUFFER_ONE:
            row["buffered"] = tick
        else:
            row["skipped"] += 1
        return []
    return _start(state, row, names.tick_execution_id(row["id"], tick), tick, at_ms, upcoming)


def _start(state: State, row: dict, run_id: str, tick: int, at_ms: int, upcoming: int | None) -> list[Effect]:
    """Start the run ``run_id`` for ``tick``, unless it exists: one run per tick."""
    if state.get(execution_key(run_id)) is not None:
        return [duplicate(run_id, "this tick already has its run")]
    payload = {
        "timestamp": _iso(tick),
        "last_timestamp": _iso(row["last_run_tick"]),
        "timezone": row["timezone"],
        "schedule_id": row["id"],
        "key": row["key"],
        "upcoming": _iso(upcoming),
    }
    effects = new_execution(
        state,
        {"execution_id": run_id, "workflow": row["workflow"], "input": orjson.dumps(payload).decode(), "at": at_ms},
    )
    if row["last_run_tick"] is None or tick > row["last_run_tick"]:
        row["last_run_tick"] = tick
    row["open"].append(run_id)
    row["runs"] += 1
    return effects


def _set_timer(state: State, row: dict, due_at_ms: int | None) -> list[Effect]:
    if due_at_ms is None:
        return []
    row["next_tick"] = due_at_ms
    index = {"key": "tick", "routing": names.schedule_routing_key(row["id"]), "schedule": row["id"]}
    state.put(schedule_timer_key(due_at_ms, row["id"]), index)
    return [Effect(EffectKind.TIMER, "", due_at_ms)]


def _clear_timer(state: State, row: dict) -> list[Effect]:
    due_at_ms, row["next_tick"] = row["next_tick"], None
    if due_at_ms is None:
        return []
    timer = schedule_timer_key(due_at_ms, row["id"])
    state.delete(timer)
    return [Effect(EffectKind.TIMER_DONE, "", timer)]


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


RULES = {
    RecordType.SCHEDULE_SET: schedule_set,
    RecordType.SCHEDULE_TICKED: schedule_ticked,
    RecordType.SCHEDULE_COMMAND: schedule_command,
}
