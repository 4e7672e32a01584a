"""A programme's one-pass step (model.engine.one_pass) against the chain
of passes it replaces, bit for bit, on threads or not; and a whole run with
it against the same run without it."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from model.engine import threads
from model.engine.codes import EXITED, HOUSING, MEDICAL, POOR, RETURNED, SCHOOLING
from model.engine.coverage import (
    coverage_at_numpy,
    group_pieces,
    group_starts,
    repeated_sums,
)
from model.engine.one_pass import (
    Floor,
    Grant,
    Income,
    Lookup,
    floor_costs,
    floor_costs_numpy,
    floor_step,
    floor_step_numpy,
    grant_step,
    grant_step_numpy,
    income_step,
    income_step_numpy,
)
from model.engine.sim import Simulation
from model.params import Parameters
from model.programmes.measures import instances
from model.registry.synth import synthetic
from model.runs import registry_for
from model.scenario import load_scenario

N, COUNTIES, YEAR = 30_000, 23, 2018

UPPER = np.random.default_rng(9).integers(0, 3, N).astype(np.int8)
GRANTS = (np.random.default_rng(8).random(N) * 700).astype(np.float32)

DECLARED = {
    "per household": Income(3000.0),
    "per household, ramp": Income(2500.0, ramp=3.0),
    "per person, later share": Income(410.0, per_person=True, later_from=3.0, later_share=0.35),
    "per person, awkward amount": Income(0.1, per_person=True, ramp=2.5),
    # a ramp float32 does not hold (its shares of the first two years differ
    # divided in float32 and in float64; an amount of 1 keeps the difference
    # in the row), and a later share from a fraction of a year
    "per household, ramp not a float32": Income(1.0, ramp=2.3),
    "per person, later share from a fraction": Income(410.0, per_person=True, later_from=1.5,
                                                      later_share=0.35),
    # education: grants of each household, a guarantee, the cost, graduates
    "per person, each, bits, cost, later added": Income(
        GRANTS, per_person=True, bits=SCHOOLING, costs_amount=True, later_from=2.0,
        later_added=1234.5, later_who=UPPER),
    "each per household, later added to a mask, cost": Income(
        GRANTS * 3, ramp=2.0, costs_amount=True, later_from=1.0, later_share=0.5,
        later_added=99.9, later_who=UPPER == 1),
}


def households(seed=5):
    """Counties stored in order, one inside and the last ones empty;
    enrolments of several years, stopped ones and never; every status."""
    rng = np.random.default_rng(seed)
    county = np.sort(rng.integers(0, COUNTIES - 2, N)).astype(np.int16)
    county[county == 4] = 5
    start = rng.choice(np.array([0, 2015, 2016, 2017, 2018, 2019, -2016], np.int16), N)
    status = rng.choice(np.array([POOR, EXITED, RETURNED], np.int8), N)
    exit_year = np.where(status == EXITED, rng.integers(2015, YEAR + 1, N), 0).astype(np.int16)
    needs = rng.random(N) < 0.8
    size = rng.integers(1, 9, N).astype(np.int8)
    hh_id = rng.permutation(N).astype(np.int32) + 10**6
    row = rng.random(N).astype(np.float32) * 100
    return county, start, status, exit_year, needs, size, hh_id, row


@pytest.mark.parametrize("declared", DECLARED)
@pytest.mark.parametrize("hazard", [0.0, 0.2])
@pytest.mark.parametrize("limits", [(-np.inf, -np.inf), (2015.0, 2016.0)])
@pytest.mark.parametrize("fraction", [False, True])
def test_one_pass_is_the_chain_of_passes(four_threads, monkeypatch, declared, hazard, limits,
                                         fraction):
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    county, start, status, exit_year, needs, size, hh_id, row = households()
    income = DECLARED[declared]
    frac = (np.random.default_rng(1).random(COUNTIES).astype(np.float32) if fraction
            else np.zeros(0, np.float32))
    got_start, got_row = start.copy(), row.copy()
    ref_start, ref_row = start.copy(), row.copy()
    marks = np.random.default_rng(2).integers(0, 32, N).astype(np.uint8) & np.uint8(0b11101)
    got_marks, ref_marks = marks.copy(), marks.copy()
    guarantees = np.random.default_rng(4).integers(0, 16, N).astype(np.uint8)
    got_guarantees, ref_guarantees = guarantees.copy(), guarantees.copy()
    oldest, last_exit = limits
    rest = (needs, hh_id, 77, hazard, income, np.float32(0.9), frac, size)
    got, got_reached = income_step(group_starts(county, COUNTIES), got_start, YEAR, oldest,
                                   status, exit_year, last_exit, *rest, got_row, got_marks,
                                   np.uint8(2), got_guarantees)
    ref, ref_reached = income_step_numpy(county, COUNTIES, ref_start, YEAR, oldest, status,
                                         exit_year, last_exit, *rest, ref_row, ref_marks,
                                         np.uint8(2), ref_guarantees)
    np.testing.assert_array_equal(got_start, ref_start)
    np.testing.assert_array_equal(got_row, ref_row)
    np.testing.assert_array_equal(got_marks, ref_marks)
    np.testing.assert_array_equal(got_guarantees, ref_guarantees)
    # the bit is set for the active households, and no other bit changes
    assert np.count_nonzero(got_marks & 2) == got.households.sum()
    np.testing.assert_array_equal(got_marks & np.uint8(0b11101), marks)
    np.testing.assert_array_equal(got.households, ref.households)
    np.testing.assert_array_equal(got.people, ref.people)
    assert got_reached == ref_reached
    assert got_reached > 1000 and (got_row != row).sum() == got_reached
    assert ((got_guarantees != guarantees).sum() > 1000) == bool(income.bits)
    if income.costs_amount:
        np.testing.assert_array_equal(got.cost, ref.cost)
        assert got.cost[0] > 0 and got.cost[4] == 0
    else:
        assert got.cost is None and ref.cost is None
    if income.later_added:  # it reached some households, marked ones alone
        plain = row.copy()
        income_step_numpy(county, COUNTIES, start.copy(), YEAR, oldest, status, exit_year,
                          last_exit, *rest[:4], replace(income, later_added=0.0), *rest[5:],
                          plain, marks.copy(), np.uint8(2), guarantees.copy())
        added = got_row != plain
        assert added.sum() > 100 and (income.later_who[added] != 0).all()
    if hazard:  # some enrolments failed, and only from their second year
        failed = (got_start < 0) & (start > 0)
        assert failed.any() and (start[failed] < YEAR).all()
    assert got.households[-2:].sum() == 0 and got.households[4] == 0  # the empty counties


@pytest.mark.parametrize("declared", DECLARED)
def test_a_fresh_row_is_written_whole_as_if_zeroed(four_threads, monkeypatch, declared):
    """On a row holding an earlier year's income (``fresh``), the step
    writes every household's value: what it writes on the row zeroed."""
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    county, start, status, exit_year, needs, size, hh_id, _ = households()
    income = DECLARED[declared]
    stale = (np.random.default_rng(6).random(N) * 900 + 1).astype(np.float32)
    results = []
    for held, fresh in ((stale, True), (np.zeros(N, np.float32), False)):
        got_row = held.copy()
        counted, reached = income_step(
            group_starts(county, COUNTIES), start.copy(), YEAR, 2015.0, status, exit_year,
            2016.0, needs, hh_id, 77, 0.2, income, np.float32(0.9),
            np.zeros(0, np.float32), size, got_row, np.zeros(N, np.uint8), np.uint8(2),
            np.zeros(N, np.uint8), fresh=fresh)
        results.append((got_row, counted.households, reached))
    (fresh_row, fresh_counts, fresh_reached), (zeroed_row, counts, reached) = results
    np.testing.assert_array_equal(fresh_row, zeroed_row)
    np.testing.assert_array_equal(np.signbit(fresh_row), np.signbit(zeroed_row))
    np.testing.assert_array_equal(fresh_counts, counts)
    assert fresh_reached == reached and 1000 < reached < N - 1000  # some not reached


