"""Crash tests with real processes: kill -9, takeover, and a paused (SIGSTOP) zombie.

Step bodies count their runs in an effects file (see tests/apps/crash_app.py), so the
tests check what really ran, not what the engine says.
"""

import json
import signal

import pytest
from helpers import assert_eventually, run_cli, spawn
from processes import APP, Effects, kafka_worker, kafka_worker_owning, kill9, owns_partitions, stop

pytestmark = pytest.mark.chaos


# -- embedded log: `logloom run` killed between steps, then run again ----------------------


async def test_embedded_kill9_between_steps_resumes_without_rerunning(tmp_path):
    fx = Effects(tmp_path)
    args = [
        "run",
        f"{APP}:crashy",
        "--input",
        '{"n": 1}',
        "--execution-id",
        "crash-1",
        "--data-dir",
        str(tmp_path / "data"),
    ]
    first = spawn(*args, env=fx.env, log_file=tmp_path / "first.log")
    try:
        await assert_eventually(
            lambda: fx.count("crash-1", "three", "start") == 1,
            timeout=60,
            message="step three started (one and two recorded)",
        )
    finally:
        kill9(first)
    fx.open_gate("crash-1")
    second = run_cli(*args, env=fx.env)
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    assert result["value"] == 4 and result["pid"] != first.pid
    assert fx.count("crash-1", "one") == 1 and fx.count("crash-1", "two") == 1
    assert fx.count("crash-1", "three") == 1  # the interrupted body completed once, in the new process


def test_embedded_log_admits_one_process_at_a_time(tmp_path):
    fx = Effects(tmp_path)
    data = str(tmp_path / "data")
    holder = spawn(
        "run", f"{APP}:crashy", "--input", '{"n": 1}', "--execution-id", "lock-1", "--data-dir", data, env=fx.env
    )
    try:
        import time

        deadline = time.monotonic() + 60
        while fx.count("lock-1", "three", "start") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        other = run_cli("run", f"{APP}:crashy", "--input", '{"n": 1}', "--data-dir", data, env=fx.env, timeout=60)
        assert other.returncode == 2 and "in use by another process" in other.stderr
    finally:
        kill9(holder)


# -- Kafka: separate worker processes ------------------------------------------------------


async def test_kafka_kill9_between_steps_resumes_without_rerunning(tmp_path, kafka_bootstrap, namespace, kafka_client):
    fx = Effects(tmp_path)
    worker = kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "w", tmp_path / "w1.log")
    procs = [worker]
    try:
        handle = await kafka_client.invoke("crashy", {"n": 1}, execution_id="kcrash-1")
        await assert_eventually(lambda: fx.count("kcrash-1", "three", "start") == 1, timeout=60)
        kill9(worker)
        fx.open_gate("kcrash-1")
        procs.append(kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "w", tmp_path / "w2.log"))
        result = await handle.result(timeout=90)
        assert result["value"] == 4 and result["pid"] == procs[1].pid
        assert fx.count("kcrash-1", "one") == 1 and fx.count("kcrash-1", "two") == 1
        assert fx.count("kcrash-1", "three") == 1
    finally:
        for p in procs:
            stop(p)


async def test_kafka_two_workers_kill_one_the_other_takes_over(tmp_path, kafka_bootstrap, namespace, kafka_client):
    fx = Effects(tmp_path)
    a = await kafka_worker_owning(fx, kafka_bootstrap, namespace, tmp_path, "a")
    b = None
    try:
        b = await kafka_worker_owning(fx, kafka_bootstrap, namespace, tmp_path, "b")
        ids = [f"take-{i}" for i in range(12)]
        handles = [await kafka_client.invoke("crashy", {"n": i}, execution_id=eid) for i, eid in enumerate(ids)]
        await assert_eventually(
            lambda: all(fx.count(e, "three", "start") >= 1 for e in ids),
            timeout=60,
            message="every execution reached step three",
        )
        on_a = [e for e in ids if a.pid in fx.pids(e, "three", "start")]
        assert on_a and len(on_a) < len(ids), "both workers own partitions"
        kill9(a)
        for eid in ids:
            fx.open_gate(eid)
        results = {eid: await h.result(timeout=90) for eid, h in zip(ids, handles)}
        for i, eid in enumerate(ids):
            assert results[eid]["value"] == i + 3
            assert results[eid]["pid"] == b.pid
            assert fx.count(eid, "one") == 1 and fx.count(eid, "two") == 1
    finally:
        stop(a)
        if b is not None:
            stop(b)


