"""Keep memory flat on long runs.

Over a long video the model's large, short-lived activations (attention maps of tens of MB) leave the
glibc heap fragmented: free pages stay resident, and `diffclip predict` grew by about 1 GB over 20,000
frames. Handing the heap's free pages back every few batches (``malloc_trim``) keeps the resident size
flat. (Pinning glibc's mmap threshold low does too, but then every activation is a fresh mapping whose
pages fault in on each batch: the CPU model ran at half speed.)

Between those trims the heap should do the opposite and keep what a batch freed for the next one
(:func:`keep_heap_warm`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

TRIM_EVERY_BATCHES = 16

# glibc's mallopt parameters (malloc.h) and the values keep_heap_warm sets
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest on 64-bit systems
TRIM_THRESHOLD = 256 * 2**20


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        return None
    return libc


def trim_heap() -> bool:
    """Return the heap's free pages to the system (glibc ``malloc_trim``); False where there is no glibc."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(ctypes.c_size_t(0))
    return True


@functools.cache  # a process-wide setting: made once, by the first Predictor, not again by each
def keep_heap_warm() -> bool:
    """Serve allocations below 32 MB from the heap and keep up to 256 MB of freed heap for reuse
    (glibc ``mallopt``); False where there is no glibc.

    glibc's default adapts both thresholds as blocks are freed, and each batch's freed activations
    went back to the system and faulted in again on the next: about 6,000 minor faults per batch of 32
    with the bundled model even with huge pages (diffclip.runtime). Fixed thresholds cut that to under
    100 and the model ran about 1.15x faster on this project's 2-core CPU (docs/design.md, "The CPU
    pipeline"). :func:`trim_heap` still hands everything free back, where the pipeline and the app ask.
    """
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                   TRIM_THRESHOLD))
