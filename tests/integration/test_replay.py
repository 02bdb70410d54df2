"""Debug-replay (``engine.replay``): today's code against a run's exported history, on both logs.

The runs are real (a worker on the log under test); the replays are offline: no worker,
no log, no step body. Changed versions of a workflow live in registries of their own,
under the same name, as a new deploy of the code would.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import uuid
from collections import Counter

import orjson
import pytest
from helpers import ROOT, assert_eventually, run_cli
from rocksdict import WriteBatch

from engine import TerminalError, WorkflowContext, WorkflowFailedError, workflow
from engine.errors import HistoryFileError, NotFoundError, StepNotFoundError
from engine.replay.export import export_history
from engine.replay.history_file import loads
from engine.replay.replayer import Replayer
from engine.replay.verify import verify_partition
from engine.store import StorePartition
from engine.workflow.registry import Registry

BODIES: Counter = Counter()  # step name -> times its body ran


def body(name: str, value=None):
    def run():
        BODIES[name] += 1
        return value if value is not None else name.upper()

    run.__name__ = name
    return run


@workflow(name="rp_child")
async def rp_child(ctx: WorkflowContext, n: int) -> int:
    return await ctx.step.run("double", body("double", n * 2))


@workflow(name="rp_order")
async def rp_order(ctx: WorkflowContext, n: int) -> dict:
    a = await ctx.step.run("a", body("a"))
    b, c = await asyncio.gather(ctx.step.run("b", body("b")), ctx.step.run("c", body("c")))
    await ctx.sleep(0.05)
    doubled = await ctx.step.invoke_and_wait("child", rp_child, {"n": n})
    approved = await ctx.wait_for_user("ship it?", input_type="approval", name="approval")
    d = await ctx.step.run("d", body("d"))
    return {"steps": a + b + c + d, "doubled": doubled, "approved": approved}


async def at_approval(client, execution_id: str):
    async def asked():
        execution = await client.get_execution(execution_id)
        return [w["key"] for w in execution.waiting_for] == ["approval"]

    await assert_eventually(asked, timeout=30, message=f"{execution_id} waits for its approval")


async def finished_history(harness, n: int = 4):
    """Run ``rp_order`` to its end on the log under test; its history, exported and read back."""
    await harness.worker()
    client = await harness.client()
    handle = await rp_order.invoke(client, {"n": n})
    await at_approval(client, handle.execution_id)
    await client.resume(handle.execution_id, "approval", True)
    assert (await handle.result(timeout=30))["doubled"] == 2 * n
    exported = await export_history(client, handle.execution_id, with_children=True)
    return loads(exported.dumps())  # through the file format, as `logloom replay run` reads it


async def test_an_unchanged_workflow_replays_ok_and_runs_no_step_body(harness):
    history = await finished_history(harness)
    assert history.status == "completed" and [c.workflow for c in history.children] == ["rp_child"]
    ran = BODIES.copy()
    seen = []
    result = await Replayer().replay(history, on_step=seen.append)
    assert result.verdict == "ok" and result.ok, result.message
    assert [s.requested for s in seen] == ["a", "b", "c", "sleep:1", "child", "approval", "d"]
    assert result.steps_replayed == 7 and result.fold_mismatches == []
    assert BODIES == ran, "a replay runs no step body"
    child = await Replayer().replay(history.children[0])
    assert child.verdict == "ok" and child.steps_replayed == 1


def version(changes: dict):
    """A registry whose ``rp_order`` is today's with some steps renamed, added or dropped."""
    registry = Registry()

    @registry.workflow(name="rp_order")
    async def rp_order_changed(ctx: WorkflowContext, n: int) -> dict:
        a = await ctx.step.run("a", body("a"))
        b, c = await asyncio.gather(ctx.step.run("b", body("b")), ctx.step.run(changes.get("c", "c"), body("c")))
        if changes.get("stop_early"):
            return {"steps": a + b + c}
        await ctx.sleep(0.05)
        doubled = await ctx.step.invoke_and_wait("child", "rp_child", {"n": n})
        approved = await ctx.wait_for_user("ship it?", input_type="approval", name="approval")
        d = await ctx.step.run("d", body("d"))
        if changes.get("one_more"):
            await ctx.step.run("audit", body("audit"))  # the line a code_wants_more names
        return {"steps": a + b + c + d, "doubled": doubled + changes.get("plus", 0), "approved": approved}

    return registry, inspect.getsourcelines(rp_order_changed)


def line_of(source: tuple[list[str], int], text: str) -> int:
    lines, first = source
    return first + next(i for i, line in enumerate(lines) if text in line)


