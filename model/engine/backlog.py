"""A programme's delivery backlog: enrolments due but not yet in effect,
first in, first out within each county.

Each year, in each county, the backlog's first enrolments take effect
before any new one (:mod:`model.engine.delivery_order`). A county's queue
is its waiting units in the order they were left waiting: last year's
before this year's, and among one year's in unit order. The backlog holds
one run a year (the units left waiting that year, each county's together:
ascending where units are stored county by county), each run with the
place where each county's units start in it and how far its queue has
been taken. Taking the first ``k`` of each county's queue reads
only those ``k`` and moves the county's place on: the waiting units are
never copied, and a run whose units have all been taken is dropped.

A unit waiting in a backlog has the start :data:`WAITING` in its
programme's enrolment array, later than every year: it is not active, and
not a candidate for enrolment. It gets its year when it takes effect.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.bookkeeping import merge_sorted
from model.engine.delivery_order import by_county
from model.random import CACHED

# the start of an enrolment waiting in a backlog: after every year
WAITING = int(np.iinfo(np.int16).max)


class Backlog:
    """The waiting enrolments of one programme.

    Parameters
    ----------
    county : int array (units,)
        County of each unit (household or village).
    n_counties : int
    starts : int64 array (n_counties + 1,), or None
        The first unit of each county, then the number of units, when units
        are stored county by county (:func:`model.engine.coverage.group_starts`):
        then each run, ascending, holds each county's units together, found
        without reading their counties, and the units taken are ascending
        without a sort. None otherwise.
    """

    def __init__(self, county: np.ndarray, n_counties: int, starts: np.ndarray | None):
        self.county, self.n_counties, self.starts = county, n_counties, starts
        self.grouped = starts is not None
        self.runs: list[np.ndarray] = []    # units, each county's together
        self.places: list[np.ndarray] = []  # next place of each county's queue in the run
        self.ends: list[np.ndarray] = []    # end of each county's units in the run

    def __len__(self) -> int:
        return int(sum((end - place).sum() for place, end in zip(self.places, self.ends)))

    def units(self) -> np.ndarray:
        """The waiting units, in queue order within each county (a copy)."""
        parts = [run[place[c]:end[c]] for run, place, end in zip(self.runs, self.places, self.ends)
                 for c in range(self.n_counties)]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def add(self, units: np.ndarray) -> None:
        """Queue ``units`` (each county's in unit order, none waiting
        already) after those waiting, in each county."""
        if not len(units):
            return
        units, bounds = by_county(units, self.county, self.n_counties, self.starts)
        self.runs.append(units)
        self.places.append(bounds[:-1].copy())
        self.ends.append(bounds[1:].copy())

    def take(self, quota: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Take the first ``quota[c]`` waiting units of each county ``c``
        (all it has, if fewer).

        Returns
        -------
        taken : int64 array
            The units taken, ascending.
        counts : int64 array (n_counties,)
            How many each county gave: ``min(quota[c], waiting in c)``.
        """
        left = np.asarray(quota, np.int64).copy()
        parts = []
        for run, place, end in zip(self.runs, self.places, self.ends):
            if not left.any():
                break
            waiting = end - place
            whole = place[0] == 0 and (place[1:] == end[:-1]).all()  # none taken yet
            if whole and (left >= waiting).all():  # all of it: the run itself
                parts.append(run)
                place[:] = end
                left -= waiting
                continue
            out = np.empty(int(np.minimum(left, waiting).sum()), np.int64)
            _take_first(run, place, end, left, out)
            parts.append(out)
        kept = [j for j, (place, end) in enumerate(zip(self.places, self.ends))
                if (place < end).any()]
        self.runs, self.places, self.ends = ([items[j] for j in kept]
                                             for items in (self.runs, self.places, self.ends))
        counts = np.asarray(quota, np.int64) - left
        taken = parts[0] if parts else np.zeros(0, np.int64)
        for part in parts[1:]:
            taken = merge_sorted(taken, part) if self.grouped else np.concatenate([taken, part])
        return (taken if self.grouped else np.sort(taken)), counts


@njit(**CACHED)
def _take_first(run, place, end, left, out):
    """Write to ``out`` the next ``min(left[c], end[c] - place[c])`` units
    of each county ``c`` of ``run``, county by county; move ``place`` on
    and take them from ``left``."""
    k = 0
    for c in range(place.shape[0]):
        t = min(left[c], end[c] - place[c])
        for i in range(place[c], place[c] + t):
            out[k] = run[i]
            k += 1
        place[c] += t
        left[c] -= t
