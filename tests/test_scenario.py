"""Scenarios: the embedded default, and broken texts each giving one clear error."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import model
from model.errors import PovsimError, ScenarioError
from model.params import Parameters
from model.programmes.measures import PROGRAMMES
from model.scenario import (
    find_scenario,
    list_scenarios,
    load_scenario,
    parse_scenario,
    scenario_dirs,
)

ALL_PROGRAMMES = tuple(c.name for c in PROGRAMMES)
NO_TARGETS = {"zero_by": None, "exits_people": {}, "registered_max": {}, "incidence_max": {},
              "batch_quota": {}, "villages_exit_share": {}, "counties_exit_share": {},
              "counties_exit_by": None}


# ---------------------------------------------------------------- the default

def test_default_scenario_loads():
    s = load_scenario()
    assert s.name == "default"
    assert s.registry == "ruyuan"
    assert s.end_year == 2020
    assert s.seeds == 1
    assert s.programmes == ALL_PROGRAMMES
    assert s.source == "model/default_scenario.toml"
    assert 'name = "default"' in s.text
    assert s.targets == {**NO_TARGETS, "exits_people": {2016: 2500, 2017: 3000, 2018: 2008},
                         "zero_by": 2018}
    assert (s.scale, s.extends) == (1.0, ("calibration/fits/national.toml",))
    # its parameter overlays are applied
    assert s.params.scalar("poverty_line", 2016) == 6433
    assert s.params.scalar("poverty_line", 2020) == 8433
    assert s.params.scalar("household_exit.covered_at_dibao", 2016) == 1
    assert s.params.scalar("dibao_standard_ratio", 2017) == pytest.approx(0.75)
    # not overlaid by the file: the calibrated value it extends
    fitted = load_scenario("calibration/fits/national.toml")
    assert s.params.scalar("income_persistence", 2016) == fitted.params.scalar(
        "income_persistence", 2016) != Parameters.load().scalar("income_persistence", 2016)


def test_parse_minimal_scenario_gets_defaults():
    s = parse_scenario('name = "x"\n', "ok.toml")
    assert (s.name, s.description, s.registry, s.end_year, s.seeds) == ("x", "", "ruyuan", 2020, 1)
    assert s.programmes == ALL_PROGRAMMES
    assert s.targets == NO_TARGETS
    assert s.scale == 1.0
    assert s.source == "ok.toml"


def test_parse_full_scenario():
    text = """
name = "full"
description = "all keys"

[run]
registry = "ruyuan"
end_year = 2018
seeds = 3
programmes = ["safety_net", "housing"]

[parameters]
poverty_line = { 2016 = 5000 }
asset_income = { dividend = 2500 }
schooling_cost = [1, 2, 3, 4]