def test_a_run_with_rows_left_stale_is_the_run_zeroing_them(monkeypatch):
    """The rows of programme income left holding last year's income (each
    year's first step writes them whole, or zeroes them first) give the run
    that zeroes them at the start of every year, with rows first written by
    a step of one pass and by a list's additions (relocation)."""
    from model.engine import sim as sim_module
    from model.engine.rows import zero_rows

    scenario = load_scenario("xiangxi")
    reg = registry_for(scenario)
    params = scenario.params_for(0)
    components = sim_module.Simulation._components
    stale_seen = []

    def zeroing(self, ctx, k, new):
        st = self.state
        stale_seen.append(st.batch_written.copy())
        zero_rows(st.batch_income, np.flatnonzero(st.batch_stale | st.batch_written))
        st.batch_stale[:] = False
        st.batch_written[:] = False
        return components(self, ctx, k, new)

    runs = []
    for eager in (False, True):
        if eager:
            monkeypatch.setattr(sim_module.Simulation, "_components", zeroing)
        sim = Simulation(reg, params, seed=2, end_year=2020,
                         programmes=instances(scenario.programmes), scale=scenario.scale)
        sim.run()
        runs.append(sim)
    lazy, eager = runs
    # the production, relocation and education rows had income to leave stale
    rows = np.array(stale_seen)
    assert rows[:, [0, 1, 3]].sum(axis=0).min() >= 3
    for field in ("sums", "median", "programme", "batch_exits", "batch_reached"):
        np.testing.assert_array_equal(getattr(lazy.record, field),
                                      getattr(eager.record, field), err_msg=field)
    np.testing.assert_array_equal(lazy.state.income, eager.state.income)
    written = lazy.state.batch_written
    np.testing.assert_array_equal(lazy.state.batch_income[written],
                                  eager.state.batch_income[written])


