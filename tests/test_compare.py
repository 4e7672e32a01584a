"""Comparing scenarios: targets on a hand-built run, paired differences,
common random numbers, worker count, the combined dataset and the reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from model import results, runs
from model.analysis import compare, report
from model.analysis.compare import Target, evaluate_targets, plan_remaining
from model.engine.codes import ATTRIBUTION
from model.scenario import load_scenario

YEARS = [2015, 2016, 2017, 2018]
# registered people (persons) at the end of each year, for seeds 0 and 1
REGISTERED = {0: [100, 60, 20, 0], 1: [100, 70, 40, 10]}
EXITS = {0: [0, 40, 40, 20], 1: [0, 30, 30, 30]}
# seed 0 meets every target below (at scale 0.5), seed 1 none
TARGETS = {
    "zero_by": 2018,
    "exits_people": {"2016": 70},            # x 0.5 = 35: 40 met, 30 missed
    "registered_max": {"2017": 60},          # x 0.5 = 30: 20 met, 40 missed
    "incidence_max": {"2017": 0.1},          # / 300 rural people: 0.067 met, 0.133 missed
    "batch_quota": {"relocation": {"2016": 20}},   # x 0.5 = 10: reached 12 met, 8 missed
    "villages_exit_share": {"2016": 0.6, "2017": 0.3},   # 3 poor villages: 2/3 and 3/3 vs 1/3, 2/3
    "counties_exit_share": {"2017": 1.0},    # the one poor county: exited 2017 vs never
    "counties_exit_by": 2018,
}


def small_run(targets: dict | None = None, scale: float = 0.5, counties=("A", "B"),
              years=YEARS, programmes=("industry", "relocation"), name="small",
              cost_per_exit: float = 1000.0) -> xr.Dataset:
    """A hand-built run dataset with the variables a comparison reads.

    County A (poor) holds every registered person; B is not poor. Four
    villages, the last not poor.
    """
    seeds = [0, 1]
    ny, nc = len(years), len(counties)
    cells = np.zeros((2, ny, nc, 1))
    registered, exits, returns = cells.copy(), cells.copy(), cells.copy()
    returns[:, :, 0, 0] = 1
    for s in seeds:
        registered[s, :, 0, 0] = REGISTERED[s][:ny]
        exits[s, :, 0, 0] = EXITS[s][:ny]
    by_batch = np.zeros((2, ny, nc, len(ATTRIBUTION)))
    reached = np.full((2, ny, nc, len(ATTRIBUTION)), np.nan)
    reached[..., :-1] = 0
    relocation = ATTRIBUTION.index("relocation")
    by_batch[:, 1, 0, relocation] = [5, 4]          # exclusive, below the quota
    reached[:, 1, 0, relocation] = [12, 8]          # reached: seed 0 above it
    by_batch[:, :, 0, ATTRIBUTION.index("production")] = exits[:, :, 0, 0] - by_batch[:, :, 0,
                                                                                       relocation]
    cost = np.zeros((2, ny, nc, len(programmes)))
    cost[:, :, 0, 0] = exits[:, :, 0, 0] * cost_per_exit
    ds = xr.Dataset(
        {"registered_people": (("seed", "year", "county", "category"), registered),
         "exits_people": (("seed", "year", "county", "category"), exits),
         "returns_people": (("seed", "year", "county", "category"), returns),
         "cost": (("seed", "year", "county", "programme"), cost),
         "exits_by_batch_people": (("seed", "year", "county", "batch"), by_batch),
         "exits_reached_people": (("seed", "year", "county", "batch"), reached),
         "rural_population": (("county",), np.array([300.0] + [0.0] * (nc - 1))),
         "village_exit_year": (("seed", "village"),
                               np.array([[2016, 2016, 2017, 0], [2016, 2017, 0, 0]])),
         "village_county": (("village",), np.array([0, 0, 0, nc - 1], dtype=np.int32)),
         "poor_village": (("village",), np.array([1, 1, 1, 0], dtype=np.int8)),
         "county_exit_year": (("seed", "county"),
                              np.array([[2017] + [0] * (nc - 1), [0] * nc], dtype=np.int32)),
         "poor_county": (("county",), np.array([1] + [0] * (nc - 1), dtype=np.int8))},
        coords={"seed": seeds, "year": list(years), "county": list(counties),
                "category": ["general"], "programme": list(programmes),
                "batch": list(ATTRIBUTION), "village": np.arange(4)})
    ds.attrs = {"scenario": name, "targets": json.dumps(TARGETS if targets is None else targets),
                "scale": scale, "registry": "hand-built", "base_year": years[0],
                "end_year": years[-1], "scenario_text": f'name = "{name}"'}
    return ds


# ---------------------------------------------------------------- targets

def test_every_target_kind_met_by_seed_0_missed_by_seed_1():
    ev = evaluate_targets(small_run())
    met = ev["target_met"]
    kinds = set(ev["target_kind"].values)
    assert kinds == set(compare.KINDS)
    simulated = ev["target_year"] <= YEARS[-1]
    np.testing.assert_array_equal(met.sel(seed=0, target=simulated), 1.0)
    np.testing.assert_array_equal(met.sel(seed=1, target=simulated), 0.0)
    # the national deadlines are checked too, but 2019 and 2020 are not simulated
    for year in (2019, 2020):
        label = Target("zero_by", year).label
        assert np.isnan(met.sel(target=label)).all()
        assert float(ev["target_in_plan"].sel(target=label)) == 0
    assert float(ev["target_in_plan"].sel(target="zero_by:2018")) == 1


def test_absolute_targets_are_scaled_shares_are_not():
    ev = evaluate_targets(small_run())
    planned = ev["target_planned"]
    assert float(planned.sel(target="exits_people:2016")) == 35
    assert float(planned.sel(target="registered_max:2017")) == 30
    assert float(planned.sel(target="batch_quota:relocation:2016")) == 10
    assert float(planned.sel(target="incidence_max:2017")) == pytest.approx(0.1)
    # village shares are cumulative by year
    assert float(planned.sel(target="villages_exit_share:2017")) == pytest.approx(0.9)
    # at full scale seed 0's 40 exits fall short of 70, its 12 reached of 20
    full = evaluate_targets(small_run(), scale=1.0)["target_met"].sel(seed=0)
    assert float(full.sel(target="exits_people:2016")) == 0
    assert float(full.sel(target="batch_quota:relocation:2016")) == 0
    assert float(full.sel(target="registered_max:2017")) == 1   # 20 <= 60


def test_village_shares_count_poor_villages_only():
    ev = evaluate_targets(small_run())
    actual = ev["target_actual"].sel(target="villages_exit_share:2016")
    np.testing.assert_allclose(actual, [2 / 3, 1 / 3])   # of 3 poor villages, not 4


def test_missing_target_keys_are_empty():
    ev = evaluate_targets(small_run(targets={"zero_by": 2017}), deadlines=())
    assert list(ev["target"].values) == ["zero_by:2017"]
    np.testing.assert_array_equal(ev["target_met"].values[:, 0], [0, 0])   # 20 and 40 left
    assert compare.normalise_targets({})["batch_quota"] == {}


def test_plan_remaining_and_gap():
    ds = small_run(targets={"exits_people": {"2016": 70, "2017": 70, "2018": 200}})
    plan = plan_remaining(ds)
    np.testing.assert_allclose(plan, [100, 65, 30, 0])   # 0.5 x cumulative, never below 0
    cmp = compare.compare([ds])
    np.testing.assert_allclose(cmp["gap_people"].isel(scenario=0).sel(seed=0), [0, -5, -10, 0])
    assert plan_remaining(small_run(targets={"zero_by": 2018})) is None


def test_seed_outcomes_by_hand():
    out = compare.seed_outcomes(small_run())
    np.testing.assert_array_equal(out["zero_year"], [2018, np.nan])
    np.testing.assert_array_equal(out["exits_sum"], [100, 90])
    np.testing.assert_array_equal(out["returns_sum"], [4, 4])
    np.testing.assert_allclose(out["cost_per_exit"], [1000, 1000])
    np.testing.assert_array_equal(out["registered_end"], [0, 10])
    np.testing.assert_array_equal(compare.seed_outcomes(small_run(), 2017)["exits_sum"],
                                  [80, 60])


def test_paired_differences_against_the_first():
    cheap = small_run(name="cheap", cost_per_exit=1000.0)
    dear = small_run(name="dear", cost_per_exit=1500.0)
    cmp = compare.compare([cheap, dear])
    assert list(cmp["scenario"].values) == ["cheap", "dear"]
    np.testing.assert_allclose(cmp["diff_cost_sum"].sel(scenario="dear"), [50000, 45000])
    np.testing.assert_allclose(cmp["diff_cost_per_exit"].sel(scenario="dear"), [500, 500])
    np.testing.assert_array_equal(cmp["diff_cost_sum"].sel(scenario="cheap"), [0, 0])


def test_different_counties_years_and_programmes_outer_join(tmp_path):
    a = small_run(name="a")
    b = small_run(name="b", counties=("C", "A", "D"), years=YEARS[:3],
                  programmes=("relocation", "photovoltaic"))
    cmp = compare.compare([a, b])
    assert list(cmp["county"].values) == ["A", "B", "C", "D"]
    assert list(cmp["programme"].values) == ["industry", "photovoltaic", "relocation"]
    # b has no 2018 and no county B: missing, not zero
    assert np.isnan(cmp["registered_people_total"].sel(scenario="b", year=2018)).all()
    assert np.isnan(cmp["rural_population"].sel(scenario="b", county="B"))
    # village rows point into the union of counties
    vc = cmp["village_county"].sel(scenario="b").values.astype(int)
    assert [str(cmp["county"].values[i]) for i in vc] == ["C", "C", "C", "D"]
    # b's zero_by 2018 is beyond its years: not simulated
    assert np.isnan(cmp["target_met"].sel(scenario="b", target="zero_by:2018")).all()
    # paired differences use the years both simulate (to 2017)
    np.testing.assert_array_equal(cmp["diff_exits_sum"].sel(scenario="b"), [0, 0])
    path = tmp_path / "compare.nc"
    results.write_netcdf(cmp, path)
    back = report.read_comparison(path)
    xr.testing.assert_identical(back["target_met"], cmp["target_met"])
    assert back["scenario_text"].sel(scenario="b").item() == 'name = "b"'
    assert "# povsim compare: a, b" in report.markdown(back)


def assert_units_and_long_names(ds: xr.Dataset, skip=()) -> None:
    for name, var in ds.data_vars.items():
        if name not in skip:
            assert str(var.attrs.get("units", "")).strip(), name
            assert str(var.attrs.get("long_name", "")).strip(), name


def test_repeated_names_get_distinct_labels():
    assert compare.unique_labels(["x", "y", "x", "x"]) == ["x", "y", "x (2)", "x (3)"]


@pytest.fixture(scope="module")
def default_runs():
    """The default scenario twice, two seeds each, in this process."""
    scenario = load_scenario()
    return runs.run_all([scenario, scenario], [3, 4], workers=1, progress=False)


def test_a_scenario_against_itself_differs_by_exactly_zero(default_runs):
    a, b = default_runs
    xr.testing.assert_identical(a, b)      # the same seeds give the same numbers
    cmp = compare.compare([a, b])
    assert list(cmp["scenario"].values) == ["default", "default (2)"]
    for name in compare.OUTCOMES:
        diff = cmp[f"diff_{name}"].sel(scenario="default (2)").values
        if name == "zero_year" and np.isnan(cmp["zero_year"]).all():
            assert np.isnan(diff).all()     # never zero: no difference to take
            continue
        np.testing.assert_array_equal(diff, 0.0, err_msg=name)
    first, second = cmp.isel(scenario=0), cmp.isel(scenario=1)
    for name in ("registered_people", "exits_by_batch", "cost_total", "target_met"):
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert_units_and_long_names(cmp)
    # not trivially zero: the two seeds differ
    assert not np.array_equal(a["registered_people"].isel(seed=0),
                              a["registered_people"].isel(seed=1))


def test_runs_carry_registry_flags_and_scale(default_runs):
    ds = default_runs[0]
    assert ds["poor_village"].sizes["village"] == ds.sizes["village"]
    assert ds["poor_county"].sizes["county"] == ds.sizes["county"]
    assert ds.attrs["scale"] == 1.0
    assert list(ds["seed"].values) == [3, 4]


def test_one_worker_and_two_workers_give_identical_results(default_runs):
    scenarios = [load_scenario(), load_scenario("ruyuan-no-pv")]
    two = runs.run_all(scenarios, [3, 4], workers=2, progress=False)
    xr.testing.assert_identical(two[0], default_runs[0])
    one = runs.run_all(scenarios[1:], [3, 4], workers=1, progress=False)
    xr.testing.assert_identical(two[1], one[0])
    # and the comparisons built from them
    xr.testing.assert_identical(compare.compare([default_runs[0], one[0]]),
                                compare.compare(two))


def test_capacity_versus_need_warning_appears_when_capacity_falls_short():
    """Ruyuan's 1,398 unsafe houses (seed 004) against a housing capacity of
    100 a year: the summary warns; with the plan's capacity it does not."""
    import dataclasses

    import model
    from model.analysis.compare import capacity_shortfalls

    base = model.load_scenario("ruyuan")
    short = dataclasses.replace(base, name="ruyuan-short", params=base.params.with_overlay(
        {"housing.capacity": {"2010": 0, "2016": 100}}, "test"))
    runs = [model.run(s, seeds=[0]) for s in (base, short)]
    assert not [s for s in capacity_shortfalls(runs[0]) if s["programme"] == "housing"]
    (hit,) = [s for s in capacity_shortfalls(runs[1]) if s["programme"] == "housing"]
    assert hit["need"] > 1000 and hit["capacity"] == pytest.approx(300)  # 2016-2018
    text = report.markdown(compare.compare(runs))
    assert "Warning: capacity short of need" in text
    assert "ruyuan-short: housing can take 300 by 2018" in text
    assert "- ruyuan: housing can take" not in text


