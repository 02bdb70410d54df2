"""Cross-partition messages: the effects side of ``fold_events.py`` and ``fold_children.py``.

The fold decides; this sends. Each fold event becomes a command appended to another
partition, and on taking a partition over the owner sends again whatever may not have
arrived (open event registrations, unconfirmed event deliveries, children not yet
started or not yet cancelled, unacknowledged child reports). Receivers are idempotent.
"""

from __future__ import annotations

import asyncio
import logging

from . import fold
from .fold_events import event_routing_key
from .topics import PARTITION_KEY, TOPICS_KEY

log = logging.getLogger(__name__)

RETRY_S = 1.0
CONFIRM_AFTER_S = 0.05  # deliveries acknowledged within this window share one DeliveriesConfirmed


def _send(processor, record_type: str, routing_key: str, on_sent=None, **fields) -> None:
    """Append a command to another partition; if the append fails, try again while this
    processor still owns its partition (a new owner sends everything again anyway).
    ``on_sent()`` runs once the log has acknowledged the append."""
    def retry() -> None:
        if processor.phase == "active":
            _send(processor, record_type, routing_key, on_sent, **fields)

    def sent(ack) -> None:
        if ack.cancelled():
            return
        if ack.exception() is None:
            if on_sent is not None:
                on_sent()
            return
        log.warning("partition %d: sending %s failed (%s); retrying in %.0f s", processor.partition, record_type,
                    ack.exception(), RETRY_S)
        asyncio.get_running_loop().call_later(RETRY_S, retry)
    processor.send(record_type, routing_key, **fields).add_done_callback(sent)


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
        if deliveries and self.processor.phase == "active":  # else the next owner sends them again
            ack = self.processor.append("DeliveriesConfirmed", "", PARTITION_KEY, deliveries=deliveries)
            ack.add_done_callback(self._written)

    def _written(self, ack) -> None:
        if not ack.cancelled() and ack.exception() is not None:  # harmless: sent again on takeover
            log.warning("partition %d: confirming deliveries failed: %s", self.processor.partition, ack.exception())


class Messenger:
    def __init__(self, router=None):
        self.router = router
        self._announced: set[str] = set()  # topics this worker already told partition 0 about
        self._confirmations: dict[int, _Confirmations] = {}  # event partition -> its acknowledged deliveries

    def on_fold_event(self, processor, event: fold.Event) -> None:
        data = event.data
        if event.kind == "await_event":
            self._register(processor, event.execution_id, data)
        elif event.kind == "deliver":
            self._deliver(processor, data)
        elif event.kind == "close_wait":
            _send(processor, "WaitClosed", event_routing_key(data["topic"], data["event_key"]),
                           execution_id=event.execution_id, seq=data["seq"], topic=data["topic"],
                           event_key=data["event_key"])
        elif event.kind == "topic_awaited" and self.router is not None:
            self.router.watch(data["topic"], data["since"])
        elif event.kind == "spawn":
            self._spawn(processor, data)
        elif event.kind == "cancel_child":
            self._cancel_child(processor, data)
        elif event.kind == "report":
            self._report(processor, event.execution_id, data)
        elif event.kind == "child_ack":
            _send(processor, "ChildAcknowledged", data["routing"], execution_id=event.execution_id)

    def resend(self, processor) -> None:
        """On activation: registrations and deliveries that may not have reached their partition."""
        earliest: dict[str, int] = {}  # topic -> the earliest creation among its open waits
        for key, registration in processor.store.scan(b"ea/"):
            self._register(processor, key[3:-11].decode(), registration, announce=False)
            topic = registration["topic"]
            earliest[topic] = min(earliest.get(topic, registration["created_at"]), registration["created_at"])
        for topic, since in earliest.items():  # once per topic, not once per waiting execution
            self._announce(processor, topic, since)
        for _, delivery in processor.store.scan(b"ed/"):
            self._deliver(processor, delivery)
        for _, child in processor.store.scan(b"ck/"):
            self._spawn(processor, child)
            if child.get("cancel"):
                self._cancel_child(processor, child)
        for key, report in processor.store.scan(b"cr/"):
            self._report(processor, key[3:].decode(), report)
        if processor.partition == 0 and self.router is not None:
            for key, known in processor.store.scan(b"et/"):
                self.router.watch(key[3:].decode(), known["since"])

    def _register(self, processor, execution_id: str, registration: dict, announce: bool = True) -> None:
        topic = registration["topic"]
        _send(processor, "WaitRegistered", event_routing_key(topic, registration["event_key"]),
                       execution_id=execution_id, seq=registration["seq"], topic=topic,
                       event_key=registration["event_key"], since=registration["since"],
                       reply_key=registration["reply_key"])
        if announce and topic not in self._announced:
            self._announce(processor, topic, registration["created_at"])

    def _announce(self, processor, topic: str, since: int) -> None:
        """Tell partition 0 (where the router runs) that workflows wait on ``topic``."""
        self._announced.add(topic)
        _send(processor, "TopicAwaited", TOPICS_KEY, to_partition=0, execution_id="", topic=topic, since=since)

    def _deliver(self, processor, delivery: dict) -> None:
        confirmations = self._confirmations.get(processor.partition)
        if confirmations is None or confirmations.processor is not processor:
            confirmations = self._confirmations[processor.partition] = _Confirmations(processor)
        execution_id, seq = delivery["execution_id"], delivery["seq"]
        _send(processor, "EventDelivered", delivery["reply_key"], on_sent=lambda: confirmations.add(execution_id, seq),
              execution_id=execution_id, seq=seq, topic=delivery["topic"], event_key=delivery["event_key"],
              partition=delivery["partition"], offset=delivery["offset"], timestamp=delivery["timestamp"],
              data=delivery["data"])

    # -- child workflows -------------------------------------------------------------

    def _spawn(self, processor, child: dict) -> None:
        _send(processor, "InvocationRequested", child["routing"], **child["invocation"])

    def _cancel_child(self, processor, child: dict) -> None:
        _send(processor, "CancelRequested", child["routing"], execution_id=child["invocation"]["execution_id"],
                       reason=child["cancel"])

    def _report(self, processor, child_id: str, report: dict) -> None:
        _send(processor, "ChildFinished", report["reply_key"], execution_id=report["parent_id"], seq=report["seq"],
                       child_execution_id=child_id, child_key=report["child_key"], status=report["status"],
                       result=report["result"], error=report["error"])
