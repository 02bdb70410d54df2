"""The documentation's examples, run as a user runs them: real processes through the CLI.

``examples/composition.py`` (docs/composition.md): the parent with every way of calling
children and steps, with ``logloom run``; session state with a ``logloom worker`` and
two ``logloom invoke --session-id`` from other processes; and its ``python`` main.
"""

import json
import os
import re
import subprocess
import sys

from helpers import ROOT, assert_eventually, history, run_cli, spawn

EXAMPLE = "examples/composition.py"
DOCS = ["a b c", "d e", "f"]


def summary(doc: str, prefix: str = "") -> str:
    return f"{prefix}{doc} ({len(doc.split())} words)"


def expected_review(execution_id: str) -> dict:
    each = [
        {
            "id": f"{execution_id}:each[{i}]",
            "workflow": "summarize",
            "success": True,
            "result": summary(doc),
            "error": None,
        }
        for i, doc in enumerate(DOCS)
    ]
    each.append(
        {
            "id": f"{execution_id}:each[3]",
            "workflow": "summarize",
            "success": False,
            "result": None,
            "error": f"step 'each[3]' failed: ValueError: child execution {execution_id}:each[3] failed: "
            "empty document",
        }
    )
    return {
        "audit": f"{execution_id}:audit",
        "notified": [f"{execution_id}:notify[{i}]" for i in range(len(DOCS))],
        "first": {"summary": summary("a b c", "1: "), "parent": execution_id, "root": execution_id},
        "concurrent": [summary("d e"), summary("f", "3: ")],
        "lengths": [5, 3],
        "named": {"upper": "A B C", "child": summary("f")},
        "batch": {"results": ["ok: a b c", "ok: d e", "ok: f", None], "failed": 1},
        "words": [3, 2, 1],
        "failure": {"step": "empty", "error_type": "ValueError", "cause_code": "ERROR"},
        "each": each,
    }


def test_the_composition_example_runs_with_logloom_run(tmp_path):
    data = ["--data-dir", str(tmp_path / "data")]
    args = [
        "run",
        f"{EXAMPLE}:review_docs",
        "--input",
        json.dumps({"docs": DOCS}),
        "--execution-id",
        "review-1",
        "--timeout",
        "60",
        *data,
    ]
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected_review("review-1")

    again = run_cli(*args)  # the same id: the recorded result, nothing runs twice
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == expected_review("review-1")

    parent = history("review-1", *data)
    types = [r["type"] for r in parent]
    # audit, notify[0..2], first, second, third, named, empty, each[0..3]
    assert types.count("ChildInvoked") == 13
    assert types.count("ChildFinished") >= 9  # fire-and-forget children may still be running
    assert types.count("ExecutionStarted") == 1 and types.count("ExecutionCompleted") == 1
    assert sum(1 for r in parent if r["type"] == "InvocationRequested" and r["outcome"] == "applied") == 1
    invoked = next(r for r in parent if r["type"] == "ChildInvoked" and r["fields"]["key"] == "first")
    assert invoked["fields"]["wait"] is True and invoked["fields"]["child_execution_id"] == "review-1:first"
    assert invoked["fields"]["initial_state"] == {"prefix": "1: ", "words": 0}  # history decodes payloads
    empty = next(r for r in parent if r["type"] == "ChildInvoked" and r["fields"]["key"] == "empty")
    failed = next(r for r in parent if r["type"] == "ChildFinished" and r["fields"]["seq"] == empty["fields"]["seq"])
    assert failed["fields"]["status"] == "failed" and failed["fields"]["error"]["type"] == "ValueError"

    child = history("review-1:first", *data)
    child_types = [r["type"] for r in child if r["type"] != "PartitionClaimed"]
    assert child_types == [
        "InvocationRequested",
        "ExecutionStarted",
        "StepCompleted",
        "ExecutionCompleted",
        "ChildAcknowledged",
    ]
    invocation = next(r for r in child if r["type"] == "InvocationRequested")
    assert (invocation["fields"]["parent_execution_id"], invocation["fields"]["root_execution_id"]) == (
        "review-1",
        "review-1",
    )
    end = next(r for r in child if r["type"] == "ExecutionCompleted")
    assert end["fields"]["state"] == {"prefix": "1: ", "words": 3}


