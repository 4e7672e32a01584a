"""The command line: clear errors, and one full default run.

The full run, the version, the help and a few errors run in a fresh process
(``python -m model``), as a user starts them; the other cases call the
command's ``main`` in this process, which is what ``python -m model`` runs,
without the start-up of a new interpreter each time.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

ROOT = Path(__file__).parents[1]
N_HOUSEHOLDS = 2944  # the Ruyuan registry


def povsim(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # the tests must run the checked-out package whatever the cwd
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "model", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def povsim_here(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command's ``main`` in this process, in ``cwd``: its exit code and
    what it printed, as :func:`povsim` gives them."""
    from model import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return subprocess.CompletedProcess(["povsim", *args], code, out.getvalue(), err.getvalue())


def assert_clean_error(proc: subprocess.CompletedProcess) -> str:
    """Exit code 2, exactly one stderr line 'povsim: error: ...', no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert "Traceback" not in proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("povsim: error:"), lines[0]
    return lines[0]


# ---------------------------------------------------------------- bad arguments

BAD_SCENARIO = 'name = "x"\n[run]\nend_yaer = 2020\n'


BAD_ARGUMENTS = [
    pytest.param(["run", "--seeds", "x"], ["--seeds", "'x' is not a whole number"], id="seeds x"),
    pytest.param(["run", "--seeds", "0"], ["--seeds", "at least 1"], id="seeds 0"),
    pytest.param(["run", "--seed", "-1"], ["--seed"], id="seed -1"),
    pytest.param(["run", "missing.toml"], ["missing.toml", "not found"], id="missing file"),
    pytest.param([], ["required", "command"], id="no subcommand"),
    pytest.param(["run", "--bogus"], ["unrecognized arguments: --bogus"], id="unknown option"),
    pytest.param(["frobnicate"], ["invalid choice", "frobnicate"], id="unknown subcommand"),
    pytest.param(["run", "bad.toml"], ["bad.toml, line 3", "unknown key 'run.end_yaer'",
                                       "did you mean 'end_year'"], id="scenario unknown key"),
    pytest.param(["run", "typo.toml"], ["typo.toml, line 3", "unknown parameter 'povert_line'",
                                        "did you mean 'poverty_line'"], id="scenario bad param"),
    pytest.param(["run", "noreg.toml"], ["registry spec 'ruyan' not found",
                                         "did you mean 'ruyuan'"], id="unknown registry"),
    pytest.param(["run", "--out", "afile"], ["--out", "not a folder"], id="out is a file"),
    pytest.param(["run", "ruyan"], ["scenario 'ruyan' not found", "did you mean 'ruyuan'"],
                 id="run unknown name"),
    pytest.param(["compare", "default", "ruyan"], ["scenario 'ruyan' not found",
                                                   "did you mean 'ruyuan'"],
                 id="compare unknown name"),
    pytest.param(["compare", "--seeds", "0"], ["--seeds", "at least 1"], id="compare seeds 0"),
    pytest.param(["compare", "--lang", "fr"], ["--lang", "invalid choice: 'fr'"],
                 id="compare bad lang"),
    pytest.param(["compare", "--scale", "0"], ["--scale", "above 0"], id="compare scale 0"),
    pytest.param(["compare", "--workers", "0"], ["--workers", "at least 1"],
                 id="compare workers 0"),
    pytest.param(["compare", "noreg.toml", "--seeds", "2"], ["registry spec 'ruyan' not found"],
                 id="compare unknown registry"),
    pytest.param(["compare", "--out", "afile"], ["--out", "not a folder"],
                 id="compare out is a file"),
    pytest.param(["bench", "--sizes", "2.5e0"], ["--sizes", "'2.5e0' is not a whole number"],
                 id="bench size not whole"),
    pytest.param(["run", "--seeds", "2.5"], ["--seeds", "'2.5' is not a whole number"],
                 id="seeds 2.5"),
    pytest.param(["bench", "--against", "."], ["--against", "needs --startup"],
                 id="bench against without startup"),
    pytest.param(["bench", "--startup", "--against", "nowhere"],
                 ["--against nowhere", "no model package"], id="bench against no checkout"),
]
# an argument refused by the parser, none at all, and a scenario file refused
# after the model's imports: also in a fresh process
IN_A_FRESH_PROCESS = ("seeds x", "no subcommand", "scenario unknown key")


def assert_refused(command, args: list[str], fragments: list[str], tmp_path: Path) -> None:
    """``command(*args)`` (:func:`povsim` or :func:`povsim_here`) among the
    bad input files: a clean error holding every fragment, nothing written."""
    (tmp_path / "bad.toml").write_text(BAD_SCENARIO, encoding="utf-8")
    (tmp_path / "typo.toml").write_text('name = "x"\n[parameters]\npovert_line = 1\n',
                                        encoding="utf-8")
    (tmp_path / "noreg.toml").write_text('name = "x"\n[run]\nregistry = "ruyan"\n',
                                         encoding="utf-8")
    (tmp_path / "afile").write_text("", encoding="utf-8")
    line = assert_clean_error(command(*args, cwd=tmp_path))
    for fragment in fragments:
        assert fragment in line
    # nothing was written for a failed run
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("args, fragments", BAD_ARGUMENTS)
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, fragments):
    assert_refused(povsim_here, args, fragments, tmp_path)


@pytest.mark.parametrize("args, fragments",
                         [p for p in BAD_ARGUMENTS if p.id in IN_A_FRESH_PROCESS])
def test_bad_arguments_in_a_fresh_process(tmp_path, args, fragments):
    assert_refused(povsim, args, fragments, tmp_path)


def test_version(tmp_path):
    from model import __version__

    proc = povsim("--version", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"povsim {__version__}"


def test_run_names_its_folder_after_the_scenario(tmp_path, monkeypatch):
    """`povsim run` (the embedded default) and `povsim run ruyuan` are two
    scenarios: their default output folders differ."""
    from model import cli

    from model import atomic
    from model.errors import PovsimError

    folders = []

    def stop(path, *args, **kwargs):      # record the folder, then stop before any work
        folders.append(Path(path))
        raise PovsimError("stopped by the test")
    monkeypatch.setattr(atomic, "check_output_folder", stop)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run"]) == 2 and cli.main(["run", "ruyuan"]) == 2
    assert folders == [Path("outputs") / "default", Path("outputs") / "ruyuan"]


def test_run_and_compare_compile_ahead_unless_a_scheduler_runs_them(tmp_path, monkeypatch):
    """`povsim run` and `povsim compare` start the first run's compilation
    before they load the registry (runs.compiling_ahead), but not for a
    scheduler's workers, which compile their own."""
    from contextlib import nullcontext

    from model import cli, runs
    from model.errors import PovsimError

    ahead = []

    def stop(scenario):                    # stop at the registry, before any work
        raise PovsimError("stopped by the test")
    monkeypatch.setattr(runs, "compiling_ahead",
                        lambda scenario: ahead.append(scenario.name) or nullcontext())
    monkeypatch.setattr(runs, "registry_for", stop)
    out = str(tmp_path / "out")
    for command in (["run", "ruyuan"], ["compare", "ruyuan"]):
        assert cli.main([*command, "--out", out]) == 2
        assert cli.main([*command, "--out", out, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert ahead == ["ruyuan", "ruyuan"]


def test_loading_window_collects_nothing_and_freezes_what_it_made():
    """The loading window of `povsim run` turns garbage collection off and
    back on, also when its block fails, and freezes the objects it made."""
    import gc

    from model import cli

    assert gc.isenabled()
    before = gc.get_freeze_count()
    with pytest.raises(RuntimeError), cli._loading():
        assert not gc.isenabled()
        made = [[] for _ in range(100)]
        raise RuntimeError("stopped by the test")
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(made)
    gc.unfreeze()


def test_help_exits_0(tmp_path):
    proc = povsim("run", "--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "--seeds" in proc.stdout and "--out" in proc.stdout


def test_end_year_at_base_year_is_a_clean_error(tmp_path):
    (tmp_path / "early.toml").write_text('name = "x"\n[run]\nend_year = 2015\n', encoding="utf-8")
    line = assert_clean_error(povsim_here("run", "early.toml", "--out", "o", cwd=tmp_path))
    assert "end_year" in line


# ---------------------------------------------------------------- one full run

@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("cli")
    proc = povsim("run", "--out", "out", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    out = cwd / "out"
    with xr.open_dataset(out / "results.nc", engine="netcdf4") as ds:
        ds.load()
    return proc, out, ds


def parse_table(stdout: str) -> dict[int, tuple[int, int]]:
    """{year: (registered households, registered people)} from the printed table."""
    rows = {}
    lines = stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:1] == ["year"])
    assert "reg. households" in lines[head] and "reg. people" in lines[head]
    for line in lines[head + 1:]:
        cells = line.split()
        if not cells or not re.fullmatch(r"\d{4}", cells[0]):
            break
        rows[int(cells[0])] = (int(cells[1].replace(",", "")), int(cells[2].replace(",", "")))
    return rows


def test_run_succeeds_and_writes_files(default_run):
    proc, out, _ = default_run
    assert proc.returncode == 0
    for name in ("results.nc", "summary.csv", "registered_poor.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "registered_poor.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in proc.stderr
    assert "wrote" in proc.stdout and "results.nc" in proc.stdout
    assert "<svg" in (out / "registered_poor.svg").read_text(encoding="utf-8")
    # no stray temporary files; the manifest names the set with its hashes
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "registered_poor.png",
                                                     "registered_poor.svg", "results.nc",
                                                     "summary.csv"]
    from model.atomic import read_manifest, verify_set
    assert sorted(read_manifest(out / "manifest.json")["files"]) == [
        "registered_poor.png", "registered_poor.svg", "results.nc", "summary.csv"]
    assert verify_set(out) == []
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".povsim-")]


