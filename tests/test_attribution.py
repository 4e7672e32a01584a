"""Attribution of exits to pathways (五个一批): the rule on a hand-built case
and the kernel against it."""

import numpy as np

from model.engine.attribution import (
    NONE,
    attribute,
    attribute_exits,
    mark_reached,
    mark_reached_numpy,
    reached_by_group,
    reached_by_group_numpy,
)
from model.engine.codes import ATTRIBUTION, BATCHES, EXIT


def test_attribution_rule():
    line = np.full(5, 3000.0)
    income = np.array([3500.0, 3500.0, 3500.0, 5000.0, 3100.0])
    comps = np.zeros((len(BATCHES), 5))
    p, r, e, ed, s = range(5)
    comps[p, 0] = 1000                       # production alone decisive
    comps[[p, e], 1] = [600, 900]            # both decisive: the larger (ecological)
    comps[[p, ed], 2] = [300, 300]           # none alone decisive: the larger (first on ties)
    comps[p, 3] = 1000                       # own income suffices
    comps[[p, s], 4] = [50, 2000]            # safety net decisive, production not
    got = attribute(income, line, comps)
    assert [ATTRIBUTION[g] for g in got] == ["production", "ecological", "production", "none",
                                             "safety_net"]
    assert NONE == ATTRIBUTION.index("none")


def test_attribution_kernel_matches_rule():
    rng = np.random.default_rng(2)
    n = 50_000
    batch_income = (rng.random((4, n)) < 0.4) * rng.uniform(0, 3000, (4, n))
    topup = (rng.random(n) < 0.3) * rng.uniform(0, 2000, n)
    income = rng.uniform(2000, 9000, n).astype(np.float32)
    floor = (topup > 0).astype(np.float32) * 2500
    event = np.where(rng.random(n) < 0.5, EXIT, 0).astype(np.uint8)
    county = rng.integers(0, 3, n).astype(np.int16)
    size = rng.integers(1, 6, n).astype(np.int8)
    ex = np.flatnonzero(event == EXIT)
    # every row written; or rows 1 and 3 not, zero and not read
    for written in (np.ones(4, bool), np.array([True, False, True, False])):
        rows = np.where(written[:, None], batch_income, 0.0).astype(np.float32)
        out = np.zeros((3, len(ATTRIBUTION), 2))
        attribute_exits(ex, income, floor, 3000.0, 2500.0, rows, written,
                        topup.astype(np.float32), county, size, out)
        comps = np.vstack([rows[:, ex], topup.astype(np.float32)[ex]])
        ref = attribute(income[ex], np.where(floor[ex] > 0, 2500.0, 3000.0), comps)
        expected = np.zeros((3, len(ATTRIBUTION)))
        np.add.at(expected, (county[ex], ref), 1)
        np.testing.assert_array_equal(out[..., 0], expected)
        assert out[..., 0].sum() == len(ex)
        if not written.all():  # a row not written is not read: what it holds does not count
            rows[1] = 1e6
            again = np.zeros_like(out)
            attribute_exits(ex, income, floor, 3000.0, 2500.0, rows, written,
                            topup.astype(np.float32), county, size, again)
            np.testing.assert_array_equal(again, out)
    assert (expected > 0).sum() > 10


def test_reached_by_group_matches_weighted_counts():
    rng = np.random.default_rng(11)
    n, nc = 4000, 7
    group = np.sort(rng.integers(0, nc, n)).astype(np.int16)
    size = rng.integers(1, 9, n).astype(np.int8)
    exits = np.sort(rng.choice(n, 900, replace=False))
    hit = rng.random((len(BATCHES), len(exits))) < 0.4
    got, ref = np.zeros((nc, len(BATCHES))), np.zeros((nc, len(BATCHES)))
    reached_by_group(exits, hit, group, size, got)
    reached_by_group_numpy(exits, hit, group, size, ref)
    assert got.sum() > 0
    np.testing.assert_array_equal(got, ref)


def test_mark_reached_matches_each_programmes_rule():
    rng = np.random.default_rng(12)
    n, nv, year = 5000, 60, 2018
    village = np.sort(rng.integers(0, nv, n)).astype(np.int32)
    status = rng.integers(0, 4, n).astype(np.int8)
    exit_year = rng.choice(np.array([0, 2015, 2016, 2017, 2018], np.int16), n)
    years = np.array([0, 0, 2015, 2016, 2017, 2018, 2019, -2016], np.int16)
    table = rng.choice(years, (4, n))
    village_table = rng.choice(years, (3, nv))
    exits = np.sort(rng.choice(n, 1200, replace=False))
    args = (exits, village, status, exit_year, year, table, np.array([0, 2, 3]),
            np.array([-np.inf, 2015.0, -np.inf]), np.array([-np.inf, -np.inf, 2016.0]),
            np.array([0, 0, 2]), village_table, np.array([1, 2]), np.array([-np.inf, 2016.5]),
            np.array([-np.inf, -np.inf]), np.array([1, 4]))
    got = np.zeros((len(BATCHES), len(exits)), bool)
    ref = got.copy()
    mark_reached(*args, got)
    mark_reached_numpy(*args, ref)
    assert 0 < got.sum() < got.size and got[[0, 1, 2, 4]].any(axis=1).all()
    np.testing.assert_array_equal(got, ref)
