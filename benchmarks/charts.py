"""Memory curves: RSS against runs, from the ``curve.<process>.<runs>`` samples that the
``mem`` (runs waiting) and ``soak`` (runs completed) workloads put in their metrics."""

from __future__ import annotations

import sys
from pathlib import Path

CURVE_PREFIX = "curve."
X_LABELS = {"mem": "runs waiting", "soak": "runs completed"}


def curves(row: dict) -> dict[str, list[tuple[int, float]]]:
    """process -> [(runs, median RSS MB)] of one result row, in order of runs."""
    out: dict[str, list[tuple[int, float]]] = {}
    for key, summary in row.get("metrics", {}).items():
        if key.startswith(CURVE_PREFIX):
            process, runs = key[len(CURVE_PREFIX) :].rsplit(".", 1)
            out.setdefault(process, []).append((int(runs), summary["median"]))
    return {process: sorted(points) for process, points in out.items()}


def chart_memory(rows: list[dict], path: Path) -> Path | None:
    """One panel per workload with curves (mem, soak): a line per log and process."""
    rows = [r for r in rows if "error" not in r and curves(r)]
    if not rows:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed; skipping the memory chart", file=sys.stderr)
        return None
    workloads = sorted({r["workload"] for r in rows})
    fig, axes = plt.subplots(1, len(workloads), figsize=(6 * len(workloads), 4.2), squeeze=False)
    for ax, workload in zip(axes[0], workloads, strict=True):
        for row in (r for r in rows if r["workload"] == workload):
            for process, points in curves(row).items():
                # on the embedded log the worker and the client are one process
                who = "worker + client" if row["log"] == "embedded" else {"harness": "client"}.get(process, process)
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", markersize=3, label=f"{row['log']}: {who}")
        ax.set_xlabel(X_LABELS.get(workload, "runs"))
        ax.set_ylabel("RSS, MB")
        ax.set_ylim(bottom=0)
        ax.set_title(f"{workload}: RSS against runs")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
