import json

import pytest
from fastavro import parse_schema

from engine.errors import SchemaError
from engine.wire.codec import Codec, schemas_dir
from engine.wire.framing import HEADER_LEN, MAGIC
from engine.wire.records import RecordType

ERROR = {"code": "ERROR", "type": "ValueError", "message": "boom", "step": "charge", "traceback": None}
SAMPLES = {
    "InvocationRequested": {
        "workflow": "wf",
        "input": '{"a":1}',
        "user_id": "u",
        "session_id": None,
        "parent_execution_id": None,
        "root_execution_id": None,
        "run_timeout_ms": None,
        "initial_state": None,
        "parent_seq": None,
        "reply_key": None,
        "queue": {
            "name": "openai",
            "key": "tenant-1",
            "limit": 20,
            "priority": 0,
            "rate_limit": 500,
            "rate_period_ms": 60_000,
        },
        "rerun": {"execution_id": "exec-0", "from_step": "charge", "from_seq": 3, "journal": '{"1":{"key":"a"}}'},
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    },
    "ExecutionStarted": {"worker": "w1"},
    "StepCompleted": {
        "seq": 1,
        "key": "charge",
        "attempt": 1,
        "result": '{"id":"x"}',
        "state": '{"n":1}',
        "started_at": 1_699_999_999_900,
    },
    "StepAttemptFailed": {
        "seq": 2,
        "key": "k",
        "attempt": 1,
        "error": ERROR,
        "retry_at": 1_700_000_001_000,
        "started_at": None,
    },
    "StepFailed": {"seq": 2, "key": "k", "attempt": 3, "error": ERROR, "state": None, "started_at": 1_699_999_999_000},
    "ExecutionCompleted": {"result": "42", "state": None},
    "ExecutionFailed": {"error": ERROR, "state": '{"n":2}'},
    "PartitionClaimed": {"owner": "worker-1/abc"},
    "TimerScheduled": {"seq": 4, "key": "nap", "due_at": 1_700_000_060_000},
    "TimerFired": {"seq": 4, "key": "nap", "due_at": 1_700_000_060_000},
    "Suspended": {"seq": 5, "key": "approval", "data": '{"amount":1200}', "timeout_at": None},
    "ResumeRequested": {"name": "approval", "data": '{"approved":true}'},
    "EventAwaited": {"seq": 6, "key": "pickup", "topic": "warehouse.pickup", "event_key": "o-1", "timeout_at": None},
    "WaitRegistered": {
        "seq": 6,
        "topic": "warehouse.pickup",
        "event_key": "o-1",
        "since": [1, -1, -1],
        "reply_key": "exec-1",
    },
    "EventReceived": {
        "topic": "t",
        "event_key": None,
        "partition": 0,
        "offset": 9,
        "timestamp": 1_700_000_000_000,
        "data": "{}",
    },
    "EventDelivered": {
        "seq": 6,
        "topic": "t",
        "event_key": "k",
        "partition": 0,
        "offset": 9,
        "timestamp": 1_700_000_000_000,
        "data": '{"ok":1}',
    },
    "WaitClosed": {"seq": 6, "topic": "t", "event_key": "k"},
    "DeliveriesConfirmed": {"deliveries": [{"execution_id": "exec-1", "seq": 6}, {"execution_id": "exec-2", "seq": 1}]},
    "TopicAwaited": {"topic": "t", "since": 1_700_000_000_000},
    "CancelRequested": {"reason": "no longer needed", "terminate": False},
    "ExecutionCancelled": {"reason": "run timeout", "terminated": False},
    "ChildInvoked": {
        "seq": 7,
        "key": "call_child",
        "child_execution_id": "exec-1:call_child",
        "workflow": "child",
        "input": '{"data":1}',
        "initial_state": '{"parent_id":"exec-1"}',
        "run_timeout_ms": None,
        "wait": True,
        "queue": None,
    },
    "ChildFinished": {
        "seq": 7,
        "child_execution_id": "exec-1:call_child",
        "child_key": "exec-1:call_child",
        "status": "failed",
        "result": None,
        "error": ERROR,
    },
    "ChildAcknowledged": {},
    "SessionLockRequested": {"seq": 8, "key": "session.lock"},
    "SessionStateSet": {"seq": 9, "key": "session.set:count:1", "name": "count", "value": "3"},
    "WorkerAnnounced": {
        "worker": "host-1-abc",
        "workflows": [
            {"name": "welcome", "triggers": ["signups"], "queue": None},
            {"name": "summarize", "triggers": [], "queue": {"name": "openai", "limit": 20}},
        ],
    },
    "RunParked": {"waits": [3, 4]},
    "QueueTicked": {"queue": "openai", "key": "tenant-1", "due_at": 1_700_000_001_000},
    "QueueLimitSet": {"queue": "openai", "limit": 5},
    "ScheduleSet": {
        "schedule_id": "report/global",
        "workflow": "report",
        "key": "global",
        "cron": "0 9 * * *",
        "timezone": "Europe/Paris",
        "overlap": "skip",
        "catch_up_s": 0,
        "source": "api",
        "next_tick_ms": 1_700_002_000_000,
    },
    "ScheduleCommand": {
        "schedule_id": "report/global",
        "action": "backfill",
        "ticks": [1_700_000_000_000, 1_700_086_400_000],
        "next_tick_ms": None,
        "trigger_id": None,
    },
    "ScheduleTicked": {
        "schedule_id": "report/global",
        "due_at": 1_700_000_000_000,
        "ticks": [1_700_000_000_000],
        "next_tick_ms": 1_700_086_400_000,
    },
}


