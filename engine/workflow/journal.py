"""The replay decision, pure: what a step call does, given what the journal recorded.

A workflow's step calls are numbered in call order. On a re-run the n-th call must ask
for the same step key the journal recorded at position n; if it asks for another, the
code changed or is not deterministic, and ``NondeterminismError`` says which step, at
which position, was expected and which was found.

``decide(journal, seq, key)`` returns one of three decisions:

* ``Replay``: an outcome is recorded. Return its result or raise its error; the body
  does not run.
* ``Run``: nothing is recorded, or a retry is due. Run the body (attempt ``attempt``,
  not before ``not_before_ms``) and record its outcome.
* ``Park``: a wait is open. Wait, holding no worker busy, until the fold ends it.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import NondeterminismError
from ..fold.rows import RECORDED, EntryStatus


class Journal:
    """Recorded step entries of one execution, by position."""

    __slots__ = ("execution_id", "_entries")

    def __init__(self, execution_id: str, entries: dict[int, dict] | None = None):
        self.execution_id = execution_id
        self._entries = entries or {}

    def __len__(self) -> int:
        return len(self._entries)

    def at(self, seq: int) -> dict | None:
        """The entry at ``seq``, unchecked."""
        return self._entries.get(seq)

    def positions(self) -> list[int]:
        """The recorded positions, in order."""
        return sorted(self._entries)

    def recorded(self, seq: int, key: str) -> dict | None:
        """The entry at ``seq`` if any; raises ``NondeterminismError`` on a key mismatch."""
        entry = self._entries.get(seq)
        if entry is not None:
            self.check_key(seq, key, entry)
        return entry

    def check_key(self, seq: int, key: str, entry: dict) -> None:
        if entry["key"] != key:
            raise NondeterminismError(self.execution_id, seq, expected=entry["key"], found=key)

    def remember(self, seq: int, entry: dict) -> None:
        self._entries[seq] = entry


class Replay(NamedTuple):
    """An outcome is recorded at this position: return or raise it."""

    entry: dict


class Run(NamedTuple):
    """Run the body: the first attempt, or the retry that is due at ``not_before_ms``."""

    attempt: int = 1
    not_before_ms: int | None = None


class Park(NamedTuple):
    """A wait is open at this position: wait until the fold ends it."""

    entry: dict


Decision = Replay | Run | Park
FIRST_ATTEMPT = Run()
_RETRYING = EntryStatus.RETRYING  # a module name: read at every step (docs/architecture.md)


def decide(journal: Journal, seq: int, key: str) -> Decision:
    """What the step call at ``seq`` asking for ``key`` does; raises ``NondeterminismError``."""
    entry = journal.recorded(seq, key)
    if entry is None:
        return FIRST_ATTEMPT
    status = entry["status"]
    if status in RECORDED:
        return Replay(entry)
    if status == _RETRYING:
        return Run(entry["attempt"] + 1, entry["retry_at"])
    return Park(entry)
