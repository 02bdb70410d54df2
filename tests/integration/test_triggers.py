"""Event-triggered workflows, on both logs: one execution per event, bad events dead-lettered."""

import json

import pytest

from engine import EventPayload, WorkflowContext, event
from engine.registry import Registry
from engine.router import router_group
from engine.topics import dead_letter

from helpers import assert_eventually


def app(topic: str) -> Registry:
    reg = Registry()

    @reg.workflow(trigger_on_event=topic)                           # Polos style
    async def onboard_user(ctx: WorkflowContext, event: EventPayload) -> dict:
        return {"user": event.data["user_id"], "key": event.key, "topic": event.topic, "offset": event.offset}

    @reg.workflow(triggers=[event(topic)])                          # AGNT5 style
    async def welcome(ctx: WorkflowContext, user_id: str) -> str:
        return await ctx.step.run("greet", lambda: f"welcome {user_id}")

    @reg.workflow
    async def announcer(ctx: WorkflowContext, user_id: str) -> dict:
        return await ctx.step.publish_event("announce", f"{topic}/{user_id}", {"user_id": user_id})
    return reg


async def executions(client, workflow: str) -> list:
    return [e for e in await client.list_executions() if e.workflow == workflow]


async def test_each_event_starts_one_execution_of_each_triggered_workflow(harness):
    topic = f"{harness.namespace}.user.signup"
    await harness.worker(registry=app(topic))
    client = await harness.client()
    partition, offset = await client.publish_event(f"{topic}/u-1", {"user_id": "u-1"})
    result = await _result(client, f"onboard_user:{topic}:{partition}:{offset}")
    assert result == {"user": "u-1", "key": "u-1", "topic": topic, "offset": offset}
    assert await _result(client, f"welcome:{topic}:{partition}:{offset}") == "welcome u-1"


async def _result(client, execution_id):
    from engine.client import ExecutionHandle
    return await ExecutionHandle(client, execution_id, execution_id, fresh=False).result(timeout=30)


async def test_a_router_that_reads_events_again_starts_nothing_twice(harness):
    topic = f"{harness.namespace}.again"
    reg = app(topic)
    worker = await harness.worker(registry=reg)
    client = await harness.client()
    published = [await client.publish_event(topic, {"user_id": f"u{i}"}) for i in range(3)]
    for partition, offset in published:
        await _result(client, f"welcome:{topic}:{partition}:{offset}")
    await harness.stop_worker(worker)
    log = await harness.log()
    await log.commit(router_group(log.namespace), topic, {0: 0})  # as if the router crashed before committing
    await harness.worker(harness.tmp_path / "again", registry=reg)
    await client.publish_event(topic, {"user_id": "u3"})
    await assert_eventually(lambda: _count(client, "welcome", 4), timeout=30, message="the 4th event ran")
    assert len(await executions(client, "welcome")) == 4 and len(await executions(client, "onboard_user")) == 4
    history = await client.history(f"welcome:{topic}:{published[0][0]}:{published[0][1]}", include_claims=False)
    invocations = [r.outcome for r in history if r.type == "InvocationRequested"]
    assert invocations[0] == "applied" and any(o.startswith("duplicate") for o in invocations[1:])


async def _count(client, workflow, n):
    done = [e for e in await executions(client, workflow) if e.status == "completed"]
    return len(done) == n


async def test_malformed_and_unfitting_events_go_to_the_dead_letter_topic(harness):
    topic = f"{harness.namespace}.bad"
    await harness.worker(registry=app(topic))
    client = await harness.client()
    log = await harness.log()
    await log.publish(topic, b"k1", b"{not json")
    await client.publish_event(topic, {"no_user_id": True})
    partition, offset = await client.publish_event(topic, {"user_id": "good"})
    assert await _result(client, f"welcome:{topic}:{partition}:{offset}") == "welcome good"
    reader = log.topic_reader(dead_letter(log.namespace))
    reader.assign(0, 0)
    letters = []

    async def two():
        letters.extend(await reader.poll(0.5))
        return len(letters) >= 2
    await assert_eventually(two, timeout=30)
    await reader.close()
    reasons = [json.loads(e.value)["reason"] for e in letters]
    assert reasons[0].startswith("malformed event: not JSON") and json.loads(letters[0].value)["value"] == "{not json"
    # onboard_user takes the whole EventPayload, so only welcome(user_id) rejects the second event
    assert reasons[1].startswith("event does not fit workflow welcome") and "no_user_id" in reasons[1]
    assert len(letters) == 2


async def test_a_workflow_step_can_publish_the_event_that_triggers_another(harness):
    topic = f"{harness.namespace}.chain"
    reg = app(topic)
    await harness.worker(registry=reg)
    client = await harness.client()
    published = await reg.get("announcer").run(client, {"user_id": "u9"}, timeout=30)
    assert published["topic"] == topic
    assert await _result(client, f"welcome:{topic}:{published['partition']}:{published['offset']}") == "welcome u9"
