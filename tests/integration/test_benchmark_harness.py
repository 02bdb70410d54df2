"""The benchmark harness keeps working: a tiny run on the embedded log writes its JSON."""

import json
import os
import subprocess
import sys

from helpers import ROOT


def test_harness_runs_w1_and_rebuild_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--log", "embedded", "--workloads", "w1,rebuild", "--reps", "1",
         "--w1-workflows", "40", "--w1-sequential", "5", "--rebuild-records", "2000", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {r["workload"]: r for r in json.loads(out.read_text())["results"]}
    assert rows["w1"].get("warmup_reps") == 1 and "warmup_reps" not in rows["rebuild"]
    assert "w1 warm-up 1/1" in done.stderr
    results = {name: row["metrics"] for name, row in rows.items()}
    assert results["w1"]["wf_per_s"]["median"] > 0 and results["w1"]["seq_p50_ms"]["median"] > 0
    assert any(name.endswith("records_per_s") and m["median"] > 0 for name, m in results["rebuild"].items())
