"""What a server keeps about webhook deliveries: the ids it took lately, and the counter.

The recent ids only spare the topic a copy when a provider retries a delivery the server
already took (providers retry on any non-2xx, and on timeouts). They are bounded and
lost on a restart; the durable guarantee is the run's execution id, derived from the
delivery id (``names.webhook_execution_id``).
"""

from __future__ import annotations

from collections import OrderedDict

from prometheus_client import CollectorRegistry, Counter

MAX_RECENT_IDS = 10_000


class RecentDeliveries:
    """The last ``max_ids`` deliveries taken, per endpoint, oldest dropped first."""

    def __init__(self, max_ids: int = MAX_RECENT_IDS):
        self.max_ids = max_ids
        self._ids: OrderedDict[tuple[str, str, str], None] = OrderedDict()

    def claim(self, source: str, name: str, delivery_id: str) -> bool:
        """True if the delivery is new (it is then remembered), False if it was taken lately."""
        key = (source, name, delivery_id)
        if key in self._ids:
            self._ids.move_to_end(key)
            return False
        self._ids[key] = None
        while len(self._ids) > self.max_ids:
            self._ids.popitem(last=False)
        return True

    def release(self, source: str, name: str, delivery_id: str) -> None:
        """Forget a claimed delivery that could not be written: the provider's retry is new."""
        self._ids.pop((source, name, delivery_id), None)


class DeliveryCounter:
    """``logloom_webhook_deliveries_total{source,name,outcome}`` in ``registry``. A request
    to an endpoint that does not exist is counted under name ``-`` (and source ``-`` if the
    source is unknown too): what anyone may post must not grow the labels."""

    def __init__(self, registry: CollectorRegistry):
        self.counter = Counter(
            "logloom_webhook_deliveries",
            "Webhook deliveries received, by endpoint and outcome",
            ["source", "name", "outcome"],
            registry=registry,
        )

    def count(self, source: str, name: str, outcome: str) -> None:
        self.counter.labels(source, name, outcome).inc()