def guarantees_state(rng):
    """The state a grant's step sets: guarantees and a flag."""
    return SimpleNamespace(guarantees=rng.integers(0, 16, N).astype(np.uint8),
                           medical_cover=(rng.random(N) < 0.1).astype(np.uint8))


def copied(st):
    return SimpleNamespace(**{k: v.copy() for k, v in vars(st).items()})


@pytest.mark.parametrize("declared", ["bits", "bits and flag", "with recurring cost"])
@pytest.mark.parametrize("hazard", [0.0, 0.2])
@pytest.mark.parametrize("limits", [(-np.inf, -np.inf), (2015.0, 2016.0)])
def test_one_pass_grant_is_the_chain_of_passes(four_threads, monkeypatch, declared, hazard,
                                               limits):
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    county, start, status, exit_year, needs, size, hh_id, _ = households()
    rng = np.random.default_rng(3)
    ill = rng.integers(0, 4, N).astype(np.int8)
    # amounts whose sums depend on their order
    lookup = Lookup((rng.random(21) * 977).astype(np.float32), ill,
                    (rng.random(21) * 313).astype(np.float32), size)
    grant = {"bits": Grant(HOUSING), "bits and flag": Grant(MEDICAL, flag="medical_cover"),
             "with recurring cost": Grant(MEDICAL, "medical_cover", lookup)}[declared]
    got_st = guarantees_state(rng)
    ref_st, before = copied(got_st), copied(got_st)
    got_start, ref_start = start.copy(), start.copy()
    oldest, last_exit = limits
    rest = (needs, hh_id, 77, hazard, grant)
    got = grant_step(group_starts(county, COUNTIES), got_start, YEAR, oldest, status, exit_year,
                     last_exit, *rest, got_st, size)
    ref = grant_step_numpy(county, COUNTIES, ref_start, YEAR, oldest, status, exit_year,
                           last_exit, *rest, ref_st, size)
    np.testing.assert_array_equal(got_start, ref_start)
    np.testing.assert_array_equal(got_st.guarantees, ref_st.guarantees)
    np.testing.assert_array_equal(got_st.medical_cover, ref_st.medical_cover)
    np.testing.assert_array_equal(got.households, ref.households)
    np.testing.assert_array_equal(got.people, ref.people)
    assert (got_st.guarantees != before.guarantees).sum() > 1000
    assert ((got_st.medical_cover != before.medical_cover).sum() > 1000) == (grant.flag is not None)
    if grant.recurring is None:
        assert got.cost is None and ref.cost is None
    else:
        np.testing.assert_array_equal(got.cost, ref.cost)
        assert got.cost[0] > 0 and got.cost[4] == 0


