"""Free heap memory goes back to the system once a run's resident memory has grown."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from runtime.heap import free_heap_bytes
from tasks.settings import PROJECT_ROOT

pytestmark = pytest.mark.skipif(free_heap_bytes() is None, reason="needs glibc's malloc_trim and mallinfo2")

# Run in a fresh process: in the test session's own, other tests' threads allocate and free meanwhile.
SCENARIO = """
import json
from runtime.heap import release_free_heap, resident_bytes

MB = 2**20
release_free_heap(limit=0)  # start from a trimmed heap
before = resident_bytes()
# 300 MB in 96 KB blocks (served from the heap, below glibc's mmap threshold), each followed by a small
# block that stays, so that freeing them leaves free memory inside the heap, not at its top.
blocks, kept = [], []
for _ in range(3200):
    blocks.append(bytes(96 * 1024))
    kept.append(bytes(1000))
del blocks
grown = resident_bytes()
result = {"before": before, "grown": grown, "left_alone": release_free_heap(limit=grown + 64 * MB)}
result["released"] = release_free_heap(limit=64 * MB)
result["after"] = resident_bytes()
result["again"] = release_free_heap(limit=64 * MB)
print(json.dumps(result))
"""


def test_free_heap_pages_are_returned_once_memory_has_grown() -> None:
    output = subprocess.run([sys.executable, "-c", SCENARIO], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    result = json.loads(output.stdout)
    growth = result["grown"] - result["before"]
    assert growth > 150 * 2**20  # glibc kept the freed pages
    assert not result["left_alone"]  # not grown enough yet
    assert result["released"]
    assert result["after"] < result["grown"] - growth / 2
    assert not result["again"]  # nothing has grown since
