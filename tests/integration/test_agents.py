"""Agents on both logs, against the scripted model server through the real SDKs."""

import asyncio

import pytest
from helpers import assert_eventually, in_status
from pydantic import BaseModel

from engine import (
    Agent,
    AgentResult,
    MaxStepsConfig,
    WorkflowContext,
    WorkflowFailedError,
    executed_tool,
    max_steps,
    tool,
)
from engine.agents import ProviderConfigError, ask_user
from engine.agents.testing import ScriptedModelServer, fail, raw, reply, tool_call
from engine.replay import Replayer, export_history
from engine.replay.history_file import loads
from engine.workflow.registry import Registry

KEY = {"api_key": "test-key"}


@pytest.fixture
def model():
    with ScriptedModelServer() as server:
        yield server


def openai_agent(model, registry, name="helper", **options) -> Agent:
    options.setdefault("retry_base_delay_s", 0.05)
    return Agent(
        id=name, provider="openai", model=name, provider_base_url=model.openai_base_url, registry=registry,
        **KEY, **options,
    )  # fmt: skip


class Stock(BaseModel):
    sku: str
    in_stock: int


class Verdict(BaseModel):
    valid: bool
    reason: str


RUNS: dict[str, int] = {}


@tool
async def check_inventory(ctx, sku: str) -> Stock:
    """Current stock for a SKU.

    Args:
        sku: the product's stock-keeping unit
    """
    RUNS[ctx.execution_id] = RUNS.get(ctx.execution_id, 0) + 1
    return Stock(sku=sku, in_stock=3)


@tool
def broken_scale(weight_kg: float) -> float:
    """A tool that always fails."""
    raise ValueError(f"the scale is broken at {weight_kg} kg")


