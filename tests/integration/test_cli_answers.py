"""The CLI answers from what the fold knows, on both logs, as real processes against a real worker.

Each test names the defect of issue #15 it pins (or the command it checks); a module-wide
worker per log serves every test, which use execution ids of their own.
"""

import json
import os
import subprocess
import time
import uuid

import pytest
from helpers import ROOT, assert_eventually, logloom_cmd, run_cli, spawn

APP = "tests/apps/cli_app.py"


class CliWorld:
    """A real ``logloom worker`` on one log, and the flags that reach that log."""

    def __init__(self, kind: str, flags: list[str], env: dict, stores: str):
        self.kind, self.flags, self.env = kind, flags, env
        self.stores = stores  # the worker's --data-dir: its RocksDB stores

    def cli(self, *args: str, input: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        return run_cli(*args, *self.flags, env=self.env, input=input, timeout=timeout)

    def json(self, *args: str, **kw) -> tuple[int, object]:
        done = self.cli(*args, "--output", "json", **kw)
        return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None

    async def until_status(self, execution_id: str, status: str, timeout: float = 60) -> dict:
        async def check():
            code, execution = self.json("workflow", "get", execution_id)
            return execution if code == 0 and execution["status"] == status else None

        return await assert_eventually(check, timeout=timeout, message=f"{execution_id} is {status}")


@pytest.fixture(scope="module", params=["embedded", "kafka"])
def world(request, tmp_path_factory):
    if request.param not in _selected(request.config):
        pytest.skip(f"--log excludes {request.param}")  # never in CI: conftest refuses to narrow --log there
    tmp = tmp_path_factory.mktemp(f"cli-{request.param}")
    namespace = f"cli{uuid.uuid4().hex[:8]}"
    env = {"LOGLOOM_CLI_TEST_TOPIC": f"{namespace}.signups"}
    if request.param == "kafka":
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        flags = ["--kafka", bootstrap, "--namespace", namespace]
        stores = str(tmp / "stores")
        extra = ["--partitions", "4", "--data-dir", stores]
    else:
        stores = str(tmp / "data")
        flags, extra = ["--data-dir", stores], []
    log_file = tmp / "worker.log"
    worker = spawn("worker", APP, *flags, *extra, "-v", env=env, log_file=log_file)
    try:
        deadline = time.monotonic() + 90
        while not (log_file.exists() and "owns partitions" in log_file.read_text()):
            assert time.monotonic() < deadline and worker.poll() is None, "the worker owns its partitions"
            time.sleep(0.1)
        yield CliWorld(request.param, flags, env, stores)
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def _selected(config) -> list[str]:
    choice = config.getoption("--log")
    return ["embedded", "kafka"] if choice == "both" else [choice]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- defect 1: resume and cancel say what the fold did --------------------------------------------


async def test_resume_outcomes_are_distinct_answers_with_their_own_exit_codes(world):
    eid = new_id("resume")
    assert (
        world.cli(
            "workflow", "start", "two_approvals", "--input", '{"order_id": "o1"}', "--execution-id", eid
        ).returncode
        == 0
    )
    await world.until_status(eid, "waiting")

    misspelt = world.cli("resume", eid, "aproval", "--data", "true", "--output", "json")
    assert misspelt.returncode == 7 and json.loads(misspelt.stdout)["outcome"] == "buffered"
    assert "no open wait named 'aproval'" in misspelt.stderr and "'approval'" in misspelt.stderr
    again = world.cli("resume", eid, "aproval", "--data", "true", "--output", "json")
    assert again.returncode == 5 and json.loads(again.stdout)["outcome"] == "already", "one resume is kept per name"

    code, applied = world.json("resume", eid, "approval", "--data", '"yes"')
    assert code == 0 and applied["outcome"] == "applied"
    execution = await world.until_status(eid, "waiting")
    assert [w["key"] for w in execution["waiting_for"]] == ["confirm"]
    code, twice = world.json("resume", eid, "approval", "--data", '"again"')
    assert code == 5 and twice["outcome"] == "already" and "already ended" in twice["message"]

    assert world.json("resume", eid, "confirm", "--data", '"ok"')[0] == 0
    await world.until_status(eid, "completed")
    code, late = world.json("resume", eid, "confirm", "--data", '"late"')
    assert code == 6 and late["outcome"] == "ended"
    code, cancel_ended = world.json("workflow", "cancel", eid)
    assert code == 6 and cancel_ended["outcome"] == "ended"
    assert world.cli("resume", new_id("nobody"), "approval").returncode == 3


async def test_cancel_twice_is_applied_then_already(world):
    eid = new_id("cancel")
    world.cli("workflow", "start", "approval", "--input", '{"order_id": "c1"}', "--execution-id", eid)
    await world.until_status(eid, "waiting")
    first, second = world.json("workflow", "cancel", eid), world.json("workflow", "cancel", eid)
    assert first[0] == 0 and first[1]["outcome"] == "applied"
    assert second[0] in (5, 6), "cancelled twice: already requested, or ended by the first"
    execution = await world.until_status(eid, "cancelled")
    assert execution["error"]["code"] == "CANCELLED"


# -- defect 4: an execution id is one run --------------------------------------------------------


async def test_an_execution_id_names_one_run_and_another_workflow_or_input_is_a_conflict(world):
    eid = new_id("trip")
    first = world.cli("invoke", "book_trip", "--input", '{"trip": "Lisbon"}', "--execution-id", eid, "--wait")
    assert first.returncode == 0 and json.loads(first.stdout) == "booked Lisbon"
    same = world.cli("invoke", "book_trip", "--input", '{"trip": "Lisbon"}', "--execution-id", eid, "--wait")
    assert same.returncode == 0 and json.loads(same.stdout) == "booked Lisbon", "the idempotent case: the same run"
    other = world.cli("invoke", "echo", "--input", '{"text": "hi"}', "--execution-id", eid, "--wait")
    assert other.returncode == 8 and eid in other.stderr and "book_trip" in other.stderr and other.stdout == ""
    other_input = world.cli("invoke", "book_trip", "--input", '{"trip": "Oslo"}', "--execution-id", eid)
    assert other_input.returncode == 8 and "another input" in other_input.stderr


# -- defect 6: inputs from a file or stdin ------------------------------------------------------


async def test_inputs_come_from_a_file_or_stdin(world, tmp_path):
    big = "x" * 300_000  # past what one argv string may hold (128 KiB on Linux)
    (tmp_path / "input.json").write_text(json.dumps({"text": big}))
    from_file = world.cli("workflow", "execute", "echo", "--input", f"@{tmp_path / 'input.json'}", "--output", "json")
    assert from_file.returncode == 0 and json.loads(from_file.stdout) == big
    from_stdin = world.cli("invoke", "echo", "--input", "-", "--wait", "--output", "json", input='{"text": "piped"}')
    assert from_stdin.returncode == 0 and json.loads(from_stdin.stdout) == "piped"
    missing = world.cli("invoke", "echo", "--input", f"@{tmp_path / 'nope.json'}")
    assert missing.returncode == 2 and "cannot read" in missing.stderr


# -- defect 7: an event wait says where to publish -----------------------------------------------


async def test_an_event_wait_shows_its_topic_and_key(world):
    eid = new_id("pickup")
    world.cli("workflow", "start", "pickup", "--input", '{"order_id": "p1"}', "--execution-id", eid)
    execution = await world.until_status(eid, "waiting")
    (wait,) = execution["waiting_for"]
    assert (wait["kind"], wait["key"], wait["topic"], wait["event_key"]) == ("event", "pickup", "pickups", "p1")
    code, described = world.json("workflow", "describe", eid)
    assert code == 0 and described["waiting_for"][0]["publish_with"].startswith("logloom publish pickups/p1 --data")
    assert world.cli("publish", "pickups/p1", "--data", '{"by": "van"}').returncode == 0
    assert (await world.until_status(eid, "completed"))["result"] == {"order_id": "p1", "picked_up": {"by": "van"}}


# -- what users expect: execute, describe, terminate, result, list, count, history, session ------


async def test_execute_shows_progress_and_how_to_end_each_wait(world):
    eid = new_id("exec")
    command = _cmd("workflow", "execute", "approval", "--input", '{"order_id": "e1"}', "--execution-id", eid)
    proc = subprocess.Popen(
        [*command, *world.flags],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(world),
    )  # fmt: skip
    await world.until_status(eid, "waiting")
    assert world.cli("resume", eid, "approval", "--data", "true").returncode == 0
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and json.loads(out) == {"order_id": "e1", "approved": True}
    lines = err.splitlines()
    assert any(line.startswith("started on worker") for line in lines)
    assert any("step check done" in line for line in lines)
    waits = next(line for line in lines if "waits for 'approval'" in line)
    assert f"logloom resume {eid} approval --data" in waits and world.flags[-1] in waits
    assert lines[-1] == "completed"


async def test_describe_names_the_last_failure_with_its_traceback(world):
    eid = new_id("flaky")
    done = world.cli("invoke", "flaky", "--execution-id", eid, "--wait")
    assert done.returncode == 1 and "the payment service said no" in done.stderr
    code, described = world.json("workflow", "describe", eid)
    failure = described["last_failure"]
    assert code == 0 and described["status"] == "failed" and failure["step"] == "charge"
    assert "Traceback (most recent call last)" in failure["traceback"] and "always_fails" in failure["traceback"]
    table = world.cli("workflow", "describe", eid, "--output", "table")
    assert "last failure  step charge" in table.stdout and "RetryableError" in table.stdout


async def test_terminate_stops_a_run_without_waiting_for_its_step(world, tmp_path):
    eid = new_id("term")
    marker = tmp_path / "slow"
    payload = json.dumps({"seconds": 30, "marker": str(marker)})
    world.cli("workflow", "start", "slow_steps", "--input", payload, "--execution-id", eid)
    await assert_eventually(lambda: marker.with_suffix(".started").exists(), timeout=60)
    code, answer = world.json("workflow", "terminate", eid, "--reason", "stop now")
    assert code == 0 and answer["outcome"] == "applied"
    execution = await world.until_status(eid, "cancelled", timeout=20)
    assert execution["error"]["code"] == "TERMINATED" and execution["error"]["message"] == "stop now"
    assert not marker.with_suffix(".done").exists(), "the 30 s step was not waited for"


async def test_result_waits_for_an_existing_run_and_times_out_with_code_4(world):
    eid = new_id("result")
    world.cli("workflow", "start", "approval", "--input", '{"order_id": "r1"}', "--execution-id", eid)
    await world.until_status(eid, "waiting")
    assert world.cli("workflow", "result", eid, "--timeout", "1").returncode == 4
    world.cli("resume", eid, "approval", "--data", "false")
    code, result = world.json("workflow", "result", eid, "--timeout", "60")
    assert code == 0 and result == {"order_id": "r1", "approved": False}


async def test_list_filters_pages_and_counts(world):
    tag = uuid.uuid4().hex[:6]
    ids = [f"page-{tag}-{i}" for i in range(3)]
    for eid in ids:
        assert (
            world.cli(
                "invoke", "echo", "--input", json.dumps({"text": eid}), "--execution-id", eid, "--wait"
            ).returncode
            == 0
        )
    code, mine = world.json("workflow", "list", "--workflow", "echo", "--since", "10m")
    mine = [e for e in mine if e["execution_id"].startswith(f"page-{tag}")]
    assert code == 0 and [e["execution_id"] for e in mine] == ids, "oldest first"
    code, newest = world.json("workflow", "list", "--workflow", "echo", "--since", "10m", "--newest-first")
    newest = [e["execution_id"] for e in newest if e["execution_id"].startswith(f"page-{tag}")]
    assert code == 0 and newest == ids[::-1], "--newest-first"
    first_page = world.cli("workflow", "list", "--workflow", "echo", "--limit", "1", "--output", "json")
    token = first_page.stderr.split("--page-token ")[1].split()[0]
    code, rest = world.json("workflow", "list", "--workflow", "echo", "--page-token", token)
    assert code == 0 and token not in [e["execution_id"] for e in rest] and len(rest) >= 2
    code, counts = world.json("workflow", "count", "--workflow", "echo")
    assert code == 0 and counts["total"] >= 3 and counts["by_status"]["completed"] == counts["total"]
    table = world.cli("workflow", "list", "--workflow", "echo", "--output", "table")
    assert table.stdout.splitlines()[0].split()[:3] == ["EXECUTION", "WORKFLOW", "STATUS"]
    assert world.json("workflow", "list", "--since", "nonsense")[0] == 2


async def test_history_decodes_payloads_and_follows_a_run_to_its_end(world):
    eid = new_id("follow")
    world.cli("workflow", "start", "approval", "--input", '{"order_id": "f1"}', "--execution-id", eid)
    await world.until_status(eid, "waiting")
    follower = subprocess.Popen(
        [*_cmd("history", eid, "--follow", "--output", "jsonl"), *world.flags],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(world),
    )  # fmt: skip
    world.cli("resume", eid, "approval", "--data", '{"by": "alice"}')
    out, err = follower.communicate(timeout=60)
    records = [json.loads(line) for line in out.splitlines()]
    assert follower.returncode == 0, err
    assert records[-1]["type"] == "ExecutionCompleted", "follow stops when the run ends"
    invoked = next(r for r in records if r["type"] == "InvocationRequested")
    assert invoked["fields"]["input"] == {"order_id": "f1"}, "payloads decoded, not JSON inside strings"
    assert all(isinstance(r["partition"], int) for r in records)


async def test_session_state_is_shown(world):
    code, state = world.json("session", "get", new_id("no-such-session"))
    assert code == 0 and state == {}


async def test_dead_letters_are_listed_and_shown(world):
    topic = world.env["LOGLOOM_CLI_TEST_TOPIC"]
    assert world.cli("publish", topic, "--data", '{"nobody": 1}').returncode == 0  # welcome needs user_id

    async def letters():
        code, found = world.json("dead-letter", "list")
        return found if code == 0 and found else None

    (letter,) = await assert_eventually(letters, timeout=60)
    assert letter["topic"] == topic and "does not fit workflow welcome" in letter["reason"]
    code, shown = world.json("dead-letter", "show", f"{letter['partition']}:{letter['offset']}")
    assert code == 0 and json.loads(shown["value"]) == {"nobody": 1}
    assert world.cli("dead-letter", "show", "0:999").returncode == 3


# -- the workers and the partitions ------------------------------------------------------------


async def test_workflows_lists_what_the_connected_worker_registered_with_its_triggers(world):
    code, listing = world.json("workflows")
    assert code == 0
    by_name = {row["workflow"]: row for row in listing}
    assert {"approval", "echo", "pickup", "welcome"} <= set(by_name)
    assert by_name["welcome"]["triggers"] == [world.env["LOGLOOM_CLI_TEST_TOPIC"]]
    assert by_name["echo"]["triggers"] == [] and len(by_name["echo"]["workers"]) == 1
    code, workers = world.json("workflows", "--by-worker")
    (worker,) = [w for w in workers if w["connected"]]
    assert worker["worker"] == by_name["echo"]["workers"][0]
    assert "welcome" in [wf["name"] for wf in worker["workflows"]]


async def test_partitions_show_the_connected_owner_its_epoch_and_a_lag_that_drains(world):
    eid = new_id("lag")
    assert world.cli("workflow", "execute", "echo", "--input", '{"text": "x"}', "--execution-id", eid).returncode == 0
    code, workers = world.json("workflows", "--by-worker")
    (owner,) = [w["worker"] for w in workers if w["connected"]]

    async def drained():
        code, partitions = world.json("partitions")
        assert code == 0 and [p["partition"] for p in partitions] == [0, 1, 2, 3]
        done = all(p["folded"] is not None and p["lag"] == 0 and p["folded"] == p["end"] for p in partitions)
        return partitions if done else None

    partitions = await assert_eventually(drained, timeout=30, message="every partition folded to its end")
    assert all(p["owner"] == owner and p["owner_connected"] and p["epoch"] >= 1 for p in partitions)
    assert all(p["claimed_by"].startswith(owner + "/") and p["claimed_at"] for p in partitions)
    assert sum(p["end"] for p in partitions) >= 4, "the run's records are counted in the ends"


def _cmd(*args: str) -> list[str]:
    return logloom_cmd(*args)


def _env(world) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), **world.env}


