"""docs/agents.md's example, run as a user runs it: with no API key set it talks to the
scripted model server, on the embedded log from Python, and on both logs through the CLI."""

import json
import os
import subprocess
import sys

from helpers import ROOT, assert_eventually, run_cli, spawn

EXAMPLE = "examples/agents.py"
NO_KEYS = {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""}


def test_the_agents_example_runs_from_python_and_says_it_uses_the_scripted_server():
    done = subprocess.run(
        [sys.executable, EXAMPLE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), **NO_KEYS},
    )
    assert done.returncode == 0, done.stderr
    assert "the agents talk to the scripted model server" in done.stderr
    assert done.stdout.splitlines() == [
        "1. {'status': 'accepted', 'order_id': 'o-1', 'tokens': 30}",
        "2. order_validator answered Verdict(valid=False, reason='0 in stock for 1 ordered') "
        "after handoffs ['order_validator']",
        "3. the refund waits for a person; approving it",
        '   Done: {"order_id":"o-3","refunded":42.5}',
        "4. Your parcel left our warehouse this morning and arrives tomorrow.",
        "   (15 tokens)",
        "5. session cust-42 used {'input_tokens': 50, 'output_tokens': 25, 'model_calls': 5}",
    ]


async def test_the_agents_example_on_a_worker_through_the_cli(log_kind, kafka_if_needed, tmp_path, namespace):
    if log_kind == "kafka":
        where, worker_only = ["--kafka", kafka_if_needed, "--namespace", namespace], ["--partitions", "4"]
        worker_only += ["--data-dir", str(tmp_path / "stores")]
    else:
        where, worker_only = ["--data-dir", str(tmp_path / "data")], []
    log_file = tmp_path / "worker.log"
    worker = spawn("worker", EXAMPLE, *where, *worker_only, "-v", env=NO_KEYS, log_file=log_file)
    try:
        await assert_eventually(lambda: log_file.exists() and "owns partitions" in log_file.read_text(), timeout=90)
        order = run_cli(
            "workflow", "execute", "process_order", "--input", '{"order_id": "o-5", "sku": "B7", "quantity": 1}',
            "--timeout", "60", "--output", "json", *where, env=NO_KEYS,
        )  # fmt: skip
        assert order.returncode == 0, order.stderr
        assert json.loads(order.stdout) == {"status": "invalid", "reason": "0 in stock for 1 ordered"}

        asked = run_cli(
            "invoke", "triage", "--input", '"I was charged twice"', "--execution-id", "refund-1", *where, env=NO_KEYS
        )
        assert asked.returncode == 0, asked.stderr
        resumed = run_cli(
            "resume", "refund-1", "approve:1.0:issue_refund", "--data", '{"approved": true}', *where, env=NO_KEYS
        )
        assert resumed.returncode in (0, 7), resumed.stderr  # applied, or kept until the run asks
        result = run_cli("workflow", "result", "refund-1", "--timeout", "60", "--output", "json", *where, env=NO_KEYS)
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        assert answer["result"] == 'Done: {"order_id":"o-3","refunded":42.5}' and answer["agent"] == "triage"

        streamed = run_cli("agent", "stream", "triage", "--input", "Where is my parcel?", *where, env=NO_KEYS)
        assert streamed.returncode == 0, streamed.stderr
        assert streamed.stdout == "Your parcel left our warehouse this morning and arrives tomorrow.\n"
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def test_a_worker_without_an_api_key_refuses_to_start_and_says_which(tmp_path):
    app = tmp_path / "keyless.py"
    app.write_text("from engine import Agent\n\nhelper = Agent(id='helper', provider='openai', model='gpt-4o')\n")
    done = run_cli("worker", str(app), "--data-dir", str(tmp_path / "data"), env={"OPENAI_API_KEY": ""}, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: agent 'helper': provider 'openai' needs an API key: set OPENAI_API_KEY (or pass api_key=)"
    )
