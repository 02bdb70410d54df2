"""The replay rule, pure: what the journal recorded at a step position.

A workflow's step calls are numbered in call order. On a re-run the n-th call must ask
for the same step key the journal recorded at position n; if it asks for another, the
code changed or is not deterministic, and ``NondeterminismError`` says which step, at
which position, was expected and which was found.
"""

from __future__ import annotations

from .errors import NondeterminismError


class Journal:
    """Recorded step entries of one execution, by position."""

    __slots__ = ("execution_id", "_entries")

    def __init__(self, execution_id: str, entries: dict[int, dict] | None = None):
        self.execution_id = execution_id
        self._entries = entries or {}

    def __len__(self) -> int:
        return len(self._entries)

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
