"""Compiled loops of the registry build, each giving numpy's numbers bit for bit.

A registry is drawn from one ``numpy.random.Generator`` seeded by its spec,
so each number depends on every draw before it: the order of the draws is
part of the registry, and a faster draw must take the same uniforms in the
same order and do the same arithmetic on them.

- :func:`binomial` is ``Generator.binomial`` for small counts (household
  members). numpy draws ``n * min(p, 1 - p) <= 30`` by inversion (one uniform
  per draw, another after a rare overshoot) and, with an array of counts,
  spends most of its time setting the inversion up again whenever the count
  changes from one household to the next, and in a chain of divisions per
  draw. The kernel computes the inversion's terms once per (probability,
  count), by numpy's operations, and draws its uniforms with the
  generator's own ``random()``; larger counts are left to numpy.
- :func:`shuffle` is ``Generator.shuffle`` (numpy's Fisher-Yates and
  bounded integers, on the generator's own 32-bit draws).
- :func:`below` draws flags (a uniform below a share) without a float64
  array of uniforms.
- :func:`villages` places households in villages (two uniforms each),
  without numpy's int64 temporaries.
- :func:`take` and :func:`sum_by` are ``table[index]`` and ``np.bincount``
  with weights, without numpy's copies of a small-integer index.
- :func:`sort_by` is a stable sort of columns by small integer keys (a
  counting sort: linear, not n log n, and no gather).

The tests compare each with its numpy reference on random inputs, and the
generator's state after. Below :data:`COMPILED_FROM` items a function calls
its numpy reference instead: the same numbers, in a few milliseconds at that
size, and nothing to compile, so that the first run after install, whose
registry is a county's, does not compile these loops (about 2.6 s on one
core).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit
from numba.np.random.generator_core import next_uint32

from model.random import CACHED  # which also sets numba's vector width (prefer_wide_vectors)

BATCH = 4096  # shuffle partners drawn ahead of their swaps
# no fastmath: the kernels must do numpy's floating-point operations exactly
JIT = {**CACHED, "nogil": True}
INVERSION_LIMIT = 30.0  # numpy's switch from inversion to BTPE (n * min(p, 1 - p))
COMPILED_FROM = 1 << 17  # items: fewer take numpy's own functions (module docstring)


@njit(**JIT)
def _inversion(rng, px, bound):
    """One draw by numpy's inversion, its terms ``px`` (of x = 0, 1, ...) given."""
    x = 0
    u = rng.random()
    while u > px[x]:
        x += 1
        if x > bound:
            x = 0
            u = rng.random()
        else:
            u -= px[x - 1]
    return x


@njit(**JIT)
def _binomial_kernel(rng, n, probs, choice, out):
    """``out[i]`` ~ binomial(``n[i]``, ``probs[choice[i]]``) (``choice`` of
    length 1: the same probability for all), drawn in index order.

    numpy's inversion (``random_binomial_inversion``) computes, per draw, the
    terms px(0) = q**n, px(x) = px(x - 1) (n - x + 1) p / (x q) up to a
    bound, with p = min(p, 1 - p); they depend on (p, n) only, so they are
    computed here once, by the same operations in the same order.
    """
    top = 0
    for i in range(len(n)):
        top = max(top, np.int64(n[i]))
    px = np.zeros((len(probs), top + 1, top + 1))
    bound = np.zeros((len(probs), top + 1), np.int64)
    for j in range(len(probs)):
        p = probs[j]
        small = p if p <= 0.5 else 1.0 - p
        q = 1.0 - small
        for m in range(top + 1):
            mean = m * small
            limit = mean + 10.0 * math.sqrt(mean * q + 1.0)
            bound[j, m] = np.int64(min(limit, m))   # numpy: MIN(n, limit), truncated
            px[j, m, 0] = math.exp(m * math.log(q))
            for x in range(1, bound[j, m] + 1):
                px[j, m, x] = ((m - x + 1) * small * px[j, m, x - 1]) / (x * q)
    same = len(choice) == 1
    for i in range(len(n)):
        m = np.int64(n[i])
        j = choice[0] if same else choice[i]
        p = probs[j]
        if m == 0 or p == 0.0:
            out[i] = 0
        elif p <= 0.5:
            out[i] = _inversion(rng, px[j, m], bound[j, m])
        else:
            out[i] = m - _inversion(rng, px[j, m], bound[j, m])


