"""OpenAI Chat Completions on the wire: a completion, its SSE chunks, an error body."""

from __future__ import annotations

import json
from collections.abc import Iterator

from .script import Failure, Reply

PATH = "/v1/chat/completions"


def _tool_calls(answer: Reply) -> list[dict]:
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
        for c in answer.tool_calls
    ]


def _usage(answer: Reply) -> dict:
    total = answer.input_tokens + answer.output_tokens
    return {"prompt_tokens": answer.input_tokens, "completion_tokens": answer.output_tokens, "total_tokens": total}


def _finish_reason(answer: Reply) -> str:
    return "tool_calls" if answer.tool_calls else "stop"


def completion(answer: Reply, model: str, number: int) -> dict:
    message: dict = {"role": "assistant", "content": answer.text, "refusal": None}
    if answer.tool_calls:
        message["tool_calls"] = _tool_calls(answer)
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(answer), "logprobs": None}],
        "usage": _usage(answer),
    }


def stream_frames(answer: Reply, model: str, number: int, include_usage: bool) -> Iterator[str]:
    """The ``data:`` frames of a streamed completion, one chunk of text at a time."""

    def chunk(delta: dict, finish: str | None = None, usage: dict | None = None, choices: bool = True) -> str:
        body = {"id": f"chatcmpl-{number}", "object": "chat.completion.chunk", "created": 0, "model": model}
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}] if choices else []
        if usage is not None:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    text = answer.text or ""
    for start in range(0, len(text), max(1, answer.chunk_chars)):
        yield chunk({"content": text[start : start + answer.chunk_chars]})
    for index, call in enumerate(_tool_calls(answer)):
        yield chunk({"tool_calls": [{"index": index, **call}]})
    yield chunk({}, finish=_finish_reason(answer))
    if include_usage:
        yield chunk({}, usage=_usage(answer), choices=False)
    yield "data: [DONE]\n\n"


def error_body(failure: Failure) -> dict:
    kind = "rate_limit_exceeded" if failure.status == 429 else "invalid_request_error"
    return {"error": {"message": failure.message, "type": kind, "param": None, "code": kind}}