async def test_an_agent_runs_tools_and_repairs_an_answer_that_does_not_fit_its_schema(harness, model):
    registry = Registry()
    validator = openai_agent(
        model, registry, "validator", system_prompt="You validate orders.", tools=[check_inventory, broken_scale],
        output_schema=Verdict,
    )  # fmt: skip
    model.add(
        reply(
            tool_calls=[
                tool_call("check_inventory", {"sku": "A1"}),
                tool_call("broken_scale", {"weight_kg": 2}),
                tool_call("no_such_tool", {}),
            ]
        ),
        reply("It is valid."),  # not JSON: one re-prompt
        reply('```json\n{"valid": true, "reason": "in stock"}\n```'),
    )
    await harness.worker(registry=registry)
    client = await harness.client()

    result = await validator.run(client, "Validate order 7", timeout=60)

    assert isinstance(result, AgentResult) and result.result == Verdict(valid=True, reason="in stock")
    assert result.total_steps == 3 and result.usage.model_calls == 3 and result.usage.input_tokens == 30
    errors = {r.name: r.error for r in result.tool_results}
    assert errors["check_inventory"] is None
    assert "ValueError: the scale is broken at 2.0 kg" in errors["broken_scale"]
    assert "no tool named 'no_such_tool'" in errors["no_such_tool"]
    assert RUNS[result.execution_id] == 1
    second = model.requests[1].body
    tool_messages = [m for m in second["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_messages][0] == '{"sku":"A1","in_stock":3}'
    assert second["tools"][0]["function"]["parameters"]["properties"]["sku"]["description"] == (
        "the product's stock-keeping unit"
    )
    assert "could not be used" in model.requests[2].body["messages"][-1]["content"]
    steps = [r for r in await client.history(result.execution_id) if r.type in ("StepCompleted", "StepFailed")]
    assert [(r.type, r.payloads_decoded()["key"]) for r in steps] == [
        ("StepCompleted", "llm:1"),
        ("StepCompleted", "tool:1.0:check_inventory"),
        ("StepFailed", "tool:1.1:broken_scale"),
        ("StepCompleted", "llm:2"),
        ("StepCompleted", "llm:3"),
    ]
    first_call = steps[0].payloads_decoded()["result"]
    assert first_call["model"] == "validator" and first_call["usage"] == {"input_tokens": 10, "output_tokens": 5}
    assert first_call["request"]["system"].startswith("You validate orders.")
    assert first_call["response"]["tool_calls"][0]["name"] == "check_inventory"


async def test_anthropic_messages_through_the_official_sdk(harness, model):
    registry = Registry()
    agent = Agent(
        name="clerk", model="anthropic/clerk-model", instructions="You are a clerk.", tools=[check_inventory],
        registry=registry, **KEY,
    )  # fmt: skip
    agent.provider.base_url = model.anthropic_base_url
    model.add(reply("Let me look.", [tool_call("check_inventory", {"sku": "B2"})]), reply("B2: 3 in stock."))
    await harness.worker(registry=registry)
    client = await harness.client()

    result = await agent.run(client, "How many B2?", timeout=60)

    assert result.result == "B2: 3 in stock." and result.tool_results[0].result == {"sku": "B2", "in_stock": 3}
    first, second = (r.body for r in model.requests)
    assert [r.api for r in model.requests] == ["anthropic", "anthropic"]
    assert first["system"] == "You are a clerk." and first["tools"][0]["input_schema"]["required"] == ["sku"]
    assert second["messages"][1]["content"][1]["type"] == "tool_use"
    assert second["messages"][2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": second["messages"][1]["content"][1]["id"],
        "content": '{"sku":"B2","in_stock":3}',
    }


async def test_tools_of_one_turn_run_concurrently(harness, model):
    registry = Registry()
    gates = {"a": asyncio.Event(), "b": asyncio.Event()}

    @tool
    async def meet(side: str) -> str:
        """Wait for the other side."""
        gates[side].set()
        await asyncio.wait_for(gates["b" if side == "a" else "a"].wait(), 10)  # deadlocks if run one by one
        return side

    agent = openai_agent(model, registry, tools=[meet])
    model.add(reply(tool_calls=[tool_call("meet", {"side": "a"}), tool_call("meet", {"side": "b"})]), reply("met"))
    await harness.worker(registry=registry)
    client = await harness.client()

    result = await agent.run(client, "meet", timeout=60)

    assert [r.result for r in result.tool_results] == ["a", "b"] and result.result == "met"


async def test_a_handoff_continues_the_conversation_in_a_child_run(harness, model):
    registry = Registry()
    refunds = openai_agent(model, registry, "refunds", system_prompt="You handle refunds.")
    triage = openai_agent(model, registry, "triage", system_prompt="Route the customer.", handoffs=[refunds])
    model.add(reply("Transferring you.", [tool_call("transfer_to_refunds", {})]), model="triage")
    model.add(reply("Your refund is on its way."), model="refunds")
    await harness.worker(registry=registry)
    client = await harness.client()

    result = await triage.run(client, "I was charged twice", timeout=60)

    assert result.agent == "refunds" and result.handoffs == ["refunds"]
    assert result.result == "Your refund is on its way." and result.total_steps == 2
    assert result.usage.model_calls == 2
    offered = [t["function"]["name"] for t in model.requests_for("triage")[0].body["tools"]]
    assert offered == ["transfer_to_refunds"]
    (target_request,) = model.requests_for("refunds")
    messages = target_request.body["messages"]
    assert messages[0] == {"role": "system", "content": "You handle refunds."}
    assert messages[1] == {"role": "user", "content": "I was charged twice"}
    assert messages[2] == {"role": "assistant", "content": "Transferring you."}  # the handoff call is gone
    child = await client.get_execution(f"{result.execution_id}:handoff:1:refunds")
    assert child.workflow == "refunds" and child.status == "completed"


async def test_a_tool_that_needs_approval_waits_for_a_person(harness, model):
    registry = Registry()
    refunded: list[str] = []

    @tool(approval="always")
    async def issue_refund(order_id: str, amount: float) -> dict:
        """Refund an order."""
        refunded.append(order_id)
        return {"refunded": amount}

    agent = openai_agent(model, registry, tools=[issue_refund])
    model.add(
        reply(tool_calls=[tool_call("issue_refund", {"order_id": "o-1", "amount": 5})]),
        reply(tool_calls=[tool_call("issue_refund", {"order_id": "o-2", "amount": 500})]),
        reply("One refund done, one refused."),
    )
    await harness.worker(registry=registry)
    client = await harness.client()
    handle = await agent.invoke(client, "refund both")

    waiting = await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    assert waiting.waiting_for[0]["key"] == "approve:1.0:issue_refund" and refunded == []
    usage_so_far = {k: waiting.state[k] for k in ("agent", "turn", "model_calls", "input_tokens", "output_tokens")}
    assert usage_so_far == {"agent": "helper", "turn": 1, "model_calls": 1, "input_tokens": 10, "output_tokens": 5}
    assert (await client.resume(handle.execution_id, "approve:1.0:issue_refund", {"approved": True})).applied
    await assert_eventually(lambda: len(model.requests) == 2, timeout=30)
    await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    answer = {"approved": False, "feedback": "too much"}
    assert (await client.resume(handle.execution_id, "approve:2.0:issue_refund", answer)).applied

    result = await handle.result(timeout=60)

    assert refunded == ["o-1"] and result.result == "One refund done, one refused."
    assert result.tool_results[1].error == "a person rejected this call: too much"
    assert model.requests[2].body["messages"][-1]["content"] == "Error: a person rejected this call: too much"


async def test_ask_user_suspends_until_the_answer_comes(harness, model):
    registry = Registry()
    agent = openai_agent(model, registry, tools=[ask_user])
    model.add(reply(tool_calls=[tool_call("ask_user", {"question": "Which order?"})]), reply("Order 9 it is."))
    await harness.worker(registry=registry)
    client = await harness.client()
    handle = await agent.invoke(client, "refund my order")
    waiting = await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    assert waiting.waiting_for[0]["data"]["question"] == "Which order?"

    await client.resume(handle.execution_id, waiting.waiting_for[0]["key"], "order 9")

    assert (await handle.result(timeout=60)).result == "Order 9 it is."
    assert model.requests[1].body["messages"][-1]["content"] == "order 9"


async def test_stop_conditions_end_the_loop(harness, model):
    registry = Registry()
    capped = openai_agent(model, registry, "capped", tools=[check_inventory], max_iterations=2)
    stopper = openai_agent(
        model, registry, "stopper", tools=[check_inventory], stop_conditions=[executed_tool(["check_inventory"])]
    )
    for _ in range(2):
        model.add(reply("again", [tool_call("check_inventory", {"sku": "x"})]), model="capped")
    model.add(reply("checked", [tool_call("check_inventory", {"sku": "y"})]), model="stopper")
    await harness.worker(registry=registry)
    client = await harness.client()

    first = await capped.run(client, "loop", timeout=60)
    second = await stopper.run(client, "once", timeout=60)

    assert first.stop_reason == "max_steps(2)" and first.total_steps == 2 and first.result == "again"
    assert second.stop_reason == "executed_tool(['check_inventory'])" and second.total_steps == 1
    assert len(model.requests) == 3


async def test_rate_limits_are_retried_and_client_errors_fail_the_step(harness, model):
    registry = Registry()
    patient = openai_agent(model, registry, "patient")
    doomed = openai_agent(model, registry, "doomed")
    model.add(fail(429, "slow down", retry_after_s=0.05), fail(503, "busy"), reply("made it"), model="patient")
    model.add(fail(400, "context length exceeded"), model="doomed")
    await harness.worker(registry=registry)
    client = await harness.client()

    assert (await patient.run(client, "hi", timeout=60)).result == "made it"
    with pytest.raises(WorkflowFailedError) as failed:
        await doomed.run(client, "hi", timeout=60)

    assert len(model.requests_for("patient")) == 3 and len(model.requests_for("doomed")) == 1
    error = failed.value.error
    assert error["step"] == "llm:1" and "HTTP 400: context length exceeded" in error["message"]


async def test_a_malformed_response_fails_the_step_and_keeps_the_raw_body(harness, model):
    registry = Registry()
    agent = openai_agent(model, registry)
    model.add(raw('{"id": "x", "choices": "not a list"}'))
    await harness.worker(registry=registry)
    client = await harness.client()

    with pytest.raises(WorkflowFailedError) as failed:
        await agent.run(client, "hi", timeout=60)

    assert failed.value.error["step"] == "llm:1"
    assert 'raw body: {"id": "x", "choices": "not a list"}' in failed.value.error["message"]
    assert len(model.requests) == 1


async def test_runs_of_one_session_continue_one_conversation_and_compact_it(harness, model):
    registry = Registry()
    chat = openai_agent(model, registry, "chat", memory_budget_tokens=30)
    model.add(reply("Hello Ada."), reply("You are Ada."), reply("Summary: the user is Ada."), reply("Still Ada."))
    await harness.worker(registry=registry)
    client = await harness.client()
    session = f"{harness.namespace}-s"

    await chat.run(client, "I am Ada", session_id=session, timeout=60)
    await chat.run(client, "Who am I?", session_id=session, timeout=60)
    third = await chat.run(client, "And now?", session_id=session, timeout=60)

    second_request = model.requests[1].body["messages"]
    assert [m["content"] for m in second_request] == ["I am Ada", "Hello Ada.", "Who am I?"]
    summary_request = model.requests[2].body["messages"]
    assert "user: I am Ada" in summary_request[-1]["content"]
    last = model.requests[3].body["messages"]
    assert last[0]["content"] == "Summary of the conversation so far:\nSummary: the user is Ada."
    assert [m["content"] for m in last[1:]] == ["Who am I?", "You are Ada.", "And now?"]
    assert third.result == "Still Ada."
    usage = await client.get_session_state(session)
    assert usage["agent:chat:usage"]["model_calls"] == 4


async def test_a_worker_without_the_api_key_refuses_to_start(harness, model, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    registry = Registry()
    Agent(id="keyless", provider="openai", model="gpt-4o", registry=registry)

    with pytest.raises(ProviderConfigError, match="agent 'keyless': provider 'openai' needs an API key"):
        await harness.worker(registry=registry)
    assert model.requests == []


class OrderInput(BaseModel):
    order_id: str


async def test_workflows_call_agents_as_steps(harness, model):
    registry = Registry()
    validator = openai_agent(model, registry, "validator", output_schema=Verdict)

    @registry.workflow
    async def process_order(ctx: WorkflowContext, order: OrderInput) -> dict:
        validation = await ctx.step.agent_invoke_and_wait(
            "validate_order", validator.with_input(f"Validate this order: {order.order_id}")
        )
        if not validation.result.valid:
            return {"status": "invalid", "reason": validation.result.reason}
        many = await ctx.step.batch_agent_invoke_and_wait(
            "recheck", [validator.with_input("again 1"), validator.with_input("again 2")]
        )
        return {"status": "valid", "rechecked": [r.result.result.valid for r in many]}

    model.add(*(reply('{"valid": true, "reason": "ok"}') for _ in range(3)), model="validator")
    model.add(reply('{"valid": false, "reason": "a"}'), reply('{"valid": true, "reason": "b"}'), model="validator")
    await harness.worker(registry=registry)
    client = await harness.client()

    assert await process_order.run(client, {"order_id": "o-1"}, timeout=60) == {
        "status": "valid",
        "rechecked": [True, True],
    }
    handles = await client.batch_agent_invoke([validator.with_input("x"), validator.with_input("y")])
    results = [await h.result(timeout=60) for h in handles]
    assert sorted(r.result.valid for r in results) == [False, True]
    assert all(isinstance(r.result, Verdict) for r in results)


async def test_a_changed_prompt_at_a_recorded_position_is_nondeterminism(harness, model):
    registry = Registry()

    @tool(approval="always")
    async def delete_account(user: str) -> str:
        """Delete an account."""
        return "deleted"

    openai_agent(model, registry, "ops", system_prompt="Version 1", tools=[delete_account])
    model.add(reply(tool_calls=[tool_call("delete_account", {"user": "u"})]), reply("done"))
    worker = await harness.worker(registry=registry)
    client = await harness.client()
    handle = await client.invoke("ops", "delete u")
    await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    await harness.stop_worker(worker)

    changed = Registry()
    openai_agent(model, changed, "ops", system_prompt="Version 2", tools=[delete_account])
    await harness.worker(registry=changed)
    await client.resume(handle.execution_id, "approve:1.0:delete_account", True)

    with pytest.raises(WorkflowFailedError) as failed:
        await handle.result(timeout=60)
    assert failed.value.error["code"] == "NONDETERMINISM" and failed.value.error["step"] == "llm:1"
    assert "request differs" in failed.value.error["message"]
    assert len(model.requests) == 1  # never billed again


def test_max_steps_takes_its_config():
    assert max_steps(MaxStepsConfig(count=8)).name == "max_steps(8)"


async def test_streamed_tokens_reach_the_client_during_the_call_and_survive_a_reconnect(harness, model):
    registry = Registry()
    agent = openai_agent(model, registry, "courier", tools=[check_inventory])
    words = "Your parcel is in Lyon and arrives tomorrow before noon."
    model.add(reply("Checking.", [tool_call("check_inventory", {"sku": "P1"})]))
    model.add(reply(words, chunk_delay_s=0.08, chunk_chars=4))
    await harness.worker(registry=registry)
    client = await harness.client()

    stream = await agent.stream(client, "Where is my parcel?")
    seen: list[str] = []
    kinds: list[str] = []
    async for event in stream.events:
        kinds.append(event.kind)
        if event.kind == "text_delta" and event.data["step"] == "llm:2":
            seen.append(event.data["text"])
            if len(seen) == 3:
                break
    assert not model.requests[1].answered.is_set()  # the call was still running
    runs = [kind for i, kind in enumerate(kinds) if i == 0 or kinds[i - 1] != kind]
    assert runs == ["text_delta", "tool_call", "tool_result", "text_delta"]
    last = stream.last_offset
    await stream.close()  # the client goes away mid-stream

    again = await agent.attach(client, stream.execution_id, from_offset=last + 1)
    rest = [chunk async for chunk in again.text_chunks]
    result = await again.result()

    assert "".join(seen + rest) == words == result.result
    assert result.usage.model_calls == 2 and all(r.stream for r in model.requests)
    recorded = [r for r in await client.history(stream.execution_id) if r.type == "StepCompleted"]
    assert recorded[-1].payloads_decoded()["result"]["response"]["text"] == words  # only the final text


async def test_a_handoff_target_streams_into_the_root_runs_stream(harness, model):
    registry = Registry()
    desk = openai_agent(model, registry, "desk")
    front = openai_agent(model, registry, "front", handoffs=[desk])
    model.add(reply("One moment.", [tool_call("transfer_to_desk", {})]), model="front")
    model.add(reply("The desk speaking."), model="desk")
    await harness.worker(registry=registry)
    client = await harness.client()

    stream = await front.stream(client, "hello")
    events = [e async for e in stream.events]

    by_run = {}
    for e in events:
        if e.kind == "text_delta":
            by_run.setdefault(e.execution_id, []).append(e.data["text"])
    child = f"{stream.execution_id}:handoff:1:desk"
    assert {run: "".join(texts) for run, texts in by_run.items()} == {
        stream.execution_id: "One moment.",
        child: "The desk speaking.",
    }
    assert (await stream.result()).agent == "desk"


async def test_a_workflow_tool_runs_as_a_child_run(harness, model):
    registry = Registry()

    @registry.workflow
    async def quote_shipping(ctx: WorkflowContext, city: str, weight_kg: float) -> dict:
        """Quote shipping to a city."""
        return {"city": city, "eur": round(4 + weight_kg * 2, 2)}

    agent = openai_agent(model, registry, tools=[quote_shipping])
    model.add(reply(tool_calls=[tool_call("quote_shipping", {"city": "Lyon", "weight_kg": 1.5})]), reply("7 EUR"))
    await harness.worker(registry=registry)
    client = await harness.client()

    result = await agent.run(client, "ship to Lyon", timeout=60)

    assert result.tool_results[0].result == {"city": "Lyon", "eur": 7.0}
    offered = model.requests[0].body["tools"][0]["function"]
    assert offered["name"] == "quote_shipping" and offered["parameters"]["required"] == ["city", "weight_kg"]
    child = await client.get_execution(f"{result.execution_id}:tool:1.0:quote_shipping")
    assert child.workflow == "quote_shipping" and child.parent_execution_id == result.execution_id


async def test_anthropic_streams_through_its_sdk(harness, model):
    registry = Registry()
    agent = Agent(name="poet", model="anthropic/poet-model", registry=registry, **KEY)
    agent.provider.base_url = model.anthropic_base_url
    model.add(reply("Roses are red, logs are durable.", chunk_delay_s=0.01))
    await harness.worker(registry=registry)
    client = await harness.client()

    stream = await agent.stream(client, "a poem")
    chunks = [c async for c in stream.text_chunks]

    assert len(chunks) > 3 and "".join(chunks) == "Roses are red, logs are durable."
    assert (await stream.result()).result == "".join(chunks) and model.requests[0].stream


async def test_a_provider_of_your_own(harness):
    from engine.agents import ModelResponse, register_provider

    class Echo:
        name = "echo"

        def check(self) -> None:
            pass

        async def complete(self, request, on_text=None) -> ModelResponse:
            text = f"{request.system}: {request.messages[-1]['content']}"
            return ModelResponse(text, [], "stop", input_tokens=1, output_tokens=2, model=request.model)

    register_provider("echo", lambda base_url=None, api_key=None: Echo())
    registry = Registry()
    agent = Agent(name="parrot", model="echo/any", instructions="Parrot", registry=registry)
    await harness.worker(registry=registry)
    client = await harness.client()

    result = await agent.run(client, "hello", timeout=60)

    assert result.result == "Parrot: hello" and result.usage.output_tokens == 2


async def test_a_session_conversation_over_the_state_limit_fails_the_run_naming_it(harness, model):
    registry = Registry()
    chat = openai_agent(model, registry, "bigchat", memory_budget_tokens=10**9)
    model.add(reply("x" * (1024 * 1024)))
    await harness.worker(registry=registry)
    client = await harness.client()
    session = f"{harness.namespace}-big"

    with pytest.raises(WorkflowFailedError) as failed:
        await chat.run(client, "say a lot", session_id=session, execution_id=f"{harness.namespace}-big-1", timeout=60)

    error = failed.value.error
    assert error["code"] == "STATE_TOO_LARGE" and f"execution {harness.namespace}-big-1" in error["message"]
    assert "session.set:agent:bigchat:messages:1" in error["message"]


async def test_an_agent_run_replays_offline_with_no_model_server_and_no_api_key(harness, model, monkeypatch):
    registry = Registry()
    validator = openai_agent(model, registry, "offline", tools=[check_inventory], output_schema=Verdict)
    model.add(
        reply(tool_calls=[tool_call("check_inventory", {"sku": "B2"})]),
        reply('{"valid": true, "reason": "in stock"}'),
    )
    await harness.worker(registry=registry)
    client = await harness.client()
    result = await validator.run(client, "Validate order 8", timeout=60)
    history = loads((await export_history(client, result.execution_id)).dumps())
    calls_before, runs_before = len(model.requests), RUNS[result.execution_id]

    model.stop()  # no model server any more, and no key
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    replayed = await Replayer(registry).replay(history)
    assert replayed.verdict == "ok", replayed.message
    assert [s.requested for s in replayed.steps] == ["llm:1", "tool:1.0:check_inventory", "llm:2"]
    assert len(model.requests) == calls_before and RUNS[result.execution_id] == runs_before
