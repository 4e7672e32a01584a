"""A county's amounts summed in any order where that is exact, against the
chain of additions in order, bit for bit (model.engine.ordered_sums)."""

import numpy as np
import pytest

from model.engine.ordered_sums import sum_in_order_numpy, sum_in_order_of

RNG = np.random.default_rng(21)


def _costs(n):
    """The record's amounts: float32 yuan times members, many of them none."""
    topup = RNG.uniform(0, 4000, n).astype(np.float32)
    topup[RNG.random(n) < 0.5] = 0
    return topup.astype(np.float64) * RNG.integers(1, 9, n)


FAMILIES = {
    "costs": _costs,
    "costs with a tiny one": lambda n: np.append(_costs(n), 1e-9),
    "float64 with every bit": lambda n: RNG.uniform(100, 1000, n),
    "one tenth": lambda n: np.full(n, 0.1),
    "mixed signs": lambda n: RNG.normal(0, 1000, n).astype(np.float32).astype(np.float64),
    # whole numbers of 53 bits: the scaled sum would need 54
    "odd near 2**53": lambda n: 2.0**52 + 2 * RNG.integers(0, 2**50, n) + 1,
    # odd multiples of 2**-20 of 51 bits: eight of them scaled by
    # twice the scale that fits would be whole numbers whose sum needs 54
    # bits, and the chain rounds after the fourth
    "51 bits, odd": lambda n: (2 * RNG.integers(2**49, 2**50, n) + 1) * 2.0**-20,
    "powers of two": lambda n: 2.0 ** RNG.integers(-60, 60, n),
    "huge and tiny": lambda n: np.array([1e300, 1e-300, 3.0] * n)[:n],
    "zeros and negative zeros": lambda n: np.array([0.0, -0.0] * n)[:n],
}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 64, 1000, 5000])
def test_the_sum_is_the_chain(family, n):
    for _ in range(5):
        amounts = np.asarray(FAMILIES[family](n), np.float64)
        got, want = sum_in_order_of(amounts), sum_in_order_numpy(amounts)
        assert np.float64(got).tobytes() == np.float64(want).tobytes(), (family, n)


def test_the_chain_is_not_the_exact_sum_in_the_test_data():
    """The families that must fall back to the chain do differ from the
    exact sum somewhere, so a sum that skipped the chain would fail."""
    for family, scale in (("odd near 2**53", 1), ("51 bits, odd", 2**20)):
        differs = 0
        for _ in range(20):
            amounts = FAMILIES[family](8)
            exact = sum(int(a * scale) for a in amounts)
            differs += int(sum_in_order_numpy(amounts) * scale) != exact
        assert differs > 0, family
