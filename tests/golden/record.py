"""Record the golden histories again: ``python tests/golden/record.py`` (tests/golden/README.md).

Runs the scenarios of ``tests/golden/app.py`` on a fresh embedded log, with a worker in
this process, then writes:

* ``runs/<name>.json``: the history file of each scenario's run (its children inside),
  which ``tests/unit/test_golden.py`` replays against today's code;
* ``partitions/<p>.json``: every record of journal partition ``p``, decoded, and the
  store the worker folded them into (every key and value, as of its applied offset),
  which the same test folds again with today's fold and compares.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from engine import Client, EmbeddedLog, Worker, WorkflowFailedError, schedules  # noqa: E402
from engine.fold.keys import APPLIED_KEY  # noqa: E402
from engine.replay import export_history  # noqa: E402
from engine.store import StorePartition  # noqa: E402
from engine.wire.codec import default_codec  # noqa: E402
from engine.wire.framing import fingerprint_hex  # noqa: E402
from engine.workflow.loading import load_app  # noqa: E402

PARTITIONS = 4
TOPIC = "golden-events"


async def until(predicate, what: str, timeout_s: float = 20.0):
    for _ in range(int(timeout_s / 0.05)):
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise TimeoutError(f"golden scenario: {what} did not happen within {timeout_s} s")


async def ended(handle) -> None:
    try:
        await handle.result(timeout=20)
    except WorkflowFailedError:
        pass  # failed or cancelled, as the scenario wants


async def waiting_on(client, execution_id: str, key: str):
    async def check():
        execution = await client.get_execution(execution_id)
        return key in [w["key"] for w in execution.waiting_for]

    await until(check, f"{execution_id} waits on {key}")


async def scenarios(client: Client) -> dict[str, str]:
    """Run every scenario to its end; their execution ids by name."""
    app = sys.modules["app"]
    runs = {}
    everything = await app.g_everything.invoke(client, {"tag": "g1", "topic": TOPIC}, execution_id="g-everything")
    await waiting_on(client, everything.execution_id, "event")
    await client.publish_event(TOPIC, {"paid": True})
    await waiting_on(client, everything.execution_id, "approval")
    await client.resume(everything.execution_id, "approval", True)
    await everything.result(timeout=20)
    runs["everything"] = everything.execution_id

    fails = await app.g_fails.invoke(client, execution_id="g-fails")
    await ended(fails)
    runs["fails"] = fails.execution_id

    cancelled = await app.g_cancelled.invoke(client, execution_id="g-cancelled")
    await waiting_on(client, cancelled.execution_id, "forever")
    await client.cancel(cancelled.execution_id, "golden")
    await ended(cancelled)
    runs["cancelled"] = cancelled.execution_id

    for i, item in enumerate(("apple", "pear")):
        handle = await app.g_session.invoke(client, {"item": item}, execution_id=f"g-session-{i}", session_id="cart")
        await handle.result(timeout=20)
        runs[f"session-{i}"] = handle.execution_id

    await client.set_queue_limit("golden", 1)
    queued = [await app.g_queued.invoke(client, {"tag": f"q{i}"}, execution_id=f"g-queued-{i}") for i in range(3)]
    for handle in queued:
        await handle.result(timeout=20)
    runs.update({f"queued-{i}": h.execution_id for i, h in enumerate(queued)})

    schedule = await schedules.create(client, app.g_scheduled, "* * * * * *", key="golden")
    await schedules.pause(client, schedule.schedule_id)
    triggered = await schedules.trigger(client, schedule.schedule_id)
    try:
        await triggered.result(timeout=10)
    except TimeoutError:
        print(await client.get_execution(triggered.execution_id))
        print(await client.history(triggered.execution_id))
        raise
    runs["scheduled"] = triggered.execution_id
    await schedules.resume(client, schedule.schedule_id)

    async def ticked():
        return [e for e in await client.list_executions("completed") if "@tick-" in e.execution_id]

    tick = (await until(ticked, "a cron tick's run"))[0]
    await schedules.delete(client, schedule.schedule_id)
    runs["ticked"] = tick.execution_id

    late = await app.g_event_timeout.invoke(client, {"topic": f"{TOPIC}-late"}, execution_id="g-event-timeout")
    await late.result(timeout=20)
    runs["event-timeout"] = late.execution_id

    patched = await app.g_patched.invoke(client, {"n": 4}, execution_id="g-patched")
    await patched.result(timeout=20)
    runs["patched"] = patched.execution_id
    return runs


def partition_file(log_dir: Path, store: StorePartition, partition: int) -> dict:
    """Every record of the partition up to the store's applied offset, and the store."""
    codec = default_codec()
    applied = store.applied_offset()
    records = []
    log = EmbeddedLog(log_dir, "golden", PARTITIONS, read_only=True)

    async def read():
        await log.start()
        reader = log.reader()
        reader.assign(partition, 0)
        while len(records) <= applied:
            for entry in await reader.poll(0.2):
                if entry.offset <= applied:
                    records.append(
                        {"offset": entry.offset, "key": entry.key.decode() if entry.key else None,
                         "schema_fingerprint": fingerprint_hex(entry.value), "record": codec.decode(entry.value)}
                    )  # fmt: skip
        await reader.close()
        await log.close()

    asyncio.run(read())
    state = {k.decode("utf-8", "backslashreplace"): orjson.loads(v) for k, v in store.items() if k != APPLIED_KEY}
    return {"partition": partition, "applied": applied, "records": records, "state": state}


async def record(work: Path) -> tuple[dict, dict]:
    load_app(str(HERE / "app.py"))
    async with EmbeddedLog(work, "golden", PARTITIONS) as log:
        worker = await Worker(log, data_dir=work).start()
        async with Client(log) as client:
            runs = await scenarios(client)
            await asyncio.sleep(1.0)  # the last acknowledgements and timers are folded
            histories = {name: await export_history(client, eid, with_children=True) for name, eid in runs.items()}
        await worker.stop()
    return histories, {p: worker.store_path(p) for p in range(PARTITIONS)}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="logloom-golden-") as tmp:
        work = Path(tmp)
        histories, stores = asyncio.run(record(work))
        (HERE / "runs").mkdir(exist_ok=True)
        (HERE / "partitions").mkdir(exist_ok=True)
        for name, history in histories.items():
            (HERE / "runs" / f"{name}.json").write_bytes(history.dumps())
        for partition, path in stores.items():
            store = StorePartition(path)
            try:
                written = partition_file(work, store, partition)
            finally:
                store.close()
            (HERE / "partitions" / f"{partition}.json").write_bytes(
                orjson.dumps(written, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
            )
    print(f"recorded {len(histories)} runs and {len(stores)} partitions at {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}")


if __name__ == "__main__":
    main()
