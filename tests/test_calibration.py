"""Calibration: targets parsing, moments on a hand-built run, the distance,
the accepted set, baselines on hand-made series, and a CI-sized calibration
end to end (fit file as a scenario overlay, resume without repeating trials,
posterior draws, back-test)."""

from __future__ import annotations

import dataclasses
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from model.calibration import backtest as bt
from model.calibration import fit as fitting
from model.calibration import moments as mom
from model.calibration import posterior
from model.calibration.calibrate import calibrate
from model.calibration.targets import TargetsError, load_targets
from model.errors import PovsimError
from model.params import Parameters
from model.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

# a made-up table for the tests (not published data)
TABLE = """indicator,year,value,unit,source,verified,note
registered,2016,6000,persons,test,yes,
registered,2017,5000,persons,test,partial,
headcount,2015,3000,persons,test,yes,
headcount,2016,2500,persons,test,no,
rate,2016,2,%,test,yes,
"""


def _targets(tmp_path: Path, moments: str, fit_until: int = 2016,
             scenario: str = "default") -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "table.csv").write_text(TABLE, encoding="utf-8")
    path = tmp_path / "targets.toml"
    path.write_text(textwrap.dedent(f"""\
        scenario = "{scenario}"
        fit_until = {fit_until}
        data = "data"
        [uncertainty]
        yes = 0.05
        partial = 0.15
        no = 0.30
        """) + textwrap.dedent(moments), encoding="utf-8")
    return path


GOOD = """
[[moment]]
name = "registered_2016"
quantity = "registered_people"
year = 2016
value = 6000
unit = "persons"
source = { file = "table.csv", indicator = "registered", year = 2016 }

[[moment]]
name = "headcount_2015"
quantity = "survey_headcount"
year = 2015
value = 3000
unit = "persons"
source = { file = "table.csv", indicator = "headcount", year = 2015 }
range = [2000, 3600]
"""


# ---------------------------------------------------------------- targets


def test_targets_parse_values_and_uncertainty_rule(tmp_path):
    t = load_targets(_targets(tmp_path, GOOD))
    a, b = t.moments
    assert (a.name, a.value, a.unit, a.verified) == ("registered_2016", 6000, "persons", "yes")
    assert a.sd == pytest.approx(0.05 * 6000)
    assert b.sd == pytest.approx(800)          # half the range beats 5 % of 3000
    assert t.last_year == 2016 and len(t.fitted) == 2
    assert len(t.sha256) == 64
    assert [m.name for m in t.until(2015).moments] == ["headcount_2015"]


