"""Keep the process's memory flat over a long run: hand the C heap's free pages back to the system.

The embedding model allocates tensors of ever-changing shapes (batches sorted by length); glibc's heap,
fragmented by them, keeps the freed pages, so a long run's peak memory climbed batch after batch even
though nothing leaked. Trimming whenever resident memory has grown bounds it for ~5% of the embedding
time (bench/embed_memory.py). Giving large blocks their own mappings (`M_MMAP_THRESHOLD`) bounds it
too, but its page faults cost a fifth of the embedding time in a bare loop and more in the flow.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
from functools import cache

# Resident memory a run may gain before free heap pages are returned: about one forward pass's tensors,
# so a run whose memory does not grow is left alone while one that grows is trimmed within a pass or two.
GROWTH_LIMIT = 128 * 2**20
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_after_last_trim = 0


class _MallInfo2(ctypes.Structure):
    """glibc's `struct mallinfo2` (bytes, summed over all arenas)."""

    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
    )]


@cache
def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc, or older than 2.33
        return None
    return libc


def free_heap_bytes() -> int | None:
    """Bytes free inside the C heap (held by the process or already returned, not in use); None off glibc."""
    libc = _glibc()
    return None if libc is None else int(libc.mallinfo2().fordblks)


def resident_bytes(pid: int | None = None) -> int:
    """A process's resident memory now (this process's by default); 0 if it has ended."""
    try:
        with open(f"/proc/{pid or 'self'}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (FileNotFoundError, ProcessLookupError):
        return 0


def peak_rss_mb(pid: int | None = None) -> int:
    """A process's peak resident memory so far, in MB (this process's by default); 0 if it has ended."""
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # Linux reports kilobytes
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def release_free_heap(limit: int = GROWTH_LIMIT) -> bool:
    """Return the heap's free pages to the system once resident memory has grown by more than `limit`
    since the last time; whether it did."""
    global _after_last_trim
    libc = _glibc()
    if libc is None or resident_bytes() <= _after_last_trim + limit:
        return False
    libc.malloc_trim(0)
    _after_last_trim = resident_bytes()
    return True
