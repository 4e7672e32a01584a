"""The base year's shocks: split from the registry's incomes so that the
spread of log income stays the registry's."""

import numpy as np

from model.engine.initial_income import split_base_year, split_base_year_numpy
from model.engine.sim import Simulation
from model.params import Parameters
from model.programmes.measures import instances
from model.random import Stream, hash_id_np, normal_pair_np, year_key
from model.registry.synth import synthetic

SP, ST, RHO = 0.5, 0.15, 0.8


def _registry_like(n=400_000, mu=7.5, sd=0.8, seed=0):
    rng = np.random.default_rng(seed)
    income = np.exp(rng.normal(mu, sd, n)).astype(np.float32)
    income[:1000] = 0.0  # households without market income
    groups = np.zeros(n, np.int8)
    return income, groups, np.arange(n, dtype=np.int64) + 17


def _forward(base, z, years, sp=SP, st=ST, rho=RHO, seed=5):
    """The income kernel's market income over the years after the split, in numpy."""
    out = []
    for t in range(years):
        key = year_key(seed, Stream.INCOME, 2015 + t)
        n1, n2 = normal_pair_np(hash_id_np(key, np.arange(len(base))))
        z = rho * z + sp * np.sqrt(1 - rho**2) * n1
        out.append(base * np.exp(z + st * n2 - 0.5 * (sp**2 + st**2)))
    return out


def test_split_keeps_the_spread_and_mean_of_log_income_year_after_year():
    income, groups, ids = _registry_like()
    base, z = split_base_year(income, groups, ids, 1, 2014, SP, ST)
    positive = income > 0
    observed = np.log(income[positive])
    # the base carries the rest of the spread, the shocks their stationary share
    assert abs(np.log(base[positive]).var() - (observed.var() - SP**2 - ST**2)) < 0.01
    assert abs(z[positive].std() - SP) < 0.01
    for market in _forward(base.astype(np.float64), z.astype(np.float64), 6):
        logs = np.log(market[positive])
        assert abs(logs.std() - observed.std()) < 0.01
        assert abs(market[positive].mean() / income[positive].astype(np.float64).mean() - 1) < 0.01


def test_without_the_split_the_spread_grows():
    """The old start (z = 0 on top of the observed income) widens the spread:
    what the split prevents."""
    income, _, _ = _registry_like()
    positive = income > 0
    observed = np.log(income[positive]).std()
    last = _forward(income.astype(np.float64), np.zeros(len(income)), 6)[-1]
    assert np.log(last[positive]).std() > observed + 0.1


def test_zero_income_stays_zero_and_groups_are_split_apart():
    income, _, ids = _registry_like(n=20_000)
    groups = (np.arange(len(income)) % 2).astype(np.int8)
    income[groups == 1] *= 3.0  # a richer group: its own mean
    base, _z = split_base_year(income, groups, ids, 1, 2014, SP, ST)
    assert np.all(base[income == 0] == 0)
    for g in (0, 1):
        members = (groups == g) & (income > 0)
        # the shocks are centred within each group, not on the pooled mean
        assert abs(np.mean(np.log(income[members]) - np.log(base[members])) + 0.5 * (SP**2 + ST**2)
                  ) < 0.02


def test_shocks_larger_than_the_spread_take_all_of_it():
    income, groups, ids = _registry_like(n=50_000, sd=0.3)
    base, _z = split_base_year(income, groups, ids, 1, 2014, 0.6, 0.2)
    positive = income > 0
    assert np.log(base[positive]).std() < 1e-5  # one base for the group


def test_split_is_seeded_and_household_wise():
    income, groups, ids = _registry_like(n=10_000)
    a = split_base_year(income, groups, ids, 4, 2015, SP, ST)
    b = split_base_year(income, groups, ids, 4, 2015, SP, ST)
    c = split_base_year(income, groups, ids, 5, 2015, SP, ST)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    # a household's draw does not depend on its position
    order = np.random.default_rng(0).permutation(len(income))
    _base, z = split_base_year(income[order], groups[order], ids[order], 4, 2015, SP, ST)
    np.testing.assert_allclose(z, a[1][order], rtol=1e-5, atol=1e-6)


def test_engine_starts_from_the_split_only_when_asked():
    reg = synthetic(20_000, n_counties=3, seed=2)
    on = Simulation(reg, Parameters.load(), seed=1, end_year=2016, programmes=instances())
    off = Simulation(reg, Parameters.load({"income_initial_shocks": 0}), seed=1, end_year=2016,
                     programmes=instances())
    assert np.all(off.state.z == 0)
    assert np.array_equal(off.state.market_base, reg.households["market_income"])
    assert on.state.z.std() > 0.1
    assert not np.array_equal(on.state.market_base, reg.households["market_income"])


def test_kernels_match_the_numpy_reference_and_any_thread_count():
    from model.engine.threads import set_threads, threads
    income, _, ids = _registry_like(n=300_000)
    groups = (ids % 3).astype(np.int8)
    groups[:1] = 5  # a group of one household is left as it is
    got = split_base_year(income, groups, ids, 2, 2014, SP, ST)
    ref = split_base_year_numpy(income, groups, ids, 2, 2014, SP, ST)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4)
    assert got[1][0] == 0 and got[0][0] == income[0]
    before = threads()
    set_threads(1)
    try:
        one = split_base_year(income, groups, ids, 2, 2014, SP, ST)
    finally:
        set_threads(before)
    assert all(np.array_equal(a, b) for a, b in zip(got, one))
