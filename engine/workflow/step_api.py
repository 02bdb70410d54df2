"""``ctx.step``: Polos-style ``ctx.step.run(name, fn, ...)`` and AGNT5-style ``ctx.step(fn, ...)``.

Every method is a durable step or wait of the step protocol (``steps.py``); child
workflows are delegated to ``ChildSteps`` (``children.py``).
"""

from __future__ import annotations

import random as random_module
import uuid as uuid_module
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..clock import ms_after, to_ms
from ..wire import records
from ..wire.events import EventPayload, encode_event, split_topic
from .children import BatchStepResult, BatchWorkflowInput, ChildHandle, ChildInvocation, ChildSteps
from .queues import Queue
from .registry import Function, RetryPolicy, Workflow
from .steps import Resumed, StepRunner, in_seconds, step_name


class StepApi:
    """``ctx.step``."""

    __slots__ = ("_steps", "_children")

    def __init__(self, steps: StepRunner):
        self._steps = steps
        self._children: ChildSteps | None = None  # made on first use: most runs start no child

    @property
    def _child_steps(self) -> ChildSteps:
        if self._children is None:
            self._children = ChildSteps(self._steps)
        return self._children

    async def run(
        self,
        name: str,
        fn: Callable,
        *args,
        max_retries: int = 0,
        base_delay: float = 1.0,
        max_delay: float = 10.0,
        **kwargs,
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` as the durable step ``name``; returns its recorded result."""
        self._steps.keys.explicit(name)
        policy = RetryPolicy(max_retries, base_delay, max_delay)
        if isinstance(fn, Function):
            policy = fn.retry if max_retries == 0 else policy
            return await self._steps.body(name, fn.fn, args, kwargs, policy, pass_context=True)
        return await self._steps.body(name, fn, args, kwargs, policy, pass_context=False)

    async def __call__(self, fn: Callable, *args, key: str | None = None, **kwargs) -> Any:
        """Run ``fn`` as a durable step keyed by its name and occurrence, or by ``key=``."""
        return await self._steps.call(self._steps.keys.derived(key, step_name(fn)), fn, args, kwargs)

    # -- deterministic values: recorded once, the same on every replay ----------------------

    async def uuid(self, name: str) -> str:
        """A random UUID (string), recorded as the step ``name``."""
        return await self.run(name, lambda: str(uuid_module.uuid4()))

    async def now(self, name: str) -> datetime:
        """The current time (aware UTC), recorded as the step ``name``."""
        return datetime.fromisoformat(await self.run(name, lambda: datetime.now(UTC).isoformat()))

    async def random(self, name: str) -> float:
        """A random float in [0, 1), recorded as the step ``name``."""
        return await self.run(name, random_module.random)

    async def publish_event(self, name: str, topic: str, data: Any, key: str | None = None) -> dict:
        """Publish a domain event as the step ``name``: recorded once, published at least once."""
        port = self._steps.run

        async def publish() -> dict:
            topic_name, topic_key = split_topic(topic)
            event_key = topic_key if topic_key is not None else key
            partition, offset = await port.publish(
                topic_name, None if event_key is None else event_key.encode(), encode_event(data)
            )
            return {"topic": topic_name, "partition": partition, "offset": offset}

        return await self.run(name, publish)

    # -- waits: durable sleeps, suspensions and events --------------------------------------

    async def wait_for(
        self, name: str, *, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> None:
        """Durable sleep for the given duration, as the wait ``name``."""
        delay_s = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds()
        await self._steps.sleep(self._steps.keys.explicit(name), ms_after(delay_s))

    async def wait_until(self, name: str, when: datetime) -> None:
        """Durable sleep until ``when`` (an aware datetime; naive means UTC)."""
        await self._steps.sleep(self._steps.keys.explicit(name), to_ms(when))

    async def suspend(self, name: str, data: Any = None, timeout: float | timedelta | None = None) -> Resumed:
        """Wait until someone resumes this execution at ``name``; returns their payload.

        With ``timeout`` (seconds or timedelta), raises ``WaitTimeoutError`` when it passes.
        """
        return await self._steps.suspend(self._steps.keys.explicit(name), data, timeout)

    async def wait_for_event(self, name: str, topic: str, timeout: float | timedelta | None = None):
        """Wait for the next event on a domain topic (``name`` or ``name/KEY``); returns an ``EventPayload``.

        Delivered: the first event on that topic/key after this execution was created (or
        after the last event it already received there), even one published before the
        workflow reached this wait. With ``timeout``, raises ``WaitTimeoutError``.
        """
        key = self._steps.keys.explicit(name)
        topic_name, event_key = split_topic(topic)
        timeout_s = in_seconds(timeout)
        timeout_at_ms = None if timeout_s is None else ms_after(timeout_s)
        event = await self._steps.wait(
            key, records.event_awaited, {"topic": topic_name, "event_key": event_key, "timeout_at": timeout_at_ms}
        )
        return EventPayload(**event)

    # -- child workflows ----------------------------------------------------------------------

    async def invoke(
        self,
        name: str,
        workflow: Workflow | str,
        payload: Any = None,
        initial_state: Any = None,
        run_timeout_seconds: float | None = None,
        *,
        queue: Queue | None = None,
        concurrency_key: str | None = None,
        priority: int = 0,
    ) -> ChildHandle:
        """Start ``workflow`` as a child, as the step ``name``; returns its handle once recorded.
        On a queue (``queue=``, else the workflow's own) it starts once a slot is free."""
        return await self._child_steps.invoke(
            name, workflow, payload, initial_state, run_timeout_seconds,
            queue=queue, concurrency_key=concurrency_key, priority=priority,
        )  # fmt: skip

    async def invoke_and_wait(
        self,
        name: str,
        workflow: Workflow | str,
        payload: Any = None,
        initial_state: Any = None,
        run_timeout_seconds: float | None = None,
        *,
        queue: Queue | None = None,
        concurrency_key: str | None = None,
        priority: int = 0,
    ) -> Any:
        """Run ``workflow`` as a child and return its result; a failed child raises ``StepExecutionError``."""
        return await self._child_steps.invoke_and_wait(
            name, workflow, payload, initial_state, run_timeout_seconds,
            queue=queue, concurrency_key=concurrency_key, priority=priority,
        )  # fmt: skip

    async def batch_invoke(self, name: str, workflows: list[BatchWorkflowInput]) -> list[ChildHandle]:
        """Start many children (``name[0]``, ``name[1]``...) at once; their handles in input order."""
        return await self._child_steps.batch_invoke(name, workflows)

    async def batch_invoke_and_wait(self, name: str, workflows: list[BatchWorkflowInput]) -> list[BatchStepResult]:
        """Start many children and wait for all; one ``BatchStepResult`` per child, in input order."""
        return await self._child_steps.batch_invoke_and_wait(name, workflows)

    # -- agents (``agent.with_input(...)``): children whose result is an AgentResult ----------

    async def agent_invoke(self, name: str, invocation: ChildInvocation) -> ChildHandle:
        """Start an agent run as a child, as the step ``name``; returns its handle."""
        return await self.invoke(name, invocation.workflow, invocation.payload)

    async def agent_invoke_and_wait(self, name: str, invocation: ChildInvocation) -> Any:
        """Run an agent as a child and return its ``AgentResult``."""
        return await self._child_steps.invocation_and_wait(name, invocation)

    async def batch_agent_invoke(self, name: str, invocations: list[ChildInvocation]) -> list[ChildHandle]:
        """Start many agent runs as children (``name[0]``, ``name[1]``...); their handles in order."""
        return await self.batch_invoke(name, [BatchWorkflowInput(i.workflow, i.payload) for i in invocations])

    async def batch_agent_invoke_and_wait(self, name: str, invocations: list[ChildInvocation]) -> list[BatchStepResult]:
        """Run many agents as children and wait for all; ``result`` of each is its ``AgentResult``."""
        return await self._child_steps.batch_invocations_and_wait(name, invocations)
