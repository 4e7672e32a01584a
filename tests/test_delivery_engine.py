"""The engine with in-year delivery (model.engine.sim step 2, model.engine.delivery)."""

from __future__ import annotations

import numpy as np
import pytest

from model.programmes.measures import PROGRAMMES
from model.runs import registry_for, run_seed
from model.scenario import load_scenario

INSTANT = {"delivery.enabled": 1, "delivery.funds_advance_month": 0,
           "delivery.funds_rest_issue_month": 0, "delivery.funds_forward_lag": 0,
           "delivery.approval_per_month": np.inf, "delivery.approval_months": 0,
           "delivery.teams_per_village": np.inf, "delivery.households_per_team_month": np.inf,
           **{f"{c.name}.build_months": 0 for c in PROGRAMMES if not c.entitlement}}
# at least as late as any value the calibrated base can hold (the prior ends at 12)
LATE_FUNDS = {"delivery.funds_advance_month": 9, "delivery.funds_rest_issue_month": 12}


def _run(overlay: dict, seed: int = 0):
    scenario = load_scenario()
    params = scenario.params.with_overlay(overlay, "test")
    scenario = type(scenario)(**{**scenario.__dict__, "params": params})
    return run_seed(scenario, seed, registry_for(scenario))


@pytest.fixture(scope="module")
def default_runs():
    return {seed: _run({}, seed) for seed in (0, 1)}


def test_instant_delivery_equals_no_delivery():
    off, instant = _run({"delivery.enabled": 0}), _run(INSTANT)
    assert float(instant["delivery_backlog"].sum()) == 0
    for name in off.data_vars:
        if name == "delivery_by_month":  # recorded only when the model runs
            continue
        np.testing.assert_array_equal(off[name].values, instant[name].values, err_msg=name)


def test_delivery_delays_assistance_and_changes_results(default_runs):
    on, off = default_runs[0], _run({"delivery.enabled": 0})
    assert float(on["delivery_backlog"].sum()) > 0
    first = on["delivery_household_years"].sel(year=2016).sum()
    assert float(first) < float(on["delivery_in_effect"].sel(year=2016).sum())
    people = [d["registered_people"].sel(year=2016).sum() for d in (on, off)]
    assert float(people[0]) > float(people[1])  # less assistance in effect in 2016


# offices and teams with no practical limit, so that money is what binds
FAST_WORK = {"delivery.approval_per_month": np.inf, "delivery.households_per_team_month": np.inf,
             "delivery.teams_per_village": np.inf}


@pytest.mark.parametrize("seed", [0, 1])
def test_later_funds_never_give_more_exits_in_their_year(default_runs, seed):
    year = 2016  # the first year: funds are the only difference so far
    # at the calibrated defaults (where offices or teams may bind instead of money)
    # later funds never put more in effect, nor give more exits
    base, late = default_runs[seed], _run(LATE_FUNDS, seed)
    assert (late["delivery_in_effect"].sel(year=year) <= base["delivery_in_effect"].sel(year=year)
            ).all()
    exits = [d["exits_people"].sel(year=year).sum() for d in (base, late)]
    assert float(exits[1]) <= float(exits[0])
    # and where money binds, they put strictly less in effect
    base, late = _run(FAST_WORK, seed), _run({**FAST_WORK, **LATE_FUNDS}, seed)
    assert (late["delivery_in_effect"].sel(year=year) <= base["delivery_in_effect"].sel(year=year)
            ).all()
    assert float(late["delivery_in_effect"].sel(year=year).sum()) < float(
        base["delivery_in_effect"].sel(year=year).sum())
    exits = [d["exits_people"].sel(year=year).sum() for d in (base, late)]
    assert float(exits[1]) <= float(exits[0])


def test_backlog_is_conserved(default_runs):
    ds = default_runs[0].isel(seed=0)
    due, now, later = (ds[v].values for v in ("delivery_due", "delivery_in_effect",
                                              "delivery_backlog"))
    np.testing.assert_array_equal(due, now + later)
    # what is due next year is what was enrolled then plus this year's backlog
    new = ds["new_households"].values
    np.testing.assert_array_equal(due[2:], new[2:] + later[1:-1])
    assert later[1:-1].sum() > 0
    # entitlements are never delayed
    for name in ("safety_net", "medical"):
        assert float(ds["delivery_backlog"].sel(programme=name).sum()) == 0


