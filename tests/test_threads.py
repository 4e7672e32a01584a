"""Household kernels on threads: the pieces cover every household once, and a
kernel's results do not depend on where the households are cut."""

import itertools

import numpy as np
import pytest
from test_kernels import outputs, random_inputs

from model.engine import threads
from model.engine.kernels import income_update


@pytest.fixture
def four_threads(monkeypatch):
    monkeypatch.setattr(threads, "_most", lambda: 4)
    monkeypatch.setattr(threads, "_threads", None)
    monkeypatch.setattr(threads, "_pool", None)  # a pool of the pretended size, then the old one


@pytest.mark.parametrize("n, min_piece, pieces", [(10, 1, 4), (10, 3, 4), (10, 4, 3),
                                                  (10, 100, 1), (0, 1, 1), (3, 1, 3)])
def test_pieces_cover_every_household_once(four_threads, n, min_piece, pieces):
    seen = []
    threads.split(lambda start, stop, out: out.append((start, stop)), n, seen,
                  min_piece=min_piece)
    seen.sort()
    assert len(seen) == pieces
    assert seen[0][0] == 0 and seen[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(seen))


def test_set_threads_bounds_the_pieces(four_threads):
    threads.set_threads(2)
    seen = []
    threads.split(lambda start, stop: seen.append(start), 100, min_piece=1)
    assert len(seen) == 2 and threads.threads() == 2
    threads.set_threads(99)
    assert threads.threads() == 4


def test_income_update_is_the_same_whatever_the_cuts(four_threads, monkeypatch):
    n = 50_003
    inputs, scalars, z0 = random_inputs(n, 5)
    whole = outputs(n, z0)
    income_update.kernel(**inputs, **scalars, **whole)  # one serial pass
    monkeypatch.setattr(threads, "MIN_PIECE", 7)
    cut = outputs(n, z0)
    income_update(**inputs, **scalars, **cut)  # four pieces on threads
    odd = outputs(n, z0)
    for start, stop in ((0, 7), (7, 1_000), (1_000, n)):  # cuts off the vector width
        part = {k: v[start:stop] if k != "county_factor" else v for k, v in inputs.items()}
        income_update.kernel(**part, **scalars, **{k: v[start:stop] for k, v in odd.items()})
    for name in whole:
        np.testing.assert_array_equal(whole[name], cut[name])
        np.testing.assert_array_equal(whole[name], odd[name])


def test_a_kernel_error_reaches_the_caller(four_threads):
    def kernel(start, stop):
        if start > 0:
            raise ValueError("piece failed")

    with pytest.raises(ValueError, match="piece failed"):
        threads.split(kernel, 100, min_piece=1)
