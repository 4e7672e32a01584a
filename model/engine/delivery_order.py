"""Delivery order: which of a programme's due enrolments take effect this year.

The delivery model (:mod:`model.engine.delivery`) says how many enrolments
of each county take effect in a year; this module says which. In each county
last year's backlog goes first, in the order it was carried
(:class:`model.engine.backlog.Backlog`; its rule is
:func:`first_in_group_numpy`), then the work teams go through this year's
new enrolments from a random point, village by village as households are
stored, wrapping around; the block left at the end of the year is carried
to the next. The kernels are plain loops, each with a numpy reference that
the tests compare.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.coverage import group_pieces
from model.engine.threads import KERNEL, split_at
from model.random import CACHED, Stream, first_uniforms, year_key


def by_county(units: np.ndarray, county: np.ndarray, n_counties: int,
              starts: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Units ``units`` (ascending) with each county's together, in unit
    order, and where each county's start: ``(ordered, bounds)``, county
    ``c``'s being ``ordered[bounds[c]:bounds[c + 1]]``.

    Where units are stored county by county (``starts``, their
    :func:`model.engine.coverage.group_starts`), ``units`` are already so
    ordered and the bounds are found by a search, without reading a county;
    otherwise (``starts`` None) ``county`` (each unit's) orders them, stably.
    """
    if starts is not None:
        bounds = np.empty(starts.shape[0], np.int64)
        _places(units, starts, bounds)
        return units, bounds
    of_units = county[units]
    order = np.argsort(of_units, kind="stable")
    return units[order], np.searchsorted(of_units[order], np.arange(n_counties + 1)).astype(
        np.int64)


@njit(**CACHED)
def _places(units, starts, out):
    """``out[c]``: how many of ``units`` (ascending) are below ``starts[c]``
    (ascending), as ``np.searchsorted(units, starts)``: each search starts
    where the last ended, in steps doubling until they pass the start, then
    halving (a galloping search). It reads about log2(units a county) units
    a county: fewer than a search of all the units for each start, or a
    walk through them all."""
    j, m = 0, units.shape[0]
    for c in range(starts.shape[0]):
        s = starts[c]
        if j < m and units[j] < s:
            # units[j] < s: double the step until units[j + step] >= s (or the end)
            step = 1
            while j + step < m and units[j + step] < s:
                j += step
                step *= 2
            # the first unit at or above s is in (j, min(j + step, m)]
            hi = min(j + step, m)
            while hi - j > 1:
                mid = (j + hi) // 2
                if units[mid] < s:
                    j = mid
                else:
                    hi = mid
            j = hi
        out[c] = j


def order_offsets(seed: int, programme_stream: int, year: int,
                  county_ids: np.ndarray) -> np.ndarray:
    """Where the work teams start in each county's new enrolments, as a
    share (0..1) of them (float64): a counter-based draw of the seed, the
    programme's stream, the year and the county's id."""
    key = year_key(seed, Stream.DELIVERY_ORDER + 16 * programme_stream, year)
    return first_uniforms(key, county_ids).astype(np.float64)


def split_cyclic(units: np.ndarray, bounds: np.ndarray, quota: np.ndarray,
                 offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The work teams' block of each county's new enrolments
    (:func:`take_cyclic_numpy`), and the rest, read from each county's
    range without a mask.

    Parameters
    ----------
    units : int64 array (m,)
        Each county's together, in unit order: county ``c``'s are
        ``units[bounds[c]:bounds[c + 1]]`` (:func:`by_county`).
    bounds : int64 array (counties + 1,)
    quota : int array (counties,)
        Units to take in each county (at most its units).
    offset : float64 array (counties,)
        :func:`order_offsets`.

    Returns
    -------
    taken, left : int64 arrays
        The units taken and the others, each county's together, in the
        order of ``units``.
    """
    quota = np.asarray(quota, np.int64)
    if (quota < 0).any() or (quota > np.diff(bounds)).any():
        raise ValueError("split_cyclic: a county's quota is below 0 or above its units")
    # where each county's taken and left go in the outputs
    taken_at = np.concatenate([[0], np.cumsum(quota)])
    left_at = bounds - taken_at
    taken = np.empty(int(taken_at[-1]), np.int64)
    left = np.empty(len(units) - len(taken), np.int64)
    # runs of whole counties on threads: each writes its counties' places
    split_at(_split_cyclic, group_pieces(bounds), units, bounds, quota, offset, taken_at,
             left_at, taken, left)
    return taken, left


@njit(**KERNEL)
def _split_cyclic(first, last, units, bounds, quota, offset, taken_at, left_at, taken, left):
    """Each county's block of ``quota[c]`` units from ``floor(offset[c] *
    size)`` on, wrapping round (as :func:`take_cyclic_numpy`), to ``taken`` from
    ``taken_at[c]``; the rest to ``left`` from ``left_at[c]``; for the
    counties ``first`` to ``last - 1``, in unit order."""
    for c in range(first, last):
        lo, n = bounds[c], bounds[c + 1] - bounds[c]
        start = min(int(offset[c] * n), max(n - 1, 0))
        k, r = taken_at[c], left_at[c]
        # positions lo + i, in order: taken while (i - start) mod n < quota
        for i in range(n):
            rank = i - start
            if rank < 0:
                rank += n
            if rank < quota[c]:
                taken[k] = units[lo + i]
                k += 1
            else:
                left[r] = units[lo + i]
                r += 1


def take_cyclic_numpy(group: np.ndarray, quota: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The work teams' rule, which :func:`split_cyclic` follows: within each
    group, in array order, take ``quota[g]`` elements (at most the group's)
    starting at position ``floor(offset[g] * size)`` (at most the last),
    wrapping around; returns the mask of those taken."""
    order = np.argsort(group, kind="stable")
    ranked = group[order]
    size = np.bincount(group, minlength=len(quota))
    start = np.minimum((offset * size).astype(np.int64), np.maximum(size - 1, 0))
    position = np.arange(len(order)) - np.searchsorted(ranked, ranked, side="left")
    rank = (position - start[ranked]) % np.maximum(size[ranked], 1)
    take = np.zeros(len(group), bool)
    take[order] = rank < quota[ranked]
    return take


def first_in_group_numpy(group: np.ndarray, quota: np.ndarray) -> np.ndarray:
    """Mark the first ``quota[g]`` elements of each group ``g``, in array
    order: the work teams' rule from an offset of 0 (:func:`take_cyclic_numpy`),
    the backlog's rule, which the tests hold
    :class:`model.engine.backlog.Backlog` to."""
    return take_cyclic_numpy(group, quota, np.zeros(len(quota)))