# -- logloom schedule (issue #18) ----------------------------------------------------------------


async def test_schedule_verbs_answer_with_their_documented_exit_codes(world):
    key = new_id("k")
    schedule_id = f"tick_report/{key}"
    code, created = world.json("schedule", "create", "tick_report", "0 9 * * *", "--timezone", "Europe/Paris",
                               "--key", key)  # fmt: skip
    assert code == 0 and created["schedule_id"] == schedule_id and created["timezone"] == "Europe/Paris"
    assert created["next_tick"].endswith(("T08:00:00Z", "T07:00:00Z")), "9:00 in Paris, as UTC"
    code, listed = world.json("schedule", "list")
    assert code == 0 and schedule_id in [s["schedule_id"] for s in listed]

    assert world.cli("schedule", "pause", schedule_id).returncode == 0
    assert world.json("schedule", "pause", schedule_id) == (5, {"schedule_id": schedule_id, "outcome": "already"})
    table = world.cli("schedule", "pause", schedule_id, "--output", "table")
    assert table.returncode == 5 and f"nothing to do: {schedule_id} is already paused" in table.stdout
    assert world.json("schedule", "get", schedule_id)[1]["paused"] is True
    assert world.cli("schedule", "resume", schedule_id).returncode == 0

    code, started = world.json("schedule", "trigger", schedule_id)
    assert code == 0 and started["execution_id"].startswith(f"{schedule_id}@trigger-")
    result = world.cli("workflow", "result", started["execution_id"], "--timeout", "60")
    assert result.returncode == 0 and "report for" in result.stdout

    window = ["--start", "2026-11-01T00:00Z", "--end", "2026-11-03T23:59Z"]
    code, first = world.json("schedule", "backfill", schedule_id, *window)
    code2, second = world.json("schedule", "backfill", schedule_id, *window)
    assert code == code2 == 0 and first["runs"] == second["runs"] and len(first["runs"]) == 3
    for execution_id in first["runs"]:
        assert world.cli("workflow", "result", execution_id, "--timeout", "60").returncode == 0

    assert world.cli("schedule", "delete", schedule_id).returncode == 0
    gone = world.cli("schedule", "get", schedule_id)
    assert gone.returncode == 3 and f"no schedule '{schedule_id}'" in gone.stderr


