"""The fold for ``wait_for_event``: pure and deterministic, like rules 1-5.

Three partitions take part. The *waiter's* partition holds the execution; the *event
partition* is the one its routing key maps to (``names.event_routing_key``); partition 0 keeps
the set of awaited topics for the router. Records, in the order they usually come:

6. ``EventAwaited`` (waiter's partition, owner) opens an event wait. It waits for the
   first event after a cursor: after the last event this execution received from that
   topic/key, or, for its first wait there, from the moment the execution was created.
   Its owner then sends ``WaitRegistered`` to the event partition and ``TopicAwaited``
   to partition 0 (commands: idempotent, never fenced).
7. ``EventReceived`` (event partition, from the router) buffers the event for
   ``EVENT_BUFFER_MS`` (one hour, by record time) and matches every registered wait on
   that topic/key whose cursor it is past. ``WaitRegistered`` matches the buffer the
   same way, so an event that came before the wait is not lost. A match becomes a
   delivery in the event partition's outbox.
8. The event partition's owner sends each outbox delivery as ``EventDelivered`` to the
   waiter's partition, where the first one ends the wait. Once the log acknowledges
   that append, the delivery is durable, so the owner drops the outbox entries with
   ``DeliveriesConfirmed`` on its own partition (one record for every delivery
   acknowledged in a short window, not one answer per delivery from the waiter's
   side). A wait that ends without a delivery (timeout, cancel) sends ``WaitClosed``
   to the event partition, which forgets the registration. Owners re-send their open
   registrations and unconfirmed outbox on taking a partition over, and every step is
   idempotent, so no delivery is lost and none is applied twice.
"""

from __future__ import annotations

import orjson

from .. import names
from ..wire.records import RecordType
from .effects import Effect, EffectKind, duplicate, step
from .keys import (
    awaiting_key,
    buffer_key,
    buffer_prefix,
    delivery_key,
    execution_key,
    journal_key,
    parse_waiter_key,
    topic_key,
    waiter_key,
    waiter_prefix,
)
from .rows import EntryKind, EntryStatus, active_row, close_wait, completed, open_wait
from .state import State

EVENT_BUFFER_MS = 3_600_000

# Members read per record, as module names (docs/architecture.md).
_WAITING, _EVENT = EntryStatus.WAITING, EntryKind.EVENT
_AWAIT_EVENT, _DELIVER = EffectKind.AWAIT_EVENT, EffectKind.DELIVER


def _stream_name(topic: str, event_key: str | None) -> str:
    """The row's cursor name of one topic/key."""
    return f"{topic}/{event_key or ''}"


def _position(event: dict) -> list[int]:
    return [event["timestamp"], event["partition"], event["offset"]]


# -- 6. on the waiter's partition ------------------------------------------------------


def event_awaited(state: State, r: dict) -> list[Effect]:
    row = state.get(execution_key(r["execution_id"]))
    since = (row or {}).get("cursors", {}).get(_stream_name(r["topic"], r.get("event_key"))) or [
        (row or {}).get("created_at", 0),
        -1,
        -1,
    ]
    entry = {
        "key": r["key"],
        "status": _WAITING,
        "kind": _EVENT,
        "topic": r["topic"],
        "event_key": r.get("event_key"),
        "since": since,
        "timeout_at": r.get("timeout_at"),
        "attempt": 1,
        "at": r["at"],
    }
    row, effects = open_wait(state, r, entry, r.get("timeout_at"))
    if row is None:
        return effects
    registration = {
        "seq": r["seq"],
        "topic": r["topic"],
        "event_key": r.get("event_key"),
        "since": since,
        "reply_key": names.row_routing_key(row),
        "created_at": row["created_at"],
    }
    state.put(awaiting_key(row["id"], r["seq"]), registration)
    state.put(execution_key(row["id"]), row)
    effects = [step(row["id"], r["seq"], entry), Effect(_AWAIT_EVENT, row["id"], registration)]
    if r.get("timeout_at") is not None:
        effects.append(Effect(EffectKind.TIMER, row["id"], r["timeout_at"]))
    return effects