def test_households_still_waiting_for_delivery_at_the_deadline_are_reported(tmp_path):
    """Ruyuan's houses built in 24 months: at its 2018 deadline some enrolled
    houses are not yet built, and the summary says how many; a run whose
    houses take no time has fewer waiting, or none."""
    import dataclasses

    import model
    from model.analysis.compare import waiting_at_deadline
    from model.analysis.report import fmt_number

    base = model.load_scenario("ruyuan")
    runs_ = {}
    for name, months in (("ruyuan-fast", 0.0), ("ruyuan-slow", 24.0)):
        scenario = dataclasses.replace(base, name=name, params=base.params.with_overlay(
            {"housing.build_months": months}, "test"))
        runs_[name] = model.run(scenario, seeds=[0, 1])
    def housing(run):
        return [s for s in waiting_at_deadline(run) if s["programme"] == "housing"]

    (slow,) = housing(runs_["ruyuan-slow"])
    fast = sum(s["waiting"] for s in housing(runs_["ruyuan-fast"]))
    backlog = runs_["ruyuan-slow"]["delivery_backlog"].sel(year=2018, programme="housing")
    assert slow["deadline"] == 2018
    assert slow["waiting"] == pytest.approx(float(backlog.sum("county").median("seed")))
    assert fast < slow["waiting"] <= slow["need"]
    cmp = compare.compare(list(runs_.values()))
    text = report.markdown(cmp)
    assert "households still waiting for delivery at the deadline" in text
    line = f"ruyuan-slow: housing: {fmt_number(slow['waiting'])} households waiting"
    assert f"- {line}" in text
    # and at the top of the HTML report
    from model import results
    from model.analysis import html_report
    results.write_netcdf(cmp, tmp_path / "compare.nc")
    assert any(w.startswith(line) for w in html_report.contents(tmp_path, "en")["warnings"])