async def test_session_state_carries_over_between_runs_of_one_session(tmp_path):
    data = ["--data-dir", str(tmp_path / "data")]
    log_file = tmp_path / "worker.log"
    worker = spawn("worker", EXAMPLE, *data, "-v", log_file=log_file)
    try:
        await assert_eventually(
            lambda: log_file.exists() and "active with epoch" in log_file.read_text(),
            timeout=60,
            message="the worker owns a partition",
        )

        def turn(session: str, message: str, execution_id: str) -> dict:
            done = run_cli(
                "invoke",
                "chat_turn",
                "--session-id",
                session,
                "--execution-id",
                execution_id,
                "--input",
                json.dumps({"message": message}),
                "--wait",
                "--timeout",
                "60",
                *data,
            )
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)

        first = turn("s1", "hello world", "t1")
        second = turn("s1", "hello again", "t2")
        other = turn("s2", "goodbye", "t3")
        assert first == {
            "session": "s1",
            "turn": 1,
            "reply": "HELLO WORLD",
            "messages": ["hello world"],
            "topics": ["hello"],
        }
        assert second == {
            "session": "s1",
            "turn": 2,
            "reply": "HELLO AGAIN",
            "messages": ["hello world", "hello again"],
            "topics": ["hello"],
        }
        assert other["turn"] == 1 and other["messages"] == ["goodbye"], "sessions do not share state"

        records = history("t2", "--session-id", "s1", *data)
        types = [r["type"] for r in records]
        assert types.index("SessionLockRequested") < types.index("SessionStateSet") < types.index("ChildInvoked")
        read = next(
            r for r in records if r["type"] == "StepCompleted" and r["fields"]["key"] == "session.get:messages:1"
        )
        assert read["fields"]["result"] == ["hello world"]
        set_ = next(r for r in records if r["type"] == "SessionStateSet")
        assert set_["fields"]["name"] == "messages"
        assert set_["fields"]["value"] == ["hello world", "hello again"]
        found = history("t2", *data)  # without --session-id: every partition is read
        assert [r["type"] for r in found if r["type"] != "PartitionClaimed"] == [
            r["type"] for r in records if r["type"] != "PartitionClaimed"
        ]
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_the_composition_example_runs_from_python(tmp_path):
    done = subprocess.run(
        [sys.executable, EXAMPLE, str(tmp_path / "data")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "fn: called like a function (4 words)",
        "['one (1 words)', 'two (1 words)']",
        "1 ['hello world']",
        "2 ['hello world', 'hello again']",
        "{'messages': ['hello world', 'hello again'], 'topics': ['hello']}",
    ]


# -- examples/schedules.py (docs/flow-control.md) ------------------------------------------------


def test_the_schedules_example_runs_from_python(tmp_path):
    done = subprocess.run(
        [sys.executable, "examples/schedules.py", str(tmp_path / "data")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"reminder ran [23] times, once per tick: remind user-7: tick \d\d:\d\d:\d\d", lines[0])
    assert lines[1] == "['report for 2026-11-01', 'report for 2026-11-02', 'report for 2026-11-03']"
    assert lines[2] == "daily_report/global '0 9 * * *' Europe/Paris next 08:00:00"  # 9:00 CET is 08:00 UTC
    assert re.fullmatch(r"heartbeat/global '\*/2 \* \* \* \* \*' UTC next \d\d:\d\d:\d[02468]", lines[3])
    assert lines[4] == "reminder/user-7 '* * * * * *' America/New_York paused"


async def test_the_schedules_example_worker_runs_its_decorator_schedules(tmp_path):
    data = ["--data-dir", str(tmp_path / "data")]
    worker = spawn("worker", "examples/schedules.py", *data, log_file=tmp_path / "worker.log")
    try:

        async def heartbeats() -> list:
            done = run_cli("workflow", "list", "--workflow", "heartbeat", "--status", "completed", *data)
            return json.loads(done.stdout) if done.returncode == 0 and len(json.loads(done.stdout)) >= 2 else []

        ran = await assert_eventually(heartbeats, timeout=60, message="two heartbeats")
        assert all(r["result"] == "alive" and r["execution_id"].startswith("heartbeat/global@tick-") for r in ran)
        listed = run_cli("schedule", "list", "--output", "json", *data)
        assert listed.returncode == 0, listed.stderr
        assert [s["schedule_id"] for s in json.loads(listed.stdout)] == ["daily_report/global", "heartbeat/global"]
    finally:
        worker.terminate()
        worker.wait(timeout=60)
