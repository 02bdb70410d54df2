"""Rules 6-8 of the fold: an event wait across the waiter's partition and the event partition."""

import copy

from helpers import effect, invoke, kinds, owned, rec

from engine import fold
from engine.fold import EffectKind, MemoryState, keys
from engine.fold.keys import delivery_key as outbox_key


def waiting(timeout_at=None) -> tuple[MemoryState, dict]:
    """The waiter's partition with execution ``w`` waiting on orders/o-1; returns the registration."""
    state = owned("owner")
    fold.apply(state, invoke("w"))
    fold.apply(state, rec("ExecutionStarted", "w", worker="owner"))
    events = fold.apply(
        state, rec("EventAwaited", "w", seq=1, key="order", topic="orders", event_key="o-1", timeout_at=timeout_at)
    )
    return state, effect(events, EffectKind.AWAIT_EVENT).data


def event(offset=5):
    return rec(
        "EventReceived",
        "",
        0,
        topic="orders",
        event_key="o-1",
        partition=0,
        offset=offset,
        timestamp=2000 + offset,
        data='{"n": 1}',
    )


def test_a_delivered_wait_sends_no_answer_and_its_acknowledged_delivery_leaves_the_outbox():
    waiter_side, registration = waiting()
    event_side = owned("owner")
    fold.apply(
        event_side,
        rec(
            "WaitRegistered",
            "w",
            0,
            **{k: registration[k] for k in ("seq", "topic", "event_key", "since", "reply_key")},
        ),
    )
    delivered = fold.apply(event_side, event())
    assert kinds(delivered) == ["deliver"]
    delivery = effect(delivered, EffectKind.DELIVER).data
    assert event_side.get(outbox_key("w", 1)) == delivery

    woken = fold.apply(
        waiter_side,
        rec(
            "EventDelivered",
            "w",
            0,
            **{k: delivery[k] for k in ("seq", "topic", "event_key", "partition", "offset", "timestamp", "data")},
        ),
    )
    assert kinds(woken) == ["step", "woken"], "the event partition confirms the delivery itself"
    assert waiter_side.get(keys.journal_key("w", 1))["status"] == "completed"
    assert waiter_side.get(keys.awaiting_key("w", 1)) is None

    confirmed = rec(
        "DeliveriesConfirmed", "", 1, deliveries=[{"execution_id": "w", "seq": 1}, {"execution_id": "gone", "seq": 3}]
    )
    assert fold.apply(event_side, copy.deepcopy(confirmed)) == []
    assert event_side.get(outbox_key("w", 1)) is None
    assert fold.apply(event_side, confirmed) == [], "confirming again changes nothing"


def test_a_wait_that_ends_without_an_event_tells_the_event_partition():
    waiter_side, _ = waiting(timeout_at=5000)
    ended = fold.apply(waiter_side, rec("TimerFired", "w", seq=1, key="order", due_at=5000))
    closes = [e for e in ended if e.kind == "close_wait"]
    assert [c.data for c in closes] == [{"seq": 1, "topic": "orders", "event_key": "o-1"}]
    late = fold.apply(
        waiter_side,
        rec(
            "EventDelivered",
            "w",
            0,
            seq=1,
            topic="orders",
            event_key="o-1",
            partition=0,
            offset=5,
            timestamp=2005,
            data="{}",
        ),
    )
    assert kinds(late) == ["duplicate"]
