"""``Agent``: an LLM with tools, run as a durable workflow.

One definition, two call styles:

* Polos: ``Agent(id=..., provider="openai", model="gpt-4o", system_prompt=..., tools=[...],
  temperature=..., max_output_tokens=..., output_schema=Model, stop_conditions=[...],
  provider_base_url=...)``
* AGNT5: ``Agent(name=..., model="anthropic/claude-sonnet-4-5", instructions=...,
  tools=[...], handoffs=[other_agent], max_iterations=...)``

Defining an agent registers a workflow of its name, so it is invoked, listed, resumed
and replayed like any workflow (``logloom invoke triage --input '"hi"'``). An unknown
provider or a tool without a schema is an error here; a missing API key is an error when
a worker starts (``Workflow.preflight``), before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from ..clock import now_ms, to_ms
from ..errors import LogloomError
from ..workflow import Workflow, WorkflowContext
from ..workflow import registry as default_registry
from .loop import AgentInput, AgentLoop
from .providers import ModelRequest, provider_for
from .providers.base import ProviderConfigError
from .results import AgentResult, AgentState
from .stops import DEFAULT_MAX_STEPS, max_steps
from .streaming import AgentStream
from .tools import Tool, ToolDefinitionError, as_tool

OUTPUT_INSTRUCTION = (
    "When you give your final answer, reply with only a JSON object (no prose, no code fence) "
    "that matches this JSON schema:\n{schema}"
)


class Agent:
    def __init__(
        self,
        id: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        tools: list | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        output_schema: type[BaseModel] | None = None,
        stop_conditions: list[Callable] | None = None,
        provider_base_url: str | None = None,
        *,
        name: str | None = None,
        instructions: str | None = None,
        handoffs: list[Agent] | None = None,
        max_iterations: int | None = None,
        description: str | None = None,
        api_key: str | None = None,
        model_retries: int = 3,
        retry_base_delay_s: float = 1.0,
        approval_timeout_s: float | None = None,
        memory_budget_tokens: int = 8000,
        registry=None,
    ):
        agent_name = id or name
        if not agent_name:
            raise LogloomError("an Agent needs an id= (or name=)")
        if not model:
            raise LogloomError(f"agent {agent_name!r} needs a model= ('gpt-4o', or 'provider/model')")
        provider_name, model_name = _split_model(provider, model)
        self.name = agent_name
        self.description = description or (instructions or system_prompt or "")[:200]
        self.model = model_name
        self.provider = provider_for(provider_name, provider_base_url, api_key)  # unknown: an error now
        self.system_prompt = system_prompt or instructions
        self.temperature = temperature
        self.max_output_tokens = max_output_tokens
        self.output_schema = output_schema
        if output_schema is not None and not (isinstance(output_schema, type) and issubclass(output_schema, BaseModel)):
            raise LogloomError(f"agent {agent_name!r}: output_schema must be a pydantic model, got {output_schema!r}")
        self.model_retries = model_retries
        self.retry_base_delay_s = retry_base_delay_s
        self.approval_timeout_s = approval_timeout_s
        self.memory_budget_tokens = memory_budget_tokens
        self.tools: list[Tool] = [as_tool(t) for t in tools or []]
        self.handoffs: list[Agent] = list(handoffs or [])
        for target in self.handoffs:
            if not isinstance(target, Agent):
                raise ToolDefinitionError(f"agent {agent_name!r}: handoffs take agents, got {target!r}")
        self.tools_by_name: dict[str, Tool] = {}
        for made in self.tools + [handoff_tool(target) for target in self.handoffs]:
            if made.name in self.tools_by_name:
                raise ToolDefinitionError(f"agent {agent_name!r} has two tools named {made.name!r}")
            self.tools_by_name[made.name] = made
        cap = max_steps(max_iterations or DEFAULT_MAX_STEPS)
        self.stop_conditions: list[Callable] = [*(stop_conditions or []), cap]
        self.workflow = (registry or default_registry).add(
            Workflow(_workflow_body(self), name=agent_name, state_schema=AgentState)
        )
        self.workflow.preflight = self.check
        self.workflow.kind = "agent"

    def __repr__(self) -> str:
        return f"<agent {self.name} {self.provider.name}/{self.model}>"

    # -- definition ---------------------------------------------------------------------

    def check(self) -> None:
        """Raise ``ProviderConfigError`` if a model call could not be made (no API key)."""
        try:
            self.provider.check()
        except ProviderConfigError as exc:
            raise ProviderConfigError(f"agent {self.name!r}: {exc.message}") from None
        for target in self.handoffs:
            target.check()

    def request(self, messages: list[dict]) -> ModelRequest:
        """The model request for a conversation: the system prompt, the tools, the settings."""
        system = self.system_prompt
        if self.output_schema is not None:
            schema = self.output_schema.model_json_schema()
            system = "\n\n".join(p for p in (system, OUTPUT_INSTRUCTION.format(schema=schema)) if p)
        return ModelRequest(
            model=self.model,
            messages=list(messages),
            system=system,
            tools=[t.spec() for t in self.tools_by_name.values()],
            temperature=self.temperature,
            max_output_tokens=self.max_output_tokens,
        )

    # -- running it -------------------------------------------------------------------------

    def with_input(self, input: Any = None, *, conversation: list[dict] | None = None) -> AgentInvocation:
        """An invocation of this agent, for ``ctx.step.agent_invoke*`` and ``client.batch_agent_invoke``."""
        payload = AgentInput.model_validate({"input": input, "conversation": conversation or []})
        return AgentInvocation(self, payload.model_dump(mode="json", exclude_defaults=True))

    async def invoke(self, client, input: Any = None, **options):
        """Start a run at once; its handle's ``result()`` is an ``AgentResult``."""
        invocation = self.with_input(input)
        handle = await client.invoke(self.workflow, invocation.payload, **options)
        handle.convert = invocation.result_from
        return handle

    async def run(
        self,
        client,
        input: Any = None,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        execution_id: str | None = None,
        timeout: float | None = None,
    ) -> AgentResult:
        """Run the agent and wait for its ``AgentResult``."""
        handle = await self.invoke(client, input, session_id=session_id, user_id=user_id, execution_id=execution_id)
        return await handle.result(timeout=timeout)

    async def stream(
        self,
        client,
        input: Any = None,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        execution_id: str | None = None,
    ) -> AgentStream:
        """Start a run whose tokens and tool calls stream as they come: iterate
        ``text_chunks`` or ``events``, then ``await result()``."""
        payload = AgentInput.model_validate({"input": input, "stream": True}).model_dump(mode="json")
        started_ms = now_ms()
        handle = await client.invoke(
            self.workflow, payload, session_id=session_id, user_id=user_id, execution_id=execution_id
        )
        handle.convert = self.result_from
        return AgentStream(client, handle, since_ms=started_ms)

    async def attach(self, client, execution_id: str, *, from_offset: int | None = None) -> AgentStream:
        """Read a streaming run again, from ``from_offset`` (the last offset seen + 1) or its start."""
        handle = await client.handle(execution_id)
        handle.convert = self.result_from
        execution = await handle.status()
        since_ms = None if execution.created_at is None else to_ms(execution.created_at)
        return AgentStream(client, handle, from_offset=from_offset, since_ms=since_ms)

    def result_from(self, value: Any, execution_id: str | None = None) -> AgentResult:
        """The run's result; ``result`` as the output schema of the agent that answered
        (after handoffs, the last one)."""
        answered = value.get("agent") if isinstance(value, dict) else None
        return AgentResult.from_run(value, self._schema_of(answered, set()), execution_id)

    def _schema_of(self, name: str | None, seen: set) -> type[BaseModel] | None:
        if name in (None, self.name):
            return self.output_schema
        seen.add(self.name)
        for target in self.handoffs:
            if target.name not in seen and (found := target._schema_of(name, seen)) is not None:
                return found
        return None