def test_income_programmes_still_waiting_for_delivery_are_reported(tmp_path):
    """Ruyuan with a county office approving 20 households a month: at its
    2018 deadline many of the industry households enrolled are not yet in
    effect, and the summary and the HTML report say how many of how many;
    with instant delivery none waits and nothing is reported."""
    import dataclasses

    import model
    from model import results
    from model.analysis import html_report
    from model.analysis.compare import INCOME_WAITING_SHARE, income_waiting_at_deadline
    from model.analysis.report import fmt_number

    base = model.load_scenario("ruyuan")
    runs_ = {}
    for name, overlay in (("ruyuan-instant", {"delivery.enabled": 0}),
                          ("ruyuan-slow-office", {"delivery.approval_per_month": 20})):
        scenario = dataclasses.replace(base, name=name,
                                       params=base.params.with_overlay(overlay, "test"))
        runs_[name] = model.run(scenario, seeds=[0, 1])
    assert income_waiting_at_deadline(runs_["ruyuan-instant"]) == []
    slow = {s["programme"]: s for s in income_waiting_at_deadline(runs_["ruyuan-slow-office"])}
    industry = slow["industry"]
    run = runs_["ruyuan-slow-office"]
    backlog = run["delivery_backlog"].sel(year=2018, programme="industry").sum("county")
    enrolled = run["new_households"].sel(year=slice(None, 2018), programme="industry")
    assert industry["deadline"] == 2018
    assert industry["waiting"] == pytest.approx(float(backlog.median("seed")))
    assert industry["enrolled"] == pytest.approx(
        float(enrolled.sum(["year", "county"]).median("seed")))
    assert INCOME_WAITING_SHARE * industry["enrolled"] <= industry["waiting"] <= industry["enrolled"]
    # programmes granting a guarantee are reported by the other warning
    assert "housing" not in slow and "medical" not in slow

    cmp = compare.compare(list(runs_.values()))
    text = report.markdown(cmp)
    assert "income programmes still waiting for delivery at the deadline" in text
    line = (f"ruyuan-slow-office: industry: {fmt_number(industry['waiting'])} of the "
            f"{fmt_number(industry['enrolled'])} households enrolled by 2018 still waiting for "
            f"delivery at its end")
    assert f"- {line}" in text
    assert "- ruyuan-instant: industry:" not in text
    results.write_netcdf(cmp, tmp_path / "compare.nc")
    assert any(w.startswith(line) for w in html_report.contents(tmp_path, "en")["warnings"])


