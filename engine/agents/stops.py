"""Stop conditions: when an agent's loop ends before the model says it is done.

After every model turn (and the tools it asked for) each condition sees a
``StopContext``; the first that answers true ends the loop, and the agent's result is
the last text with ``stop_reason`` naming the condition. A condition is any callable
``(StopContext) -> bool``; the built-ins follow Polos: ``max_steps(MaxStepsConfig(count=8))``.
Every agent also stops at ``DEFAULT_MAX_STEPS`` model calls unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

DEFAULT_MAX_STEPS = 20


@dataclass(frozen=True)
class StopContext:
    agent: str
    steps: int  # model calls so far
    input_tokens: int
    output_tokens: int
    executed_tools: tuple[str, ...]  # names of the tools run so far, in order
    last_text: str | None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class StopCondition:
    """A named predicate over ``StopContext``."""

    def __init__(self, name: str, test: Callable[[StopContext], bool]):
        self.name = name
        self._test = test

    def __call__(self, context: StopContext) -> bool:
        return bool(self._test(context))

    def __repr__(self) -> str:
        return f"<stop condition {self.name}>"


class MaxStepsConfig(BaseModel):
    count: int


class MaxTokensConfig(BaseModel):
    limit: int


class ExecutedToolConfig(BaseModel):
    tool_names: list[str]


class HasTextConfig(BaseModel):
    texts: list[str]


def max_steps(config: MaxStepsConfig | int) -> StopCondition:
    """Stop after ``count`` model calls."""
    count = config if isinstance(config, int) else config.count
    return StopCondition(f"max_steps({count})", lambda c: c.steps >= count)


def max_tokens(config: MaxTokensConfig | int) -> StopCondition:
    """Stop once the run has used ``limit`` tokens, input and output together."""
    limit = config if isinstance(config, int) else config.limit
    return StopCondition(f"max_tokens({limit})", lambda c: c.total_tokens >= limit)


def executed_tool(config: ExecutedToolConfig | list[str]) -> StopCondition:
    """Stop once every one of ``tool_names`` has run."""
    names = list(config) if isinstance(config, list) else config.tool_names
    return StopCondition(f"executed_tool({names})", lambda c: set(names) <= set(c.executed_tools))


def has_text(config: HasTextConfig | list[str]) -> StopCondition:
    """Stop once the model's last text contains any of ``texts``."""
    texts = list(config) if isinstance(config, list) else config.texts
    return StopCondition(f"has_text({texts})", lambda c: any(t in (c.last_text or "") for t in texts))


def condition_name(condition: Callable) -> str:
    return getattr(condition, "name", None) or getattr(condition, "__name__", repr(condition))
