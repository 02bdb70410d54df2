"""``logloom worker --health-port``: what the probes answer, from a real worker process."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.request

from helpers import ROOT, spawn

APP = str(ROOT / "examples" / "orders.py")


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_worker_answers_its_probes_and_stops_cleanly_on_sigterm(tmp_path):
    log_file = tmp_path / "worker.log"
    worker = spawn("worker", APP, "--data-dir", str(tmp_path / "data"), "--health-port", "0", log_file=log_file)
    try:
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            assert worker.poll() is None and time.monotonic() < deadline, log_file.read_text()
            found = re.search(r"health on port (\d+)", log_file.read_text()) if log_file.exists() else None
            port = int(found.group(1)) if found else None
            time.sleep(0.1)
        while get(port, "/readyz")[0] != 200:
            assert time.monotonic() < deadline, get(port, "/readyz")
            time.sleep(0.1)

        code, ready = get(port, "/readyz")
        assert ready["ready"] and ready["reason"] == "caught up"
        assert set(ready["partitions"]) == {"0", "1", "2", "3"}, "the embedded worker owns every partition"
        assert all(p["phase"] == "active" and p["lag"] == 0 for p in ready["partitions"].values())
        assert get(port, "/livez")[0] == 200
        code, status = get(port, "/status")
        assert code == 200 and status["status"]["partitions"]["0"]["replay_s"] is not None
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as metrics:
            assert b"logloom_partitions_owned 4.0" in metrics.read()  # Prometheus text (runtime.metrics)
        assert get(port, "/nothing")[0] == 404

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
