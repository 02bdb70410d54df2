"""Anthropic Messages on the wire: a message, its SSE events, an error body."""

from __future__ import annotations

import json
from collections.abc import Iterator

from .script import Failure, Reply

PATH = "/v1/messages"


def _content(answer: Reply) -> list[dict]:
    blocks: list[dict] = [{"type": "text", "text": answer.text}] if answer.text else []
    blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in answer.tool_calls]
    return blocks


def _stop_reason(answer: Reply) -> str:
    return "tool_use" if answer.tool_calls else "end_turn"


def message(answer: Reply, model: str, number: int) -> dict:
    return {
        "id": f"msg_{number:024d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _content(answer),
        "stop_reason": _stop_reason(answer),
        "stop_sequence": None,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
    }


def stream_frames(answer: Reply, model: str, number: int) -> Iterator[str]:
    """The ``event:``/``data:`` frames of a streamed message."""

    def event(kind: str, body: dict) -> str:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **body})}\n\n"

    start = message(answer, model, number)
    start.update(content=[], stop_reason=None, usage={"input_tokens": answer.input_tokens, "output_tokens": 1})
    yield event("message_start", {"message": start})
    index = 0
    if answer.text:
        yield event("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}})
        for at in range(0, len(answer.text), max(1, answer.chunk_chars)):
            piece = answer.text[at : at + answer.chunk_chars]
            yield event("content_block_delta", {"index": index, "delta": {"type": "text_delta", "text": piece}})
        yield event("content_block_stop", {"index": index})
        index += 1
    for call in answer.tool_calls:
        block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        yield event("content_block_start", {"index": index, "content_block": block})
        delta = {"type": "input_json_delta", "partial_json": json.dumps(call.arguments)}
        yield event("content_block_delta", {"index": index, "delta": delta})
        yield event("content_block_stop", {"index": index})
        index += 1
    delta = {"stop_reason": _stop_reason(answer), "stop_sequence": None}
    yield event("message_delta", {"delta": delta, "usage": {"output_tokens": answer.output_tokens}})
    yield event("message_stop", {})


def error_body(failure: Failure) -> dict:
    kinds = {429: "rate_limit_error", 500: "api_error", 529: "overloaded_error", 401: "authentication_error"}
    return {
        "type": "error",
        "error": {"type": kinds.get(failure.status, "invalid_request_error"), "message": failure.message},
    }
