"""Keeping freed memory in the process, so that stepping does not fault pages in again and again.

A batch of image states is a large array made afresh at every step (about
0.8 MB for 32 CaptionRoom images in float32). glibc's malloc hands freed
blocks this large back to the operating system (its trim and mmap
thresholds), so the next step's array faults its pages in again: on the demo's
environment side that was about 0.65 ms of every 4-5 ms step, measured on a
quiet 2-core machine. `retain_freed_memory` raises both thresholds so freed
blocks are reused. Worker processes (`VectorEnvironment(backend='processes')`)
call it at start; call it yourself in a training process that steps
environments in-process. The price: memory a process freed stays reserved by
it (its resident size does not shrink after a peak).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

from modalbridge.bridges import arguments

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
DEFAULT_THRESHOLD = 32 * 2**20  # glibc caps the mmap threshold at 32 MiB on 64-bit


def retain_freed_memory(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Makes glibc keep freed blocks up to `threshold` bytes for reuse; False where malloc is not glibc's.

    >>> retain_freed_memory() in (True, False)
    True
    """
    threshold = arguments.integer('retain_freed_memory: threshold', threshold, minimum=1, maximum=2**31 - 1)
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_TRIM_THRESHOLD, threshold)) and bool(mallopt(M_MMAP_THRESHOLD, threshold))