def _county_run(exit_years, incidence_2019, poor):
    """A run's county columns: exit years (seed, county) and the 2019
    incidence (seed, county), other years at 1."""
    exit_years, incidence_2019 = np.array(exit_years), np.array(incidence_2019)
    years = np.arange(2016, 2020)
    incidence = np.ones((len(exit_years), len(years), exit_years.shape[1], 1))
    incidence[:, -1, :, 0] = incidence_2019
    return xr.Dataset({
        "county_exit_year": (("seed", "county"), exit_years.astype(np.int16)),
        "incidence": (("seed", "year", "county", "category"), incidence),
        "poor_county": (("county",), np.array(poor, np.uint8))},
        coords={"seed": np.arange(len(exit_years)), "year": years})


def test_counties_short_of_exit_counts_those_not_out_and_the_nearest():
    run = _county_run(exit_years=[[2017, 0, 0, 0], [2017, 2019, 0, 0], [0, 0, 0, 0]],
                      incidence_2019=[[0.0, 0.03, 0.05, 0.001]] * 2 + [[0.02, 0.03, 0.05, 0.001]],
                      poor=[1, 1, 1, 0])
    short = compare.counties_short_of_exit(run, {"counties_exit_by": 2019})
    # not out per seed: 2, 1, 3 (the fourth county is not poor); lowest
    # incidence among them 0.03, 0.05, 0.02
    assert short == {"deadline": 2019, "poor": 3, "not_out": 2.0,
                     "lowest_incidence": pytest.approx(0.03)}
    # the deadline of a share target is its last year
    assert compare.counties_short_of_exit(
        run, {"counties_exit_share": {2017: 0.5, 2019: 0.5}})["deadline"] == 2019
    # no county target, or every poor county out: nothing to say
    assert compare.counties_short_of_exit(run, {"zero_by": 2019}) is None
    out = _county_run([[2017, 2018, 2019, 0]] * 3, [[0.0, 0.0, 0.0, 0.5]] * 3, [1, 1, 1, 0])
    assert compare.counties_short_of_exit(out, {"counties_exit_by": 2019}) is None


