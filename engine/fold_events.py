"""The fold for ``wait_for_event``: pure and deterministic, like ``fold.py`` (its rules 1-5).

Three partitions take part. The *waiter's* partition holds the execution; the *event
partition* is the one the routing key ``\\0ev/<topic>/<key>`` maps to; partition 0 keeps
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

from .fold import Event, _active_row, _close_wait, _open_wait, awaiting_key, execution_key, journal_key
from .store import State

EVENT_BUFFER_MS = 3_600_000


def event_routing_key(topic: str, event_key: str | None) -> str:
    return f"\x00ev/{topic}/{event_key or ''}"


def _stream(topic: str, event_key: str | None) -> bytes:
    return topic.encode() + b"\x00" + (event_key or "").encode() + b"\x00"


def _buffer_key(r: dict) -> bytes:
    return b"eb/" + _stream(r["topic"], r.get("event_key")) + b"%016d%06d%020d" % (
        r["timestamp"], r["partition"], r["offset"])


def _waiter_key(topic: str, event_key: str | None, execution_id: str, seq: int) -> bytes:
    return b"ew/" + _stream(topic, event_key) + execution_id.encode() + b"\x00%010d" % seq


def outbox_key(execution_id: str, seq: int) -> bytes:
    return b"ed/" + execution_id.encode() + b"\x00%010d" % seq


def topic_key(topic: str) -> bytes:
    return b"et/" + topic.encode()


def _position(event: dict) -> list[int]:
    return [event["timestamp"], event["partition"], event["offset"]]


# -- 6. on the waiter's partition ------------------------------------------------------


def event_awaited(state: State, r: dict) -> list[Event]:
    row = state.get(execution_key(r["execution_id"]))
    stream = f"{r['topic']}/{r.get('event_key') or ''}"
    since = (row or {}).get("cursors", {}).get(stream) or [(row or {}).get("created_at", 0), -1, -1]
    entry = {"key": r["key"], "status": "waiting", "kind": "event", "topic": r["topic"],
             "event_key": r.get("event_key"), "since": since, "timeout_at": r.get("timeout_at"),
             "attempt": 1, "at": r["at"]}
    row, events = _open_wait(state, r, entry, r.get("timeout_at"))
    if row is None:
        return events
    registration = {"seq": r["seq"], "topic": r["topic"], "event_key": r.get("event_key"), "since": since,
                    "reply_key": row.get("session_id") or row["id"], "created_at": row["created_at"]}
    state.put(awaiting_key(row["id"], r["seq"]), registration)
    state.put(execution_key(row["id"]), row)
    events = [Event("step", row["id"], (r["seq"], entry)), Event("await_event", row["id"], registration)]
    if r.get("timeout_at") is not None:
        events.append(Event("timer", row["id"], r["timeout_at"]))
    return events


def event_delivered(state: State, r: dict) -> list[Event]:
    execution_id, seq = r["execution_id"], r["seq"]
    row, ignored = _active_row(state, r)
    entry = state.get(journal_key(execution_id, seq)) if row is not None else None
    if entry is None or entry["status"] != "waiting" or entry.get("kind") != "event":
        return ignored or [Event("duplicate", execution_id, "wait already ended")]
    event = {"data": orjson.loads(r["data"]), "key": r.get("event_key"), "topic": r["topic"],
             "partition": r["partition"], "offset": r["offset"], "timestamp": r["timestamp"]}
    row.setdefault("cursors", {})[f"{r['topic']}/{r.get('event_key') or ''}"] = _position(r)
    # The event partition matched this wait (its registration is gone) and confirms the
    # delivery itself once the append is acknowledged: no WaitClosed goes back.
    return _close_wait(state, row, seq, dict(entry, status="completed", result=orjson.dumps(event).decode()),
                       unregister=False)


# -- 7. and 8. on the event partition --------------------------------------------------


def _deliver(state: State, waiter: dict, execution_id: str, event: dict) -> Event:
    delivery = {"execution_id": execution_id, "seq": waiter["seq"], "topic": event["topic"],
                "event_key": event.get("event_key"), "partition": event["partition"], "offset": event["offset"],
                "timestamp": event["timestamp"], "data": event["data"], "reply_key": waiter["reply_key"]}
    state.put(outbox_key(execution_id, waiter["seq"]), delivery)
    return Event("deliver", execution_id, delivery)


def wait_registered(state: State, r: dict) -> list[Event]:
    execution_id, seq = r["execution_id"], r["seq"]
    pending = state.get(outbox_key(execution_id, seq))
    if pending is not None:  # delivered already, not yet confirmed: send it again
        return [Event("deliver", execution_id, pending)]
    key = _waiter_key(r["topic"], r.get("event_key"), execution_id, seq)
    if state.get(key) is not None:
        return [Event("duplicate", execution_id, "wait already registered")]
    waiter = {"seq": seq, "since": list(r["since"]), "reply_key": r["reply_key"]}
    for _, event in state.scan(b"eb/" + _stream(r["topic"], r.get("event_key"))):
        if _position(event) > waiter["since"]:
            return [_deliver(state, waiter, execution_id, event)]
    state.put(key, waiter)
    return [Event("registered", execution_id, f"waits for {r['topic']}/{r.get('event_key') or ''}")]


def event_received(state: State, r: dict) -> list[Event]:
    key = _buffer_key(r)
    if state.get(key) is not None:
        return [Event("duplicate", "", "event already received")]
    stream = _stream(r["topic"], r.get("event_key"))
    for old_key, old in list(state.scan(b"eb/" + stream)):
        if old["at"] < r["at"] - EVENT_BUFFER_MS:
            state.delete(old_key)
    event = {"topic": r["topic"], "event_key": r.get("event_key"), "partition": r["partition"],
             "offset": r["offset"], "timestamp": r["timestamp"], "data": r["data"], "at": r["at"]}
    state.put(key, event)
    events = []
    for waiter_key, waiter in list(state.scan(b"ew/" + stream)):
        if _position(event) > waiter["since"]:
            execution_id = waiter_key[len(b"ew/" + stream):-11].decode()
            state.delete(waiter_key)
            events.append(_deliver(state, waiter, execution_id, event))
    return events


def wait_closed(state: State, r: dict) -> list[Event]:
    execution_id, seq = r["execution_id"], r["seq"]
    state.delete(outbox_key(execution_id, seq))
    state.delete(_waiter_key(r["topic"], r.get("event_key"), execution_id, seq))
    return []


def deliveries_confirmed(state: State, r: dict) -> list[Event]:
    for delivery in r["deliveries"]:
        state.delete(outbox_key(delivery["execution_id"], delivery["seq"]))
    return []


# -- on partition 0 --------------------------------------------------------------------


def topic_awaited(state: State, r: dict) -> list[Event]:
    key = topic_key(r["topic"])
    known = state.get(key)
    if known is not None and known["since"] <= r["since"]:
        return [Event("duplicate", "", "topic already awaited")]
    state.put(key, {"since": r["since"]})
    return [Event("topic_awaited", "", {"topic": r["topic"], "since": r["since"]})]


HANDLERS = {
    "EventAwaited": event_awaited,
    "EventDelivered": event_delivered,
    "WaitRegistered": wait_registered,
    "EventReceived": event_received,
    "WaitClosed": wait_closed,
    "DeliveriesConfirmed": deliveries_confirmed,
    "TopicAwaited": topic_awaited,
}