@pytest.mark.parametrize("hazard", [0.0, 0.2])
@pytest.mark.parametrize("limits", [(-np.inf, -np.inf), (2015.0, 2016.0)])
def test_one_pass_floor_is_the_chain_of_passes(four_threads, monkeypatch, hazard, limits):
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    county, start, status, exit_year, needs, size, hh_id, _ = households()
    rng = np.random.default_rng(6)
    floor = Floor((rng.random(COUNTIES) * 3000 + 1000).astype(np.float32))
    level = np.where(rng.random(N) < 0.3, np.float32(123.0), np.float32(0.0))
    marks = rng.integers(0, 32, N).astype(np.uint8) & np.uint8(0b01111)
    got_level, ref_level, got_marks, ref_marks = level.copy(), level.copy(), marks.copy(), marks.copy()
    got_start, ref_start = start.copy(), start.copy()
    oldest, last_exit = limits
    rest = (needs, hh_id, 77, hazard, floor)
    got = floor_step(group_starts(county, COUNTIES), got_start, YEAR, oldest, status, exit_year,
                     last_exit, *rest, got_level, size, got_marks, np.uint8(16))
    ref = floor_step_numpy(county, COUNTIES, ref_start, YEAR, oldest, status, exit_year,
                           last_exit, *rest, ref_level, size, ref_marks, np.uint8(16))
    np.testing.assert_array_equal(got_start, ref_start)
    np.testing.assert_array_equal(got_level, ref_level)
    np.testing.assert_array_equal(got_marks, ref_marks)
    np.testing.assert_array_equal(got.households, ref.households)
    np.testing.assert_array_equal(got.people, ref.people)
    assert got.cost is None
    # the households reached have their county's standard; they are counted,
    # and fewer than the active ones (marked)
    reached = got_level != level
    assert reached.sum() > 1000
    np.testing.assert_array_equal(got_level[reached], floor.standard[county[reached]])
    assert got.households.sum() >= reached.sum()
    assert np.count_nonzero(got_marks & 16) > got.households.sum()


@pytest.mark.parametrize("hazard", [0.0, 0.2])
def test_a_fresh_floor_is_written_whole_as_if_zeroed(four_threads, monkeypatch, hazard):
    """On levels holding last year's floors (``fresh``), the floor step
    writes every household's: what it writes on levels zeroed."""
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    county, start, status, exit_year, needs, size, hh_id, _ = households()
    rng = np.random.default_rng(6)
    floor = Floor((rng.random(COUNTIES) * 3000 + 1000).astype(np.float32))
    results = []
    for level, fresh in (((rng.random(N) * 4000).astype(np.float32), True),
                         (np.zeros(N, np.float32), False)):
        marks = np.zeros(N, np.uint8)
        counted = floor_step(group_starts(county, COUNTIES), start.copy(), YEAR, 2015.0,
                             status, exit_year, 2016.0, needs, hh_id, 77, hazard, floor, level,
                             size, marks, np.uint8(16), fresh=fresh)
        results.append((level, marks, counted.households))
    (fresh_level, fresh_marks, fresh_counts), (level, marks, counts) = results
    np.testing.assert_array_equal(fresh_level, level)
    np.testing.assert_array_equal(np.signbit(fresh_level), np.signbit(level))
    np.testing.assert_array_equal(fresh_marks, marks)
    np.testing.assert_array_equal(fresh_counts, counts)
    assert 1000 < np.count_nonzero(level) < N - 1000  # some reached, some not


def test_a_run_with_the_floor_left_stale_is_the_run_zeroing_it(monkeypatch):
    """Last year's floors left in place until the year's floor step writes
    every household's give the run that zeroes them first; without a floor
    programme, the year ends with no floor at all."""
    from model.programmes import base

    scenario = load_scenario()
    reg = registry_for(scenario)
    floor_step_ = base.floor_step

    def zeroing(*args):
        level, fresh = args[12], args[-1]
        if fresh:
            level[:] = 0.0
        return floor_step_(*args[:-1], False)

    runs = []
    for eager in (False, True):
        if eager:
            monkeypatch.setattr(base, "floor_step", zeroing)
        sim = Simulation(reg, scenario.params, seed=2, end_year=2020, programmes=instances())
        sim.run()
        runs.append(sim)
    lazy, eager = runs
    for field in ("sums", "median", "programme", "batch_exits", "batch_reached"):
        np.testing.assert_array_equal(getattr(lazy.record, field),
                                      getattr(eager.record, field), err_msg=field)
    np.testing.assert_array_equal(lazy.state.floor, eager.state.floor)
    assert np.count_nonzero(lazy.state.floor) > 100
    # no floor programme: the base year's floors are gone from the first year
    without = [name for name in scenario.programmes if name != "safety_net"]
    sim = Simulation(reg, scenario.params, seed=2, end_year=2016, programmes=instances(without))
    sim._record_base_year()
    assert np.count_nonzero(sim.state.floor) > 100
    sim.step(2016)
    assert not sim.state.floor.any() and not sim.state.floor_stale


