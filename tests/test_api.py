"""The Python API a researcher guesses: tidy tables, changed scenarios,
coordinates with attributes, parallel runs from a script without a guard."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import model
from model.errors import ScenarioError

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def ruyuan():
    return model.run(model.load_scenario("ruyuan"), seeds=[0, 1], progress=False)


# ---------------------------------------------------------------- tidy tables

def test_each_group_is_a_long_table_of_its_own_dimensions(ruyuan):
    groups = model.tidy_groups(ruyuan)
    assert sorted(n for names in groups.values() for n in names) == sorted(ruyuan.data_vars)
    tables = model.tidy(ruyuan)
    assert set(tables) == set(groups)
    for group, frame in tables.items():
        dims = list(ruyuan[groups[group][0]].dims)
        assert len(frame) == math.prod(ruyuan.sizes[d] for d in dims), group
        assert list(frame.columns) == dims + groups[group]
    people = model.tidy(ruyuan, "registered_people")
    assert list(people.columns[:4]) == ["seed", "year", "county", "category"]
    assert people.attrs["units"]["registered_people"] == "persons"
    assert people.attrs["scenario"] == "ruyuan" and people.attrs["scale"] == 1.0
    # the numbers are the dataset's
    by_year = people.groupby(["seed", "year"])["registered_people"].sum()
    expected = ruyuan["registered_people"].sum(["county", "category"])
    np.testing.assert_array_equal(by_year.to_numpy(), expected.values.ravel())


def test_tidy_by_group_name_or_variable_list(ruyuan):
    a = model.tidy(ruyuan, "seed x year x county x batch")
    b = model.tidy(ruyuan, "exits_by_batch_people")
    assert a.equals(b)
    c = model.tidy(ruyuan, ["exits_by_batch_people", "exits_reached_people"])
    assert list(c.columns) == ["seed", "year", "county", "batch", "exits_by_batch_people",
                               "exits_reached_people"]
    with pytest.raises(ValueError, match="share their dimensions"):
        model.tidy(ruyuan, ["registered_people", "cost"])
    with pytest.raises(KeyError, match="did you mean 'registered_people'"):
        model.tidy(ruyuan, "registered_peeple")


def test_coordinates_carry_units_and_long_names(ruyuan):
    for name in ruyuan.dims:
        assert ruyuan[name].attrs.get("long_name"), name
        assert ruyuan[name].attrs.get("units"), name


def test_tidy_of_xiangxi_with_20_seeds_stays_small():
    """The Cartesian product of every dimension would hold over 10^9 cells;
    every group together stays far under 200 MB."""
    scenario = dataclasses.replace(model.load_scenario("xiangxi"), scale=0.01)
    ds = model.run(scenario, seeds=range(20), progress=False)
    product = math.prod(ds.sizes.values())
    assert product * len(ds.data_vars) > 10**9        # what to_dataframe() would build
    tracemalloc.start()
    tables = model.tidy(ds)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MB"
    assert sum(len(t) for t in tables.values()) < 10**6


# ---------------------------------------------------------------- changed scenarios

def test_with_parameters_returns_a_checked_copy():
    base = model.load_scenario("ruyuan")
    more = base.with_parameters({"industry.capacity": 900}, name="more")
    assert more.name == "more" and base.name == "ruyuan"
    assert more.params.scalar("industry.capacity", 2017) == 900
    assert base.params.scalar("industry.capacity", 2017) != 900
    assert "industry.capacity" in more.text and more.source.endswith("with_parameters")
    nested = base.with_parameters({"industry": {"capacity": {2017: 900}}})
    assert nested.params.scalar("industry.capacity", 2017) == 900
    assert nested.params.scalar("industry.capacity", 2016) == \
        base.params.scalar("industry.capacity", 2016)
    with pytest.raises(ScenarioError, match="unknown parameter 'industry.capacty'.*capacity"):
        base.with_parameters({"industry.capacty": 900})
    with pytest.raises(ScenarioError, match="industry.capacity"):
        base.with_parameters({"industry.capacity": -5})


def test_with_programme_switches_and_sets_a_programme():
    base = model.load_scenario("ruyuan")
    assert "photovoltaic" in base.programmes
    off = base.with_programme("photovoltaic", enabled=False, name="no-pv")
    assert "photovoltaic" not in off.programmes and off.name == "no-pv"
    back = off.with_programme("photovoltaic")
    assert back.programmes == base.programmes
    less = base.with_programme("housing", capacity=50)
    assert less.params.scalar("housing.capacity", 2017) == 50
    with pytest.raises(ScenarioError, match="unknown programme 'photovoltaics'.*photovoltaic"):
        base.with_programme("photovoltaics")
    with pytest.raises(ScenarioError, match="unknown setting 'capcity'.*capacity"):
        base.with_programme("housing", capcity=50)
    assert off.programmes == tuple(p for p in base.programmes if p != "photovoltaic")


def test_changed_scenario_changes_the_run():
    base = dataclasses.replace(model.load_scenario("ruyuan"), seeds=1)
    a = model.run(base, seeds=[0], progress=False)
    b = model.run(base.with_programme("housing", enabled=False), seeds=[0], progress=False)
    assert float(a["exits_people"].sum()) != float(b["exits_people"].sum())
    assert "housing" not in list(b["programme"].values)


# ---------------------------------------------------------------- parallel from a script

@pytest.mark.slow   # starts a local cluster: about 35 s on two cores
def test_parallel_runs_from_a_script_without_a_main_guard(tmp_path):
    script = tmp_path / "noguard.py"
    script.write_text(
        "import dataclasses\n"
        "from model import runs\n"
        "from model.scenario import load_scenario\n"
        "s = dataclasses.replace(load_scenario('ruyuan'), scale=0.3)\n"
        "print('top level', flush=True)\n"
        "out = runs.run_all([s, s], [0, 1], workers=2, progress=False)\n"
        "print('seeds', [int(d.sizes['seed']) for d in out])\n", encoding="utf-8")
    env = {k: v for k, v in __import__("os").environ.items()}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("top level") == 1        # the workers did not run the script
    assert "seeds [2, 2]" in proc.stdout
