"""Tracing on both logs: the spans a run's records make, their tree, ids and times."""

from __future__ import annotations

import pytest
from helpers import assert_eventually

from engine import Agent, EventPayload, RetryableError, WorkflowContext, tool, workflow
from engine.agents.testing import ScriptedModelServer, reply, tool_call
from engine.observability import ids
from engine.workflow.registry import Registry

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from engine.observability import Tracing  # noqa: E402

FLAKY_TRIES: dict[str, int] = {}
SLEEP_S = 0.3


def _flaky(execution_id: str) -> str:
    FLAKY_TRIES[execution_id] = FLAKY_TRIES.get(execution_id, 0) + 1
    if FLAKY_TRIES[execution_id] == 1:
        raise RetryableError("not yet", retry_after=0.2)
    return "ok"


@workflow
async def t_traced_child(ctx: WorkflowContext, n: int) -> int:
    return await ctx.step.run("double", lambda: n * 2)


@workflow
async def t_traced(ctx: WorkflowContext, n: int) -> dict:
    first = await ctx.step.run("first", lambda: n + 1)
    await ctx.sleep(SLEEP_S, name="nap")
    child = await ctx.step.invoke_and_wait("kid", t_traced_child, {"n": first})
    flaky = await ctx.step.run("flaky", _flaky, ctx.execution_id, max_retries=2, base_delay=0.1)
    approved = await ctx.step.suspend("approve", data={"amount": n})
    return {"child": child, "flaky": flaky, "approved": approved.data}


def tracing() -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return Tracing(span_processor=SimpleSpanProcessor(exporter)), exporter


async def test_a_run_gives_its_span_tree_with_parents_ids_and_durations(harness):
    trace, exporter = tracing()
    await harness.worker(interceptors=[trace])
    client = await harness.client()
    handle = await t_traced.invoke(client, {"n": 1})
    root = handle.execution_id

    def names() -> set[str]:
        return {s.name for s in exporter.get_finished_spans()}

    await assert_eventually(lambda: "step flaky" in names(), message="the run reached its approval")
    await client.resume(root, "approve", True)
    assert await handle.result(timeout=60) == {"child": 4, "flaky": "ok", "approved": True}

    await assert_eventually(lambda: "run t_traced" in names(), message="the root run's span is exported")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert len(exporter.get_finished_spans()) == len({s.context.span_id for s in exporter.get_finished_spans()})

    run = spans["run t_traced"]
    assert run.context.trace_id == ids.trace_id(root)
    assert run.context.span_id == ids.run_span(root)
    assert run.parent is None
    assert {s.context.trace_id for s in spans.values()} == {ids.trace_id(root)}  # the child's too

    for name in ("step first", "sleep nap", "child t_traced_child", "step flaky", "suspend approve"):
        assert spans[name].parent.span_id == run.context.span_id, name
        assert run.start_time <= spans[name].start_time <= spans[name].end_time <= run.end_time, name

    recorded = {
        (r.fields["key"], r.fields["attempt"]): r.fields["started_at"]
        for r in await client.history(root)
        if r.type in ("StepCompleted", "StepAttemptFailed")
    }
    assert spans["step first"].start_time == recorded[("first", 1)] * 1_000_000, "from when its body began"
    assert spans["attempt 1 flaky"].start_time == recorded[("flaky", 1)] * 1_000_000
    assert spans["step flaky"].start_time == recorded[("flaky", 1)] * 1_000_000, "a step spans all its attempts"

    nap = spans["sleep nap"]
    assert nap.end_time - nap.start_time >= SLEEP_S * 1e9 * 0.9  # the sleep's span lasts the sleep

    kid_entry, kid_run = spans["child t_traced_child"], spans["run t_traced_child"]
    assert kid_run.parent.span_id == kid_entry.context.span_id  # the child's run hangs under the parent's wait
    assert kid_entry.start_time <= kid_run.start_time <= kid_run.end_time <= kid_entry.end_time
    assert spans["step double"].parent.span_id == kid_run.context.span_id

    flaky, attempt = spans["step flaky"], spans["attempt 1 flaky"]
    assert flaky.attributes["logloom.step.attempts"] == 2
    assert attempt.parent.span_id == flaky.context.span_id
    assert attempt.status.status_code is StatusCode.ERROR
    assert attempt.events[0].name == "exception"
    assert flaky.start_time <= attempt.start_time <= attempt.end_time <= flaky.end_time
    assert flaky.end_time - attempt.end_time >= 0.15e9  # the retry waited its retry_after
    assert flaky.status.status_code is StatusCode.OK
    approve = spans["suspend approve"]
    assert approve.attributes["logloom.wait.kind"] == "suspend"
    assert flaky.end_time <= approve.start_time <= approve.end_time <= run.end_time


@tool
async def look_up_stock(sku: str) -> dict:
    """Current stock for a SKU.

    Args:
        sku: the product's stock-keeping unit
    """
    return {"sku": sku, "in_stock": 3}


