"""Registry tables: schema validation and the Ruyuan synthetic registry's counts."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from importlib import resources

import numpy as np
import pytest

from model.errors import SchemaError
from model.registry import synth
from model.registry import tables as population
from model.registry.tables import CATEGORIES, HOUSEHOLD_SCHEMA, Registry, validate


@pytest.fixture(scope="module")
def ruyuan() -> Registry:
    return synth.build(*synth.load_spec("ruyuan"))


@pytest.fixture(scope="module")
def spec() -> dict:
    text = resources.files("model.registry").joinpath("specs", "ruyuan.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def copy_registry(reg: Registry) -> Registry:
    """A deep copy whose arrays can be damaged without touching the fixture."""
    return dataclasses.replace(
        reg,
        households={k: v.copy() for k, v in reg.households.items()},
        villages={k: v.copy() for k, v in reg.villages.items()},
        counties={k: v.copy() for k, v in reg.counties.items()},
        county_names=list(reg.county_names),
    )


def problems_of(reg: Registry) -> str:
    with pytest.raises(SchemaError) as info:
        reg.validate()
    return str(info.value)


# ---------------------------------------------------------------- a valid registry

def test_ruyuan_validates(ruyuan):
    ruyuan.validate()
    for name, schema in population.SCHEMAS.items():
        table = getattr(ruyuan, name)
        assert validate(table, schema, name) == []
        for f in schema:
            assert table[f.name].dtype == np.dtype(f.dtype), (name, f.name)


def test_build_is_deterministic(ruyuan):
    again = synth.build(*synth.load_spec("ruyuan"))
    for k, v in ruyuan.households.items():
        np.testing.assert_array_equal(v, again.households[k], err_msg=k)


# ---------------------------------------------------------------- one defect each

ROW = 7


def _negative_size(h):
    h["size"][ROW] = -1
    return "size", "-1"


def _labourers_over_size(h):
    h["labourers"][ROW] = h["size"][ROW] + 1
    return "labourers", str(int(h["size"][ROW]) + 1)


def _float_in_int_field(h):
    h["size"] = h["size"].astype(np.float64)
    return "size", "float64"


def _nan_market_income(h):
    h["market_income"][ROW] = np.nan
    return "market_income", "nan"


def _income_too_high(h):
    h["market_income"][ROW] = 2e6
    return "market_income", "2000000"


def _bad_flag(h):
    h["housing_safe"][ROW] = 3
    return "housing_safe", "3"


ROW_DEFECTS = {
    "negative size": _negative_size,
    "labourers > size": _labourers_over_size,
    "nan market income": _nan_market_income,
    "income above range": _income_too_high,
    "flag out of range": _bad_flag,
}


@pytest.mark.parametrize("defect", list(ROW_DEFECTS))
def test_row_defect_names_field_row_and_value(ruyuan, defect):
    reg = copy_registry(ruyuan)
    field, value = ROW_DEFECTS[defect](reg.households)
    msg = problems_of(reg)
    line = next(m for m in msg.splitlines() if f"field '{field}'" in m)
    assert "[households]" in line
    assert f"row {ROW}:" in line
    assert value in line
    assert "expected" in line
    # the same problem through the plain function, with the source label
    found = validate(reg.households, HOUSEHOLD_SCHEMA, "src.npz")
    assert found and all(p.startswith("src.npz: ") for p in found)
    assert any(f"field '{field}' row {ROW}:" in p for p in found)


def test_row_defect_value_is_plain(ruyuan):
    h = {k: v.copy() for k, v in ruyuan.households.items()}
    h["size"][ROW] = -1
    (msg,) = validate(h, HOUSEHOLD_SCHEMA, "src")
    assert f"row {ROW}: value -1," in msg


def test_float_in_int_field_names_field_and_dtypes(ruyuan):
    h = {k: v.copy() for k, v in ruyuan.households.items()}
    _float_in_int_field(h)
    problems = validate(h, HOUSEHOLD_SCHEMA, "src")
    assert problems == ["src: field 'size' has dtype float64, expected int8"]


def test_missing_field_names_field(ruyuan):
    reg = copy_registry(ruyuan)
    del reg.households["ill"]
    msg = problems_of(reg)
    assert "field 'ill' is missing" in msg
    assert "[households]" in msg


def test_extra_field_is_reported(ruyuan):
    h = {k: v.copy() for k, v in ruyuan.households.items()}
    h["name"] = np.zeros(len(h["hh_id"]))
    assert validate(h, HOUSEHOLD_SCHEMA, "src") == ["src: field 'name' is not in the schema"]


def test_wrong_length_field(ruyuan):
    h = {k: v.copy() for k, v in ruyuan.households.items()}
    h["ill"] = h["ill"][:-1]
    (msg,) = validate(h, HOUSEHOLD_SCHEMA, "src")
    assert "field 'ill'" in msg and str(ruyuan.n_households - 1) in msg


def test_duplicate_hh_id_names_field_and_value(ruyuan):
    reg = copy_registry(ruyuan)
    reg.households["hh_id"][9] = 3
    msg = problems_of(reg)
    assert "field 'hh_id'" in msg
    assert "value 3" in msg
    assert "more than once" in msg


def test_duplicate_hh_id_names_rows(ruyuan):
    h = {k: v.copy() for k, v in ruyuan.households.items()}
    h["hh_id"][9] = 3
    (msg,) = validate(h, HOUSEHOLD_SCHEMA, "src")
    assert "field 'hh_id'" in msg and "value 3" in msg
    assert re.search(r"\brows?\b", msg) and re.search(r"\b9\b", msg)


def test_county_index_that_does_not_exist(ruyuan):
    reg = copy_registry(ruyuan)
    reg.households["county"][13] = 4   # Ruyuan has one county (index 0)
    msg = problems_of(reg)
    assert "[households]" in msg
    assert "field 'county' row 13:" in msg
    assert "4" in msg
    assert "existing county (0 to 0)" in msg


def test_village_index_that_does_not_exist(ruyuan):
    reg = copy_registry(ruyuan)
    nv = len(reg.villages["village_id"])
    reg.households["village"][21] = nv + 5
    msg = problems_of(reg)
    assert "field 'village' row 21:" in msg and str(nv + 5) in msg


def test_county_names_must_match_counties(ruyuan):
    reg = copy_registry(ruyuan)
    reg.county_names.append("Nowhere")
    assert "2 county names for 1 counties" in problems_of(reg)


def test_several_defects_give_several_messages(ruyuan):
    reg = copy_registry(ruyuan)
    h = reg.households
    h["size"][3] = -1
    h["market_income"][5] = np.nan
    h["category"][8] = 7
    del h["water_safe"]
    lines = problems_of(reg).splitlines()
    assert len(lines) == 4
    assert any("field 'size' row 3:" in m for m in lines)
    assert any("field 'market_income' row 5:" in m for m in lines)
    assert any("field 'category' row 8:" in m for m in lines)
    assert any("field 'water_safe' is missing" in m for m in lines)


def test_many_bad_rows_listed_each(ruyuan):
    h = {k: v.copy() for k, v in ruyuan.households.items()}
    rows = [2, 40, 41, 300, 2000]
    h["ill"][rows] = 25
    problems = validate(h, HOUSEHOLD_SCHEMA, "src")
    assert [int(p.split(" row ")[1].split(":")[0]) for p in problems] == rows


@pytest.mark.parametrize("limit", [1, 5, 20])
def test_problems_stop_at_limit(ruyuan, limit):
    h = {k: v.copy() for k, v in ruyuan.households.items()}
    h["size"][:100] = -1
    h["market_income"][:100] = np.nan
    problems = validate(h, HOUSEHOLD_SCHEMA, "src", limit=limit)
    assert len(problems) == limit


def test_registry_validate_stops_at_20(ruyuan):
    reg = copy_registry(ruyuan)
    reg.households["size"][:500] = -1
    assert len(problems_of(reg).splitlines()) == 20


def test_limit_bounds_the_work(ruyuan, monkeypatch):
    formatted = []
    original = population._row_problems

    def spy(*args):
        out = original(*args)
        formatted.append(len(out))
        return out

    monkeypatch.setattr(population, "_row_problems", spy)
    h = {k: v.copy() for k, v in ruyuan.households.items()}
    for name in ("village", "county", "category"):
        del h[name]
    h["size"][:] = -1
    problems = validate(h, HOUSEHOLD_SCHEMA, "src", limit=2)
    assert len(problems) == 2
    assert sum(formatted) <= 2


# ---------------------------------------------------------------- Ruyuan counts

def test_ruyuan_totals(ruyuan):
    assert ruyuan.n_households == 2944
    assert ruyuan.n_people == 7508
    assert ruyuan.n_counties == 1
    assert ruyuan.base_year == 2015


def test_ruyuan_cells_exact(ruyuan, spec):
    h = ruyuan.households
    labour = h["labourers"] > 0
    size = h["size"].astype(np.int64)
    seen = 0
    for cell in spec["cells"]:
        mask = (h["category"] == CATEGORIES.index(cell["category"])) & (labour == cell["labour"])
        assert int(mask.sum()) == cell["households"], cell
        assert int(size[mask].sum()) == cell["people"], cell
        seen += int(mask.sum())
    assert seen == ruyuan.n_households  # the cells cover every household
    assert sum(c["households"] for c in spec["cells"]) == 2944
    assert sum(c["people"] for c in spec["cells"]) == 7508


@pytest.mark.parametrize("category, labour, households, people", [
    ("general", True, 743, 2768), ("general", False, 137, 253),
    ("dibao", True, 787, 2584), ("dibao", False, 847, 1458),
    ("wubao", False, 430, 445), ("wubao", True, 0, 0),
])
def test_ruyuan_cells_literal(ruyuan, category, labour, households, people):
    h = ruyuan.households
    mask = (h["category"] == CATEGORIES.index(category)) & ((h["labourers"] > 0) == labour)
    assert int(mask.sum()) == households
    assert int(h["size"][mask].sum(dtype=np.int64)) == people


def test_ruyuan_household_counts(ruyuan, spec):
    h = ruyuan.households
    counts = spec["counts"]
    size = h["size"].astype(np.int64)
    disabled = h["disabled"] > 0
    assert int(disabled.sum()) == counts["disabled_households"] == 949
    assert int(size[disabled].sum()) == counts["disabled_household_people"] == 2539
    assert int(h["ill"].sum(dtype=np.int64)) == counts["ill_people"] == 2251
    assert int((h["ill"] > 0).sum()) == counts["ill_households"] == 1735
    assert int((h["housing_safe"] == 0).sum()) == counts["unsafe_housing_households"] == 1398


def test_ruyuan_county_spec(ruyuan, spec):
    (county,) = spec["counties"]
    assert ruyuan.county_names == [county["name"]]
    assert int(ruyuan.counties["rural_population"][0]) == county["rural_population"]
    assert len(ruyuan.villages["village_id"]) == county["villages"]
    assert np.all(ruyuan.households["county"] == 0)


def test_ruyuan_has_no_identifying_fields(ruyuan):
    assert set(ruyuan.households) == {f.name for f in HOUSEHOLD_SCHEMA}
    np.testing.assert_array_equal(ruyuan.households["hh_id"], np.arange(ruyuan.n_households))
