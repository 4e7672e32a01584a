"""A county's amounts added in household order from 0.0, without the chain.

The record sums a county's costs household by household, in household
order, from 0.0: a chain of dependent additions, each waiting for the
last (four cycles an amount), which the compiler may not reorder. When the
amounts are whole multiples of a power of two ``2**-shift`` and their
magnitudes add to at most ``2**53`` of it, every partial sum of the chain
is such a multiple below ``2**53`` of it, so exact in float64: the chain
gives the exact sum, which the amounts scaled by ``2**shift`` (whole
numbers, int64) give added in any order, in a loop that vectorises.
:func:`sum_in_order` takes that way when it holds and the chain otherwise,
so its result is the chain's bit for bit.

Yearly costs are such amounts: float32 yuan of a few thousand at most,
times a household's members, a few thousand households to a county.

A kernel writes a county's amounts into a scratch array (:func:`scratch`,
one a piece of counties) and sums them: one compiled sum for every kernel.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from model.random import CACHED, INLINE, bits_of

_MAGNITUDE = np.int64(0x7FFFFFFFFFFFFFFF)  # the bits of a float64 but its sign
_EXPONENT_BIAS = 1022  # frexp's exponent of a float64 is its exponent field less this
_MAX_SHIFT = 1000  # scales 2**shift beyond it would not be finite


@njit(**INLINE)
def sum_in_order(amounts, n):
    """``amounts[0] + amounts[1] + ... + amounts[n - 1]`` added in that
    order from 0.0 (float64, finite amounts): the chain's result bit for
    bit, in two passes that vectorise when every partial sum is exact
    (module docstring), else by the chain."""
    # the largest magnitude from the bits: for floats of one sign their
    # order is the integers' (a float max reduction does not vectorise)
    largest = np.int64(0)
    for j in range(n):
        largest = max(largest, bits_of(amounts[j]) & _MAGNITUDE)
    if largest == 0:
        return 0.0
    # every |amount| < 2**top, and n <= 2**count of them: their sum of
    # magnitudes stays below 2**53 scaled by 2**shift
    top = np.int64(largest >> np.int64(52)) - _EXPONENT_BIAS
    count = 0
    while (1 << count) < n:
        count += 1
    shift = 53 - top - count
    if abs(shift) > _MAX_SHIFT:
        return _chain(amounts, n)
    scale = math.ldexp(1.0, shift)
    total = np.int64(0)
    whole = True
    for j in range(n):
        q = amounts[j] * scale  # exact: a power of two
        k = np.int64(q)
        whole &= np.float64(k) == q
        total += k
    if not whole:
        return _chain(amounts, n)
    return np.float64(total) * math.ldexp(1.0, -shift)


@njit(**INLINE)
def _chain(amounts, n):
    """The additions one after the other."""
    s = 0.0
    for j in range(n):
        s += amounts[j]
    return s


@njit(**INLINE)
def scratch(starts, first, last):
    """A float64 array as long as the largest of groups ``first`` to
    ``last - 1`` (group ``g``: ``starts[g]`` to ``starts[g + 1] - 1``),
    for their amounts one group at a time."""
    most = 0
    for g in range(first, last):
        most = max(most, starts[g + 1] - starts[g])
    return np.empty(most)


@njit(**CACHED)
def sum_in_order_of(amounts):
    """:func:`sum_in_order` of a whole array (the tests' entry)."""
    return sum_in_order(amounts, amounts.shape[0])


def sum_in_order_numpy(amounts: np.ndarray) -> float:
    """Reference of :func:`sum_in_order`: the chain of additions from 0.0
    (``np.add.accumulate`` adds in order)."""
    return float(np.add.accumulate(np.concatenate([[0.0], amounts]))[-1])
