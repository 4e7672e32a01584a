"""The yearly loop: reproducibility, conservation and common random numbers."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from model.engine.codes import EXITED, POOR, RETURN, RETURNED
from model.engine.context import YearParams
from model.engine.rules import lines_for
from model.engine.sim import Simulation
from model.engine.tally import median_from_hist_numpy, tally_numpy
from model.engine.tally_columns import COL
from model.params import Parameters
from model.programmes.measures import instances
from model.registry.synth import synthetic
from model.registry.tables import CATEGORIES
from model.runs import registry_for, run_seed
from model.scenario import load_scenario

DIGEST_SCRIPT = textwrap.dedent("""
    import hashlib, sys
    from model.params import Parameters
    from model.engine.sim import Simulation
    from model.programmes.measures import instances
    from model.registry.synth import synthetic
    reg = synthetic(200_000, n_counties=13, seed=1)
    sim = Simulation(reg, Parameters.load(), seed=3, end_year=2020, programmes=instances())
    rec = sim.run()
    h = hashlib.sha256()
    for a in (rec.sums, rec.median, rec.median_all, rec.programme, sim.state.income,
              sim.state.status, sim.state.z):
        h.update(a.tobytes())
    from model.engine.threads import threads
    print(threads(), h.hexdigest())
""")


def _digest(threads: int) -> tuple[str, str]:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", DIGEST_SCRIPT], env=env, capture_output=True,
                         text=True, check=True)
    n, digest = out.stdout.split()
    return n, digest


def test_bit_identical_for_one_and_two_threads():
    n1, d1 = _digest(1)
    n2, d2 = _digest(2)
    assert (n1, n2) == ("1", "2")
    assert d1 == d2


def _run_all(sim):
    sim._record_base_year()
    incomes = []
    for year in range(sim.base_year + 1, sim.end_year + 1):
        sim.step(year)
        incomes.append(sim.state.income.copy())
    return np.array(incomes)


def test_bit_identical_for_any_chunk_size():
    reg = synthetic(50_000, n_counties=5, seed=2)
    params = Parameters.load()
    results = []
    for chunk in (None, 7_919, 1_000):
        sim = Simulation(reg, params, seed=11, end_year=2019, programmes=instances(), chunk_size=chunk)
        incomes = _run_all(sim)
        results.append((incomes, sim.record.sums, sim.record.median, sim.record.median_all,
                        sim.state.status.copy()))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_each_years_medians_are_of_that_years_incomes_alone():
    """The tally's histogram is one table for every year, left zero by the
    medians: each year's medians are those of its own histogram, built again
    from the year's state by the numpy reference."""
    reg = synthetic(30_000, n_counties=4, seed=6)
    sim = Simulation(reg, Parameters.load(), seed=2, end_year=2018, programmes=instances())
    sim._record_base_year()
    h, rec = reg.households, sim.record
    for year in range(sim.base_year + 1, sim.end_year + 1):
        sim.step(year)
        k = year - sim.base_year
        line, covered = lines_for(YearParams(sim.params, year))
        st = sim.state
        _, hist = tally_numpy(h["county"], h["category"], h["size"], st.income, st.floor,
                              st.status, st.event, np.float32(line), np.float32(covered),
                              len(CATEGORIES), sim.n_groups)
        np.testing.assert_array_equal(rec.median[k].reshape(-1),
                                      median_from_hist_numpy(hist, line))
        assert rec.median_all[k] == median_from_hist_numpy(hist.sum(axis=0), line)
        assert not np.isnan(rec.median_all[k])


def test_a_run_without_programmes():
    """Income growth and verification alone: the record has no programme
    columns, and every year's tally."""
    reg = synthetic(5_000, n_counties=2, seed=1)
    rec = Simulation(reg, Parameters.load(), seed=1, end_year=2017, programmes=[]).run()
    assert rec.programme.shape[2] == rec.delivery.shape[2] == 0
    assert (rec.sums[..., COL["registered_people"]].sum(axis=(1, 2)) > 0).all()


def test_same_seed_same_numbers_different_seed_different_numbers():
    scenario = load_scenario()
    a = run_seed(scenario, 4)
    b = run_seed(scenario, 4)
    c = run_seed(scenario, 5)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert not np.array_equal(a["registered_people"].values, c["registered_people"].values)


