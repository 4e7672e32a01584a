"""Where a capacity counted in people runs out along a priority order.

A programme whose capacity is in people enrols households in priority
order until the next one no longer fits (:func:`model.programmes.base.first_people`).
Which households those are depends only on the priority at which the
capacity runs out: every household below it is enrolled, none above it,
and only the households at it need their tie-break order. This module finds
that priority by a weighted selection in linear time, instead of sorting
the candidates.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.random import CACHED

# a partition step that keeps more than this share of its elements is a bad
# pivot; after MAX_BAD_STEPS of them the rest is sorted
BAD_SHARE = 0.9
MAX_BAD_STEPS = 16


def people_threshold(priority: np.ndarray, size: np.ndarray, capacity: float):
    """The priority at which ``capacity`` people run out, and the people
    of the units below it.

    Parameters
    ----------
    priority : float array (n,)
        Priority of each unit (lower first; ``-0.0`` equals ``0.0``, no NaN).
    size : int array (n,)
        People of each unit (at least one).
    capacity : float
        People that can be enrolled.

    Returns
    -------
    (value, below) : (priority scalar or None, int)
        ``value`` is the lowest priority ``v`` such that the units with
        priority ``<= v`` hold more than ``capacity`` people, and ``below``
        the people of the units with priority ``< v``. ``value`` is None
        when all the units fit (``below`` is then all their people).
    """
    found, value, below = _threshold(priority, size, float(capacity))
    return (priority.dtype.type(value) if found else None), int(below)


@njit(**CACHED)
def _threshold(priority, size, capacity):
    """:func:`people_threshold` as (found, value, below): a quickselect on
    values weighted by people, with three-way partitions (ties go to one
    side together) and the median of three fixed places as the pivot."""
    values = priority.copy()
    people = size.astype(np.int64)
    below = 0
    lo, hi = 0, values.shape[0]
    bad = 0
    while hi > lo:
        if bad >= MAX_BAD_STEPS:
            return _threshold_sorted(values[lo:hi], people[lo:hi], capacity, below)
        a, b, c = values[lo], values[(lo + hi) // 2], values[hi - 1]
        pivot = max(min(a, b), min(max(a, b), c))
        # [lo, lt) < pivot, [lt, i) == pivot, [gt, hi) > pivot
        lt, i, gt = lo, lo, hi
        less = equal = 0
        while i < gt:
            v = values[i]
            if v < pivot:
                values[i], values[lt] = values[lt], v
                people[i], people[lt] = people[lt], people[i]
                less += people[lt]
                lt += 1
                i += 1
            elif v > pivot:
                gt -= 1
                values[i], values[gt] = values[gt], v
                people[i], people[gt] = people[gt], people[i]
            else:
                equal += people[i]
                i += 1
        kept = max(lt - lo, hi - gt)
        bad += kept > BAD_SHARE * (hi - lo)
        if below + less > capacity:
            hi = lt
        elif below + less + equal > capacity:
            return True, pivot, below + less
        else:
            below += less + equal
            lo = gt
    return False, 0.0, below


@njit(**CACHED)
def _threshold_sorted(values, people, capacity, below):
    """:func:`_threshold` of what is left, by sorting it: a heapsort of the
    values in place, each unit's people moved with its value (plain loops:
    numpy's argsort took 1.7 s of the first national run's compilation for
    this rarely taken path), then the runs of equal values in order."""
    n = values.shape[0]
    for root in range(n // 2 - 1, -1, -1):
        _sift_down(values, people, root, n)
    for end in range(n - 1, 0, -1):
        values[0], values[end] = values[end], values[0]
        people[0], people[end] = people[end], people[0]
        _sift_down(values, people, 0, end)
    k = 0
    while k < n:
        v = values[k]
        run = 0
        while k < n and values[k] == v:
            run += people[k]
            k += 1
        if below + run > capacity:
            return True, v, below
        below += run
    return False, 0.0, below


@njit(**CACHED)
def _sift_down(values, people, root, end):
    """Move ``values[root]`` (and its people) down the max-heap of the
    first ``end`` values until neither child is larger."""
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and values[child + 1] > values[child]:
            child += 1
        if values[root] >= values[child]:
            return
        values[root], values[child] = values[child], values[root]
        people[root], people[child] = people[child], people[root]
        root = child


def people_threshold_numpy(priority, size, capacity):
    """Reference of :func:`people_threshold`: the priorities sorted, the
    people summed along them."""
    order = np.argsort(priority, kind="stable")
    values, total = priority[order], np.cumsum(size[order], dtype=np.int64)
    over = np.flatnonzero(total > capacity)
    if not len(over):
        return None, int(total[-1]) if len(total) else 0
    value = values[over[0]]
    return value, int(size[priority < value].sum(dtype=np.int64))
