"""Store keys are built and parsed in one place, and the documented layout is the real one."""

import re
from pathlib import Path

import pytest

from engine.fold import keys

ROOT = Path(__file__).resolve().parents[2]
ODD_ID = "order/17:retry\u00e9"  # ids may hold slashes, colons and any unicode


def built_keys() -> list[bytes]:
    return [
        keys.APPLIED_KEY,
        keys.EPOCH_KEY,
        keys.DERIVED_KEY,
        keys.execution_key(ODD_ID),
        keys.run_workflow_key("billing/charge", 1_700_000_000_000, ODD_ID),
        keys.run_status_key("failed", 1_700_000_000_000, ODD_ID),
        keys.active_key(ODD_ID),
        keys.journal_key(ODD_ID, 7),
        keys.timer_key(1_700_000_000_000, ODD_ID, 7),
        keys.suspension_key(ODD_ID, "approval"),
        keys.early_resume_key(ODD_ID, "approval"),
        keys.awaiting_key(ODD_ID, 7),
        keys.buffer_key("orders", "o-1", 1_700_000_000_000, 2, 99),
        keys.waiter_key("orders", "o-1", ODD_ID, 7),
        keys.delivery_key(ODD_ID, 7),
        keys.topic_key("orders"),
        keys.child_key(ODD_ID, f"{ODD_ID}:kid"),
        keys.report_key(ODD_ID),
        keys.session_lock_key("s-1"),
        keys.session_state_key("s-1"),
        keys.schedule_key("report/user-7"),
        keys.queue_key("openai", "tenant-1"),
        keys.queue_limit_key("openai"),
        keys.worker_key("host-1-abc"),
        keys.dead_record_key(12),
    ]


def test_every_key_falls_under_exactly_one_documented_prefix():
    prefixes = [kind.prefix for kind in keys.LAYOUT]
    for key in built_keys():
        assert [p for p in prefixes if key.startswith(p)] != [], key
    for a in prefixes:
        assert [b for b in prefixes if b.startswith(a)] == [a], f"{a!r} is a prefix of another kind's prefix"
    assert len(set(prefixes)) == len(built_keys()), "one builder per kind in the test, one kind per builder"


def test_parsers_invert_builders_for_ids_with_slashes():
    at = 1_700_000_000_000
    flow = keys.run_workflow_prefix("billing/charge")
    assert keys.parse_run_index_key(flow, keys.run_workflow_key("billing/charge", at, ODD_ID)) == (at, ODD_ID)
    failed = keys.run_status_prefix("failed")
    assert keys.parse_run_index_key(failed, keys.run_status_key("failed", at, ODD_ID)) == (at, ODD_ID)
    assert keys.created_bound(flow, at) < keys.run_workflow_key("billing/charge", at, ODD_ID)
    assert keys.parse_active_key(keys.active_key(ODD_ID)) == ODD_ID
    assert keys.parse_journal_seq(keys.journal_key(ODD_ID, 42)) == 42
    assert keys.parse_timer_key(keys.timer_key(1_700_000_000_000, ODD_ID, 7)) == (1_700_000_000_000, ODD_ID, 7)
    assert keys.parse_awaiting_key(keys.awaiting_key(ODD_ID, 7)) == (ODD_ID, 7)
    assert keys.parse_waiter_key("orders", None, keys.waiter_key("orders", None, ODD_ID, 3)) == (ODD_ID, 3)
    assert keys.parse_report_key(keys.report_key(ODD_ID)) == ODD_ID
    assert keys.parse_topic_key(keys.topic_key("a.b/c")) == "a.b/c"
    assert keys.parse_schedule_key(keys.schedule_key("report/user-7")) == "report/user-7"
    due, timer_id, seq = keys.parse_timer_key(keys.schedule_timer_key(1_700_000_000_000, "report/user-7"))
    assert (due, timer_id, seq) == (1_700_000_000_000, keys.schedule_timer_id("report/user-7"), 0)


def test_byte_order_is_numeric_order_where_scans_rely_on_it():
    assert keys.timer_key(999, "z", 1) < keys.timer_key(1_000, "a", 1), "timers by due time, not by id"
    assert keys.journal_key("e", 9) < keys.journal_key("e", 10)
    assert not keys.journal_key("e/1", 1).startswith(keys.journal_prefix("e")), "no id's journal is under another's"
    assert keys.buffer_key("t", "k", 5, 0, 10) < keys.buffer_key("t", "k", 5, 1, 0) < keys.buffer_key("t", "k", 6, 0, 0)


def test_the_architecture_page_shows_the_layout_that_keys_py_builds():
    page = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"<!-- store-keys: generated from engine/fold/keys.py.*?-->\n```\n(.*?)\n```", page, re.S)
    assert block is not None, "docs/architecture.md has the generated store-keys block"
    assert block.group(1) == keys.layout_table(), (
        "docs/architecture.md is out of date: paste engine.fold.keys.layout_table() into it"
    )


@pytest.mark.parametrize("path", sorted((ROOT / "engine").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_keys_py_slices_store_keys(path):
    if path == ROOT / "engine" / "fold" / "keys.py":
        return
    sliced = re.findall(r"\bkey\[[-\w\s()+]*:[-\w\s()+]*\]", path.read_text())
    assert sliced == [], f"{path.name} slices a key by hand; parse it with engine.fold.keys"
