"""Replaying the log outside a worker: history files, debug-replay of today's code against
them, verified rebuilds of stores (docs/replay.md)."""

from .export import export_history
from .history_file import HistoryFile
from .history_file import load as load_history
from .rebuild import rebuild_partition
from .replayer import Replayer, ReplayResult
from .verify import VerifyResult, verify_partition

__all__ = [
    "HistoryFile",
    "ReplayResult",
    "Replayer",
    "VerifyResult",
    "export_history",
    "load_history",
    "rebuild_partition",
    "verify_partition",
]
