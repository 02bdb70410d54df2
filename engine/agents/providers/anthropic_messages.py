"""Anthropic Messages through the official ``anthropic`` SDK (extra ``agents``)."""

from __future__ import annotations

from typing import Any

from .base import (
    ModelRequest,
    ModelResponse,
    SdkProvider,
    TextSink,
    emit,
    error_message,
    import_sdk,
    malformed,
    parsed,
    retry_after_s,
    status_error,
)

DEFAULT_MAX_OUTPUT_TOKENS = 4096  # Anthropic requires max_tokens on every request


class AnthropicMessagesProvider(SdkProvider):
    sdk = "anthropic"

    def __init__(
        self,
        name: str = "anthropic",
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
        timeout_s: float = 120.0,
    ):
        super().__init__(name, base_url, api_key, api_key_env, timeout_s)

    def _new_client(self, anthropic):
        return anthropic.AsyncAnthropic(
            api_key=self.key(), base_url=self.base_url, max_retries=0, timeout=self.timeout_s
        )

    async def complete(self, request: ModelRequest, on_text: TextSink | None = None) -> ModelResponse:
        anthropic = import_sdk("anthropic")
        client = self.sdk_client()
        params = _params(request)
        try:
            if on_text is None:
                raw = await client.messages.with_raw_response.create(**params)
                body = raw.http_response.text
                try:
                    return _response(await parsed(raw), request.model)
                except Exception as exc:
                    raise malformed(self.name, exc, body) from exc
            async with client.messages.stream(**params) as stream:
                async for text in stream.text_stream:
                    if text:
                        await emit(on_text, text)
                message = await stream.get_final_message()
            try:
                return _response(message, request.model)
            except Exception as exc:
                raise malformed(self.name, exc, message.model_dump_json()) from exc
        except anthropic.APIStatusError as exc:
            raise status_error(
                self.name, exc.status_code, error_message(exc), retry_after_s(exc.response.headers)
            ) from exc
        except (anthropic.APIConnectionError, anthropic.APITimeoutError) as exc:
            raise status_error(self.name, 503, f"no answer from {self.base_url or 'the API'}: {exc}") from exc
        except anthropic.APIResponseValidationError as exc:
            raise malformed(self.name, exc, exc.response.text) from exc


def _params(request: ModelRequest) -> dict:
    params: dict = {
        "model": request.model,
        "max_tokens": request.max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS,
        "messages": _wire_messages(request.messages),
    }
    if request.system:
        params["system"] = request.system
    if request.tools:
        params["tools"] = [
            {"name": t["name"], "description": t["description"], "input_schema": t["parameters"]} for t in request.tools
        ]
    if request.temperature is not None:
        params["temperature"] = request.temperature
    return params


def _wire_messages(messages: list[dict]) -> list[dict]:
    """Neutral messages as Anthropic's: tool results are user turns of ``tool_result`` blocks."""
    out: list[dict] = []
    for message in messages:
        role = message["role"]
        if role == "assistant":
            blocks: list[dict] = [{"type": "text", "text": message["content"]}] if message.get("content") else []
            blocks += [
                {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
                for c in message.get("tool_calls") or []
            ]
            out.append({"role": "assistant", "content": blocks})
            continue
        if role == "tool":
            block = {"type": "tool_result", "tool_use_id": message["tool_call_id"], "content": message["content"]}
            if out and out[-1]["role"] == "user":
                out[-1]["content"].append(block)  # results of one turn go back together
            else:
                out.append({"role": "user", "content": [block]})
            continue
        block = {"type": "text", "text": message["content"]}
        if out and out[-1]["role"] == "user":
            out[-1]["content"].append(block)  # Anthropic wants user and assistant turns to alternate
        else:
            out.append({"role": "user", "content": [block]})
    return out


def _response(message: Any, requested_model: str) -> ModelResponse:
    texts, calls = [], []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            calls.append({"id": block.id, "name": block.name, "arguments": dict(block.input or {})})
    return ModelResponse(
        text="".join(texts) or None,
        tool_calls=calls,
        stop_reason=message.stop_reason or "end_turn",
        input_tokens=message.usage.input_tokens,
        output_tokens=message.usage.output_tokens,
        model=message.model or requested_model,
    )
