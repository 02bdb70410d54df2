"""``queue(name, concurrency_limit)``: a limit on how many runs use something at once,
across all workers (``docs/flow-control.md``, the rules in ``fold/queues.py``).

    llm_queue = queue("openai", concurrency_limit=20, rate_limit=RateLimit(limit=500, period_s=60))

    @workflow(queue=llm_queue)
    async def summarize(ctx: WorkflowContext, doc: Doc): ...

    await summarize.invoke(client, doc, concurrency_key=doc.tenant_id)  # the limit applies per key
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputValidationError


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` runs start per ``period_s``, per concurrency key: a token bucket
    of ``limit`` tokens, refilled at ``limit / period_s`` a second, kept on the log."""

    limit: int
    period_s: float

    def __post_init__(self):
        if not isinstance(self.limit, int) or isinstance(self.limit, bool) or self.limit < 1:
            raise InputValidationError(f"RateLimit: limit must be an int >= 1, got {self.limit!r}")
        if not isinstance(self.period_s, int | float) or isinstance(self.period_s, bool) or self.period_s <= 0:
            raise InputValidationError(f"RateLimit: period_s must be > 0, got {self.period_s!r}")


@dataclass(frozen=True)
class Queue:
    """A named limit that several workflows may share. Declared in code; ``logloom queue
    set-limit`` changes the limit at run time, for every key."""

    name: str
    concurrency_limit: int = 1
    rate_limit: RateLimit | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or "/" in self.name or "\0" in self.name:
            raise InputValidationError(f"a queue's name must be a non-empty string without '/', got {self.name!r}")
        limit = self.concurrency_limit
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InputValidationError(f"queue {self.name!r}: concurrency_limit must be an int >= 1, got {limit!r}")
        if self.rate_limit is not None and not isinstance(self.rate_limit, RateLimit):
            raise InputValidationError(f"queue {self.name!r}: rate_limit takes a RateLimit, got {self.rate_limit!r}")

    def request(self, concurrency_key: str | None, priority: int) -> dict:
        """What an invocation on this queue carries (``InvocationRequested.queue``)."""
        if concurrency_key is not None and not isinstance(concurrency_key, str):
            raise InputValidationError(f"concurrency_key must be a string, got {concurrency_key!r}")
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise InputValidationError(f"priority must be an int, got {priority!r}")
        rate = self.rate_limit
        return {
            "name": self.name,
            "key": concurrency_key,
            "limit": self.concurrency_limit,
            "priority": priority,
            "rate_limit": None if rate is None else rate.limit,
            "rate_period_ms": None if rate is None else int(rate.period_s * 1000),
        }


def queue(name: str, concurrency_limit: int = 1, rate_limit: RateLimit | None = None) -> Queue:
    """A queue with at most ``concurrency_limit`` runs at once per concurrency key, and with
    ``rate_limit`` at most so many starts per period."""
    return Queue(name, concurrency_limit, rate_limit)
