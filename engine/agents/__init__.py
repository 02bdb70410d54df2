"""Durable AI agents: model calls and tool calls as recorded steps of a workflow.

An ``Agent`` registers a workflow; its loop (``loop.py``) records each model call and
each tool call as a step, so a crash resumes the loop where it was, without calling the
model again for an answered turn or running a finished tool twice. Providers are the
official ``openai`` and ``anthropic`` SDKs (``pip install 'logloom[agents]'``), imported
when first used; ``engine.agents.testing`` is a scripted model server for tests.
"""

from .agent import Agent, AgentInvocation
from .loop import AgentInput, OutputValidationError
from .providers import ModelRequest, ModelResponse, Provider, ProviderConfigError, provider_for, register_provider
from .results import AgentResult, AgentState, ToolResult, Usage
from .stops import (
    DEFAULT_MAX_STEPS,
    ExecutedToolConfig,
    HasTextConfig,
    MaxStepsConfig,
    MaxTokensConfig,
    StopCondition,
    StopContext,
    executed_tool,
    has_text,
    max_steps,
    max_tokens,
)
from .tools import Tool, ToolArgumentsError, ToolDefinitionError, ask_user, tool

__all__ = [
    "DEFAULT_MAX_STEPS",
    "Agent",
    "AgentInput",
    "AgentInvocation",
    "AgentResult",
    "AgentState",
    "ExecutedToolConfig",
    "HasTextConfig",
    "MaxStepsConfig",
    "MaxTokensConfig",
    "ModelRequest",
    "ModelResponse",
    "OutputValidationError",
    "Provider",
    "ProviderConfigError",
    "StopCondition",
    "StopContext",
    "Tool",
    "ToolArgumentsError",
    "ToolDefinitionError",
    "ToolResult",
    "Usage",
    "ask_user",
    "executed_tool",
    "has_text",
    "max_steps",
    "max_tokens",
    "provider_for",
    "register_provider",
    "tool",
]