def test_the_line_of_a_household_ignores_last_years_floor_until_this_years():
    """Between the start of the year's steps and its floor step, a
    household is judged against the line, not last year's cover."""
    from model.engine.context import Context, YearParams

    scenario = load_scenario()
    sim = Simulation(registry_for(scenario), scenario.params, seed=2, end_year=2016,
                     programmes=instances())
    sim._record_base_year()
    st = sim.state
    ctx = Context(sim.reg, st, YearParams(scenario.params, 2016), 2, 4000.0, 3000.0)
    covered = st.floor > 0
    assert covered.sum() > 100
    assert (ctx.household_line()[covered] == 3000.0).all()
    st.floor_stale = True
    assert (ctx.household_line() == 4000.0).all()
    assert (ctx.household_line(np.flatnonzero(covered)) == 4000.0).all()


def test_floor_costs_are_the_record_of_the_reached(four_threads, monkeypatch):
    """The top-ups summed over every household, county by county, are the
    record's sums over the reached households: the others' top-up is 0."""
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    county, _, _, _, _, size, _, _ = households()
    rng = np.random.default_rng(7)
    reached = rng.random(N) < 0.4
    # amounts whose sums depend on their order; some reached are paid nothing
    topup = np.where(reached & (rng.random(N) < 0.8),
                     (rng.random(N) * 2000).astype(np.float32), np.float32(0.0))
    got = floor_costs(group_starts(county, COUNTIES), topup, size)
    ref = floor_costs_numpy(county, COUNTIES, np.flatnonzero(reached), topup, size)
    np.testing.assert_array_equal(got, ref)
    assert got[0] > 0 and got[4] == 0 and got[-1] == 0


def test_four_pieces_of_whole_counties(four_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    county = households()[0]
    starts = group_starts(county, COUNTIES)
    pieces = group_pieces(starts)
    assert len(pieces) == 5 and pieces[0] == 0 and pieces[-1] == COUNTIES
    sizes = np.diff(starts[pieces])
    assert sizes.sum() == N and sizes.min() > N / 4 - 2 * N / COUNTIES


@pytest.mark.parametrize("weight", [3000.0, 0.1, 2.0**50 + 1.0, -7.0])
def test_repeated_sums_add_one_at_a_time(weight):
    counts = np.array([0.0, 1.0, 7.0, 1000.0, 12345.0])
    got = np.zeros(5)
    repeated_sums(weight, counts, got)
    ref = np.zeros(5)
    for g, c in enumerate(counts):
        for _ in range(int(c)):
            ref[g] += weight
    np.testing.assert_array_equal(got, ref)
    assert np.signbit(got[0]) == np.signbit(0.0)


@pytest.mark.parametrize("amount", [5000.0, 1234.567, 2.0**45 + 1.0, -3.0])
def test_a_cost_by_members_is_each_household_added_in_order(amount):
    """A one-off cost by members (PerMember) is summed by county as the
    record adds each new household's amount times its members, bit for
    bit: by the members where that is exact, household by household
    otherwise (1234.567 a member: the additions' roundings show; 2**45 + 1:
    the sums pass 2**53)."""
    reg = synthetic(20_000, n_counties=7, seed=4)
    sim = Simulation(reg, Parameters.load(), seed=2, end_year=reg.base_year + 1,
                     programmes=instances())
    h = reg.households
    # three in ten households of every county but one
    new = np.flatnonzero((np.random.default_rng(3).random(reg.n_households) < 0.3)
                         & (h["county"] != 4))
    prog = next(p for p in sim.programmes if p.name == "asset_income")
    got = sim._per_member(prog, new, amount)
    ref, counts, people = np.zeros(reg.n_counties), np.zeros(reg.n_counties), np.zeros(0)
    coverage_at_numpy(h["county"], new, amount * h["size"][new].astype(np.float64),
                      np.zeros(0, np.int8), counts, ref, people)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(ref))  # no -0.0 for none
    assert (counts > 0).sum() > 2 and (counts == 0).any()
    by_members = amount * np.bincount(h["county"][new], weights=h["size"][new],
                                      minlength=reg.n_counties)
    exact = amount == int(amount) and abs(amount) * h["size"][new].sum() < 2.0**53
    assert exact == (by_members == ref).all(), "the data must tell the two ways apart"


