"""Session state on both logs: kept across runs, no lost update between concurrent runs."""

import asyncio

import pytest

from engine import LogloomError, StateTooLargeError, WorkflowContext, WorkflowFailedError, workflow

GATES: dict[str, asyncio.Event] = {}


async def pause(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def open_gate(name: str) -> None:
    GATES[name].set()


async def wait_gate(name: str) -> None:
    await GATES[name].wait()


@workflow
async def t_turn(ctx: WorkflowContext, label: str) -> dict:
    count = await ctx.session.state.get("count", 0)
    await ctx.step.run("think", pause, 0.01)  # a real step between the read and the write
    await ctx.session.state.set("count", count + 1)
    turns = await ctx.session.state.get("turns", [])
    await ctx.session.state.set("turns", turns + [label])
    return {"count": count + 1, "session": ctx.session.id}


@workflow
async def t_turn_with_child(ctx: WorkflowContext, label: str) -> int:
    await ctx.session.state.set("owner", label)
    # the child belongs to the same session and the same call tree: it shares the turn
    return await ctx.step.invoke_and_wait("helper", t_turn, {"label": f"{label}/child"})


@workflow
async def t_no_session(ctx: WorkflowContext) -> str:
    try:
        _ = ctx.session
    except LogloomError as exc:
        return str(exc)
    return "no error"


@workflow
async def t_huge_session(ctx: WorkflowContext) -> None:
    await ctx.session.state.set("blob", "x" * (1024 * 1024 + 1))


async def test_session_state_is_kept_across_runs(harness):
    await harness.worker()
    client = await harness.client()
    session = f"{harness.namespace}-chat"
    first = await t_turn.run(client, {"label": "a"}, session_id=session, timeout=60)
    second = await t_turn.run(client, {"label": "b"}, session_id=session, timeout=60)
    assert (first["count"], second["count"]) == (1, 2) and second["session"] == session
    assert await client.get_session_state(session) == {"count": 2, "turns": ["a", "b"]}
    other = await t_turn.run(client, {"label": "z"}, session_id=f"{session}-other", timeout=60)
    assert other["count"] == 1, "sessions do not share state"


async def test_concurrent_runs_of_one_session_lose_no_update(harness):
    await harness.worker()
    client = await harness.client()
    session = f"{harness.namespace}-busy"
    handles = await asyncio.gather(*(t_turn.invoke(client, {"label": f"r{i}"}, session_id=session) for i in range(12)))
    counts = sorted([(await h.result(timeout=90))["count"] for h in handles])
    assert counts == list(range(1, 13)), "every run saw the previous runs' writes"
    state = await client.get_session_state(session)
    assert state["count"] == 12 and sorted(state["turns"]) == sorted(f"r{i}" for i in range(12))


async def test_a_runs_children_share_its_turn(harness):
    await harness.worker()
    client = await harness.client()
    session = f"{harness.namespace}-tree"
    result = await t_turn_with_child.run(client, {"label": "p"}, session_id=session, timeout=60)
    assert result == {"count": 1, "session": session}
    assert await client.get_session_state(session) == {"owner": "p", "count": 1, "turns": ["p/child"]}


async def test_session_errors_name_the_execution(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_no_session.invoke(client)
    assert handle.execution_id in await handle.result(timeout=60)
    huge = await t_huge_session.invoke(client, session_id=f"{harness.namespace}-huge")
    with pytest.raises(WorkflowFailedError) as info:
        await huge.result(timeout=60)
    assert info.value.error["code"] == StateTooLargeError.code
    assert huge.execution_id in info.value.error["message"] and "session.set:blob:1" in info.value.error["message"]
    assert await client.get_session_state(f"{harness.namespace}-huge") == {}


@workflow
async def t_gated_turn(ctx: WorkflowContext, gate: str) -> int:
    count = await ctx.session.state.get("count", 0)  # shares the parent's turn
    await ctx.step.run("holding", open_gate, f"{gate}-held")
    await ctx.step.run("gate", wait_gate, gate)
    await ctx.session.state.set("count", count + 1)
    return count + 1


@workflow
async def t_turn_then_leave(ctx: WorkflowContext, gate: str) -> str:
    await ctx.session.state.set("owner", "leaver")
    await ctx.step.invoke("kid", t_gated_turn, {"gate": gate})  # fire and forget
    await ctx.step.run("kid_holds", wait_gate, f"{gate}-held")
    return "left"


async def test_a_turn_lasts_until_the_last_run_of_its_tree_ends(harness):
    gate = f"{harness.namespace}-tree-gate"
    GATES[gate], GATES[f"{gate}-held"] = asyncio.Event(), asyncio.Event()
    await harness.worker()
    client = await harness.client()
    session = f"{harness.namespace}-leaver"
    await t_turn_then_leave.run(client, {"gate": gate}, session_id=session, timeout=60)
    other = await t_turn.invoke(client, {"label": "other"}, session_id=session)
    await asyncio.sleep(0.5)
    assert (await client.get_execution(other.execution_id, session_id=session)).status == "waiting", (
        "the parent ended, but its child still holds the session"
    )
    GATES[gate].set()
    assert (await other.result(timeout=60))["count"] == 2
    assert (await client.get_session_state(session))["count"] == 2


async def test_a_session_run_is_found_without_its_session_id(harness):
    """On another partition than its id's, and on the same one (where the id's own key
    holds nothing: the run's records are keyed by its session)."""
    await harness.worker()
    client = await harness.client()
    log = await harness.log()
    for same in (False, True):
        run_id = f"{harness.namespace}-run-{same}"
        session = next(
            f"{harness.namespace}-s{i}"
            for i in range(100)
            if (log.partition_for(f"{harness.namespace}-s{i}") == log.partition_for(run_id)) == same
        )
        handle = await t_turn.invoke(client, {"label": "x"}, session_id=session, execution_id=run_id)
        await handle.result(timeout=60)
        assert (await client.get_execution(handle.execution_id)).session_id == session
        types = [r.type for r in await client.history(handle.execution_id, include_claims=False)]
        assert types[0] == "InvocationRequested" and "SessionStateSet" in types and types[-1] == "ExecutionCompleted"
