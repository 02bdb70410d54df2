"""Clients: append commands to the journal, and read results, statuses and histories from it."""

from . import schedules
from .client import Client
from .models import DeadLetter, Execution, ExecutionHandle, HistoryRecord, PartitionInfo, QueueKey, Schedule, WorkerInfo
from .outcomes import CommandResult, Outcome
from .run_stream import StreamEvent

__all__ = [
    "Client",
    "CommandResult",
    "DeadLetter",
    "Execution",
    "ExecutionHandle",
    "HistoryRecord",
    "Outcome",
    "PartitionInfo",
    "QueueKey",
    "Schedule",
    "StreamEvent",
    "WorkerInfo",
    "schedules",
]