def test_bad_schedules_exit_2_and_name_what_is_wrong(world):
    bad_cron = world.cli("schedule", "create", "tick_report", "every morning")
    assert bad_cron.returncode == 2 and "invalid cron expression 'every morning'" in bad_cron.stderr
    bad_zone = world.cli("schedule", "create", "tick_report", "0 9 * * *", "--timezone", "Paris")
    assert bad_zone.returncode == 2 and "unknown time zone 'Paris'" in bad_zone.stderr
    unknown = world.cli("schedule", "create", "no_such_workflow", "0 9 * * *")
    assert unknown.returncode == 2 and "no_such_workflow" in unknown.stderr
    assert world.cli("schedule", "pause", "tick_report/nobody").returncode == 3


# -- logloom queue (issue #18) -------------------------------------------------------------------


def test_queue_list_and_set_limit(world):
    code, workflows = world.json("workflows")
    assert code == 0 and {w["workflow"]: w["queue"] for w in workflows}["queued_echo"] == {"name": "cli-q", "limit": 1}
    eid = new_id("queued")
    done = world.cli("workflow", "execute", "queued_echo", "--input", '{"text": "hi"}', "--timeout", "60",
                     "--execution-id", eid)  # fmt: skip
    assert done.returncode == 0 and json.loads(done.stdout) == "hi"
    described = world.cli("workflow", "describe", eid, "--output", "table")
    assert described.returncode == 0 and "queue       cli-q: done" in described.stdout
    assert world.cli("queue", "set-limit", "cli-q", "0").returncode == 2
    assert world.json("queue", "set-limit", "cli-q", "4") == (0, {"queue": "cli-q", "limit": 4})
    code, keys = world.json("queue", "list", "--queue", "cli-q")
    assert code == 0 and keys == [{"queue": "cli-q", "key": None, "limit": 4, "running": [], "waiting": []}]
    assert world.json("queue", "get", "cli-q") == (0, keys)
    assert world.cli("queue", "get", "no-such-queue").returncode == 3


