"""A programme's coverage and cost by county: units reached, people and
yuan, summed group by group from the list of units it reached.

Households are stored county by county and the lists are ascending, so the
units of a group (a county) are one run of the list, found by bisection
from where each group starts among the units (:func:`group_starts`, once a
run). Each group is then summed by one thread, in the list's order: the
tables are the same whatever the number of threads, and the same as the
reference's unbuffered adds (:func:`coverage_at_numpy`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.threads import KERNEL, cuts, split_at
from model.random import CACHED, INLINE

# below it every partial sum of an integer amount is an exact float64
_EXACT = 2.0**53
# units a group, on average, from which summing group by group beats one
# pass in any order (on one thread; measured with 2,032 groups: 0.44 against
# 0.35 ms at 160 a group, 3.8 against 5.1 ms at 2,000)
_BY_GROUP_FROM = 1024
# and units in all: below, the one pass takes a millisecond or two, and a
# run that never needs the kernel by group (the default scenario's) does
# not compile it (about 2 s of the first run's compilation)
_BY_GROUP_FROM_UNITS = 1 << 20


@njit(**INLINE)
def sums_exactly(weight, n):
    """Whether ``weight`` added ``n`` times from 0.0 is exactly ``n *
    weight``: an integer amount whose every partial sum stays below 2**53."""
    return weight == np.floor(weight) and abs(weight) * n < _EXACT


def group_starts(group: np.ndarray, n_groups: int) -> np.ndarray | None:
    """First unit of each group, then the number of units (``n_groups +
    1`` values, int64), when ``group`` (one value in ``0..n_groups - 1``
    for each unit) never decreases; None otherwise (units not stored group
    by group: :func:`coverage_at` then sums on one thread)."""
    group = np.asarray(group)
    if len(group) and (group[0] < 0 or group[-1] >= n_groups
                       or (group[1:] < group[:-1]).any()):
        return None
    return np.searchsorted(group, np.arange(n_groups + 1)).astype(np.int64)


def coverage_at(group, index, weights, size, counts, sums, people, starts=None):
    """For every j, in order: ``counts[g] += 1``, ``sums[g] += weights[j]``
    and, when ``size`` is not empty, ``people[g] += size[index[j]]``, with
    ``g = group[index[j]]``.

    Parameters
    ----------
    group : int array (units,)
        Group (county) of each unit.
    index : int64 array (k,)
        The units reached, ascending.
    weights : float array (k,) or (1,)
        Amount of each unit of ``index`` (yuan); of length 1, the same for
        every unit.
    size : int8 array (units,) or empty
        People in each unit (empty: people are not counted).
    counts, sums, people : float64 arrays (groups,)
        The tables, added to.
    starts : int64 array (groups + 1,), optional
        :func:`group_starts` of ``group``. With it, the tables zeros on
        entry and a long list (:data:`_BY_GROUP_FROM` units a group on
        average, :data:`_BY_GROUP_FROM_UNITS` in all), each group is summed
        apart, on threads. Should ``index``
        not be in group order after all (a unit found in another group's
        run), or otherwise, everything is summed in one pass on one thread.
    """
    if (starts is not None
            and index.shape[0] >= max(_BY_GROUP_FROM * (len(starts) - 1), _BY_GROUP_FROM_UNITS)
            and not (counts.any() or sums.any() or people.any())):
        bounds = np.searchsorted(index, starts)
        if (bounds[1:] >= bounds[:-1]).all() and _by_group(bounds, starts, index, weights,
                                                           size, counts, sums, people):
            return
        for t in (counts, sums, people):
            t[:] = 0.0
    _coverage_range(0, index.shape[0], group, index, weights, size, counts, sums, people)


def _by_group(bounds, starts, index, weights, size, counts, sums, people) -> bool:
    """Sum each group's run ``index[bounds[g]:bounds[g + 1]]``, on threads,
    a range of groups each; False when a run holds a unit of another group."""
    return all(split_at(_coverage_groups, group_pieces(bounds), bounds, starts, index, weights,
                        size, counts, sums, people))


def group_pieces(bounds: np.ndarray) -> list[int]:
    """Groups cutting ``range(bounds[-1])`` (group ``g``: ``bounds[g]`` to
    ``bounds[g + 1]``) into runs of whole groups of about equal units, one
    a thread (:func:`model.engine.threads.cuts`): the first group of each
    run, then the number of groups."""
    pieces = [0]
    for cut in cuts(int(bounds[-1]))[1:-1]:
        g = int(np.searchsorted(bounds, cut, side="right")) - 1
        if pieces[-1] < g < len(bounds) - 1:
            pieces.append(g)
    pieces.append(len(bounds) - 1)
    return pieces


@njit(**KERNEL)
def _coverage_groups(first, last, bounds, starts, index, weights, size, counts, sums, people):
    """:func:`coverage_at` for groups ``first`` to ``last - 1``, whose units
    are ``index[bounds[g]:bounds[g + 1]]``. Returns False (the tables then
    partly written) if one of those units is not in group ``g``.

    The count and the people are integer sums (exact, as the float64 sums
    of small integers they replace). The same integer amount for every unit
    sums to ``n * w``, the exact value of the additions, when every partial
    sum of these groups is an integer below 2**53; other amounts are added
    in order (:func:`_sums_in_order`).
    """
    same = weights.shape[0] == 1
    with_people = size.shape[0] > 0
    total = bounds[last] - bounds[first]
    exact = same and sums_exactly(weights[0], total)
    for g in range(first, last):
        a, b = bounds[g], bounds[g + 1]
        if a == b:
            continue
        lo, hi = starts[g], starts[g + 1]
        outside = 0
        q = 0
        for j in range(a, b):
            i = index[j]
            outside += (i < lo) | (i >= hi)
            if with_people:
                q += np.int64(size[np.uint64(i)])
        if outside:
            return False
        n = b - a
        counts[g] = np.float64(n)
        people[g] = np.float64(q)
        if exact:
            sums[g] = np.float64(weights[0]) * np.float64(n)
    if not exact:
        _sums_in_order(first, last, bounds, weights, sums)
    return True


@njit(**KERNEL)
def _sums_in_order(first, last, bounds, weights, sums):
    """``sums[g]``: the amounts of group ``g``'s run added in order from
    0.0, for groups ``first`` to ``last - 1``.

    Each sum is a chain of dependent additions, as long as the group's
    run. Four lanes go side by side, each through the groups of about a
    quarter of the units: the inner loop adds four chains at once, as far
    as the nearest end of a run, then the lanes whose run ended store its
    sum and move to their next group. Each sum is the same additions in the
    same order as alone.
    """
    same = weights.shape[0] == 1
    total = bounds[last] - bounds[first]
    # lane k: groups from edge[k] to edge[k + 1] - 1 (cut where a quarter of the units end)
    edge = np.empty(5, np.int64)
    edge[0], edge[4] = first, last
    for k in range(1, 4):
        edge[k] = max(edge[k - 1], min(last, first + np.searchsorted(
            bounds[first:last + 1], bounds[first] + k * total // 4)))
    pos = np.zeros(4, np.int64)  # the lane's next unit
    end = np.zeros(4, np.int64)  # the end of its group's run
    group = np.full(4, -1, np.int64)  # its group (-1: the lane is done)
    for k in range(4):
        if edge[k] < edge[k + 1]:
            group[k] = edge[k]
            pos[k], end[k] = bounds[group[k]], bounds[group[k] + 1]
    acc = np.zeros(4)
    while True:
        m = total + 1  # the units until the nearest end of a run
        for k in range(4):
            if group[k] >= 0:
                m = min(m, end[k] - pos[k])
        if m > total:
            return
        # a lane that is done, or one amount for all, reads the first place
        d0, d1, d2, d3 = ((0, 0, 0, 0) if same else
                          (group[0] >= 0, group[1] >= 0, group[2] >= 0, group[3] >= 0))
        a0, a1, a2, a3 = pos[0] * d0, pos[1] * d1, pos[2] * d2, pos[3] * d3
        s0, s1, s2, s3 = acc[0], acc[1], acc[2], acc[3]
        for t in range(m):
            s0 += weights[np.uint64(a0 + d0 * t)]
            s1 += weights[np.uint64(a1 + d1 * t)]
            s2 += weights[np.uint64(a2 + d2 * t)]
            s3 += weights[np.uint64(a3 + d3 * t)]
        acc[0], acc[1], acc[2], acc[3] = s0, s1, s2, s3
        for k in range(4):
            if group[k] < 0:
                continue
            pos[k] += m
            if pos[k] == end[k]:
                sums[group[k]] = acc[k]
                acc[k] = 0.0
                group[k] = group[k] + 1 if group[k] + 1 < edge[k + 1] else -1
                if group[k] >= 0:  # an empty group ends at once and stores 0.0
                    end[k] = bounds[group[k] + 1]


@njit(**CACHED, nogil=True)
def _coverage_range(first, last, group, index, weights, size, counts, sums, people):
    """:func:`coverage_at` for ``index[first:last]`` (``weights`` aligned with
    ``index``), on one thread, in any group order."""
    same = weights.shape[0] == 1
    with_people = size.shape[0] > 0
    # households come mostly grouped: the running sums of a group stay in
    # registers and are stored when the group changes (the same additions,
    # in the same order)
    g = -1
    c = s = q = 0.0
    for j in range(first, last):
        i = np.uint64(index[j])
        if group[i] != g:
            if g >= 0:
                counts[g], sums[g], people[g] = c, s, q
            g = group[i]
            c, s, q = counts[g], sums[g], people[g]
        c += 1.0
        s += weights[0] if same else weights[j]
        if with_people:
            q += np.float64(size[i])
    if g >= 0:
        counts[g], sums[g], people[g] = c, s, q


@njit(**CACHED)
def repeated_sums(weight, counts, sums):
    """``sums[g]``: ``weight`` added ``counts[g]`` times from 0.0, as
    :func:`coverage_at` sums the same amount for every unit: ``counts[g] *
    weight`` when every partial sum is an exact integer, one addition at a
    time otherwise (float64 arrays, one value a group)."""
    exact = sums_exactly(weight, counts.sum())
    for g in range(counts.shape[0]):
        if counts[g] == 0:
            sums[g] = 0.0
        elif exact:
            sums[g] = weight * counts[g]
        else:
            s = 0.0
            for _ in range(np.int64(counts[g])):
                s += weight
            sums[g] = s


def coverage_at_numpy(group, index, weights, size, counts, sums, people):
    """Reference of :func:`coverage_at` (unbuffered adds, in index order)."""
    g = group[index]
    np.add.at(counts, g, 1.0)
    np.add.at(sums, g, np.broadcast_to(weights, index.shape))
    if len(size):
        np.add.at(people, g, size[index].astype(np.float64))
