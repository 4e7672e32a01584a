"""Sweeps: the Sobol wiring against the Ishigami function, a grid sweep
against compare, resuming a store, sweep-file errors, and a sweep on an
external Dask scheduler."""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from model import runs
from model.analysis import compare
from model.analysis.outcomes import exited_share
from model.cli import main
from model.scenario import parse_scenario
from model.sweep import analyse, design
from model.sweep.execute import execute
from model.sweep.spec import Factor, Sweep, parse_sweep
from model.sweep.store import DONE, FAILED, STORE, SweepStore, Task

BROKEN = Path(__file__).parent / "broken_sweeps"
OUTCOMES = ["zero_year", "registered_end", "cost_per_exit", "registered_poor:2018",
            "county_exits:2019", "met:zero_by:2019", "met:zero_by:2020"]
SWEEP = f"""
name = "gain"
scenarios = ["default"]
seeds = 2
scale = 0.5
outcomes = {OUTCOMES!r}
series = ["registered", "cost"]

[design]
kind = "grid"

[factors."industry.gain"]
levels = [500, 3000, 9000]
"""


# ---------------------------------------------------------------- Sobol wiring

def _ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def _ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The analytical first- and total-order indices (Ishigami and Homma 1990)."""
    v1 = 0.5 * (1 + b * math.pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * math.pi ** 8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / var, np.array([v1 + v13, v2, v13]) / var


def _abstract_sweep(kind: str, points: int, factors: tuple[Factor, ...]) -> Sweep:
    return Sweep(name="ishigami", description="", source="test", text="", scenarios=(),
                 factors=factors, design=kind, points=points, second_order=False, levels=4,
                 design_seed=1, seeds=(0,), outcomes=(), series=())


def _info(sweep: Sweep) -> dict:
    return {"factors": [f.name for f in sweep.factors], "design": sweep.design,
            "bounds": [[f.low, f.high] for f in sweep.factors],
            "log": [f.log for f in sweep.factors], "second_order": sweep.second_order,
            "design_seed": sweep.design_seed, "levels": sweep.levels}


def test_sobol_wiring_reproduces_the_ishigami_indices():
    factors = tuple(Factor(f"x{k}", -math.pi, math.pi) for k in (1, 2, 3))
    sweep = _abstract_sweep("sobol", 2048, factors)
    x = design.sample(sweep)
    assert x.shape == (2048 * 5, 3)
    rows = analyse.indices_for(_info(sweep), x, _ishigami(x), np.ones(len(x), bool))
    s1, st = _ishigami_indices()
    got_s1 = np.array([r["S1"] for r in rows])
    got_st = np.array([r["ST"] for r in rows])
    np.testing.assert_allclose(got_s1, s1, atol=0.04)
    np.testing.assert_allclose(got_st, st, atol=0.04)
    assert all(0 < r["ST_conf"] < 0.1 for r in rows)


def test_morris_ranks_the_ishigami_factors_and_log_factors_are_sampled_in_log():
    factors = tuple(Factor(f"x{k}", -math.pi, math.pi) for k in (1, 2, 3))
    sweep = _abstract_sweep("morris", 200, factors)
    x = design.sample(sweep)
    rows = analyse.indices_for(_info(sweep), x, _ishigami(x), np.ones(len(x), bool))
    mu = [r["mu_star"] for r in rows]
    assert mu[1] > mu[0] > mu[2] > 0   # x2 (a sin^2) > x1 > x3 (through x1 only)
    log = _abstract_sweep("lhs", 400, (Factor("g", 10.0, 1000.0, log=True),))
    values = design.sample(log)[:, 0]
    assert 10 <= values.min() and values.max() <= 1000
    assert abs(np.mean(values < 100) - 0.5) < 0.01   # half below the geometric midpoint


def test_thresholds_interpolate_where_the_probability_crosses():
    xs = np.array([1.0, 2.0, 3.0, 4.0])
    ps = np.array([0.0, 0.4, 0.8, 1.0])
    assert analyse.crossing(xs, ps, 0.5) == ("at", pytest.approx(2.25))
    assert analyse.crossing(xs, ps, 0.9) == ("at", pytest.approx(3.5))
    assert analyse.crossing(xs, np.ones(4), 0.5) == ("below", 1.0)
    assert analyse.crossing(xs, ps * 0.5, 0.9) == ("never", 0.5)


# ---------------------------------------------------------------- grid = compare

@pytest.fixture(scope="module")
def gain_sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "gain.toml").write_text(SWEEP, encoding="utf-8")
    sweep = parse_sweep(SWEEP, str(folder / "gain.toml"), folder / "gain.toml")
    x = design.sample(sweep)
    store, _ = SweepStore.for_sweep(folder / "out", sweep, x)
    summary = execute(sweep, store, x, workers=1, progress=False)
    return sweep, x, store, summary


def test_kernels_are_compiled_before_the_progress_bar_starts(gain_sweep, tmp_path, monkeypatch):
    """On the first run after install the bar would otherwise time the
    compiling as the first task, and promise minutes (the compiling itself:
    tests/test_runs.py)."""
    import model.sweep.execute as executing

    sweep, x, _, _ = gain_sweep
    events = []
    monkeypatch.setattr(runs, "compile_kernels_first", lambda: events.append("compile"))
    bar = executing.tqdm
    monkeypatch.setattr(executing, "tqdm", lambda *a, **k: events.append("bar") or bar(*a, **k))
    store, _ = SweepStore.for_sweep(tmp_path / "out", sweep, x)
    execute(sweep, store, x, workers=1, progress=False)
    assert events[:2] == ["compile", "bar"]


def test_a_grid_sweep_equals_compare_on_the_same_points(gain_sweep, tmp_path):
    sweep, x, store, summary = gain_sweep
    assert (summary.ran, summary.failed, summary.skipped) == (6, 0, 0)
    assert x[:, 0].tolist() == [500, 3000, 9000]
    scenarios = []
    for gain in x[:, 0]:
        text = f'name = "g{gain:g}"\nextends = "default"\n[run]\nscale = 0.5\n' \
               f'[parameters]\nindustry.gain = {float(gain)!r}\n'
        scenarios.append(parse_scenario(text, f"g{gain:g}", tmp_path / "g.toml"))
    datasets = runs.run_all(scenarios, list(sweep.seeds), workers=1, progress=False)
    cmp = compare.compare(datasets)
    ds = store.dataset()
    got = ds["outcomes"].isel(scenario=0)
    for name in ("zero_year", "registered_end", "cost_per_exit"):
        np.testing.assert_array_equal(got.sel(outcome=name).values, cmp[name].values)
    np.testing.assert_array_equal(got.sel(outcome="registered_poor:2018").values,
                                  cmp["registered_people_total"].sel(year=2018).values)
    for target in ("zero_by:2019", "zero_by:2020"):
        np.testing.assert_array_equal(got.sel(outcome=f"met:{target}").values,
                                      cmp["target_met"].sel(target=target).values)
    np.testing.assert_array_equal(
        ds["series_registered"].isel(scenario=0).sel(year=cmp["year"].values).values,
        cmp["registered_people_total"].values)
    shares = [exited_share(d["county_exit_year"], d["poor_county"], "county", 2019).values
              for d in datasets]
    np.testing.assert_array_equal(got.sel(outcome="county_exits:2019").values, shares)
    assert len(np.unique(got.sel(outcome="registered_end").values)) > 1   # the factor acts


def test_the_analysis_of_a_grid_sweep_writes_its_summary_and_charts(gain_sweep, tmp_path):
    _, _, store, _ = gain_sweep
    _, files = analyse.write(store, tmp_path)
    assert files == ["sweep.md", "indices.csv", "response.png"]
    text = (tmp_path / "sweep.md").read_text(encoding="utf-8")
    assert "6 tasks; 6 done, 0 failed" in text and "## Thresholds" in text
    assert (tmp_path / "response.png").stat().st_size > 0


def test_a_factor_for_some_years_keeps_the_scenario_values_in_the_others():
    from model.scenario import load_scenario
    scenario = load_scenario("xiangxi")
    factor = Factor("relocation.capacity", 0.0, 50000.0, years=(2017, 2018))
    params = scenario.params.with_overlay(factor.overlay(40000.0, scenario.params, 2020))
    for year in range(2012, 2021):
        want = 40000.0 if year in (2017, 2018) else scenario.params.scalar(
            "relocation.capacity", year)
        assert params.scalar("relocation.capacity", year) == want
    assert params.scalar("relocation.capacity", 2016) == 23000   # the plan's 2016 quota


# ---------------------------------------------------------------- resuming

def test_resume_runs_only_what_is_not_done_and_gives_the_same_store(gain_sweep, tmp_path):
    sweep, x, done_store, _ = gain_sweep
    reference = done_store.dataset()
    store, existed = SweepStore.for_sweep(tmp_path, sweep, x)
    assert not existed and len(store.todo()) == 6
    # a first run cut short: two tasks finished
    for task in store.todo()[:2]:
        k, i, j = task.scenario, task.point, task.seed
        series = {n: reference[f"series_{n}"].values[k, i, j] for n in sweep.series}
        store.write(task, reference["outcomes"].values[k, i, j], series)
    # a half-written slice: outcomes written, status not; and a failed task
    store._outcomes[0, 2, 0, :] = -1.0
    store.fail(Task(0, 2, 1), "RuntimeError: boom", list(x[2]))
    again, existed = SweepStore.for_sweep(tmp_path, sweep, x, resume=True)
    assert existed
    assert again.failures()["0-2-1"]["error"] == "RuntimeError: boom"
    assert [t.key for t in again.todo()] == ["0-1-0", "0-1-1", "0-2-0", "0-2-1"]
    summary = execute(sweep, again, x, workers=1, progress=False)
    assert (summary.ran, summary.skipped, summary.failed) == (4, 2, 0)
    assert again.failures() == {}
    resumed = SweepStore.open(tmp_path).dataset()
    assert (resumed["status"] == DONE).all()
    np.testing.assert_array_equal(resumed["outcomes"].values, reference["outcomes"].values)
    np.testing.assert_array_equal(resumed["series_cost"].values, reference["series_cost"].values)
    assert execute(sweep, again, x, workers=1, progress=False).ran == 0


def test_a_store_of_another_sweep_is_not_resumed(gain_sweep, tmp_path):
    sweep, x, _, _ = gain_sweep
    SweepStore.for_sweep(tmp_path, sweep, x)
    other = dataclasses.replace(sweep, text=sweep.text.replace("9000", "8000"))
    with pytest.raises(Exception, match="holds another sweep"):
        SweepStore.for_sweep(tmp_path, other, design.sample(other))
    with pytest.raises(Exception, match="no sweep store"):
        SweepStore.for_sweep(tmp_path / "none", sweep, x, resume=True)
    assert not (tmp_path / (STORE + ".partial")).exists()


def test_a_task_that_raises_is_recorded_and_the_exit_code_is_1(tmp_path, capsys):
    # a zero household exit margin below its declared range is caught by the
    # sweep file; a task fails instead on a registry file that is not there
    text = SWEEP.replace('scenarios = ["default"]', 'scenarios = ["bad.toml"]') \
        .replace("levels = [500, 3000, 9000]", "levels = [500, 3000]")
    (tmp_path / "bad.toml").write_text('name = "bad"\nextends = "default"\n[run]\n'
                                       'registry = "missing.nc"\n', encoding="utf-8")
    (tmp_path / "s.toml").write_text(text, encoding="utf-8")
    code = main(["sweep", str(tmp_path / "s.toml"), "--workers", "1", "--out",
                 str(tmp_path / "out"), "--no-progress"])
    assert code == 1
    store = SweepStore.open(tmp_path / "out")
    assert (store.status() == FAILED).all()
    failure = store.failures()["0-1-0"]
    assert failure["values"] == {"industry.gain": 3000.0} and "missing.nc" in failure["error"]
    assert "## Failed tasks" in (tmp_path / "out" / "sweep.md").read_text(encoding="utf-8")
    assert "4 task(s) failed" in capsys.readouterr().err


# ---------------------------------------------------------------- sweep-file errors

BROKEN_CASES = {
    "misspelt_key.toml": r"line 4: unknown key 'desing' \(did you mean 'design'\?\)",
    "unknown_parameter.toml": r"line 7: unknown parameter 'relocation.capacty'.*"
                              r"relocation.capacity",
    "out_of_range.toml": r"line 8: 'factors.industry.hazard.range' = \[0.0, 2.0\] leaves the "
                         r"declared range of 'industry.hazard' \[0, 1\]",
    "sobol_points.toml": r"line 5: 'design.points' = 100: Saltelli's sample needs a power of 2",
    "bad_outcome.toml": r"line 2: unknown outcome 'zero_yaer' \(did you mean 'zero_year'\?\)",
    "levels_not_grid.toml": r"line 8: 'factors.industry.gain.levels' is for grid designs only",
    "wrong_type.toml": r"line 2: 'seeds' = 'two': expected int",
    "unknown_scenario.toml": r"line 1: scenario 'xiangxii' not found.*did you mean 'xiangxi'",
    "bad_toml.toml": r"not valid TOML",
    "unknown_target.toml": r"line 2: outcome 'met:registered_max:2018': no scenario of the sweep "
                           r"has target 'registered_max:2018'.*did you mean "
                           r"'registered_max:2017'",
}


@pytest.mark.parametrize("name", sorted(BROKEN_CASES))
def test_a_broken_sweep_file_is_one_clear_error(name, capsys, tmp_path):
    code = main(["sweep", str(BROKEN / name), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"povsim: error: {BROKEN / name}") or "not valid TOML" in err
    assert re.search(BROKEN_CASES[name], err), err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_quick_sweep_arguments_are_checked(capsys, tmp_path):
    assert main(["sweep", "default", "--vary", "industry.gain=1000", "--out",
                 str(tmp_path)]) == 2
    assert "expected NAME=LOW:HIGH" in capsys.readouterr().err
    assert main(["sweep", "default", "--out", str(tmp_path)]) == 2
    assert "needs at least one --vary" in capsys.readouterr().err
    assert main(["sweep", "--analyse", str(tmp_path / "nothing")]) == 2
    assert "no sweep store" in capsys.readouterr().err



@pytest.mark.parametrize("extra, where, what", [
    (["--vary", "industry.gain=2000:1000"], "--vary 'industry.gain=2000:1000'", "low < high"),
    (["--vary", "industry.gian=1000:2000"], "--vary 'industry.gian=1000:2000'",
     "did you mean 'industry.gain'"),
    (["--vary", "industry.gain=1000:2000", "--outcome", "zero_yeer"], "--outcome",
     "did you mean 'zero_year'"),
    (["--vary", "industry.gain=1000:2000", "--vary", "industry.hazard=0:0.1",
      "--design", "sobol", "--points", "3"], "--points", "power of 2"),
    (["--vary", "industry.gain=1000:2000", "--vary", "industry.gain=500:900"],
     "--vary 'industry.gain=500:900'", "already given by --vary 'industry.gain=1000:2000'"),
])
def test_quick_sweep_errors_name_the_option_not_a_line(capsys, tmp_path, extra, where, what):
    """A quick sweep is checked as the sweep file it stands for; a message
    names the option the value came from, never a line of that text."""
    code = main(["sweep", "default", *extra, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert where in err and what in err, err
    assert "line" not in err.split(":")[1], err
    assert not (tmp_path / "out").exists()

# ---------------------------------------------------------------- external scheduler

@pytest.mark.slow
def test_a_sweep_on_an_external_scheduler_equals_one_in_process(gain_sweep, tmp_path):
    sweep, x, reference, _ = gain_sweep
    file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                                  "--scheduler-file", str(file), "--port", "0",
                                  "--no-dashboard"], stderr=subprocess.DEVNULL)
    worker = None
    try:
        for _ in range(600):
            if file.exists() and file.stat().st_size:
                break
            time.sleep(0.1)
        import json
        address = json.loads(file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                   "--scheduler-file", str(file), "--nworkers", "1",
                                   "--nthreads", "1", "--no-dashboard"],
                                  stderr=subprocess.DEVNULL)
        store, _ = SweepStore.for_sweep(tmp_path / "out", sweep, x)
        summary = execute(sweep, store, x, scheduler=address, progress=False)
        assert (summary.ran, summary.failed) == (6, 0)
        np.testing.assert_array_equal(store.dataset()["outcomes"].values,
                                      reference.dataset()["outcomes"].values)
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(30)



def test_run_takes_the_run_options_of_compare_and_sweep(tmp_path, capsys):
    code = main(["run", "default", "--scale", "0.5", "--seeds", "1", "--workers", "1",
                 "--lang", "en", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    import xarray as xr
    with xr.open_dataset(tmp_path / "results.nc") as ds:
        assert ds.attrs["scale"] == 0.5


def test_confidence_intervals_are_the_same_each_time():
    factors = tuple(Factor(f"x{k}", -math.pi, math.pi) for k in (1, 2, 3))
    sweep = dataclasses.replace(_abstract_sweep("sobol", 256, factors), design_seed=0)
    x = design.sample(sweep)
    runs_ = [analyse.indices_for(_info(sweep), x, _ishigami(x), np.ones(len(x), bool))
             for _ in range(2)]
    assert runs_[0] == runs_[1]
