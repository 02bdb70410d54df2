"""docs/replay.md, run as it is written: a failed run, its export, an offline replay, a
changed app that diverges, a rerun from the failed step, and a verify; real processes on
the embedded default."""

import json
import signal

from helpers import ROOT, assert_eventually, history, run_cli, spawn

from engine.replay import Replayer, load_history
from engine.workflow.loading import load_app

EXAMPLE = "examples/replay.py"
DOC = (ROOT / "docs" / "replay.md").read_text()


async def test_the_replay_walk_through_of_the_docs(tmp_path):
    data = ["--data-dir", str(tmp_path / "demo")]
    failed = tmp_path / "failed"

    # 1. a run fails at charge
    run = run_cli("run", f"{EXAMPLE}:checkout", "--input", '{"order_id": "o-1", "amount": 120}',
                  "--execution-id", "o-1", *data)  # fmt: skip
    assert run.returncode == 1
    said = "step 'charge' failed: TerminalError: card declined: 132 is over the limit 100"
    assert said in run.stderr and said in DOC

    # 2. export
    one = run_cli("history", "o-1", "--json", *data)
    assert one.returncode == 0 and json.loads(one.stdout)["status"] == "failed"
    export = run_cli("history", "export", str(failed), "--workflow", "checkout", "--status", "failed",
                     "--since", "24h", *data)  # fmt: skip
    assert export.returncode == 0, export.stderr
    assert [p.name for p in failed.iterdir()] == ["o-1.json"]

    # 3. replay offline, step by step
    replay = run_cli("replay", "run", EXAMPLE, str(failed), "--step-through", "--output", "table")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    for line in replay.stdout.splitlines()[1:]:  # the first names the file, a temporary path here
        assert line.rstrip() in DOC, f"docs/replay.md shows {line!r}"
    load_app(EXAMPLE)  # the Python way, as the docs show it
    result = await Replayer().replay(load_history(failed / "o-1.json"))
    assert result.ok, result.message

    # 4. a change that adds a step before charge diverges there
    changed = tmp_path / "v2" / "replay.py"
    changed.parent.mkdir()
    source = (ROOT / EXAMPLE).read_text()
    charge = '    charge_id = await ctx.step.run("charge", charge_card, order_id, total)\n'
    fraud = '    await ctx.step.run("fraud_check", check_fraud, order_id, total)  # new\n'
    assert fraud in DOC and charge in DOC
    changed.write_text(
        source.replace(charge, fraud + charge) + "\n\ndef check_fraud(order_id, total):\n    return 'ok'\n"
    )
    diverged = run_cli("replay", "run", str(changed), str(failed), "--output", "table")
    assert diverged.returncode == 1
    message = "at position 3 the history recorded step 'charge', but the code asks for step 'fraud_check'"
    assert message in diverged.stdout and message in DOC

    # 5. the fix is deployed; rerun from charge
    log_file = tmp_path / "worker.log"
    worker = spawn("worker", EXAMPLE, *data, "-v", env={"CHECKOUT_LIMIT": "100000"}, log_file=log_file)
    try:
        await assert_eventually(lambda: log_file.exists() and "active with epoch" in log_file.read_text(), timeout=60)
        rerun = run_cli("workflow", "rerun", "o-1", "--from-step", "charge", "--execution-id", "o-1-fixed",
                        "--wait", "--output", "json", *data)  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr
        fixed = json.loads(rerun.stdout)
        assert fixed == {"reservation": "res-o-1", "total": 132, "receipt": "receipt for o-1: ch-o-1"}
        assert json.dumps(fixed) in DOC
        ran = [r["fields"]["key"] for r in history("o-1-fixed", *data) if r["type"] == "StepCompleted"]
        assert ran == ["charge", "receipt"], "reserve and price returned their recorded results"
        got = json.loads(run_cli("workflow", "get", "o-1-fixed", "--output", "json", *data).stdout)
        assert got["rerun_of"] == {"execution_id": "o-1", "from_step": "charge", "from_seq": 3}
        assert '"rerun_of": {"execution_id": "o-1", "from_step": "charge", "from_seq": 3}' in DOC

        # 6. verify, while the worker runs
        verify = run_cli("replay", "verify", "--all", "--output", "table", *data)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert verify.stdout.count(": equal at offset") == 4
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
