"""The CLI at its edges, as real processes: an unreachable cluster, apps that do not load, Ctrl-C,
a closed pipe, commands that must not create a log, no worker, and a graceful SIGTERM."""

import json
import signal
import socket
import subprocess
import time

import pytest
from helpers import ROOT, assert_eventually, logloom_cmd, run_cli, spawn

from engine import EmbeddedLog, EngineConfig
from engine.client import Client
from engine.config import default_data_dir

APP = "tests/apps/cli_app.py"


def dead_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def popen(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        logloom_cmd(*args),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **(env or {})},
    )


# -- defect 2: an unreachable Kafka -----------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["invoke", "echo", "--input", '{"text": "x"}', "--wait"],
        ["worker", APP, "--data-dir", "{tmp}"],
        ["workflow", "get", "some-id"],
    ],
    ids=["invoke", "worker", "workflow get"],
)
def test_an_unreachable_kafka_fails_fast_in_one_line_with_code_9(command, tmp_path):
    address = f"127.0.0.1:{dead_port()}"
    started = time.monotonic()
    args = [str(tmp_path) if c == "{tmp}" else c for c in command]
    done = run_cli(*args, "--kafka", address, "--connect-timeout", "2", timeout=60)
    elapsed = time.monotonic() - started
    assert done.returncode == 9, done.stderr
    assert elapsed < 15, f"failed after {elapsed:.1f} s"
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and address in errors[0] and "within 2 s" in errors[0]
    assert "FAIL" not in done.stderr and "Traceback" not in done.stderr, "librdkafka is quiet without -v"


# -- defect 3: exit codes --------------------------------------------------------------------


