"""Fixtures of the chaos tests."""

import pytest


@pytest.fixture
async def kafka_client(kafka_bootstrap, namespace):
    from engine import Client
    from engine.log.kafka import KafkaLog

    log = KafkaLog(kafka_bootstrap, namespace, 4)
    await log.start()
    client = Client(log)
    yield client
    await client.close()
    await log.close()