def event_delivered(state: State, r: dict) -> list[Effect]:
    execution_id, seq = r["execution_id"], r["seq"]
    row, ignored_ = active_row(state, r)
    entry = state.get(journal_key(execution_id, seq)) if row is not None else None
    if entry is None or entry["status"] != _WAITING or entry.get("kind") != _EVENT:
        return ignored_ or [duplicate(execution_id, "wait already ended")]
    event = {
        "data": orjson.loads(r["data"]),
        "key": r.get("event_key"),
        "topic": r["topic"],
        "partition": r["partition"],
        "offset": r["offset"],
        "timestamp": r["timestamp"],
    }
    row.setdefault("cursors", {})[_stream_name(r["topic"], r.get("event_key"))] = _position(r)
    # The event partition matched this wait (its registration is gone) and confirms the
    # delivery itself once the append is acknowledged: no WaitClosed goes back.
    return close_wait(state, row, seq, completed(entry, orjson.dumps(event).decode()), unregister=False)


# -- 7. and 8. on the event partition --------------------------------------------------


def _deliver(state: State, waiter: dict, execution_id: str, event: dict) -> Effect:
    delivery = {
        "execution_id": execution_id,
        "seq": waiter["seq"],
        "topic": event["topic"],
        "event_key": event.get("event_key"),
        "partition": event["partition"],
        "offset": event["offset"],
        "timestamp": event["timestamp"],
        "data": event["data"],
        "reply_key": waiter["reply_key"],
    }
    state.put(delivery_key(execution_id, waiter["seq"]), delivery)
    return Effect(_DELIVER, execution_id, delivery)


def wait_registered(state: State, r: dict) -> list[Effect]:
    execution_id, seq = r["execution_id"], r["seq"]
    pending = state.get(delivery_key(execution_id, seq))
    if pending is not None:  # delivered already, not yet confirmed: send it again
        return [Effect(EffectKind.DELIVER, execution_id, pending)]
    key = waiter_key(r["topic"], r.get("event_key"), execution_id, seq)
    if state.get(key) is not None:
        return [duplicate(execution_id, "wait already registered")]
    waiter = {"seq": seq, "since": list(r["since"]), "reply_key": r["reply_key"]}
    for _, event in state.scan(buffer_prefix(r["topic"], r.get("event_key"))):
        if _position(event) > waiter["since"]:
            return [_deliver(state, waiter, execution_id, event)]
    state.put(key, waiter)
    return [Effect(EffectKind.REGISTERED, execution_id, f"waits for {r['topic']}/{r.get('event_key') or ''}")]


def event_received(state: State, r: dict) -> list[Effect]:
    topic, event_key = r["topic"], r.get("event_key")
    key = buffer_key(topic, event_key, r["timestamp"], r["partition"], r["offset"])
    if state.get(key) is not None:
        return [duplicate("", "event already received")]
    for old_key, old in list(state.scan(buffer_prefix(topic, event_key))):
        if old["at"] < r["at"] - EVENT_BUFFER_MS:
            state.delete(old_key)
    event = {
        "topic": topic,
        "event_key": event_key,
        "partition": r["partition"],
        "offset": r["offset"],
        "timestamp": r["timestamp"],
        "data": r["data"],
        "at": r["at"],
    }
    state.put(key, event)
    effects = []
    for registered, waiter in list(state.scan(waiter_prefix(topic, event_key))):
        if _position(event) > waiter["since"]:
            execution_id, _ = parse_waiter_key(topic, event_key, registered)
            state.delete(registered)
            effects.append(_deliver(state, waiter, execution_id, event))
    return effects


def wait_closed(state: State, r: dict) -> list[Effect]:
    execution_id, seq = r["execution_id"], r["seq"]
    state.delete(delivery_key(execution_id, seq))
    state.delete(waiter_key(r["topic"], r.get("event_key"), execution_id, seq))
    return []


def deliveries_confirmed(state: State, r: dict) -> list[Effect]:
    for delivery in r["deliveries"]:
        state.delete(delivery_key(delivery["execution_id"], delivery["seq"]))
    return []


# -- on partition 0 --------------------------------------------------------------------


def topic_awaited(state: State, r: dict) -> list[Effect]:
    key = topic_key(r["topic"])
    known = state.get(key)
    if known is not None and known["since"] <= r["since"]:
        return [duplicate("", "topic already awaited")]
    state.put(key, {"since": r["since"]})
    return [Effect(EffectKind.TOPIC_AWAITED, "", {"topic": r["topic"], "since": r["since"]})]


RULES = {
    RecordType.EVENT_AWAITED: event_awaited,
    RecordType.EVENT_DELIVERED: event_delivered,
    RecordType.WAIT_REGISTERED: wait_registered,
    RecordType.EVENT_RECEIVED: event_received,
    RecordType.WAIT_CLOSED: wait_closed,
    RecordType.DELIVERIES_CONFIRMED: deliveries_confirmed,
    RecordType.TOPIC_AWAITED: topic_awaited,
}
