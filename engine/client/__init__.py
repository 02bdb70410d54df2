"""Clients: append commands to the journal, and read results, statuses and histories from it."""

from .client import Client
from .models import Execution, ExecutionHandle, HistoryRecord

__all__ = ["Client", "Execution", "ExecutionHandle", "HistoryRecord"]
