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
from model.engine.threads import KERNEL, split_at, split_summed
from model.random import Stream, first_uniforms, year_key


def counties_of(county: np.ndarray, units: np.ndarray, n_counties: int):
    """``(county[units], np.bincount(county[units], minlength=n_counties))``:
    the county of each enrolment and the count by county, in one pass on
    threads (a piece of ``units`` each; whole-number counts, the same in any
    order)."""
    out = np.empty(units.shape[0], county.dtype)
    counts = np.zeros(n_counties, np.int64)
    split_summed(_counties_piece, units.shape[0], (counts,), county, units, out)
    return out, counts


@njit(**KERNEL)
def _counties_piece(first, last, county, units, out, counts):
    """:func:`counties_of` of ``units[first:last]``."""
    # units come county by county: the county's count stays in a register
    # while the county lasts
    g, run = -1, 0
    for j in range(first, last):
        c = county[np.uint64(units[j])]  # unsigned (model.engine.threads)
        out[j] = c
        if c != g:
            if g >= 0:
                counts[g] += run
            g, run = c, 0
        run += 1
    if g >= 0:
        counts[g] += run


def in_effect(new_county: np.ndarray, quota: np.ndarray, seed: int, programme_stream: int,
              year: int, county_ids: np.ndarray,
              new_per_county: np.ndarray | None = None) -> np.ndarray:
    """Mask of this year's new enrolments taking effect this year, once the
    backlog has taken its share (:meth:`model.engine.backlog.Backlog.take`).

    Parameters
    ----------
    new_county : int array (n,)
        County row of each new enrolment, in index order.
    quota : int array (n_counties,)
        New enrolments taking effect in each county this year (at most its new
        enrolments).
    seed, programme_stream, year : int
        Seed of the run, the programme's own stream number and the year: the
        random starting point in each county is a counter-based draw of them
        (:func:`order_offsets`).
    county_ids : int array (n_counties,)
        Stable county ids (the counters of the draw).
    new_per_county : int array (n_counties,), optional
        How many new enrolments each county has (counted from ``new_county``
        when not given).

    Returns
    -------
    numpy.ndarray of bool (n,)
    """
    if not quota.any():  # nothing takes effect anywhere: no order to draw
        return np.zeros(len(new_county), bool)
    now = np.empty(len(new_county), bool)
    if new_per_county is None:
        new_per_county = np.bincount(new_county, minlength=len(quota))
    take_cyclic(new_county, quota, order_offsets(seed, programme_stream, year, county_ids),
                np.asarray(new_per_county, np.int64), now)
    return now


def order_offsets(seed: int, programme_stream: int, year: int,
                  county_ids: np.ndarray) -> np.ndarray:
    """Where the work teams start in each county's new enrolments, as a
    share (0..1) of them (float64): a counter-based draw of the seed, the
    programme's stream, the year and the county's id."""
    key = year_key(seed, Stream.DELIVERY_ORDER + 16 * programme_stream, year)
    return first_uniforms(key, county_ids).astype(np.float64)


def split_cyclic(units: np.ndarray, bounds: np.ndarray, quota: np.ndarray,
                 offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`take_cyclic` of units stored county by county, as the units
    taken and those left, both ascending, read from each county's range
    without a mask.

    Parameters
    ----------
    units : int64 array (m,)
        Ascending; county ``c``'s are ``units[bounds[c]:bounds[c + 1]]``.
    bounds : int64 array (counties + 1,)
    quota : int array (counties,)
        Units to take in each county (at most its units).
    offset : float64 array (counties,)
        :func:`order_offsets`.

    Returns
    -------
    taken, left : int64 arrays
        The units :func:`take_cyclic` marks, and the others.
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
    size)`` on, wrapping round (as :func:`take_cyclic`), to ``taken`` from
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


@njit(cache=True)
def take_cyclic(group, quota, offset, size, take):
    """Within each group, in array order, take ``quota[g]`` elements starting
    at position ``floor(offset[g] * size[g])`` and wrapping around.

    Parameters
    ----------
    group : int array (n,)
        Group (county) of each element.
    quota : int array (G,)
        Elements to take per group (at most its size).
    offset : float array (G,)
        Start of the taken block as a share (0..1) of the group's elements.
    size : int64 array (G,)
        Elements of each group (``np.bincount(group)``).
    take : bool array (n,), out
        True for the taken elements.
    """
    start = np.zeros(len(quota), np.int64)
    for g in range(len(quota)):
        start[g] = min(int(offset[g] * size[g]), max(size[g] - 1, 0))
    # the group's count stays in a register while the group lasts (a count
    # kept in memory makes every element wait for the one before)
    seen = np.zeros(len(quota), np.int64)
    g, count, first, n_g, limit = -1, 0, 0, 0, 0
    for i in range(len(group)):
        if group[i] != g:
            if g >= 0:
                seen[g] = count
            g = group[i]
            count, first, n_g, limit = seen[g], start[g], size[g], quota[g]
        rank = count - first
        if rank < 0:
            rank += n_g
        take[i] = rank < limit
        count += 1


def take_cyclic_numpy(group: np.ndarray, quota: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Reference of :func:`take_cyclic`."""
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
    order (a stable sort by group): the backlog's rule, which the tests hold
    :class:`model.engine.backlog.Backlog` to."""
    order = np.argsort(group, kind="stable")
    ranked = group[order]
    rank = np.arange(len(order)) - np.searchsorted(ranked, ranked, side="left")
    take = np.zeros(len(group), bool)
    take[order] = rank < quota[ranked]
    return take
