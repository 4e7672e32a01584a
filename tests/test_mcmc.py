"""The Metropolis walk behind a fit's parameter draws, on objectives whose
quasi-posterior exp(-Q / 2) is known."""

import numpy as np
import pytest

from model.calibration.fit import Free
from model.calibration.mcmc import reflect, scales_from_profile, thin, walk

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


def test_profile_scales_are_each_parameters_width():
    # a profile of Q = ((u - 0.4) / 0.05) ** 2 on a, flat on b, at five points
    best = {"a": FREE[0].value(0.4), "b": FREE[1].value(0.7)}
    grid = np.linspace(0.0, 1.0, 5)
    profile = {"a": (np.array([FREE[0].value(u) for u in sorted({*grid, 0.4})]),
                     np.array([((u - 0.4) / 0.05) ** 2 for u in sorted({*grid, 0.4})])),
               "b": (np.array([FREE[1].value(u) for u in sorted({*grid, 0.7})]),
                     np.zeros(6))}
    scales = scales_from_profile(profile, best, FREE, prior_sd=0.5)
    # curvature 1 / 0.05 ** 2 plus the prior's 1 / 0.5 ** 2; flat: the prior's sd
    assert scales == pytest.approx([1 / np.sqrt(400 + 4), 0.5])


def test_scaled_steps_let_a_weakly_seen_parameter_cross_its_prior():
    # ten parameters pinned to 0.01 of their ranges and one the objective does
    # not see: with one step for all (tuned to the pinned ones) the free one
    # hardly leaves its start in a short chain; scaled, it spreads over its range
    free = [Free(f"p{k}", 0.0, 1.0, False) for k in range(11)]
    sd = np.array([0.01] * 10 + [100.0])

    def objective(vectors):
        u = np.array([[v[f.name] for f in free] for v in vectors])
        return list((((u - 0.5) / sd) ** 2).sum(axis=1))

    start = [{f.name: 0.5 for f in free}] * 2
    plain = walk(objective, start, free, steps=300, seed=4)
    scaled = walk(objective, start, free, steps=300, seed=4, scales=np.minimum(sd, 1.0))
    last = np.array([d["parameters"]["p10"] for d in plain.draws])
    assert last.std() < 0.1
    last = np.array([d["parameters"]["p10"] for d in scaled.draws])
    assert last.std() > 0.2                 # a uniform on [0, 1] has sd 0.29
    pinned = np.array([d["parameters"]["p0"] for d in scaled.draws])
    assert pinned.std() == pytest.approx(0.01, rel=0.4)
