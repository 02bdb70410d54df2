"""Local state derived from the log: one RocksDB store per partition (``partition``), all
of a worker's stores within one memory budget (``memory``)."""

from .memory import StoreMemory, StoreMemoryFigures
from .partition import PartitionTransaction, StorePartition

__all__ = ["PartitionTransaction", "StoreMemory", "StoreMemoryFigures", "StorePartition"]
