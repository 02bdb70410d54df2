"""The fold's rules for queues and concurrency keys (rule 15).

A run invoked on a queue is routed by its (queue, concurrency key)
(``names.queue_routing_key``), so the key's slots and every run that uses them live on
one partition, and this fold sees them in log order: the limit is a rule of one fold, not
a race between workers, and a slot cannot leak when a worker dies (the next owner folds
the same records).

15. Queues. A key's slots (``q/<queue>\\0<key>``) list the runs holding one and the runs
    waiting for one, highest ``priority`` first, then in order of arrival.
    - A new run on the queue takes a slot if fewer than the limit are held; else it is
      ``queued``: it holds no slot and no memory, and does not start.
    - A run gives its slot back when it ends (completed, failed or cancelled: also while
      queued), and when it parks: the owner writes ``RunParked`` once its every branch
      waits, and the slot is given back if those waits are all still open (a run that
      opens a wait while another of its branches works keeps its slot).
    - A parked run whose wait ends takes a slot again if one is free; else it is queued
      again, at the back, and what ended its wait is held back from it (the ``STEP`` and
      ``WOKEN`` effects) until it has a slot.
    - A slot given back goes to the first run waiting, at once.
    - ``QueueLimitSet`` changes a queue's limit for all its keys; a larger limit starts
      waiting runs at once. Otherwise the limit is the one the latest run declared.
    - With a rate limit, a run that never started also needs a token to start: a bucket
      of ``rate_limit`` tokens per key, refilled at ``rate_limit / rate_period_ms``,
      counted at the times records carry. A run that waits for a token holds no slot;
      a timer (``QueueTicked``) wakes the key when the next token is due. Runs over the
      rate are delayed, never dropped, and keep their order.
"""

from __future__ import annotations

import math

from .. import names
from ..wire.records import RecordType
from .effects import Effect, EffectKind, duplicate, ignored
from .keys import execution_key, journal_key, queue_key, queue_limit_key, queue_prefix, timer_key
from .state import State

HELD, WAITING, RELEASED, REQUEUED = "held", "waiting", "released", "requeued"
_ACTIVE = ("pending", "queued", "running", "waiting")
_HELD_BACK = (EffectKind.STEP, EffectKind.WOKEN)


def admit(state: State, row: dict, request: dict, effects: list[Effect]) -> list[Effect]:
    """A new run on a queue (its row just made, ``pending``): a slot, or the queue."""
    name, key = request["name"], request.get("key")
    row["queue"] = {"name": name, "key": key, "priority": request.get("priority") or 0, "slot": None}
    slots = _slots(state, name, key, request)
    at_ms = row["created_at"]
    _refill(slots, at_ms)
    if not slots["waiting"] and _room(state, slots) and _take_token(slots):
        _hold(slots, row)
    else:
        _enqueue(slots, row, WAITING)
        effects = [e for e in effects if e.kind is not EffectKind.INVOKED] + [Effect(EffectKind.QUEUED, row["id"], row)]
        effects += _grant(state, slots, at_ms)  # arms the rate timer if a token is what it waits for
    state.put(execution_key(row["id"]), row)
    _put(state, slots)
    return effects


def run_parked(state: State, r: dict) -> list[Effect]:
    row = state.get(execution_key(r["execution_id"]))
    if row is None or row["status"] not in _ACTIVE or not row.get("queue"):
        return [ignored(r["execution_id"], "not an active run on a queue")]
    queued = row["queue"]
    if queued["slot"] != HELD:
        return [duplicate(row["id"], f"its slot is {queued['slot']}")]
    if not r["waits"] or any(str(seq) not in row.get("waits", {}) for seq in r["waits"]):
        return [duplicate(row["id"], "a wait ended before it parked: it keeps its slot")]
    queued["slot"] = RELEASED
    state.put(execution_key(row["id"]), row)
    slots = _slots(state, queued["name"], queued["key"])
    slots["running"].remove(row["id"])
    effects = _grant(state, slots, r["at"])
    _put(state, slots)
    return [*effects, Effect(EffectKind.QUEUE, "", slots)]


def on_wait_closed(state: State, row: dict, effects: list[Effect]) -> list[Effect]:
    """A wait of a run on a queue ended: if it had given its slot back, it takes one again
    or is queued again, and the wake is held back until it has a slot."""
    queued = row["queue"]
    if queued["slot"] not in (RELEASED, REQUEUED):
        return effects
    slots = _slots(state, queued["name"], queued["key"])
    if queued["slot"] == RELEASED and _room(state, slots):
        _hold(slots, row)
        _put(state, slots)
        state.put(execution_key(row["id"]), row)
        return effects
    held = [e.data[0] for e in effects if e.kind is EffectKind.STEP and e.execution_id == row["id"]]
    queued["held"] = sorted({*queued.get("held", []), *held})
    if queued["slot"] == RELEASED:
        _enqueue(slots, row, REQUEUED)
        _put(state, slots)
    row["status"] = "queued"
    state.put(execution_key(row["id"]), row)
    kept = [e for e in effects if not (e.kind in _HELD_BACK and e.execution_id == row["id"])]
    return [*kept, Effect(EffectKind.QUEUED, row["id"], row)]


def on_run_ended(state: State, row: dict, at_ms: int) -> list[Effect]:
    """A run on a queue ended: whatever it held or waited for goes to the next run."""
    queued = row["queue"]
    queued["slot"] = None  # ended: it holds nothing and waits for nothing
    state.put(execution_key(row["id"]), row)
    slots = _slots(state, queued["name"], queued["key"])
    if row["id"] in slots["running"]:
        slots["running"].remove(row["id"])
    slots["waiting"] = [w for w in slots["waiting"] if w[2] != row["id"]]
    effects = _grant(state, slots, at_ms)
    _put(state, slots)
    return effects


