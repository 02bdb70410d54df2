"""Faults of what is under the workers: the broker, the journal's records, the disk.

The broker tests have a broker of their own (``deploy/kafka/kafka_local.py``), restarted
and paused here without touching the suite's shared one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from cluster import EffectsPipe, Load, verdict
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from kafka_fixture import _load_kafka_local
from world import open_world

from engine import names

pytestmark = pytest.mark.timeout(600)


def all_completed(load) -> None:
    assert load.results == load.expected and load.results, "every run completes with its result"


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory):
    kafka_local = _load_kafka_local()
    data_dir = tmp_path_factory.mktemp("own-broker")
    broker = kafka_local.start(data_dir)
    holder = {"broker": broker, "start": lambda: kafka_local.start(data_dir)}
    try:
        yield holder
    finally:
        holder["broker"].stop()


@pytest.fixture
async def on_own_broker(request, tmp_path, own_broker):
    async for world in open_world(request, tmp_path, own_broker["broker"].bootstrap):
        yield world


async def test_a_broker_restarted_mid_run_loses_nothing(on_own_broker, own_broker):
    fault = on_own_broker
    load = await fault.under_load("w0", "w1")
    for _ in range(fault.rounds(ci=1, soak=5)):
        await asyncio.to_thread(own_broker["broker"].stop)  # SIGTERM: a controlled shutdown
        await asyncio.sleep(2)
        own_broker["broker"] = await asyncio.to_thread(own_broker["start"])  # same ports, same data
        fault.workers.faults.append((time.time(), None))  # recovery counts from its return
        await load.until_completed(50, timeout_s=120)
    await load.stop()

    judged = await verdict(fault.client, fault.effects, fault.workers.faults, load)
    all_completed(load)
    assert judged.ran_again == []
    assert all(proc.poll() is None for proc in fault.workers.procs.values()), "the workers rode it out"


async def test_a_broker_paused_for_20_s_loses_nothing(on_own_broker, own_broker):
    fault = on_own_broker
    load = await fault.under_load("w0", "w1")
    pid = own_broker["broker"].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(20)
    finally:
        os.kill(pid, signal.SIGCONT)
    fault.workers.faults.append((time.time(), None))  # recovery counts from its return
    await load.until_completed(50, timeout_s=120)
    await load.stop()

    judged = await verdict(fault.client, fault.effects, fault.workers.faults, load)
    all_completed(load)
    assert judged.ran_again == []
    assert all(proc.poll() is None for proc in fault.workers.procs.values()), "the workers rode it out"


async def test_poison_oversized_and_unknown_fingerprint_records_are_dead_lettered(fault):
    load = await fault.under_load("w0")
    journal = names.journal_topic(fault.namespace)
    admin = AdminClient({"bootstrap.servers": fault.bootstrap})
    resource = ConfigResource(
        ResourceType.TOPIC,
        journal,
        incremental_configs=[
            ConfigEntry("max.message.bytes", str(10 << 20), incremental_operation=AlterConfigOpType.SET)
        ],
    )  # an operator raised the topic's limit past the engine's
    admin.incremental_alter_configs([resource])[resource].result(timeout=30)
    producer = Producer({"bootstrap.servers": fault.bootstrap, "message.max.bytes": 11 << 20})
    bad = {
        "poison": b"not a record at all",
        "unknown": b"\xc3\x01" + bytes(range(8)) + b"\x02\x04",  # framed, by a schema nobody knows
        "oversized": b"\xc3\x01" + b"x" * (9 << 20),
    }
    for key, value in bad.items():
        producer.produce(journal, value=value, key=f"bad-{key}".encode(), partition=1)
    assert producer.flush(30) == 0
    await load.until_completed(100)  # the partition keeps going
    await load.stop()

    letters = {d.key: d for d in await fault.client.dead_letters()}
    assert set(letters) >= {"bad-poison", "bad-unknown", "bad-oversized"}, letters.keys()
    assert "not an Avro single-object encoded record" in letters["bad-poison"].reason
    assert "unknown schema fingerprint" in letters["bad-unknown"].reason
    assert "over the journal's limit" in letters["bad-oversized"].reason
    assert all(letters[k].topic == journal and letters[k].event_partition == 1 for k in letters if k.startswith("bad-"))
    assert letters["bad-oversized"].value_truncated, "a letter keeps the start of a record too big to publish"
    judged = await verdict(fault.client, fault.effects, fault.workers.faults, load)
    all_completed(load)
    assert judged.ran_again == []


async def test_a_store_that_cannot_be_written_stops_its_worker_and_the_other_takes_over(fault):
    workers = fault.workers
    for name in ("w0", "w1"):
        workers.start(name)
    await workers.until_ready("w0", "w1")
    pipe = EffectsPipe(fault.effects)  # the bodies' notes must not hit the limit
    load = Load(fault.client, pipe.fifo).start()
    await load.until_completed(50)
    workers.limit_file_size("w1", 1)  # every write into a file fails (EFBIG), as on a full disk
    code = await asyncio.to_thread(workers.procs["w1"].wait, 60)
    await load.until_completed(100)  # w0 took its partitions
    await load.stop()

    await pipe.drained()
    told = workers.log_file("w1").read_text(errors="replace")
    assert code == 10, told[-3000:]
    assert "cannot fold records into its store" in told
    judged = await verdict(fault.client, fault.effects, fault.workers.faults, load)
    all_completed(load)
    assert judged.ran_again == []
    # conftest: after the test, w1's store too must equal its log up to its last committed batch