[targets]
exits_people = { 2016 = 100, 2017 = 0 }
zero_by = 2018
"""
    s = parse_scenario(text, "full.toml")
    assert (s.end_year, s.seeds, s.programmes) == (2018, 3, ("safety_net", "housing"))
    assert s.params.scalar("poverty_line", 2016) == 5000
    assert s.params.scalar("asset_income.dividend", 2016) == 2500
    assert s.params.at("schooling_cost", 2016).tolist() == [1, 2, 3, 4]
    assert s.targets == {**NO_TARGETS, "exits_people": {2016: 100, 2017: 0}, "zero_by": 2018}
    assert s.params.applied == ("full.toml, line 12", "full.toml, line 13", "full.toml, line 14")


def test_load_scenario_from_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('name = "from-file"\n[run]\nend_year = 2017\n', encoding="utf-8")
    s = load_scenario(path)
    assert (s.name, s.end_year, s.source) == ("from-file", 2017, str(path))


def test_load_scenario_missing_file(tmp_path):
    with pytest.raises(PovsimError, match="not found"):
        load_scenario(tmp_path / "missing.toml")


def test_load_scenario_not_utf8(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(path)


def test_public_api_exports():
    assert callable(model.load_scenario)
    assert callable(model.run)
    assert model.Parameters is not None


# ---------------------------------------------------------------- broken texts

# (id, text, line number or None, fragments the message must hold)
BROKEN = [
    ("unknown top-level key",
     'name = "x"\n# comment\ndescriptoin = "y"\n',
     3, ["unknown key 'descriptoin'", "did you mean 'description'"]),
    ("unknown top-level table",
     'name = "x"\n\n[parameter]\npoverty_line = 3000\n',
     3, ["unknown key 'parameter'", "did you mean 'parameters'"]),
    ("unknown run key",
     'name = "x"\n[run]\nseeds = 2\nend_yaer = 2020\n',
     4, ["unknown key 'run.end_yaer'", "did you mean 'end_year'"]),
    ("unknown targets key",
     'name = "x"\n[targets]\nexit_people = { 2016 = 5 }\n',
     3, ["unknown key 'targets.exit_people'", "did you mean 'exits_people'"]),
    ("wrong type end_year",
     'name = "x"\n[run]\nend_year = "2020"\n',
     3, ["'run.end_year' = '2020'", "expected int"]),
    ("wrong type seeds float",
     'name = "x"\n[run]\nregistry = "ruyuan"\nseeds = 1.5\n',
     4, ["'run.seeds' = 1.5", "expected int"]),
    ("wrong type bool for int",
     'name = "x"\n[run]\nseeds = true\n',
     3, ["'run.seeds' = True", "expected int"]),
    ("wrong type programmes",
     'name = "x"\n[run]\nprogrammes = "safety_net"\n',
     3, ["'run.programmes'", "expected list"]),
    ("wrong type name",
     'name = 5\n',
     1, ["'name' = 5", "expected str"]),
    ("wrong type section",
     'name = "x"\nrun = 5\n',
     2, ["'run' = 5", "expected dict"]),
    ("seeds out of range",
     'name = "x"\n[run]\nseeds = 0\n',
     3, ["'run.seeds' = 0", "out of range"]),
    ("end_year out of range",
     'name = "x"\n[run]\nend_year = 2099\n',
     3, ["'run.end_year' = 2099", "out of range"]),
    ("unknown parameter",
     'name = "x"\n[run]\nseeds = 1\n\n[parameters]\npovert_line = 3000\n',
     6, ["unknown parameter 'povert_line'", "did you mean 'poverty_line'"]),
    ("unknown nested parameter inline",
     'name = "x"\n[parameters]\nasset_income = { dividnd = 5 }\n',
     3, ["unknown parameter 'asset_income.dividnd'", "did you mean 'asset_income.dividend'"]),
    ("parameter out of range",
     'name = "x"\n[parameters]\nincome_persistence = 0.5\npoverty_line = -5\n',
     4, ["'poverty_line' = -5", "out of range", "[0, 50000]"]),
    ("dated parameter out of range",
     'name = "x"\n[parameters]\npoverty_line = { 2016 = 99999 }\n',
     3, ["'poverty_line'", "99999", "out of range"]),
    ("parameter wrong shape",
     'name = "x"\n[parameters]\nschooling_cost = 1000\n',
     3, ["'schooling_cost' = 1000", "expected a list of 4 numbers"]),
    ("unknown programme",
     'name = "x"\n[run]\nprogrammes = ["safety_net", "asset_incom"]\n',
     3, ["unknown programme 'asset_incom'", "run.programmes", "did you mean 'asset_income'"]),
    ("negative exits_people",
     'name = "x"\n[targets]\nzero_by = 2018\nexits_people = { 2016 = -5 }\n',
     4, ["targets.exits_people 2016 = -5", "expected"]),
    ("non-integer exits_people",
     'name = "x"\n[targets]\nexits_people = { 2016 = 2.5 }\n',
     3, ["targets.exits_people 2016 = 2.5", "expected"]),
    ("non-year exits_people key",
     'name = "x"\n[targets]\nexits_people = { y2016 = 5 }\n',
     3, ["targets.exits_people y2016 = 5", "expected a year"]),
    ("invalid TOML",
     'name = "x"\n[run]\nend_year 2020\n',
     3, []),
    ("invalid TOML duplicate key",
     'name = "x"\nname = "y"\n',
     2, []),
    ("missing name",
     'description = "no name"\n[run]\nseeds = 1\n',
     None, ["missing key 'name'"]),
]


@pytest.mark.parametrize("text, line, fragments", [pytest.param(*c[1:], id=c[0]) for c in BROKEN])
def test_broken_scenario(text, line, fragments):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "bad.toml")
    msg = str(info.value)
    assert msg.startswith("bad.toml")
    assert "\n" not in msg
    if line is not None:
        assert re.search(rf"\bline {line}\b", msg), msg
        assert len(re.findall(r"\bline \d+", msg)) == 1, msg
    for fragment in fragments:
        assert fragment in msg


def test_broken_scenario_is_a_povsim_error():
    with pytest.raises(PovsimError):
        parse_scenario("name = \n", "bad.toml")


# Parameters written as a dotted key or a sub-table are valid TOML and parse to the same
# overlay as the inline form above, but the error loses its line number.
@pytest.mark.parametrize("text, line", [
    pytest.param('name = "x"\n[parameters]\nasset_income.dividnd = 5\n', 3, id="dotted key"),
    pytest.param('name = "x"\n[parameters.asset_income]\ndividnd = 5\n', 3, id="sub-table"),
])
def test_unknown_parameter_in_subtable_names_line(text, line):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "bad.toml")
    msg = str(info.value)
    assert "unknown parameter 'asset_income.dividnd'" in msg
    assert f"bad.toml, line {line}" in msg


def test_bool_exits_people_rejected():
    with pytest.raises(ScenarioError, match=r"bad\.toml, line 3"):
        parse_scenario('name = "x"\n[targets]\nexits_people = { 2016 = true }\n', "bad.toml")



def test_end_year_before_1949_rejected():
    with pytest.raises(ScenarioError, match=r"bad\.toml, line 3: 'run\.end_year' = 1900"):
        parse_scenario('name = "x"\n[run]\nend_year = 1900\n', "bad.toml")


# ---------------------------------------------------------------- extends

def _write(folder, name, text):
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


PARENT = """name = "parent"
description = "the parent"

