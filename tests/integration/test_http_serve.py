"""``logloom serve``: the HTTP API and a worker in one real process, on the embedded log."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request

from helpers import ROOT, run_cli, spawn

APP = str(ROOT / "examples" / "orders.py")


def test_serve_runs_a_workflow_over_http_and_stops_cleanly(tmp_path):
    log_file = tmp_path / "serve.log"
    server = spawn("serve", APP, "--no-auth", "--port", "0", "--data-dir", str(tmp_path / "data"), log_file=log_file)
    try:
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            assert server.poll() is None and time.monotonic() < deadline, log_file.read_text()
            found = (
                re.search(r"HTTP API on http://127\.0\.0\.1:(\d+)", log_file.read_text()) if log_file.exists() else None
            )
            port = int(found.group(1)) if found else None
            time.sleep(0.1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/workflows/process_order/runs?wait=true&timeout=30",
            data=json.dumps({"input": {"order_id": "o-7", "amount": 12.5}}).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": "order-7"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            run = json.loads(answer.read())
        assert run["execution_id"] == "order-7" and run["status"] == "completed"
        assert run["result"] == {"status": "completed", "charge_id": "ch_o-7"}
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()


def test_serve_without_auth_listens_only_on_loopback(tmp_path):
    done = run_cli("serve", APP, "--no-auth", "--host", "0.0.0.0", "--data-dir", str(tmp_path))
    assert done.returncode == 2 and "only on loopback" in done.stderr


def test_serve_needs_tokens_unless_told_otherwise(tmp_path):
    done = run_cli("serve", APP, "--data-dir", str(tmp_path), env={"LOGLOOM_HTTP_TOKENS": ""})
    assert done.returncode == 2 and "no tokens" in done.stderr