def test_every_household_in_exactly_one_status_every_year():
    scenario = load_scenario()
    reg = registry_for(scenario)
    sim = Simulation(reg, scenario.params, seed=1, end_year=2020, programmes=instances())
    sim._record_base_year()
    for year in range(2016, 2021):
        sim.step(year)
        st = sim.state.status
        assert np.isin(st, (POOR, EXITED, RETURNED)).all()
        assert (st == POOR).sum() + (st == EXITED).sum() + (st == RETURNED).sum() == reg.n_households
    sums = sim.record.sums.sum(axis=(1, 2))
    hh = sums[:, COL["households"]]
    assert (hh == reg.n_households).all()
    np.testing.assert_array_equal(
        sums[:, COL["registered_households"]] + sums[:, COL["exited_households"]], hh)
    np.testing.assert_array_equal(
        sums[:, COL["registered_people"]] + sums[:, COL["exited_people"]], reg.n_people)
    # stocks move by the flows: exited(t) = exited(t-1) + exits(t) - returns(t)
    exited = sums[:, COL["exited_households"]]
    np.testing.assert_array_equal(exited[1:], exited[:-1] + sums[1:, COL["exits_households"]]
                                  - sums[1:, COL["returns_households"]])
    assert sums[0, COL["registered_households"]] == reg.n_households


@pytest.mark.parametrize("delivery", [0, 1])
def test_ever_started_lists_every_enrolment_in_effect_while_it_is_kept(delivery):
    """The list a programme's step reads instead of the whole registry holds
    exactly the households whose enrolment has taken effect (not a delivery
    backlog's), or is dropped past the programme's share of the registry."""
    scenario = load_scenario()
    reg = registry_for(scenario)
    params = scenario.params.with_overlay({"delivery.enabled": delivery}, "test")
    sim = Simulation(reg, params, seed=1, end_year=2020, programmes=instances())
    sim._record_base_year()
    share = {prog.name: prog.list_share() for prog in sim.programmes}
    kept, waiting = set(), 0
    for year in range(2016, 2021):
        sim.step(year)
        for name, start in sim.state.enrolled.items():
            ever = sim.state.ever_started[name]
            waiting += np.count_nonzero(start > year)
            if ever is None:
                assert (np.count_nonzero((start != 0) & (start <= year))
                        >= share[name] * reg.n_households)
            else:
                kept.add(name)
                np.testing.assert_array_equal(ever, np.flatnonzero((start != 0) & (start <= year)))
    assert len(kept) >= 3  # the list is in use
    assert (waiting > 0) == bool(delivery)  # with delivery, some wait in a backlog


def test_poorest_first_among_many_reads_only_the_poorest_and_enrols_the_same(monkeypatch):
    """At the national scenario's 1 % (more households than four samples,
    here enough to take the way), poorest-first targeting of a small
    capacity lists only the candidates below a sampled income bound, for
    capacities in households and in people; every enrolment, and so the
    whole record, is the same as when it lists every candidate."""
    import dataclasses

    import model.programmes.base as base

    scenario = dataclasses.replace(load_scenario("national"), scale=0.01)
    reg = registry_for(scenario)
    poorest, used = base.poorest_candidates, []

    def counting(ctx, start, matched, capacity, unit):
        few = poorest(ctx, start, matched, capacity, unit)
        used.append(unit if few is not None else None)
        return few

    def run():
        sim = Simulation(reg, scenario.params_for(3), 3, scenario.end_year,
                         instances(scenario.programmes), scale=scenario.scale)
        return sim, sim.run()

    monkeypatch.setattr(base, "POOREST_FROM", 4 * base.SAMPLE)
    monkeypatch.setattr(base, "poorest_candidates", counting)
    fast, fast_record = run()
    assert {"households", "people"} <= set(used)
    monkeypatch.setattr(base, "poorest_candidates", lambda *args: None)
    full, full_record = run()
    for name, start in full.state.enrolled.items():
        np.testing.assert_array_equal(fast.state.enrolled[name], start)
    np.testing.assert_array_equal(fast_record.programme, full_record.programme)
    np.testing.assert_array_equal(fast_record.sums, full_record.sums)


def test_a_step_in_one_pass_keeps_a_shorter_list():
    """A programme whose step runs in one pass over the registry (a floor,
    an income, a grant of guarantees alone) reads the list of its
    households only while they are under a thirty-second of the registry;
    one applying its effect to a list of households, under an eighth."""
    share = {prog.name: prog.list_share() for prog in instances()}
    assert share["safety_net"] == share["rangers"] == share["medical"] == 1 / 32
    assert share["relocation"] == share["village_pv"] == 1 / 8


