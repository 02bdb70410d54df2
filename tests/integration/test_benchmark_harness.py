"""The benchmark harness keeps working: a tiny run on the embedded log writes its JSON."""

import asyncio
import json
import os
import subprocess
import sys
import time

from helpers import ROOT


def test_harness_runs_w1_rebuild_and_replay_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--log",
            "embedded",
            "--workloads",
            "w1,rebuild,replay",
            "--reps",
            "1",
            "--w1-workflows",
            "40",
            "--w1-sequential",
            "5",
            "--rebuild-records",
            "2000",
            "--replay-steps",
            "50",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {r["workload"]: r for r in json.loads(out.read_text())["results"]}
    assert rows["w1"].get("warmup_reps") == 1 and "warmup_reps" not in rows["rebuild"]
    assert "w1 warm-up 1/1" in done.stderr
    assert [ms > 0 for ms in rows["w1"]["reference_loop_ms_before_each_rep"]] == [True]
    results = {name: row["metrics"] for name, row in rows.items()}
    assert results["w1"]["wf_per_s"]["median"] > 0 and results["w1"]["seq_p50_ms"]["median"] > 0
    assert any(name.endswith("records_per_s") and m["median"] > 0 for name, m in results["rebuild"].items())
    assert results["rebuild"]["verify_s"]["median"] > 0
    assert results["replay"]["records"]["median"] == 54 and results["replay"]["steps_per_s"]["median"] > 0


async def test_kafka_env_drops_every_topic_of_a_namespace_and_no_other(kafka_bootstrap, monkeypatch, namespace):
    """Each repetition's namespace goes with it: the journal and the workload's domain topics."""
    from confluent_kafka.admin import AdminClient, NewTopic

    sys.path.insert(0, str(ROOT))
    from benchmarks.envs import KafkaEnv

    other = f"{namespace}x"
    mine = [f"{namespace}.journal", f"{namespace}.events"]
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in [*mine, f"{other}.events"]]).values():
        future.result(timeout=30)
    monkeypatch.setenv("LOGLOOM_KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.delenv("LOGLOOM_KAFKA_PID", raising=False)

    await KafkaEnv().drop_namespace(namespace)

    deadline = time.monotonic() + 30
    while True:
        left = set(admin.list_topics(timeout=10).topics)
        if not left & set(mine) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert not left & set(mine), f"still there: {sorted(left & set(mine))}"
    assert f"{other}.events" in left
    admin.delete_topics([f"{other}.events"])


def test_cpu_meter_reads_another_process_to_the_microsecond(tmp_path):
    """The process CPU clock agrees with /proc's tick count, and with this process's own
    ``time.process_time`` far closer than one tick (10 ms)."""
    from benchmarks.procstat import cpu_seconds

    def cpu_seconds_in_ticks(pid: int) -> float:  # /proc/<pid>/stat: utime + stime, whole clock ticks
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()  # the command name may contain spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    burn = (
        "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
        "print('done', flush=True)\ntime.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "done"
        used, ticks = cpu_seconds(child.pid), cpu_seconds_in_ticks(child.pid)
        assert used >= 0.3
        assert abs(used - ticks) <= 0.03
    finally:
        child.kill()
        child.wait()
    before_own, before_clock = time.process_time(), cpu_seconds(os.getpid())
    sum(i * i for i in range(200_000))
    own, clock = time.process_time() - before_own, cpu_seconds(os.getpid()) - before_clock
    assert own > 0.001
    assert abs(clock - own) < 0.001


_NAMED_THREADS = """
import ctypes, sys, threading, time
def burn(name, seconds):
    ctypes.CDLL(None).prctl(15, name.encode())  # PR_SET_NAME: what /proc shows for the thread
    t = time.thread_time()
    while time.thread_time() - t < seconds: pass
    ready.release()
    time.sleep(60)
ready = threading.Semaphore(0)
for name, seconds in [("C2 CompilerThre", float(sys.argv[1])), ("data-plane-kafk", 0.2)]:
    threading.Thread(target=burn, args=(name, seconds), daemon=True).start()
ready.acquire(); ready.acquire()
print("done", flush=True)
time.sleep(60)
"""


def _threads_process(jit_seconds: float) -> subprocess.Popen:
    """A stand-in broker: a 'C2 CompilerThre' thread that used ``jit_seconds`` and another that used 0.2 s."""
    child = subprocess.Popen(
        [sys.executable, "-c", _NAMED_THREADS, str(jit_seconds)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "done"
    return child


def test_jit_cpu_counts_only_the_compiler_threads():
    from benchmarks.procstat import jit_cpu_ms

    child = _threads_process(0.3)
    try:
        assert 270 <= jit_cpu_ms(child.pid) <= 340
    finally:
        child.kill()
        child.wait()


def test_broker_warm_up_ends_after_a_round_in_which_the_jit_was_quiet():
    """``warm_broker`` runs W1 and W2 rounds; a round without compiling ends it early."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.__main__ import parser, warm_broker
    from benchmarks.envs import EmbeddedEnv

    child = _threads_process(0.0)
    try:
        env = EmbeddedEnv()
        env.pids["broker"] = child.pid
        args = parser().parse_args(["--w1-workflows", "20", "--w1-sequential", "3"])
        warm = warm_broker(env, 300, args)
    finally:
        child.kill()
        child.wait()
    assert len(warm["rounds"]) == 1 and warm["rounds"][0]["jit_cpu_ms"] == 0
    assert 0 < warm["seconds"] < 300


def test_instruction_counts_grow_with_the_workflows_counted(tmp_path):
    """``benchmarks.instructions`` runs W1 under callgrind twice; more workflows, more instructions."""
    out = tmp_path / "instructions.json"
    command = [sys.executable, "-m", "benchmarks.instructions", "--scenarios", "w1", "--workflows", "30"]
    done = subprocess.run(
        [*command, "--base", "5", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    w1 = json.loads(out.read_text())["w1"]
    assert w1["instructions_full"] > w1["instructions_base"] > 0
    per_workflow = w1["instructions_per_workflow"]
    assert per_workflow == (w1["instructions_full"] - w1["instructions_base"]) / 30
    assert 100_000 < per_workflow < 100_000_000, "a workflow of three steps costs about 2.4M instructions"
    assert "instructions per workflow" in done.stdout