async def test_a_renamed_step_diverges_at_its_position_and_names_the_line_that_asked(harness):
    history = await finished_history(harness)
    registry, source = version({"c": "c_renamed"})
    result = await Replayer(registry).replay(history)
    assert result.verdict == "diverged" and not result.ok
    assert (result.position, result.recorded_step, result.requested_step) == (3, "c", "c_renamed")
    # a branch of gather: the line of the gather call in the workflow
    assert result.location == f"tests/integration/test_replay.py:{line_of(source, 'asyncio.gather')}"
    assert "at position 3 the history recorded step 'c', but the code asks for step 'c_renamed'" in result.message


async def test_code_that_wants_more_and_a_history_that_is_longer_are_told_apart(harness):
    history = await finished_history(harness)
    registry, source = version({"one_more": True})
    more = await Replayer(registry).replay(history)
    assert more.verdict == "code_wants_more" and (more.position, more.requested_step) == (8, "audit")
    audit_line = line_of(source, "the line a code_wants_more names")
    assert more.location == f"tests/integration/test_replay.py:{audit_line}"
    registry, _ = version({"stop_early": True})
    longer = await Replayer(registry).replay(history)
    assert longer.verdict == "history_longer" and (longer.position, longer.recorded_step) == (4, "sleep:1")


async def test_a_different_result_with_the_same_steps_is_reported(harness):
    history = await finished_history(harness)
    registry, _ = version({"plus": 1})
    result = await Replayer(registry).replay(history)
    assert result.verdict == "result_differs" and "'doubled': 9" in result.message and "'doubled': 8" in result.message


async def test_a_run_that_still_waits_replays_to_the_end_of_its_history(harness):
    await harness.worker()
    client = await harness.client()
    handle = await rp_order.invoke(client, {"n": 1})
    await at_approval(client, handle.execution_id)
    history = loads((await export_history(client, handle.execution_id)).dumps())
    assert history.status == "waiting"
    result = await Replayer().replay(history)
    assert result.verdict == "ok" and "reached the end of the history" in result.message
    assert [s.requested for s in result.steps][-1] == "approval" and result.steps_replayed == 6
    registry, _ = version({"c": "c2"})
    assert (await Replayer(registry).replay(history)).verdict == "diverged"


async def test_a_history_of_a_workflow_the_app_does_not_have_is_a_clear_error(harness):
    history = await finished_history(harness)
    invoked = next(r for r in history.records if r.type == "InvocationRequested")
    invoked.fields["workflow"] = "rp_gone"
    with pytest.raises(HistoryFileError, match="ran workflow 'rp_gone', which the app does not define"):
        await Replayer().replay(history)


BROKEN: set[str] = set()  # inputs whose step "d" fails, until the bug is fixed


def step_d(tag: str):
    BODIES["d"] += 1
    if tag in BROKEN:
        raise TerminalError(f"d is broken for {tag}")
    return "D"


@workflow(name="rp_five")
async def rp_five(ctx: WorkflowContext, tag: str) -> str:
    out = ""
    for name in ("a", "b", "c"):
        out += await ctx.step.run(name, body(name))
    out += await ctx.step.run("d", step_d, tag)
    return out + await ctx.step.run("e", body("e"))


async def test_a_rerun_from_step_3_of_a_5_step_run_does_not_run_steps_1_and_2_again(harness):
    await harness.worker()
    client = await harness.client()
    tag = f"t{uuid.uuid4().hex[:6]}"
    BROKEN.add(tag)
    handle = await rp_five.invoke(client, {"tag": tag})
    with pytest.raises(WorkflowFailedError, match="d is broken"):
        await handle.result(timeout=30)
    BROKEN.discard(tag)  # the fix is deployed
    before = BODIES.copy()
    again = await client.rerun(handle.execution_id, "c")
    assert await again.result(timeout=30) == "ABCDE"
    ran = BODIES - before
    assert ran == Counter({"c": 1, "d": 1, "e": 1}), "steps 1 and 2 returned their recorded results"
    execution = await client.get_execution(again.execution_id)
    assert execution.rerun_of == {"execution_id": handle.execution_id, "from_step": "c", "from_seq": 3}
    assert again.execution_id.startswith(f"{handle.execution_id}~rerun-")
    with pytest.raises(StepNotFoundError, match="recorded no step 'z'; its steps: a, b, c, d"):
        await client.rerun(handle.execution_id, "z")


