"""Testing agents without a real model: a scripted model server on loopback.

``ScriptedModelServer`` speaks the OpenAI and Anthropic HTTP wire formats, including
streaming, so the official SDKs (and so agents) talk to it unchanged. Engine tests use
it, and so can a user's tests::

    from engine.agents.testing import ScriptedModelServer, reply, tool_call

    with ScriptedModelServer([reply(tool_calls=[tool_call("lookup", {"q": "x"})]), reply("done")]) as model:
        ...  # Agent(..., provider_base_url=model.openai_base_url)
        assert len(model.requests) == 2
"""

from .script import Failure, Raw, Reply, ScriptedRequest, ToolCallAnswer, fail, raw, reply, tool_call
from .server import ScriptedModelServer

__all__ = [
    "Failure",
    "Raw",
    "Reply",
    "ScriptedModelServer",
    "ScriptedRequest",
    "ToolCallAnswer",
    "fail",
    "raw",
    "reply",
    "tool_call",
]