@pytest.mark.parametrize("change, fragments", [
    (("quantity = \"registered_people\"", "quantiy = \"registered_people\""),
     ["moment 'registered_2016'", "unknown key 'quantiy'", "did you mean 'quantity'"]),
    (("quantity = \"registered_people\"", "quantity = \"registered_peple\""),
     ["moment 'registered_2016'", "unknown", "did you mean 'registered_people'"]),
    (("value = 6000", "value = 6100"), ["value = 6100", "holds '6000'"]),
    (("file = \"table.csv\", indicator = \"registered\"",
      "file = \"tabel.csv\", indicator = \"registered\""),
     ["source file 'tabel.csv' not found", "did you mean 'table.csv'"]),
    (("indicator = \"registered\", year = 2016", "indicator = \"registerd\", year = 2016"),
     ["no row of table.csv", "did you mean 'registered'"]),
    (("unit = \"persons\"\nsource = { file = \"table.csv\", indicator = \"registered\"",
      "unit = \"%\"\nsource = { file = \"table.csv\", indicator = \"registered\""),
     ["unit = '%' measures share"]),
    (("year = 2016\nvalue = 6000", "year = 2017\nvalue = 6000"),
     ["year 2017 is after fit_until = 2016"]),
])
def test_targets_errors_name_file_moment_key_value(tmp_path, change, fragments):
    path = _targets(tmp_path, GOOD.replace(*change, 1))
    with pytest.raises(TargetsError) as err:
        load_targets(path)
    message = str(err.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_targets_refuse_later_rows_unless_checked(tmp_path):
    later = """
[[moment]]
name = "registered_2017"
quantity = "registered_people"
year = 2016
value = 5000
unit = "persons"
source = { file = "table.csv", indicator = "registered", year = 2017 }
"""
    with pytest.raises(TargetsError, match="after fit_until"):
        load_targets(_targets(tmp_path, GOOD + later))
    t = load_targets(_targets(tmp_path, GOOD + later.replace("unit =", "role = \"check\"\nunit =")))
    assert [m.role for m in t.moments] == ["fit", "fit", "check"]
    assert t.moments[2].sd == pytest.approx(0.15 * 5000)   # verified "partial"


SEEDED = """
[[moment]]
name = "registered_2015"
quantity = "registered_people"
year = 2015
value = 120000
unit = "persons"
source = { seed = "009", section = "§一", quote = "12万贫困人口全部脱贫" }
"""


@pytest.mark.parametrize("change, fragment", [
    (None, None),
    (("value = 120000", "value = 130000"), "value = 130000 persons, but the quote gives 120000"),
    (("quote = \"12万", "quote = \"13万"), "is not in 009_plan.txt"),
    (("seed = \"009\"", "seed = \"010\""), "no single document '010_*.txt'"),
    (("section = ", "sektion = "), "source key 'sektion'"),
])
def test_a_seed_figure_is_a_moment_when_the_quote_holds_it(tmp_path, change, fragment):
    """A figure a seed document states: the quote must be in the document
    word for word and its figure (in 万) must be the value."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "009_plan.txt").write_text("（二）目标任务：到2019年，12万贫困人口全部脱贫。",
                                        encoding="utf-8")
    path = _targets(tmp_path, GOOD + (SEEDED if change is None else SEEDED.replace(*change, 1)))
    if change is None:
        m = load_targets(path).moments[-1]
        assert (m.value, m.verified, m.sd) == (120000, "yes", pytest.approx(6000))
        assert m.source_label == "seed 009 §一"
        return
    with pytest.raises(TargetsError) as err:
        load_targets(path)
    assert fragment in str(err.value) and "registered_2015" in str(err.value)


RATIO = """
[[moment]]
name = "fall_2016"
quantity = "survey_headcount_fall"
year = 2016
value = 16.67
unit = "%"
source = { file = "table.csv", indicator = "headcount", year = 2016, over = { indicator = "headcount", year = 2015 } }
"""


@pytest.mark.parametrize("change, fragment", [
    (None, None),
    (("value = 16.67", "value = 17.67"), "the rows give 500 / 3000 = 16.6667 %"),
    (("year = 2015 }", "year = 2014 }"), "source.over: no row of table.csv"),
    (("unit = \"%\"", "unit = \"persons\""), "unit = 'persons' measures persons"),
    (("over = { indicator = \"headcount\", year = 2015 }", "over = 3000"),
     "source.over = 3000: expected a table"),
    (("over = { indicator = \"headcount\", year = 2015 }",
      "over = { indicator = \"rate\", year = 2016 }"), "rows in one unit"),
])
def test_a_ratio_of_two_rows_is_a_moment_with_their_combined_error(tmp_path, change, fragment):
    """A share two rows give: the value must be their ratio, and its error
    combines theirs (here 'no' and 'yes': sqrt(0.30**2 + 0.05**2))."""
    # the made-up table holds levels 3000 -> 2500; as a fall: 500 / 3000
    ratio = RATIO.replace('indicator = "headcount", year = 2016, over',
                          'indicator = "fall", year = 2016, over')
    table_extra = "fall,2016,500,persons,test,no,\n"
    path = _targets(tmp_path, GOOD + (ratio if change is None else ratio.replace(*change, 1)))
    data = tmp_path / "data" / "table.csv"
    data.write_text(TABLE + table_extra, encoding="utf-8")
    if change is None:
        m = load_targets(path).moments[-1]
        assert m.value == pytest.approx(100 * 500 / 3000)
        assert m.verified == "no"
        assert m.sd == pytest.approx(m.value * (0.30 ** 2 + 0.05 ** 2) ** 0.5)
        assert m.source_label == ("table.csv (indicator=fall, year=2016) / "
                                  "table.csv (indicator=headcount, year=2015)")
        return
    with pytest.raises(TargetsError) as err:
        load_targets(path)
    assert fragment in str(err.value) and "fall_2016" in str(err.value)


@pytest.mark.skipif(not DATA.is_dir(), reason="the published data folder is not beside the repo")
def test_repository_targets_match_their_rows():
    for path in [REPO / "calibration" / "targets.toml", *sorted((REPO / "calibration" / "areas")
                                                               .glob("*.toml"))]:
        t = load_targets(path)
        assert t.fitted
        assert all(max(m.year, int(m.source.get("year", m.year))) <= t.fit_until
                   for m in t.fitted)
        assert all(m.sd > 0 for m in t.moments)


# ---------------------------------------------------------------- moments


def hand_run(scale: float = 0.5) -> xr.Dataset:
    """Two seeds, years 2015-2016, two counties (the first poor), one category."""
    shape = (2, 2, 2, 1)
    def var(values):
        return (("seed", "year", "county", "category"), np.asarray(values, float).reshape(shape))
    ds = xr.Dataset(
        {"true_poor_people": var([[[10, 20], [5, 10]], [[10, 20], [8, 10]]]),
         "registered_people": var([[[30, 0], [20, 0]], [[30, 0], [25, 0]]]),
         "income_sum_registered": var([[[30000, 0], [30000, 0]], [[30000, 0], [25000, 0]]]),
         "income_sum_exiting": var([[[0, 0], [20000, 0]], [[0, 0], [0, 0]]]),
         "exits_people": var([[[0, 0], [10, 0]], [[0, 0], [0, 0]]]),
         "exits_households": var([[[0, 0], [4, 0]], [[0, 0], [0, 0]]]),
         "wrong_exits_households": var([[[0, 0], [1, 0]], [[0, 0], [0, 0]]]),
         "returns_people": var(np.zeros(8)),
         "county_exit_year": (("seed", "county"), np.array([[2016, 2016], [0, 2016]])),
         "poor_county": (("county",), np.array([1, 0])),
         "poor_village": (("village",), np.array([1, 1, 0]))},
        coords={"seed": [0, 1], "year": [2015, 2016], "county": ["A", "B"],
                "category": ["general"]}, attrs={"scale": scale})
    return ds


def test_moment_quantities_on_a_hand_built_run():
    ds = hand_run()
    np.testing.assert_allclose(mom.survey_headcount(ds, 2015), [60, 60])      # 30 / 0.5
    np.testing.assert_allclose(mom.survey_headcount_reduction(ds, 2016), [30, 24])
    np.testing.assert_allclose(mom.survey_headcount_fall(ds, 2016), [0.5, 0.4])
    # people on the registry during the year: registered at its end and exiting in it
    np.testing.assert_allclose(mom.registered_income(ds, 2016), [50000 / 30, 1000])
    np.testing.assert_allclose(mom.wrongful_exit_rate(ds, 2016), [0.25, np.nan])
    np.testing.assert_allclose(mom.counties_exited(ds, 2016), [1, 0])      # poor counties only
    np.testing.assert_allclose(mom.poor_villages(ds, 2016), [2, 2])        # never scaled
    # flags concatenated with the seeds count seed by seed; a missing count
    # is skipped, as xarray's sums skip it
    seeded = ds.assign(poor_village=(("seed", "village"), np.array([[1, 1, 0], [1, 0, 0]])))
    np.testing.assert_allclose(mom.poor_villages(seeded, 2016), [2, 1])
    gap = ds.copy(deep=True)
    gap["true_poor_people"][0, 0, 1, 0] = np.nan
    np.testing.assert_allclose(mom.survey_headcount(gap, 2015), [20, 60])   # 10 / 0.5
    with pytest.raises(PovsimError, match="2014: the run covers 2015-2016"):
        mom.survey_headcount_reduction(ds, 2015)


def test_programme_active_reads_the_named_programme():
    ds = hand_run()
    # [seed, year, county, programme]: industry then education
    active = np.arange(16, dtype=float).reshape(2, 2, 2, 2)
    ds["active_households"] = (("seed", "year", "county", "programme"), active)
    ds = ds.assign_coords(programme=["industry", "education"])
    np.testing.assert_array_equal(mom.programme_active(ds, 2016, "education"),
                                  (active[:, 1, :, 1].sum(axis=1)) / 0.5)
    np.testing.assert_array_equal(mom.migrant_workers(ds.assign_coords(
        programme=["transfer_employment", "education"]), 2015), active[:, 0, :, 0].sum(axis=1) / 0.5)
    with pytest.raises(PovsimError, match="'rangers' is not run by this scenario"):
        mom.programme_active(ds, 2016, "rangers")


def test_simulate_converts_units_and_distance_weights_by_sd(tmp_path):
    t = load_targets(_targets(tmp_path, GOOD.replace("year = 2016\nvalue = 6000",
                                                     "year = 2016\nvalue = 6000", 1)))
    ds = hand_run()
    ds["registered_people"][:] = 0
    ds["registered_people"].loc[{"year": 2016, "county": "A"}] = 3100   # / 0.5 = 6200
    sim = mom.simulate(ds, t.moments)
    np.testing.assert_allclose(sim, [[6200, 6200], [60, 60]])
    expected = ((6200 - 6000) / 300) ** 2 + ((60 - 3000) / 800) ** 2
    assert fitting.distance(sim, t.moments) == pytest.approx(expected)
    sim[0, 1] = np.nan
    assert fitting.distance(sim, t.moments) == fitting.FAILED_DISTANCE


def test_accepted_set_is_within_chi_square_tolerance_best_first():
    table = {"number": np.arange(5), "distance": np.array([50.0, 10.0, 13.0, 20.0, np.nan]),
             "a": np.arange(5.0), "b": np.arange(5.0) * 2}
    tol = posterior.tolerance(2)
    assert tol == pytest.approx(5.991, abs=1e-3)     # chi2 0.95 quantile, 2 degrees of freedom
    got = posterior.accepted(table, ["a", "b"])
    assert [g["trial"] for g in got] == [1, 2]
    assert got[0]["parameters"] == {"a": 1.0, "b": 2.0}
    assert len(posterior.accepted(table, ["a", "b"], max_accepted=1)) == 1


def test_identification_flags_flat_profiles():
    prof = {"flat": (np.array([0, 1, 2.0]), np.array([10.0, 10.4, 10.2])),
            "steep": (np.array([0, 1, 2.0]), np.array([30.0, 10.0, 12.0]))}
    assert fitting.identified(prof) == {"flat": False, "steep": True}


def test_a_profile_that_never_moves_marks_a_parameter_without_effect():
    prof = {"none": (np.array([0, 1, 2.0]), np.array([7.5, 7.5, 7.5])),
            "tiny": (np.array([0, 1, 2.0]), np.array([7.5, 7.5 + 1e-9, 7.5])),
            "failed": (np.array([0, 1.0]), np.array([np.nan, np.nan]))}
    assert fitting.without_effect(prof) == ["none"]


# ---------------------------------------------------------------- baselines


def test_baselines_on_hand_made_series():
    two = bt.baselines({2014: 100.0, 2015: 80.0}, [2016, 2017])
    assert two["constant last reduction"] == {2016: 60.0, 2017: 40.0}
    assert two["linear trend"][2016] == pytest.approx(60.0)
    assert two["log-linear trend"][2016] == pytest.approx(64.0)
    assert two["log-linear trend"][2017] == pytest.approx(51.2)
    three = bt.baselines({2013: 100.0, 2014: 90.0, 2015: 70.0}, [2016])
    assert three["constant last reduction"][2016] == pytest.approx(50.0)
    assert three["linear trend"][2016] == pytest.approx(86.6666667 - 30.0)
    rate = math.exp(np.polyfit([2013, 2014, 2015], np.log([100, 90, 70]), 1)[0])
    assert three["log-linear trend"][2016] == pytest.approx(
        math.exp(np.mean(np.log([100, 90, 70]))) * rate ** 2)
    errors = bt.ape({2016: 55.0, 2017: 45.0}, {2016: 50.0, 2017: 50.0})
    assert errors == {2016: pytest.approx(10.0), 2017: pytest.approx(10.0)}
    assert bt.mape({2016: 10.0, 2017: 30.0}) == pytest.approx(20.0)
    with pytest.raises(PovsimError, match="at least two"):
        bt.baselines({2015: 1.0}, [2016])


def test_read_observed_errors(tmp_path):
    good = tmp_path / "obs.csv"
    good.write_text("year,indicator,value,unit\n2015,poor_population,10,10k persons\n"
                    "2016,poor_population,8,10k persons\n2016,incidence,4,%\n", encoding="utf-8")
    assert bt.read_observed(good) == ({2015: 10.0, 2016: 8.0}, "10k persons")
    with pytest.raises(PovsimError, match="did you mean 'poor_population'"):
        bt.read_observed(good, "poor_populaton")
    bad = tmp_path / "bad.csv"
    bad.write_text("year,indicator,value,unit\n2015,poor_population,ten,10k persons\n",
                   encoding="utf-8")
    with pytest.raises(PovsimError, match=r"bad.csv, line 2: value = 'ten'"):
        bt.read_observed(bad)


# ---------------------------------------------------------------- end to end

RUYUAN = """
[[moment]]
name = "registered_2016"
quantity = "registered_people"
year = 2016
value = 6000
unit = "persons"
source = { file = "table.csv", indicator = "registered", year = 2016 }

[[moment]]
name = "headcount_2015"
quantity = "survey_headcount"
year = 2015
value = 3000
unit = "persons"
source = { file = "table.csv", indicator = "headcount", year = 2015 }

[[moment]]
name = "headcount_2016"
quantity = "survey_headcount"
year = 2016
value = 2500
unit = "persons"
source = { file = "table.csv", indicator = "headcount", year = 2016 }
"""


@pytest.fixture(scope="module")
def small_fit(tmp_path_factory):
    """A CI-sized calibration of the embedded Ruyuan scenario: 3 trials, one seed."""
    tmp = tmp_path_factory.mktemp("fit")
    path = _targets(tmp, RUYUAN)
    done = calibrate(path, trials=3, seeds=1, scale=0.5, workers=1, name="tiny",
                     fits=tmp / "fits", study_dir=tmp / "study", profile_points=0,
                     band_seeds=2, progress=False, echo=lambda *a: None)
    return tmp, path, done


def test_calibration_writes_fit_and_report(small_fit):
    tmp, _, done = small_fit
    assert (done.completed_before, done.evaluated, done.completed_after) == (0, 3, 3)
    data = posterior.read_fit(done.fit_path)
    free = load_scenario().params.free_names()
    assert sorted(data["parameters"]) == free
    fit = data["fit"]
    assert fit["trials"] == 3 and fit["seeds"] == [0] and fit["scale"] == 0.5
    assert fit["distance"] == pytest.approx(done.distance)
    assert len(fit["targets_sha256"]) == 64 and fit["accepted"]
    assert fit["accepted"][0]["distance"] == pytest.approx(done.distance)
    for name in ("fit.md", "fit.png"):
        assert (tmp / "fits" / "tiny" / name).stat().st_size > 0
    report = (tmp / "fits" / "tiny" / "fit.md").read_text(encoding="utf-8")
    assert "headcount_2016" in report and "parameter share" in report


def test_mcmc_draws_become_the_accepted_set_and_match_their_objective(small_fit, tmp_path):
    """A resumed study with Metropolis draws: no new trial, the draws are
    the accepted set, each with its objective, and a run can use them."""
    tmp, path, _ = small_fit
    done = calibrate(path, trials=3, seeds=1, scale=0.5, workers=1, name="tiny", resume=True,
                     fits=tmp_path / "fits", study_dir=tmp / "study", profile_points=0,
                     band_seeds=0, mcmc_steps=4, progress=False, echo=lambda *a: None)
    assert done.evaluated == 0
    data = posterior.read_fit(done.fit_path)
    fit = data["fit"]
    draws = fit["accepted"]
    assert len(draws) == 2 * 2 and {d["chain"] for d in draws} == {0, 1}   # 2 chains, 2 kept
    assert fit["mcmc_evaluations"] == 2 + 2 * 4 and "Metropolis" in fit["accept_rule"]
    # the fit's vector is the lowest of the trials and the draws
    assert fit["distance"] <= min(d["distance"] for d in draws) + 1e-9
    targets = load_targets(path)
    scenario = fitting.problem_scenario(targets, 0.5, "tiny")
    free = fitting.free_parameters(scenario)
    centre = fitting.declared_values(scenario, free)
    d = draws[-1]
    sim = fitting.evaluate(scenario, d["parameters"], (0,), targets.moments)
    q = fitting.distance(sim, targets.moments) + fitting.prior_penalty(d["parameters"], centre,
                                                                      free)
    assert q == pytest.approx(d["distance"])
    assert len(posterior.attach(load_scenario(done.fit_path)).draws) == 4


def test_fit_reproduces_its_moments(small_fit):
    _, path, done = small_fit
    data = posterior.read_fit(done.fit_path)
    targets = load_targets(path)
    scenario = fitting.problem_scenario(targets, data["fit"]["scale"])
    sim = fitting.evaluate(scenario, data["parameters"], tuple(data["fit"]["seeds"]),
                           targets.moments)
    np.testing.assert_allclose(sim.mean(axis=1), data["fit"]["simulated"])
    fit = data["fit"]
    assert fitting.distance(sim, targets.moments) == pytest.approx(fit["moment_distance"])
    free = fitting.free_parameters(scenario)
    penalty = fitting.prior_penalty(data["parameters"], fitting.declared_values(scenario, free),
                                    free)
    assert penalty == pytest.approx(fit["prior_penalty"])
    assert fit["distance"] == pytest.approx(fit["moment_distance"] + penalty)


def test_a_fit_built_on_another_extends_it(small_fit):
    """The embedded default extends the national fit, which fits no later
    year than the tiny targets: the tiny fit starts from it and says so."""
    _, _, done = small_fit
    text = done.fit_path.read_text(encoding="utf-8")
    assert 'extends = "' in text
    chain = load_scenario(done.fit_path).extends
    assert chain and chain[0].endswith("calibration/fits/national.toml")


def test_prior_penalty_is_zero_at_the_declared_values_and_grows_away():
    scenario = load_scenario("ruyuan", fits=False)
    free = fitting.free_parameters(scenario)
    centre = fitting.declared_values(scenario, free)
    assert fitting.prior_penalty(centre, centre, free) == 0
    one = free[0]
    for end, other in ((one.low, one.high), (one.high, one.low)):
        moved = dict(centre, **{one.name: end})
        expected = ((one.position(end) - one.position(centre[one.name])) / fitting.PRIOR_SD) ** 2
        assert fitting.prior_penalty(moved, centre, free) == pytest.approx(expected)
    across = dict(centre, **{one.name: one.high})
    start = dict(centre, **{one.name: one.low})
    # the whole range costs 1 / PRIOR_SD ** 2, as much as a miss of 1 / PRIOR_SD sd
    assert fitting.prior_penalty(across, start, free) == pytest.approx(1 / fitting.PRIOR_SD ** 2)


def test_a_fit_starts_from_no_fit_of_its_own_or_of_a_later_year(tmp_path):
    national = load_targets(ROOT / "calibration" / "targets.toml")
    fitted = posterior.read_fit(ROOT / "calibration" / "fits" / "national.toml")["parameters"]
    declared = Parameters.load()
    moved = [n for n, v in fitted.items() if v != pytest.approx(declared.scalar(n, 2016))]
    assert moved
    shipped = load_scenario("national")
    assert any("calibration/fits/" in e for e in shipped.extends)

    def values(scenario):
        return {n: scenario.params.scalar(n, 2016) for n in moved}

    # the national refit and a back-test fit to 2015: the declared values
    for targets in (national, national.until(2015)):
        start = fitting.problem_scenario(targets, 0.01)
        assert not any("calibration/fits/" in e for e in start.extends)
        assert values(start) == pytest.approx({n: declared.scalar(n, 2016) for n in moved})
    # an area fit to the same years builds on the national fit
    area_file = tmp_path / "area.toml"
    area_file.write_text(textwrap.dedent(f"""\
        scenario = "hubei"
        fit_until = 2016
        data = "{DATA.as_posix()}"
        [[moment]]
        name = "hubei_registered_2014"
        quantity = "registered_people"
        year = 2014
        value = 580.7
        unit = "10k persons"
        source = {{ file = "provinces.csv", region = "Hubei", indicator = "registered_poor_people", year = 2014 }}
        """), encoding="utf-8")
    area = load_targets(area_file)
    start = fitting.problem_scenario(area, 0.01)
    assert any(e.endswith("calibration/fits/national.toml") for e in start.extends)
    assert values(start) == pytest.approx({n: fitted[n] for n in moved})


def test_fit_file_is_a_scenario_overlay(small_fit, tmp_path):
    _, _, done = small_fit
    data = posterior.read_fit(done.fit_path)
    child = tmp_path / "child.toml"
    child.write_text(f'name = "child"\nextends = "{done.fit_path}"\n[run]\nregistry = "ruyuan"\n'
                     'end_year = 2017\n[parameters]\nindustry.gain = 1234\n', encoding="utf-8")
    s = load_scenario(child)
    for name, value in data["parameters"].items():
        if name != "industry.gain":
            assert s.params.scalar(name, 2016) == pytest.approx(value)
    assert s.params.scalar("industry.gain", 2016) == 1234
    drawn = posterior.attach(s)
    assert len(drawn.draws) == len(data["fit"]["accepted"])
    for k, a in enumerate(data["fit"]["accepted"]):
        p = drawn.params_for(k)
        assert p.scalar("industry.gain", 2016) == 1234        # set after the fit: kept
        assert p.scalar("income_persistence", 2016) == pytest.approx(
            a["parameters"]["income_persistence"])
    with pytest.raises(PovsimError, match="needs a scenario that extends a fit file"):
        posterior.attach(load_scenario(_unfitted(child.parent)))


def _unfitted(folder):
    """A scenario that extends no fit (the shipped ones all extend the national fit)."""
    path = folder / "unfitted.toml"
    path.write_text('name = "unfitted"\n[run]\nregistry = "ruyuan"\n', encoding="utf-8")
    return path


def test_resume_does_not_repeat_finished_trials(small_fit):
    tmp, path, _ = small_fit
    study_path = tmp / "study" / "study.journal"
    targets = load_targets(path)
    scenario = fitting.problem_scenario(targets, 0.5)
    free = fitting.free_parameters(scenario)
    config = fitting.study_config(targets, scenario, free, (0,), 0.5)
    study = fitting.open_study(study_path, "tiny", config, resume=True)
    before = {t.number: dict(t.params) for t in fitting.completed(study)}
    study.ask()     # a trial left running by a killed process
    again = calibrate(path, trials=5, seeds=1, scale=0.5, workers=1, resume=True, name="tiny",
                      fits=tmp / "fits", study_dir=tmp / "study", profile_points=0,
                      band_seeds=0, progress=False, echo=lambda *a: None)
    assert (again.completed_before, again.evaluated, again.recovered) == (3, 2, 1)
    assert again.completed_after == 5
    study = fitting.open_study(study_path, "tiny", config, resume=True)
    after = {t.number: dict(t.params) for t in fitting.completed(study)}
    assert all(after[n] == p for n, p in before.items())
    with pytest.raises(PovsimError, match="exists: pass --resume"):
        fitting.open_study(study_path, "tiny", config, resume=False)
    with pytest.raises(PovsimError, match="made for another problem"):
        fitting.open_study(study_path, "tiny", {**config, "scale": 0.25}, resume=True)


def test_a_refit_can_start_from_an_earlier_fit(small_fit, tmp_path):
    """--start-from: a new study's trials after the declared values are the
    earlier fit's optimum and accepted vectors, within their prior ranges."""
    tmp, path, done = small_fit
    earlier = posterior.read_fit(done.fit_path)
    targets = load_targets(path)
    scenario = fitting.problem_scenario(targets, 0.5, "again")
    free = fitting.free_parameters(scenario)
    declared = fitting.declared_values(scenario, free)
    warm = fitting.warm_start(earlier, free, declared)
    assert warm[0] == pytest.approx(earlier["parameters"])
    assert len(warm) == len({tuple(w.values()) for w in warm}) >= 1
    # a value outside its prior range is clipped to it
    outside = {"parameters": {free[0].name: free[0].high * 10}, "fit": {}}
    assert fitting.warm_start(outside, free, declared)[0][free[0].name] == free[0].high
    again = calibrate(path, trials=1 + len(warm), seeds=1, scale=0.5, workers=1, name="again",
                      fits=tmp_path / "fits", study_dir=tmp_path / "study", profile_points=0,
                      band_seeds=0, start_from=done.fit_path, progress=False,
                      echo=lambda *a: None)
    config = fitting.study_config(targets, scenario, free, (0,), 0.5)
    study = fitting.open_study(tmp_path / "study" / "study.journal", "again", config, resume=True)
    trials = sorted(fitting.completed(study), key=lambda t: t.number)
    assert trials[0].params == pytest.approx(declared)
    for trial, values in zip(trials[1:], warm, strict=True):
        assert trial.params == pytest.approx(values)
    assert again.distance <= min(t.value for t in trials) + 1e-9
    # resuming that study with --start-from again would drop the vectors
    # silently: it is refused, and says what to do
    with pytest.raises(PovsimError, match="already holds .* trials: drop --start-from"):
        calibrate(path, trials=len(trials) + 1, seeds=1, scale=0.5, workers=1, name="again",
                  fits=tmp_path / "fits", study_dir=tmp_path / "study", profile_points=0,
                  band_seeds=0, start_from=done.fit_path, resume=True, progress=False,
                  echo=lambda *a: None)
    assert "--start-from" in posterior.read_fit(again.fit_path)["fit"]["sampler"]


def test_profile_varies_one_parameter_at_a_time(small_fit):
    _, path, done = small_fit
    data = posterior.read_fit(done.fit_path)
    targets = load_targets(path)
    scenario = fitting.problem_scenario(targets, 0.5)
    free = [f for f in fitting.free_parameters(scenario)
            if f.name in ("income_sigma_transitory", "photovoltaic.build_months")]
    with fitting.Pool(1) as pool:
        prof = fitting.profile(scenario, data["parameters"], free, (0,), targets.moments, pool, 2)
    for f in free:
        values, d = prof[f.name]
        assert values.min() == pytest.approx(f.low) and values.max() == pytest.approx(f.high)
        at_best = d[np.argmin(abs(values - data["parameters"][f.name]))]
        assert at_best == pytest.approx(data["fit"]["distance"])
    # the yearly income shocks move the headcount; photovoltaic build time
    # cannot before any station
    ident = fitting.identified(prof)
    assert ident["income_sigma_transitory"] and not ident["photovoltaic.build_months"]
    assert fitting.without_effect(prof) == ["photovoltaic.build_months"]


def test_a_parameter_without_effect_keeps_its_start_value(tmp_path):
    """The search may leave a parameter the moments do not depend on
    anywhere in its prior; the fit's optimum holds it at the value the fit
    started from, and says so."""
    path = _targets(tmp_path, RUYUAN)
    done = calibrate(path, trials=2, seeds=1, scale=0.5, workers=1, name="held",
                     fits=tmp_path / "fits", study_dir=tmp_path / "study", profile_points=1,
                     band_seeds=0, progress=False, echo=lambda *a: None)
    data = posterior.read_fit(done.fit_path)
    held = data["fit"]["held_at_start"]
    assert "photovoltaic.build_months" in held
    scenario = fitting.problem_scenario(load_targets(path), 0.5)
    start = fitting.declared_values(scenario, fitting.free_parameters(scenario))
    for name in held:
        assert data["parameters"][name] == pytest.approx(start[name])
    report = (tmp_path / "fits" / "held" / "fit.md").read_text(encoding="utf-8")
    assert "held at its start value" in report


def test_posterior_run_uses_vector_i_mod_n(small_fit, tmp_path):
    _, _, done = small_fit
    from model import runs
    text = (f'name = "p"\nextends = "{done.fit_path}"\n[run]\nregistry = "ruyuan"\n'
            'end_year = 2016\n')
    s = posterior.attach(parse_scenario(text, "p.toml", tmp_path / "p.toml"))
    n = len(s.draws)
    assert s.params_for(n) is s.params_for(0)
    one = runs.run(dataclasses.replace(s, draws=(s.draws[0],)), [0], progress=False)
    drawn = runs.run(s, [n], progress=False)     # seed n uses vector 0 but other shocks
    assert one["registered_people"].sum() > 0 and drawn["registered_people"].sum() > 0


def _observed(tmp_path: Path) -> Path:
    """A small observed series 2015-2017 in the format of national_headcount.csv."""
    observed = tmp_path / "observed.csv"
    observed.write_text("year,indicator,value,unit\n2015,poor_population,3000,persons\n"
                        "2016,poor_population,2500,persons\n2017,poor_population,2100,persons\n",
                        encoding="utf-8")
    return observed


def test_backtest_rolling_origin_on_a_tiny_case(small_fit, tmp_path):
    _, path, done = small_fit
    observed = _observed(tmp_path)
    result = bt.backtest(2016, observed, fit=str(done.fit_path), targets=path, forecast_seeds=2,
                         scale=0.5, workers=1, out=tmp_path / "bt", echo=lambda *a: None)
    assert result.years == [2017]
    assert result.baselines["constant last reduction"][2017] == pytest.approx(2000)
    assert result.errors["constant last reduction"][2017] == pytest.approx(100 * 100 / 2100)
    mean = result.forecast[2017][0]
    assert result.errors["model"][2017] == pytest.approx(100 * abs(mean - 2100) / 2100)
    level = result.level[2017]
    assert result.errors["model level"][2017] == pytest.approx(100 * abs(level - 2100) / 2100)
    table = result.table()
    assert "MAPE" in table and "log-linear trend" in table and "model level" in table
    assert (tmp_path / "bt" / "backtest.png").stat().st_size > 0
    # the forecast carries the model's change from the last observed level: double
    # that level and the forecast doubles, while the model's own level stays
    observed.write_text("year,indicator,value,unit\n2015,poor_population,6000,persons\n"
                        "2016,poor_population,5000,persons\n2017,poor_population,4200,persons\n",
                        encoding="utf-8")
    doubled = bt.backtest(2016, observed, fit=str(done.fit_path), targets=path,
                          forecast_seeds=2, scale=0.5, workers=1, out=tmp_path / "bt2",
                          echo=lambda *a: None)
    assert doubled.forecast[2017][0] == pytest.approx(2 * mean)
    assert doubled.level[2017] == pytest.approx(level)


def test_backtest_reuses_the_committed_fit_of_the_same_moments(small_fit, tmp_path):
    tmp, path, done = small_fit
    observed = _observed(tmp_path)
    said = []
    result = bt.backtest(2016, observed, targets=path, fits=tmp / "fits", forecast_seeds=2,
                         workers=1, out=tmp_path / "bt", echo=said.append)
    assert result.fit == str(done.fit_path)
    assert any(line.startswith("reusing") for line in said)
    assert not (tmp_path / "bt" / "fits").exists()               # nothing fitted anew
    # the reused fit's scale, as if it were given with --fit
    given = bt.backtest(2016, observed, fit=str(done.fit_path), targets=path,
                        forecast_seeds=2, workers=1, out=tmp_path / "bt2", echo=said.append)
    assert given.forecast == result.forecast
    # a back-test to 2015 drops a moment the fit used: no committed fit matches
    full = load_targets(path)
    assert bt.committed_fit(full, full.until(2015), tmp / "fits") is None
    assert bt.committed_fit(full, full.until(2016), tmp / "fits") == done.fit_path
    # an edited targets file is another problem
    (tmp_path / "edited").mkdir()
    other = load_targets(_targets(tmp_path / "edited", RUYUAN + "\n# edited\n"))
    assert bt.committed_fit(other, other.until(2016), tmp / "fits") is None


def test_backtest_fits_when_no_fit_is_given(tmp_path):
    path = _targets(tmp_path, RUYUAN)
    observed = tmp_path / "observed.csv"
    observed.write_text("year,indicator,value,unit\n2014,poor_population,3500,persons\n"
                        "2015,poor_population,3000,persons\n2016,poor_population,2500,persons\n",
                        encoding="utf-8")
    result = bt.backtest(2015, observed, targets=path, trials=2, seeds=1, forecast_seeds=2,
                         scale=0.5, workers=1, out=tmp_path / "bt", echo=lambda *a: None)
    fit = posterior.read_fit(tmp_path / "bt" / "fits" / "backtest-2015.toml")
    assert fit["fit"]["moments"] == ["headcount_2015"]       # nothing after 2015 fitted
    assert result.years == [2016]
    assert set(result.errors) == {"model", "model level", *bt.BASELINES}
    assert result.baselines["constant last reduction"][2016] == pytest.approx(2500)


def test_cli_errors_exit_2_with_one_line(tmp_path, capsys):
    from model.cli import main
    assert main(["calibrate", str(tmp_path / "missing.toml")]) == 2
    assert "targets file" in capsys.readouterr().err
    path = _targets(tmp_path, GOOD.replace("value = 6000", "value = 6100", 1))
    assert main(["calibrate", str(path), "--trials", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("povsim: error:") == 1 and "holds '6000'" in err
    assert main(["run", str(_unfitted(tmp_path)), "--posterior", "--out",
                 str(tmp_path / "out")]) == 2
    assert "--posterior needs a scenario that extends a fit file" in capsys.readouterr().err
    assert main(["backtest", "--fit-until", "2015", "--observed", str(tmp_path / "x.csv")]) == 2
    assert "observed file" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--scale", "5"], "argument --scale: 5 must be above 0 and at most 1"),
    (["--repeats", "0"], "argument --repeats: 0 must be at least 1"),
    (["nope.toml"], "targets file 'nope.toml' not found"),
])
def test_the_trial_benchmark_refuses_bad_arguments_with_a_message(argv, message, capsys):
    from model.calibration import speed

    with pytest.raises(SystemExit) as stop:
        speed.main(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
