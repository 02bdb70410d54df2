"""The ``Provider`` protocol, and the provider-neutral request and response it speaks.

Messages are plain JSON-able dicts, the same in every provider, so a model step records
them as they are:

* ``{"role": "user", "content": "..."}``
* ``{"role": "assistant", "content": "..." | None, "tool_calls": [{"id", "name", "arguments": {...}}]}``
* ``{"role": "tool", "tool_call_id": "...", "name": "...", "content": "..."}``

The system prompt travels apart (``ModelRequest.system``), as Anthropic wants it.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ...errors import RetryableError, TerminalError

TextSink = Callable[[str], Awaitable[None] | None]  # receives text deltas while a call streams


@dataclass(frozen=True)
class ModelRequest:
    model: str
    messages: list[dict]
    system: str | None = None
    tools: list[dict] = field(default_factory=list)  # {"name", "description", "parameters": JSON schema}
    temperature: float | None = None
    max_output_tokens: int | None = None

    def to_json(self) -> dict:
        """As a dict, sharing its lists (``dataclasses.asdict`` deep-copies every message)."""
        return {
            "model": self.model,
            "messages": self.messages,
            "system": self.system,
            "tools": self.tools,
            "temperature": self.temperature,
            "max_output_tokens": self.max_output_tokens,
        }


@dataclass(frozen=True)
class ModelResponse:
    text: str | None
    tool_calls: list[dict]  # {"id", "name", "arguments": dict}
    stop_reason: str
    input_tokens: int
    output_tokens: int
    model: str

    def to_json(self) -> dict:
        return asdict(self)


class Provider(Protocol):
    """A model API. Add one with ``register_provider(name, factory)``.

    1. ``check()`` raises ``ProviderConfigError`` when it cannot work (no API key): a
       worker calls it before it runs anything.
    2. ``complete(request, on_text)`` makes one call. It streams when ``on_text`` is given,
       handing it each text delta, and returns the whole response either way.
    3. A failure raises ``RetryableError`` (rate limits, server errors, lost connections)
       or ``TerminalError`` (the request is wrong, or the response malformed): the model
       step's retry policy is the only retry. SDK retries are off.
    """

    name: str

    def check(self) -> None: ...

    async def complete(self, request: ModelRequest, on_text: TextSink | None = None) -> ModelResponse: ...


class ProviderConfigError(TerminalError):
    """A provider cannot be used as configured: unknown, or its API key is missing."""

    code = "PROVIDER_CONFIG"


RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


def status_error(provider: str, status: int, message: str, retry_after_s: float | None = None) -> Exception:
    """The error for an HTTP status from a provider: retryable or terminal."""
    text = f"{provider} answered HTTP {status}: {message}"
    if status in RETRYABLE_STATUSES or status >= 500:
        return RetryableError(text, retry_after=retry_after_s, code=f"HTTP_{status}")
    return TerminalError(text, code=f"HTTP_{status}")


def malformed(provider: str, exc: Exception, body: str) -> TerminalError:
    """A response the SDK or we could not read: the raw body goes into the step's record."""
    return TerminalError(
        f"{provider} sent a malformed response ({type(exc).__name__}: {exc}); raw body: {body[:8000]}",
        code="MALFORMED_RESPONSE",
    )


def retry_after_s(headers: Any) -> float | None:
    try:
        value = headers.get("retry-after") if headers is not None else None
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


async def parsed(raw: Any) -> Any:
    """The SDK object of a raw response (``parse()`` is a coroutine in some SDK versions)."""
    value = raw.parse()
    return await value if inspect.isawaitable(value) else value


async def emit(sink: TextSink, text: str) -> None:
    result = sink(text)
    if result is not None:
        await result


def import_sdk(module: str):
    """A provider's SDK (extra ``agents``), imported when first used."""
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - depends on the install
        raise ProviderConfigError(
            f"the {module} provider needs the {module} SDK: pip install 'logloom[agents]'"
        ) from None


def error_message(exc: Any) -> str:
    """The provider's own message in an SDK's ``APIStatusError``."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc.message)


class SdkProvider:
    """What the SDK-backed providers share: the key, the check, one SDK client (no retries)."""

    sdk = ""  # the SDK's module name

    def __init__(
        self, name: str, base_url: str | None, api_key: str | None, api_key_env: str | None, timeout_s: float = 120.0
    ):
        self.name = name
        self.base_url = base_url
        self._api_key = api_key
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self._client = None

    def key(self) -> str | None:
        if self._api_key:
            return self._api_key
        return os.environ.get(self.api_key_env) if self.api_key_env else "unused"

    def check(self) -> None:
        if importlib.util.find_spec(self.sdk) is None:  # imported at the first call, not here
            import_sdk(self.sdk)
        if not self.key():
            raise ProviderConfigError(
                f"provider {self.name!r} needs an API key: set {self.api_key_env} (or pass api_key=)"
            )

    def sdk_client(self):
        if self._client is None:
            self.check()
            self._client = self._new_client(import_sdk(self.sdk))
        return self._client

    def _new_client(self, sdk):
        raise NotImplementedError