@dataclass(frozen=True)
class AgentInvocation:
    """An agent and its input: what ``with_input`` builds (a ``workflow.ChildInvocation``)."""

    agent: Agent
    payload: dict

    @property
    def workflow(self) -> Workflow:
        return self.agent.workflow

    def result_from(self, value: Any, execution_id: str | None = None) -> AgentResult:
        return self.agent.result_from(value, execution_id)


def handoff_tool(target: Agent) -> Tool:
    return Tool(
        name=f"transfer_to_{target.name}",
        description=f"Hand the conversation over to {target.name}. {target.description}".strip(),
        parameters={"type": "object", "properties": {}},
        kind="handoff",
        target=target,
    )


def _split_model(provider: str | None, model: str) -> tuple[str, str]:
    """``("openai", "gpt-4o")`` from ``provider="openai", model="gpt-4o"`` or ``model="openai/gpt-4o"``."""
    if provider:
        return provider, model
    if "/" in model:
        head, rest = model.split("/", 1)
        return head, rest
    raise ProviderConfigError(f"model {model!r} names no provider: pass provider= or model='provider/model'")


def _workflow_body(agent: Agent):
    async def agent_run(ctx: WorkflowContext, payload: AgentInput):
        return await AgentLoop(agent, ctx, payload).run()

    agent_run.__annotations__ = {"ctx": WorkflowContext, "payload": AgentInput}  # the binder reads the classes
    agent_run.__name__ = agent.name
    agent_run.__qualname__ = f"Agent[{agent.name}]"
    agent_run.__module__ = __name__
    agent_run.__doc__ = agent.description
    return agent_run
