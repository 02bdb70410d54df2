"""Event-triggered workflows, on both logs: one execution per event, bad events dead-lettered."""

import json

from helpers import assert_eventually, read_topic

from engine import EventPayload, WorkflowContext, event
from engine.names import dead_letter_topic, router_group
from engine.workflow import Registry


def app(topic: str) -> Registry:
    reg = Registry()

    @reg.workflow(trigger_on_event=topic)  # Polos style
    async def onboard_user(ctx: WorkflowContext, event: EventPayload) -> dict:
        return {"user": event.data["user_id"], "key": event.key, "topic": event.topic, "offset": event.offset}

    @reg.workflow(triggers=[event(topic)])  # AGNT5 style
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
    letters = await read_topic(log, dead_letter_topic(log.namespace), 2)
    docs = sorted((json.loads(e.value) for e in letters), key=lambda d: d["offset"])  # letters are not ordered
    assert docs[0]["reason"].startswith("malformed event: not JSON") and docs[0]["value"] == "{not json"
    # onboard_user takes the whole EventPayload, so only welcome(user_id) rejects the second event
    assert docs[1]["reason"].startswith("event does not fit workflow welcome") and "no_user_id" in docs[1]["reason"]
    assert len(letters) == 2


async def test_a_workflow_step_can_publish_the_event_that_triggers_another(harness):
    topic = f"{harness.namespace}.chain"
    reg = app(topic)
    await harness.worker(registry=reg)
    client = await harness.client()
    published = await reg.get("announcer").run(client, {"user_id": "u9"}, timeout=30)
    assert published["topic"] == topic
    assert await _result(client, f"welcome:{topic}:{published['partition']}:{published['offset']}") == "welcome u9"


SIGNUP_SCHEMA = {
    "type": "record",
    "name": "Signup",
    "namespace": "test.events",
    "fields": [{"name": "user_id", "type": "string"}, {"name": "plan", "type": "string"}],
}
OTHER_SCHEMA = {"type": "record", "name": "Other", "fields": [{"name": "x", "type": "long"}]}


async def test_avro_events_trigger_and_bad_avro_is_dead_lettered(harness):
    topic = f"{harness.namespace}.avro"
    reg = Registry()

    @reg.workflow(triggers=[event(topic, schema=SIGNUP_SCHEMA)])
    async def avro_welcome(ctx: WorkflowContext, user_id: str, plan: str) -> str:
        return f"{user_id} on {plan}"

    await harness.worker(registry=reg)
    client = await harness.client()
    log = await harness.log()
    from engine.wire.events import encode_event

    unknown = encode_event({"x": 1}, OTHER_SCHEMA)
    import engine.wire.events as events_module

    events_module._schemas.pop(unknown[:10])  # a schema this worker never heard of
    await log.publish(topic, None, unknown)
    good_header = encode_event({"user_id": "a", "plan": "b"}, SIGNUP_SCHEMA)[:10]
    await log.publish(topic, None, good_header + b"\xff\xff\xff")  # right fingerprint, broken body
    partition, offset = await client.publish_event(topic, {"user_id": "u-7", "plan": "pro"}, schema=SIGNUP_SCHEMA)
    assert await _result(client, f"avro_welcome:{topic}:{partition}:{offset}") == "u-7 on pro"
    letters = await read_topic(log, dead_letter_topic(log.namespace), 2)
    by_reason = {
        (
            "unknown"
            if "unknown schema fingerprint" in json.loads(e.value)["reason"]
            else "mismatch"
            if "does not match its schema" in json.loads(e.value)["reason"]
            else "other"
        ): e
        for e in letters
    }
    assert sorted(by_reason) == ["mismatch", "unknown"]  # dead letters are not ordered among themselves
    assert json.loads(by_reason["unknown"].value)["value_encoding"] == "base64"
