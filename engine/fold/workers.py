"""The fold's rule for workers' announcements (rule 13).

13. ``WorkerAnnounced`` (a command each worker sends to partition 0 when it starts) keeps
    what that worker runs under ``w/<worker>``. It changes no execution; ``logloom
    workflows`` reads it, and joins it with the workers that are connected now.
"""

from __future__ import annotations

from ..wire.records import RecordType
from .effects import Effect
from .keys import worker_key
from .state import State


def worker_announced(state: State, r: dict) -> list[Effect]:
    state.put(worker_key(r["worker"]), {"worker": r["worker"], "workflows": r["workflows"], "at": r["at"]})
    return []


RULES = {RecordType.WORKER_ANNOUNCED: worker_announced}
