"""In-year delivery (model/engine/delivery.py): instant limit, conservation,
monotonicity, determinism, unspent funds, carry-over and parameters."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from model.engine.delivery import CARRY_BINS, MONTHS, Carry, Settings, deliver
from model.scenario import load_scenario
from model.tools.delivery_bench import (
    VARIANTS,
    bench_inputs,
    delivery_parameters,
    programme_names,
    settings_for,
)

CASES = range(6)


def random_inputs(case: int, nc: int = 7, npr: int = 4):
    """Enrolments (with zeros), budgets, villages for a small random year."""
    rng = np.random.default_rng(100 + case)
    enrolments = rng.poisson(rng.uniform(5, 400), (nc, npr)) * (rng.random((nc, npr)) > 0.15)
    budget = enrolments * rng.uniform(0, 20_000, (nc, npr))
    budget[0, 0] = 0.0  # a programme that needs no money
    villages = rng.integers(5, 30, nc)
    return enrolments, budget, villages


def random_settings(case: int, npr: int = 4) -> Settings:
    """Binding but finite delivery settings."""
    rng = np.random.default_rng(200 + case)
    return Settings(build_months=tuple(rng.uniform(0, 10, npr)),
                    funds_advance_share=rng.uniform(0, 1),
                    funds_advance_month=rng.uniform(0, 6),
                    funds_rest_issue_month=rng.uniform(2, 9),
                    funds_forward_lag=rng.uniform(0, 3),
                    approval_per_month=rng.uniform(100, 1000),
                    approval_months=rng.uniform(0, 3),
                    approval_spread=rng.uniform(0, 1),
                    teams_per_village=rng.uniform(0.5, 3),
                    households_per_team_month=rng.uniform(10, 40),
                    lots=int(rng.integers(3, 13)))


def run(enrolments, budget, settings, seed=1, **kw):
    kw.setdefault("villages", np.full(enrolments.shape[0], 10))
    return deliver(2016, enrolments, budget, settings, seed, **kw)


def assert_no_more(later, earlier):
    """``later`` (worse settings) never has more in effect, nor earlier."""
    assert (later.in_effect <= earlier.in_effect).all()
    assert (later.household_years <= earlier.household_years + 1e-9).all()
    assert (later.monthly_share <= earlier.monthly_share + 1e-12).all()


# ---------------------------------------------------------------- instant delivery

@pytest.mark.parametrize("case", CASES)
def test_instant_settings_are_the_engine_without_delivery(case):
    enrolments, budget, _ = random_inputs(case)
    r = deliver(2016, enrolments, budget, Settings.instant(4), seed=case, villages=None)
    assert np.array_equal(r.in_effect, enrolments)
    assert (r.backlog == 0).all()
    assert (r.fraction_of_year[enrolments > 0] == 1.0).all()
    assert (r.monthly_share[enrolments > 0] == 1.0).all()
    assert (r.unspent == 0).all() and np.array_equal(r.spent, budget)
    assert (r.carry.total == 0).all()


def test_unlimited_capacity_and_zero_times_is_instant():
    enrolments, budget, villages = random_inputs(0)
    s = dataclasses.replace(random_settings(0), funds_advance_month=0, funds_rest_issue_month=0,
                            funds_forward_lag=0, approval_per_month=math.inf,
                            approval_months=0, teams_per_village=math.inf,
                            build_months=(0.0,) * 4)
    a = run(enrolments, budget, s, villages=villages)
    b = run(enrolments, budget, Settings.instant(4))
    for name in ("in_effect", "backlog", "fraction_of_year", "monthly_share", "unspent"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_disabled_parameter_gives_instant_settings():
    params = delivery_parameters().with_overlay({"delivery.enabled": 0}, source="test")
    assert settings_for(params, ["photovoltaic", "housing"]) == Settings.instant(2)


# ---------------------------------------------------------------- hand-computed cases

def test_teams_visit_in_rounds():
    # 100 households, 5 villages x 1 team x 5 households/month = 25/month, 2 lots:
    # 50 in effect at month 2, 50 at month 4.
    s = dataclasses.replace(Settings.instant(1), teams_per_village=1,
                            households_per_team_month=5, lots=2)
    r = deliver(2016, np.array([[100]]), np.array([[0.0]]), s, seed=1, villages=np.array([5]))
    assert r.in_effect[0, 0] == 100
    assert r.fraction_of_year[0, 0] == pytest.approx((50 * 10 + 50 * 8) / 12 / 100)
    assert r.monthly_share[0, 0, :5].tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]


def test_funds_tranches_gate_payment_and_builds_take_time():
    # 10 households, 100 yuan: half paid at month 3, half at 6 + 2 = 8; build 2 months
    # -> 5 in effect at 5, 5 at 10.
    s = dataclasses.replace(Settings.instant(1), funds_advance_share=0.5,
                            funds_advance_month=3, funds_rest_issue_month=6,
                            funds_forward_lag=2, build_months=(2.0,))
    r = deliver(2016, np.array([[10]]), np.array([[100.0]]), s, seed=1)
    assert r.in_effect[0, 0] == 10
    assert r.fraction_of_year[0, 0] == pytest.approx((5 * 7 + 5 * 2) / 12 / 10)
    assert r.monthly_share[0, 0, 4] == 0.0 and r.monthly_share[0, 0, 5] == 0.5
    assert r.monthly_share[0, 0, 10] == 1.0 and r.unspent[0, 0] == 0.0


def test_approval_office_is_a_queue():
    # 2 programmes x 60 households, one lot each, each programme's office 40/month,
    # approval 1 month: each lot is approved at 1.5, in effect at 2.5.
    s = dataclasses.replace(Settings.instant(2), approval_per_month=40, approval_months=1,
                            lots=1)
    r = deliver(2016, np.array([[60, 60]]), np.zeros((1, 2)), s, seed=1)
    assert r.fraction_of_year[0].tolist() == pytest.approx([9.5 / 12, 9.5 / 12])
    # two lots of programme 0: the second waits for the first (approved at 0.75, 1.5)
    r = deliver(2016, np.array([[60, 60]]), np.zeros((1, 2)),
                dataclasses.replace(s, lots=2), seed=1)
    assert r.fraction_of_year[0, 0] == pytest.approx(((12 - 1.75) + (12 - 2.5)) / 2 / 12)


def test_one_programme_queue_does_not_hold_up_another():
    # each line department approves its own programme (seed 002): a long queue
    # of programme 0 leaves programme 1's timing as if it were alone
    s = dataclasses.replace(Settings.instant(2), approval_per_month=40, approval_months=1,
                            lots=4)
    alone = deliver(2016, np.array([[0, 60]]), np.zeros((1, 2)), s, seed=1)
    crowded = deliver(2016, np.array([[4000, 60]]), np.zeros((1, 2)), s, seed=1)
    assert crowded.fraction_of_year[0, 1] == alone.fraction_of_year[0, 1] > 0
    assert crowded.in_effect[0, 1] == 60 and crowded.backlog[0, 0] > 0


def test_explicit_unit_cost_limits_households_and_returns_money():
    s = Settings.instant(1)
    r = deliver(2016, np.array([[10]]), np.array([[65.0]]), s, seed=1, unit_cost=10.0)
    assert r.in_effect[0, 0] == 6 and r.backlog[0, 0] == 4
    assert r.unspent[0, 0] == pytest.approx(5.0) and r.spent[0, 0] == pytest.approx(60.0)
    assert r.carry.approved[0, 0] == 4  # approved, waiting for next year's money


# ---------------------------------------------------------------- conservation

@pytest.mark.parametrize("case", CASES)
def test_backlog_is_conserved_over_years(case):
    enrolments, budget, villages = random_inputs(case)
    settings = random_settings(case)
    carry = None
    for year in range(2016, 2020):
        r = deliver(year, enrolments, budget, settings, seed=case, villages=villages,
                    carry=carry)
        assert np.array_equal(r.in_effect + r.backlog, enrolments)
        assert (r.in_effect >= 0).all() and (r.backlog >= 0).all()
        assert (r.carry.total <= r.backlog).all() and (r.carry.approved >= 0).all()
        assert ((r.fraction_of_year >= 0) & (r.fraction_of_year <= 1)).all()
        assert (np.diff(r.monthly_share, axis=-1) >= 0).all()
        assert np.allclose(r.spent + r.unspent, budget)
        assert np.allclose(r.monthly_share[..., -1] * enrolments, r.in_effect)
        assert np.array_equal(r.monthly_households,
                              (r.monthly_share * enrolments[:, :, None]).sum(axis=0))
        # next year: the backlog plus a few new enrolments, the carry passed on
        enrolments = r.backlog + np.random.default_rng(year).poisson(20, enrolments.shape)
        carry = r.carry


def test_long_builds_finish_next_year_with_carry():
    # relocation housing: 14 months from payment, so nothing finishes in year 1
    s = dataclasses.replace(Settings.instant(1), build_months=(14.0,), funds_advance_month=2)
    first = deliver(2016, np.array([[30]]), np.array([[3e6]]), s, seed=1)
    assert first.in_effect[0, 0] == 0 and first.carry.building[0, 0, 4] == 30
    second = deliver(2017, first.backlog, np.array([[0.0]]), s, seed=1, carry=first.carry)
    assert second.in_effect[0, 0] == 30 and second.fraction_of_year[0, 0] == pytest.approx(8 / 12)
    restarted = deliver(2017, first.backlog, np.array([[3e6]]), s, seed=1)
    assert restarted.in_effect[0, 0] == 0  # without carry it would never finish


# ---------------------------------------------------------------- monotonicity

@pytest.mark.parametrize("case", CASES)
def test_later_funds_never_give_more_in_effect(case):
    enrolments, budget, villages = random_inputs(case)
    s = random_settings(case)
    earlier = run(enrolments, budget, s, villages=villages)
    for shift in (0.5, 2.0, 5.0):
        for later_s in (dataclasses.replace(s, funds_advance_month=s.funds_advance_month + shift),
                        dataclasses.replace(s, funds_forward_lag=s.funds_forward_lag + shift),
                        dataclasses.replace(s, funds_rest_issue_month=s.funds_rest_issue_month
                                            + shift)):
            later = run(enrolments, budget, later_s, villages=villages)
            assert_no_more(later, earlier)
            assert (later.unspent >= earlier.unspent - 1e-6).all()


@pytest.mark.parametrize("case", CASES)
def test_fewer_teams_or_slower_office_never_give_more_in_effect(case):
    enrolments, budget, villages = random_inputs(case)
    s = random_settings(case)
    base = run(enrolments, budget, s, villages=villages)
    for worse in (dataclasses.replace(s, teams_per_village=s.teams_per_village / 2),
                  dataclasses.replace(s, households_per_team_month=s.households_per_team_month
                                      * 0.7),
                  dataclasses.replace(s, approval_per_month=s.approval_per_month / 3),
                  dataclasses.replace(s, approval_months=s.approval_months + 1),
                  dataclasses.replace(s, build_months=tuple(b + 1 for b in s.build_months))):
        assert_no_more(run(enrolments, budget, worse, villages=villages), base)
    no_teams = run(enrolments, budget, dataclasses.replace(s, teams_per_village=0),
                   villages=villages)
    assert (no_teams.in_effect == 0).all()


def test_mean_fraction_alone_is_not_monotone():
    # Why the monotonicity tests check household-years, not the mean fraction:
    # later money drops the latest households out of the year and can raise
    # the mean fraction of those left.
    s = dataclasses.replace(Settings.instant(1), funds_advance_share=0.5,
                            funds_advance_month=1, funds_rest_issue_month=10)
    later = dataclasses.replace(s, funds_advance_month=2, funds_rest_issue_month=12)
    a = deliver(2016, np.array([[10]]), np.array([[10.0]]), s, seed=1)
    b = deliver(2016, np.array([[10]]), np.array([[10.0]]), later, seed=1)
    assert b.fraction_of_year[0, 0] > a.fraction_of_year[0, 0]
    assert b.household_years[0, 0] < a.household_years[0, 0]


# ---------------------------------------------------------------- determinism

# money at once, fast teams: the random approval times decide the timing
APPROVAL_BOUND = Settings(build_months=(1.0, 2.0, 0.0, 3.0), approval_per_month=500,
                          approval_months=2.0, approval_spread=1.0, lots=4)


def test_same_seed_same_arrays_other_seed_other_approval_times():
    enrolments, budget, villages = random_inputs(3)
    s = APPROVAL_BOUND
    a, b = (run(enrolments, budget, s, seed=5, villages=villages) for _ in range(2))
    for f in dataclasses.fields(a):
        if f.name != "carry":
            assert np.array_equal(getattr(a, f.name), getattr(b, f.name)), f.name
    assert np.array_equal(a.carry.building, b.carry.building)
    c = run(enrolments, budget, s, seed=6, villages=villages)
    assert not np.array_equal(a.fraction_of_year, c.fraction_of_year)


def test_order_of_counties_and_programmes_does_not_matter():
    enrolments, budget, villages = random_inputs(4)
    s = APPROVAL_BOUND
    a = run(enrolments, budget, s, villages=villages)
    order = np.random.default_rng(0).permutation(len(enrolments))
    b = run(enrolments[order], budget[order], s, villages=villages[order], county_ids=order)
    assert np.array_equal(b.in_effect, a.in_effect[order])
    assert np.array_equal(b.monthly_share, a.monthly_share[order])
    assert np.array_equal(b.unspent, a.unspent[order])
    porder = np.array([2, 0, 3, 1])
    s_p = dataclasses.replace(s, build_months=tuple(np.array(s.build_months)[porder]))
    c = run(enrolments[:, porder], budget[:, porder], s_p, villages=villages,
            programme_ids=porder)
    assert np.allclose(c.fraction_of_year, a.fraction_of_year[:, porder])


# ---------------------------------------------------------------- unspent funds

@pytest.mark.parametrize("case", CASES)
def test_unspent_zero_when_instant_and_grows_with_later_funds(case):
    enrolments, budget, villages = random_inputs(case)
    assert (run(enrolments, budget, Settings.instant(4)).unspent == 0).all()
    s = random_settings(case)
    previous = None
    for month in (0.0, 4.0, 8.0, 11.0, 13.0):
        late = dataclasses.replace(s, funds_advance_month=month, funds_rest_issue_month=month,
                                   funds_forward_lag=0)
        r = run(enrolments, budget, late, villages=villages)
        if previous is not None:
            assert (r.unspent >= previous.unspent - 1e-6).all()
        previous = r
    assert np.allclose(previous.unspent, budget)  # no money before the year ends


# ---------------------------------------------------------------- parameters and checks

def test_declared_parameters_give_settings_and_variants_apply():
    params = delivery_parameters()
    names = programme_names(params)
    assert {"photovoltaic", "relocation", "industry", "transfer_employment"} <= set(names)
    default = settings_for(params, names)
    assert default.funds_advance_month == 3 and default.funds_forward_lag == 2
    assert all(params.declaration(n).reference for n in params.names())
    nc, npr = 40, len(names)
    enrolments, budget, villages = bench_inputs(nc, npr)
    xiangxi = settings_for(load_scenario("xiangxi").params, names)
    base = deliver(2016, enrolments, budget, xiangxi, 1, villages=villages)
    for name in VARIANTS:
        s = settings_for(load_scenario(name).params, names)
        assert s != xiangxi
        assert_no_more(deliver(2016, enrolments, budget, s, 1, villages=villages), base)


def test_bad_inputs_are_errors():
    s = dataclasses.replace(Settings.instant(1), teams_per_village=1.0,
                            households_per_team_month=5)
    with pytest.raises(ValueError, match="villages"):
        deliver(2016, np.array([[3]]), np.array([[1.0]]), s, seed=1)
    too_much = Carry(np.array([[4]]), np.zeros((1, 1, CARRY_BINS), np.int64))
    with pytest.raises(ValueError, match="carry"):
        deliver(2016, np.array([[3]]), np.array([[1.0]]), Settings.instant(1), 1, carry=too_much)
    # a carry made by hand is checked; one deliver returned is known good
    negative = Carry(np.array([[0]]), -np.ones((1, 1, CARRY_BINS), np.int64))
    with pytest.raises(ValueError, match="carry.building has negative"):
        deliver(2016, np.array([[3]]), np.array([[1.0]]), Settings.instant(1), 1, carry=negative)
    assert not negative.checked and Carry.empty(2, 3).checked
    assert deliver(2016, np.array([[3]]), np.array([[1.0]]), Settings.instant(1), 1).carry.checked
    with pytest.raises(ValueError, match="build_months"):
        deliver(2016, np.array([[3, 1]]), np.ones((1, 2)), Settings.instant(1), 1)
    with pytest.raises(ValueError, match="funds_advance_share"):
        Settings(build_months=(0,), funds_advance_share=1.5)
    with pytest.raises(ValueError, match="build_months"):
        Settings(build_months=(MONTHS * 3,))


def test_a_year_of_832_counties_by_12_programmes_is_fast():
    params = delivery_parameters()
    names = (programme_names(params) * 12)[:12]
    enrolments, budget, villages = bench_inputs(832, 12)
    start = time.perf_counter()
    deliver(2016, enrolments, budget, settings_for(params, names), 1, villages=villages)
    assert time.perf_counter() - start < 5.0  # about 0.35 s on the development machine


def test_money_buys_whole_real_households_at_reduced_scale():
    # 72 % of the money by March, the rest after the year: at full scale 100
    # households in a county-programme get 72 paid; at scale 0.01 the one
    # simulated household stands for those 100, so it is paid (72 of 100 real
    # households, rounded), where a floor at the simulated scale would pay none
    s = dataclasses.replace(Settings.instant(1), funds_advance_share=0.72,
                            funds_advance_month=3, funds_rest_issue_month=12, lots=1)
    full = deliver(2016, np.array([[100]]), np.array([[100.0]]), s, seed=1, unit_cost=1.0)
    assert full.in_effect[0, 0] == 72
    small = deliver(2016, np.array([[1]]), np.array([[1.0]]),
                    dataclasses.replace(s, scale=0.01), seed=1, unit_cost=1.0)
    assert small.in_effect[0, 0] == 1
    below_half = deliver(2016, np.array([[1]]), np.array([[1.0]]),
                         dataclasses.replace(s, scale=0.01, funds_advance_share=0.4), seed=1,
                         unit_cost=1.0)
    assert below_half.in_effect[0, 0] == 0
    with pytest.raises(ValueError, match="scale"):
        dataclasses.replace(s, scale=0.0)


@pytest.mark.parametrize(("argv", "message"), [
    (["nope"], "scenario 'nope' not found"),
    (["0"], "argument COUNTIES: 0 must be at least 1"),
    (["3", "x"], "argument PROGRAMMES: 'x' is not a whole number"),
    (["ruyuan", "3"], "PROGRAMMES goes with COUNTIES, not with the scenario 'ruyuan'"),
])
def test_the_delivery_bench_refuses_bad_arguments_with_a_message(argv, message, capsys):
    from model.tools.delivery_bench import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_the_delivery_bench_times_a_small_year(capsys):
    from model.tools.delivery_bench import main

    main(["2e1", "2"])  # a count as the povsim command takes one
    out = capsys.readouterr().out
    assert "20 counties x 2 programmes" in out and "instant" in out
