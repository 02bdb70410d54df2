"""Smoke test: the test broker (see tests/kafka_fixture.py) supports what the engine
needs -- explicit topic creation, idempotent produce, consume, and transactions."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as conftest.py does
from kafka_fixture import provide_kafka  # noqa: E402

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def bootstrap(request):
    """The suite's session broker (conftest `kafka_bootstrap`) if there is one, else our own."""
    try:
        shared = request.getfixturevalue("kafka_bootstrap")
    except pytest.FixtureLookupError:
        shared = None
    if shared:
        yield shared
        return
    servers, cleanup = provide_kafka()
    try:
        yield servers
    finally:
        cleanup()


def _create_topic(bootstrap: str, partitions: int) -> str:
    topic = f"smoke-{uuid.uuid4().hex}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    futures[topic].result(timeout=30)
    return topic


def _consume(bootstrap: str, topic: str, expected: int, timeout: float = 30, **conf) -> list:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"smoke-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **conf,
        }
    )
    messages = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            messages.append(msg)
    finally:
        consumer.close()
    return messages


def test_topic_idempotent_produce_and_consume(bootstrap):
    topic = _create_topic(bootstrap, partitions=3)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    errors = []
    sent = {f"key-{i}": f"value-{i}" for i in range(10)}
    for key, value in sent.items():
        producer.produce(topic, key=key, value=value, on_delivery=lambda err, _msg: err and errors.append(err))
    assert producer.flush(30) == 0, "messages still undelivered after 30 s"
    assert errors == []

    messages = _consume(bootstrap, topic, expected=10)
    received = {m.key().decode(): m.value().decode() for m in messages}
    assert len(messages) == 10
    assert received == sent
    assert len({m.partition() for m in messages}) > 1, "keys should spread over the 3 partitions"


def test_transactions(bootstrap):
    topic = _create_topic(bootstrap, partitions=1)
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"smoke-{uuid.uuid4().hex}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    producer.produce(topic, key="txn-key", value="txn-value")
    producer.commit_transaction(30)

    messages = _consume(bootstrap, topic, expected=1, **{"isolation.level": "read_committed"})
    assert [(m.key(), m.value()) for m in messages] == [(b"txn-key", b"txn-value")]


async def test_a_record_the_broker_refuses_fails_only_its_own_append(bootstrap):
    """Appends of one loop turn go to librdkafka together; one too large for the topic
    fails with an error, and the ones beside it in that batch are written."""
    import asyncio

    from engine.errors import LogloomError
    from engine.log.kafka import KafkaLog
    from engine.names import MAX_RECORD_BYTES

    log = KafkaLog(bootstrap, f"smoke{uuid.uuid4().hex[:8]}", partitions=2)
    await log.start()
    try:
        before = log.append(0, b"k", b"before")
        too_big = log.append(0, b"k", b"x" * (MAX_RECORD_BYTES + 1))
        after = log.append(0, b"k", b"after")
        other = log.append(1, b"k", b"other")
        outcomes = await asyncio.gather(before, too_big, after, other, return_exceptions=True)
        assert isinstance(outcomes[1], LogloomError) and "too large" in str(outcomes[1]).lower(), outcomes[1]
        assert outcomes[0] == 0 and outcomes[2] == 1 and outcomes[3] == 0, outcomes
        assert await log.end_offset(0) == 2
    finally:
        await log.close()
        AdminClient({"bootstrap.servers": bootstrap}).delete_topics([log.topic])
