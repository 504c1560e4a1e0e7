"""Free heap memory goes back to the system once a run's resident memory has grown."""

from __future__ import annotations

import pytest

from tasks.heap import free_heap_bytes, release_free_heap, resident_bytes

pytestmark = pytest.mark.skipif(free_heap_bytes() is None, reason="needs glibc's malloc_trim and mallinfo2")

MB = 2**20


def test_free_heap_pages_are_returned_once_memory_has_grown() -> None:
    release_free_heap(limit=0)  # start from a trimmed heap
    # 300 MB in 96 KB blocks (served from the heap, below glibc's mmap threshold), with a block kept
    # after them so that freeing them leaves free memory inside the heap rather than at its top.
    blocks = [bytes(96 * 1024) for _ in range(3200)]
    kept = [bytearray(b"x" * 1000) for _ in range(100)]
    del blocks
    grown = resident_bytes()

    assert not release_free_heap(limit=grown + 64 * MB)  # not grown enough yet: left alone
    assert release_free_heap(limit=64 * MB)
    assert resident_bytes() < grown - 200 * MB
    assert not release_free_heap(limit=64 * MB)  # nothing has grown since
    assert kept
