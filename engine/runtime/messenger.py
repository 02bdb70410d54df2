"""Cross-partition messages: the effects side of ``fold/event_waits.py`` and ``fold/children.py``.

The fold decides; this sends. Each cross-partition effect (``fold.CROSS_PARTITION``)
becomes a command appended to another partition, and on taking a partition over the
owner sends again whatever may not have arrived (open event registrations, unconfirmed
event deliveries, children not yet started or not yet cancelled, unacknowledged child
reports). Receivers are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .. import fold, names
from ..clock import now_ms
from ..fold import Effect, EffectKind
from ..fold.keys import (
    AWAITED_TOPICS_PREFIX,
    AWAITING_PREFIX,
    CHILD_OUTBOX_PREFIX,
    DELIVERY_OUTBOX_PREFIX,
    REPORTS_PREFIX,
    parse_awaiting_key,
    parse_report_key,
    parse_topic_key,
)
from ..wire import records
from ..wire.records import Record, RecordType

log = logging.getLogger(__name__)

RETRY_S = 1.0
CONFIRM_AFTER_S = 0.05  # deliveries acknowledged within this window share one DeliveriesConfirmed


def _send(processor, routing_key: str, record: Record, on_sent=None, to_partition: int | None = None) -> None:
    """Append a command to another partition; if the append fails, try again while this
    processor still owns its partition (a new owner sends everything again anyway).
    ``on_sent()`` runs once the log has acknowledged the append."""

    def retry() -> None:
        if processor.active:
            _send(processor, routing_key, record, on_sent, to_partition)

    def sent(ack) -> None:
        if ack.cancelled():
            return
        if ack.exception() is None:
            if on_sent is not None:
                on_sent()
            return
        log.warning(
            "partition %d: sending %s failed (%s); retrying in %.0f s",
            processor.partition,
            record["type"],
            ack.exception(),
            RETRY_S,
        )
        asyncio.get_running_loop().call_later(RETRY_S, retry)

    processor.send(routing_key, record, to_partition).add_done_callback(sent)


class _Confirmations:
    """Acknowledged deliveries of one event partition, written as one ``DeliveriesConfirmed``."""

    def __init__(self, processor):
        self.processor = processor
        self.pending: list[dict] = []

    def add(self, execution_id: str, seq: int) -> None:
        if not self.pending:
            asyncio.get_running_loop().call_later(CONFIRM_AFTER_S, self.flush)
        self.pending.append({"execution_id": execution_id, "seq": seq})

    def flush(self) -> None:
        deliveries, self.pending = self.pending, []
        processor = self.processor
        if deliveries and processor.active:  # else the next owner sends them again
            record = records.deliveries_confirmed(processor.epoch, now_ms(), deliveries=deliveries)
            processor.append(names.PARTITION_KEY, record).add_done_callback(self._written)

    def _written(self, ack) -> None:
        if not ack.cancelled() and ack.exception() is not None:  # harmless: sent again on takeover
            log.warning("partition %d: confirming deliveries failed: %s", self.processor.partition, ack.exception())


class Messenger:
    def __init__(self, router=None):
        self.router = router
        self._announced: set[str] = set()  # topics this worker already told partition 0 about
        self._confirmations: dict[int, _Confirmations] = {}  # event partition -> its acknowledged deliveries

    def on_effect(self, processor, effect: Effect) -> None:
        SENDS[effect.kind](self, processor, effect.execution_id, effect.data)

    def resend(self, processor) -> None:
        """On activation: what this partition's outboxes hold may not have reached its partition."""
        store = processor.store
        earliest: dict[str, int] = {}  # topic -> the earliest creation among its open waits
        for key, registration in store.scan(AWAITING_PREFIX):
            execution_id, _ = parse_awaiting_key(key)
            self._register(processor, execution_id, registration, announce=False)
            topic = registration["topic"]
            earliest[topic] = min(earliest.get(topic, registration["created_at"]), registration["created_at"])
        for topic, since in earliest.items():  # once per topic, not once per waiting execution
            self._announce(processor, topic, since)
        for _, delivery in store.scan(DELIVERY_OUTBOX_PREFIX):
            self._deliver(processor, "", delivery)
        for _, child in store.scan(CHILD_OUTBOX_PREFIX):
            self._spawn(processor, "", child)
            if child.get("cancel"):
                self._cancel_child(processor, "", child)
        for key, report in store.scan(REPORTS_PREFIX):
            self._report(processor, parse_report_key(key), report)
        if processor.partition == names.ROUTER_PARTITION and self.router is not None:
            for key, known in store.scan(AWAITED_TOPICS_PREFIX):
                self.router.watch(parse_topic_key(key), known["since"])

    # -- event waits -----------------------------------------------------------------

    def _register(self, processor, execution_id: str, registration: dict, announce: bool = True) -> None:
        topic = registration["topic"]
        record = records.wait_registered(
            execution_id,
            now_ms(),
            seq=registration["seq"],
            topic=topic,
            event_key=registration["event_key"],
            since=registration["since"],
            reply_key=registration["reply_key"],
        )
        _send(processor, names.event_routing_key(topic, registration["event_key"]), record)
        if announce and topic not in self._announced:
            self._announce(processor, topic, registration["created_at"])

    def _announce(self, processor, topic: str, since_ms: int) -> None:
        """Tell partition 0 (where the router runs) that workflows wait on ``topic``."""
        self._announced.add(topic)
        _send(
            processor,
            names.TOPICS_KEY,
            records.topic_awaited(now_ms(), topic=topic, since=since_ms),
            to_partition=names.ROUTER_PARTITION,
        )

    def _deliver(self, processor, _: str, delivery: dict) -> None:
        confirmations = self._confirmations.get(processor.partition)
        if confirmations is None or confirmations.processor is not processor:
            confirmations = self._confirmations[processor.partition] = _Confirmations(processor)
        execution_id, seq = delivery["execution_id"], delivery["seq"]
        record = records.event_delivered(
            execution_id,
            now_ms(),
            seq=seq,
            topic=delivery["topic"],
            event_key=delivery["event_key"],
            partition=delivery["partition"],
            offset=delivery["offset"],
            timestamp=delivery["timestamp"],
            data=delivery["data"],
        )
        _send(processor, delivery["reply_key"], record, on_sent=lambda: confirmations.add(execution_id, seq))

    def _close_wait(self, processor, execution_id: str, wait: dict) -> None:
        record = records.wait_closed(
            execution_id, now_ms(), seq=wait["seq"], topic=wait["topic"], event_key=wait["event_key"]
        )
        _send(processor, names.event_routing_key(wait["topic"], wait["event_key"]), record)

    def _topic_awaited(self, processor, _: str, awaited: dict) -> None:
        if self.router is not None:
            self.router.watch(awaited["topic"], awaited["since"])

    # -- child workflows -------------------------------------------------------------

    def _spawn(self, processor, _: str, child: dict) -> None:
        # Outboxes written by 0.1.0 hold the invocation without its type.
        invocation = {**child["invocation"], "type": RecordType.INVOCATION_REQUESTED}
        _send(processor, child["routing"], invocation)

    def _cancel_child(self, processor, _: str, child: dict) -> None:
        record = records.cancel_requested(child["invocation"]["execution_id"], now_ms(), reason=child["cancel"])
        _send(processor, child["routing"], record)

    def _report(self, processor, child_id: str, report: dict) -> None:
        record = records.child_finished(
            report["parent_id"],
            now_ms(),
            seq=report["seq"],
            child_execution_id=child_id,
            child_key=report["child_key"],
            status=report["status"],
            result=report["result"],
            error=report["error"],
        )
        _send(processor, report["reply_key"], record)

    def _child_ack(self, processor, child_id: str, ack: dict) -> None:
        _send(processor, ack["routing"], records.child_acknowledged(child_id, now_ms()))


_Send = Callable[[Messenger, object, str, object], None]
SENDS: dict[EffectKind, _Send] = {
    EffectKind.AWAIT_EVENT: Messenger._register,
    EffectKind.DELIVER: Messenger._deliver,
    EffectKind.CLOSE_WAIT: Messenger._close_wait,
    EffectKind.TOPIC_AWAITED: Messenger._topic_awaited,
    EffectKind.SPAWN: Messenger._spawn,
    EffectKind.CANCEL_CHILD: Messenger._cancel_child,
    EffectKind.REPORT: Messenger._report,
    EffectKind.CHILD_ACK: Messenger._child_ack,
}
if set(SENDS) != fold.CROSS_PARTITION:  # the processor hands exactly these to the messenger
    raise ImportError(
        f"the messenger's sends {sorted(SENDS)} are not the fold's cross-partition effects "
        f"{sorted(fold.CROSS_PARTITION)}"
    )
