"""Keeping logwrap's memory within --buffer-bytes + a fixed overhead, as the OS sees it.

Chunk payloads are ~1 MB buffers, allocated and freed all the time while the buffer churns
(drop-oldest with the collector down). glibc raises its mmap threshold after such frees, so
later buffers come from the heap, whose holes it does not hand back: RSS then outgrows the
bytes we account for by a quarter or more. A fixed threshold keeps large buffers in mmap,
returned to the OS the moment they are freed.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def return_large_buffers_to_the_os(threshold: int = 512 * 1024) -> bool:
    """Fix glibc's mmap threshold; False where there is no glibc to tune (it is harmless)."""
    try:
        return bool(ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False