def test_exits_reached_are_each_programmes_rule_at_exit(monkeypatch):
    """The people of exiting households each pathway reached, by county,
    are those each programme's own rule gives at the year's end: a
    household programme for the household, a village programme for its
    village."""
    from model.engine.codes import BATCHES, EXIT

    scenario = load_scenario()
    reg = registry_for(scenario)
    h = reg.households
    record_exits, checked, by_villages = Simulation._record_exits, [], []

    def checking(self, ctx, k):
        record_exits(self, ctx, k)
        exits = np.flatnonzero(self.state.event == EXIT)
        expected = np.zeros((reg.n_counties, len(BATCHES)))
        for b, pathway in enumerate(BATCHES):
            hit = np.zeros(len(exits), bool)
            for prog in self.programmes:
                if prog.batch == pathway:
                    village_level = prog.level == "village"
                    mine = prog.is_active(ctx, h["village"][exits] if village_level else exits)
                    by_villages.append(np.count_nonzero(mine) if village_level else 0)
                    hit |= mine
            expected[:, b] = np.bincount(h["county"][exits[hit]],
                                         weights=h["size"][exits[hit]].astype(np.float64),
                                         minlength=reg.n_counties)
        np.testing.assert_array_equal(self.record.batch_reached[k], expected)
        checked.append(expected.sum(axis=0))

    monkeypatch.setattr(Simulation, "_record_exits", checking)
    # village stations for about a third of the villages a year
    params = scenario.params.with_overlay({"village_pv.capacity": len(reg.villages["village_id"])
                                           / 3 / scenario.scale}, "test")
    Simulation(reg, params, seed=4, end_year=2020, programmes=instances(),
               scale=scenario.scale).run()
    # several pathways reached exits, and village programmes some of them
    assert len(checked) == 5 and (np.sum(checked, axis=0) > 0).sum() >= 3
    assert sum(by_villages) > 100


@pytest.mark.parametrize("overlay", [{}, {"delivery.enabled": 1}, {"targeting.uniform": 1},
                                     {"safety_net.means_test": 1},
                                     {"industry.hazard": 0.5, "asset_income.duration": 1,
                                      "photovoltaic.capacity": 0, "transfer_employment.capacity": 0}])
def test_pathways_marked_by_the_steps_are_each_programmes_rule_at_exit(monkeypatch, overlay):
    """The pathways the household programmes mark as they step
    (State.reached) are, for every exiting household, those each
    programme's own rule gives at the year's end."""
    from model.engine.codes import BATCHES, EXIT

    scenario = load_scenario()
    reg = registry_for(scenario)
    params = scenario.params.with_overlay(overlay, "test") if overlay else scenario.params
    record_exits, checked = Simulation._record_exits, []

    def checking(self, ctx, k):
        exits = np.flatnonzero(self.state.event == EXIT)
        expected = np.zeros(len(exits), np.uint8)
        for prog in self.programmes:
            if prog.level == "household" and prog.batch in BATCHES:
                expected[prog.is_active(ctx, exits)] |= np.uint8(1 << BATCHES.index(prog.batch))
        np.testing.assert_array_equal(self.state.reached[exits], expected)
        checked.append(np.count_nonzero(expected))
        record_exits(self, ctx, k)

    monkeypatch.setattr(Simulation, "_record_exits", checking)
    Simulation(reg, params, seed=4, end_year=2020, programmes=instances()).run()
    assert len(checked) == 5 and sum(checked) > 100


@pytest.mark.parametrize("uniform", [0, 1])
def test_kept_candidates_enrol_as_a_pass_over_the_registry(uniform, monkeypatch):
    """Candidates found among last year's and the households that came onto
    the registry since are those a pass over the registry finds: every
    enrolment and every recorded number is the same."""
    from model.programmes import base

    scenario = load_scenario()
    reg = registry_for(scenario)
    # yearly registry adjustments, so that households come onto the registry
    params = scenario.params.with_overlay({"targeting.uniform": uniform,
                                           "registry_adjustment_interval": 1}, "test")
    among = base.candidates_among
    listed = []

    def counted(units, *args):
        found = among(units, *args)
        listed.append((len(units), len(found)))
        return found

    monkeypatch.setattr(base, "candidates_among", counted)
    kept = Simulation(reg, params, seed=3, end_year=2020, programmes=instances())
    kept.run()
    came_on = np.count_nonzero(kept.state.event >= RETURN)  # returns and entries
    monkeypatch.setattr(base.Programme, "_candidates", lambda self, ctx, matched, *rest: (
        base.candidate_indices(ctx.st.enrolled[self.name], ctx.st.status, matched), True))
    whole = Simulation(reg, params, seed=3, end_year=2020, programmes=instances())
    whole.run()
    assert came_on > 0 and len(listed) >= 5 and any(found for _, found in listed)
    for name, start in kept.state.enrolled.items():
        np.testing.assert_array_equal(start, whole.state.enrolled[name], err_msg=name)
    for field in ("sums", "programme", "delivery", "batch_exits"):
        np.testing.assert_array_equal(getattr(kept.record, field), getattr(whole.record, field))