def queue_limit_set(state: State, r: dict) -> list[Effect]:
    state.put(queue_limit_key(r["queue"]), {"limit": r["limit"], "at": r["at"]})
    effects: list[Effect] = []
    for _, slots in state.scan(queue_prefix(r["queue"])):
        effects += _grant(state, slots, r["at"])
        _put(state, slots)
        effects.append(Effect(EffectKind.QUEUE, "", slots))
    return effects


def queue_ticked(state: State, r: dict) -> list[Effect]:
    """The rate-limit timer of a key went off: tokens came back; start what they allow."""
    timer = timer_key(r["due_at"], names.queue_routing_key(r["queue"], r["key"]), 0)
    state.delete(timer)
    effects = [Effect(EffectKind.TIMER_DONE, "", timer)]
    slots = state.get(queue_key(r["queue"], r["key"]))
    if slots is None:
        return [*effects, ignored("", f"no queue key {r['queue']}/{r['key']}")]
    if slots.get("timer") == r["due_at"]:
        slots["timer"] = None
    effects += _grant(state, slots, r["at"])
    _put(state, slots)
    return [*effects, Effect(EffectKind.QUEUE, "", slots)]


def limit_of(state: State, slots: dict) -> int:
    """The limit in force: as set at run time, else as the latest run declared it."""
    override = state.get(queue_limit_key(slots["queue"]))
    return override["limit"] if override is not None else slots["limit"]


def _room(state: State, slots: dict) -> bool:
    return len(slots["running"]) < limit_of(state, slots)


def _hold(slots: dict, row: dict) -> None:
    row["queue"]["slot"] = HELD
    slots["running"].append(row["id"])


def _enqueue(slots: dict, row: dict, slot: str) -> None:
    row["queue"]["slot"] = slot
    row["status"] = "queued"
    slots["seq"] += 1
    slots["waiting"].append([-row["queue"]["priority"], slots["seq"], row["id"]])
    slots["waiting"].sort()


def _grant(state: State, slots: dict, at_ms: int) -> list[Effect]:
    """Give free slots to the first runs waiting; the effects that start or wake them. A run
    that never started also takes a token of the rate limit, if there is one; when the
    first run waits only for a token, a timer is set for when one comes back."""
    _refill(slots, at_ms)
    effects: list[Effect] = []
    while slots["waiting"] and _room(state, slots):
        run_id = slots["waiting"][0][2]
        row = state.get(execution_key(run_id))
        if row is None or row["status"] not in _ACTIVE:
            slots["waiting"].pop(0)
            continue
        queued = row["queue"]
        was = queued["slot"]
        if was == WAITING and not _take_token(slots):
            effects += _arm_rate_timer(state, slots)
            break
        slots["waiting"].pop(0)
        _hold(slots, row)
        if was == WAITING:  # never started: start it now
            row["status"] = "pending"
            effects.append(Effect(EffectKind.INVOKED, run_id, row))
        else:  # parked, woken, queued again: hand it what woke it
            row["status"] = "waiting" if row.get("waits") else "running"
            for seq in queued.pop("held", []):
                effects.append(Effect(EffectKind.STEP, run_id, (seq, state.get(journal_key(run_id, seq)))))
            effects.append(Effect(EffectKind.WOKEN, run_id, row))
        state.put(execution_key(run_id), row)
    return effects


def _refill(slots: dict, at_ms: int) -> None:
    """The token bucket as of ``at_ms`` (a record's time: the fold reads no clock)."""
    rate = slots.get("rate")
    if rate is None:
        return
    elapsed = max(0, at_ms - slots["bucket_at"])
    slots["tokens"] = min(rate["limit"], slots["tokens"] + elapsed * rate["limit"] / rate["period_ms"])
    slots["bucket_at"] = max(slots["bucket_at"], at_ms)


def _take_token(slots: dict) -> bool:
    if slots.get("rate") is None:
        return True
    if slots["tokens"] < 1:
        return False
    slots["tokens"] -= 1
    return True


def _arm_rate_timer(state: State, slots: dict) -> list[Effect]:
    if slots.get("timer") is not None:
        return []
    rate = slots["rate"]
    due_at_ms = slots["bucket_at"] + math.ceil((1 - slots["tokens"]) * rate["period_ms"] / rate["limit"])
    slots["timer"] = due_at_ms
    routing = names.queue_routing_key(slots["queue"], slots["key"])
    index = {"key": "rate", "routing": routing, "queue": slots["queue"], "queue_key": slots["key"]}
    state.put(timer_key(due_at_ms, routing, 0), index)
    return [Effect(EffectKind.TIMER, "", due_at_ms)]


def _slots(state: State, queue: str, key: str | None, request: dict | None = None) -> dict:
    """A key's slots; ``request`` (a new run's) brings the limits its code declares."""
    slots = state.get(queue_key(queue, key)) or {
        "queue": queue, "key": key, "limit": 1, "running": [], "waiting": [], "seq": 0,
    }  # fmt: skip
    if request is not None:
        slots["limit"] = request["limit"]
        if request.get("rate_limit"):
            if slots.get("rate") is None:  # a full bucket to begin with
                slots["tokens"], slots["bucket_at"] = float(request["rate_limit"]), 0
            slots["rate"] = {"limit": request["rate_limit"], "period_ms": request["rate_period_ms"]}
        else:
            slots["rate"] = None
    return slots


def _put(state: State, slots: dict) -> None:
    state.put(queue_key(slots["queue"], slots["key"]), slots)


RULES = {
    RecordType.RUN_PARKED: run_parked,
    RecordType.QUEUE_TICKED: queue_ticked,
    RecordType.QUEUE_LIMIT_SET: queue_limit_set,
}
