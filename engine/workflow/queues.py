"""``queue(name, concurrency_limit)``: a limit on how many runs use something at once,
across all workers (``docs/flow-control.md``, the rules in ``fold/queues.py``).

    llm_queue = queue("openai", concurrency_limit=20)

    @workflow(queue=llm_queue)
    async def summarize(ctx: WorkflowContext, doc: Doc): ...

    await summarize.invoke(client, doc, concurrency_key=doc.tenant_id)  # the limit applies per key
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputValidationError


@dataclass(frozen=True)
class Queue:
    """A named limit that several workflows may share. Declared in code; ``logloom queue
    set-limit`` changes the limit at run time, for every key."""

    name: str
    concurrency_limit: int = 1

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or "/" in self.name or "\0" in self.name:
            raise InputValidationError(f"a queue's name must be a non-empty string without '/', got {self.name!r}")
        limit = self.concurrency_limit
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InputValidationError(f"queue {self.name!r}: concurrency_limit must be an int >= 1, got {limit!r}")

    def request(self, concurrency_key: str | None, priority: int) -> dict:
        """What an invocation on this queue carries (``InvocationRequested.queue``)."""
        if concurrency_key is not None and not isinstance(concurrency_key, str):
            raise InputValidationError(f"concurrency_key must be a string, got {concurrency_key!r}")
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise InputValidationError(f"priority must be an int, got {priority!r}")
        return {"name": self.name, "key": concurrency_key, "limit": self.concurrency_limit, "priority": priority}


def queue(name: str, concurrency_limit: int = 1) -> Queue:
    """A queue with at most ``concurrency_limit`` runs at once per concurrency key."""
    return Queue(name, concurrency_limit)
