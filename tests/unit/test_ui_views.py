"""The web UI's pure parts: a history as timeline bars, state snapshots and agent turns
(``connectors/http/ui/timeline.py``), and a suspension's form and what a submission
resumes it with (``connectors/http/ui/forms.py``)."""

from datetime import UTC, datetime

import pytest

from connectors.http.models import HistoryEntry
from connectors.http.ui.forms import FormError, answer, form_for
from connectors.http.ui.timeline import agent_view, build_timeline, invocation_of, state_snapshots

T0 = 1_800_000_000_000
offsets = iter(range(10**6))


def entry(type_: str, at_ms: int, outcome: str = "applied", **fields) -> HistoryEntry:
    at = datetime.fromtimestamp((T0 + at_ms) / 1000, UTC)
    return HistoryEntry(partition=0, offset=next(offsets), type=type_, at=at, outcome=outcome, fields=fields)


def bars_of(timeline) -> list[tuple]:
    return [
        (b.kind, b.name, b.start_ms - T0, None if b.end_ms is None else b.end_ms - T0, b.status) for b in timeline.bars
    ]


def test_steps_retries_waits_and_children_become_bars_on_the_runs_span():
    history = [
        entry("InvocationRequested", 0, workflow="w", input={"x": 1}, user_id="ana", session_id=None),
        entry("ExecutionStarted", 10),
        entry("StepCompleted", 30, seq=1, key="a", attempt=1, result=1, state={"n": 1}),
        entry("StepAttemptFailed", 50, seq=2, key="b", attempt=1, error={"message": "no"}, retry_at=T0 + 150),
        entry("StepCompleted", 160, seq=2, key="b", attempt=2, result=2, state={"n": 2}),
        entry("TimerScheduled", 170, seq=3, key="sleep:1", due_at=T0 + 400),
        entry("TimerFired", 390, seq=3, key="sleep:1", due_at=T0 + 400),  # a sleep's record comes early
        entry("Suspended", 400, seq=4, key="ask", data={"q": 1}, timeout_at=T0 + 600),
        entry("TimerFired", 600, seq=4, key="ask", due_at=T0 + 600),
        entry("ChildInvoked", 610, seq=5, key="kid", child_execution_id="e:kid", workflow="k", wait=True),
        entry("ChildInvoked", 620, seq=6, key="fire", child_execution_id="e:fire", workflow="k", wait=False),
        entry("ResumeRequested", 630, outcome="ignored: no such wait", name="ask", data=1),
        entry("ChildFinished", 700, seq=5, child_execution_id="e:kid", status="completed", result=3),
        entry("ExecutionCompleted", 1000, result=3),
    ]
    timeline = build_timeline(history, now_ms=T0 + 99_999)
    assert timeline.ended and timeline.span_ms == 1000
    assert bars_of(timeline) == [
        ("step", "a", 10, 30, "completed"),
        ("retry", "b", 30, 50, "retried"),
        ("step", "b", 150, 160, "completed"),  # the retry starts when it was due
        ("timer", "sleep:1", 170, 400, "fired"),  # and ends no sooner than due
        ("suspend", "ask", 400, 600, "timed out"),
        ("child", "kid", 610, 700, "completed"),
        ("child", "fire", 620, 620, "started"),  # not waited for: a point
    ]
    step_a = timeline.bars[0]
    assert (step_a.left_percent, step_a.width_percent) == (1.0, 2.0) and step_a.duration_ms == 20
    assert timeline.bars[5].child_id == "e:kid" and timeline.bars[5].detail == "k"
    assert [(s.step, s.state) for s in state_snapshots(history)] == [("a", {"n": 1}), ("b", {"n": 2})]
    assert invocation_of(history)["input"] == {"x": 1}


def test_a_step_that_recorded_when_it_started_gets_its_bar_from_then():
    history = [
        entry("InvocationRequested", 0, workflow="w", input={}),
        entry("ExecutionStarted", 10),
        entry("StepCompleted", 100, seq=1, key="a", attempt=1, result=1, started_at=T0 + 60),
        entry("StepAttemptFailed", 130, seq=2, key="b", attempt=1, error={}, retry_at=T0 + 140, started_at=T0 + 105),
        entry("StepCompleted", 200, seq=2, key="b", attempt=2, result=2, started_at=T0 + 170),
        entry("ExecutionCompleted", 210, result=2),
    ]
    assert bars_of(build_timeline(history, now_ms=T0)) == [
        ("step", "a", 60, 100, "completed"),  # not from ExecutionStarted: it began later
        ("retry", "b", 105, 130, "retried"),
        ("step", "b", 170, 200, "completed"),  # not from retry_at: it began later still
    ]


def test_a_resume_kept_before_its_suspension_ends_it_and_a_cancel_ends_what_was_open():
    history = [
        entry("InvocationRequested", 0, workflow="w", input=None),
        entry("ResumeRequested", 5, name="early", data=1),  # buffered: no such wait yet
        entry("Suspended", 20, seq=1, key="early", data=None),
        entry("EventAwaited", 30, seq=2, key="pickup", topic="pickups", event_key=None),
        entry("ExecutionCancelled", 80, reason="no"),
        entry("ResumeRequested", 90, outcome="ignored: execution is cancelled", name="pickup", data=2),
    ]
    timeline = build_timeline(history, now_ms=T0 + 10_000)
    assert timeline.ended and timeline.span_ms == 80  # the late, ignored record does not stretch it
    assert bars_of(timeline) == [("suspend", "early", 20, 20, "resumed"), ("event", "pickup", 30, 80, "cancelled")]


