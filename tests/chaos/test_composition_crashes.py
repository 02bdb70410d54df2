"""kill -9 in the middle of a batch, of a stateful loop and of a parent/child pair, on both logs.

Step bodies count their runs in an effects file (tests/apps/crash_app.py). A body that
was interrupted before its record reached the log may run again; a body whose record
was on the log when the worker died must never run again.
"""

import json
import re

import pytest
from helpers import assert_eventually, history, run_cli, spawn
from processes import APP, Effects, kafka_worker, kafka_worker_owning, kill9, stop

from engine.log.base import partition_for

pytestmark = pytest.mark.chaos

BATCH = 100


def completed_keys(records: list[dict]) -> set[str]:
    return {r["fields"]["key"] for r in records if r["type"] == "StepCompleted" and r["outcome"] == "applied"}


def item_keys(n: int) -> list[str]:
    return [f"batch:batch_item:1[{i}]" for i in range(n)]


def assert_batch(fx: Effects, execution_id: str, result: dict, recorded_before: set[str]) -> None:
    assert result["completed"] == BATCH and result["sum"] == sum(2 * i for i in range(BATCH))
    assert 0 < len(recorded_before) < BATCH, "the worker died in the middle of the batch"
    for key in item_keys(BATCH):
        ran = fx.count(execution_id, key)
        if key in recorded_before:
            assert ran == 1, f"{key} completed before the crash and ran {ran} times"
        else:
            assert ran >= 1, f"{key} never ran"


async def test_embedded_kill9_mid_batch_reruns_no_finished_item(tmp_path):
    fx = Effects(tmp_path)
    data = tmp_path / "data"
    args = [
        "run",
        f"{APP}:batch_items",
        "--input",
        json.dumps({"n": BATCH}),
        "--execution-id",
        "batch-1",
        "--data-dir",
        str(data),
    ]
    first = spawn(*args, env=fx.env)
    try:
        await assert_eventually(
            lambda: sum(fx.count("batch-1", k) for k in item_keys(BATCH)) >= 30,
            timeout=60,
            message="a third of the items ran",
        )
    finally:
        kill9(first)
    recorded = completed_keys(history("batch-1", "--data-dir", str(data), env=fx.env))
    second = run_cli(*args, env=fx.env)
    assert second.returncode == 0, second.stderr
    assert_batch(fx, "batch-1", json.loads(second.stdout), recorded)


async def test_embedded_state_after_kill9_is_as_of_the_last_recorded_step(tmp_path):
    fx = Effects(tmp_path)
    data = tmp_path / "data"
    args = ["run", f"{APP}:tally", "--input", '{"n": 40}', "--execution-id", "tally-1", "--data-dir", str(data)]
    first = spawn(*args, env=fx.env)
    try:
        await assert_eventually(lambda: fx.count("tally-1", "item15") == 1, timeout=60)
    finally:
        kill9(first)
    records = history("tally-1", "--data-dir", str(data), env=fx.env)
    last = [r for r in records if r["type"] == "StepCompleted"][-1]
    second = run_cli(*args, env=fx.env)
    assert second.returncode == 0, second.stderr
    assert_tally(fx, "tally-1", json.loads(second.stdout), last, first.pid)


def assert_tally(fx: Effects, execution_id: str, result: dict, last_before: dict, dead_pid: int) -> None:
    assert result["state"] == {"count": 40, "seen": list(range(40))}, "no change to the state was lost or doubled"
    n = int(last_before["fields"]["key"][4:])
    assert last_before["fields"]["state"]["count"] == n, "each step records the state before it"
    for i in range(40):
        # every body saw the state as of the step before it, in the dead process and after the restart
        assert fx.count(execution_id, f"item{i}", f"saw{i}") >= 1
        assert all(ev in ("ran", f"saw{i}") for e, s, ev, _ in fx.lines() if (e, s) == (execution_id, f"item{i}"))
    for i in range(n + 1):
        assert fx.count(execution_id, f"item{i}") == 1, f"item{i} was recorded before the crash"
    assert any(int(p) != dead_pid for e, s, ev, p in fx.lines() if e == execution_id and s == f"item{n + 1}")


