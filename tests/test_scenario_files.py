"""The scenario files of scenarios/: each loads, runs one seed (at a reduced
scale where the registry is large) and holds the numbers of its plan."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

import model
from model import runs
from model.programmes.measures import PROGRAMMES
from model.registry import synth
from model.scenario import find_scenario, load_scenario

FOLDER = Path(model.__file__).resolve().parents[1] / "scenarios"
FILES = sorted(FOLDER.glob("*.toml"))
# scale for the one-seed test runs: the provinces at 5 %, the nation at 0.5 %
TEST_SCALE = {"hubei": 0.05, "shanxi": 0.05, "national": 0.005}
ENTITLEMENTS = ("safety_net", "medical")


def _base(name: str) -> str:
    return name.split("-")[0]


def test_every_plan_and_variant_is_there():
    names = {p.stem for p in FILES}
    assert {"ruyuan", "xiangxi", "luoyang", "hubei", "shanxi", "national", "ruyuan-no-pv",
            "ruyuan-uniform", "xiangxi-relocation-late", "xiangxi-half-industry",
            "xiangxi-late-funds", "xiangxi-fewer-teams", "ruyuan-2025",
            "national-2025"} <= names


def test_no_two_shipped_scenarios_share_a_name():
    """`povsim run` writes outputs/<name>: the embedded default is not Ruyuan's plan."""
    names = [load_scenario().name] + [load_scenario(path).name for path in FILES]
    assert len(set(names)) == len(names)
    assert load_scenario().name == "default"


def test_installed_layout_finds_scenarios_and_fits(tmp_path, monkeypatch):
    """In a wheel the shipped files sit under model/data/ (the build copies
    them, setup.py); relative extends paths hold there as in the checkout."""
    import shutil

    from model import scenario as scenario_module

    data = tmp_path / "site" / "model" / "data"
    shutil.copytree(FOLDER, data / "scenarios")
    shutil.copytree(FOLDER.parent / "calibration" / "fits", data / "calibration" / "fits",
                    ignore=shutil.ignore_patterns("*.png", "*.md"))
    monkeypatch.setattr(scenario_module, "data_root", lambda: data)
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    assert {"xiangxi", "ruyuan", "national"} <= {name for name, _, _ in
                                                 scenario_module.list_scenarios()}
    default = load_scenario()
    assert default.extends == ("calibration/fits/national.toml",)
    xiangxi = load_scenario("xiangxi")
    # Xiangxi's own fit, built on the national one
    assert xiangxi.extends == ("calibration/fits/xiangxi-2014.toml",
                               "calibration/fits/national.toml")
    assert find_scenario("xiangxi").resolve() == (data / "scenarios" / "xiangxi.toml").resolve()
    # a local ./scenarios takes precedence over the shipped one
    (work / "scenarios").mkdir()
    (work / "scenarios" / "xiangxi.toml").write_text(
        'name = "xiangxi"\ndescription = "local"\nextends = "default"\n', encoding="utf-8")
    assert load_scenario("xiangxi").description == "local"
    # --posterior finds the fit the scenario extends from any working folder
    from model.calibration import posterior
    assert len(posterior.attach(xiangxi).draws) > 1
    monkeypatch.undo()
    # the same calibrated parameters as in the checkout
    years = range(2015, 2021)
    assert default.params.resolved(years) == load_scenario().params.resolved(years)
    assert xiangxi.params.resolved(years) == load_scenario("xiangxi").params.resolved(years)


