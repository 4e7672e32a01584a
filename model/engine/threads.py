"""Household kernels compiled serial and run on threads, a piece of the
households each.

A household kernel is a plain loop over its arrays compiled with ``nogil``
(:data:`KERNEL`); :func:`on_threads` turns it into a function that cuts the
households into contiguous pieces and runs one piece per thread on slices of
the arrays. Numba's ``parallel=True`` would do the same split, but its parfor
passes over the inlined random-number functions tripled the compile time of
a kernel (the first run after install spent 18 s compiling three of them);
a serial kernel compiles once, as plain code.

A household's result depends only on its own inputs, so results are
identical whatever the number of threads or the place of the cuts (the
fast-math flags of :data:`KERNEL` cannot change a result between the
vectorised body of a loop and its scalar remainder). Kernels that sum over
households keep one partial table per fixed chunk instead
(:func:`model.engine.tally.tally`, through :func:`split`).

The number of threads is ``NUMBA_NUM_THREADS`` (numba's setting, from the
environment variable of that name: the cores by default), or fewer if
:func:`set_threads` says so. Numba's own thread pool is never started.

An index a kernel reads from an array (a household, a county, a class) is
made unsigned (``np.uint64``) before it indexes another array. Numba checks
a signed index for a negative value (counted from the end of the array) on
every access, a test and a conditional add that cost a quarter to a half of
a scattered read; an unsigned one needs no check. These indices are never
negative.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit
from numba.core.compiler import CompilerBase, DefaultPassBuilder

from model.interrupts import interrupts_held
from model.random import CACHED  # which also sets numba's vector width (prefer_wide_vectors)

FASTMATH = {"nnan", "ninf", "nsz"}
MIN_PIECE = 16_384  # households: a smaller piece is not worth a thread
SPARSE = 32  # a mask with fewer true elements than one in this many is read by words


class NoAliasCompiler(CompilerBase):
    """Numba's default pipeline, with the argument arrays declared not to
    overlap (``noalias``), as numba declares them for the body of a
    ``parallel=True`` loop. Without it the loop over a dozen arrays does not
    vectorise. Callers never pass overlapping arrays to a kernel."""

    def define_pipelines(self):
        self.state.flags.noalias = True
        pipeline = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pipeline.finalize()
        return [pipeline]


# compilation options of a household kernel: no zero-division checks
# (error_model numpy), only the fast-math flags that keep results
# independent of vectorisation (no reassociation, no contraction into fused
# multiply-adds, no approximate reciprocals), the GIL released; a kernel
# that wants fused multiply-adds writes them out (model.random.fma)
KERNEL = {**CACHED, "fastmath": FASTMATH, "error_model": "numpy", "nogil": True,
          "pipeline_class": NoAliasCompiler}

_pool: tuple[int, ThreadPoolExecutor] | None = None
_threads: int | None = None


def _most() -> int:
    import numba

    return numba.config.NUMBA_NUM_THREADS


def threads() -> int:
    """Threads a kernel may use."""
    return _threads or _most()


def set_threads(n: int) -> None:
    """Let kernels use ``n`` threads (1 to ``NUMBA_NUM_THREADS``) in this
    process; results do not depend on it."""
    global _threads
    _threads = max(1, min(int(n), _most()))


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None or _pool[0] != os.getpid():  # a forked child makes its own
        _pool = (os.getpid(), _started_pool(max(1, _most() - 1)))
    return _pool[1]


def _started_pool(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads, all started now, with Ctrl-C held.

    The pool starts a thread when a task finds none idle, and registers
    it for the exit's join only once it runs: a Ctrl-C in between left a
    thread that the exit waited on for ever. Each thread here takes a task
    that waits until all have started.
    """
    pool = ThreadPoolExecutor(workers, thread_name_prefix="povsim-kernel")
    all_started = threading.Barrier(workers + 1)
    with interrupts_held("the kernel threads have started"):
        for _ in range(workers):
            pool.submit(all_started.wait)
        all_started.wait()
    return pool


