"""Typed workflow state: ``ctx.state``.

A workflow declares ``@workflow(state_schema=Model)`` with ``Model`` a ``WorkflowState``
(a pydantic model); without one it gets a plain ``WorkflowState``, which takes any
key. Both styles work on the same object: attributes (``ctx.state.count += 1``) and
run-scoped key-value (``await ctx.state.get(key, default)``, ``await ctx.state.set(...)``).

The state is checkpointed with every recorded step (and with the execution's end): the
``state`` field of ``StepCompleted``/``StepFailed`` is its JSON at that moment, or null
when it is the same as the last one recorded (so ``history`` shows each change once). On
recovery the workflow code runs again and repeats its own changes to the state, so
after a crash ``ctx.state`` is exactly as of the last recorded step. Serialised state is
limited to ``MAX_STATE_BYTES`` (1 MB).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from ..errors import StateTooLargeError
from ..wire.serde import to_json

MAX_STATE_BYTES = 1024 * 1024


class WorkflowState(BaseModel):
    """Base class of typed workflow state. Unknown keys are kept too (AGNT5-style get/set)."""

    model_config = ConfigDict(extra="allow")

    async def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    async def set(self, key: str, value: Any) -> None:
        setattr(self, key, value)


def dump_state(state: BaseModel | None, execution_id: str) -> str | None:
    """The state's JSON, or ``StateTooLargeError`` naming the execution and the size."""
    if state is None:
        return None
    text = to_json(state, f"state of execution {execution_id}")
    size = len(text.encode())
    if size > MAX_STATE_BYTES:
        raise StateTooLargeError(
            f"state of execution {execution_id} is {size} bytes of JSON; the limit is {MAX_STATE_BYTES}",
            execution_id=execution_id,
            size=size,
        )
    return text
