"""Configuration from the environment reaches the Kafka log, and the durability settings stay fixed."""

import pytest

from engine.config import EngineConfig, open_log
from engine.errors import LogloomError
from engine.log.kafka import KafkaLog


def test_librdkafka_options_from_the_environment_reach_the_kafka_log(monkeypatch):
    monkeypatch.setenv("LOGLOOM_KAFKA_PRODUCER", '{"linger.ms": 1, "compression.type": "none"}')
    monkeypatch.setenv("LOGLOOM_KAFKA_CONSUMER", '{"fetch.wait.max.ms": 20}')
    log = open_log(EngineConfig.from_env(kafka="127.0.0.1:9"))
    assert isinstance(log, KafkaLog)
    assert log._producer_config["linger.ms"] == 1 and log._producer_config["compression.type"] == "none"
    assert log._producer_config["acks"] == "all"  # the defaults the options do not name stay
    assert log.consumer_config()["fetch.wait.max.ms"] == 20


@pytest.mark.parametrize(
    "text, message",
    [
        ("linger.ms=1", "LOGLOOM_KAFKA_PRODUCER is not JSON"),
        ('["linger.ms", 1]', "LOGLOOM_KAFKA_PRODUCER must be a JSON object"),
    ],
)
def test_options_that_are_not_a_json_object_are_refused_by_name(monkeypatch, text, message):
    monkeypatch.setenv("LOGLOOM_KAFKA_PRODUCER", text)
    with pytest.raises(LogloomError, match=message):
        EngineConfig.from_env(kafka="127.0.0.1:9")


@pytest.mark.parametrize(
    "option, value", [("acks", 1), ("acks", "0"), ("request.required.acks", 1), ("enable.idempotence", False)]
)
def test_producer_options_cannot_weaken_durability(option, value):
    with pytest.raises(LogloomError, match=f"producer option {option}=.* is not allowed"):
        KafkaLog("127.0.0.1:9", "ns", producer_config={option: value})


def test_producer_options_may_restate_the_durable_settings():
    log = KafkaLog("127.0.0.1:9", "ns", producer_config={"acks": -1, "enable.idempotence": True})
    assert log._producer_config["acks"] == -1