# -- replay: history files, offline replay, and its exit codes (issue #19) ------------------------


async def test_history_export_writes_files_that_replay_ok_and_a_changed_app_diverges(world, tmp_path):
    eid = new_id("replay")
    assert world.cli("invoke", "flaky", "--execution-id", eid, "--wait").returncode == 1
    exported = tmp_path / "failed"
    done = world.cli(
        "history", "export", str(exported), "--workflow", "flaky", "--status", "failed", "--output", "json"
    )
    assert done.returncode == 0, done.stderr
    files = {item["execution_id"]: item for item in json.loads(done.stdout)}
    assert files[eid]["status"] == "failed" and all(item["status"] == "failed" for item in files.values())
    written = json.loads((exported / f"{eid}.json").read_text())
    assert (written["format"], written["version"], written["workflow"]) == ("logloom-history", 1, "flaky")
    assert all(len(r["schema_fingerprint"]) == 16 for r in written["records"])

    same = run_cli("replay", "run", APP, str(exported / f"{eid}.json"), "--output", "json")
    assert same.returncode == 0, same.stdout + same.stderr
    verdict = json.loads(same.stdout)
    assert verdict["verdict"] == "ok" and verdict["steps_replayed"] == 1, verdict  # its one step, failed

    changed = tmp_path / "v2" / "cli_app.py"
    changed.parent.mkdir()
    changed.write_text((ROOT / APP).read_text().replace('ctx.step.run("charge"', 'ctx.step.run("charge_card"'))
    diverged = run_cli("replay", "run", str(changed), str(exported), "--output", "json")
    assert diverged.returncode == 1
    ours = next(v for v in (lambda x: x if isinstance(x, list) else [x])(json.loads(diverged.stdout))
                if v["execution_id"] == eid)  # fmt: skip
    assert (ours["verdict"], ours["position"], ours["recorded_step"], ours["requested_step"]) == (
        "diverged", 1, "charge", "charge_card",
    )  # fmt: skip
    assert ours["location"].endswith("cli_app.py:39")


