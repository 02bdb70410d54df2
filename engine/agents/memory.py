"""Session memory: runs that share a ``session_id`` continue one conversation.

The conversation is kept in session state (``ctx.session.state``), so its reads and
writes are recorded and runs of one session take turns. Past a token budget the older
turns are summarised by a model call that is itself a recorded step
(``memory.compact``), so a long-lived session stays bounded.

1. ``load``: the conversation so far and the session's usage totals; if the
   conversation is over ``memory_budget_tokens`` (estimated at 4 characters a token),
   everything before the last few user turns becomes one summary message.
2. ``save``: the conversation after this run, and the totals plus this run's usage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from .providers import ModelRequest
from .results import Usage

if TYPE_CHECKING:
    from ..workflow import WorkflowContext
    from .agent import Agent

KEEP_USER_TURNS = 1  # earlier exchanges kept word for word (with the new one) when older turns are summarised
CHARS_PER_TOKEN = 4
SUMMARY_SYSTEM = "You summarise conversations between a user and an assistant, keeping every fact and decision."
SUMMARY_PROMPT = "Summarise this conversation so far in a few sentences:\n\n"
SUMMARY_HEADER = "Summary of the conversation so far:\n"


def estimated_tokens(messages: list[dict]) -> int:
    return len(orjson.dumps(messages)) // CHARS_PER_TOKEN


class SessionMemory:
    def __init__(self, agent: Agent, ctx: WorkflowContext):
        self.agent = agent
        self.ctx = ctx
        self.messages_key = f"agent:{agent.name}:messages"
        self.usage_key = f"agent:{agent.name}:usage"
        self.totals = Usage()
        self.compaction = Usage()  # what summarising cost this run

    async def load(self) -> list[dict]:
        state = self.ctx.session.state
        messages = await state.get(self.messages_key, [])
        self.totals = Usage.model_validate(await state.get(self.usage_key, {}))
        if estimated_tokens(messages) > self.agent.memory_budget_tokens:
            messages = await self._compact(messages)
        return messages

    async def save(self, messages: list[dict], usage: Usage) -> None:
        state = self.ctx.session.state
        await state.set(self.messages_key, messages)
        await state.set(self.usage_key, self.totals.plus(usage).plus(self.compaction).model_dump())

    async def _compact(self, messages: list[dict]) -> list[dict]:
        cut = _cut(messages)
        if cut <= 0:
            return messages
        older, kept = messages[:cut], messages[cut:]
        transcript = "\n".join(f"{m['role']}: {m.get('content') or ''}" for m in older)
        request = ModelRequest(
            model=self.agent.model,
            system=SUMMARY_SYSTEM,
            messages=[{"role": "user", "content": SUMMARY_PROMPT + transcript}],
            max_output_tokens=self.agent.max_output_tokens,
        )
        provider = self.agent.provider

        async def summarise() -> dict:
            response = await provider.complete(request)
            return {
                "summary": response.text or "",
                "summarised_messages": len(older),
                "usage": {"input_tokens": response.input_tokens, "output_tokens": response.output_tokens},
            }

        agent = self.agent
        recorded = await self.ctx.step.run(
            "memory.compact", summarise, max_retries=agent.model_retries, base_delay=agent.retry_base_delay_s
        )
        self.compaction.add(recorded["usage"]["input_tokens"], recorded["usage"]["output_tokens"])
        return [{"role": "user", "content": SUMMARY_HEADER + recorded["summary"]}, *kept]


def _cut(messages: list[dict]) -> int:
    """Where the kept tail starts: at the ``KEEP_USER_TURNS``-th last user text message."""
    seen = 0
    for index in range(len(messages) - 1, -1, -1):
        if messages[index]["role"] == "user":
            seen += 1
            if seen == KEEP_USER_TURNS:
                return index
    return 0
