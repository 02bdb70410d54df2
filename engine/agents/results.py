"""What an agent run returns: ``AgentResult``, with its tool results and token usage."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..workflow import WorkflowState


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    model_calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, input_tokens: int, output_tokens: int, calls: int = 1) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.model_calls += calls

    def plus(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            model_calls=self.model_calls + other.model_calls,
        )


class ToolResult(BaseModel):
    """One tool call the model made, and what came of it."""

    name: str
    call_id: str
    arguments: Any = None
    result: Any = None
    error: str | None = None  # what went back to the model instead of a result
    turn: int = 0


class AgentResult(BaseModel):
    """The outcome of an agent run.

    ``result`` is the final answer: an ``output_schema`` model when the agent has one,
    else the text. ``agent`` is the agent that answered (after handoffs, the last one).
    """

    model_config = {"arbitrary_types_allowed": True}

    agent: str
    result: Any = None
    text: str | None = None
    tool_results: list[ToolResult] = Field(default_factory=list)
    total_steps: int = 0
    usage: Usage = Field(default_factory=Usage)
    stop_reason: str = "done"
    handoffs: list[str] = Field(default_factory=list)
    execution_id: str | None = None

    @classmethod
    def from_run(cls, value: Any, output_schema: type[BaseModel] | None, execution_id: str | None) -> AgentResult:
        """The result of an agent's run, as its workflow returned it (JSON)."""
        result = cls.model_validate(value)
        result.execution_id = execution_id or result.execution_id
        if output_schema is not None and isinstance(result.result, dict):
            result.result = output_schema.model_validate(result.result)
        return result


class AgentState(WorkflowState):
    """An agent run's ``ctx.state``: recorded with every step, so ``logloom workflow get``
    shows how far a run is and what it has used while it runs."""

    agent: str = ""
    turn: int = 0
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tool_calls: int = 0
