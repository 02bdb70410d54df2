"""A trigger under a router crash: kill -9 while events flow; every event still runs exactly once."""

import asyncio
import json

import orjson
import pytest
from helpers import assert_eventually, run_cli
from processes import Effects, embedded_worker, embedded_worker_owning, kafka_worker, kill9, stop

pytestmark = pytest.mark.chaos
EVENTS = 30


def runs_per_event(fx: Effects) -> dict[str, int]:
    counts: dict[str, int] = {}
    for execution_id, step, event, _ in fx.lines():
        if step == "record" and event == "ran":
            counts[execution_id] = counts.get(execution_id, 0) + 1
    return counts


async def test_kafka_external_producer_and_router_crash(tmp_path, kafka_bootstrap, namespace, kafka_client):
    from confluent_kafka import Producer

    fx = Effects(tmp_path)
    topic = f"{namespace}.signup"
    fx.env["LOGLOOM_TEST_TOPIC"] = topic
    await kafka_client.log.ensure_topic(topic, partitions=2)
    a = kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "a", tmp_path / "a.log")
    procs = [a]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})  # any Kafka producer: not Logloom's client
    try:
        for i in range(EVENTS):
            producer.produce(topic, key=f"user-{i}".encode(), value=orjson.dumps({"user_id": f"user-{i}", "n": i}))
            if i == EVENTS // 3:
                producer.flush()
                await assert_eventually(lambda: len(runs_per_event(fx)) >= 3, timeout=60, message="events flow")
                kill9(a)
                procs.append(kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "b", tmp_path / "b.log"))
        producer.flush()
        await assert_eventually(
            lambda: len(runs_per_event(fx)) == EVENTS, timeout=120, message=f"{EVENTS} events triggered"
        )
        await asyncio.sleep(1)  # room for any duplicate to show up
        executions = [e for e in await kafka_client.list_executions() if e.workflow == "on_signup"]
        assert len(executions) == EVENTS
        assert all(e.execution_id.startswith(f"on_signup:{topic}:") for e in executions)
        counts = runs_per_event(fx)
        assert sorted(counts) == sorted(e.execution_id for e in executions)
    finally:
        for p in procs:
            stop(p)


async def test_embedded_events_published_from_another_shell_survive_a_crash(tmp_path):
    fx = Effects(tmp_path)
    fx.env["LOGLOOM_TEST_TOPIC"] = "signups"
    data = ["--data-dir", str(tmp_path / "data")]
    worker = await embedded_worker_owning(fx, tmp_path / "data", tmp_path / "w1.log")
    procs = [worker]
    try:
        for i in range(10):
            published = run_cli(
                "publish", f"signups/u{i}", "--data", json.dumps({"user_id": f"u{i}", "n": i}), *data, env=fx.env
            )
            assert published.returncode == 0, published.stderr
        await assert_eventually(lambda: len(runs_per_event(fx)) >= 2, timeout=60)
        kill9(worker)
        restarted = embedded_worker(fx, tmp_path / "data", tmp_path / "w2.log")
        procs.append(restarted)
        await assert_eventually(lambda: len(runs_per_event(fx)) == 10, timeout=60)
        listed = run_cli("workflow", "list", "--json", *data, env=fx.env)
        executions = [e for e in json.loads(listed.stdout) if e["workflow"] == "on_signup"]
        assert len(executions) == 10 and all(e["status"] == "completed" for e in executions)
    finally:
        for p in procs:
            stop(p)
