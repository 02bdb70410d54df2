"""Machine info, the printed table, the JSON file and the W1 chart."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from .workloads import WORKLOADS

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info() -> dict:
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": _git("rev-parse", "HEAD"),
        # uncommitted changes to the engine (the code measured), and a digest to tell them apart
        "engine_dirty": bool(_git("status", "--porcelain", "--", "engine", "schemas")),
        "engine_diff_sha1": hashlib.sha1((_git("diff", "HEAD", "--", "engine", "schemas") or "").encode()).hexdigest(),
        "loadavg_at_start": os.getloadavg(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"


def annotate_targets(row: dict) -> None:
    """Add, for each headline metric with a target on this log, the target and whether it is met."""
    workload = WORKLOADS[row["workload"]]
    for metric in workload.metrics:
        summary = row.get("metrics", {}).get(metric.key)
        if summary is not None and metric.targets.get(row["log"]) is not None:
            summary["target"] = metric.target_text(row["log"])
            summary["meets_target"] = metric.meets(row["log"], summary["median"])


def print_table(rows: list[dict]) -> None:
    header = f"{'log':<9} {'workload':<16} {'metric':<36} {'median':>10} {'min':>10} {'max':>10}  target"
    print("\n" + header + "\n" + "-" * len(header))
    for row in rows:
        name = row["workload"] + "".join(f" {v:,}" for k, v in row["params"].items() if k == "records")
        if "error" in row:
            print(f"{row['log']:<9} {name:<16} ERROR: {row['error']}")
            continue
        workload = WORKLOADS[row["workload"]]
        known = {m.key for m in workload.metrics}
        extras = [k for k in row["metrics"] if k not in known and "cpu" in k]
        for metric in list(workload.metrics) + extras:
            key, label = (
                (metric.key, f"{metric.label} ({metric.unit})") if not isinstance(metric, str) else (metric, metric)
            )
            s = row["metrics"].get(key)
            if s is None:
                continue
            target = ""
            if "target" in s:
                target = f"{s['target']}  {'ok' if s['meets_target'] else 'MISSED'}"
            print(
                f"{row['log']:<9} {name:<16} {label:<36} {_fmt(s['median']):>10} {_fmt(s['min']):>10} "
                f"{_fmt(s['max']):>10}  {target}"
            )
        print()


def write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)


def chart_w1(rows: list[dict], path: Path) -> Path | None:
    """Bar chart of W1 throughput and latency per log (median, min–max whiskers)."""
    rows = [r for r in rows if r["workload"] == "w1" and "error" not in r]
    if not rows:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(
            "note: matplotlib is not installed (pip install -r benchmarks/requirements.txt); skipping the W1 chart",
            file=sys.stderr,
        )
        return None

    def bar(ax, x, summary, color, label=None):
        m = summary["median"]
        ax.bar(x, m, 0.35, color=color, label=label, yerr=[[m - summary["min"]], [summary["max"] - m]], capsize=4)
        ax.annotate(
            _fmt(m),
            (x, summary["max"]),
            ha="center",
            va="bottom",
            fontsize=8,
            xytext=(0, 2),
            textcoords="offset points",
        )

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    logs = [r["log"] for r in rows]
    for i, row in enumerate(rows):
        bar(left, i, row["metrics"]["wf_per_s"], "#4c72b0")
        target = WORKLOADS["w1"].metrics[0].targets.get(row["log"])
        if target:
            left.hlines(
                target, i - 0.3, i + 0.3, colors="#c44e52", linestyles="dashed", label="target" if i == 0 else None
            )
    left.set_xticks(range(len(rows)), logs)
    left.set_xlim(-0.75, len(rows) - 0.25)
    left.set_ylabel("workflows / s")
    left.set_title("W1 throughput (64 in flight)")
    left.legend(loc="upper right", fontsize=8)

    series = [
        ("p50_ms", "p50, 64 in flight", "#4c72b0"),
        ("p99_ms", "p99, 64 in flight", "#8172b2"),
        ("seq_p50_ms", "p50, one at a time", "#55a868"),
        ("seq_p99_ms", "p99, one at a time", "#ccb974"),
    ]
    width = 0.8 / len(series)
    for j, (key, label, color) in enumerate(series):
        for i, row in enumerate(rows):
            s = row["metrics"][key]
            x = i - 0.4 + width * (j + 0.5)
            right.bar(
                x,
                s["median"],
                width,
                color=color,
                label=label if i == 0 else None,
                yerr=[[s["median"] - s["min"]], [s["max"] - s["median"]]],
                capsize=3,
            )
            right.annotate(
                _fmt(s["median"]),
                (x, s["max"]),
                ha="center",
                va="bottom",
                fontsize=7,
                xytext=(0, 2),
                textcoords="offset points",
            )
    right.set_xticks(range(len(rows)), logs)
    right.set_ylabel("ms, submit to result")
    right.set_title("W1 latency")
    right.legend(loc="upper left", fontsize=8)
    reps = rows[0]["reps"]
    fig.suptitle(
        f"logloom W1: 3-step workflows; median of {reps} reps, whiskers min–max; {os.cpu_count()} cores", fontsize=10
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