@pytest.mark.parametrize("delivery", [0, 1])
def test_household_untouched_by_a_scenario_change_keeps_its_income_path(delivery):
    scenario = load_scenario()
    reg = registry_for(scenario)
    base = scenario.params.with_overlay({"delivery.enabled": delivery}, "test")
    no_pv = base.with_overlay({"photovoltaic.capacity": 0}, "test")
    sims = [Simulation(reg, params, seed=8, end_year=2020, programmes=instances()) for params in (base, no_pv)]
    paths = [_run_all(sim) for sim in sims]
    same_enrolment = np.ones(reg.n_households, bool)
    for name, start in sims[0].state.enrolled.items():
        same_enrolment &= start == sims[1].state.enrolled[name]
        if delivery and name not in ("safety_net", "medical"):
            # shared work teams: removing PV changes when
            # other programmes take effect, so only entitlements stay equal
            same_enrolment &= start == 0
    untouched = same_enrolment & (sims[0].state.enrolled["photovoltaic"] == 0)
    assert untouched.sum() > (500 if delivery else 1000)  # of 2,944
    np.testing.assert_array_equal(paths[0][:, untouched], paths[1][:, untouched])
    touched = ~untouched
    assert touched.sum() > 100
    assert not np.array_equal(paths[0][:, touched], paths[1][:, touched])


def test_programmes_record_coverage_and_cost():
    scenario = load_scenario()
    ds = run_seed(scenario, 0)
    active = ds["active_households"].sum("county").isel(seed=0)
    backlog = ds["delivery_backlog"].sum("county").isel(seed=0)
    # every labour household: in effect in 2016 or carried to 2017
    assert int(active.sel(programme="asset_income", year=2016)
               + backlog.sel(programme="asset_income", year=2016)) == 1530
    new = ds["new_households"].sum(["county", "year"]).isel(seed=0)
    assert int(new.sel(programme="housing")) == 1398  # every unsafe house is fixed
    cost = ds["cost"].sum("county").isel(seed=0)
    # photovoltaic cost = unit cost x stations taking effect
    pv_new = ds["delivery_in_effect"].sum("county").isel(seed=0).sel(programme="photovoltaic")
    assert float(pv_new.sum()) > 0
    np.testing.assert_allclose(cost.sel(programme="photovoltaic"),
                               pv_new * scenario.params.scalar("photovoltaic.cost", 2016))
    assert float(cost.sel(programme="safety_net", year=2016)) > 0


def test_transfer_income_follows_the_pension_of_each_year():
    """The basic pension is computed into the state only when it changes:
    every year's transfer income is that year's pension per capita."""
    from model.engine.bookkeeping import per_capita_numpy

    reg = synthetic(5_000, n_counties=3, seed=2)
    pension = {"2014": 840, "2017": 1200, "2019": 900}
    params = Parameters.load().with_overlay({"pension_basic": pension}, "test")
    sim = Simulation(reg, params, seed=1, end_year=2020, programmes=instances())
    sim._record_base_year()
    h = reg.households
    assert h["elderly"].sum() > 0
    for year in range(reg.base_year + 1, 2021):
        sim.step(year)
        amount = [v for y, v in sorted(pension.items()) if int(y) <= year][-1]
        np.testing.assert_array_equal(sim.state.transfer_income,
                                      per_capita_numpy(float(amount), h["elderly"], h["size"]))


@pytest.mark.parametrize("end_year", [2015, 2010])
def test_end_year_must_follow_base_year(end_year):
    reg = synthetic(100)
    with pytest.raises(ValueError, match="end_year"):
        Simulation(reg, Parameters.load(), 0, end_year, instances())


def test_the_initial_state_holds_the_registrys_guarantees_and_status():
    """Each guarantee bit is set where the registry says it holds (schooling:
    no dropout), registered households are poor and the others outside the
    registry, in the state's types."""
    from model.engine.codes import HOUSING, MEDICAL, NOT_REGISTERED, SCHOOLING, WATER
    from model.engine.state import State

    reg = synthetic(5_000, seed=4)
    h = reg.households
    rng = np.random.default_rng(0)
    for flag in ("housing_safe", "water_safe", "insured", "registered"):
        h[flag][:] = rng.integers(0, 2, len(h[flag]))
    h["dropouts"][:] = rng.integers(0, 3, len(h["dropouts"]))
    st = State.initial(reg, ["industry"])
    assert st.guarantees.dtype == np.uint8 and st.status.dtype == np.int8
    expected = (HOUSING * (h["housing_safe"] == 1) + WATER * (h["water_safe"] == 1)
                + SCHOOLING * (h["dropouts"] == 0) + MEDICAL * (h["insured"] == 1))
    np.testing.assert_array_equal(st.guarantees, expected)
    np.testing.assert_array_equal(st.status, np.where(h["registered"] == 1, POOR, NOT_REGISTERED))
    assert len(set(np.unique(st.guarantees))) > 8  # the bits vary independently
