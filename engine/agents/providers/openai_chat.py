"""OpenAI Chat Completions through the official ``openai`` SDK (extra ``agents``).

Also any OpenAI-compatible server (Ollama, vLLM, Groq, Together) through ``base_url``.
"""

from __future__ import annotations

import json
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


class OpenAIChatProvider(SdkProvider):
    sdk = "openai"

    def __init__(
        self,
        name: str = "openai",
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout_s: float = 120.0,
    ):
        super().__init__(name, base_url, api_key, api_key_env, timeout_s)

    def _new_client(self, openai):
        return openai.AsyncOpenAI(api_key=self.key(), base_url=self.base_url, max_retries=0, timeout=self.timeout_s)

    async def complete(self, request: ModelRequest, on_text: TextSink | None = None) -> ModelResponse:
        openai = import_sdk("openai")
        client = self.sdk_client()
        params = _params(request)
        try:
            if on_text is None:
                raw = await client.chat.completions.with_raw_response.create(**params)
                body = raw.http_response.text
                try:
                    return _response(await parsed(raw), request.model)
                except Exception as exc:
                    raise malformed(self.name, exc, body) from exc
            async with client.chat.completions.stream(**params, stream_options={"include_usage": True}) as stream:
                async for event in stream:
                    if event.type == "content.delta" and event.delta:
                        await emit(on_text, event.delta)
                completion = await stream.get_final_completion()
            try:
                return _response(completion, request.model)
            except Exception as exc:
                raise malformed(self.name, exc, completion.model_dump_json()) from exc
        except openai.APIStatusError as exc:
            raise status_error(
                self.name, exc.status_code, error_message(exc), retry_after_s(exc.response.headers)
            ) from exc
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise status_error(self.name, 503, f"no answer from {self.base_url or 'the API'}: {exc}") from exc
        except openai.APIResponseValidationError as exc:
            raise malformed(self.name, exc, exc.response.text) from exc


def _params(request: ModelRequest) -> dict:
    messages = ([{"role": "system", "content": request.system}] if request.system else []) + [
        _wire_message(m) for m in request.messages
    ]
    params: dict = {"model": request.model, "messages": messages}
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {"name": t["name"], "description": t["description"], "parameters": t["parameters"]},
            }
            for t in request.tools
        ]
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.max_output_tokens is not None:
        params["max_completion_tokens"] = request.max_output_tokens
    return params


def _wire_message(message: dict) -> dict:
    role = message["role"]
    if role == "assistant":
        out: dict = {"role": "assistant", "content": message.get("content")}
        if message.get("tool_calls"):
            out["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                }
                for c in message["tool_calls"]
            ]
        return out
    if role == "tool":
        return {"role": "tool", "tool_call_id": message["tool_call_id"], "content": message["content"]}
    return {"role": role, "content": message["content"]}


def _response(completion: Any, requested_model: str) -> ModelResponse:
    choice = completion.choices[0]
    calls = []
    for call in choice.message.tool_calls or []:
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except ValueError:
            arguments = {"_unparsed": call.function.arguments}  # goes back to the model as a tool error
        calls.append({"id": call.id, "name": call.function.name, "arguments": arguments})
    usage = completion.usage
    return ModelResponse(
        text=choice.message.content,
        tool_calls=calls,
        stop_reason=choice.finish_reason or "stop",
        input_tokens=usage.prompt_tokens if usage else 0,
        output_tokens=usage.completion_tokens if usage else 0,
        model=completion.model or requested_model,
    )
