"""The households of the year's verification events, listed on threads.

After verification the record needs the households that exited, and the
next year's enrolment the households that came onto the registry (returns
and entries, the only ways on). Both lists come from one read of
``State.event``: each thread counts both in its piece, then writes both
at the offsets the counts give, so the lists are the same whatever the
number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.codes import EXIT, RETURN
from model.engine.threads import KERNEL, split, split_at


def exits_and_arrivals(event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The households whose ``event`` is EXIT, and those whose event is
    RETURN or ENTRY (events are NO_EVENT, EXIT, RETURN, ENTRY: the last
    two come onto the registry), each ascending (int64).

    Equal to ``np.flatnonzero(event == EXIT)`` and
    ``np.flatnonzero(event >= RETURN)`` (:func:`exits_and_arrivals_numpy`).
    """
    none = np.zeros(0, np.int64)
    bounds, counts = split(_events, event.shape[0], event, none, none, True)
    offsets = np.zeros((len(counts) + 1, 2), np.int64)
    offsets[1:] = np.cumsum(np.array(counts, np.int64).reshape(-1, 2), axis=0)
    exits = np.empty(offsets[-1, 0], np.int64)
    arrivals = np.empty(offsets[-1, 1], np.int64)
    split_at(_events, bounds, event,
             tables=[(exits[offsets[j, 0]:offsets[j + 1, 0]],
                      arrivals[offsets[j, 1]:offsets[j + 1, 1]], False)
                     for j in range(len(counts))])
    return exits, arrivals


@njit(**KERNEL)
def _events(start, stop, event, exits, arrivals, count):
    """With ``count``, the numbers of exits and of arrivals among the
    households ``start:stop``. Without, write them, in order, into
    ``exits`` and ``arrivals`` (one place for each). One kernel for both,
    compiled once.

    The exits are written without a branch (as
    :func:`model.engine.threads.indices_where` writes its indices): every
    household writes its index at the next free place, and only an exit
    moves the place on; the loop doing so stops at the last exit, so no
    write falls past ``exits``. Arrivals are few: a branch each.
    """
    piece = event[start:stop]  # indexed from 0: the counting loop vectorises
    n_exits = n_arrivals = 0
    if count:
        for i in range(piece.shape[0]):
            n_exits += piece[i] == EXIT
            n_arrivals += piece[i] >= RETURN
        return n_exits, n_arrivals
    last = piece.shape[0] - 1
    while last >= 0 and piece[last] != EXIT:
        last -= 1
    for i in range(last + 1):
        e = piece[i]
        exits[n_exits] = start + i
        n_exits += e == EXIT
        if e >= RETURN:
            arrivals[n_arrivals] = start + i
            n_arrivals += 1
    for i in range(last + 1, piece.shape[0]):
        if piece[i] >= RETURN:
            arrivals[n_arrivals] = start + i
            n_arrivals += 1
    return n_exits, n_arrivals


def exits_and_arrivals_numpy(event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference of :func:`exits_and_arrivals`."""
    return np.flatnonzero(event == EXIT), np.flatnonzero(event >= RETURN)
