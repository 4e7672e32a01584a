"""Keep freed large arrays in the process, so that the yearly loop reuses them.

A simulated year allocates and frees dozens of arrays of registry size
(index lists, masks, per-household temporaries). glibc hands every block over
32 MB to ``mmap`` and returns it to the system when it is freed, so each new
array of registry size starts on fresh pages, and the page faults cost system
time out of proportion to the work (the national scenario at full scale,
2015-2020: 29.3 s without this setting, 26.9 s with it). Raising glibc's
mmap and trim thresholds keeps such blocks on the heap, where the next year's
arrays reuse them; the memory a run holds at its peak is unchanged.

The heap's free top is never handed back during a process
(:data:`KEEP_TOP`): a year frees several registry-size arrays at once, and a
limit of 1 GB still gave back enough of them for the next year to fault in
anew (the national scenario at full scale, three runs in one process:
2.5-3.2 s of system time in some runs with the limit, none after the first
without it). The process keeps the largest heap it has needed,
which the next run reuses.

Numpy advises the kernel to back every array of 4 MB or more with huge
pages (``madvise``). Where the kernel then compacts memory to find them (a
common setting: ``/sys/kernel/mm/transparent_hugepage/defrag`` is
``madvise``), a large array on memory the year freed cost up to four times
its work: listing the 1e7 households of an entitlement took 24-30 ms a
year, against 6 ms without the advice. :func:`keep_freed_arrays` turns the
advice off too, unless ``NUMPY_MADVISE_HUGEPAGE`` is set in the
environment (numpy's own switch, then left as it says).

The first run of a process still faults in every page of the heap it
grows to, one page at a time: at full scale about 1.27 million faults,
6-11 s of system time on a virtual machine, where the run itself takes
8.5-9.5 s. :func:`reserve_heap` grows the heap once, before the run, and
has the kernel back it in bulk (``madvise(MADV_POPULATE_WRITE)``, Linux
5.14 and later), then frees it to the heap, which keeps it. The national
scenario at full scale, first run of a process, reserving included:
11.1-19.5 s (median 11.9 s of 8 runs) against 14.0-20.3 s (median 14.8 s
of 5) without. The rest is the time the host takes to back new memory,
which varies and is paid either way.

The settings are per process and glibc-only; elsewhere (macOS, Windows,
musl) :func:`keep_freed_arrays` and :func:`reserve_heap` do nothing.
``POVSIM_KEEP_FREED=0`` in the environment turns them off. They change no
result: only where memory comes from.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

from model.clib import libc

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# blocks up to this size come from the heap (bytes: larger than any array of
# a national registry)
THRESHOLD = 1 << 30
# free memory at the heap's top is kept up to this much; -1: all of it (glibc's
# mallopt(3): "Setting M_TRIM_THRESHOLD to -1 disables trimming completely")
KEEP_TOP = -1

_done: bool | None = None

# madvise advice (Linux 5.14+, asm-generic/mman-common.h): back the range with
# writable pages now, as a write to each would
_MADV_POPULATE_WRITE = 23
# bytes of each block reserved at once: below THRESHOLD, so from the heap
_BLOCK = 256 << 20
_reserved = 0  # bytes reserve_heap has backed in this process


def glibc_mallopt():
    """glibc's ``mallopt``, or None where the C library is not glibc."""
    return getattr(libc(), "mallopt", None)


def keep_freed_arrays() -> bool:
    """Ask glibc to serve blocks up to :data:`THRESHOLD` from the heap and to
    keep the freed memory (:data:`KEEP_TOP`), and numpy not to advise huge
    pages (unless ``NUMPY_MADVISE_HUGEPAGE`` says otherwise); once per
    process. True when the glibc settings are in force."""
    global _done
    if _done is None:
        mallopt = glibc_mallopt()
        _done = (mallopt is not None and os.environ.get("POVSIM_KEEP_FREED", "1") != "0"
                 and bool(mallopt(_M_MMAP_THRESHOLD, THRESHOLD))
                 and bool(mallopt(_M_TRIM_THRESHOLD, KEEP_TOP)))
        if _done and "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
            _numpy_huge_page_advice(False)
    return _done


def _numpy_huge_page_advice(enabled: bool) -> bool | None:
    """Set numpy's huge-page advice for large arrays; return the previous
    setting, or None where this numpy has no such switch (a private
    function of numpy 1.x and 2.x: ``numpy.core`` or ``numpy._core``)."""
    import numpy as np

    core = getattr(np, "_core", None) or getattr(np, "core", None)
    switch = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    return None if switch is None else bool(switch(enabled))


def reserve_heap(nbytes: int) -> int:
    """Grow the heap to hold ``nbytes`` of free memory already backed by
    pages, so that the arrays of a run reuse it without a page fault each;
    once per process, to the largest size asked.

    Blocks of at most :data:`_BLOCK` bytes are allocated, backed in bulk
    (``madvise(MADV_POPULATE_WRITE)``) and freed; the heap keeps them
    (:func:`keep_freed_arrays`). Nothing is done for less than one block
    more than is already reserved (a small heap faults in quickly), when
    those settings are not in force, outside the main thread (glibc gives
    other threads arenas of at most 64 MB, whose larger blocks are mapped
    apart and unmapped when freed), and no more once the kernel refuses
    the advice (Linux before 5.14). The process holds the memory from then
    on, as it would after a run that needed it.

    Parameters
    ----------
    nbytes : int
        Bytes of heap the coming run is expected to need at its peak.

    Returns
    -------
    int
        Bytes newly backed (0 when nothing was done).
    """
    global _reserved
    if nbytes - _reserved < _BLOCK or not keep_freed_arrays():
        return 0  # a small heap faults in quickly enough
    if threading.current_thread() is not threading.main_thread():
        return 0  # another thread's arena maps such blocks apart and unmaps them when freed
    c = libc()  # glibc: keep_freed_arrays is in force
    malloc, free, madvise = c.malloc, c.free, c.madvise
    malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    free.restype, free.argtypes = None, [ctypes.c_void_p]
    madvise.restype = ctypes.c_int
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    page = os.sysconf("SC_PAGE_SIZE")
    blocks, backed = [], 0
    try:
        while _reserved + backed < nbytes:
            size = min(_BLOCK, nbytes - _reserved - backed)
            block = malloc(size)
            if not block:
                break
            blocks.append(block)
            first = -(-block // page) * page
            last = (block + size) // page * page
            if madvise(first, max(last - first, 0), _MADV_POPULATE_WRITE) != 0:
                _reserved = sys.maxsize  # not on this kernel: do not ask again
                return 0
            backed += size
    finally:
        for block in reversed(blocks):
            free(block)
    _reserved += backed
    return backed

