"""Recorded rates and their definitions: the rates a county's exit
assessment checks (错退率 over the year's exits, 漏评率 over the rural people
outside the registry, 贫困县退出专项评估检查, so a county whose poor are nearly
gone is not held back by a ratio of two small counts), and the return rate."""

import dataclasses

import numpy as np

from model import runs
from model.scenario import load_scenario


def test_recorded_rates_follow_the_assessment_definitions():
    scenario = dataclasses.replace(load_scenario("hubei"), scale=0.01, end_year=2018)
    ds = runs.run(scenario, seeds=[0], progress=False).isel(seed=0)
    people = {v: ds[v].sum("category") for v in ("registered_people", "exited_people",
                                                 "missed_people")}
    outside = ds["rural_population"] - people["registered_people"] - people["exited_people"]
    missed = people["missed_people"] / np.maximum(outside, 1)
    exits = ds["exits_households"].sum("category")
    wrong = (ds["wrong_exits_households"].sum("category") / exits.where(exits > 0)).fillna(0)
    later = ds.year > ds.year[0]
    np.testing.assert_allclose(ds["missed_rate"].where(later, 0), missed.where(later, 0),
                               rtol=1e-9)
    np.testing.assert_allclose(ds["wrong_exit_rate"].where(later, 0), wrong.where(later, 0),
                               rtol=1e-9, atol=1e-12)
    # the check saw county-years with missed people
    assert (people["missed_people"].where(later, 0) > 0).sum() > 10


def test_return_rate_is_returns_over_the_exited_of_the_year_before():
    from model.results import totals

    scenario = dataclasses.replace(load_scenario("luoyang"), scale=0.05)
    t = totals(runs.run(scenario, seeds=[0, 1], progress=False))
    rate = t["return_rate"].values
    returns, exited = t["returns_people"].values, t["exited_people"].values
    assert np.isnan(rate[:, 0]).all()                      # the base year has no year before
    later = exited[:, :-1] > 0
    assert later.sum() >= 4 and (returns[:, 1:] > 0).any()
    np.testing.assert_allclose(rate[:, 1:][later], returns[:, 1:][later] / exited[:, :-1][later])
