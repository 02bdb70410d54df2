"""The CLI against Kafka, with real processes: a worker, `invoke --wait`, `history`, `workflow get`."""

import json

import pytest
from helpers import ROOT, assert_eventually, history, run_cli, spawn
from processes import owns_partitions

pytestmark = pytest.mark.chaos


async def test_worker_invoke_history_on_kafka(tmp_path, kafka_bootstrap, namespace):
    kafka = ["--kafka", kafka_bootstrap, "--namespace", namespace]
    worker = spawn(
        "worker",
        "examples/orders.py",
        *kafka,
        "--partitions",
        "4",
        "--data-dir",
        str(tmp_path),
        "-v",
        log_file=tmp_path / "worker.log",
    )
    try:
        await assert_eventually(lambda: owns_partitions(tmp_path / "worker.log"), timeout=60)
        done = run_cli(
            "invoke",
            "process_order",
            "--input",
            '{"order_id": "c1", "amount": 3}',
            "--execution-id",
            "cli-1",
            "--wait",
            "--timeout",
            "60",
            *kafka,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"status": "completed", "charge_id": "ch_c1"}

        types = [r["type"] for r in history("cli-1", *kafka) if r["type"] != "PartitionClaimed"]
        assert types == [
            "InvocationRequested",
            "ExecutionStarted",
            "StepCompleted",
            "StepCompleted",
            "StepCompleted",
            "ExecutionCompleted",
        ]

        status = run_cli("workflow", "get", "cli-1", *kafka)
        assert json.loads(status.stdout)["status"] == "completed"

        bad = run_cli(
            "invoke",
            "process_order",
            "--input",
            '{"order_id": "c2"}',
            "--execution-id",
            "cli-2",
            "--wait",
            "--timeout",
            "60",
            *kafka,
        )
        assert bad.returncode == 1 and "INVALID_INPUT" in bad.stderr

        missing = run_cli("workflow", "get", "nope", *kafka)
        assert missing.returncode == 3 and "no execution 'nope'" in missing.stderr
    finally:
        worker.terminate()
        worker.wait(timeout=30)


async def test_a_second_shell_acts_on_an_embedded_worker(tmp_path):
    """A long-lived embedded worker owns the log; other processes invoke, inspect and resume."""
    app = str(ROOT / "tests" / "apps" / "crash_app.py")
    effects = tmp_path / "effects.txt"
    data = ["--data-dir", str(tmp_path / "data")]
    env = {"LOGLOOM_TEST_EFFECTS": str(effects)}
    worker = spawn("worker", app, *data, "-v", env=env, log_file=tmp_path / "worker.log")
    try:
        await assert_eventually(lambda: owns_partitions(tmp_path / "worker.log"), timeout=60)
        started = run_cli("invoke", "approval", "--input", '{"amount": 2000}', "--execution-id", "shell-1", *data)
        assert started.returncode == 0, started.stderr
        assert json.loads(started.stdout) == {"execution_id": "shell-1"}

        async def waiting():
            got = run_cli("workflow", "get", "shell-1", *data)
            return got.returncode == 0 and json.loads(got.stdout)["status"] == "waiting" and json.loads(got.stdout)

        status = await assert_eventually(waiting, timeout=30)
        assert status["waiting_for"][0]["data"] == {"amount": 2000.0}
        listed = run_cli("workflow", "list", "--status", "waiting", "--json", *data)
        assert [e["execution_id"] for e in json.loads(listed.stdout)] == ["shell-1"]

        resumed = run_cli("resume", "shell-1", "approval", "--data", '{"approved": true}', *data)
        assert resumed.returncode == 0, resumed.stderr
        waited = run_cli(
            "invoke",
            "approval",
            "--input",
            '{"amount": 2000}',
            "--execution-id",
            "shell-1",
            "--wait",
            "--timeout",
            "30",
            *data,
        )  # same id: no second run, just its result
        assert waited.returncode == 0, waited.stderr
        assert json.loads(waited.stdout)["approved"] is True and json.loads(waited.stdout)["pid"] == worker.pid

        assert (
            run_cli("invoke", "approval", "--input", '{"amount": 1}', "--execution-id", "shell-2", *data).returncode
            == 0
        )
        cancel = run_cli("workflow", "cancel", "shell-2", "--reason", "changed my mind", *data)
        assert cancel.returncode == 0, cancel.stderr

        async def cancelled():
            got = run_cli("workflow", "get", "shell-2", *data)
            return json.loads(got.stdout)["status"] == "cancelled" and json.loads(got.stdout)

        assert (await assert_eventually(cancelled, timeout=30))["error"]["message"] == "changed my mind"

        shown = run_cli("history", "shell-1", *data)
        for kind in ("Suspended", "ResumeRequested", "ExecutionCompleted"):
            assert kind in shown.stdout
        assert "duplicate" in shown.stdout  # the second invoke with the same id
    finally:
        worker.terminate()
        worker.wait(timeout=30)
