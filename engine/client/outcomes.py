"""What a command did, as the fold judged it: the answer a client gives instead of "sent".

A client appends a command and then reads what the fold made of that very record (its
effects, ``live.LiveResults.judge``): a resume that ended a wait, one that was kept for a
wait not reached yet, one that came too late. Nothing is guessed from the client's side.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..fold import EffectKind
from ..fold.effects import Effect
from ..fold.rows import ENDED
from .models import Execution


class Outcome(StrEnum):
    APPLIED = "applied"  # it did what it asked: resumed the wait, requested the cancellation
    BUFFERED = "buffered"  # a resume kept until the run reaches that wait
    ALREADY = "already"  # done before: the wait already ended, the cancellation already requested
    ENDED = "ended"  # the execution had ended: nothing to do


@dataclass(frozen=True)
class CommandResult:
    """A command's outcome, the fold's words for it, and the execution right after it."""

    outcome: Outcome
    message: str
    execution: Execution

    @property
    def applied(self) -> bool:
        return self.outcome is Outcome.APPLIED


# QUEUED: a resume ended the wait of a run that gave its queue slot back; it goes on once it has one.
_APPLIED = frozenset({EffectKind.INVOKED, EffectKind.CANCEL, EffectKind.WOKEN, EffectKind.QUEUED})


def judge(effects: list[Effect], row: dict, applied: str) -> CommandResult:
    """The outcome of a command whose record had ``effects``, for an execution now at ``row``.

    ``applied`` says what it did when it did it ("resumed 'approval'")."""
    kinds = {effect.kind for effect in effects}
    execution = Execution.from_row(row)
    if kinds & _APPLIED:
        return CommandResult(Outcome.APPLIED, applied, execution)
    why = next((str(e.data) for e in effects if e.kind in (EffectKind.BUFFERED, EffectKind.DUPLICATE)), "")
    if EffectKind.BUFFERED in kinds:
        return CommandResult(Outcome.BUFFERED, why, execution)
    if EffectKind.DUPLICATE in kinds:
        return CommandResult(Outcome.ALREADY, why, execution)
    if row["status"] in ENDED:
        return CommandResult(Outcome.ENDED, f"execution {row['id']} has ended: it is {row['status']}", execution)
    raise AssertionError(f"no outcome in {[e.kind for e in effects]}")  # the fold's rules changed
