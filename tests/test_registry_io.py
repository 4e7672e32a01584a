"""Registry files: import of extracts, every bad file's message, round trips, CLI."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from test_cli import povsim_here as povsim  # the command's main, in this process

from model import runs
from model.errors import PovsimError, SchemaError
from model.registry import files as registry_io
from model.registry import synth
from model.registry.tables import HOUSEHOLD_SCHEMA

ROOT = Path(__file__).parents[1]

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


def write_csv(path: Path, header, rows, encoding="utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def extract(tmp_path) -> Path:
    write_csv(tmp_path / "x.counties.csv", COUNTIES[0], COUNTIES[1:])
    return write_csv(tmp_path / "x.csv", HEADER, ROWS)


def with_rows(extract: Path, rows, header=HEADER) -> Path:
    return write_csv(extract, header, rows)


def problems(path: Path) -> list[str]:
    with pytest.raises(PovsimError) as info:
        registry_io.load_registry(path)
    return str(info.value).splitlines()


# ---------------------------------------------------------------- a good file

def test_import_maps_ids_and_labels(extract):
    reg = registry_io.load_registry(extract)
    h = reg.households
    assert reg.n_households == 5 and reg.n_people == 15
    assert reg.base_year == 2015 and reg.county_names == ["Alpha", "Beta"]
    np.testing.assert_array_equal(h["hh_id"], np.arange(5))
    np.testing.assert_array_equal(h["county"], [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(h["category"], [0, 1, 2, 1, 0])   # 低保 is dibao
    np.testing.assert_array_equal(h["cause"], [0, 3, 6, 0, 1])      # 因病 is illness
    assert len(reg.villages["village_id"]) == 3
    assert h["village"][0] == h["village"][1] != h["village"][2]
    # defaults of optional columns
    assert np.all(h["registered"] == 1) and np.all(h["elderly"] == 0)
    assert list(reg.counties["poor_county"]) == [1, 0]               # as national_poor
    assert set(h) == {f.name for f in HOUSEHOLD_SCHEMA}             # no id, no name


def test_households_are_stored_county_by_county_each_with_its_row(extract):
    """Rows of the counties interleaved: the registry holds them county by
    county, in the file's order within a county, each household with the
    row it was read from as its hh_id (so its random numbers), and the
    simulation takes the paths of households stored that way."""
    from model.engine.coverage import group_starts

    order = [3, 0, 4, 1, 2]  # Beta, Alpha, Beta, Alpha, Alpha
    with_rows(extract, [ROWS[k] for k in order])
    reg = registry_io.load_registry(extract)
    h = reg.households
    np.testing.assert_array_equal(h["county"], [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(h["hh_id"], [1, 3, 4, 0, 2])  # the rows read
    np.testing.assert_array_equal(h["size"], [4, 2, 1, 3, 5])
    np.testing.assert_array_equal(h["market_income"], [1800, 900, 600, 1500.5, 2400])
    assert h["county"].tolist() == reg.villages["county"][h["village"]].tolist()
    assert group_starts(h["county"], reg.n_counties) is not None
    reg.validate()
    in_order = registry_io.load_registry(with_rows(extract, ROWS))
    assert in_order.in_county_order() is in_order


@pytest.fixture(scope="module")
def ruyuan():
    """Ruyuan's registry, built once: written and read back, never changed."""
    return synth.build(*synth.load_spec("ruyuan"))


@pytest.mark.parametrize("suffix", [".nc", ".csv", pytest.param(".parquet", marks=pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is None, reason="Parquet needs the parquet extra"))])
def test_round_trip(tmp_path, suffix, ruyuan):
    reg = ruyuan
    out = tmp_path / f"ruyuan{suffix}"
    written = registry_io.write_registry(reg, out)
    assert out in written
    back = registry_io.load_registry(out)
    assert back.base_year == reg.base_year and back.county_names == reg.county_names
    for table in ("households", "villages", "counties"):
        for k, v in getattr(reg, table).items():
            np.testing.assert_array_equal(v, getattr(back, table)[k], err_msg=f"{table}.{k}")
    assert not list(tmp_path.glob(".*"))        # no temporary files left


