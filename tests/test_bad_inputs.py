"""Bad inputs, class by class: each gives exit code 2, no traceback, a short
message naming the file, the line or key and what is expected, and writes
nothing.

1. registry specs: the files of ``tests/broken_specs/`` (one case a file);
2. output locations: :data:`OUTPUT_CASES`;
4. numbers taken as codes or bounds, and the environment: :data:`CODE_CASES`;
5. registry files: :data:`FILE_CASES`;
6. privacy of messages and attributes: the tests at the end.

Class 3 (outputs written as one set, the kill test) is in ``tests/test_atomic.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from model.cli import main

HERE = Path(__file__).parent
SPECS = HERE / "broken_specs"
MAX_LINES = 3


def povsim(argv: list[str], capsys) -> tuple[int, str]:
    """Run the command line in this process; (exit code, stderr)."""
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, fragments: list[str]) -> None:
    """Exit code 2, no traceback, at most a few lines each starting 'povsim: ',
    an error line, and every fragment in the message."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= MAX_LINES, err
    assert all(line.startswith("povsim: ") for line in lines), err
    assert any(line.startswith("povsim: error: ") for line in lines), err
    assert all(len(line) < 400 for line in lines), err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def leftovers(folder: Path, inputs: set[str]) -> list[str]:
    """Everything in ``folder`` (recursively) that is not an input file."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.relative_to(folder).parts[0] not in inputs)


def _refuse(*args, **kwargs):
    raise AssertionError("work started before the input was refused")


@pytest.fixture
def no_run(monkeypatch):
    """Fail the test if a simulation starts: these inputs are refused before."""
    from model import runs

    monkeypatch.setattr(runs, "run", _refuse)
    monkeypatch.setattr(runs, "run_all", _refuse)


@pytest.fixture
def no_work(monkeypatch, no_run):
    """Fail the test if a simulation or a registry build starts."""
    from model.registry import synth

    monkeypatch.setattr(synth, "build", _refuse)


# ---------------------------------------------------------------- 1. registry specs

# file -> fragments of its message (the key and what is expected)
SPEC_CASES = {
    "negative-seed": ["'seed' = -1", "expected a whole number from 0"],
    "seed-as-text": ["'seed' = '1'", "expected a whole number"],
    "base-year-1800": ["'base_year' = 1800", "from 1,949 to 2,100 (year)"],
    "fractional-base-year": ["'base_year' = 2015.5", "whole number"],
    "negative-identification-line": ["'identification_line' = -2855", "above 0",
                                     "yuan/person/year"],
    "zero-identification-line": ["'identification_line' = 0", "above 0"],
    "misspelt-top-key": ["unknown key 'identification_lin'",
                         "did you mean 'identification_line'"],
    "zero-mean-size": ["'totals.mean_size' = 0", "from 1 to 10 (persons)"],
    "zero-households": ["'totals.households' = 0", "from 1"],
    "people-as-float": ["'totals.people' = 600.5", "whole number"],
    "nan-county-share": ["'counties[0].share' = nan", "from 0 to 1"],
    "inf-county-share": ["'counties[1].share' = inf", "from 0 to 1"],
    "negative-rural-population": ["'counties[0].rural_population' = -20000", "from 1"],
    "tiny-rural-population": ["counties[0].rural_population = 50",
                              "registered people placed in county 'A'", "at least"],
    "incidence-above-one": ["'counties[1].incidence' = 1.5", "at most 1"],
    "poor-share-above-one": ["'villages.poor_share' = 1.5", "from 0 to 1"],
    "infrastructure-share-negative": ["'villages.infrastructure_ok_share' = [-0.5, 0.9]",
                                      "from 0 to 1"],
    "negative-collective-income": ["'villages.collective_income'", "yuan/year"],
    "national-poor-two": ["'counties[0].national_poor' = 2", "from 0 to 1 (flag)"],
    "zero-villages": ["'counties[1].villages' = 0", "from 1"],
    "income-ratio-huge": ["'counties[1].income_ratio'", "from 0 to 10"],
    "misspelt-county-key": ["unknown key 'counties[1].rural_populaton'",
                            "did you mean 'rural_population'"],
    "unknown-region": ["counties[1].region = 'wset'", "did you mean 'west'"],
    "labourer-share-above-one": ["'assumptions.labourer_share' = 1.2", "from 0 to 1"],
    "stage-shares-nan": ["'assumptions.student_stage_shares'", "nan", "from 0 to 1"],
    "income-below-line-one": ["income.labour", "below_line = 1.0",
                              "strictly between 0 and 1"],
    "income-mean-negative": ["'income.labour.mean' = -0.7", "above 0"],
    "prior-size-mean-zero": ["'prior.size_mean' = 0", "from 1 to 10"],
    "headroom-below-one": ["'villages.headroom' = 0.5", "from 1"],
    "members-negative": ["'members.ill' = -5", "from 0"],
    "long-name-value": ["'seed' = '999", "(3002 characters)", "whole number"],
    "group-count-zero": ["'county_groups[0].count' = 0", "from 1"],
    "group-negative-rural-population": ["'county_groups[0].rural_population' = -15000",
                                        "from 1"],
}


def test_every_broken_spec_has_an_expectation():
    assert {p.stem for p in SPECS.glob("*.toml")} == set(SPEC_CASES)
    assert len(SPEC_CASES) >= 20


@pytest.mark.parametrize("command", ["build", "run"])
@pytest.mark.parametrize("name", sorted(SPEC_CASES))
def test_broken_spec(name, command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    spec = SPECS / f"{name}.toml"
    argv = (["registry", "build", spec, "--out", tmp_path / "out" / "registry.nc"]
            if command == "build" else
            ["run", "--registry", spec, "--out", tmp_path / "out"])
    code, err = povsim(argv, capsys)
    assert_refused(code, err, [f"{name}.toml: "] + SPEC_CASES[name])
    assert leftovers(tmp_path, set()) == []


def test_the_base_of_the_broken_specs_builds(tmp_path, capsys):
    """The broken specs differ from a valid spec by their one defect."""
    base = (SPECS / "negative-seed.toml").read_text(encoding="utf-8")
    good = tmp_path / "good.toml"
    good.write_text(base.replace("seed = -1", "seed = 1"), encoding="utf-8")
    assert main(["registry", "build", str(good), "--out", str(tmp_path / "r.nc")]) == 0
    assert main(["registry", "validate", str(tmp_path / "r.nc")]) == 0


# ---------------------------------------------------------------- 2. output locations

def _file(tmp: Path) -> Path:
    path = tmp / "afile"
    path.write_text("not a folder", encoding="utf-8")
    return path


UNWRITABLE = "/proc/povsim-out"     # no process, root or not, can create files there

# id -> (argv from the test folder, fragments)
OUTPUT_CASES = {
    "run below a file": (lambda t: ["run", "--out", _file(t) / "sub"],
                         ["--out", "is a file, so no folder can be made below it"]),
    "run out is a file": (lambda t: ["run", "--out", _file(t)], ["--out", "not a folder"]),
    "run empty out": (lambda t: ["run", "--out", ""], ["--out: empty path"]),
    "run unwritable": (lambda t: ["run", "--out", UNWRITABLE], ["--out", "cannot write"]),
    "run unwritable below": (lambda t: ["run", "--out", f"{UNWRITABLE}/a/b"],
                             ["--out", "cannot write"]),
    "compare below a file": (lambda t: ["compare", "--out", _file(t) / "sub"],
                             ["is a file, so no folder can be made"]),
    "compare empty out": (lambda t: ["compare", "--out", " "], ["--out: empty path"]),
    "compare unwritable": (lambda t: ["compare", "--out", UNWRITABLE], ["cannot write"]),
    "build below a file": (lambda t: ["registry", "build", "ruyuan", "--out",
                                      _file(t) / "r.nc"], ["is a file, so no folder"]),
    "build target is a folder": (lambda t: ["registry", "build", "ruyuan", "--out",
                                            _mkdir(t / "r.nc")], ["is a folder"]),
    "build companion is a folder": (lambda t: ["registry", "build", "ruyuan", "--out",
                                               _companion_folder(t)],
                                    ["r.counties.csv", "is a folder"]),
    "build manifest is a folder": (lambda t: ["registry", "build", "ruyuan", "--out",
                                              _manifest_folder(t)],
                                   ["r.manifest.json", "is a folder"]),
    "build empty out": (lambda t: ["registry", "build", "ruyuan", "--out", ""],
                        ["--out: empty path"]),
    "build unwritable": (lambda t: ["registry", "build", "ruyuan", "--out",
                                    f"{UNWRITABLE}/r.nc"], ["cannot write"]),
    "build bad suffix": (lambda t: ["registry", "build", "ruyuan", "--out", t / "r.txt"],
                         ["expected a file name ending in .nc, .csv, .parquet"]),
    "backtest below a file": (lambda t: ["backtest", "--fit-until", "2015", "--observed",
                                         "observed.csv", "--out", _file(t) / "sub"],
                              ["is a file, so no folder"]),
    "run out is the working folder": (lambda t: ["run", "--out", "."],
                                      ["--out .: the working folder"]),
    "run out holds the working folder": (lambda t: ["run", "--out", ".."],
                                         ["the working folder (or one holding it)"]),
    "backtest empty out": (lambda t: ["backtest", "--fit-until", "2015", "--observed",
                                      "observed.csv", "--out", ""], ["the working folder"]),
    "backtest unwritable": (lambda t: ["backtest", "--fit-until", "2015", "--observed",
                                       "observed.csv", "--out", UNWRITABLE],
                            ["cannot write"]),
    "sweep below a file": (lambda t: ["sweep", "ruyuan", "--vary", "industry.gain=1000:2000",
                                      "--points", "2", "--seeds", "1", "--out",
                                      _file(t) / "sub"], ["is a file, so no folder"]),
    "sweep unwritable": (lambda t: ["sweep", "ruyuan", "--vary", "industry.gain=1000:2000",
                                    "--points", "2", "--seeds", "1", "--out", UNWRITABLE],
                         ["cannot write"]),
    "report below a file": (lambda t: ["report", t, "--out", _file(t) / "sub" / "r.html"],
                            ["is a file, so no folder"]),
    "report target is a folder": (lambda t: ["report", t, "--out", _mkdir(t / "r.html")],
                                  ["is a folder"]),
}


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _companion_folder(tmp: Path) -> Path:
    (tmp / "r.counties.csv").mkdir()
    return tmp / "r.csv"


def _manifest_folder(tmp: Path) -> Path:
    (tmp / "r.manifest.json").mkdir()
    return tmp / "r.parquet"


@pytest.mark.parametrize("case", list(OUTPUT_CASES))
def test_output_location_checked_before_any_work(case, tmp_path, monkeypatch, capsys,
                                                 no_work):
    monkeypatch.chdir(tmp_path)
    argv, fragments = OUTPUT_CASES[case]
    argv = argv(tmp_path)
    before = leftovers(tmp_path, set())
    code, err = povsim(argv, capsys)
    assert_refused(code, err, fragments)
    assert leftovers(tmp_path, set()) == before          # nothing created, nothing left


# ---------------------------------------------------------------- 4. codes, bounds, environment

def _scenario(tmp: Path, text: str, name: str = "case") -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(f'name = "{name}"\n' + text, encoding="utf-8")
    return path


def _params(text: str):
    return lambda t: ["run", _scenario(t, "[parameters]\n" + text), "--out", t / "out"]


def _targets(text: str, run: str = ""):
    return lambda t: ["run", _scenario(t, run + "[targets]\n" + text), "--out", t / "out"]


BIG = str(2**53)
# id -> (argv from the test folder, environment, fragments)
CODE_CASES = {
    "fractional targeting.order": (_params("targeting.order = 1.5"), {},
                                   ["case.toml, line 3", "'targeting.order' = 1.5",
                                    "whole number in [0, 2]"]),
    "fractional targeting.uniform": (_params("targeting.uniform = 0.5"), {},
                                     ["'targeting.uniform' = 0.5", "whole number"]),
    "fractional dated targeting.uniform": (_params("targeting.uniform = { 2017 = 0.5 }"), {},
                                           ["'targeting.uniform'", "whole number"]),
    "fractional lots": (_params("delivery.lots = 2.5"), {},
                        ["'delivery.lots' = 2.5", "whole number in [1, 1000]"]),
    "fractional adjustment interval": (_params("registry_adjustment_interval = 1.5"), {},
                                       ["'registry_adjustment_interval' = 1.5",
                                        "whole number"]),
    "fractional flag": (_params("household_exit.require_guarantees = 0.3"), {},
                        ["'household_exit.require_guarantees' = 0.3", "whole number"]),
    "fractional delivery flag": (_params("delivery.enabled = 0.5"), {},
                                 ["'delivery.enabled' = 0.5", "whole number"]),
    "huge --seeds": (lambda t: ["run", "--seeds", "1000000000000", "--out", t / "out"], {},
                     ["--seeds", "at most 10000 in one run"]),
    "--seeds above the limit": (lambda t: ["run", "--seeds", "10001", "--out", t / "out"], {},
                                ["--seeds", "at most 10000"]),
    "compare huge --seeds": (lambda t: ["compare", "--seeds", "99999999", "--out", t / "out"],
                             {}, ["--seeds", "at most 10000"]),
    "scenario seeds above the limit": (lambda t: ["run", _scenario(t, "[run]\nseeds = 20000\n"),
                                                  "--out", t / "out"], {},
                                       ["case.toml, line 3", "'run.seeds' = 20000",
                                        "1 to 10000"]),
    "huge bench size": (lambda t: ["bench", "--sizes", "10000000000"], {},
                        ["--sizes", "at most 50,000,000"]),
    "huge second bench size": (lambda t: ["bench", "--sizes", "1000", "1000000000"], {},
                               ["--sizes", "at most 50,000,000"]),
    "--seed 2**53": (lambda t: ["run", "--seed", BIG, "--out", t / "out"], {},
                     ["--seed", "2**53 - 1"]),
    "--seed near 2**63": (lambda t: ["run", "--seed", str(2**63 - 2), "--out", t / "out"], {},
                          ["--seed", "largest seed stored exactly"]),
    "last seed above 2**53": (lambda t: ["run", "--seed", str(2**53 - 1), "--seeds", "2",
                                         "--out", t / "out"], {},
                              ["--seed 9007199254740991 with 2 seeds", "choose a smaller"]),
    "compare last seed above 2**53": (lambda t: ["compare", "--seed", str(2**53 - 2),
                                                 "--seeds", "3", "--out", t / "out"], {},
                                      ["with 3 seeds", "above 2**53 - 1"]),
    "NUMBA_NUM_THREADS=0": (lambda t: ["run", "--out", t / "out"],
                            {"NUMBA_NUM_THREADS": "0"},
                            ["NUMBA_NUM_THREADS = '0'", "at least 1"]),
    "NUMBA_NUM_THREADS=-2": (lambda t: ["compare", "--out", t / "out"],
                             {"NUMBA_NUM_THREADS": "-2"}, ["NUMBA_NUM_THREADS = '-2'"]),
    "NUMBA_NUM_THREADS=two": (lambda t: ["registry", "build", "ruyuan", "--out",
                                         t / "out" / "r.nc"], {"NUMBA_NUM_THREADS": "two"},
                              ["NUMBA_NUM_THREADS = 'two'"]),
    "bad MPLBACKEND run": (lambda t: ["run", "--out", t / "out"], {"MPLBACKEND": "nope"},
                           ["MPLBACKEND = 'nope' is not a matplotlib backend",
                            "MPLBACKEND=Agg"]),
    "bad MPLBACKEND compare": (lambda t: ["compare", "--out", t / "out"],
                               {"MPLBACKEND": "qt9agg"}, ["MPLBACKEND = 'qt9agg'"]),
    "exits above any registry": (_targets("exits_people = { 2016 = 2147483648 }\n"), {},
                                 ["targets.exits_people 2016 = 2147483648",
                                  "from 0 to 2,147,483,647"]),
    "fractional quota": (_targets("batch_quota = { relocation = { 2017 = 500.5 } }\n"), {},
                         ["targets.batch_quota.relocation 2017 = 500.5", "whole number"]),
    "negative registered_max": (_targets("registered_max = { 2017 = -1 }\n"), {},
                                ["targets.registered_max 2017 = -1"]),
    "target above any registry": (_targets("registered_max = { 2017 = 3000000000 }\n"), {},
                                  ["targets.registered_max 2017 = 3000000000",
                                   "from 0 to 2,147,483,647"]),
    "scale leaves no household": (lambda t: ["run", _scenario(t, "[run]\nscale = 1e-9\n"),
                                             "--out", t / "out"], {},
                                  ["ruyuan.toml: scale 1e-09 leaves no registered household",
                                   "raise run.scale"]),
    "compare scale leaves no household": (lambda t: ["compare", "--scale", "0.00001",
                                                     "--out", t / "out"], {},
                                          ["leaves no registered household"]),
}


@pytest.mark.parametrize("case", list(CODE_CASES))
def test_codes_and_bounds_refused(case, tmp_path, monkeypatch, capsys, no_run):
    monkeypatch.chdir(tmp_path)
    argv, env, fragments = CODE_CASES[case]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    argv = argv(tmp_path)
    code, err = povsim(argv, capsys)
    assert_refused(code, err, fragments)
    assert leftovers(tmp_path, {"case.toml"}) == []
    assert len(CODE_CASES) >= 20


def test_the_seed_limit_is_the_same_on_the_command_line_and_in_scenarios():
    from model import cli, scenario

    assert cli.MAX_SEEDS == scenario.MAX_SEEDS


def test_targets_that_can_never_be_evaluated_warn(tmp_path, monkeypatch, capsys):
    """A target before the base year or after the end year, exits planned
    after the zero year, and a quota above the registry's people are warned
    about; the run goes on."""
    monkeypatch.chdir(tmp_path)
    path = _scenario(tmp_path, "[run]\nend_year = 2017\n[targets]\nzero_by = 2016\n"
                               "exits_people = { 2014 = 10, 2017 = 20 }\n"
                               "registered_max = { 2019 = 5 }\n"
                               "batch_quota = { relocation = { 2016 = 50000 } }\n")
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("povsim: warning: ")]
    assert any("targets.exits_people 2014 is before the registry's base year 2015" in w
               for w in warnings), err
    assert any("targets.registered_max 2019 is after the run's end year 2017" in w
               for w in warnings), err
    assert any("targets.exits_people 2017 = 20 comes after targets.zero_by = 2016" in w
               for w in warnings), err
    assert any("targets.batch_quota.relocation 2016 = 50,000 people: more than the 7,508 "
               "people of registry 'ruyuan': it can never be met" in w for w in warnings), err
    assert "Traceback" not in err


def test_whole_number_parameters_are_declared_so():
    """Flags and codes are declared integer; valid whole values still load."""
    from model.params import Parameters

    p = Parameters.load()
    for name in ("targeting.order", "targeting.uniform", "delivery.lots", "delivery.enabled",
                 "registry_adjustment_interval", "household_exit.require_guarantees"):
        assert p.declaration(name).integer, name
    q = p.with_overlay({"targeting.order": 2, "delivery.lots": 16.0}, "test")
    assert q.scalar("targeting.order", 2016) == 2 and q.scalar("delivery.lots", 2016) == 16


# ---------------------------------------------------------------- 5. registry files

HEADER = ["household_id", "name", "county", "village", "category", "cause", "size",
          "labourers", "ill", "market_income"]
ROWS = [
    ["A001", "Zhang San", "Alpha", "Upper", "general", "illness", "4", "2", "1", "1800"],
    ["A002", "Li Si", "Alpha", "Upper", "dibao", "lack_of_labour", "2", "0", "0", "900"],
    ["A003", "Wang Wu", "Alpha", "Lower", "wubao", "disability", "1", "0", "0", "600"],
    ["B001", "Zhao Liu", "Beta", "Ridge", "低保", "因病", "3", "1", "2", "1500.5"],
    ["B002", "Sun Qi", "Beta", "Ridge", "general", "lack_of_funds", "5", "3", "0", "2400"],
]
COUNTIES = [["county", "region", "rural_population", "base_year", "national_poor"],
            ["Alpha", "central", "12000", "2015", "1"],
            ["Beta", "west", "8000", "2015", "0"]]


def _write_csv(path: Path, header, rows) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _extract(tmp: Path, rows=None, header=HEADER, counties=None, stem: str = "x",
             suffix: str = ".csv") -> Path:
    _write_csv(tmp / f"{stem}.counties{suffix}", COUNTIES[0],
               COUNTIES[1:] if counties is None else counties)
    return _write_csv(tmp / f"{stem}{suffix}", header, ROWS if rows is None else rows)


def _set(row: int, column: str, value: str) -> list[list[str]]:
    rows = [list(r) for r in ROWS]
    rows[row][HEADER.index(column)] = value
    return rows


def _text(tmp: Path, text: str) -> Path:
    _write_csv(tmp / "x.counties.csv", COUNTIES[0], COUNTIES[1:])
    path = tmp / "x.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _lines(rows=ROWS, header=HEADER, end: str = "") -> str:
    return "\n".join(",".join(r) + end for r in [header] + rows) + "\n"


def _parquet(tmp: Path, columns: dict) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), tmp / "x.parquet")
    pq.write_table(pa.table({"county": ["Alpha", "Beta"], "region": ["central", "west"],
                             "rural_population": [12000, 8000], "base_year": [2015, 2015]}),
                   tmp / "x.counties.parquet")
    return tmp / "x.parquet"


def _parquet_columns(**change) -> dict:
    cols = {h: [r[k] for r in ROWS] for k, h in enumerate(HEADER) if h != "name"}
    for h in ("size", "labourers", "ill"):
        cols[h] = [int(v) for v in cols[h]]
    cols["market_income"] = [float(v) for v in cols["market_income"]]
    cols.update(change)
    return cols


def _netcdf(tmp: Path, drop: str | None = None, **attrs) -> Path:
    import netCDF4

    from model.registry import files as registry_io

    reg = registry_io.load_registry(_extract(tmp))
    path = tmp / "r.nc"
    registry_io.write_registry(reg, path)
    with netCDF4.Dataset(path, "a") as ds:
        if drop:
            ds.delncattr(drop)
        for key, value in attrs.items():
            ds.setncattr(key, value)
    return path


def _folder_registry(tmp: Path) -> Path:
    (tmp / "reg.csv").mkdir()
    return tmp / "reg.csv"


LONG = "x" * 5000
# id -> (make the registry in the test folder and return its path, fragments)
FILE_CASES = {
    "parquet null village": (lambda t: _parquet(t, _parquet_columns(
        village=["Upper", None, "Lower", "Ridge", "Ridge"])),
        ["x.parquet, row 2, column 'village': value missing (null or empty)",
         "non-empty text"]),
    "parquet null income": (lambda t: _parquet(t, _parquet_columns(
        market_income=[1800.0, 900.0, None, 1500.5, 2400.0])),
        ["x.parquet, row 3, column 'market_income': value missing"]),
    "parquet null size": (lambda t: _parquet(t, _parquet_columns(size=[4, 2, 1, None, 5])),
                          ["row 4, column 'size'", "whole number from 1 to 20"]),
    "parquet fractional size": (lambda t: _parquet(t, _parquet_columns(
        size=[4.0, 2.5, 1.0, 3.0, 5.0])), ["row 2, column 'size': value '2.5'"]),
    "parquet not parquet": (lambda t: _write_bytes(_parquet(t, _parquet_columns()),
                                                   b"PAR1 garbage"),
                            ["x.parquet: not a readable Parquet file"]),
    "netcdf without base year": (lambda t: _netcdf(t, drop="base_year"),
                                 ["r.nc: attribute 'base_year' = None",
                                  "expected a year from 1949 to 2100"]),
    "netcdf base year 1800": (lambda t: _netcdf(t, base_year=1800),
                              ["attribute 'base_year' = 1800"]),
    "netcdf text base year": (lambda t: _netcdf(t, base_year="2015"),
                              ["attribute 'base_year' = '2015'"]),
    "netcdf not a registry": (lambda t: _netcdf(t, format="other"),
                              ["r.nc: not a povsim registry"]),
    "netcdf garbage": (lambda t: _write_bytes(t / "r.nc", b"CDF\x01 not really"),
                       ["r.nc: not a readable povsim registry"]),
    "incidence above 100 %": (lambda t: _extract(t, counties=[
        ["Alpha", "central", "5", "2015", "1"], ["Beta", "west", "8000", "2015", "0"]]),
        ["county 'Alpha'", "7 registered people but rural_population 5",
         "incidence at most 100 %"]),
    "no registered household": (lambda t: _extract(
        t, rows=[r + ["0"] for r in ROWS], header=HEADER + ["registered"]),
        ["field 'registered' is 0 in every row", "at least one registered household"]),
    "blank lines shift nothing": (lambda t: _text(t, _lines().replace(
        "A003", "\n\nA003").replace(",1,0,0,600", ",-1,0,0,600")),
        ["x.csv, row 3 (line 6), column 'size': value '-1'"]),
    "blank lines before the header": (lambda t: _text(t, "\n\n" + _lines(_set(
        1, "labourers", "9"))), ["row 2 (line 5), column 'labourers'"]),
    "trailing comma on every row": (lambda t: _text(t, _lines(end=",").replace(
        ",market_income,", ",market_income")),
        ["x.csv, line 2: 11 values for the 10 columns", "remove the trailing comma"]),
    "trailing comma everywhere": (lambda t: _text(t, _lines(end=",")),
                                  ["x.csv, header: column 11 has no name",
                                   "remove the extra comma"]),
    "a row with a value too many": (lambda t: _text(t, _lines().replace(
        "B001,Zhao Liu", "B001,Zhao,Liu")),
        ["x.csv, line 5: 11 values, more than the 10 columns", "quote a value"]),
    "a row with a value too few": (lambda t: _text(t, _lines().replace(",2400", "")),
                                   ["x.csv, line 6: 9 values, fewer than the 10"]),
    "quoted line break keeps lines": (lambda t: _text(t, _lines().replace(
        "Li Si", '"Li\nSi"').replace("wubao,disability,1", "wubao,disability,0")),
        ["row 3 (line 5), column 'size': value '0'"]),
    "a folder as registry": (lambda t: _folder_registry(t),
                             ["registry file", "reg.csv' is a folder",
                              "expected a .nc, .csv or .parquet file"]),
    "upper-case .CSV with a problem": (lambda t: _extract(t, rows=_set(0, "size", "0"),
                                                          suffix=".CSV"),
                                       ["x.CSV, row 1 (line 2), column 'size'"]),
    "unknown suffix": (lambda t: _write_bytes(t / "x.txt", b"a,b\n"),
                       ["x.txt'", "expected a", ".nc, .csv or .parquet"]),
    "very long value": (lambda t: _extract(t, rows=_set(0, "cause", LONG)),
                        ["column 'cause': value 'xxxxxxxx", "(5000 characters)"]),
    "very long column name": (lambda t: _extract(t, header=HEADER[:-1] + [LONG]),
                              ["(5000 characters)' is not a known column"]),
    "county base year 1800": (lambda t: _extract(t, counties=[
        ["Alpha", "central", "12000", "1800", "1"], ["Beta", "west", "8000", "1800", "0"]]),
        ["x.counties.csv, row 1 (line 2), column 'base_year': value '1800'"]),
    "empty county table": (lambda t: _extract(t, counties=[]),
                           ["x.counties.csv: no data rows"]),
}


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("case", list(FILE_CASES))
def test_bad_registry_file(case, command, tmp_path, monkeypatch, capsys, no_run):
    monkeypatch.chdir(tmp_path)
    make, fragments = FILE_CASES[case]
    path = make(tmp_path)
    inputs = {p.name for p in tmp_path.iterdir()}
    argv = (["registry", "validate", path] if command == "validate"
            else ["run", "--registry", path, "--out", tmp_path / "out"])
    code, err = povsim(argv, capsys)
    assert_refused(code, err, fragments)
    assert "Zhang" not in err and "A001" not in err      # no name, no id
    assert leftovers(tmp_path, inputs) == []
    assert len(FILE_CASES) >= 20


def test_parquet_with_a_null_keeps_every_name(tmp_path):
    """A null among names makes no column shorter: distinct names stay distinct
    (they used to be cut to one character under pandas 3)."""
    from model.registry import files as registry_io

    cols = _parquet_columns(village=["Upper", "Upper", "Lower", "Ridge", "Ridgeway"])
    cols["name"] = ["a", None, "c", "d", "e"]          # an identifying column with a null
    reg = registry_io.load_registry(_parquet(tmp_path, cols))
    assert len(reg.villages["village_id"]) == 4
    codes = _parquet_columns(category=[0.0, 1.0, 2.0, 1.0, 0.0])   # float codes
    reg = registry_io.load_registry(_parquet(tmp_path, codes))
    assert reg.households["category"].tolist() == [0, 1, 2, 1, 0]


def test_upper_case_csv_and_bom_scenario_are_read(tmp_path, monkeypatch, capsys):
    from model.registry import files as registry_io
    from model.scenario import load_scenario

    reg = registry_io.load_registry(_extract(tmp_path, suffix=".CSV"))
    assert reg.n_households == 5
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufeffname = \"bom\"\n[run]\nend_year = 2018\n".encode("utf-8"))
    assert load_scenario(path).end_year == 2018


def test_bom_scenario_error_names_the_right_line(tmp_path, capsys):
    path = tmp_path / "bom.toml"
    path.write_bytes("\ufeffname = \"bom\"\n[run]\nend_yaer = 2018\n".encode("utf-8"))
    code, err = povsim(["run", path, "--out", tmp_path / "out"], capsys)
    assert_refused(code, err, ["bom.toml, line 3", "did you mean 'end_year'"])


# ---------------------------------------------------------------- 6. privacy

SECRET_IDS = ["430521198001011234", "43052119800101123X", "430521198001015678"]


def test_duplicate_ids_are_not_printed(tmp_path, capsys):
    rows = [list(r) for r in ROWS[:3]]
    for row, secret in zip(rows, [SECRET_IDS[0], SECRET_IDS[1], SECRET_IDS[0]]):
        row[0] = secret
    rows[1][HEADER.index("size")] = "0"
    path = _extract(tmp_path, rows=rows)
    code, err = povsim(["registry", "validate", path], capsys)
    assert_refused(code, err, ["row 3 (line 4), column 'household_id': the same value as row 1",
                               "not shown: personal data",
                               "row 2 (line 3), column 'size'"])
    for secret in SECRET_IDS + ["Zhang San", "Li Si", "Wang Wu"]:
        assert secret not in err


def test_registry_file_records_the_name_and_hash_of_its_input(tmp_path, capsys):
    """No folder (which may hold a user name) in a registry's attributes."""
    import hashlib

    import xarray as xr

    home = tmp_path / "home" / "zhangsan"
    home.mkdir(parents=True)
    spec = home / "my-spec.toml"
    spec.write_text((SPECS / "negative-seed.toml").read_text(encoding="utf-8")
                    .replace("seed = -1", "seed = 1"), encoding="utf-8")
    assert main(["registry", "build", str(spec), "--out", str(tmp_path / "r.nc")]) == 0
    extract = _extract(home)
    from model.registry import files as registry_io
    registry_io.write_registry(registry_io.load_registry(extract), tmp_path / "e.nc")
    for name, source in (("r.nc", spec), ("e.nc", extract)):
        with xr.open_dataset(tmp_path / name) as ds:
            recorded = ds.attrs["source"]
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        assert recorded == f"{source.name} (sha256 {digest})"
        assert "zhangsan" not in recorded and str(tmp_path) not in recorded


def test_bad_values_show_row_numbers_not_identities(tmp_path, capsys):
    """A bad value is named by row, line and column; the household's id and
    name, on the same row, are not printed."""
    rows = [list(r) for r in ROWS]
    rows[2][0] = SECRET_IDS[2]
    rows[2][HEADER.index("market_income")] = "-5"
    code, err = povsim(["registry", "validate", _extract(tmp_path, rows=rows)], capsys)
    assert_refused(code, err, ["row 3 (line 4), column 'market_income': value '-5'"])
    assert SECRET_IDS[2] not in err and "Wang Wu" not in err
    assert err.count("povsim: error:") == 1


@pytest.mark.parametrize("command", ["run", "compare"])
@pytest.mark.parametrize("variable, value", [("MPLBACKEND", "nope"), ("NUMBA_NUM_THREADS", "0")])
def test_bad_environment_in_a_fresh_process(command, variable, value, tmp_path):
    """In a new process matplotlib and numba read these on import: the check
    must come before."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, **{variable: value})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-m", "model", command, "--out", "out"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert_refused(proc.returncode, proc.stderr, [f"environment variable {variable} = '{value}'"])
    assert list(tmp_path.iterdir()) == []
