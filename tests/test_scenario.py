"""Scenarios: the embedded default, and broken texts each giving one clear error."""

from __future__ import annotations

import re

import pytest

import model
from model.errors import PovsimError, ScenarioError
from model.measures import PROGRAMMES
from model.scenario import load_scenario, parse_scenario

ALL_PROGRAMMES = tuple(c.name for c in PROGRAMMES)
NO_TARGETS = {"zero_by": None, "exits_people": {}, "registered_max": {}, "incidence_max": {},
              "batch_quota": {}, "villages_exit_share": {}, "counties_exit_share": {},
              "counties_exit_by": None}


# ---------------------------------------------------------------- the default

def test_default_scenario_loads():
    s = load_scenario()
    assert s.name == "ruyuan"
    assert s.registry == "ruyuan"
    assert s.end_year == 2020
    assert s.seeds == 1
    assert s.programmes == ALL_PROGRAMMES
    assert s.source == "model/default_scenario.toml"
    assert 'name = "ruyuan"' in s.text
    assert s.targets == {**NO_TARGETS, "exits_people": {2016: 2500, 2017: 3000, 2018: 2008},
                         "zero_by": 2018}
    assert (s.scale, s.extends) == (1.0, ())
    # its parameter overlays are applied
    assert s.params.scalar("poverty_line", 2016) == 6433
    assert s.params.scalar("poverty_line", 2020) == 8433
    assert s.params.scalar("safety_net_exit_at_dibao", 2016) == 1
    assert s.params.scalar("dibao_standard_ratio", 2017) == pytest.approx(0.75)
    assert s.params.scalar("income_persistence", 2016) == pytest.approx(0.7)  # not overlaid


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

