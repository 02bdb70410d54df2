"""The C heap under a worker: glibc malloc's own figures, and giving free memory back.

RocksDB, librdkafka and CPython's large objects all allocate from the C heap. On glibc,
memory that they free stays with malloc: a worker's RSS can grow while what it holds
does not. This module tells the two apart and bounds the difference:

1. ``figures()`` reads ``mallinfo2``: ``in_use_bytes`` (allocated and not freed) and
   ``free_held_bytes`` (freed, but kept by malloc in its arenas), ``arenas_bytes``
   (what the arenas took from the OS, ``sbrk`` and ``mmap``-ed heaps) and ``mmap_bytes``
   (big blocks mapped one by one, returned when freed). ``None`` off glibc.
2. ``limit_arenas(n)`` caps the number of arenas (``mallopt(M_ARENA_MAX)``). glibc makes
   up to 8 per core as threads contend, and each keeps its own free memory; RocksDB's
   background threads and librdkafka's each land in one. Call it before threads start.
3. ``trim()`` asks malloc to give free pages back to the OS (``malloc_trim(0)``: the top
   of each arena, and whole free pages inside them, with ``madvise``).

Everything here is best effort and never raises: off glibc (musl, macOS) the figures are
``None`` and the two calls do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_ARENA_MAX = -8  # <malloc.h>


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


@functools.cache
def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        return libc
    except (OSError, AttributeError):  # not glibc, or older than 2.33
        return None


def figures() -> dict[str, int] | None:
    """glibc malloc's figures for this process, in bytes (``None`` off glibc)."""
    libc = _libc()
    if libc is None:
        return None
    info = libc.mallinfo2()
    return {
        "in_use_bytes": info.uordblks + info.hblkhd,
        "free_held_bytes": info.fordblks,
        "arenas_bytes": info.arena,
        "mmap_bytes": info.hblkhd,
    }


def limit_arenas(count: int) -> bool:
    """Cap malloc's arenas at ``count``; ``True`` if glibc took it."""
    libc = _libc()
    return libc is not None and count > 0 and bool(libc.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Give malloc's free pages back to the OS; ``True`` if any were."""
    libc = _libc()
    return libc is not None and bool(libc.malloc_trim(0))
