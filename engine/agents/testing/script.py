"""What a scripted model answers: ``reply``, ``tool_call``, ``fail`` and ``raw``.

A script is a list of answers, taken in order; a dict of such lists keyed by the
requested model name, so that agents running at once each follow their own; or a
callable ``(ScriptedRequest) -> answer``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count(1)


@dataclass(frozen=True)
class ToolCallAnswer:
    name: str
    arguments: dict
    id: str


@dataclass(frozen=True)
class Reply:
    """A model turn: text, tool calls, or both; with the usage it reports."""

    text: str | None = None
    tool_calls: tuple[ToolCallAnswer, ...] = ()
    input_tokens: int = 10
    output_tokens: int = 5
    chunk_delay_s: float = 0.0  # between streamed chunks, so a reader can see them arrive
    chunk_chars: int = 4  # text per streamed chunk


@dataclass(frozen=True)
class Failure:
    """An HTTP error in the provider's error format (``429`` rate limit, ``500``, ``400``...)."""

    status: int
    message: str = "scripted failure"
    retry_after_s: float | None = None


@dataclass(frozen=True)
class Raw:
    """A body sent as is: for malformed responses."""

    body: str
    status: int = 200
    content_type: str = "application/json"


Answer = Reply | Failure | Raw


def reply(
    text: str | None = None,
    tool_calls: list[ToolCallAnswer] | None = None,
    *,
    input_tokens: int = 10,
    output_tokens: int = 5,
    chunk_delay_s: float = 0.0,
    chunk_chars: int = 4,
) -> Reply:
    """A model turn that says ``text`` and/or asks for ``tool_calls``."""
    return Reply(text, tuple(tool_calls or ()), input_tokens, output_tokens, chunk_delay_s, chunk_chars)


def tool_call(name: str, arguments: dict | None = None, id: str | None = None) -> ToolCallAnswer:
    """One tool call inside a ``reply``; ``id`` defaults to a fresh ``call_<n>``."""
    return ToolCallAnswer(name, dict(arguments or {}), id or f"call_{next(_ids)}")


def fail(status: int, message: str = "scripted failure", *, retry_after_s: float | None = None) -> Failure:
    return Failure(status, message, retry_after_s)


def raw(body: str, status: int = 200, content_type: str = "application/json") -> Raw:
    return Raw(body, status, content_type)


@dataclass
class ScriptedRequest:
    """One request the server received: which wire format, the path, the JSON body."""

    api: str  # "openai" or "anthropic"
    path: str
    body: dict
    headers: dict = field(default_factory=dict)
    answered: threading.Event = field(default_factory=threading.Event)  # set once the answer is sent
    received_at: float = field(default_factory=time.perf_counter)  # when it arrived (perf_counter seconds)

    @property
    def model(self) -> str:
        return self.body.get("model", "")

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    def tool_results(self) -> list[str]:
        """The contents of the tool results in the conversation, in order (either format)."""
        out = []
        for message in self.body.get("messages", []):
            if message.get("role") == "tool":
                out.append(str(message.get("content")))
            elif isinstance(message.get("content"), list):
                out += [str(b.get("content")) for b in message["content"] if b.get("type") == "tool_result"]
        return out

    def user_texts(self) -> list[str]:
        """The texts of the user's messages, in order (either format)."""
        out = []
        for message in self.body.get("messages", []):
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                out.append(content)
            else:
                out += [b.get("text", "") for b in content or [] if b.get("type") == "text"]
        return out

    def last_user_text(self) -> str:
        """The text of the last user message (either format), for callables that route on it."""
        for message in reversed(self.body.get("messages", [])):
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                return content
            texts = [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]
            if texts:
                return "\n".join(texts)
        return ""


Script = list | dict | Callable[[ScriptedRequest], Any]