def test_readme_lists_every_scenario():
    readme = (FOLDER / "README.md").read_text(encoding="utf-8")
    for path in FILES:
        assert f"| `{path.stem}` |" in readme, path.stem


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_scenario_file_loads_and_runs(path):
    s = load_scenario(path)
    assert s.name == path.stem          # names are file names (find_scenario, extends)
    assert s.description
    assert find_scenario(s.name).resolve() == path.resolve()
    scale = TEST_SCALE.get(_base(s.name), s.scale)
    s = dataclasses.replace(s, scale=scale)
    registry = runs.registry_for(s)
    full_people = {"ruyuan": 7508, "xiangxi": 500_000, "xiangxi2014": 660_000,
                   "luoyang": 316_700, "hubei": 5_900_000, "shanxi": 3_290_000,
                   "nation": 89_620_000}[s.registry]
    registered = registry.households["registered"] == 1
    people = int(registry.households["size"][registered].sum())
    assert people == pytest.approx(full_people * scale, rel=1e-3)
    ds = runs.run(s, seeds=[0], progress=False)
    assert ds["year"].values.tolist() == list(range(registry.base_year, s.end_year + 1))
    assert list(ds["programme"].values) == list(s.programmes)
    poor = ds["registered_people"].sum([d for d in ds["registered_people"].dims if d != "year"])
    assert float(poor.sel(year=registry.base_year)) == people
    assert float(poor.sel(year=s.end_year)) < people      # the plan gets people out


# ---------------------------------------------------------------- the numbers of each plan

def _capacity(s, programme: str, years) -> list[float]:
    return [s.params.scalar(f"{programme}.capacity", y) for y in years]


def test_ruyuan_is_the_default_with_its_own_seeds_and_quotas():
    s, default = load_scenario("ruyuan"), load_scenario()
    assert s.extends == ("model/default_scenario.toml", "calibration/fits/national.toml")
    assert (s.registry, s.end_year, s.seeds) == ("ruyuan", 2020, 20)
    assert s.targets["exits_people"] == {2016: 2500, 2017: 3000, 2018: 2008}
    assert s.targets["zero_by"] == 2018
    assert s.targets["batch_quota"] == {"safety_net": {2016: 2179}, "production": {2016: 321}}
    for name in ("poverty_line", "dibao_standard_ratio", "household_exit.covered_at_dibao"):
        assert s.params.scalar(name, 2018) == default.params.scalar(name, 2018)


def test_ruyuan_variants_change_only_their_subject():
    base = load_scenario("ruyuan")
    no_pv = load_scenario("ruyuan-no-pv")
    assert set(base.programmes) - set(no_pv.programmes) == {"photovoltaic", "village_pv"}
    uniform = load_scenario("ruyuan-uniform")
    assert (base.params.scalar("targeting.uniform", 2016),
            uniform.params.scalar("targeting.uniform", 2016)) == (0, 1)
    for variant in (no_pv, uniform):
        assert variant.targets == base.targets
        assert variant.extends[0].endswith("ruyuan.toml")


def test_full_take_up_variant_changes_only_the_safety_net_path():
    from model.engine.context import YearParams
    from model.programmes.measures import take_up_rate

    base, full = load_scenario("national"), load_scenario("national-full-take-up")
    fitted = base.params.scalar("safety_net.take_up", 2016)
    assert 0 < fitted < 1
    for year in (2015, 2016):
        assert take_up_rate(YearParams(full.params, year)) == pytest.approx(fitted)
    assert take_up_rate(YearParams(base.params, 2020)) == pytest.approx(fitted)
    assert take_up_rate(YearParams(full.params, 2019)) == pytest.approx(1.0)
    assert full.targets == base.targets and full.programmes == base.programmes
    assert full.extends[0].endswith("national.toml")


@pytest.mark.parametrize("name", ["ruyuan-2025", "national-2025"])
def test_consolidation_runs_close_programmes_after_2020(name):
    s, base = load_scenario(name), load_scenario(name.replace("-2025", ""))
    assert (s.end_year, base.end_year) == (2025, 2020)
    for c in PROGRAMMES:
        key = f"{c.name}.capacity"
        assert s.params.scalar(key, 2020) == base.params.scalar(key, 2020), c.name
        closed = s.params.scalar(key, 2021) == 0
        assert closed == (c.name not in ENTITLEMENTS), c.name
    share = [s.params.scalar("programme_income_share", y) for y in range(2020, 2026)]
    assert share == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2, 0.0])
    assert s.targets == base.targets


