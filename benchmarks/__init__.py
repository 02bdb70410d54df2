"""Logloom benchmark harness: ``python -m benchmarks --log embedded|kafka|both --workloads w1,rebuild``.

See docs/benchmarks.md for what each workload measures and how to read the results.
"""