def binomial(rng: np.random.Generator, n: np.ndarray, p: float | Sequence[float],
             choice: np.ndarray | None = None) -> np.ndarray:
    """``rng.binomial(n, p)`` for an array of small counts, the same draws faster.

    Parameters
    ----------
    rng : numpy.random.Generator
        Drawn from (its state advances as numpy's would).
    n : numpy.ndarray of int
        Trials of each draw (persons), >= 0.
    p : float or sequence of float
        Success probability in [0, 1]; with ``choice``, the probabilities
        ``choice`` picks from.
    choice : numpy.ndarray of int, optional
        Index into ``p`` of each draw (same length as ``n``).

    Returns
    -------
    numpy.ndarray
        Draws in the dtype of ``n`` (a draw never exceeds its ``n``).
    """
    n = np.ascontiguousarray(n)
    probs = np.atleast_1d(np.asarray(p, dtype=np.float64))
    if choice is None:
        if len(probs) != 1:
            raise ValueError("binomial: several probabilities need a choice per draw")
        index = np.zeros(1, np.intp)
    else:
        index = np.ascontiguousarray(choice)
        if len(index) != len(n) or (len(index) and not 0 <= index.min() <= index.max()
                                    < len(probs)):
            raise ValueError("binomial: choice must pick a probability for every draw")
    if not np.all((probs >= 0) & (probs <= 1)):
        raise ValueError(f"binomial: p = {probs.tolist()}: expected probabilities in [0, 1]")
    if len(n) == 0:
        return n.copy()
    if n.min() < 0:
        raise ValueError("binomial: n < 0")
    if (len(n) < COMPILED_FROM
            or int(n.max()) * float(np.minimum(probs, 1 - probs).max()) > INVERSION_LIMIT):
        # few draws, or BTPE (never for household members): numpy's own
        per_draw = probs[0] if choice is None else probs[index]
        return rng.binomial(n, per_draw).astype(n.dtype)
    out = np.empty_like(n)
    _binomial_kernel(rng, n, probs, index, out)
    return out


@njit(**JIT)
def _below_kernel(rng, share, out):
    for i in range(len(out)):
        out[i] = rng.random() < share