def test_xiangxi_quotas_and_targets():
    s = load_scenario("xiangxi")
    years = range(2016, 2021)
    # people quotas / 3.2 persons per household, relocation in people
    assert _capacity(s, "industry", years) == [31250, 31250, 46875, 46875, 46875]
    assert _capacity(s, "relocation", years) == [23000, 26000, 26000, 18000, 0]
    assert _capacity(s, "rangers", years) == [3000, 4000, 0, 0, 0]
    assert _capacity(s, "transfer_employment", years) == [7813] * 4 + [0]
    assert _capacity(s, "housing", years) == [10000] * 5
    assert s.params.scalar("delivery.teams_per_village", 2016) == 0.5
    assert s.targets["batch_quota"]["production"] == {2016: 100000, 2017: 100000,
                                                      2018: 150000, 2019: 150000}
    assert s.targets["batch_quota"]["relocation"] == {2016: 23000, 2017: 26000, 2018: 26000,
                                                      2019: 18000}
    assert s.targets["batch_quota"]["safety_net"] == {2016: 15000, 2017: 15000, 2018: 12000}
    assert s.targets["batch_quota"]["education"] == {y: 25000 for y in range(2016, 2020)}
    assert s.targets["batch_quota"]["ecological"] == {2016: 3000, 2017: 4000}
    assert (s.targets["registered_max"], s.targets["incidence_max"]) == ({2017: 250000},
                                                                         {2017: 0.12})
    assert (s.targets["zero_by"], s.targets["counties_exit_by"]) == (2019, 2019)
    assert s.targets["counties_exit_share"] == {2017: 0.125, 2019: 0.875}
    # the relocation plan adds up to the seed's 93,000 people
    assert sum(s.targets["batch_quota"]["relocation"].values()) == 93000


def test_xiangxi_variants_change_only_their_subject():
    base = load_scenario("xiangxi")
    years = range(2015, 2021)
    late = load_scenario("xiangxi-relocation-late")
    assert _capacity(late, "relocation", years) == [0, 0, 23000, 26000, 26000, 18000]
    half = load_scenario("xiangxi-half-industry")
    assert _capacity(half, "industry", years) == pytest.approx(
        [c / 2 for c in _capacity(base, "industry", years)], abs=0.5)
    funds = load_scenario("xiangxi-late-funds")
    assert funds.params.scalar("delivery.funds_advance_month", 2017) == 9
    for name in ("delivery.funds_advance_month", "delivery.funds_rest_issue_month"):
        assert funds.params.scalar(name, 2017) >= base.params.scalar(name, 2017)   # later
    teams = load_scenario("xiangxi-fewer-teams")
    assert teams.params.scalar("delivery.teams_per_village", 2017) == 0.25
    for variant in (late, half, funds, teams):
        assert variant.targets == base.targets
        assert variant.registry == "xiangxi" and variant.seeds == base.seeds
        # every other programme capacity is the base's
        for c in PROGRAMMES:
            if c.name not in ("relocation", "industry"):
                assert _capacity(variant, c.name, years) == _capacity(base, c.name, years)


def test_luoyang_relocates_everyone_before_2018():
    s = load_scenario("luoyang")
    assert _capacity(s, "relocation", range(2016, 2019)) == [math.inf, 0, 0]
    assert (s.targets["zero_by"], s.targets["counties_exit_by"]) == (2019, 2019)


