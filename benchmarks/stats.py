"""Percentiles of one run, and median / min / max over repetitions."""

from __future__ import annotations

import statistics


def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile (``p`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(reps: list[dict[str, float]]) -> dict[str, dict]:
    """For every metric the repetitions report: median, min, max and the values."""
    keys = [k for k in reps[0] if all(k in r for r in reps)]
    return {
        k: {
            "median": statistics.median(r[k] for r in reps),
            "min": min(r[k] for r in reps),
            "max": max(r[k] for r in reps),
            "values": [r[k] for r in reps],
        }
        for k in keys
    }