async def test_verify_proves_live_stores_equal_to_the_log_and_catches_one_flipped_value(harness, tmp_path):
    worker = await harness.worker()
    client = await harness.client()
    for i in range(6):
        assert await rp_five.run(client, {"tag": f"v{i}"}, timeout=30) == "ABCDE"
    log = await harness.log()
    results = [  # while the worker runs: each store read as of its applied offset
        await verify_partition(log, p, worker.store_path(p), tmp_path / "scratch") for p in range(harness.partitions)
    ]
    assert all(r.equal and r.first_difference is None for r in results), [r.first_difference for r in results]
    assert sum(r.keys for r in results) > 6 * 5 and all(len(r.checksum) == 64 for r in results)
    await harness.stop_worker(worker)

    busiest = max(results, key=lambda r: r.keys).partition
    store = StorePartition(worker.store_path(busiest))
    key, row = next(store.scan(b"e/"))  # an execution row
    batch = WriteBatch(raw_mode=True)
    batch.put(key, orjson.dumps({**row, "status": "failed"}))  # one value flipped
    store.write(batch)
    store.close()
    corrupt = await verify_partition(log, busiest, worker.store_path(busiest), tmp_path / "scratch")
    assert not corrupt.equal
    assert corrupt.first_difference["live"]["status"] == "failed"
    assert corrupt.first_difference["rebuilt"]["status"] == "completed"
    assert corrupt.first_difference["key"] == key.decode()
    with pytest.raises(NotFoundError, match="no store of partition 1 at"):
        await verify_partition(log, 1, tmp_path / "nobody", tmp_path / "scratch")


def patched_version():
    """``rp_order`` after a deploy that checks fraud before ``a``, behind ``ctx.patched``."""
    registry = Registry()

    @registry.workflow(name="rp_order")
    async def rp_order_patched(ctx: WorkflowContext, n: int) -> dict:
        fraud = await ctx.step.run("fraud", body("fraud", "clean")) if await ctx.patched("fraud-check") else None
        a = await ctx.step.run("a", body("a"))
        b, c = await asyncio.gather(ctx.step.run("b", body("b")), ctx.step.run("c", body("c")))
        await ctx.sleep(0.05)
        doubled = await ctx.step.invoke_and_wait("child", "rp_child", {"n": n})
        approved = await ctx.wait_for_user("ship it?", input_type="approval", name="approval")
        d = await ctx.step.run("d", body("d"))
        out = {"steps": a + b + c + d, "doubled": doubled, "approved": approved}
        return out if fraud is None else {**out, "fraud": fraud}

    registry.add(rp_child)
    return registry


async def test_a_patched_change_replays_old_histories_the_old_way_and_new_runs_the_new_way(harness):
    old = await finished_history(harness)  # recorded before the change
    unpatched, _ = version({"c": "c"})
    assert (await Replayer(unpatched).replay(old)).verdict == "ok"
    patched = patched_version()
    assert (await Replayer(patched).replay(old)).verdict == "ok", "the old path, as recorded"

    for running in list(harness.workers):  # the deploy: the old code's worker goes
        await harness.stop_worker(running)
    worker = await harness.worker(registry=patched)
    client = await harness.client()
    handle = await client.invoke("rp_order", {"n": 2})
    await at_approval(client, handle.execution_id)
    await client.resume(handle.execution_id, "approval", True)
    assert (await handle.result(timeout=30))["fraud"] == "clean"
    new = loads((await export_history(client, handle.execution_id)).dumps())
    keys = [r.fields["key"] for r in new.records if r.type == "StepCompleted"]
    assert keys[:3] == ["patch:fraud-check", "fraud", "a"]
    result = await Replayer(patched).replay(new)
    assert result.verdict == "ok" and result.steps_replayed == 9
    assert (await Replayer(unpatched).replay(new)).verdict == "diverged", "the old code cannot replay a new run"
    await harness.stop_worker(worker)


async def test_the_cli_replays_a_file_and_the_child_runs_it_holds(harness, tmp_path):
    history = await finished_history(harness)
    path = tmp_path / "order.json"
    path.write_bytes(history.dumps())
    tests = ROOT / "tests"
    done = run_cli("replay", "run", "test_replay", str(path), "--output", "json",
                   env={"PYTHONPATH": os.pathsep.join(map(str, (ROOT, tests, tests / "integration")))})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    verdicts = json.loads(done.stdout)
    assert [(v["workflow"], v["verdict"]) for v in verdicts] == [("rp_order", "ok"), ("rp_child", "ok")]
    assert verdicts[1]["file"] == f"{path} > {history.children[0].execution_id}"


async def test_a_replay_leaves_the_callers_tasks_alone(harness):
    await harness.worker()
    client = await harness.client()
    handle = await rp_order.invoke(client, {"n": 1})
    await at_approval(client, handle.execution_id)  # its history ends on an open wait: the replay settles
    history = loads((await export_history(client, handle.execution_id)).dumps())
    replay = asyncio.create_task(Replayer().replay(history))
    await asyncio.sleep(0)
    neighbour = asyncio.create_task(asyncio.sleep(1.0, result="still here"))  # made while the replay runs
    assert (await replay).verdict == "ok"
    assert await neighbour == "still here"
