"""Logs: one interface (``Log``), two implementations (``EmbeddedLog``, ``KafkaLog``)."""

from .base import Entry, Log, Reader, Subscription, partition_for
from .embedded import EmbeddedLog

__all__ = ["Entry", "EmbeddedLog", "Log", "Reader", "Subscription", "partition_for", "KafkaLog"]  # noqa: F822


def __getattr__(name):
    if name == "KafkaLog":  # imported lazily: confluent-kafka loads librdkafka
        from .kafka import KafkaLog

        return KafkaLog
    raise AttributeError(name)
