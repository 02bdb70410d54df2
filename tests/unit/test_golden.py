"""Golden histories (tests/golden/README.md): what this version recorded, replayed by
today's code, on the fold's side and on the workflow's."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from engine.fold import MemoryState, apply, run_index
from engine.fold.effects import verdict
from engine.replay import Replayer, load_history
from engine.wire.records import RecordType
from engine.workflow.loading import load_app

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
RUNS = sorted((GOLDEN / "runs").glob("*.json"))
PARTITIONS = sorted((GOLDEN / "partitions").glob("*.json"))


def test_the_golden_partitions_hold_every_record_type():
    seen = {r["record"]["type"] for path in PARTITIONS for r in json.loads(path.read_text())["records"]}
    assert set(RecordType) - seen == set(), "record a golden history of the new record type"
    assert len(RUNS) >= 10


@pytest.mark.parametrize("path", PARTITIONS, ids=lambda p: f"partition-{p.stem}")
def test_todays_fold_folds_a_golden_partition_into_the_store_its_worker_kept(path):
    golden = json.loads(path.read_text())
    state = MemoryState()
    run_index.index_rows(state)  # what a worker does to a new store when it opens it
    for recorded in golden["records"]:
        effects = apply(state, dict(recorded["record"]))
        assert not verdict(effects).startswith("ignored: no fold rule"), recorded
    folded = {k.decode("utf-8", "backslashreplace"): orjson.loads(orjson.dumps(v)) for k, v in state.data.items()}
    kept = _upgraded(golden["state"])
    assert folded.keys() == kept.keys(), "keys the fold writes now differ from the recorded store's"
    for key, value in kept.items():
        assert folded[key] == value, f"partition {golden['partition']}, key {key!r}: folds differently now"


def _upgraded(recorded: dict) -> dict:
    """The recorded store as today's worker opens it: with the keys it derives from the
    rows of a store of an older version (the run index, ``fold/run_index.py``)."""
    state = MemoryState()
    state.data = {k.encode("utf-8", "surrogateescape"): v for k, v in recorded.items()}
    if not run_index.is_indexed(state):
        run_index.index_rows(state)
    return {k.decode("utf-8", "backslashreplace"): v for k, v in state.data.items()}


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
async def test_todays_code_replays_a_golden_run_ok(path):
    load_app(str(GOLDEN / "app.py"))
    history = load_history(path)
    for one in (history, *history.children):
        result = await Replayer().replay(one)
        assert result.ok, (
            f"{path.name}: {one.execution_id}: {result.verdict}: {result.message} {result.fold_mismatches}"
        )
        assert result.steps_replayed == len([s for s in result.steps if s.recorded is not None])
