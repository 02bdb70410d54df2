"""One memory budget for every RocksDB store of a worker.

RocksDB's own defaults are per database: each store would get its own block cache, its
own memtables (up to ``max_write_buffer_number`` of ``write_buffer_size``) and its own
index and filter blocks on the heap, so a worker's memory would grow with the number of
partitions it owns and with the size of their data. This is Kafka Streams' bounded-memory
pattern (``BoundedMemoryRocksDBConfig``) instead:

1. one block cache (LRU) of ``cache_mb`` is shared by every store the worker opens;
2. one write-buffer manager of ``write_buffer_mb`` bounds the memtables of all of them
   together, and charges them to that cache, so ``cache_mb`` caps both;
3. index and filter blocks live in the cache too, partitioned (the top level, and level
   0's, pinned), not beside it.

Past the budget RocksDB flushes memtables to disk and evicts cached blocks: a store's data
costs disk, not memory. ``figures()`` reports what is in use.
"""

from __future__ import annotations

from dataclasses import dataclass

from rocksdict import BlockBasedIndexType, BlockBasedOptions, Cache, Options, WriteBufferManager

from ..errors import LogloomError

MB = 1024 * 1024
DEFAULT_CACHE_MB = 64
DEFAULT_WRITE_BUFFER_MB = 32
MEMTABLE_MB = 8  # one store's memtable; the manager flushes sooner when all of them are over budget
BLOOM_BITS_PER_KEY = 10.0


@dataclass(frozen=True)
class StoreMemoryFigures:
    cache_capacity_bytes: int
    cache_usage_bytes: int  # blocks, index and filters, and the memtables charged to the cache
    cache_pinned_bytes: int
    memtable_budget_bytes: int
    memtable_usage_bytes: int


class StoreMemory:
    """The block cache and memtable budget that a worker's stores share."""

    def __init__(self, cache_mb: int = DEFAULT_CACHE_MB, write_buffer_mb: int = DEFAULT_WRITE_BUFFER_MB):
        if cache_mb <= 0 or write_buffer_mb <= 0:
            raise LogloomError(
                f"store memory must be positive, got cache_mb={cache_mb}, write_buffer_mb={write_buffer_mb}"
            )
        if write_buffer_mb > cache_mb:
            raise LogloomError(
                f"the memtable budget ({write_buffer_mb} MB) is charged to the block cache, so it cannot be"
                f" larger than the cache ({cache_mb} MB)"
            )
        self.cache_bytes = cache_mb * MB
        self.write_buffer_bytes = write_buffer_mb * MB
        self.cache = Cache(self.cache_bytes)
        self.write_buffers = WriteBufferManager.new_write_buffer_manager_with_cache(
            self.write_buffer_bytes, False, self.cache
        )

    def options(self) -> Options:
        """The options of one store: its memtables and blocks counted in the shared budget."""
        table = BlockBasedOptions()
        table.set_block_cache(self.cache)
        table.set_cache_index_and_filter_blocks(True)
        # Partitioned index and filters, as Kafka Streams sets them: a lookup loads one
        # small partition of a file's index and filter into the cache, not the whole
        # block (whole blocks were loaded and evicted over and over once the store
        # outgrew the cache: a 1M-record rebuild took twice as long, a 1k tail 10x).
        table.set_index_type(BlockBasedIndexType.two_level_index_search())
        table.set_partition_filters(True)
        table.set_format_version(5)
        table.set_pin_top_level_index_and_filter(True)
        table.set_pin_l0_filter_and_index_blocks_in_cache(True)
        table.set_bloom_filter(BLOOM_BITS_PER_KEY, False)
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_block_based_table_factory(table)
        options.set_write_buffer_manager(self.write_buffers)
        options.set_write_buffer_size(min(MEMTABLE_MB * MB, self.write_buffer_bytes))
        options.set_max_write_buffer_number(2)
        return options

    def figures(self) -> StoreMemoryFigures:
        return StoreMemoryFigures(
            cache_capacity_bytes=self.cache_bytes,
            cache_usage_bytes=self.cache.get_usage(),
            cache_pinned_bytes=self.cache.get_pinned_usage(),
            memtable_budget_bytes=self.write_buffer_bytes,
            memtable_usage_bytes=self.write_buffers.get_usage(),
        )
