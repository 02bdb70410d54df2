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
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"smoke-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        **conf,
    })
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