async def test_an_agent_run_gives_genai_spans_with_tokens_and_the_reason_for_a_tool(harness):
    registry = Registry()
    with ScriptedModelServer() as model:
        agent = Agent(
            id="clerk", provider="openai", model="clerk-model", provider_base_url=model.openai_base_url,
            registry=registry, tools=[look_up_stock], api_key="test-key",
        )  # fmt: skip
        reason = "I need the stock of B2 before I can answer."
        model.add(reply(reason, [tool_call("look_up_stock", {"sku": "B2"}, id="call-1")]), reply("B2: 3 in stock."))
        trace, exporter = tracing()
        await harness.worker(registry=registry, interceptors=[trace])
        client = await harness.client()
        result = await agent.run(client, "How many B2?", timeout=60)
    assert result.result == "B2: 3 in stock."

    await assert_eventually(
        lambda: any(s.name == "run clerk" for s in exporter.get_finished_spans()), message="the agent run's span"
    )
    spans = exporter.get_finished_spans()
    chats = sorted(
        (s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"), key=lambda s: s.start_time
    )
    assert len(chats) == 2
    first = chats[0]
    assert first.name == "chat clerk-model"
    assert first.attributes["gen_ai.provider.name"] == "openai"
    assert first.attributes["gen_ai.request.model"] == "clerk-model"
    assert first.attributes["gen_ai.usage.input_tokens"] > 0 and first.attributes["gen_ai.usage.output_tokens"] > 0
    assert list(first.attributes["gen_ai.response.tool_calls"]) == ["look_up_stock"]
    llm_step = next(s for s in spans if s.name == "step llm:1")
    assert first.parent.span_id == llm_step.context.span_id

    (tool_span,) = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "execute_tool"]
    assert tool_span.name == "execute_tool look_up_stock"
    assert tool_span.attributes["gen_ai.tool.name"] == "look_up_stock"
    assert tool_span.attributes["gen_ai.tool.call.id"] == "call-1"
    assert tool_span.attributes["logloom.gen_ai.tool.reason"] == reason
    assert tool_span.events[0].name == "gen_ai.choice" and tool_span.events[0].attributes["reason"] == reason
    tool_step = next(s for s in spans if s.name == "step tool:1.0:look_up_stock")
    assert tool_span.parent.span_id == tool_step.context.span_id
    assert {s.context.trace_id for s in spans} == {ids.trace_id(result.execution_id)}


async def test_a_traceparent_sent_with_an_http_invoke_becomes_the_run_spans_parent(harness):
    httpx = pytest.importorskip("httpx")
    from connectors.http import create_app

    trace, exporter = tracing()
    await harness.worker(interceptors=[trace])
    client = await harness.client()
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    transport = httpx.ASGITransport(app=create_app(client, tokens=None))
    async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as http:
        answer = await http.post(
            "/v1/workflows/t_traced_child/runs?wait=true&timeout=60",
            json={"input": {"n": 2}},
            headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"},
        )
    assert answer.status_code == 200, answer.text
    execution_id = answer.json()["execution_id"]

    await assert_eventually(
        lambda: any(s.name == "run t_traced_child" for s in exporter.get_finished_spans()), message="the run's span"
    )
    spans = {s.name: s for s in exporter.get_finished_spans()}
    run = spans["run t_traced_child"]
    assert run.parent is not None and run.parent.is_remote
    assert (run.parent.trace_id, run.parent.span_id) == (int(caller_trace, 16), int(caller_span, 16))
    assert run.context.trace_id == int(caller_trace, 16)  # the caller's trace goes on
    assert run.context.span_id == ids.run_span(execution_id)
    assert spans["step double"].context.trace_id == int(caller_trace, 16)
    assert spans["step double"].parent.span_id == run.context.span_id


async def test_a_traceparent_header_on_a_triggering_kafka_event_becomes_the_run_spans_parent(
    tmp_path, kafka_bootstrap, namespace
):
    """Kafka only: the embedded log's topics carry no headers."""
    from confluent_kafka import Producer
    from helpers import EngineHarness

    topic = f"{namespace}.signup"
    registry = Registry()

    @registry.workflow(trigger_on_event=topic)
    async def t_on_signup(ctx: WorkflowContext, event: EventPayload) -> str:
        return await ctx.step.run("greet", lambda: f"hello {event.data['user']}")

    harness = EngineHarness("kafka", tmp_path, namespace, kafka_bootstrap)
    try:
        trace, exporter = tracing()
        await harness.worker(registry=registry, interceptors=[trace])
        client = await harness.client()
        await client.publish_event(f"{topic}/plain", {"user": "plain"})  # creates the topic; no header
        caller_trace, caller_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        producer.produce(
            topic,
            value=b'{"user": "ana"}',
            key=b"ana",
            headers=[("traceparent", f"00-{caller_trace}-{caller_span}-01")],
        )
        producer.flush(10)

        def runs() -> list:
            return [s for s in exporter.get_finished_spans() if s.name == "run t_on_signup"]

        await assert_eventually(lambda: len(runs()) == 2, timeout=30, message="both events' runs ended")
        (traced,) = [s for s in runs() if s.parent is not None]
        assert traced.parent.is_remote and traced.parent.span_id == int(caller_span, 16)
        assert traced.context.trace_id == int(caller_trace, 16)
        (plain,) = [s for s in runs() if s.parent is None]
        assert plain.context.trace_id == ids.trace_id(plain.attributes["logloom.execution_id"])
    finally:
        await harness.close()