[run]
registry = "xiangxi"
end_year = 2019
seeds = 7
scale = 0.5
programmes = ["safety_net", "industry", "photovoltaic", "housing"]

[parameters]
poverty_line = { 2016 = 3000, 2017 = 3100 }
income_persistence = 0.6
schooling_cost = [1, 2, 3, 4]

[programmes.industry]
capacity = { 2016 = 100, 2017 = 200 }
[programmes.photovoltaic]
enabled = false

[targets]
zero_by = 2019
exits_people = { 2016 = 10, 2017 = 20 }
batch_quota = { production = { 2016 = 5, 2017 = 6 }, relocation = { 2016 = 1 } }
villages_exit_share = { 2016 = 0.5 }
"""

CHILD = """name = "child"
extends = "parent"

[run]
end_year = 2020
programmes = ["safety_net", "industry", "photovoltaic"]

[parameters]
poverty_line = { 2017 = 3500, 2018 = 3600 }
schooling_cost = [5, 6, 7, 8]
income_sigma_county = { 2018 = 0.1 }

[programmes.industry]
capacity = { 2017 = 250 }
[programmes.photovoltaic]
enabled = true

[targets]
exits_people = { 2017 = 25, 2018 = 30 }
batch_quota = { production = { 2017 = 60 } }
villages_exit_share = { 2017 = 0.5 }
"""


def test_extends_deep_merge(tmp_path):
    _write(tmp_path, "parent", PARENT)
    child = load_scenario(_write(tmp_path, "child", CHILD))
    # name and description are the child's own
    assert (child.name, child.description) == ("child", "")
    # run: the child's keys override, the others are inherited
    assert (child.registry, child.end_year, child.seeds, child.scale) == ("xiangxi", 2020, 7, 0.5)
    # lists replace; a programme enabled again in the child runs
    assert child.programmes == ("safety_net", "industry", "photovoltaic")
    # dated values merge year by year, the child's years win
    p = child.params
    assert [p.scalar("poverty_line", y) for y in (2016, 2017, 2018)] == [3000, 3500, 3600]
    assert p.scalar("poverty_line", 2015) == 2855           # declared, before the overlays
    assert [p.scalar("industry.capacity", y) for y in (2016, 2017)] == [100, 250]
    # a single value holds before the child's first dated year
    assert p.scalar("income_persistence", 2016) == pytest.approx(0.6)
    assert p.at("schooling_cost", 2016).tolist() == [5, 6, 7, 8]   # lists replace
    assert p.scalar("income_sigma_county", 2017) == pytest.approx(0.05)
    assert p.scalar("income_sigma_county", 2018) == pytest.approx(0.1)
    # targets: year tables merge, tables of tables merge deeply, values replace
    t = child.targets
    assert t["zero_by"] == 2019
    assert t["exits_people"] == {2016: 10, 2017: 25, 2018: 30}
    assert t["batch_quota"] == {"production": {2016: 5, 2017: 60}, "relocation": {2016: 1}}
    assert t["villages_exit_share"] == {2016: 0.5, 2017: 0.5}
    assert child.extends == (str(tmp_path / "parent.toml"),)
    assert child.source == str(tmp_path / "child.toml")
    assert "extends" in child.text and "registry" not in child.text
    # provenance: each overlay names the file and line that set it
    assert f"{tmp_path / 'child.toml'}, line 9" in p.applied            # poverty_line
    assert f"{tmp_path / 'parent.toml'}, line 13" in p.applied          # income_persistence
    assert f"{tmp_path / 'child.toml'}, line 14" in p.applied           # industry.capacity


def test_single_value_over_dated_value_replaces_every_year(tmp_path):
    _write(tmp_path, "parent", 'name = "parent"\n[parameters]\npoverty_line = { 2016 = 3000 }\n')
    child = load_scenario(_write(tmp_path, "child",
                                 'name = "child"\nextends = "parent"\n'
                                 '[parameters]\npoverty_line = 2000\n'))
    assert [child.params.scalar("poverty_line", y) for y in (2010, 2016, 2020)] == [2000] * 3


def test_extends_chain_of_three_by_path(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    _write(tmp_path, "root", 'name = "root"\n[run]\nseeds = 4\n[targets]\nzero_by = 2018\n')
    _write(sub, "middle", 'name = "middle"\nextends = "../root.toml"\n[run]\nend_year = 2019\n')
    leaf = load_scenario(_write(tmp_path, "leaf", 'name = "leaf"\nextends = "sub/middle.toml"\n'
                                                  '[targets]\nzero_by = 2019\n'))
    assert (leaf.seeds, leaf.end_year, leaf.targets["zero_by"]) == (4, 2019, 2019)
    assert [Path(p).name for p in leaf.extends] == ["middle.toml", "root.toml"]


def test_extends_default_and_a_repository_scenario(tmp_path):
    child = load_scenario(_write(tmp_path, "mine", 'name = "mine"\nextends = "default"\n'
                                                   '[run]\nseeds = 2\n'))
    assert child.extends == ("model/default_scenario.toml", "calibration/fits/national.toml")
    assert child.targets["exits_people"] == {2016: 2500, 2017: 3000, 2018: 2008}
    assert child.params.scalar("poverty_line", 2016) == 6433
    # a name not beside the file is found in the repository's scenarios/
    variant = load_scenario(_write(tmp_path, "x", 'name = "x"\nextends = "xiangxi"\n'))
    assert variant.registry == "xiangxi"
    assert variant.extends[0].endswith("xiangxi.toml")


def test_extends_cycle_is_an_error(tmp_path):
    _write(tmp_path, "a", 'name = "a"\nextends = "b"\n')
    _write(tmp_path, "b", 'name = "b"\n\nextends = "a"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "a.toml")
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / 'b.toml'}, line 3: extends = 'a'")
    assert "cycle (a.toml -> b.toml -> a.toml)" in msg
    _write(tmp_path, "self", 'name = "self"\nextends = "self"\n')
    with pytest.raises(ScenarioError, match=r"line 2: extends = 'self'.*cycle"):
        load_scenario(tmp_path / "self.toml")


def test_error_in_parent_names_the_parent(tmp_path):
    _write(tmp_path, "parent", 'name = "parent"\n[parameters]\npoverty_line = -1\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write(tmp_path, "child", 'name = "child"\nextends = "parent"\n'))
    assert str(info.value).startswith(f"{tmp_path / 'parent.toml'}, line 3: parameter "
                                      "'poverty_line' = -1 is out of range")


def test_child_shares_are_checked_with_the_parents(tmp_path):
    _write(tmp_path, "parent", 'name = "parent"\n[targets]\nvillages_exit_share = '
                               '{ 2016 = 0.7 }\n')
    with pytest.raises(ScenarioError, match=r"child\.toml, line 4: targets\.villages_exit_share "
                                            r"adds up to 1\.3"):
        load_scenario(_write(tmp_path, "child", 'name = "child"\nextends = "parent"\n'
                                                '[targets]\nvillages_exit_share = '
                                                '{ 2017 = 0.6 }\n'))


# ---------------------------------------------------------------- programmes, scale, targets

def test_programme_entries_set_parameters_and_enabled():
    s = parse_scenario("""name = "x"
