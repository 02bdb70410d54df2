"""The step protocol's decision is a pure function of the journal, a position and a key."""

import pytest

from engine.errors import DuplicateStepKeyError, NondeterminismError
from engine.workflow.journal import Journal, Park, Replay, Run, decide
from engine.workflow.steps import StepKeys

COMPLETED = {"key": "charge", "status": "completed", "attempt": 1, "result": '{"id": "c1"}'}
FAILED = {"key": "charge", "status": "failed", "attempt": 3, "error": {"code": "ERROR"}}
RETRYING = {"key": "charge", "status": "retrying", "attempt": 2, "error": {"code": "ERROR"}, "retry_at": 5_000}
WAITING = {"key": "approval", "status": "waiting", "kind": "suspend", "attempt": 1, "timeout_at": 9_000}


def test_nothing_recorded_runs_the_first_attempt_at_once():
    assert decide(Journal("e1"), 1, "charge") == Run(attempt=1, not_before_ms=None)


@pytest.mark.parametrize("entry", [COMPLETED, FAILED], ids=["completed", "failed"])
def test_a_recorded_outcome_is_replayed_and_the_body_does_not_run(entry):
    assert decide(Journal("e1", {1: entry}), 1, "charge") == Replay(entry)


def test_a_failed_attempt_runs_the_next_one_when_its_retry_is_due():
    assert decide(Journal("e1", {1: RETRYING}), 1, "charge") == Run(attempt=3, not_before_ms=5_000)


def test_an_open_wait_parks():
    assert decide(Journal("e1", {1: WAITING}), 1, "approval") == Park(WAITING)


def test_another_key_at_a_recorded_position_is_nondeterminism_naming_both_steps():
    with pytest.raises(NondeterminismError) as info:
        decide(Journal("e1", {1: COMPLETED}), 1, "refund")
    assert (info.value.execution_id, info.value.position) == ("e1", 1)
    assert (info.value.expected, info.value.found) == ("charge", "refund")


def test_positions_past_the_journal_run_even_after_recorded_ones():
    journal = Journal("e1", {1: COMPLETED})
    assert decide(journal, 2, "ship") == Run()
    journal.remember(2, dict(COMPLETED, key="ship"))
    assert decide(journal, 2, "ship") == Replay(dict(COMPLETED, key="ship"))


def test_derived_keys_count_occurrences_and_explicit_keys_are_unique():
    keys = StepKeys("e1")
    assert [keys.derived(None, "send"), keys.derived(None, "send"), keys.derived(None, "sleep")] == [
        "send:1",
        "send:2",
        "sleep:1",
    ]
    assert keys.derived("charge", "ignored") == "charge"
    with pytest.raises(DuplicateStepKeyError, match="e1.*'charge'"):
        keys.explicit("charge")