async def test_kafka_paused_worker_is_fenced_after_takeover(tmp_path, kafka_bootstrap, namespace, kafka_client):
    """SIGSTOP A mid-step until B owns its partitions, SIGCONT it: A's late writes take no effect.

    Right after SIGCONT, librdkafka usually notices the lost session, or delivers B's
    claim, before A's step finishes, and A then rightly writes nothing. A real zombie is
    slower to notice (a long GC pause, a stalled thread), so A runs with a failpoint:
    after a pause its consumer stalls 8 s while the rest of A runs on. A finishes its
    step and appends while it still believes it owns the partition.
    """
    fx = Effects(tmp_path)
    fx.env["LOGLOOM_FAILPOINT_STALL_AFTER_PAUSE_S"] = "8"
    a = kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "a", tmp_path / "a.log")
    fx.env.pop("LOGLOOM_FAILPOINT_STALL_AFTER_PAUSE_S")
    b = None
    try:
        await assert_eventually(lambda: owns_partitions(tmp_path / "a.log"), timeout=60, message="A owns partitions")
        handle = await kafka_client.invoke("zombie", {"seconds": 3}, execution_id="zombie-1")
        await assert_eventually(lambda: fx.pids("zombie-1", "slow", "start") == [a.pid], timeout=60)
        a.send_signal(signal.SIGSTOP)  # A is now a zombie mid-step
        b = kafka_worker(fx, kafka_bootstrap, namespace, tmp_path / "b", tmp_path / "b.log")
        result = await handle.result(timeout=90)  # B took over and finished the run
        assert result == {"step_pid": b.pid, "pid": b.pid}
        a.send_signal(signal.SIGCONT)  # A wakes up and finishes its step body
        await assert_eventually(lambda: a.pid in fx.pids("zombie-1", "slow", "ran"), timeout=30)

        async def zombie_records():
            history = await kafka_client.history("zombie-1")
            claims = [r for r in history if r.type == "PartitionClaimed" and r.outcome == "applied"]
            a_epoch = next(r.fields["epoch"] for r in claims if f"-{a.pid}-" in r.fields["owner"])
            b_claim = next(r for r in claims if f"-{b.pid}-" in r.fields["owner"])
            late = [
                r
                for r in history
                if r.offset > b_claim.offset and r.type != "PartitionClaimed" and r.fields["epoch"] == a_epoch
            ]
            # A's step and what follows it may reach the log in more than one poll: wait for the step
            return (history, late) if any(r.type == "StepCompleted" for r in late) else None

        history, late = await assert_eventually(zombie_records, timeout=30, message="A's late record reached the log")
        assert all(r.outcome.startswith("fenced") for r in late), [(r.type, r.outcome) for r in late]
        assert any(r.type == "StepCompleted" and r.fields["result"] == str(a.pid) for r in late)
        execution = await kafka_client.get_execution("zombie-1")
        assert execution.status == "completed" and execution.result == {"step_pid": b.pid, "pid": b.pid}
        steps = [r for r in history if r.type == "StepCompleted" and r.outcome == "applied"]
        assert len(steps) == 1 and steps[0].fields["result"] == str(b.pid)
    finally:
        stop(a)
        if b is not None:
            stop(b)


async def test_kafka_static_membership_takes_partitions_back_at_once(
    tmp_path, kafka_bootstrap, namespace, kafka_client
):
    """With --instance-id, a restarted worker does not wait for the dead one's 45 s session."""
    fx = Effects(tmp_path)
    fx.env["LOGLOOM_KAFKA_SESSION_TIMEOUT_MS"] = "45000"

    def worker(log_name: str):
        return kafka_worker(
            fx, kafka_bootstrap, namespace, tmp_path / "w", tmp_path / log_name, "--instance-id", "worker-0"
        )

    first = worker("w1.log")
    procs = [first]
    try:
        handle = await kafka_client.invoke("crashy", {"n": 1}, execution_id="static-1")
        await assert_eventually(lambda: fx.count("static-1", "three", "start") == 1, timeout=60)
        kill9(first)
        fx.open_gate("static-1")
        procs.append(worker("w2.log"))
        result = await handle.result(timeout=25)  # well inside the 45 s session of the dead member
        assert result["pid"] == procs[1].pid
        assert fx.count("static-1", "one") == 1 and fx.count("static-1", "two") == 1
    finally:
        for p in procs:
            stop(p)