def test_a_run_still_going_spans_to_now_and_its_open_wait_runs_to_the_end():
    history = [
        entry("InvocationRequested", 0, workflow="w", input=None),
        entry("Suspended", 100, seq=1, key="ok?", data=None, timeout_at=None),
    ]
    timeline = build_timeline(history, now_ms=T0 + 400)
    assert not timeline.ended and timeline.span_ms == 400
    (wait,) = timeline.bars
    assert wait.end_ms is None and wait.status == "waiting" and (wait.left_percent, wait.width_percent) == (25.0, 75.0)
    assert build_timeline([], now_ms=T0).bars == [] and state_snapshots(history) == []
    empty = [entry("StepCompleted", 5, seq=1, key="a", attempt=1, result=1, state={})]
    assert state_snapshots(empty) == []  # a run that keeps no state shows none
    assert agent_view(history) is None


def test_an_agents_model_turns_and_tool_calls_with_their_tokens():
    def model_call(turn: int, text, calls, tokens_in: int, tokens_out: int) -> dict:
        response = {"text": text, "tool_calls": calls, "stop_reason": "stop", "model": "m"}
        usage = {"input_tokens": tokens_in, "output_tokens": tokens_out}
        return {"agent": "helper", "model": "m", "response": response, "usage": usage}

    calls = [{"id": "c1", "name": "lookup", "arguments": {"q": 1}}, {"id": "c2", "name": "ask_user", "arguments": {}}]
    history = [
        entry("StepCompleted", 10, seq=1, key="llm:1", attempt=1, result=model_call(1, None, calls, 30, 5)),
        entry("ChildInvoked", 20, seq=2, key="tool:1.0:lookup", child_execution_id="e:t", workflow="lookup"),
        entry("Suspended", 21, seq=3, key="tool:1.1:ask_user", data={"question": "which?"}),
        entry("ChildFinished", 30, seq=2, child_execution_id="e:t", status="failed", error={"message": "down"}),
        entry("ResumeRequested", 40, name="tool:1.1:ask_user", data="the red one"),
        entry("StepCompleted", 50, seq=4, key="llm:2", attempt=1, result=model_call(2, "done", [], 60, 7)),
    ]
    view = agent_view(history)
    assert [(t.turn, t.text, len(t.tool_calls)) for t in view.turns] == [(1, None, 2), (2, "done", 0)]
    assert (view.input_tokens, view.output_tokens) == (90, 12)
    lookup, ask = view.calls
    assert (lookup.name, lookup.status, lookup.error, lookup.child_id) == (
        "lookup",
        "failed",
        {"message": "down"},
        "e:t",
    )
    assert (ask.name, ask.status, ask.result) == ("ask_user", "answered", "the red one")


def test_each_kind_of_question_gets_its_form_and_its_answer():
    def submit(data, **fields):
        return answer(form_for("w", data), {k: v if isinstance(v, list) else [v] for k, v in fields.items()})

    options = [{"id": "r", "label": "Red"}, "g"]
    assert submit({"question": "ok?", "input_type": "approval"}, decision="approve") is True
    assert submit({"question": "ok?", "input_type": "approval"}, decision="reject") is False
    assert submit({"input_type": "select", "options": options}, choice="g") == "g"
    assert submit({"input_type": "multiselect", "options": options}, choice=["r", "g"]) == ["r", "g"]
    assert submit({"input_type": "multiselect", "options": options}) == []
    assert submit({"question": "name?", "input_type": "text"}, text="Ana") == "Ana"
    tool = {"tool": "pay", "arguments": {"eur": 5}, "call_id": "c"}
    assert submit(tool, decision="reject", feedback=" too much ") == {"approved": False, "feedback": "too much"}
    assert submit(tool, decision="approve", feedback="") == {"approved": True}
    schema = {"properties": {"n": {"type": "integer"}, "x": {"type": "number"}, "c": {"enum": ["a", "b"]}}}
    assert submit({"schema": {**schema, "required": ["n"]}}, **{"field.n": "2", "field.x": "", "field.c": "b"}) == {
        "n": 2,
        "c": "b",
    }
    assert submit({"amount": 3}, json='{"ok": true}') == {"ok": True}
    assert submit(None, json="null") is None
    assert form_for("w", {"input_type": "select", "options": options}).choices == [("r", "Red"), ("g", "g")]


@pytest.mark.parametrize(
    ("data", "fields", "named"),
    [
        ({"input_type": "approval"}, {"decision": ["maybe"]}, "decision:"),
        ({"input_type": "select", "options": ["a"]}, {}, "choice: choose one"),
        ({"input_type": "select", "options": ["a"]}, {"choice": ["b"]}, "choice: 'b' is not one of the options"),
        ({"input_type": "multiselect", "options": ["a"]}, {"choice": ["a", "z"]}, "choice: 'z'"),
        ({"input_type": "text"}, {"text": ["x" * 70_000]}, "text: at most"),
        ({"schema": {"properties": {"n": {"type": "integer"}}, "required": ["n"]}}, {}, "n: required"),
        ({"schema": {"properties": {"x": {"type": "number"}}}}, {"field.x": ["inf"]}, "x: 'inf' is not a finite"),
        ({"schema": {"properties": {"c": {"enum": ["a"]}}}}, {"field.c": ["b"]}, "c: 'b' is not one of a"),
        ({"amount": 3}, {"json": ["{"]}, "json: not valid JSON"),
        ({"amount": 3}, {"json": ["NaN"]}, "json: not valid JSON"),
        ({"amount": 3}, {}, "json: give a JSON value"),
    ],
)
def test_a_submission_that_does_not_fit_its_form_is_refused_naming_the_field(data, fields, named):
    with pytest.raises(FormError, match=named.replace("(", r"\(")):
        answer(form_for("w", data), fields)