def test_a_cost_by_members_is_refused_for_villages():
    scenario = load_scenario()
    sim = Simulation(registry_for(scenario), scenario.params, seed=2, end_year=2016,
                     programmes=instances())
    prog = next(p for p in sim.programmes if p.level == "village")
    with pytest.raises(TypeError, match="household programme"):
        sim._per_member(prog, np.arange(3), 100.0)


@pytest.mark.parametrize("overlay", [{"delivery.enabled": 0}, {"delivery.enabled": 1},
                                     {"targeting.uniform": 1}])
def test_run_with_one_pass_steps_is_the_run_without(monkeypatch, overlay):
    """Programmes declaring their income give the same record and state
    whether their step runs as one pass or as the chain of passes (no
    county starts: households taken as not stored county by county); with
    uniform targeting, some active households do not need the income."""
    from model.engine import sim as sim_module
    from model.programmes import base

    scenario = load_scenario()
    reg = registry_for(scenario)
    params = scenario.params.with_overlay(overlay, "test")
    passes = []

    def counting(name):
        step = getattr(base, name)

        def counted(*args):
            passes.append(name)
            return step(*args)
        return counted

    for name in ("income_step", "grant_step", "floor_step"):
        monkeypatch.setattr(base, name, counting(name))
    runs, starts = [], sim_module.group_starts
    for one_pass in (True, False):
        if not one_pass:
            monkeypatch.setattr(sim_module, "group_starts",
                                lambda group, n: None if len(group) == reg.n_households
                                else starts(group, n))
        sim = Simulation(reg, params, seed=2, end_year=2020, programmes=instances())
        sim.run()
        runs.append(sim)
    assert passes.count("income_step") >= 5 and passes.count("grant_step") >= 5
    assert passes.count("floor_step") >= 5
    with_pass, without = runs
    for field in ("sums", "median", "programme", "delivery", "batch_exits", "batch_reached"):
        np.testing.assert_array_equal(getattr(with_pass.record, field),
                                      getattr(without.record, field), err_msg=field)
    np.testing.assert_array_equal(with_pass.state.income, without.state.income)
    for name, start in with_pass.state.enrolled.items():
        np.testing.assert_array_equal(start, without.state.enrolled[name], err_msg=name)


def test_a_declared_ramp_gets_its_years_whatever_reads_years_says(monkeypatch):
    """The chain of passes computes the years since enrolment for an income
    that depends on them, even when the class says its effect reads none:
    the run is the one-pass run."""
    from model.engine import sim as sim_module
    from model.engine.context import YearParams
    from model.programmes.measures import IndustrySupport

    scenario = load_scenario()
    reg = registry_for(scenario)
    assert YearParams(scenario.params, 2016)("industry.ramp") > 1  # it ramps up
    runs, starts = [], sim_module.group_starts
    for one_pass in (True, False):
        if not one_pass:
            monkeypatch.setattr(IndustrySupport, "reads_years", False)
            monkeypatch.setattr(sim_module, "group_starts",
                                lambda group, n: None if len(group) == reg.n_households
                                else starts(group, n))
        sim = Simulation(reg, scenario.params, seed=6, end_year=2020, programmes=instances())
        sim.run()
        runs.append(sim)
    np.testing.assert_array_equal(runs[0].record.programme, runs[1].record.programme)
    np.testing.assert_array_equal(runs[0].state.income, runs[1].state.income)


def test_an_amount_added_never_reaches_anyone_without_its_year():
    """``later_added`` without ``later_from`` is never received, and the
    income then does not depend on the years (none are computed)."""
    income = Income(100.0, later_added=50.0, later_who=UPPER)
    assert not income.reads_years
    assert len(income.later_reached(None, np.arange(N))) == 0
    dated = Income(100.0, later_from=1.0, later_added=50.0, later_who=UPPER)
    years_in = np.full(N, 2, np.int16)
    np.testing.assert_array_equal(dated.later_reached(years_in, np.arange(N)),
                                  np.flatnonzero(UPPER))