def test_charts_drawn_beside_the_run_are_those_drawn_here(default_run, tmp_path):
    """The fresh process draws its charts in a helper process (Linux): the
    same files as drawing them in this one from the written results."""
    from model.analysis.run_chart import poor_by_year

    _, out, ds = default_run
    poor_by_year(ds, tmp_path / "registered_poor.png")
    for name in ("registered_poor.png", "registered_poor.svg"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_chinese_charts_drawn_beside_the_run_have_their_font(tmp_path):
    """The CJK font found before the run is known where the charts are drawn:
    the same files as drawing them in this process."""
    from model.analysis.charts import chart_language
    from model.analysis.run_chart import poor_by_year

    proc = povsim("run", "--lang", "zh", "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with xr.open_dataset(tmp_path / "out" / "results.nc", engine="netcdf4") as ds:
        ds.load()
    lang, font, _ = chart_language("zh")
    poor_by_year(ds, tmp_path / "registered_poor.png", lang, font)
    for name in ("registered_poor.png", "registered_poor.svg"):
        assert (tmp_path / name).read_bytes() == (tmp_path / "out" / name).read_bytes(), name


def test_printed_rows_add_up_with_new_entries(default_run):
    """registered people = last year's - exits + returns + entries (新识别)."""
    from model.cli import format_table

    _, _, ds = default_run
    text = format_table(ds)
    assert "entries (people)" in text
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:1] == ["year"])
    rows = [[float(c.replace(",", "").rstrip("%").replace("-", "nan")) for c in line.split()]
            for line in lines[head + 1:] if line[:4].isdigit()]
    for before, now in zip(rows, rows[1:]):
        # then the survey poor and the plan's columns
        _, _, people, exits, returns, rate, entries = now[:7]
        assert people == before[2] - exits + returns + entries
        assert rate != rate or 0 <= rate < 100   # per cent of the exited a year before, or none
    assert any(row[5] == row[5] for row in rows[2:])     # a rate once people have exited


