"""The fold: how one journal record changes a partition's state. Pure and deterministic.

``apply(state, record) -> effects`` is the whole state machine (``dispatch.py``). The
state is anything with the ``State`` surface: a RocksDB transaction in workers, a
``MemoryState`` in clients and tests. Store keys are built and parsed in ``keys.py``.
"""

from .dispatch import apply, current_epoch
from .effects import CROSS_PARTITION, NOT_APPLIED, Effect, EffectKind
from .rows import ACTIVE, ENDED, EntryKind, EntryStatus, Status
from .state import MemoryState, State

__all__ = [
    "ACTIVE",
    "CROSS_PARTITION",
    "ENDED",
    "NOT_APPLIED",
    "Effect",
    "EffectKind",
    "EntryKind",
    "EntryStatus",
    "MemoryState",
    "State",
    "Status",
    "apply",
    "current_epoch",
]