def test_replay_refuses_a_bad_history_file_with_exit_code_2(tmp_path):
    newer = tmp_path / "newer.json"
    newer.write_text('{"format": "logloom-history", "version": 99, "execution_id": "x", "records": []}')
    truncated = tmp_path / "truncated.json"
    truncated.write_text('{"format": "logloom-history", "version": 1, "records": [{"part')
    for path, says in ((newer, "version 99"), (truncated, "not JSON")):
        done = run_cli("replay", "run", APP, str(path))
        assert done.returncode == 2 and says in done.stderr, done.stderr


def test_workflow_rerun_starts_a_new_run_from_a_step_and_a_missing_step_exits_3(world):
    eid, again = new_id("rerun"), new_id("rerun-new")
    assert world.cli("invoke", "flaky", "--execution-id", eid, "--wait").returncode == 1
    rerun = world.cli("workflow", "rerun", eid, "--from-step", "charge", "--execution-id", again, "--wait")
    assert rerun.returncode == 1 and f"execution {again} reruns {eid} from step 'charge'" in rerun.stderr
    code, execution = world.json("workflow", "get", again)
    assert code == 0 and execution["status"] == "failed"
    assert execution["rerun_of"] == {"execution_id": eid, "from_step": "charge", "from_seq": 1}
    missing = world.cli("workflow", "rerun", eid, "--from-step", "nope")
    assert missing.returncode == 3 and "recorded no step 'nope'; its steps: charge" in missing.stderr


def test_replay_verify_finds_every_live_store_equal_to_its_log_while_the_worker_runs(world):
    assert world.cli("invoke", "echo", "--input", '{"text": "verified"}', "--wait").returncode == 0
    stores = [] if world.kind == "embedded" else ["--data-dir", world.stores]
    done = world.cli("replay", "verify", "--all", *stores, "--output", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(done.stdout)
    assert [r["partition"] for r in results] == [0, 1, 2, 3] and all(r["equal"] for r in results)
    assert sum(r["keys"] for r in results) > 0
    elsewhere = ["--data-dir", "/nonexistent/logloom"]
    where = [*world.flags[:4], *elsewhere] if world.kind == "kafka" else elsewhere
    nobody = run_cli("replay", "verify", "--partition", "0", *where, env=world.env)
    says = "no store of partition 0 at" if world.kind == "kafka" else "no embedded log at"
    assert nobody.returncode == 3 and says in nobody.stderr, nobody.stderr
