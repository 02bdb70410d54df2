"""Replaying the log outside a worker: rebuilds for audit, debugging and benchmarks."""

from .rebuild import rebuild_partition

__all__ = ["rebuild_partition"]