[programmes.relocation]
capacity = { 2016 = 23000, 2020 = 0 }
build_years = 2
[programmes.industry]
budget = { 2016 = 1.2e9 }
hazard = 0.2
[programmes.photovoltaic]
enabled = false
[programmes.village_pv]
enabled = true
""", "p.toml")
    p = s.params
    assert [p.scalar("relocation.capacity", y) for y in (2015, 2016, 2019, 2020)] == \
        [0, 23000, 23000, 0]
    assert p.scalar("relocation.build_years", 2016) == 2
    assert p.scalar("industry.budget", 2016) == 1.2e9
    assert p.scalar("industry.budget", 2015) == float("inf")
    assert p.scalar("industry.hazard", 2016) == pytest.approx(0.2)
    assert s.programmes == tuple(n for n in ALL_PROGRAMMES if n != "photovoltaic")
    assert "p.toml, line 3" in p.applied and "p.toml, line 6" in p.applied


def test_programme_entries_inline():
    s = parse_scenario('name = "x"\n[programmes]\nrangers = { capacity = 7000 }\n'
                       'housing = { enabled = false }\n', "p.toml")
    assert s.params.scalar("rangers.capacity", 2017) == 7000
    assert "housing" not in s.programmes


def test_scale_and_all_targets_parsed():
    s = parse_scenario("""name = "x"
