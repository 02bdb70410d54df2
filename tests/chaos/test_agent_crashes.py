"""kill -9 an agent's worker mid-loop, on both logs: no answered turn is billed again, and
no finished tool runs again. The scripted model server counts what reaches it."""

import json

import pytest
from helpers import ROOT, assert_eventually, run_cli, spawn
from processes import Effects, kill9, stop

from engine.agents.testing import ScriptedModelServer, reply, tool_call

pytestmark = pytest.mark.chaos

AGENT_APP = str(ROOT / "tests" / "apps" / "agent_app.py")


def six_turns() -> list:
    """Turns 1-2 and 4-5 call lookup, turn 3 calls gated_lookup (the kill), turn 6 answers."""
    turns = [reply(tool_calls=[tool_call("lookup", {"n": n})]) for n in (1, 2)]
    turns.append(reply("checking slowly", [tool_call("gated_lookup", {"n": 3})]))
    turns += [reply(tool_calls=[tool_call("lookup", {"n": n})]) for n in (4, 5)]
    return turns + [reply("all six done")]


def assert_each_turn_billed_once(model: ScriptedModelServer) -> None:
    # turn n sends the user's message and two messages per earlier turn: 1, 3, 5, 7, 9, 11
    assert [len(r.body["messages"]) - 1 for r in model.requests] == [1, 3, 5, 7, 9, 11]  # minus the system prompt


def assert_each_tool_ran_once(fx: Effects, execution_id: str) -> None:
    for turn in (1, 2, 4, 5):
        assert fx.count(execution_id, f"tool:{turn}.0:lookup") == 1
    assert fx.count(execution_id, "tool:3.0:gated_lookup", "start") == 2  # cut off once, then finished
    assert fx.count(execution_id, "tool:3.0:gated_lookup") == 1


async def test_embedded_kill9_mid_tool_resumes_the_agent_at_that_turn(tmp_path):
    fx = Effects(tmp_path)
    with ScriptedModelServer(six_turns()) as model:
        fx.env["LOGLOOM_TEST_MODEL_URL"] = model.openai_base_url
        data = ["--data-dir", str(tmp_path / "data")]
        args = ["run", f"{AGENT_APP}:support", "--input", '"six turns please"', "--execution-id", "ag-1", *data]
        first = spawn(*args, env=fx.env)
        try:
            await assert_eventually(lambda: fx.count("ag-1", "tool:3.0:gated_lookup", "start") == 1, timeout=60)
        finally:
            kill9(first)
        assert len(model.requests) == 3
        fx.open_gate("ag-1")
        second = run_cli(*args, env=fx.env)
        assert second.returncode == 0, second.stderr
        result = json.loads(second.stdout)
        assert result["result"] == "all six done" and result["total_steps"] == 6
        assert [t["result"] for t in result["tool_results"]] == [10, 20, 30, 40, 50]
        assert result["usage"]["model_calls"] == 6
        assert_each_turn_billed_once(model)
        assert_each_tool_ran_once(fx, "ag-1")


async def test_kafka_kill9_mid_tool_resumes_the_agent_on_a_new_worker(
    tmp_path, kafka_bootstrap, namespace, kafka_client
):
    fx = Effects(tmp_path)
    with ScriptedModelServer(six_turns()) as model:
        fx.env["LOGLOOM_TEST_MODEL_URL"] = model.openai_base_url

        def worker(name: str):
            options = ["--kafka", kafka_bootstrap, "--namespace", namespace, "--partitions", "4"]
            return spawn(
                "worker", AGENT_APP, *options, "--data-dir", str(tmp_path / name), "-v",
                env=fx.env, log_file=tmp_path / f"{name}.log",
            )  # fmt: skip

        procs = [worker("w1")]
        try:
            handle = await kafka_client.invoke("support", "six turns please", execution_id="kag-1")
            await assert_eventually(lambda: fx.count("kag-1", "tool:3.0:gated_lookup", "start") == 1, timeout=60)
            kill9(procs[0])
            assert len(model.requests) == 3
            fx.open_gate("kag-1")
            procs.append(worker("w2"))
            result = await handle.result(timeout=90)
            assert result["result"] == "all six done" and result["total_steps"] == 6
            assert_each_turn_billed_once(model)
            assert_each_tool_ran_once(fx, "kag-1")
        finally:
            for proc in procs:
                stop(proc)


def refund_turns() -> list:
    return [reply(tool_calls=[tool_call("refund", {"order_id": "o-7"})]), reply("refunded")]


async def test_embedded_tool_approval_survives_kill9_and_a_resume_from_the_cli(tmp_path):
    fx = Effects(tmp_path)
    with ScriptedModelServer(refund_turns()) as model:
        fx.env["LOGLOOM_TEST_MODEL_URL"] = model.openai_base_url
        data = ["--data-dir", str(tmp_path / "data")]
        args = ["run", f"{AGENT_APP}:refunder", "--input", '"refund o-7"', "--execution-id", "rf-1", *data]
        first = spawn(*args, env=fx.env)
        try:

            async def waiting_for_approval():
                got = run_cli("workflow", "get", "rf-1", *data, env=fx.env)
                return got.returncode == 0 and json.loads(got.stdout)["status"] == "waiting"

            await assert_eventually(waiting_for_approval, timeout=60)
        finally:
            kill9(first)
        resumed = run_cli("resume", "rf-1", "approve:1.0:refund", "--data", '{"approved": true}', *data, env=fx.env)
        assert resumed.returncode == 0, resumed.stderr
        second = run_cli(*args, env=fx.env)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["tool_results"][0]["result"] == "refunded o-7"
        assert fx.count("rf-1", "tool:1.0:refund") == 1 and len(model.requests) == 2


async def test_kafka_tool_approval_survives_a_worker_restart(tmp_path, kafka_bootstrap, namespace, kafka_client):
    fx = Effects(tmp_path)
    with ScriptedModelServer(refund_turns()) as model:
        fx.env["LOGLOOM_TEST_MODEL_URL"] = model.openai_base_url
        kafka = ["--kafka", kafka_bootstrap, "--namespace", namespace]

        def worker(name: str):
            return spawn(
                "worker", AGENT_APP, *kafka, "--partitions", "4", "--data-dir", str(tmp_path / name), "-v",
                env=fx.env, log_file=tmp_path / f"{name}.log",
            )  # fmt: skip

        procs = [worker("w1")]
        try:
            handle = await kafka_client.invoke("refunder", "refund o-7", execution_id="krf-1")

            async def waiting():
                return (await kafka_client.get_execution("krf-1")).status == "waiting"

            await assert_eventually(waiting, timeout=60)
            kill9(procs[0])
            answer = '{"approved": true}'
            resumed = run_cli("resume", "krf-1", "approve:1.0:refund", "--data", answer, *kafka, env=fx.env)
            assert resumed.returncode == 0, resumed.stderr
            procs.append(worker("w2"))
            result = await handle.result(timeout=90)
            assert result["tool_results"][0]["result"] == "refunded o-7"
            assert fx.count("krf-1", "tool:1.0:refund") == 1 and len(model.requests) == 2
        finally:
            for proc in procs:
                stop(proc)
