"""The rows of programme income by pathway (``State.batch_income``),
zeroed and summed on threads, a piece of the households each.

Only the rows that had income added in a year hold any
(``State.batch_written``): the others are not summed. A row that had some
the year before is stale (``State.batch_stale``) until the year's first
step adding to it writes it whole, or zeroes it first.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.threads import KERNEL, split


def sum_rows(rows, which, out):
    """``np.sum(rows, axis=0, out=out)`` of a float32 table (k, n) whose
    rows other than ``which`` (ascending row numbers) are zero: each
    column's rows ``which`` added in row order in float32, as numpy adds
    them (a row of zeros adds nothing: the rows never hold -0.0, as they
    start at 0.0 and only have numbers added); zeros without ``which``. On
    threads, a piece of the columns each."""
    split(_sum_rows, out.shape[0], rows, np.asarray(which, np.int64), out)


BLOCK = 4096  # columns summed together: their sums stay in cache from row to row


@njit(**KERNEL)
def _sum_rows(start, stop, rows, which, out):
    """:func:`sum_rows` of the columns ``start:stop``, a block of
    :data:`BLOCK` columns at a time and in it a row at a time (contiguous
    slices: loops that vectorise), so that each row adds to sums in cache,
    not to sums read back from memory."""
    if which.shape[0] == 0:
        for i in range(start, stop):
            out[i] = 0.0
        return
    for lo in range(start, stop, BLOCK):
        hi = min(lo + BLOCK, stop)
        total = out[lo:hi]
        first = rows[which[0], lo:hi]
        for i in range(total.shape[0]):
            total[i] = first[i]
        for r in which[1:]:
            row = rows[r, lo:hi]
            for i in range(total.shape[0]):
                total[i] += row[i]


def zero_rows(rows, which):
    """``rows[which] = 0`` of a float32 table (k, n) (``which``: row
    numbers), on threads (a piece of the columns each)."""
    split(_zero_rows, rows.shape[1], rows, np.asarray(which, np.int64))


@njit(**KERNEL)
def _zero_rows(start, stop, rows, which):
    """:func:`zero_rows` of the columns ``start:stop``."""
    for r in which:
        row = rows[r, start:stop]
        for i in range(row.shape[0]):
            row[i] = 0.0
