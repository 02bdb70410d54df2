"""kill -9 while events are in flight to waiting executions, on both logs."""

import json

import pytest
from helpers import assert_eventually, run_cli
from processes import Effects, embedded_worker_owning, kafka_worker, kill9, stop

pytestmark = pytest.mark.chaos
ORDERS = 12


def check_effects(fx: Effects, ids: list[str], killed_pid: int | None = None) -> None:
    """Every recorded step ran once. The one exception is a step the kill cut off between
    its effect and its record: it runs again on the next worker, so at most twice, the
    first time in the killed process."""
    for eid in ids:
        assert fx.count(eid, "before") == 1, eid
        pids = fx.pids(eid, "after", "ran")
        assert len(pids) == 1 or (len(pids) == 2 and pids[0] == killed_pid != pids[1]), (eid, pids)


async def test_kafka_kill9_while_events_are_in_flight(tmp_path, kafka_bootstrap, namespace, kafka_client):
    fx = Effects(tmp_path)
    topic = f"{namespace}.pickup"
    fx.env["LOGLOOM_TEST_PICKUP_TOPIC"] = topic
    a = kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "a", tmp_path / "a.log")
    procs = [a]
    try:
        ids = [f"pick-{i}" for i in range(ORDERS)]
        handles = [await kafka_client.invoke("await_pickup", {"order_id": eid}, execution_id=eid) for eid in ids]
        await assert_eventually(lambda: all(fx.count(e, "before") == 1 for e in ids), timeout=60)
        for i, eid in enumerate(ids):
            await kafka_client.publish_event(f"{topic}/{eid}", {"n": i})
            if i == ORDERS // 2:
                kill9(a)
                procs.append(kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "a", tmp_path / "b.log"))
        for i, handle in enumerate(handles):
            assert (await handle.result(timeout=120))["n"] == i
        check_effects(fx, ids, killed_pid=a.pid)
    finally:
        for p in procs:
            stop(p)


async def test_embedded_kill9_while_events_are_in_flight(tmp_path):
    fx = Effects(tmp_path)
    fx.env["LOGLOOM_TEST_PICKUP_TOPIC"] = "pickups"
    data = ["--data-dir", str(tmp_path / "data")]
    worker = await embedded_worker_owning(fx, tmp_path / "data", tmp_path / "w1.log")
    procs = [worker]
    try:
        ids = [f"epick-{i}" for i in range(ORDERS)]
        for eid in ids:
            done = run_cli(
                "invoke",
                "await_pickup",
                "--input",
                json.dumps({"order_id": eid}),
                "--execution-id",
                eid,
                *data,
                env=fx.env,
            )
            assert done.returncode == 0, done.stderr
        await assert_eventually(lambda: all(fx.count(e, "before") == 1 for e in ids), timeout=60)
        for i, eid in enumerate(ids[: ORDERS // 2]):
            assert (
                run_cli("publish", f"pickups/{eid}", "--data", json.dumps({"n": i}), *data, env=fx.env).returncode == 0
            )
        kill9(worker)
        procs.append(await embedded_worker_owning(fx, tmp_path / "data", tmp_path / "w2.log"))
        for i, eid in enumerate(ids[ORDERS // 2 :], start=ORDERS // 2):
            assert (
                run_cli("publish", f"pickups/{eid}", "--data", json.dumps({"n": i}), *data, env=fx.env).returncode == 0
            )
        for i, eid in enumerate(ids):
            result = run_cli(
                "invoke",
                "await_pickup",
                "--input",
                json.dumps({"order_id": eid}),
                "--execution-id",
                eid,
                "--wait",
                "--timeout",
                "60",
                *data,
                env=fx.env,
            )
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["n"] == i
        check_effects(fx, ids, killed_pid=worker.pid)
    finally:
        for p in procs:
            stop(p)