async def test_embedded_kill9_with_parent_and_child_on_other_partitions(tmp_path):
    fx = Effects(tmp_path)
    data = tmp_path / "data"
    where = lambda key: partition_for(key, 4)  # the embedded log's default: 4 partitions
    parent = next(f"fam-{i}" for i in range(50) if where(f"fam-{i}") != where(f"fam-{i}:kid"))
    args = ["run", f"{APP}:family", "--input", '{"n": 1}', "--execution-id", parent, "--data-dir", str(data)]
    first = spawn(*args, env=fx.env)
    try:
        await assert_eventually(
            lambda: fx.count(f"{parent}:kid", "two", "start") == 1,
            timeout=60,
            message="the child waits in its second step",
        )
    finally:
        kill9(first)
    fx.open_gate(f"{parent}:kid")
    second = run_cli(*args, env=fx.env)
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    assert result["value"] == 5 and result["kid_pid"] != first.pid
    assert fx.count(parent, "before") == 1 and fx.count(parent, "after") == 1
    assert fx.count(f"{parent}:kid", "one") == 1 and fx.count(f"{parent}:kid", "two") == 1
    shown = run_cli("history", parent, "--output", "table", "--data-dir", str(data), env=fx.env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    invoked = next(line for line in lines if "ChildInvoked" in line)
    finished = next(line for line in lines if "ChildFinished" in line)
    assert f'"child_execution_id": "{parent}:kid"' in invoked and '"status": "completed"' in finished


# -- Kafka: separate worker processes ------------------------------------------------------


async def test_kafka_kill9_mid_batch_and_mid_tally(tmp_path, kafka_bootstrap, namespace, kafka_client):
    fx = Effects(tmp_path)
    worker = kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "w", tmp_path / "w1.log")
    procs = [worker]
    try:
        batch = await kafka_client.invoke("batch_items", {"n": BATCH}, execution_id="kbatch-1")
        tally = await kafka_client.invoke("tally", {"n": 40}, execution_id="ktally-1")
        await assert_eventually(
            lambda: (
                sum(fx.count("kbatch-1", k) for k in item_keys(BATCH)) >= 30 and fx.count("ktally-1", "item10") == 1
            ),
            timeout=60,
        )
        kill9(worker)
        recorded = completed_keys([r.model_dump() for r in await kafka_client.history("kbatch-1")])
        steps = [r for r in await kafka_client.history("ktally-1") if r.type == "StepCompleted"]
        last = {"type": steps[-1].type, "fields": steps[-1].payloads_decoded()}  # as `logloom history --json` shows it
        procs.append(kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "w", tmp_path / "w2.log"))
        assert_batch(fx, "kbatch-1", await batch.result(timeout=120), recorded)
        assert_tally(fx, "ktally-1", await tally.result(timeout=120), last, worker.pid)
    finally:
        for p in procs:
            stop(p)


def active_partitions(log_file) -> set[int]:
    return {int(p) for p in re.findall(r"partition (\d+): active with epoch", log_file.read_text())}


async def test_kafka_parent_and_child_on_two_workers_survive_a_kill9(
    tmp_path, kafka_bootstrap, namespace, kafka_client
):
    """A owns some partitions, B the rest. Kill A: some parents lose their worker while their
    child runs on, and some children lose theirs while their parent waits."""
    fx = Effects(tmp_path)
    a = await kafka_worker_owning(fx, kafka_bootstrap, namespace, tmp_path, "a")
    b = None
    try:
        b = await kafka_worker_owning(fx, kafka_bootstrap, namespace, tmp_path, "b")
        on_b = active_partitions(tmp_path / "b.log")
        assert 0 < len(on_b) < 4
        where = kafka_client.log.partition_for
        families = {"parent dies": None, "child dies": None}
        for i in range(200):
            parent, child = f"kfam-{i}", f"kfam-{i}:kid"
            if where(parent) not in on_b and where(child) in on_b and families["parent dies"] is None:
                families["parent dies"] = parent
            if where(parent) in on_b and where(child) not in on_b and families["child dies"] is None:
                families["child dies"] = parent
        handles = {
            kind: await kafka_client.invoke("family", {"n": 1}, execution_id=parent)
            for kind, parent in families.items()
        }
        for parent in families.values():
            await assert_eventually(lambda parent=parent: fx.count(f"{parent}:kid", "two", "start") == 1, timeout=60)
        assert fx.pids(families["parent dies"], "before", "ran") == [a.pid]
        assert fx.pids(f"{families['child dies']}:kid", "one", "ran") == [a.pid]
        kill9(a)
        for parent in families.values():
            fx.open_gate(f"{parent}:kid")
        for kind, parent in families.items():
            result = await handles[kind].result(timeout=120)
            assert result["value"] == 5 and result["pid"] == b.pid, kind
            assert fx.count(parent, "before") == 1 and fx.count(parent, "after") == 1, kind
            assert fx.count(f"{parent}:kid", "one") == 1 and fx.count(f"{parent}:kid", "two") == 1, kind
    finally:
        stop(a)
        if b is not None:
            stop(b)