def sample(record_type: str) -> dict:
    return {"type": record_type, "execution_id": "exec-1", "epoch": 3, "at": 1_700_000_000_123, **SAMPLES[record_type]}


def test_every_record_type_has_a_sample():
    assert sorted(SAMPLES) == Codec().types


def test_the_record_types_the_engine_builds_are_the_schemas():
    assert sorted(RecordType) == Codec().types


@pytest.mark.parametrize("record_type", sorted(SAMPLES))
def test_round_trip(record_type):
    codec = Codec()
    data = codec.encode(sample(record_type))
    assert data[:2] == MAGIC
    assert codec.type_of(data) == record_type
    assert codec.decode(data) == {**sample(record_type), "type": record_type}


def test_fingerprint_is_crc64_avro_of_canonical_form_little_endian():
    # Reference implementation of the Rabin fingerprint from the Avro specification.
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    from fastavro.schema import to_parsing_canonical_form

    raw = json.loads((schemas_dir() / "StepCompleted.avsc").read_text())
    canonical = to_parsing_canonical_form(parse_schema(raw)).encode()
    fp = empty
    for byte in canonical:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    data = Codec().encode(sample("StepCompleted"))
    assert data[2:HEADER_LEN] == fp.to_bytes(8, "little")


def test_unknown_fingerprint_and_garbage_are_clear_errors():
    codec = Codec()
    with pytest.raises(SchemaError, match="unknown schema fingerprint"):
        codec.decode(MAGIC + b"\x00" * 8 + b"body")
    with pytest.raises(SchemaError, match="not an Avro single-object"):
        codec.decode(b'{"json": true}')
    good = codec.encode(sample("StepCompleted"))
    with pytest.raises(SchemaError, match="malformed StepCompleted"):
        codec.decode(good[: HEADER_LEN + 3])


def test_current_schemas_read_every_released_version():
    """Data written with each released schema version decodes with the current codec."""
    released = schemas_dir() / "released"
    versions = sorted(p for p in released.iterdir() if p.is_dir())
    assert versions, "at least one released schema version is kept"
    codec = Codec()
    for version in versions:
        for path in sorted(version.glob("*.avsc")):
            old = Codec(version)  # a codec that only knows that release
            old_schema = json.loads(path.read_text())
            name, old_fields = old_schema["name"], {f["name"] for f in old_schema["fields"]}
            data = old.encode(sample(name))
            decoded = codec.decode(data)
            assert decoded["type"] == name
            current = json.loads((schemas_dir() / f"{name}.avsc").read_text())
            for field in current["fields"]:
                expected = sample(name)[field["name"]] if field["name"] in old_fields else field["default"]
                assert decoded[field["name"]] == expected, (version.name, name, field["name"])


def test_schema_evolution_with_added_field_resolves(tmp_path):
    """A newer writer that added a defaulted field, and an older reader, interoperate."""
    base = json.loads((schemas_dir() / "ExecutionStarted.avsc").read_text())
    newer = json.loads(json.dumps(base))
    newer["fields"].append({"name": "region", "type": "string", "default": "eu"})
    (tmp_path / "released" / "9.9.9").mkdir(parents=True)
    (tmp_path / "ExecutionStarted.avsc").write_text(json.dumps(base))
    (tmp_path / "released" / "9.9.9" / "ExecutionStarted.avsc").write_text(json.dumps(newer))
    reader = Codec(tmp_path)
    writer = Codec(tmp_path / "released" / "9.9.9")
    data = writer.encode({**sample("ExecutionStarted"), "region": "us"})
    assert reader.decode(data) == {**sample("ExecutionStarted"), "type": "ExecutionStarted"}


def test_a_step_error_carries_its_traceback_and_older_errors_read_without_one():
    codec = Codec()
    trace = 'Traceback (most recent call last):\n  File "app.py", line 3, in charge\nValueError: boom\n'
    record = {**sample("StepFailed"), "error": {**ERROR, "traceback": trace}}
    assert codec.decode(codec.encode(record))["error"]["traceback"] == trace
    released = Codec(schemas_dir() / "released" / "0.1.0")
    old = released.encode({**sample("StepFailed"), "error": {k: v for k, v in ERROR.items() if k != "traceback"}})
    assert codec.decode(old)["error"]["traceback"] is None
