"""kill -9 during a sleep and while suspended, with real processes, on both logs."""

import json

import pytest
from helpers import assert_eventually, history, run_cli, spawn
from processes import APP, Effects, kafka_worker, kill9, stop

pytestmark = pytest.mark.chaos


async def test_embedded_kill9_during_sleep_fires_the_timer_once(tmp_path):
    fx = Effects(tmp_path)
    data = ["--data-dir", str(tmp_path / "data")]
    args = ["run", f"{APP}:napper", "--input", '{"seconds": 2}', "--execution-id", "nap-1", *data]
    first = spawn(*args, env=fx.env)
    try:
        await assert_eventually(lambda: fx.count("nap-1", "before") == 1, timeout=60)
        await assert_eventually(
            lambda: any(r["type"] == "TimerScheduled" for r in history("nap-1", *data, env=fx.env)), timeout=30
        )
    finally:
        kill9(first)
    second = run_cli(*args, env=fx.env)
    assert second.returncode == 0, second.stderr
    assert fx.count("nap-1", "before") == 1 and fx.count("nap-1", "after") == 1
    records = history("nap-1", *data, env=fx.env)
    fired = [r for r in records if r["type"] == "TimerFired"]
    assert len(fired) == 1 and fired[0]["outcome"] == "applied"


async def test_embedded_suspend_survives_kill9_and_resumes_from_another_process(tmp_path):
    fx = Effects(tmp_path)
    data = ["--data-dir", str(tmp_path / "data")]
    args = ["run", f"{APP}:approval", "--input", '{"amount": 1500}', "--execution-id", "ok-1", *data]
    first = spawn(*args, env=fx.env)
    try:

        async def suspended():
            got = run_cli("workflow", "get", "ok-1", *data, env=fx.env)
            return got.returncode == 0 and json.loads(got.stdout)["status"] == "waiting"

        await assert_eventually(suspended, timeout=60)
    finally:
        kill9(first)
    resumed = run_cli("resume", "ok-1", "approval", "--data", '{"approved": true}', *data, env=fx.env)
    assert resumed.returncode == 0, resumed.stderr
    second = run_cli(*args, env=fx.env)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["approved"] is True
    assert fx.count("ok-1", "before") == 1 and fx.count("ok-1", "after") == 1


async def test_kafka_kill9_during_sleep_and_while_suspended(tmp_path, kafka_bootstrap, namespace, kafka_client):
    fx = Effects(tmp_path)
    kafka = ["--kafka", kafka_bootstrap, "--namespace", namespace]
    worker = kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "w", tmp_path / "w1.log")
    procs = [worker]
    try:
        nap = await kafka_client.invoke("napper", {"seconds": 2}, execution_id="knap-1")
        ask = await kafka_client.invoke("approval", {"amount": 10}, execution_id="kok-1")

        async def both_waiting():
            statuses = [(await kafka_client.get_execution(e)).status for e in ("knap-1", "kok-1")]
            return statuses == ["waiting", "waiting"]

        await assert_eventually(both_waiting, timeout=60)
        kill9(worker)
        resumed = run_cli("resume", "kok-1", "approval", "--data", '{"approved": false}', *kafka, env=fx.env)
        assert resumed.returncode == 0, resumed.stderr
        procs.append(kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "w", tmp_path / "w2.log"))
        assert (await nap.result(timeout=90))["pid"] == procs[1].pid
        assert (await ask.result(timeout=90))["approved"] is False
        for eid in ("knap-1", "kok-1"):
            assert fx.count(eid, "before") == 1 and fx.count(eid, "after") == 1
        fired = [r for r in await kafka_client.history("knap-1") if r.type == "TimerFired"]
        assert len(fired) == 1 and fired[0].outcome == "applied"
    finally:
        for p in procs:
            stop(p)
