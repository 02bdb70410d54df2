"""The durable agent loop: an agent's run is a workflow, and each call it makes is a step.

Per turn ``n`` of a run:

1. **Model call**, the step ``llm:n``. Its recorded result holds the model, the request
   (the messages new since the last call; the system prompt and tools on the first), a
   digest of the whole request, the response and the token usage. On replay the
   recorded response comes back and the model is not called; a request whose digest
   differs from the recorded one (a changed prompt, tool list or model at a recorded
   position) is a ``NondeterminismError`` naming the step, never a second bill.
2. **Approvals**: each requested call of an ``approval="always"`` tool suspends at
   ``approve:n.i:<tool>`` until ``client.resume`` answers; all of a turn's approvals are
   asked together, before any tool runs, so step positions never depend on timing.
3. **Tools**: the turn's calls run concurrently, each its own step ``tool:n.i:<tool>``
   (a ``@workflow`` tool is a child run; ``ask_user`` is a suspension). A tool's error,
   an unknown tool or bad arguments go back to the model as the tool's result: the run
   goes on. A finished tool never runs again.
4. **Handoff**: a call of ``transfer_to_<agent>`` ends this agent's turn; the target runs
   as the child ``handoff:n:<agent>`` with the conversation so far, the handoff call
   itself removed (an unresolved call is never replayed into the target), and its
   result is this run's result.
5. **Stop**: a turn without tool calls is the answer (checked against ``output_schema``,
   with one recorded re-prompt if it does not fit); otherwise the stop conditions are
   asked, and the loop goes on to turn ``n + 1``.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import re
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ValidationError, model_validator

from ..errors import InputValidationError, LogloomError, NondeterminismError, StepExecutionError
from ..wire.serde import to_json
from ..workflow import WorkflowContext, current_step, function
from ..workflow.run_stream import RunStream
from .memory import SessionMemory
from .providers import ModelRequest
from .results import AgentResult, AgentState, ToolResult, Usage
from .stops import StopContext, condition_name
from .streaming import TEXT_DELTA, TOOL_CALL, TOOL_RESULT
from .tools import Tool

if TYPE_CHECKING:
    from .agent import Agent


class AgentInput(BaseModel):
    """An agent run's input: a text (or messages), or the conversation a handoff passes on."""

    input: str | list[dict] | None = None
    conversation: list[dict] = []
    handoff_from: str | None = None
    stream: bool = False  # stream text deltas and tool calls on ctx.stream (agent.stream)

    @model_validator(mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return {"input": value} if isinstance(value, (str, list)) else value


class OutputValidationError(LogloomError):
    """The model's final answer did not fit the agent's ``output_schema``, even after a re-prompt."""

    code = "INVALID_OUTPUT"


REPAIR_PROMPT = (
    "Your last answer could not be used: {error}\nAnswer again with only a JSON object that matches the schema."
)


class AgentLoop:
    def __init__(self, agent: Agent, ctx: WorkflowContext, payload: AgentInput):
        self.agent = agent
        self.ctx = ctx
        self.payload = payload
        self.messages: list[dict] = []
        self.recorded_upto = 0  # messages already in an earlier recorded request
        self.usage = Usage()
        self.tool_results: list[ToolResult] = []
        self.executed: list[str] = []
        self.repaired = False
        self.memory = SessionMemory(agent, ctx) if ctx.session_id and not payload.handoff_from else None

    async def run(self) -> dict:
        self.messages = await self._opening()
        turn = 0
        while True:
            turn += 1
            response = await self._model_call(turn)
            text, calls = response["text"], response["tool_calls"]
            self.messages.append({"role": "assistant", "content": text, **({"tool_calls": calls} if calls else {})})
            handoff = next((c for c in calls if self._tool(c["name"], "handoff")), None)
            regular = [c for c in calls if c is not handoff]
            if regular:
                await self._tools(turn, regular)
            if handoff is not None:
                return await self._hand_off(turn, handoff)
            if not calls:
                answer, retry = self._answer(text)
                if retry is None:
                    return await self._finish(text, answer, "done", turn)
                if self.repaired:
                    raise OutputValidationError(
                        f"execution {self.ctx.execution_id}: the answer of step 'llm:{turn}' does not fit "
                        f"{self.agent.output_schema.__name__} after a re-prompt: {retry}"
                    )
                self.repaired = True
                self.messages.append({"role": "user", "content": REPAIR_PROMPT.format(error=retry)})
                continue
            stopped = self._stop_condition(turn, text)
            if stopped is not None:
                answer, _ = self._answer(text)
                return await self._finish(text, answer, stopped, turn)

    # -- 0. the opening messages ------------------------------------------------------------

    async def _opening(self) -> list[dict]:
        payload = self.payload
        messages = list(payload.conversation)
        if not messages and self.memory is not None:
            messages = await self.memory.load()
        if isinstance(payload.input, str):
            messages.append({"role": "user", "content": payload.input})
        elif payload.input:
            messages.extend(payload.input)
        if not messages:
            raise LogloomError(f"execution {self.ctx.execution_id}: agent {self.agent.name!r} was given no input")
        return messages

    # -- 1. the model call ------------------------------------------------------------------

    async def _model_call(self, turn: int) -> dict:
        agent = self.agent
        request = agent.request(self.messages)
        digest = request_digest(request)
        key = f"llm:{turn}"
        sent_from = self.recorded_upto
        provider = agent.provider

        stream = self.ctx.stream if self.payload.stream else None

        async def on_text(text: str) -> None:
            attempt = current_step().attempt  # a retried call streams again: readers can tell
            await stream.emit(TEXT_DELTA, {"agent": agent.name, "step": key, "attempt": attempt, "text": text})

        async def call() -> dict:
            response = await provider.complete(request, on_text if stream is not None else None)
            if stream is not None:
                await stream.flush()
            used = Usage(input_tokens=response.input_tokens, output_tokens=response.output_tokens, model_calls=1)
            self._track(turn, self.usage.plus(used))  # recorded with this step
            shown: dict = {"messages_from": sent_from, "messages": request.messages[sent_from:]}
            if turn == 1:
                shown.update(system=request.system, tools=[t["name"] for t in request.tools])
            return {
                "agent": agent.name,
                "provider": provider.name,
                "model": request.model,
                "digest": digest,
                "request": shown,
                "response": response.to_json(),
                "usage": {"input_tokens": response.input_tokens, "output_tokens": response.output_tokens},
            }

        recorded = await self.ctx.step.run(
            key, call, max_retries=agent.model_retries, base_delay=agent.retry_base_delay_s, max_delay=30.0
        )
        if recorded["digest"] != digest:
            raise NondeterminismError(
                self.ctx.execution_id,
                -1,
                expected=key,
                found=key,
                detail=(
                    f"execution {self.ctx.execution_id}: step {key!r} recorded a model call whose request "
                    f"differs from the one the agent {agent.name!r} makes now (a changed prompt, model or "
                    f"tool list). The recorded response is not reused and the model is not called again."
                ),
            )
        self.recorded_upto = len(request.messages)
        self.usage.add(recorded["usage"]["input_tokens"], recorded["usage"]["output_tokens"])
        self._track(turn, self.usage)  # the same on a replay, where the body did not run
        return recorded["response"]

    def _track(self, turn: int, usage: Usage) -> None:
        state = self.ctx.state
        if isinstance(state, AgentState):
            state.agent, state.turn = self.agent.name, turn
            state.model_calls, state.input_tokens = usage.model_calls, usage.input_tokens
            state.output_tokens, state.tool_calls = usage.output_tokens, len(self.tool_results)

    # -- 2 and 3. approvals, then the tools ---------------------------------------------------

    async def _tools(self, turn: int, calls: list[dict]) -> None:
        tools = [self._tool(c["name"]) for c in calls]
        asking = [i for i, t in enumerate(tools) if t is not None and t.approval == "always"]
        verdicts = await asyncio.gather(*(self._approval(turn, i, calls[i]) for i in asking))
        rejected = {i: why for i, why in zip(asking, verdicts) if why is not None}
        outcomes = await asyncio.gather(
            *(
                _given(None, rejected[i]) if i in rejected else self._one_tool(turn, i, call, tool)
                for i, (call, tool) in enumerate(zip(calls, tools))
            )
        )
        for call, (result, error) in zip(calls, outcomes):
            self.tool_results.append(
                ToolResult(
                    name=call["name"],
                    call_id=call["id"],
                    arguments=call["arguments"],
                    result=result,
                    error=error,
                    turn=turn,
                )
            )
            if error is None:
                self.executed.append(call["name"])
            content = f"Error: {error}" if error is not None else _as_text(result)
            self.messages.append({"role": "tool", "tool_call_id": call["id"], "name": call["name"], "content": content})

    async def _approval(self, turn: int, index: int, call: dict) -> str | None:
        """None if a person approved the call; else why it was rejected (for the model)."""
        resumed = await self.ctx.step.suspend(
            f"approve:{turn}.{index}:{call['name']}",
            {"tool": call["name"], "arguments": call["arguments"], "call_id": call["id"],
             "answer": 'resume with {"approved": true} or {"approved": false, "feedback": "..."}'},
            timeout=self.agent.approval_timeout_s,
        )  # fmt: skip
        approved, feedback = approval_of(resumed.data)
        if approved:
            return None
        return "a person rejected this call" + (f": {feedback}" if feedback else "")

    async def _one_tool(self, turn: int, index: int, call: dict, tool: Tool | None) -> tuple[Any, str | None]:
        key = f"tool:{turn}.{index}:{call['name']}"
        if tool is None:
            known = ", ".join(sorted(self.agent.tools_by_name)) or "none"
            return None, f"there is no tool named {call['name']!r}; the tools are: {known}"
        try:
            if tool.kind == "ask_user":
                question = call["arguments"].get("question", "") if isinstance(call["arguments"], dict) else ""
                resumed = await self.ctx.step.suspend(key, {"question": question, "input_type": "text"})
                return resumed.data, None
            if tool.kind == "workflow":
                return await self.ctx.step.invoke_and_wait(key, tool.target, call["arguments"]), None
            stream = self.ctx.stream if self.payload.stream else None
            body = _tool_body(self.agent.name, tool, call["arguments"], key, stream)
            return await self.ctx.step.run(key, body), None
        except StepExecutionError as exc:
            return None, _tool_error(exc)
        except InputValidationError as exc:  # a child tool's input did not fit: nothing ran
            return None, exc.message or str(exc)

    # -- 4. handoff ---------------------------------------------------------------------------

    async def _hand_off(self, turn: int, call: dict) -> dict:
        target = self._tool(call["name"]).target
        conversation = _without_call(self.messages, call["id"])
        child = await self.ctx.step.invoke_and_wait(
            f"handoff:{turn}:{target.name}",
            target.workflow,
            {"conversation": conversation, "handoff_from": self.agent.name, "stream": self.payload.stream},
        )
        theirs = AgentResult.model_validate(child)
        self.tool_results.extend(theirs.tool_results)
        merged = AgentResult(
            agent=theirs.agent,
            result=theirs.result,
            text=theirs.text,
            tool_results=self.tool_results,
            total_steps=turn + theirs.total_steps,
            usage=self.usage.plus(theirs.usage),
            stop_reason=theirs.stop_reason,
            handoffs=[target.name, *theirs.handoffs],
        )
        if self.memory is not None:
            await self.memory.save(conversation + [{"role": "assistant", "content": theirs.text}], merged.usage)
        return merged.model_dump(mode="json")

    # -- 5. the answer, and stop conditions ----------------------------------------------------

    def _answer(self, text: str | None) -> tuple[Any, str | None]:
        """(the answer, None) or (None, why it does not fit the output schema)."""
        schema = self.agent.output_schema
        if schema is None:
            return text, None
        try:
            return schema.model_validate(json.loads(_json_text(text))).model_dump(mode="json"), None
        except (ValueError, ValidationError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _stop_condition(self, turn: int, text: str | None) -> str | None:
        context = StopContext(
            agent=self.agent.name,
            steps=turn,
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            executed_tools=tuple(self.executed),
            last_text=text,
        )
        for condition in self.agent.stop_conditions:
            if condition(context):
                return condition_name(condition)
        return None

    async def _finish(self, text: str | None, answer: Any, stop_reason: str, turn: int) -> dict:
        result = AgentResult(
            agent=self.agent.name,
            result=answer,
            text=text,
            tool_results=self.tool_results,
            total_steps=turn,
            usage=self.usage,
            stop_reason=stop_reason,
        )
        if self.memory is not None:
            await self.memory.save(self.messages, self.usage)
        return result.model_dump(mode="json")

    def _tool(self, name: str, kind: str | None = None) -> Tool | None:
        found = self.agent.tools_by_name.get(name)
        return found if found is not None and (kind is None or found.kind == kind) else None


def request_digest(request: ModelRequest) -> str:
    return hashlib.sha256(orjson.dumps(request.to_json(), option=orjson.OPT_SORT_KEYS)).hexdigest()


def approval_of(data: Any) -> tuple[bool, str | None]:
    """A resume answer as (approved, feedback): ``true``, ``"approve"``, ``{"approved": ..., "feedback": ...}``."""
    if isinstance(data, dict):
        feedback = data.get("feedback")
        if "approved" in data:
            return bool(data["approved"]), feedback
        data = data.get("decision")
    if isinstance(data, str):
        return data.strip().lower() in ("approve", "approved", "yes", "y", "ok", "true"), None
    return bool(data), None


def _tool_body(agent: str, tool: Tool, arguments: Any, key: str, stream: RunStream | None):
    """The step body of a function tool: bind the arguments, then call it (sync tools on a
    thread); when the run streams, it announces the call and its result."""

    async def call(fctx) -> Any:
        kwargs = tool.bind(arguments)
        args = (fctx,) if tool.takes_context else ()
        if inspect.iscoroutinefunction(tool.fn):
            return await tool.fn(*args, **kwargs)
        value = await asyncio.to_thread(tool.fn, *args, **kwargs)
        return await value if inspect.isawaitable(value) else value

    async def body(fctx) -> Any:
        if stream is None:
            return await call(fctx)
        about = {"agent": agent, "step": key, "name": tool.name}
        await stream.emit(TOOL_CALL, {**about, "arguments": arguments})
        try:
            value = await call(fctx)
        except Exception as exc:
            await stream.emit(TOOL_RESULT, {**about, "error": f"{type(exc).__name__}: {exc}"})
            await stream.flush()
            raise
        await stream.emit(TOOL_RESULT, {**about, "result": to_json(value, f"result of tool {tool.name!r}")})
        await stream.flush()
        return value

    return function(body, name=tool.name)


def _tool_error(exc: StepExecutionError) -> str:
    message = str(exc)
    prefix = f"step {exc.step!r} failed: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _as_text(result: Any) -> str:
    return result if isinstance(result, str) else to_json(result, "a tool's result")


async def _given(result: Any, error: str | None) -> tuple[Any, str | None]:
    return result, error


def _without_call(messages: list[dict], call_id: str) -> list[dict]:
    """The conversation without the tool call ``call_id``; an assistant turn left empty goes too."""
    out = []
    for message in messages:
        if message["role"] == "assistant" and any(c["id"] == call_id for c in message.get("tool_calls") or []):
            calls = [c for c in message["tool_calls"] if c["id"] != call_id]
            if not calls and not message.get("content"):
                continue
            message = {k: v for k, v in message.items() if k != "tool_calls"}
            if calls:
                message["tool_calls"] = calls
        out.append(message)
    return out


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def _json_text(text: str | None) -> str:
    stripped = (text or "").strip()
    fenced = _FENCE.match(stripped)
    return fenced.group(1) if fenced else stripped