def test_an_app_that_does_not_load_is_one_line_naming_file_and_line_and_code_2(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("from engine import workflow\n\n@workflow\nasync def wf(ctx)\n    return 1\n")
    done = run_cli("worker", str(broken), "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert f"{broken}:4: syntax error" in done.stderr
    raising = tmp_path / "raising.py"
    raising.write_text("x = 1\nraise RuntimeError('no config')\n")
    done = run_cli("run", f"{raising}:wf", "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 2 and f"{raising}:2: " in done.stderr and "RuntimeError" in done.stderr
    unknown = run_cli("worker", "no_such_pkg.app", "--data-dir", str(tmp_path / "d"))
    assert unknown.returncode == 2 and "no module named 'no_such_pkg.app'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


async def test_an_app_without_workflows_warns(tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    worker = popen("worker", str(empty), "--data-dir", str(tmp_path / "d"))
    try:
        line = await _stderr_line(worker, "registers no workflows")
        assert "warning:" in line
        await _stderr_line(worker, "running on")
    finally:
        worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0


async def _stderr_line(proc: subprocess.Popen, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if text in line:
            return line
        assert line or proc.poll() is None, "the process ended first"
    raise AssertionError(f"no line with {text!r}")


async def test_ctrl_c_exits_130_and_says_how_to_resume(tmp_path):
    data = ["--data-dir", str(tmp_path / "d")]
    run = popen("run", f"{APP}:approval", "--input", '{"order_id": "i1"}', "--execution-id", "int-1", *data)
    await _stderr_line(run, "execution int-1")
    time.sleep(1.0)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    assert run.returncode == 130 and "--execution-id int-1" in err and "to resume it" in err

    invoke = popen("invoke", "approval", "--input", '{"order_id": "i2"}', "--execution-id", "int-2", "--wait", *data)
    await _stderr_line(invoke, "no worker serves this log")  # no worker: it would wait for ever
    invoke.send_signal(signal.SIGINT)
    out, err = invoke.communicate(timeout=60)
    assert invoke.returncode == 130 and "logloom workflow result int-2" in err


async def test_a_closed_pipe_is_not_a_traceback(tmp_path):
    async with EmbeddedLog(tmp_path, "logloom", 4) as log, Client(log) as client:
        for i in range(400):  # enough output to fill the pipe before the reader goes
            await client.invoke("echo", {"text": f"x{i}" * 50}, execution_id=f"pipe-{i}")
    lister = popen("workflow", "list", "--output", "jsonl", "--data-dir", str(tmp_path))
    assert json.loads(lister.stdout.readline())["execution_id"].startswith("pipe-")
    lister.stdout.close()  # like `| head -1`
    assert lister.wait(timeout=60) == 141
    assert "Traceback" not in lister.stderr.read()


# -- defect 5: nothing that reads creates a log, and no worker is said -------------------------


def test_reading_or_invoking_where_no_log_is_creates_none(tmp_path):
    missing = tmp_path / "typo"
    for command in (["workflow", "list"], ["workflow", "get", "x"], ["history", "x"], ["invoke", "echo"]):
        done = run_cli(*command, "--data-dir", str(missing))
        assert done.returncode == 3 and "no embedded log" in done.stderr, (command, done.stderr)
    assert not missing.exists()


def test_on_kafka_a_mistyped_namespace_creates_no_journal(kafka_bootstrap, namespace):
    from confluent_kafka.admin import AdminClient

    done = run_cli("workflow", "list", "--kafka", kafka_bootstrap, "--namespace", namespace)
    assert done.returncode == 3 and f"{namespace}.journal" in done.stderr
    assert (
        f"{namespace}.journal" not in AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
    )


async def test_invoke_warns_when_no_worker_serves_the_log(tmp_path):
    async with EmbeddedLog(tmp_path, "logloom", 4):
        pass  # a log, and no worker on it
    done = run_cli("invoke", "echo", "--input", '{"text": "hi"}', "--data-dir", str(tmp_path))
    assert done.returncode == 0 and "no worker serves this log" in done.stderr


async def test_on_kafka_invoke_warns_when_no_worker_is_in_the_group(kafka_bootstrap, namespace):
    from engine.log.kafka import KafkaLog

    async with KafkaLog(kafka_bootstrap, namespace, 2):
        pass  # a journal, and no worker on it
    done = run_cli("invoke", "echo", "--input", '{"text": "hi"}', "--kafka", kafka_bootstrap, "--namespace", namespace)
    assert done.returncode == 0 and "no worker serves this log" in done.stderr, done.stderr


def test_the_default_data_dir_is_per_user_not_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("LOGLOOM_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert EngineConfig.from_env().data_dir == default_data_dir() == tmp_path / "xdg" / "logloom"
    monkeypatch.setenv("LOGLOOM_DATA_DIR", str(tmp_path / "mine"))
    assert EngineConfig.from_env().data_dir == tmp_path / "mine"


def test_version_and_help_show_units_exit_codes_and_examples():
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("logloom ")
    helped = run_cli("workflow", "execute", "--help").stdout
    assert "--timeout SECONDS" in helped and "exit codes:" in helped and "examples:" in helped
    assert "``" not in run_cli("--help").stdout, "no docstring markup leaks into the help"


# -- a graceful SIGTERM: the step in flight finishes and is recorded -----------------------------


async def test_sigterm_lets_the_step_in_flight_finish_and_records_it(tmp_path):
    data = ["--data-dir", str(tmp_path / "d")]
    marker = tmp_path / "slow"
    worker = spawn("worker", APP, *data, "-v", log_file=tmp_path / "w1.log")
    await assert_eventually(lambda: "owns partitions" in (tmp_path / "w1.log").read_text(), timeout=60)
    payload = json.dumps({"seconds": 2, "marker": str(marker)})
    assert (
        run_cli("workflow", "start", "slow_steps", "--input", payload, "--execution-id", "drain-1", *data).returncode
        == 0
    )
    await assert_eventually(lambda: marker.with_suffix(".started").exists(), timeout=60)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    assert marker.with_suffix(".done").exists(), "the step in flight finished before the worker left"
    assert not (tmp_path / "slow-2.started").exists(), "no new step started while draining"
    records = json.loads(run_cli("history", "drain-1", "--output", "json", *data).stdout)["records"]
    assert [r["fields"]["key"] for r in records if r["type"] == "StepCompleted"] == ["first"]

    again = spawn("worker", APP, *data, "-v", log_file=tmp_path / "w2.log")
    try:  # the worker first: a command that found the embedded log free would hold it
        await assert_eventually(lambda: "owns partitions" in (tmp_path / "w2.log").read_text(), timeout=60)
        done = run_cli("workflow", "result", "drain-1", "--timeout", "60", "--output", "json", *data)
        assert done.returncode == 0 and json.loads(done.stdout) == "done"
        assert (tmp_path / "slow.done").read_text() == str(worker.pid), "the first step did not run again"
        assert (tmp_path / "slow-2.done").read_text() == str(again.pid)
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=60)