def test_village_table_is_used(extract, tmp_path):
    write_csv(tmp_path / "x.villages.csv", ["county", "village", "rural_population"],
              [["Alpha", "Upper", "900"], ["Alpha", "Lower", "700"], ["Beta", "Ridge", "500"],
               ["Beta", "Empty", "300"]])
    reg = registry_io.load_registry(extract)
    v = reg.villages
    assert sorted(v["rural_population"].tolist()) == [300, 500, 700, 900]
    assert reg.households["county"].tolist() == v["county"][reg.households["village"]].tolist()


# ---------------------------------------------------------------- one defect each

def _set(row, column, value):
    rows = [list(r) for r in ROWS]
    rows[row][HEADER.index(column)] = value
    return rows


BAD = {
    "negative size": (lambda: _set(2, "size", "-1"), HEADER,
                      ["x.csv, row 3 (line 4), column 'size': value '-1'",
                       "expected a whole number from 1 to 20"]),
    "wrong type": (lambda: _set(1, "labourers", "two"), HEADER,
                   ["row 2 (line 3), column 'labourers': value 'two'", "whole number"]),
    "labourers above size": (lambda: _set(0, "labourers", "5"), HEADER,
                             ["row 1 (line 2), column 'labourers': value 5 with size 4",
                              "expected at most 'size'"]),
    "duplicate id": (lambda: _set(4, "household_id", "A002"), HEADER,
                     ["row 5 (line 6), column 'household_id': the same value as row 2 (not "
                      "shown: personal data)"]),
    "unknown county": (lambda: _set(3, "county", "Betta"), HEADER,
                       ["row 4 (line 5), column 'county': value 'Betta' is not in",
                        "x.counties.csv", "did you mean 'Beta'"]),
    "bad category": (lambda: _set(1, "category", "dibo"), HEADER,
                     ["column 'category': value 'dibo'", "did you mean 'dibao'"]),
    "empty required cell": (lambda: _set(0, "market_income", ""), HEADER,
                            ["column 'market_income': value empty", "expected a number"]),
    "missing column": (lambda: [r[:-1] for r in ROWS], HEADER[:-1],
                       ["x.csv, header: column 'market_income' is missing"]),
    "misspelt column": (lambda: ROWS, HEADER[:-1] + ["market_incme"],
                        ["column 'market_incme' is not a known column",
                         "did you mean 'market_income'",
                         "column 'market_income' is missing"]),
}


@pytest.mark.parametrize("defect", list(BAD))
def test_bad_file_gives_its_message(extract, defect):
    rows, header, fragments = BAD[defect]
    with_rows(extract, rows(), header)
    found = "\n".join(problems(extract))
    for fragment in fragments:
        assert fragment in found, found


def test_all_problems_at_once(extract):
    rows = _set(2, "size", "-1")
    rows[0][HEADER.index("labourers")] = "x"
    rows[3][HEADER.index("county")] = "Nowhere"
    rows[4][HEADER.index("household_id")] = "A001"
    with_rows(extract, rows)
    lines = problems(extract)
    assert len(lines) == 4, lines
    assert any("row 3 (line 4), column 'size'" in m for m in lines)
    assert any("row 1 (line 2), column 'labourers'" in m for m in lines)
    assert any("row 4 (line 5), column 'county': value 'Nowhere'" in m for m in lines)
    assert any("row 5 (line 6), column 'household_id': the same value as row 1" in m
               and "A001" not in m for m in lines)


