"""One conformance suite for both logs: same partition, offset and durability semantics."""

import asyncio

from helpers import assert_eventually

from engine.clock import now_ms
from engine.log.base import partition_for


async def _read_back(log, partitions: int, count: int) -> list:
    """Read partitions 0..partitions-1 from offset 0 until ``count`` records came back."""
    reader = log.reader()
    for p in range(partitions):
        reader.assign(p, 0)
    seen = []

    async def all_read():
        seen.extend(await reader.poll(0.5))
        return len(seen) >= count

    await assert_eventually(all_read, message=f"{count} records read back")
    await reader.close()
    return seen


async def test_appends_get_consecutive_offsets_per_partition(harness):
    log = await harness.log()
    offsets = await asyncio.gather(*[log.append(1, b"k", b"v%d" % i) for i in range(50)])
    assert offsets == list(range(offsets[0], offsets[0] + 50))
    assert await log.end_offset(1) == offsets[-1] + 1
    assert await log.end_offset(2) == 0


async def test_appends_made_together_keep_their_order_in_each_partition(harness):
    """Appends made in one turn of the loop, to several partitions, without awaiting in
    between (the Kafka log hands them to librdkafka together, one batch per partition)."""
    log = await harness.log()
    futures = [log.append(i % 3, b"k%d" % i, b"v%d" % i) for i in range(60)]
    offsets = await asyncio.gather(*futures)
    for p in range(3):
        mine = offsets[p::3]
        assert mine == list(range(mine[0], mine[0] + 20)), f"partition {p}: {mine}"
    seen = await _read_back(log, partitions=3, count=60)
    for p in range(3):
        assert [e.value for e in seen if e.partition == p] == [b"v%d" % i for i in range(p, 60, 3)]
        assert [e.key for e in seen if e.partition == p] == [b"k%d" % i for i in range(p, 60, 3)]


async def test_reader_returns_records_in_offset_order_with_keys(harness):
    log = await harness.log()
    for i in range(30):
        await log.append(i % 3, b"key%d" % i, b"value%d" % i)
    seen = await _read_back(log, partitions=3, count=30)
    for p in range(3):
        mine = [e for e in seen if e.partition == p]
        assert [e.offset for e in mine] == list(range(10))
        assert [e.value for e in mine] == [b"value%d" % i for i in range(p, 30, 3)]
        assert all(e.key == b"key" + e.value[5:] for e in mine)
        assert all(e.timestamp > 1_600_000_000_000 for e in mine)


async def test_reader_starts_at_the_assigned_offset(harness):
    log = await harness.log()
    for i in range(10):
        await log.append(0, b"k", b"%d" % i)
    reader = log.reader()
    reader.assign(0, 7)
    got = []

    async def three():
        got.extend(await reader.poll(0.5))
        return len(got) >= 3

    await assert_eventually(three)
    await reader.close()
    assert [e.value for e in got] == [b"7", b"8", b"9"]


async def test_routing_is_a_stable_function_of_the_key(harness):
    log = await harness.log()
    assert log.num_partitions == 4
    assert [log.partition_for(f"exec-{i}") for i in range(20)] == [partition_for(f"exec-{i}", 4) for i in range(20)]
    assert len({log.partition_for(f"exec-{i}") for i in range(100)}) == 4


async def test_subscription_assigns_partitions_and_delivers_in_order(harness):
    log = await harness.log()
    for i in range(8):
        await log.append(i % 4, b"k", b"before%d" % i)
    got, assigned = [], {}

    class Listener:
        async def assigned(self, ends):
            assigned.update(ends)
            return {p: 0 for p in ends}

        async def revoked(self, partitions, lost=False):
            pass

        def records(self, entries):
            got.extend(entries)

    sub = log.subscribe(Listener())
    await assert_eventually(lambda: len(assigned) == 4, timeout=30, message="all partitions assigned")
    assert assigned == {0: 2, 1: 2, 2: 2, 3: 2}  # end offsets at assignment
    for i in range(8):
        await log.append(i % 4, b"k", b"after%d" % i)
    await assert_eventually(lambda: len(got) == 16, timeout=30)
    await sub.close()
    for p in range(4):
        assert [e.offset for e in got if e.partition == p] == [0, 1, 2, 3]


async def test_records_survive_reopening_the_log(harness, tmp_path):
    log = await harness.log()
    await log.append(0, b"k", b"durable")
    again = harness.new_log()
    if harness.kind == "embedded":
        await log.close()
        harness.logs.remove(log)
        harness._log = None
    await again.start()
    try:
        assert await again.end_offset(0) == 1
        reader = again.reader()
        reader.assign(0, 0)
        got = await assert_eventually(lambda: reader.poll(0.5))
        assert got[0].value == b"durable"
        await reader.close()
    finally:
        await again.close()


async def test_offset_for_time_is_the_first_record_at_or_after_that_time(harness):
    log = await harness.log()
    topic = f"{log.namespace}.times"
    await log.ensure_topic(topic, 1)
    earlier = [await log.publish(topic, b"k", b"a%d" % i) for i in range(5)]
    await asyncio.sleep(0.05)
    between = now_ms()
    await asyncio.sleep(0.05)
    later = [await log.publish(topic, b"k", b"b%d" % i) for i in range(5)]

    assert await log.offset_for_time(topic, 0, 0) == earlier[0][1] == 0
    assert await log.offset_for_time(topic, 0, between) == later[0][1] == 5
    assert await log.offset_for_time(topic, 0, 2**62) == later[-1][1] + 1  # none so late: the end
