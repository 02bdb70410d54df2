"""GenAI spans of an agent's run (OpenTelemetry's GenAI semantic conventions).

An agent's model call is the step ``llm:<turn>`` and its recorded result holds the
provider, the model, the response and the token usage (``engine.agents.loop``); a tool
call is the step ``tool:<turn>.<index>:<tool>``. Each gets a span beside the step's own
span, as its child, with the same times:

* ``chat <model>``: ``gen_ai.operation.name=chat``, ``gen_ai.provider.name``,
  ``gen_ai.request.model``, ``gen_ai.response.model``, ``gen_ai.usage.input_tokens`` and
  ``output_tokens``, ``gen_ai.response.finish_reasons``; the tool calls it asked for as
  ``gen_ai.response.tool_calls`` (their names);
* ``execute_tool <tool>``: ``gen_ai.operation.name=execute_tool``, ``gen_ai.tool.name``,
  ``gen_ai.tool.call.id``, and ``logloom.gen_ai.tool.reason``: the text the model gave
  with the call that asked for the tool (its reason for the choice), read from the
  model call's journal entry, also as the event ``gen_ai.choice``.
"""

from __future__ import annotations

import orjson

from ..fold.keys import journal_prefix
from . import ids
from .spec import SpanEvent, SpanSpec

MODEL_PREFIX, TOOL_PREFIX = "llm:", "tool:"
MAX_REASON_CHARS = 4000  # what an attribute keeps of the model's text


def spans_for(step, entry: dict, state) -> list:
    """GenAI spans for the ended journal entry ``entry`` whose span is ``step``."""
    key = entry["key"]
    if key.startswith(MODEL_PREFIX) and entry.get("result"):
        return _model_span(step, entry)
    if key.startswith(TOOL_PREFIX):
        return _tool_span(step, key, state)
    return []


def _model_span(step, entry: dict) -> list:
    try:
        call = orjson.loads(entry["result"])
        response, usage = call["response"], call["usage"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return []  # a step named like a model call that is not one
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": call.get("provider") or "",
        "gen_ai.request.model": call.get("model") or "",
        "gen_ai.response.model": response.get("model") or "",
        "gen_ai.usage.input_tokens": usage.get("input_tokens") or 0,
        "gen_ai.usage.output_tokens": usage.get("output_tokens") or 0,
        "gen_ai.response.finish_reasons": [response.get("stop_reason") or ""],
        "gen_ai.agent.name": call.get("agent") or "",
    }
    if response.get("tool_calls"):
        attributes["gen_ai.response.tool_calls"] = [c["name"] for c in response["tool_calls"]]
    if response.get("text"):
        attributes["logloom.gen_ai.response.text"] = response["text"][:MAX_REASON_CHARS]
    execution_id, seq = step.attributes["logloom.execution_id"], step.attributes["logloom.step.seq"]
    return [
        SpanSpec(
            name=f"chat {attributes['gen_ai.request.model']}",
            trace_id=step.trace_id,
            span_id=ids.span_id(execution_id, f"model:{seq}"),
            parent_span_id=step.span_id,
            start_ms=step.start_ms,
            end_ms=step.end_ms,
            attributes=attributes,
            error=step.error,
        )
    ]


def _tool_span(step, step_key: str, state) -> list:
    position, _, tool = step_key.removeprefix(TOOL_PREFIX).partition(":")  # a step key: tool:<turn>.<i>:<name>
    turn, _, index = position.partition(".")
    execution_id, seq = step.attributes["logloom.execution_id"], step.attributes["logloom.step.seq"]
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool}
    events = ()
    call, reason = _asked_for(state, execution_id, turn, index)
    if call is not None:
        attributes["gen_ai.tool.call.id"] = str(call.get("id") or "")
    if reason:
        attributes["logloom.gen_ai.tool.reason"] = reason[:MAX_REASON_CHARS]
        events = (SpanEvent("gen_ai.choice", step.start_ms, {"reason": reason[:MAX_REASON_CHARS]}),)
    return [
        SpanSpec(
            name=f"execute_tool {tool}",
            trace_id=step.trace_id,
            span_id=ids.span_id(execution_id, f"tool:{seq}"),
            parent_span_id=step.span_id,
            start_ms=step.start_ms,
            end_ms=step.end_ms,
            attributes=attributes,
            error=step.error,
            events=events,
        )
    ]


def _asked_for(state, execution_id: str, turn: str, index: str) -> tuple[dict | None, str | None]:
    """The tool call ``index`` of the model call of ``turn``, and the text that came with it."""
    wanted = f"{MODEL_PREFIX}{turn}"
    for _, entry in state.scan(journal_prefix(execution_id)):
        if entry.get("key") != wanted or not entry.get("result"):
            continue
        try:
            response = orjson.loads(entry["result"])["response"]
            call = response["tool_calls"][int(index)]
        except (orjson.JSONDecodeError, KeyError, IndexError, ValueError, TypeError):
            return None, None
        return call, response.get("text")
    return None, None