def test_problems_stop_at_the_limit(extract):
    rows = [[f"H{i}", "n", "Alpha", "Upper", "general", "illness", "-1", "0", "0", "1"]
            for i in range(50)]
    with_rows(extract, rows)
    with pytest.raises(SchemaError) as info:
        registry_io.load_registry(extract, limit=7)
    lines = str(info.value).splitlines()
    assert len(lines) == 8 and "stopped after 7" in lines[-1]


def test_empty_file(extract):
    extract.write_bytes(b"")
    (msg,) = problems(extract)
    assert "x.csv: the file is empty" in msg and "header" in msg


def test_header_only(extract):
    with_rows(extract, [])
    (msg,) = problems(extract)
    assert "no data rows" in msg


def test_wrong_encoding(extract):
    write_csv(extract, HEADER, ROWS, encoding="gb18030")
    (msg,) = problems(extract)
    assert "x.csv, line 5" in msg and "not UTF-8" in msg and "GB18030" in msg


def test_missing_county_table(extract):
    (extract.parent / "x.counties.csv").unlink()
    (msg,) = problems(extract)
    assert "x.counties.csv" in msg and "missing" in msg


def test_county_table_problems(extract):
    write_csv(extract.parent / "x.counties.csv", COUNTIES[0],
              [["Alpha", "centre", "12000", "2015", "1"], ["Beta", "west", "8000", "2016", "0"]])
    found = "\n".join(problems(extract))
    assert "x.counties.csv, row 1 (line 2), column 'region': value 'centre'" in found
    assert "did you mean 'central'" in found


def test_not_a_registry(tmp_path):
    with pytest.raises(PovsimError, match="expected a .nc, .csv or .parquet"):
        registry_io.load_registry(Path(__file__))


# ---------------------------------------------------------------- loading in runs

def test_runs_loads_spec_name_spec_path_and_file(extract, tmp_path):
    assert runs.load_registry(extract).n_households == 5
    spec = ROOT / "model" / "registry" / "specs" / "ruyuan.toml"
    assert runs.load_registry(spec).n_households == 2944
    assert runs.load_registry("ruyuan").n_households == 2944
    # a relative path beside the scenario file
    assert runs.load_registry("x.csv", relative_to=tmp_path / "scenario.toml").n_households == 5
    with pytest.raises(PovsimError, match="registry file 'nope.csv' not found"):
        runs.load_registry("nope.csv")


# ---------------------------------------------------------------- command line

def test_cli_validate_reports_every_problem_and_exits_2(extract):
    rows = _set(2, "size", "-1")
    rows[0][HEADER.index("labourers")] = "x"
    with_rows(extract, rows)
    proc = povsim("registry", "validate", "x.csv", cwd=extract.parent)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and all(m.startswith("povsim: error: x.csv, row ") for m in lines)


def test_cli_validate_ok(extract):
    proc = povsim("registry", "validate", "x.csv", cwd=extract.parent)
    assert proc.returncode == 0, proc.stderr
    assert "5 registered households, 15 people" in proc.stdout and "x.csv: ok" in proc.stdout


def test_cli_build_writes_nothing_for_a_bad_spec(tmp_path):
    (tmp_path / "bad.toml").write_text('name = "b"\nbase_yaer = 2015\n', encoding="utf-8")
    proc = povsim("registry", "build", "bad.toml", "--out", "b.nc", cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown key 'base_yaer'" in proc.stderr and "did you mean 'base_year'" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_cli_build_then_validate(tmp_path):
    proc = povsim("registry", "build", "luoyang", "--out", "l.nc", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "316,700 people" in proc.stdout
    proc = povsim("registry", "validate", "l.nc", cwd=tmp_path)
    assert proc.returncode == 0 and "316,700 people" in proc.stdout


def test_cli_run_with_a_bad_registry_writes_nothing(extract):
    with_rows(extract, _set(0, "size", "0"))
    proc = povsim("run", "--registry", "x.csv", "--out", "out", cwd=extract.parent)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "column 'size': value '0'" in proc.stderr
    assert not (extract.parent / "out").exists()