def test_hubei_village_batches_and_county_schedule():
    s = load_scenario("hubei")
    assert s.targets["villages_exit_share"] == {2016: 0.45, 2017: 0.30, 2018: 0.20,
                                                2019: 0.05}
    assert sum(s.targets["counties_exit_share"].values()) == pytest.approx(1.0)
    assert (s.targets["zero_by"], s.targets["counties_exit_by"]) == (2019, 2019)
    assert s.params.scalar("county_exit.schedule", 2017) == 1
    assert s.params.scalar("village_exit.collective_income", 2017) == 50000
    assert s.params.scalar("industry.loan", 2017) == 100000
    # villages equipped in their exit year: the shares of 4,821
    years = range(2016, 2020)
    assert _capacity(s, "infrastructure", years) == [round(4821 * x) for x in
                                                     (0.45, 0.30, 0.20, 0.05)]


def test_shanxi_jobs_and_registry_rules():
    s = load_scenario("shanxi")
    assert _capacity(s, "transfer_employment", range(2015, 2021)) == [50000] * 6
    assert s.params.scalar("registry_adjustment_interval", 2016) == 3
    # the 2014 rule (no policies after exit) until the national 脱贫不脱政策 of 2016
    assert s.params.scalar("household_exit.policy_grace_years", 2015) == 0
    assert s.params.scalar("household_exit.policy_grace_years", 2016) == math.inf


def _people(spec_name: str) -> int:
    return synth.load_spec(spec_name)[0]["totals"]["people"]


def test_national_measures_rest_on_data_up_to_2016_and_the_seed_plans():
    s = load_scenario("national")
    nation = _people("nation")
    # relocation: 2015 at the 2011-2015 pace (3.94 M in five years), then every
    # harsh-area person not yet moved, evenly over 2016-2019
    harsh = synth.load_spec("nation")[0]["assumptions"]["harsh_area_share"] * nation
    assert _capacity(s, "relocation", [2015]) == [788_000]
    assert sum(_capacity(s, "relocation", range(2015, 2021))) == pytest.approx(harsh, abs=1)
    assert _capacity(s, "relocation", [2020]) == [0]
    # transfer placements: the rate per registered person of the two plans
    # that count them, held from 2015
    shanxi, xiangxi = load_scenario("shanxi"), load_scenario("xiangxi")
    rate = ((_capacity(shanxi, "transfer_employment", [2016])[0]
             + _capacity(xiangxi, "transfer_employment", [2016])[0])
            / (_people("shanxi") + _people("xiangxi")))
    assert _capacity(s, "transfer_employment", range(2015, 2021)) == pytest.approx(
        [rate * nation] * 6, abs=1)
    for name in ("hubei", "luoyang"):
        plan = load_scenario(name)
        assert _capacity(plan, "transfer_employment", [2016]) == pytest.approx(
            [rate * _people(name)], abs=1)
    # rangers: Xiangxi's share, on Xiangxi's 2016-2017 schedule
    xiangxi_rangers = sum(_capacity(xiangxi, "rangers", range(2016, 2021)))
    assert sum(_capacity(s, "rangers", range(2015, 2021))) == pytest.approx(
        xiangxi_rangers / _people("xiangxi") * nation, abs=1)
    # no count up to 2016: not run
    assert sum(_capacity(s, "public_jobs", range(2015, 2021))) == 0
    assert sum(_capacity(s, "village_pv", range(2015, 2021))) == 0
    # the 2014-2015 photovoltaic pilot (430,000 households), half a year, held
    assert _capacity(s, "photovoltaic", range(2015, 2021)) == [215_000] * 6
    assert (s.registry, s.scale, s.targets["zero_by"]) == ("nation", 0.1, 2020)


def test_reduced_scale_scales_what_the_plan_enrols():
    # 7,000 ranger jobs in Xiangxi (3,000 + 4,000): a tenth of them at scale 0.1
    s = dataclasses.replace(load_scenario("xiangxi"), scale=0.1)
    ds = runs.run(s, seeds=[0], progress=False)
    new = ds["new_households"].sel(programme="rangers")
    total = float(new.sum())
    assert 0.5 * 700 < total <= 700 + 2
