"""The C heap's figures and controls (``runtime.c_heap``), on this machine's glibc."""

from __future__ import annotations

import platform

import pytest

from engine.runtime import c_heap

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")


def test_figures_count_blocks_in_use_and_free_held_after_they_are_freed():
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    big, count = 64 * 1024, 64  # 4 MB in blocks below the mmap threshold: from an arena
    before = c_heap.figures()
    blocks, pins = [], []
    for _ in range(count):  # each block between two pins as big (both cut from the top, in turn):
        blocks.append(libc.malloc(big))  # once freed, a block cannot merge into the top and be trimmed
        pins.append(libc.malloc(big))
    during = c_heap.figures()
    assert during["in_use_bytes"] - before["in_use_bytes"] >= count * big
    for block in blocks:
        libc.free(block)
    after = c_heap.figures()
    assert after["free_held_bytes"] - during["free_held_bytes"] >= count * big // 4  # kept by malloc
    assert during["in_use_bytes"] - after["in_use_bytes"] >= count * big // 2
    assert c_heap.trim() in (True, False)
    for pin in pins:
        libc.free(pin)


def test_arenas_can_be_capped():
    assert c_heap.limit_arenas(2) is True
    assert c_heap.limit_arenas(0) is False  # 0 is "leave glibc's default": not passed on
