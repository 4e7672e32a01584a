"""The Metropolis walk behind a fit's parameter draws, on objectives whose
quasi-posterior exp(-Q / 2) is known."""

import numpy as np
import pytest

from model.calibration.fit import Free
from model.calibration.mcmc import reflect, thin, walk

FREE = [Free("a", 0.0, 10.0, False), Free("b", 1.0, 100.0, True)]


def quadratic(centre, sd):
    """Q = sum(((u - centre) / sd) ** 2) on the parameters' places in their ranges."""
    def objective(vectors):
        u = np.array([[f.position(v[f.name]) for f in FREE] for v in vectors])
        return list((((u - centre) / sd) ** 2).sum(axis=1))
    return objective


def test_positions_and_values_invert_and_fold_into_the_range():
    for f in FREE:
        for u in (0.0, 0.3, 1.0):
            assert f.position(f.value(u)) == pytest.approx(u)
    assert reflect(np.array([-0.2, 0.5, 1.3, 2.1])) == pytest.approx([0.2, 0.5, 0.7, 0.1])


def test_draws_follow_a_known_gaussian_with_tuned_acceptance():
    centre, sd = np.array([0.4, 0.6]), np.array([0.05, 0.1])
    starts = [{f.name: f.value(c) for f, c in zip(FREE, centre)}] * 4
    result = walk(quadratic(centre, sd), starts, FREE, steps=3000, seed=3)
    u = np.array([[f.position(d["parameters"][f.name]) for f in FREE] for d in result.draws])
    assert len(result.draws) == 4 * 1500
    # exp(-Q / 2) is a Gaussian with these means and standard deviations
    np.testing.assert_allclose(u.mean(axis=0), centre, atol=0.2 * sd.max())
    np.testing.assert_allclose(u.std(axis=0), sd, rtol=0.25)
    assert 0.1 < result.acceptance < 0.5
    assert result.evaluations == 4 + 4 * 3000


def test_a_ridge_is_followed_where_the_best_trials_are_not():
    # Q depends on a + b's place only: along the ridge every point fits alike
    def ridge(vectors):
        u = np.array([[f.position(v[f.name]) for f in FREE] for v in vectors])
        return list(((u.sum(axis=1) - 1.0) / 0.02) ** 2)
    start = [{"a": FREE[0].value(0.5), "b": FREE[1].value(0.5)}] * 2
    result = walk(ridge, start, FREE, steps=2000, seed=1)
    a = np.array([FREE[0].position(d["parameters"]["a"]) for d in result.draws])
    assert a.max() - a.min() > 0.5          # far along the ridge from the start


def test_walk_is_reproducible_and_thinning_keeps_the_spread():
    start = [{"a": 5.0, "b": 10.0}]
    one = walk(quadratic(np.array([0.5, 0.5]), np.array([0.1, 0.1])), start, FREE, 200, seed=7)
    two = walk(quadratic(np.array([0.5, 0.5]), np.array([0.1, 0.1])), start, FREE, 200, seed=7)
    assert one.draws == two.draws
    kept = thin(one.draws, 10)
    assert len(kept) == 10 and kept[0] is one.draws[0] and kept[-1] is one.draws[-1]


def test_failed_proposals_are_never_accepted():
    def fails_right(vectors):
        return [np.inf if v["a"] > 5.0 else 0.0 for v in vectors]
    result = walk(fails_right, [{"a": 2.0, "b": 10.0}], FREE, 400, seed=2)
    assert all(d["parameters"]["a"] <= 5.0 for d in result.draws)