def cuts(n: int, min_piece: int | None = None) -> list[int]:
    """Bounds of the contiguous pieces of ``range(n)``: at most one a
    thread, each of at least ``min_piece`` (default :data:`MIN_PIECE`) but
    one."""
    min_piece = MIN_PIECE if min_piece is None else min_piece
    pieces = max(1, min(threads(), -(-n // max(1, min_piece))))
    return [n * j // pieces for j in range(pieces + 1)]


def _run(calls) -> list:
    """Run the zero-argument ``calls``, the first in this thread and the
    others on the pool; wait for all, and raise the first error. Returns
    their values, in order."""
    futures = [_executor().submit(call) for call in calls[1:]]
    values = []
    try:
        values.append(calls[0]())
    finally:
        values += [f.result() for f in futures]
    return values


def split(kernel, n: int, *args, min_piece: int | None = None) -> tuple[list[int], list]:
    """Run ``kernel(start, stop, *args)`` over ``range(n)`` in contiguous
    pieces of at least ``min_piece`` (default :data:`MIN_PIECE`) but one,
    one piece per thread; this thread runs the first. Returns the pieces'
    bounds and what ``kernel`` returned for each."""
    bounds = cuts(n, min_piece)
    return bounds, split_at(kernel, bounds, *args)


def split_at(kernel, bounds, *args, tables=None) -> list:
    """Run ``kernel(bounds[j], bounds[j + 1], *args)`` for each piece ``j``,
    one piece per thread (this thread the first); with ``tables`` (a tuple
    of arrays a piece), ``kernel(bounds[j], bounds[j + 1], *args,
    *tables[j])``. Returns what ``kernel`` returned for each piece."""
    pieces = range(len(bounds) - 1)
    return _run([functools.partial(kernel, bounds[j], bounds[j + 1], *args,
                                   *(tables[j] if tables is not None else ()))
                 for j in pieces])


def split_summed(kernel, n: int, tables: tuple, *args,
                 min_piece: int | None = None) -> None:
    """Run ``kernel(start, stop, *args, *tables)`` as :func:`split` does,
    each piece adding into tables of its own (the first piece into
    ``tables`` themselves, the others into zeros), then add the pieces'
    tables into ``tables``.

    Only for sums whose value does not depend on the order of their terms:
    integer counts, or float64 sums of integers (exact below 2**53). Then
    the tables are the same whatever the number of threads.
    """
    bounds = cuts(n, min_piece)
    own = [tables] + [tuple(np.zeros_like(t) for t in tables) for _ in range(len(bounds) - 2)]
    split_at(kernel, bounds, *args, tables=own)
    for extra in own[1:]:
        for table, part in zip(tables, extra):
            table += part


def on_threads(*whole: str):
    """Decorator of a household kernel: the returned function takes the
    kernel's arguments (by position or name) and runs the kernel on threads,
    each on a slice of the households of every array argument except those
    named in ``whole`` (tables indexed by something else, passed whole). The
    number of households is the length of the first argument. It returns
    the pieces' bounds and the kernel's value for each (:func:`split`: a
    kernel may count what its piece holds). The kernel stays reachable as
    ``.kernel``."""

    def wrap(kernel):
        signature = inspect.signature(kernel.py_func)
        shared = [k for k, name in enumerate(signature.parameters) if name in whole]
        if len(shared) != len(whole):
            raise TypeError(f"{kernel.py_func.__name__} has no argument among {whole}")

        def piece(args, start, stop):
            return [a if k in shared or not isinstance(a, np.ndarray) else a[start:stop]
                    for k, a in enumerate(args)]

        def one(start, stop, args):
            return kernel(*piece(args, start, stop))

        n_params = len(signature.parameters)

        @functools.wraps(kernel.py_func)
        def run(*args, **kwargs):
            if kwargs or len(args) != n_params:  # binding costs 20 us: only when needed
                args = signature.bind(*args, **kwargs).args
            return split(one, args[0].shape[0], args)

        run.kernel = kernel
        return run

    return wrap


def indices_where(mask) -> np.ndarray:
    """``np.flatnonzero(mask)`` of a 1-d bool array, on threads.

    Each thread counts the true elements of its piece; the pieces' offsets
    follow from the counts, and each thread then writes its piece's indices
    at its offset. The result is the same whatever the number of threads.
    """
    bounds, offsets = _true_offsets(mask)
    return _indices_at(mask, bounds, offsets)


def indices_counted(mask, bounds: list[int], counts) -> np.ndarray:
    """:func:`indices_where` of a mask whose pieces ``mask[bounds[j]:bounds[j
    + 1]]`` were counted already (``counts[j]`` true elements each, for
    instance by the kernel that wrote them): one pass, on threads."""
    return _indices_at(mask, bounds, np.concatenate(([0], np.cumsum(counts, dtype=np.int64))))


def _indices_at(mask, bounds: list[int], offsets: np.ndarray) -> np.ndarray:
    """The indices of the true elements of each piece of ``mask``, written
    at the piece's offset among all of them, on threads."""
    out = np.empty(offsets[-1], np.int64)
    _run([functools.partial(_indices_true, mask[bounds[j]:bounds[j + 1]], bounds[j],
                            out[offsets[j]:offsets[j + 1]])
          for j in range(len(bounds) - 1)])
    return out


def split_where(mask, values) -> tuple[np.ndarray, np.ndarray]:
    """``(values[mask], values[~mask])`` of a 1-d bool array and a 1-d
    array of the same length, in one pass on threads (as
    :func:`indices_where`: each piece writes both parts at the offsets its
    counts give, in order)."""
    bounds, offsets = _true_offsets(mask)
    taken = np.empty(offsets[-1], values.dtype)
    left = np.empty(mask.shape[0] - offsets[-1], values.dtype)
    _run([functools.partial(_split_piece, mask[bounds[j]:bounds[j + 1]],
                            values[bounds[j]:bounds[j + 1]], taken[offsets[j]:offsets[j + 1]],
                            left[bounds[j] - offsets[j]:bounds[j + 1] - offsets[j + 1]])
          for j in range(len(bounds) - 1)])
    return taken, left


def _true_offsets(mask) -> tuple[list[int], np.ndarray]:
    """The pieces' bounds (:func:`cuts`) and the offsets of their first
    true elements among all the true ones (one more: their number), the
    pieces counted on threads."""
    bounds = cuts(mask.shape[0], None)
    counts = np.zeros(len(bounds) - 1, np.int64)

    def count(j):
        counts[j] = _count_true(mask[bounds[j]:bounds[j + 1]])

    _run([functools.partial(count, j) for j in range(len(bounds) - 1)])
    return bounds, np.concatenate(([0], np.cumsum(counts)))


@njit(**KERNEL)
def _split_piece(mask, values, taken, left):
    """``taken[:] = values[mask]`` and ``left[:] = values[~mask]`` (each
    with one place an element), in one pass."""
    t = f = 0
    for i in range(mask.shape[0]):
        if mask[i]:
            taken[t] = values[i]
            t += 1
        else:
            left[f] = values[i]
            f += 1


@njit(**KERNEL)
def _count_true(mask):
    """The number of true elements of ``mask``."""
    count = 0
    for i in range(mask.shape[0]):
        count += mask[i]
    return count


@njit(**KERNEL)
def _indices_true(mask, first, out):
    """``out[:] = first + flatnonzero(mask)`` (``out`` has one place for
    each true element).

    Branch-free: every element writes its index at the next free place,
    and only a true one moves the place on, so a false one's write is
    overwritten by the next true one. The loop stops at the last true
    element, so no write falls past ``out``. When fewer than one element
    in :data:`SPARSE` is true, eight elements at a time are skipped while
    they are all false (read as one 64-bit word): at one in a hundred, a
    third of the time; at one in twenty, slower than one at a time.
    """
    last = mask.shape[0] - 1
    while last >= 0 and not mask[last]:
        last -= 1
    k = 0
    done = 0
    if out.shape[0] * SPARSE < last + 1:
        done = last // 8 * 8  # the words wholly before the one holding the last true
        words = mask[:done].view(np.uint64)
        for w in range(words.shape[0]):
            if words[w] != 0:
                for i in range(w * 8, w * 8 + 8):
                    out[k] = first + i
                    k += mask[i]
    for i in range(done, last + 1):
        out[k] = first + i
        k += mask[i]
