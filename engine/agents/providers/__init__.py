"""Model providers: OpenAI Chat Completions, Anthropic Messages, and your own.

``provider_for(name, base_url=..., api_key=...)`` builds one by name. Built in:

| name | API | key from | default base URL |
| --- | --- | --- | --- |
| ``openai`` | Chat Completions | ``OPENAI_API_KEY`` | the OpenAI API, or ``base_url`` (any compatible server) |
| ``anthropic`` | Messages | ``ANTHROPIC_API_KEY`` | the Anthropic API |
| ``groq`` | Chat Completions | ``GROQ_API_KEY`` | ``https://api.groq.com/openai/v1`` |
| ``together`` | Chat Completions | ``TOGETHER_API_KEY`` | ``https://api.together.xyz/v1`` |
| ``ollama`` | Chat Completions | none | ``http://localhost:11434/v1`` |
| ``vllm`` | Chat Completions | none | ``base_url`` (required) |

``register_provider(name, factory)`` adds one: ``factory(base_url=..., api_key=...)``
returns an object of the ``Provider`` protocol.
"""

from __future__ import annotations

from collections.abc import Callable

from .anthropic_messages import AnthropicMessagesProvider
from .base import ModelRequest, ModelResponse, Provider, ProviderConfigError, TextSink
from .openai_chat import OpenAIChatProvider

ProviderFactory = Callable[..., Provider]


def _compatible(name: str, default_url: str | None, key_env: str | None) -> ProviderFactory:
    def make(base_url: str | None = None, api_key: str | None = None) -> Provider:
        url = base_url or default_url
        if url is None:
            raise ProviderConfigError(f"provider {name!r} needs provider_base_url (the server's /v1 URL)")
        return OpenAIChatProvider(name, url, api_key, key_env)

    return make


_FACTORIES: dict[str, ProviderFactory] = {
    "openai": lambda base_url=None, api_key=None: OpenAIChatProvider("openai", base_url, api_key),
    "anthropic": lambda base_url=None, api_key=None: AnthropicMessagesProvider("anthropic", base_url, api_key),
    "groq": _compatible("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "together": _compatible("together", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "ollama": _compatible("ollama", "http://localhost:11434/v1", None),
    "vllm": _compatible("vllm", None, None),
}


def register_provider(name: str, factory: ProviderFactory) -> None:
    """Make ``provider=name`` (or ``model="name/..."``) build its provider with ``factory``."""
    _FACTORIES[name] = factory


def provider_names() -> list[str]:
    return sorted(_FACTORIES)


def provider_for(name: str, base_url: str | None = None, api_key: str | None = None) -> Provider:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ProviderConfigError(
            f"unknown provider {name!r}; known: {', '.join(provider_names())} (or register_provider)"
        ) from None
    return factory(base_url=base_url, api_key=api_key)


__all__ = [
    "ModelRequest",
    "ModelResponse",
    "Provider",
    "ProviderConfigError",
    "TextSink",
    "provider_for",
    "provider_names",
    "register_provider",
]
