"""``@workflow`` and ``@function``: what user code registers with the engine.

A workflow is an ``async def`` whose first parameter is the ``WorkflowContext``. An
``@function`` is a step body that takes a ``FunctionContext`` first; it carries its own
retry policy for AGNT5-style ``ctx.step(fn, ...)`` calls.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from ..errors import InputValidationError, LogloomError, UnknownWorkflowError
from ..wire.events import register_event_schema
from .binding import Binder
from .queues import Queue
from .schedule_spec import ScheduleSpec, schedule_from
from .state import WorkflowState
from .webhooks import WebhookTrigger, check_endpoint, secrets_of


class WorkflowClient(Protocol):
    """What ``Workflow.invoke`` needs of a client (``engine.Client`` is one)."""

    async def invoke(self, workflow: Workflow, payload: Any = None, **options: Any) -> Any: ...


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` retries after the first attempt, with exponential backoff."""

    max_retries: int = 0
    base_delay: float = 1.0
    max_delay: float = 10.0
    multiplier: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), at most ``max_delay``."""
        return min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))


@dataclass(frozen=True)
class Backoff:
    """AGNT5-style backoff for ``@function(retries=..., backoff=Backoff(...))``."""

    base_delay: float = 1.0
    max_delay: float = 10.0
    multiplier: float = 2.0


@dataclass(frozen=True)
class EventTrigger:
    """``triggers=[event("user.signed_up")]``: every event on the topic starts one execution."""

    topic: str

    @property
    def label(self) -> str:
        """How listings show it: the topic."""
        return self.topic


Trigger = EventTrigger | WebhookTrigger


def event(topic: str, schema: dict | None = None) -> EventTrigger:
    """A trigger on the domain topic ``topic`` (AGNT5 style); ``schema`` if its events are Avro."""
    if "/" in topic:
        raise LogloomError(f"a trigger names a whole topic, not a key: {topic!r}")
    if schema is not None:
        register_event_schema(schema)
    return EventTrigger(topic)


class Workflow:
    def __init__(
        self,
        fn: Callable,
        name: str | None = None,
        triggers: list[Trigger] | None = None,
        state_schema: type | None = None,
        schedule: ScheduleSpec | None = None,
        queue: Queue | None = None,
    ):
        if not inspect.iscoroutinefunction(fn):
            raise LogloomError(f"@workflow needs an async def, got {fn!r}")
        if state_schema is not None and not (
            isinstance(state_schema, type) and issubclass(state_schema, WorkflowState)
        ):
            raise LogloomError(f"state_schema must subclass WorkflowState, got {state_schema!r}")
        self.fn = fn
        self.name = name or fn.__name__
        self.binder = Binder(fn, skip=1)
        self.triggers = list(triggers or [])
        for trigger in self.triggers:
            if not isinstance(trigger, EventTrigger | WebhookTrigger):
                raise LogloomError(f"triggers= takes event(...) and webhook(...), got {trigger!r}")
        self.schedule = schedule  # its own cron schedule (key "global"); more with schedules.create
        if queue is not None and not isinstance(queue, Queue):
            raise LogloomError(f"queue= takes a queue(name, concurrency_limit), got {queue!r}")
        self.queue = queue  # its runs' queue, unless an invocation names another
        self.state_schema = state_schema or WorkflowState
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        self.kind = "workflow"  # "agent" for an engine.agents.Agent's workflow
        self.preflight: Callable[[], None] | None = None  # a worker calls it before it runs anything

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name}>"

    def check_input(self, payload: Any, initial_state: Any, what: str) -> BaseModel | None:
        """Validate a payload and an initial state for this workflow; the state as its model.

        Raises ``InputValidationError`` (naming ``what``, e.g. ``child p:kid``) so that bad
        input starts nothing.
        """
        self.binder.bind(payload)
        if initial_state is None:
            return None
        try:
            return self.state_schema.model_validate(initial_state)
        except ValidationError as exc:
            raise InputValidationError(f"invalid initial state for {what}: {exc}") from exc

    async def invoke(
        self,
        client: WorkflowClient,
        payload: Any = None,
        *,
        execution_id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        run_timeout_seconds: float | None = None,
        initial_state: Any = None,
        queue: Queue | None = None,
        concurrency_key: str | None = None,
        priority: int = 0,
    ) -> Any:
        """Start an execution; returns a handle at once. Invalid payloads start nothing.

        On a queue (``queue=``, else the workflow's own), it starts once its
        (queue, ``concurrency_key``) has a free slot, higher ``priority`` first."""
        return await client.invoke(
            self,
            payload,
            execution_id=execution_id,
            user_id=user_id,
            session_id=session_id,
            run_timeout_seconds=run_timeout_seconds,
            initial_state=initial_state,
            queue=queue,
            concurrency_key=concurrency_key,
            priority=priority,
        )

    async def run(self, client: WorkflowClient, payload: Any = None, *, timeout: float | None = None, **options) -> Any:
        """Start an execution and wait for its result."""
        handle = await self.invoke(client, payload, **options)
        return await handle.result(timeout=timeout)

    async def __call__(self, client: WorkflowClient, payload: Any = None, **options) -> Any:
        return await self.run(client, payload, **options)


class Function:
    """A step body registered with ``@function``: ``fn(ctx: FunctionContext, *args)``."""

    def __init__(self, fn: Callable, name: str | None, retry: RetryPolicy):
        self.fn = fn
        self.name = name or fn.__name__
        self.retry = retry
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<function {self.name}>"


class Registry:
    def __init__(self):
        self.workflows: dict[str, Workflow] = {}

    def add(self, wf: Workflow) -> Workflow:
        existing = self.workflows.get(wf.name)
        if (
            existing is not None
            and existing.fn is not wf.fn
            and (existing.fn.__module__, existing.fn.__qualname__) != (wf.fn.__module__, wf.fn.__qualname__)
        ):
            raise LogloomError(f"two workflows are named {wf.name!r}")
        self.workflows[wf.name] = wf
        return wf

    def workflow(
        self,
        fn: Callable | None = None,
        *,
        name: str | None = None,
        trigger_on_event: str | None = None,
        triggers: list[Trigger] | None = None,
        state_schema: type | None = None,
        schedule: Any = None,
        cron: str | None = None,
        queue: Queue | None = None,
        webhook: bool = False,
        webhook_secret: str | list[str] | None = None,
    ):
        """``@workflow`` into this registry (a worker given this registry runs only these)."""
        all_triggers = list(triggers or []) + ([event(trigger_on_event)] if trigger_on_event else [])
        spec = schedule_from(schedule, cron)
        if webhook_secret is not None and not webhook:
            raise LogloomError("webhook_secret= goes with webhook=True (or give webhook(..., secret=) a trigger)")
        secrets = secrets_of(webhook_secret)

        def wrap(f: Callable) -> Workflow:
            own = []
            if webhook:  # a Standard Webhooks endpoint named after the workflow
                check_endpoint("standard", name or f.__name__)
                own = [WebhookTrigger("standard", name or f.__name__, None, secrets)]
            return self.add(Workflow(f, name, all_triggers + own, state_schema, spec, queue))

        return wrap(fn) if fn is not None else wrap

    def triggered_by(self) -> dict[str, list[Workflow]]:
        """Domain topic -> the workflows each of its events starts."""
        out: dict[str, list[Workflow]] = {}
        for wf in self.workflows.values():
            for trigger in wf.triggers:
                if isinstance(trigger, EventTrigger):
                    out.setdefault(trigger.topic, []).append(wf)
        return out

    def webhook_triggers(self) -> list[tuple[Workflow, WebhookTrigger]]:
        """Every (workflow, webhook trigger), by workflow name."""
        return [
            (wf, trigger)
            for _, wf in sorted(self.workflows.items())
            for trigger in wf.triggers
            if isinstance(trigger, WebhookTrigger)
        ]

    def get(self, name: str) -> Workflow:
        try:
            return self.workflows[name]
        except KeyError:
            raise UnknownWorkflowError(
                f"unknown workflow {name!r}; this worker knows {sorted(self.workflows)}"
            ) from None


registry = Registry()  # workflows register here on import


def workflow(
    fn: Callable | None = None,
    *,
    name: str | None = None,
    trigger_on_event: str | None = None,
    triggers: list[Trigger] | None = None,
    state_schema: type | None = None,
    schedule: Any = None,
    cron: str | None = None,
    queue: Queue | None = None,
    webhook: bool = False,
    webhook_secret: str | list[str] | None = None,
):
    """Register an ``async def wf(ctx: WorkflowContext, ...)`` as a durable workflow.

    ``trigger_on_event="topic"`` (Polos style) or ``triggers=[event("topic")]`` (AGNT5 style)
    start one execution per event published on that topic.
    ``schedule="0 9 * * *"`` (or a dict with ``cron`` and ``timezone``; Polos style) or
    ``cron="*/5 * * * *"`` (AGNT5 style) start one run per tick (``docs/flow-control.md``).
    ``queue=queue("openai", concurrency_limit=20)`` bounds how many of its runs go at once.
    ``triggers=[webhook("stripe", event="payment_intent.succeeded")]`` or ``webhook=True``
    (a Standard Webhooks endpoint named after the workflow; ``webhook_secret=`` its secret,
    several during a key rotation, or ``"env:NAME"``) start one run per verified webhook
    delivery (``docs/webhooks.md``).
    """
    return registry.workflow(
        fn,
        name=name,
        trigger_on_event=trigger_on_event,
        triggers=triggers,
        state_schema=state_schema,
        schedule=schedule,
        cron=cron,
        queue=queue,
        webhook=webhook,
        webhook_secret=webhook_secret,
    )


def function(
    fn: Callable | None = None, *, name: str | None = None, retries: int = 0, backoff: Backoff | float | None = None
):
    """Register a step body ``fn(ctx: FunctionContext, ...)`` with its retry policy."""
    if isinstance(backoff, (int, float)):
        backoff = Backoff(base_delay=float(backoff))
    backoff = backoff or Backoff()
    retry = RetryPolicy(retries, backoff.base_delay, backoff.max_delay, backoff.multiplier)

    def wrap(f: Callable) -> Function:
        return Function(f, name, retry)

    return wrap(fn) if fn is not None else wrap