@pytest.mark.parametrize("lang, fragments", [
    ("en", ["803,200 households waiting at the end of 2020, more than the base-year need of "
            "257,000", "at most 257,000 of them wait on it"]),
    ("zh", ["仍有 803,200 户待实施，多于基年需求 257,000 户", "至多 257,000 户"]),
])
def test_a_waiting_count_above_the_need_says_at_most_the_need_waits_on_the_condition(
        lang, fragments):
    """A programme that also enrols households for its income (education's
    grants) can have more households waiting than lack its condition: the
    line then says at most the need waits on it, not a share above 100 %."""
    cmp = xr.Dataset({"programme_need": ("scenario", [0.0]),
                      "scenario_targets": ("scenario", ["{}"])},
                     coords={"scenario": ["plan"]})
    found = [{"programme": "education", "deadline": 2020, "waiting": 803200.0,
              "need": 257000.0},
             {"programme": "housing", "deadline": 2020, "waiting": 1000.0, "need": 4000.0}]
    lines = report._programme_lines(cmp, ["plan"], lang, ["programme_need"],
                                    lambda run, targets: found, "waiting", "need",
                                    "waiting_line")
    assert len(lines) == 2
    for fragment in fragments:
        assert fragment in lines[0]
    assert "%" not in lines[0]
    assert "(25 % of the base-year need" in lines[1] or "的 25 %）" in lines[1]