def test_a_sample_run_is_scaled_up_and_says_so(tmp_path):
    import dataclasses

    import model
    from model.analysis import summary
    from model.cli import format_table

    scenario = dataclasses.replace(model.load_scenario(), scale=0.5)
    ds = model.run(scenario, seeds=[0], progress=False)
    assert "scale 0.5" in format_table(ds) and "scaled up" in format_table(ds)
    summary.write_summary_csv(ds, tmp_path / "summary.csv")
    with (tmp_path / "summary.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    simulated = ds["registered_people"].sum(["county", "category"]).isel(seed=0)
    for row, value in zip(rows, simulated.values):
        assert float(row["registered_people"]) == value * 2
        assert "scale 0.5" in row["note"]


def test_printed_table_matches_netcdf(default_run):
    proc, _, ds = default_run
    table = parse_table(proc.stdout)
    years = [int(y) for y in ds["year"].values]
    assert sorted(table) == years
    assert years[0] == 2015 and years[-1] == 2020
    hh = ds["registered_households"].sum(["county", "category"]).mean("seed")
    people = ds["registered_people"].sum(["county", "category"]).mean("seed")
    for year in years:
        assert table[year] == (round(float(hh.sel(year=year))), round(float(people.sel(year=year))))
    # the base year is the whole registry
    assert table[2015] == (2944, 7508)


def test_summary_csv_matches_netcdf(default_run):
    _, out, ds = default_run
    with (out / "summary.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    people = ds["registered_people"].sum(["county", "category"]).mean("seed")
    households = ds["registered_households"].sum(["county", "category"]).mean("seed")
    assert [int(r["year"]) for r in rows] == [int(y) for y in ds["year"].values]
    for r in rows:
        year = int(r["year"])
        assert float(r["registered_people"]) == float(people.sel(year=year))
        assert float(r["registered_households"]) == float(households.sel(year=year))


def test_dataset_dims_and_attributes(default_run):
    _, _, ds = default_run
    assert set(ds.dims) == {"seed", "year", "county", "category", "programme", "batch", "village",
                            "month"}
    assert ds.sizes["seed"] == 1 and int(ds["seed"][0]) == 0
    assert list(ds["category"].values) == ["general", "dibao", "wubao"]
    assert list(ds["county"].values) == ["Ruyuan"]
    assert ds.attrs["code_version"].startswith("povsim ")
    params = json.loads(ds.attrs["parameters"])
    assert params["years"] == list(range(2015, 2021))
    assert params["poverty_line"][1] == 6433  # the scenario's overlay, 2016
    assert 'name = "default"' in ds.attrs["scenario_text"]
    assert ds.attrs["scenario"] == "default"


def test_every_variable_has_units_and_long_name(default_run):
    _, _, ds = default_run
    assert len(ds.data_vars) > 10
    for name, var in ds.data_vars.items():
        assert str(var.attrs.get("units", "")).strip(), name
        assert str(var.attrs.get("long_name", "")).strip(), name


def test_no_household_dimension(default_run):
    """Privacy by default: aggregates only, nothing of household length."""
    _, _, ds = default_run
    assert N_HOUSEHOLDS not in ds.sizes.values()
    for name, var in ds.variables.items():
        assert N_HOUSEHOLDS not in var.shape, name
        assert max(var.shape, default=0) < 1000, (name, var.shape)
    assert not {"hh_id", "household", "households_id"} & set(ds.dims)


def test_counts_are_whole_numbers(default_run):
    _, _, ds = default_run
    for name in ("registered_households", "registered_people", "exits_people"):
        values = ds[name].values
        np.testing.assert_array_equal(values, np.round(values), err_msg=name)


# ---------------------------------------------------------------- scenarios and compare

def test_scenarios_lists_names_and_descriptions(tmp_path):
    proc = povsim_here("scenarios", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert {"default", "ruyuan", "xiangxi", "hubei"} <= set(rows)
    assert "Xiangxi" in rows["xiangxi"]


def test_run_takes_a_scenario_name(tmp_path):
    proc = povsim_here("run", "ruyuan-no-pv", "--seeds", "1", "--out", "o", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with xr.open_dataset(tmp_path / "o" / "results.nc", engine="netcdf4") as ds:
        assert ds.attrs["scenario"] == "ruyuan-no-pv"
        assert "photovoltaic" not in ds["programme"].values


COMPARE_FILES = ["compare.csv", "compare.nc", "manifest.json", "summary.md"] + [
    f"{chart}.{fmt}" for chart in ("registered_poor", "exits_by_batch",  # Ruyuan: no poor
                                   "cost_exits") for fmt in ("png", "svg")]  # county, no grid


@pytest.fixture(scope="module")
def default_compare(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("compare")
    # one worker: two give the same datasets (tests/test_compare.py), and a
    # local cluster costs its start-up here; in this process: default_run
    # tests the command in a process of its own
    proc = povsim_here("compare", "--seeds", "2", "--workers", "1", "--out", "out", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return proc, cwd / "out"


def test_compare_writes_every_output(default_compare):
    proc, out = default_compare
    # no temporary files; the runs' store beside the output set
    assert sorted(p.name for p in out.iterdir()) == sorted(COMPARE_FILES + ["compare.zarr"])
    for name in COMPARE_FILES:
        assert (out / name).stat().st_size > 0, name
    assert (out / "registered_poor.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in proc.stderr
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary in proc.stdout and summary.startswith("# povsim compare: default")
    assert "## Registered poor reach zero" in summary
    assert "wrote compare.nc" in proc.stdout


def test_compare_netcdf_and_csv_agree(default_compare):
    _, out = default_compare
    with xr.open_dataset(out / "compare.nc", engine="netcdf4") as cmp:
        cmp.load()
    assert cmp.sizes["scenario"] == 1 and list(cmp["seed"].values) == [0, 1]
    assert cmp["registered_people"].dims[:2] == ("scenario", "seed")
    with (out / "compare.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    exits = next(r for r in rows if r["measure"] == "exits_sum")
    assert float(exits["mean"]) == pytest.approx(float(cmp["exits_sum"].mean()))
    target = next(r for r in rows if r["measure"] == "target exits_people" and r["year"] == "2016")
    assert float(target["planned"]) == 2500
    met = cmp["target_met"].sel(target="exits_people:2016")
    assert float(target["probability"]) == pytest.approx(float(met.mean()))


def test_compare_lang_zh_without_cjk_font_warns_and_uses_english(tmp_path, monkeypatch, capsys):
    from model import cli
    from model.analysis import charts
    monkeypatch.setattr(charts, "find_cjk_font", lambda: None)
    code = cli.main(["compare", "--seeds", "1", "--workers", "1", "--lang", "zh",
                     "--out", str(tmp_path / "zh")])
    err = capsys.readouterr().err
    assert code == 0
    assert "povsim: warning:" in err and "fonts-noto-cjk" in err
    svg = (tmp_path / "zh" / "registered_poor.svg").read_text(encoding="utf-8")
    assert "registered poor people" in svg
    # the summary is text: Chinese without a font
    summary = (tmp_path / "zh" / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("# povsim 情景比较：default") and "## 建档立卡贫困人口清零" in summary


def test_whole_numbers_may_be_written_in_exponent_form():
    from model.cli import whole_number
    assert whole_number("1e6") == 10**6
    assert whole_number("10000000") == 10**7
    assert whole_number("2.0E3") == 2000
    for bad in ("1.25e1", "nan", "inf", "1e", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="not a whole number"):
            whole_number(bad)
