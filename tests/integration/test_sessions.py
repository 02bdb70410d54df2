"""Session state on both logs: kept across runs, no lost update between concurrent runs."""

import asyncio

import pytest

from engine import LogloomError, StateTooLargeError, WorkflowContext, WorkflowFailedError, workflow


async def pause(seconds: float) -> None:
    await asyncio.sleep(seconds)


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
        ctx.session
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
    handles = await asyncio.gather(*(t_turn.invoke(client, {"label": f"r{i}"}, session_id=session)
                                     for i in range(12)))
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
