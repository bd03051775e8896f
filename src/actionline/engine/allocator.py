"""Keep freed memory for reuse instead of returning it to the operating system (glibc's allocator).

glibc serves every allocation above a threshold (128 KB, raised dynamically to the largest block freed so far,
but a request *equal* to it is still mapped) with a fresh ``mmap`` and unmaps it on free, so each feature map of
a long video ([5,750 x 64] floats = 1.5 MB) is page-faulted in again on every layer: 5-17 thousand page faults per
ASFormer forward, and up to 40% of the window attention's time on this CPU. Raising the mapping threshold to
32 MB (glibc's maximum) and the trim threshold to 1 GB keeps such blocks in the heap for the next layer; the cost
is that the process's resident memory stays near its peak. PyTorch's CPU tuning guide reaches the same end by
preloading jemalloc or tcmalloc.

The command line calls `tune_allocator` at start (``ACTIONLINE_ALLOCATOR=default`` leaves glibc alone);
importing the library never does. Without glibc (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 2**30


def tune_allocator() -> bool:
    """Apply the thresholds above; True where glibc accepted them (False: not glibc, or opted out)."""
    if os.environ.get("ACTIONLINE_ALLOCATOR", "tuned") == "default":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
