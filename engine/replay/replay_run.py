"""The debug-replay runtime: ``workflow.port`` over a recorded history, with no log.

A workflow's code runs as it would on a worker, but every step it asks for is answered
from the history's journal:

1. The step at position ``seq`` asking for ``key``:
   - recorded with the same key and an outcome: the recorded result is returned (or its
     error raised); the body never runs;
   - recorded with another key: the first divergence (``NondeterminismError``);
   - recorded as an open wait: the branch waits for ever (the history ends there);
   - recorded as a retry in flight, or not recorded: the branch reached the end of the
     history (``EndOfHistory``, which user code cannot catch).
2. Each answer is reported to ``on_step`` with the user code's file and line.

Nothing is appended, published or run: a replay needs no worker and no API key.
"""

from __future__ import annotations

import asyncio
import os
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import EngineSignal, NondeterminismError
from ..fold.keys import session_state_key
from ..fold.rows import RECORDED, EntryStatus
from ..fold.state import MemoryState
from ..workflow.journal import Journal
from ..workflow.registry import Registry

_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STDLIB_DIR = sysconfig.get_paths()["stdlib"] + os.sep


def _is_user_code(frame) -> bool:
    filename = frame.f_code.co_filename
    return not filename.startswith((_ENGINE_DIR, _STDLIB_DIR, "<"))


def _where(frame) -> str:
    return f"{os.path.relpath(frame.f_code.co_filename)}:{frame.f_lineno}"


def user_code_location(body: asyncio.Task | None = None) -> str | None:
    """``file:line`` of the user code that asked for the step: the innermost frame of the
    running task that is neither Logloom's nor the standard library's. A branch of
    ``asyncio.gather`` runs in a task of its own, below no user frame: then the line where
    the workflow's ``body`` task waits (the ``gather`` call)."""
    frame = sys._getframe(1)
    while frame is not None and not frame.f_code.co_filename.startswith(_STDLIB_DIR):
        if _is_user_code(frame):
            return _where(frame)
        frame = frame.f_back
    if body is not None and not body.done():
        waiting = [f for f in body.get_stack() if _is_user_code(f)]
        if waiting:
            return _where(waiting[-1])
    return None


class EndOfHistory(EngineSignal):
    """The code asked for a step past the end of the recorded history."""


@dataclass(frozen=True)
class StepSeen:
    """A step the code asked for, and what the history answered."""

    position: int
    requested: str  # the key the code asked for
    recorded: dict | None  # the history's entry at that position (None: past its end)
    location: str | None  # the user code's file:line

    @property
    def verdict(self) -> str:
        if self.recorded is None:
            return "past the end of the history"
        if self.recorded["key"] != self.requested:
            return "diverged"
        status = self.recorded["status"]
        return status if status in RECORDED else f"{status}: the history ends here"


class ReplayJournal(Journal):
    """The history's journal: every answer is reported to its replay run."""

    __slots__ = ("replay",)

    def __init__(self, replay: ReplayRun, entries: dict[int, dict]):
        super().__init__(replay.execution_id, entries)
        self.replay = replay

    def recorded(self, seq: int, key: str) -> dict | None:
        entry = self.at(seq)
        self.replay.saw(StepSeen(seq, key, entry, user_code_location(self.replay.body)))
        if entry is None or entry["status"] == EntryStatus.RETRYING:
            raise EndOfHistory(f"position {seq}: {key}")
        self.check_key(seq, key, entry)  # NondeterminismError: the replay saw it first
        return entry


class ReplayRun:
    """``workflow.port.RunPort`` for one execution of a history."""

    def __init__(
        self,
        row: dict,
        entries: dict[int, dict],
        state: MemoryState,
        registry: Registry,
        on_step: Callable[[StepSeen], None] | None = None,
    ):
        self.execution_id: str = row["id"]
        self.row = row
        self.registry = registry
        self.journal = ReplayJournal(self, entries)
        self.seen: list[StepSeen] = []
        self.progress = 0  # bumped by every answer: the driver waits until it stops moving
        self._state = state
        self._on_step = on_step
        self.body: asyncio.Task | None = None  # the workflow body's task, once started
        self._seq = 0

    def saw(self, step: StepSeen) -> None:
        self.seen.append(step)
        self.progress += 1
        if self._on_step is not None:
            self._on_step(step)

    def first_divergence(self) -> StepSeen | None:
        return next((s for s in self.seen if s.recorded is not None and s.recorded["key"] != s.requested), None)

    # -- the port ------------------------------------------------------------------------

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def peek_seq(self) -> int:
        return self._seq + 1

    def check_cancelled(self) -> None:
        pass  # a cancelled run's history ends where it stopped

    def checkpoint(self, or_none: bool = False) -> str | None:
        return None

    def ownership_in_doubt(self) -> bool:
        return False  # a replay owns its history

    async def confirm_ownership(self) -> None:
        pass

    def busy(self) -> None:
        pass

    def idle(self) -> None:
        pass

    async def record_step(self, build, seq: int, key: str, **fields) -> dict:
        raise NondeterminismError(
            self.execution_id, seq, expected="(nothing)", found=key, detail=f"replay cannot record step {key!r}"
        )  # never reached: the journal stops every step it has no outcome for

    async def park(self, seq: int, due_at_ms: int | None) -> dict:
        """An open wait in the history: the history ends here; this branch waits for ever."""
        self.progress += 1
        return await asyncio.get_running_loop().create_future()  # never resolved

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> tuple[int, int]:
        raise RuntimeError(f"execution {self.execution_id}: a replay publishes nothing")  # only step bodies publish

    async def stream_topic(self) -> str:
        return "replay"

    def publish_nowait(self, topic: str, key: bytes, value: bytes) -> asyncio.Future:
        done = asyncio.get_running_loop().create_future()
        done.set_result((0, 0))  # a run's stream is not recorded: nothing to replay
        return done

    def session_state(self, session_id: str) -> dict:
        return self._state.get(session_state_key(session_id)) or {}