[run]
scale = 0.25
[targets]
zero_by = 2019
exits_people = { 2016 = 2500 }
registered_max = { 2017 = 250000 }
incidence_max = { 2017 = 0.12 }
batch_quota = { production = { 2016 = 100000 }, safety_net = { 2016 = 15000 } }
villages_exit_share = { 2016 = 0.45, 2017 = 0.3 }
counties_exit_share = { 2017 = 1 }
counties_exit_by = 2019
""", "t.toml")
    assert s.scale == 0.25
    assert s.targets == {"zero_by": 2019, "exits_people": {2016: 2500},
                         "registered_max": {2017: 250000}, "incidence_max": {2017: 0.12},
                         "batch_quota": {"production": {2016: 100000},
                                         "safety_net": {2016: 15000}},
                         "villages_exit_share": {2016: 0.45, 2017: 0.3},
                         "counties_exit_share": {2017: 1.0}, "counties_exit_by": 2019}
    assert isinstance(s.targets["counties_exit_share"][2017], float)
    one = parse_scenario('name = "x"\n[run]\nscale = 1\n', "t.toml")
    assert isinstance(one.scale, float) and one.scale == 1.0


def test_scenario_is_frozen_and_picklable():
    import dataclasses
    import pickle

    s = load_scenario()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.scale = 0.5
    copy = pickle.loads(pickle.dumps(dataclasses.replace(s, scale=0.5)))
    assert (copy.name, copy.scale, copy.targets) == (s.name, 0.5, s.targets)
    assert copy.params.scalar("poverty_line", 2016) == 6433


# ---------------------------------------------------------------- finding scenarios

def test_list_and_find_scenarios():
    listed = list_scenarios()
    names = [name for name, _, _ in listed]
    assert names == sorted(names) and len(names) == len(set(names))
    assert {"ruyuan", "xiangxi", "national"} <= set(names)
    entry = {n: (d, p) for n, d, p in listed}["xiangxi"]
    assert entry[0].startswith("Xiangxi prefecture") and entry[1].name == "xiangxi.toml"
    assert find_scenario("xiangxi") == entry[1]
    assert load_scenario("xiangxi").name == "xiangxi"
    assert load_scenario("default").source == "model/default_scenario.toml"


def test_find_scenario_close_match():
    with pytest.raises(PovsimError) as info:
        find_scenario("xiangxii")
    msg = str(info.value)
    assert "scenario 'xiangxii' not found" in msg and "did you mean 'xiangxi'?" in msg
    with pytest.raises(PovsimError, match="scenario file 'nowhere/x.toml' not found"):
        find_scenario("nowhere/x.toml")


def test_working_folder_scenarios_come_first(tmp_path, monkeypatch):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    _write(folder, "xiangxi", 'name = "xiangxi"\ndescription = "my own"\n')
    _write(folder, "mine", 'name = "mine"\ndescription = "only here"\n')
    monkeypatch.chdir(tmp_path)
    listed = {n: (d, p) for n, d, p in list_scenarios()}
    assert listed["xiangxi"] == ("my own", Path("scenarios") / "xiangxi.toml")
    assert listed["mine"][0] == "only here"
    assert "luoyang" in listed                  # the repository's are still found
    assert load_scenario("xiangxi").description == "my own"
    assert scenario_dirs()[0] == Path("scenarios")


def test_listing_survives_a_broken_file(tmp_path, monkeypatch):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "broken.toml").write_text("name = \n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    listed = {n: d for n, d, _ in list_scenarios()}
    assert listed["broken"] == "(not a valid scenario file)"
    with pytest.raises(ScenarioError, match=r"broken\.toml, line 1: invalid TOML"):
        load_scenario("broken")


# ---------------------------------------------------------------- the broken fixture files

BROKEN_DIR = Path(__file__).parent / "broken_scenarios"
# file -> (file named in the message, line, fragments)
BROKEN_FILES = {
    "misspelt-top-key": (None, 3, ["unknown key 'descriptoin'", "did you mean 'description'"]),
    "misspelt-run-key": (None, 5, ["unknown key 'run.end_yaer'", "did you mean 'end_year'"]),
    "unknown-parameter": (None, 6, ["unknown parameter 'povrety_line'",
                                    "did you mean 'poverty_line'"]),
    "parameter-out-of-range": (None, 4, ["'delivery.teams_per_village' = -1", "out of range",
                                         "[0, inf]"]),
    "unknown-programme": (None, 6, ["unknown programme 'industy'", "[programmes.industy]",
                                    "did you mean 'industry'"]),
    "unknown-programme-key": (None, 4, ["unknown key 'programmes.relocation.capacty'",
                                        "did you mean 'capacity'", "enabled, build_months, build_years"]),
    "programme-value-out-of-range": (None, 5, ["'rangers.capacity' = -3000", "out of range"]),
    "enabled-not-bool": (None, 4, ["'programmes.photovoltaic.enabled' = 'no'",
                                   "expected true or false"]),
    "set-twice": (None, 7, ["sets parameter 'industry.capacity'", "[parameters] sets too",
                            "set-twice.toml, line 4"]),
    "wrong-type": (None, 5, ["'run.seeds' = '20'", "expected int"]),
    "bad-scale": (None, 4, ["'run.scale' = 1.5", "out of range"]),
    "zero-scale": (None, 4, ["'run.scale' = 0", "out of range"]),
    "unknown-batch": (None, 5, ["unknown batch 'prodution'", "did you mean 'production'"]),
    "negative-quota": (None, 5, ["targets.batch_quota.relocation 2016 = -23000",
                                 "whole number of persons from 0 to"]),
    "share-above-one": (None, 4, ["targets.villages_exit_share 2016 = 1.2",
                                  "a share from 0 to 1"]),
    "shares-add-up": (None, 4, ["targets.counties_exit_share adds up to 1.2"]),
    "non-year-key": (None, 4, ["targets.registered_max y2017 = 250000", "expected a year"]),
    "missing-parent": (None, 2, ["extends = 'xiangxii'", "did you mean 'xiangxi'"]),
    "cycle-a": ("cycle-b", 3, ["cycle (cycle-a.toml -> cycle-b.toml -> cycle-a.toml)"]),
    "cycle-b": ("cycle-a", 2, ["cycle (cycle-b.toml -> cycle-a.toml -> cycle-b.toml)"]),
    "broken-parent": ("unknown-parameter", 6, ["unknown parameter 'povrety_line'"]),
    "toml-syntax": (None, 4, ["invalid TOML", "Expected '='"]),
    "not-listed": (None, 7, ["programme 'industry' is enabled but run.programmes does not list"]),
}


def test_every_broken_file_has_an_expectation():
    assert {p.stem for p in BROKEN_DIR.glob("*.toml")} == set(BROKEN_FILES)


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_broken_scenario_file(name):
    named, line, fragments = BROKEN_FILES[name]
    with pytest.raises(ScenarioError) as info:
        load_scenario(BROKEN_DIR / f"{name}.toml")
    msg = str(info.value)
    path = BROKEN_DIR / f"{named or name}.toml"
    # the file as given, or, for a parent found through extends, as seen from here
    assert any(msg.startswith(f"{shown}, line {line}: ")
               for shown in (path, os.path.relpath(path))), msg
    assert "\n" not in msg
    for fragment in fragments:
        assert fragment in msg, msg


@pytest.mark.parametrize("name", sorted(BROKEN_FILES))
def test_broken_scenario_file_through_the_cli(name, tmp_path, monkeypatch, capsys):
    from model.cli import main

    named, line, _ = BROKEN_FILES[name]
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(BROKEN_DIR / f"{name}.toml")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("povsim: error: "), err
    assert f"{named or name}.toml, line {line}" in lines[0]
    assert list(tmp_path.iterdir()) == []          # no output folder


# ---------------------------------------------------------------- reduced scale

def _registered(reg):
    h = reg.households
    keep = h["registered"] == 1
    return int(keep.sum()), int(h["size"][keep].sum())


def test_spec_built_at_a_reduced_scale():
    from model.registry import synth

    full = synth.build(*synth.load_spec("xiangxi"))
    small = synth.build(*synth.load_spec("xiangxi"), scale=0.1)
    (fh, fp), (sh, sp) = _registered(full), _registered(small)
    assert (sh, sp) == (round(fh * 0.1), round(fp * 0.1))        # exact totals, scaled
    assert small.county_names == full.county_names                # counties kept
    n_villages = len(small.villages["village_id"])
    assert 0.09 * len(full.villages["village_id"]) <= n_villages <= 0.11 * len(
        full.villages["village_id"])
    # incidence (registered people / rural population) and composition stay
    def incidence(reg, people):
        return people / reg.counties["rural_population"].sum()
    assert incidence(small, sp) == pytest.approx(incidence(full, fp), rel=0.01)
    for name in ("labourers", "ill", "elderly"):
        assert small.households[name].mean() == pytest.approx(full.households[name].mean(),
                                                              rel=0.05), name
    # and with exact margins (Ruyuan's published table becomes shares)
    ruyuan = synth.build(*synth.load_spec("ruyuan"), scale=0.5)
    assert _registered(ruyuan) == (1472, 3754)
    dibao = (ruyuan.households["category"] == 1).sum()
    assert dibao == pytest.approx(1634 / 2, abs=15)


def test_scale_out_of_range_for_a_spec():
    from model.registry import synth

    with pytest.raises(PovsimError, match="scale 0: expected a share"):
        synth.build(*synth.load_spec("ruyuan"), scale=0)


def test_registry_file_subsampled(tmp_path):
    from model import runs
    from model.registry import files as registry_io
    from model.registry import synth

    full = synth.build(*synth.load_spec("xiangxi"))
    path = tmp_path / "xiangxi.nc"
    registry_io.write_registry(full, path)
    whole = runs.load_registry(path)
    half = runs.load_registry(path, scale=0.5)
    assert half is not whole and runs.load_registry(path, scale=0.5) is half   # cached per scale
    n = whole.n_households
    assert abs(half.n_households - n / 2) < 4 * (n * 0.25) ** 0.5
    kept = half.households["hh_id"]
    assert np.isin(kept, whole.households["hh_id"]).all()          # ids kept: same random numbers
    assert runs.subsample(whole, 0.5).households["hh_id"].tolist() == kept.tolist()
    ratio = half.counties["rural_population"].sum() / whole.counties["rural_population"].sum()
    assert ratio == pytest.approx(0.5, rel=1e-3)
    assert _registered(half)[1] / half.counties["rural_population"].sum() == pytest.approx(
        _registered(whole)[1] / whole.counties["rural_population"].sum(), rel=0.02)
    half.validate()
    assert runs.subsample(whole, 1.0) is whole


def test_registry_for_uses_the_scenario_scale(tmp_path):
    import dataclasses

    from model import runs

    s = load_scenario("xiangxi")
    small = runs.registry_for(dataclasses.replace(s, scale=0.02))
    assert _registered(small)[1] == 10000                 # 500,000 x 0.02
    assert runs.registry_for(dataclasses.replace(s, scale=0.02)) is small
    path = _write(tmp_path, "s", 'name = "s"\n[run]\nregistry = "xiangxi"\nscale = 0.02\n')
    assert runs.registry_for(load_scenario(path)) is small


def test_a_scenario_with_an_old_parameter_name_says_the_new_one(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('name = "old"\n[parameters]\npolicy_grace_years = 0\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="did you mean 'household_exit.policy_grace_years'"):
        load_scenario(path)


def test_label_by_language_or_plain(tmp_path):
    plain = parse_scenario('name = "a"\nlabel = "Plan A"\n', "a.toml")
    assert plain.label == {"en": "Plan A"}
    both = parse_scenario('name = "b"\nlabel = { en = "Plan B", zh = "方案B" }\n', "b.toml")
    assert both.label == {"en": "Plan B", "zh": "方案B"}
    assert load_scenario("xiangxi").label["zh"] and load_scenario("xiangxi-late-funds").label
    child = parse_scenario('name = "c"\nextends = "xiangxi"\n', "c.toml",
                           path=find_scenario("xiangxi").parent / "c.toml")
    assert child.label == {}                    # a label is the file's own, like the name
    with pytest.raises(ScenarioError, match=r"b.toml, line 2: label.fr = 'x'.*en, zh"):
        parse_scenario('name = "b"\nlabel = { fr = "x" }\n', "b.toml")