def test_delivery_is_deterministic_for_a_seed(default_runs):
    again = _run({}, 0)
    for name in again.data_vars:
        np.testing.assert_array_equal(again[name].values, default_runs[0][name].values)


@pytest.mark.parametrize("name", [None, "xiangxi-fewer-teams"])
def test_started_are_the_due_that_take_effect_ascending(name):
    """Each year, per delivered programme, the enrolments taking effect are
    last year's backlog and the new enrolments less the new backlog, in
    ascending order (the state's lists merge them), once each, and hold
    the year as their start; those left waiting hold WAITING (after every
    year), and their counts by county are those the record's one-off costs
    are summed from; in some year both the backlog and the new enrolments
    start. With few work teams, enrolments wait for years: the backlog then holds
    several years' runs, and its first in each county come from more than
    one of them."""
    from model.engine.backlog import WAITING
    from model.engine.sim import Simulation
    from model.programmes.measures import instances

    scenario = load_scenario(name)
    seen = []

    class Watched(Simulation):
        def _deliver(self, ctx, k, new):
            before = {j: self.backlog[j].units() for j in self.delivered}
            started = super()._deliver(ctx, k, new)
            for j in self.delivered:
                due = np.concatenate([before[j], new[j]])
                waiting = self.backlog[j].units()
                expected = np.setdiff1d(due, waiting)
                assert (np.diff(started[j]) > 0).all(), (ctx.year, j)
                np.testing.assert_array_equal(started[j], expected)
                prog = self.programmes[j]
                start = (self.state.village_enrolled if prog.level == "village"
                         else self.state.enrolled)[prog.name]
                assert (start[started[j]] == ctx.year).all()
                # the counts by county the record's one-off costs are summed from
                county = self._county_of(j)
                np.testing.assert_array_equal(
                    np.bincount(county[started[j]], minlength=self.reg.n_counties),
                    self._started_counts[j])
                assert (start[waiting] == WAITING).all()
                seen.append(bool(np.isin(started[j], before[j]).any()
                                 and np.isin(started[j], new[j]).any()))
            return started

    sim = Watched(registry_for(scenario), scenario.params_for(0), 0, scenario.end_year,
                  instances(scenario.programmes), scale=scenario.scale)
    sim.run()
    assert any(seen)


def test_households_not_stored_by_county_give_the_same_delivery():
    """A registry whose households are not stored county by county takes
    the general paths (each enrolment's county read; each year's waiting
    ordered by county): the same households take effect each year as in
    the registry stored by county, the same results."""
    import dataclasses

    from model.engine.sim import Simulation
    from model.programmes.measures import instances

    scenario = load_scenario("xiangxi-fewer-teams")
    reg = registry_for(scenario)
    h = reg.households
    assert (np.diff(h["county"]) >= 0).all()
    # counties interleaved, each county's households in their order
    rank = np.argsort(np.argsort(h["county"], kind="stable"), kind="stable")
    order = np.argsort((rank - np.searchsorted(h["county"], h["county"])) * reg.n_counties
                       + h["county"], kind="stable")
    mixed = dataclasses.replace(reg, households={k: v[order] for k, v in h.items()})
    assert (np.diff(mixed.households["county"]) < 0).any()
    runs = []
    for registry in (reg, mixed):
        sim = Simulation(registry, scenario.params_for(0), 0, scenario.end_year,
                         instances(scenario.programmes), scale=scenario.scale)
        assert (sim._county_starts["household"] is None) == (registry is mixed)
        started = []
        original = sim._deliver

        def watched(ctx, k, new, _original=original, _started=started, _sim=sim):
            out = _original(ctx, k, new)
            assert all((np.diff(s) > 0).all() for s in out)  # ascending, in either order
            ids = _sim.reg.households["hh_id"]
            _started.append([np.sort(ids[s]) if len(s) and _sim.programmes[j].level == "household"
                             else len(s) for j, s in enumerate(out)])
            return out

        sim._deliver = watched
        sim.run()
        runs.append(started)
    for year_a, year_b in zip(*runs):
        for a, b in zip(year_a, year_b):
            np.testing.assert_array_equal(a, b)

