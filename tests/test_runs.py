"""Runs: one run path for `povsim run`, `povsim compare` and the API;
reduced-scale registries; year checks."""

import dataclasses

import numpy as np
import pytest
import xarray as xr

from model import runs
from model.errors import ScenarioError
from model.scenario import load_scenario


@pytest.fixture(scope="module")
def scenario():
    return load_scenario()


def test_run_and_compare_write_the_same_variables_and_numbers(scenario):
    one = runs.run(scenario, seeds=[0, 1], progress=False)
    (both,) = runs.run_all([scenario], [0, 1], workers=1, progress=False)
    assert set(one.data_vars) == set(both.data_vars)
    assert {"poor_village", "poor_county"} <= set(one.data_vars)
    xr.testing.assert_identical(one.drop_attrs(), both.drop_attrs())
    assert one.attrs["scale"] == both.attrs["scale"] == scenario.scale


def test_seeds_are_concatenated_in_the_order_given(scenario):
    ds = runs.run(scenario, seeds=[3, 1], progress=False)
    assert list(ds["seed"].values) == [3, 1]
    alone = runs.run(scenario, seeds=[1], progress=False)
    xr.testing.assert_identical(ds.sel(seed=[1])["registered_people"],
                                alone["registered_people"])


def test_subsample_keeps_the_same_households_whatever_the_row_order(scenario):
    registry = runs.registry_for(scenario)
    half = runs.subsample(registry, 0.5)
    order = np.random.default_rng(0).permutation(registry.n_households)
    shuffled = dataclasses.replace(
        registry, households={k: v[order] for k, v in registry.households.items()})
    again = runs.subsample(shuffled, 0.5)
    assert 0.4 < half.n_households / registry.n_households < 0.6
    assert set(half.households["hh_id"]) == set(again.households["hh_id"])
    ratio = half.counties["rural_population"] / registry.counties["rural_population"]
    assert np.all((ratio > 0.45) & (ratio < 0.55))


def test_an_end_year_before_the_registry_is_an_error(scenario):
    registry = runs.registry_for(scenario)
    early = dataclasses.replace(scenario, end_year=registry.base_year)
    with pytest.raises(ScenarioError, match="must be after the registry's base year"):
        runs.run(early, seeds=[0], progress=False)


def test_a_subsampled_registry_scales_its_work_teams_like_its_households(scenario):
    from model.engine.sim import Simulation
    from model.programmes.measures import instances

    registry = runs.registry_for(scenario)
    half = runs.subsample(registry, 0.5)
    assert registry.village_share == 1.0 and half.village_share == 0.5
    full_teams = Simulation(registry, scenario.params, 0, 2017, instances()).team_villages
    half_teams = Simulation(half, scenario.params, 0, 2017, instances()).team_villages
    # every village keeps some registered households, so half the teams
    assert half_teams.sum() == pytest.approx(0.5 * full_teams.sum(), rel=0.05)


def test_runs_on_workers_compile_before_the_progress_bar_starts(scenario, monkeypatch):
    """With local workers, the kernels are compiled (first run after
    install) before the bar times the first run; a stand-in takes the
    cluster's place."""
    from contextlib import contextmanager

    events = []

    class Stop(Exception):
        pass

    def bar(*args, **kwargs):
        events.append("bar")
        raise Stop

    @contextmanager
    def cluster(workers):
        events.append("cluster")
        yield None

    monkeypatch.setattr(runs, "compile_kernels_first", lambda: events.append("compile"))
    monkeypatch.setattr(runs, "_cluster", cluster)
    monkeypatch.setattr(runs, "progress_bar", bar)
    with pytest.raises(Stop):
        runs.run_all([scenario], [0, 1], workers=2, progress=False)
    assert events == ["compile", "cluster", "bar"]


@pytest.mark.slow   # compiles every listed kernel (and starts a local cluster)
@pytest.mark.parametrize("pool", ["runs.Tasks(2, 2)", "runs.Tasks(3, 1)"])
def test_tasks_start_once_this_process_has_compiled_the_kernels(tmp_path, pool):
    """On an empty numba cache, the workers of a local cluster find the
    kernels compiled (they would otherwise each compile them at once), and
    so do tasks run in this process (they would compile them one by one)."""
    import os
    import subprocess
    import sys

    code = ("from model import precompile, runs\n"
            "cold = precompile.is_cold()\n"
            f"with {pool}:\n"
            "    print(cold, precompile.is_cold())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path)))
    assert done.stdout.split() == ["True", "False"]


@pytest.mark.slow   # starts a local cluster
def test_local_workers_start_with_one_malloc_arena():
    import os

    with runs._cluster(1) as client:
        assert client.submit(os.environ.get, "MALLOC_ARENA_MAX", pure=False).result() == "1"