def below(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """``rng.random(n) < share`` (bool), without the uniforms' float64 array."""
    if n < COMPILED_FROM:
        return rng.random(n) < share
    out = np.empty(n, np.bool_)
    _below_kernel(rng, float(share), out)
    return out


@njit(**JIT)
def _villages_kernel(rng, county, p_poor, first, n_poor, n_other, village):
    n = len(county)
    poor = np.empty(n, np.bool_)
    for i in range(n):
        poor[i] = rng.random() < p_poor[county[i]]
    for i in range(n):
        c = county[i]
        u = rng.random()
        if poor[i]:
            village[i] = first[c] + np.int64(u * n_poor[c])
        else:
            village[i] = first[c] + n_poor[c] + np.int64(u * n_other[c])


def villages(rng: np.random.Generator, county: np.ndarray, p_poor: np.ndarray,
             first: np.ndarray, n_poor: np.ndarray, n_other: np.ndarray) -> np.ndarray:
    """Village of each household: poor with probability ``p_poor`` of its county
    (a uniform per household), then a uniform among its county's poor or
    other villages (a second uniform per household, after all the first).

    The same as the numpy reference (``villages_numpy``), one pass each.

    Parameters
    ----------
    county : numpy.ndarray of int
        County row of each household.
    p_poor : numpy.ndarray of float
        Chance of a poor village, per county.
    first, n_poor, n_other : numpy.ndarray of int64
        Per county: the row of its first village, its poor villages (rows
        ``first`` on) and its other villages (after the poor ones).

    Returns
    -------
    numpy.ndarray of int32
    """
    if len(county) < COMPILED_FROM:
        return villages_numpy(rng, county, p_poor, first, n_poor, n_other)
    village = np.empty(len(county), np.int32)
    _villages_kernel(rng, np.ascontiguousarray(county), np.asarray(p_poor, np.float64),
                     np.asarray(first, np.int64), np.asarray(n_poor, np.int64),
                     np.asarray(n_other, np.int64), village)
    return village


def villages_numpy(rng: np.random.Generator, county: np.ndarray, p_poor: np.ndarray,
                   first: np.ndarray, n_poor: np.ndarray, n_other: np.ndarray) -> np.ndarray:
    """The numpy reference of :func:`villages`."""
    in_poor = rng.random(len(county)) < p_poor[county]
    u = rng.random(len(county))
    village = np.where(in_poor, first[county] + (u * n_poor[county]).astype(np.int64),
                       first[county] + n_poor[county] + (u * n_other[county]).astype(np.int64))
    return village.astype(np.int32)


@njit(**JIT)
def _interval(bitgen, high):
    """A uniform integer in [0, ``high``] for ``high`` < 2**32: numpy's
    ``random_interval`` (masked rejection on 32-bit draws)."""
    if high == 0:
        return 0
    mask = high
    for shift in (1, 2, 4, 8, 16):
        mask |= mask >> shift
    while True:
        value = np.int64(next_uint32(bitgen)) & mask
        if value <= high:
            return value


@njit(**JIT)
def _shuffle_kernel(rng, x):
    bitgen = rng.bit_generator
    partners = np.empty(BATCH, np.int64)
    i = len(x) - 1
    while i > 0:
        k = min(BATCH, i)
        for t in range(k):   # the partners of the next k swaps, drawn in numpy's order
            partners[t] = _interval(bitgen, np.int64(i - t))
        for t in range(k):   # then the swaps, in order, free of the draws between them
            a, j = i - t, partners[t]
            x[a], x[j] = x[j], x[a]
        i -= k


def shuffle(rng: np.random.Generator, x: np.ndarray) -> None:
    """``rng.shuffle(x)`` for a 1-d contiguous array, in place: the same order.

    numpy's Fisher-Yates from the last element down, each partner drawn by
    ``random_interval``. The partners are drawn a batch ahead of the swaps
    (the draws do not depend on the data), so the processor has many of the
    swaps' scattered memory reads in flight at once: a large shuffle is
    several times faster than numpy's.
    """
    if x.ndim != 1 or not x.flags.c_contiguous:
        raise ValueError("shuffle: expected a 1-d contiguous array")
    if len(x) < COMPILED_FROM or len(x) > 2**32:   # numpy draws 64-bit partners above
        rng.shuffle(x)
    else:
        _shuffle_kernel(rng, x)


@njit(**JIT)
def _scatter(keys, start, column, out):
    at = start.copy()
    for i in range(len(keys)):
        k = keys[i]
        out[at[k]] = column[i]
        at[k] += 1


@njit(**JIT)
def _sum_by(index, weights, out):
    for i in range(len(index)):
        out[index[i]] += weights[i]


def sum_by(index: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """``np.bincount(index, weights, minlength=length)`` for whole-number weights
    (float64 sums, exact below 2**53 in any order), without numpy's intp and
    float64 copies of the arguments."""
    index, weights = np.ascontiguousarray(index), np.ascontiguousarray(weights)
    if len(index) != len(weights):
        raise ValueError("sum_by: one weight per index")
    if len(index) and not 0 <= index.min() <= index.max() < length:
        raise ValueError(f"sum_by: index must lie in [0, {length})")
    if len(index) < COMPILED_FROM:
        return np.bincount(index, weights, minlength=length).astype(np.float64, copy=False)
    out = np.zeros(length)
    _sum_by(index, weights, out)
    return out


def take(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[index]`` without numpy's intp copy of ``index``."""
    index = np.ascontiguousarray(index)
    if len(index) and not 0 <= index.min() <= index.max() < len(table):
        raise IndexError(f"take: index must lie in [0, {len(table)})")
    if len(index) < COMPILED_FROM:
        return table[index]
    out = np.empty(len(index), table.dtype)
    _take(np.ascontiguousarray(table), index, out)
    return out


@njit(**JIT)
def _count(keys, n_keys):
    counts = np.zeros(n_keys, np.int64)
    for i in range(len(keys)):
        counts[keys[i]] += 1
    return counts


@njit(**JIT)
def _take(table, index, out):
    for i in range(len(index)):
        out[i] = table[index[i]]


def sort_by(keys: np.ndarray, n_keys: int, *columns: np.ndarray,
            coarse: np.ndarray | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Rows per key, and ``column[np.argsort(keys, kind="stable")]`` of each column.

    A counting sort (integer keys in ``[0, n_keys)``): linear, each column
    read in order and written in runs (a gather by the sorted order reads all
    over memory). With many keys, ``coarse`` (a group of each key,
    non-decreasing in the key, e.g. the county of each village) sorts by
    group first, so that the pass by key writes to the runs of one group at
    a time; the result is the same.

    Returns
    -------
    counts : numpy.ndarray of int64
        Rows of each key (``np.bincount(keys, minlength=n_keys)``).
    sorted : list of numpy.ndarray
        The columns, rows in key order (rows of one key in their order).
    """
    keys = np.ascontiguousarray(keys)
    if len(keys) and not 0 <= keys.min() <= keys.max() < n_keys:
        raise ValueError(f"sort_by: keys must lie in [0, {n_keys})")
    if any(len(column) != len(keys) for column in columns):
        raise ValueError("sort_by: every column needs one row per key")
    if coarse is not None:
        coarse = np.ascontiguousarray(coarse)
        if len(coarse) != n_keys or np.any(np.diff(coarse) < 0) or (n_keys and coarse[0] < 0):
            raise ValueError("sort_by: coarse must give each key a group >= 0, "
                             "non-decreasing in the key")
    if len(keys) < COMPILED_FROM:
        order = np.argsort(keys, kind="stable")
        return (np.bincount(keys, minlength=n_keys).astype(np.int64, copy=False),
                [column[order] for column in columns])
    counts = _count(keys, n_keys)
    if coarse is not None:
        group = np.empty(len(keys), coarse.dtype)
        _take(coarse, keys, group)
        _, (keys, *columns) = sort_by(group, int(coarse[-1]) + 1 if n_keys else 0, keys,
                                      *columns)
        del group
    start = np.zeros(n_keys, np.int64)
    np.cumsum(counts[:-1], out=start[1:])
    out = []
    for column in columns:
        out.append(np.empty_like(column))
        _scatter(keys, start, np.ascontiguousarray(column), out[-1])
    return counts, out
