"""``logloom agent stream|attach`` as real processes against a real ``logloom worker``, on both logs."""

import json

import pytest
from helpers import ROOT, assert_eventually, run_cli, spawn

from engine.agents.testing import ScriptedModelServer, reply, tool_call

AGENT_APP = str(ROOT / "tests" / "apps" / "agent_app.py")
ANSWER = "Your parcel is in Lyon."


@pytest.fixture
def flags(log_kind, kafka_if_needed, tmp_path, namespace):
    if log_kind == "kafka":
        return ["--kafka", kafka_if_needed, "--namespace", namespace], ["--partitions", "4"]
    return ["--data-dir", str(tmp_path / "data")], []


async def test_agent_stream_prints_tokens_then_attach_reads_the_run_again(tmp_path, flags):
    where, worker_only = flags
    env = {"LOGLOOM_TEST_EFFECTS": str(tmp_path / "effects.txt")}
    turns = [reply("Looking.", [tool_call("lookup", {"n": 4})]), reply(ANSWER, chunk_delay_s=0.02)]
    with ScriptedModelServer(turns) as model:
        env["LOGLOOM_TEST_MODEL_URL"] = model.openai_base_url
        log_file = tmp_path / "worker.log"
        stores = ["--data-dir", str(tmp_path / "stores")] if worker_only else []
        worker = spawn("worker", AGENT_APP, *where, *worker_only, *stores, "-v", env=env, log_file=log_file)
        try:
            await assert_eventually(lambda: log_file.exists() and "owns partitions" in log_file.read_text(), timeout=90)
            streamed = run_cli(
                "agent", "stream", "support", "--input", "Where is my parcel?", "--execution-id", "st-1", *where,
                env=env,
            )  # fmt: skip
            assert streamed.returncode == 0, streamed.stderr
            assert streamed.stdout == f"Looking.{ANSWER}\n"
            assert "· support calls lookup" in streamed.stderr and "· lookup → 40" in streamed.stderr

            attached = run_cli("agent", "attach", "st-1", "--output", "jsonl", *where, env=env)
            assert attached.returncode == 0, attached.stderr
            events = [json.loads(line) for line in attached.stdout.splitlines()]
            assert events[-1]["kind"] == "result" and events[-1]["result"]["result"] == ANSWER
            texts = [e["data"]["text"] for e in events if e["kind"] == "text_delta"]
            assert "".join(texts) == f"Looking.{ANSWER}"
            tail_from = events[3]["offset"] + 1
            tail = run_cli("agent", "attach", "st-1", "--from-offset", str(tail_from), "-o", "jsonl", *where, env=env)
            offsets = [json.loads(line).get("offset") for line in tail.stdout.splitlines()][:-1]
            assert offsets == [e["offset"] for e in events[4:-1]]  # no gap, no repeat
            assert len(model.requests) == 2
        finally:
            worker.terminate()
            worker.wait(timeout=60)
