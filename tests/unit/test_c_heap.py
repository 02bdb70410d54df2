"""The C heap's figures and controls (``runtime.c_heap``), on this machine's glibc."""

from __future__ import annotations

import platform

import pytest

from engine.runtime import c_heap

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")


def test_figures_count_a_block_in_use_and_free_held_after_it_is_freed():
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    before = c_heap.figures()
    blocks = [libc.malloc(4096) for _ in range(256)]  # 1 MB in small blocks, from an arena
    during = c_heap.figures()
    assert during["in_use_bytes"] - before["in_use_bytes"] >= 256 * 4096
    for block in blocks[:-1]:  # the last one pins the others below it: freed, not returned
        libc.free(block)
    after = c_heap.figures()
    assert after["free_held_bytes"] - before["free_held_bytes"] >= 255 * 4096 // 2
    assert c_heap.trim() in (True, False)
    libc.free(blocks[-1])


def test_arenas_can_be_capped():
    assert c_heap.limit_arenas(2) is True
    assert c_heap.limit_arenas(0) is False  # 0 is "leave glibc's default": not passed on
