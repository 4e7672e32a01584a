"""Iterative proportional fitting and exact rounding (model.registry.ipf)."""

from __future__ import annotations

import numpy as np
import pytest

from model.errors import PovsimError
from model.registry.ipf import Constraint, fit, round_exact


def two_way(shape=(3, 4)):
    idx = np.arange(np.prod(shape)).reshape(shape)
    rows = [idx[i].ravel() for i in range(shape[0])]
    cols = [idx[:, j].ravel() for j in range(shape[1])]
    return idx, rows, cols


def test_two_way_margins_are_met_and_odds_ratios_kept():
    rng = np.random.default_rng(3)
    prior = rng.uniform(0.5, 2.0, (3, 4))
    _, rows, cols = two_way()
    row_t, col_t = [30.0, 50.0, 20.0], [10.0, 40.0, 25.0, 25.0]
    cons = ([Constraint(r, t) for r, t in zip(rows, row_t)]
            + [Constraint(c, t) for c, t in zip(cols, col_t)])
    x = fit(prior, cons)
    np.testing.assert_allclose(x.sum(1), row_t, rtol=1e-9)
    np.testing.assert_allclose(x.sum(0), col_t, rtol=1e-9)
    # IPF keeps the prior's cross-product ratios (the associations it carries)
    ratio = lambda t: t[0, 0] * t[1, 1] / (t[0, 1] * t[1, 0])  # noqa: E731
    assert ratio(x) == pytest.approx(ratio(prior), rel=1e-8)


def test_known_solution_of_independent_margins():
    _, rows, cols = two_way((2, 2))
    x = fit(np.ones((2, 2)), [Constraint(rows[0], 60), Constraint(rows[1], 40),
                              Constraint(cols[0], 30), Constraint(cols[1], 70)])
    np.testing.assert_allclose(x, [[18, 42], [12, 28]], rtol=1e-9)


def test_weighted_people_constraint():
    size = np.array([1.0, 2.0, 3.0, 4.0])
    cells = np.arange(4)
    x = fit(np.ones(4), [Constraint(cells, 100), Constraint(cells, 300, size)])
    assert x.sum() == pytest.approx(100, rel=1e-9)
    assert (x * size).sum() == pytest.approx(300, rel=1e-9)
    # an exponential tilt towards larger sizes: increasing cell values
    assert np.all(np.diff(x) > 0)


def test_structural_zero_stays_zero():
    prior = np.ones((2, 2))
    prior[1, 1] = 0
    _, rows, cols = two_way((2, 2))
    x = fit(prior, [Constraint(rows[0], 5), Constraint(rows[1], 3), Constraint(cols[0], 4),
                    Constraint(cols[1], 4)])
    assert x[1, 1] == 0
    np.testing.assert_allclose(x, [[1, 4], [3, 0]], atol=1e-8)


def test_inconsistent_margins_name_the_constraints():
    _, rows, cols = two_way((2, 2))
    cons = [Constraint(rows[0], 5, label="rows A"), Constraint(rows[1], 5, label="rows B"),
            Constraint(cols[0], 7, label="cols A"), Constraint(cols[1], 7, label="cols B")]
    with pytest.raises(PovsimError, match="inconsistent") as info:
        fit(np.ones((2, 2)), cons, max_iter=200)
    assert "target" in str(info.value) and "fitted" in str(info.value)


def test_target_on_ruled_out_cells():
    prior = np.array([1.0, 0.0])
    with pytest.raises(PovsimError, match="zero cell"):
        fit(prior, [Constraint(np.array([1]), 3, label="second")])


def test_round_exact_meets_hard_counts():
    rng = np.random.default_rng(5)
    shape = (3, 2, 6)
    idx = np.arange(np.prod(shape)).reshape(shape)
    size = np.broadcast_to(np.arange(1, 7), shape).ravel().astype(float)
    prior = rng.uniform(0.1, 1.0, shape)
    cons = [Constraint(idx[i].ravel(), t) for i, t in enumerate([101, 57, 33])]
    cons += [Constraint(idx[i].ravel(), t, size[idx[i].ravel()]) for i, t in
             enumerate([340, 150, 61])]
    cons += [Constraint(idx[:, 0].ravel(), 77)]
    cons += [Constraint(idx[:, :, 0].ravel(), 0.2 * 191, hard=False)]
    x = fit(prior, cons)
    r = round_exact(x, cons)
    assert r.dtype == np.int64 and r.min() >= 0
    assert list(r.sum((1, 2))) == [101, 57, 33]
    assert list((r * size.reshape(shape)).sum((1, 2))) == [340, 150, 61]
    assert r[:, 0].sum() == 77
    assert abs(r[:, :, 0].sum() - 0.2 * 191) < 5      # a soft share: to rounding
    assert np.abs(r - x).max() < 3


def test_round_exact_impossible_counts():
    # one cell of size 2 cannot hold an odd number of people
    cons = [Constraint(np.array([0]), 2.5 / 2.5 * 3, np.array([2.0]), label="odd people")]
    with pytest.raises(PovsimError, match="odd people"):
        round_exact(np.array([1.5]), cons)


def test_round_exact_rejects_fractional_hard_target():
    with pytest.raises(PovsimError, match="whole number"):
        round_exact(np.array([1.5]), [Constraint(np.array([0]), 1.5)])
