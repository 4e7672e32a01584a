"""Dated parameters: lookup by year, overlays and their checks, declarations."""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import numpy as np
import pytest

from model.errors import ParameterError
from model.params import Parameters

POVERTY_LINE_CSV = Path(__file__).parents[2] / "shared" / "data" / "poverty_line.csv"


@pytest.fixture(scope="module")
def params() -> Parameters:
    return Parameters.load()


def snapshot(p: Parameters) -> dict[str, list]:
    """Every declared (year, value) pair, as plain lists, for comparisons."""
    return {n: [(y, v.tolist()) for y, v in p.declaration(n).dated] for n in p.names()}


# ---------------------------------------------------------------- lookup by year

@pytest.mark.parametrize("year, expected", [
    (2010, 2300), (2013, 2736), (2016, 2952), (2017, 3028), (2018, 3105), (2020, 3267),
    (2035, 3267),  # the last dated value holds on
])
def test_dated_value_on_its_year(params, year, expected):
    assert params.scalar("poverty_line", year) == expected


def test_dated_value_holds_until_next_date(params):
    # dibao_standard_ratio: 2010 = 0.8, 2014 = 0.85, 2015 = 0.9, 2016 = 0.95, 2017 = 0.9667,
    # 2018 = 0.9833, 2019 = 1.0
    for year in range(2010, 2014):
        assert params.scalar("dibao_standard_ratio", year) == pytest.approx(0.8)
    assert params.scalar("dibao_standard_ratio", 2014) == pytest.approx(0.85)
    assert params.scalar("dibao_standard_ratio", 2015) == pytest.approx(0.9)
    assert params.scalar("dibao_standard_ratio", 2016) == pytest.approx(0.95)
    assert params.scalar("dibao_standard_ratio", 2017) == pytest.approx(0.9667)
    assert params.scalar("dibao_standard_ratio", 2018) == pytest.approx(0.9833)
    for year in range(2019, 2031):
        assert params.scalar("dibao_standard_ratio", year) == pytest.approx(1.0)
    # market_income_growth: 2011 then 2016 -> 2012-2015 hold the 2011 value
    for year in range(2011, 2016):
        assert params.scalar("market_income_growth", year) == pytest.approx(0.117)


@pytest.mark.parametrize("name, first", [("poverty_line", 2010), ("market_income_growth", 2011),
                                         ("transfer_employment.wage", 2010)])
def test_year_before_first_date_raises_naming_parameter(params, name, first):
    with pytest.raises(ParameterError) as info:
        params.at(name, first - 1)
    msg = str(info.value)
    assert f"'{name}'" in msg
    assert str(first - 1) in msg and str(first) in msg
    params.at(name, first)  # the first dated year itself is fine


def test_scalar_value_param_holds_every_year(params):
    for year in (1949, 1990, 2015, 2020, 2100):
        assert params.scalar("income_persistence", year) == pytest.approx(0.7)
        assert params.scalar("asset_income.dividend", year) == 2000
    assert params.at("income_persistence", 2016).shape == ()
    assert params.at("income_persistence", 2016).dtype == np.float64


def test_infinite_value_allowed_where_range_allows(params):
    assert params.scalar("safety_net.capacity", 2016) == np.inf
    assert params.scalar("asset_income.capacity", 2015) == 0
    assert params.scalar("asset_income.capacity", 2016) == np.inf


# ---------------------------------------------------------------- vectors

def test_vector_param_schooling_cost(params):
    v = params.at("schooling_cost", 2016)
    assert v.shape == (4,)
    assert params.declaration("schooling_cost").shape == (4,)
    np.testing.assert_array_equal(v, [1500, 1000, 4000, 12000])
    assert v.dtype == np.float64


def test_dated_vector_param_education_grant(params):
    np.testing.assert_array_equal(params.at("education.grant", 2015), [0, 0, 0, 0])
    np.testing.assert_array_equal(params.at("education.grant", 2016), [1000, 2500, 3000, 5000])
    np.testing.assert_array_equal(params.at("education.grant", 2020), [1000, 2500, 3000, 5000])


def test_scalar_of_vector_param_fails(params):
    with pytest.raises(TypeError):
        params.scalar("schooling_cost", 2016)


# ---------------------------------------------------------------- overlays

def test_scalar_overlay_replaces_every_dated_value(params):
    q = params.with_overlay({"poverty_line": 3000}, source="s.toml")
    for year in (1960, 2009, 2010, 2016, 2017, 2020, 2050):
        assert q.scalar("poverty_line", year) == 3000
    assert len(q.declaration("poverty_line").dated) == 1
    assert q.applied == ("s.toml",)


def test_table_overlay_merges_with_declared_values(params):
    q = params.with_overlay({"poverty_line": {"2016": 4000, 2019: 5000}}, source="s.toml")
    # the overlay's years take the overlay's values
    assert q.scalar("poverty_line", 2016) == 4000
    assert q.scalar("poverty_line", 2019) == 5000
    # earlier dated values are kept, and years before the first date still raise
    assert q.scalar("poverty_line", 2010) == 2300
    assert q.scalar("poverty_line", 2015) == 2855
    with pytest.raises(ParameterError):
        q.at("poverty_line", 2009)


def test_table_overlay_before_first_date_extends_range(params):
    q = params.with_overlay({"poverty_line": {"2000": 1000}})
    assert q.scalar("poverty_line", 2005) == 1000
    # it holds from 2000 on: every declared value dated later is replaced
    assert q.scalar("poverty_line", 2010) == 1000
    assert q.scalar("poverty_line", 2020) == 1000


def test_table_overlay_holds_from_its_year_on_as_documented(params):
    q = params.with_overlay({"poverty_line": {"2016": 4000}}, source="my.toml")
    assert q.scalar("poverty_line", 2017) == 4000
    assert q.scalar("poverty_line", 2018) == 4000
    assert q.scalar("poverty_line", 2020) == 4000


def test_nested_and_dotted_overlays_are_the_same(params):
    a = params.with_overlay({"asset_income": {"dividend": 2500}})
    b = params.with_overlay({"asset_income.dividend": 2500})
    assert a.scalar("asset_income.dividend", 2016) == 2500
    assert b.scalar("asset_income.dividend", 2016) == 2500


def test_vector_overlay(params):
    q = params.with_overlay({"education.grant": {"2018": [1, 2, 3, 4]}})
    np.testing.assert_array_equal(q.at("education.grant", 2018), [1, 2, 3, 4])
    np.testing.assert_array_equal(q.at("education.grant", 2016), [1000, 2500, 3000, 5000])


def test_load_with_overlay(params):
    q = Parameters.load({"poverty_line": 3333}, source="x.toml")
    assert q.scalar("poverty_line", 2016) == 3333
    assert q.applied == ("x.toml",)


@pytest.mark.parametrize("key, suggestion", [
    ("povert_line", "poverty_line"),
    ("asset_income.dividnd", "asset_income.dividend"),
    ("schooling_costs", "schooling_cost"),
])
def test_unknown_key_names_key_and_close_match(params, key, suggestion):
    with pytest.raises(ParameterError) as info:
        params.with_overlay({key: 1}, source="s.toml")
    msg = str(info.value)
    assert "s.toml" in msg
    assert f"'{key}'" in msg
    assert f"did you mean '{suggestion}'" in msg


def test_unknown_key_without_close_match(params):
    with pytest.raises(ParameterError) as info:
        params.with_overlay({"zzzzzz": 1})
    assert "'zzzzzz'" in str(info.value)
    assert "did you mean" not in str(info.value)


def test_unknown_nested_key_names_dotted_key(params):
    with pytest.raises(ParameterError) as info:
        params.with_overlay({"asset_income": {"dividnd": 5}})
    assert "'asset_income.dividnd'" in str(info.value)
    assert "did you mean 'asset_income.dividend'" in str(info.value)


@pytest.mark.parametrize("overlay, key, value, range_text", [
    ({"poverty_line": -1}, "poverty_line", "-1", "[0, 50000]"),
    ({"poverty_line": {"2016": 60000}}, "poverty_line", "60000", "[0, 50000]"),
    ({"income_persistence": 1.5}, "income_persistence", "1.5", "[0, 0.999]"),
    ({"schooling_cost": [1, 2, 3, -4]}, "schooling_cost", "-4", "[0, 100000]"),
    ({"market_income_growth": -0.9}, "market_income_growth", "-0.9", "[-0.5, 1]"),
    ({"household_exit.require_guarantees": 2}, "household_exit.require_guarantees", "2", "[0, 1]"),
    ({"poverty_line": float("nan")}, "poverty_line", "nan", "[0, 50000]"),
])
def test_out_of_range_names_key_value_and_range(params, overlay, key, value, range_text):
    with pytest.raises(ParameterError) as info:
        params.with_overlay(overlay, source="s.toml")
    msg = str(info.value)
    assert f"'{key}'" in msg
    assert value in msg
    assert range_text in msg
    assert "out of range" in msg


@pytest.mark.parametrize("overlay, key", [
    ({"poverty_line": [3000, 4000]}, "poverty_line"),          # list for a scalar
    ({"poverty_line": {"2016": [3000]}}, "poverty_line"),      # list for a scalar, dated
    ({"schooling_cost": 1000}, "schooling_cost"),              # scalar for a vector
    ({"schooling_cost": [1, 2, 3]}, "schooling_cost"),         # wrong length
    ({"poverty_line": "3000"}, "poverty_line"),                # string
    ({"poverty_line": True}, "poverty_line"),                  # bool is not a number
    ({"schooling_cost": [1, 2, "3", 4]}, "schooling_cost"),    # non-number element
])
def test_wrong_shape_or_type_raises(params, overlay, key):
    with pytest.raises(ParameterError) as info:
        params.with_overlay(overlay, source="s.toml")
    assert f"'{key}'" in str(info.value)
    assert "expected" in str(info.value)


def test_list_for_scalar_says_single_number(params):
    with pytest.raises(ParameterError, match="expected a single number"):
        params.with_overlay({"poverty_line": [1, 2]})
    with pytest.raises(ParameterError, match="expected a list of 4 numbers"):
        params.with_overlay({"schooling_cost": 5})


@pytest.mark.parametrize("table", [
    {"y2016": 4000},
    {"2016": 4000, "20l7": 4100},
    {"2016-01": 4000},
    {"1800": 4000},   # a number but not a plausible year
])
def test_non_year_dated_key_raises(params, table):
    with pytest.raises(ParameterError) as info:
        params.with_overlay({"poverty_line": table}, source="s.toml")
    assert "poverty_line" in str(info.value)


def test_non_year_dated_key_message_names_the_key(params):
    with pytest.raises(ParameterError) as info:
        params.with_overlay({"poverty_line": {"2016": 4000, "20l7": 4100}}, source="s.toml")
    msg = str(info.value)
    assert "'20l7'" in msg
    assert "not a year" in msg


def test_year_out_of_bounds_message(params):
    with pytest.raises(ParameterError, match=r"year 1800 is outside 1949-2100"):
        params.with_overlay({"poverty_line": {"1800": 1}})


def test_overlays_never_change_the_original(params):
    before = snapshot(params)
    before_applied = params.applied
    q = params.with_overlay({"poverty_line": {"2016": 4000}, "schooling_cost": [1, 2, 3, 4],
                             "asset_income": {"dividend": 1}, "income_persistence": 0.1},
                            source="a.toml")
    r = q.with_overlay({"poverty_line": 1}, source="b.toml")
    assert snapshot(params) == before
    assert params.applied == before_applied
    assert q.scalar("poverty_line", 2016) == 4000  # q is untouched by r
    assert r.scalar("poverty_line", 2016) == 1
    assert r.applied == before_applied + ("a.toml", "b.toml")
    # a failing overlay leaves the original untouched too
    with pytest.raises(ParameterError):
        params.with_overlay({"poverty_line": 1, "povert_line": 2})
    assert snapshot(params) == before


def test_overlay_mapping_is_not_mutated(params):
    overlay = {"poverty_line": {"2016": 4000}, "asset_income": {"dividend": 1}}
    kept = copy.deepcopy(overlay)
    params.with_overlay(overlay)
    assert overlay == kept


# ---------------------------------------------------------------- declarations

def test_every_parameter_has_reference_unit_and_description(params):
    names = params.names()
    assert len(names) > 20
    for name in names:
        decl = params.declaration(name)
        assert decl.reference.strip(), name
        assert decl.unit.strip(), name
        assert decl.description.strip(), name
        assert decl.low <= decl.high, name
        for year, value in decl.dated:
            assert np.all((value >= decl.low) & (value <= decl.high)), (name, year)
        years = [y for y, _ in decl.dated]
        assert years == sorted(set(years)), name


def test_unknown_name_lookup_raises_with_close_match(params):
    with pytest.raises(ParameterError, match="did you mean 'poverty_line'"):
        params.at("povert_line", 2016)
    assert "poverty_line" in params and "povert_line" not in params


def test_resolved_gives_nan_before_first_date(params):
    out = params.resolved(range(2009, 2012))
    assert np.isnan(out["poverty_line"][0])
    assert out["poverty_line"][1:] == [2300.0, 2536.0]
    assert out["schooling_cost"][0] == [1500, 1000, 4000, 12000]


# ---------------------------------------------------------------- data file

LAST_DATA_YEAR = 2016  # the data rule: nothing published after it enters the model


def test_poverty_line_equals_data_file_to_2016_then_its_projection(params):
    """Up to 2016 every declared date is a row of the data file and every row
    is declared; after 2016 the line is the 2016 row indexed by the
    2013-2016 growth, rounded to the yuan, whatever the file holds later."""
    if not POVERTY_LINE_CSV.is_file():
        pytest.skip(f"{POVERTY_LINE_CSV} is absent")
    with POVERTY_LINE_CSV.open(encoding="utf-8", newline="") as f:
        rows = {int(r["year"]): float(r["value"]) for r in csv.DictReader(f)}
    known = {y: v for y, v in rows.items() if y <= LAST_DATA_YEAR}
    assert known, "no rows up to 2016 in poverty_line.csv"
    declared = {y: float(v) for y, v in params.declaration("poverty_line").dated}
    assert {y: v for y, v in declared.items() if y <= LAST_DATA_YEAR} == known
    growth = (known[2016] / known[2013]) ** (1 / 3)
    later = {y: v for y, v in declared.items() if y > LAST_DATA_YEAR}
    assert sorted(later) == [2017, 2018, 2019, 2020]
    for year, value in later.items():
        assert value == round(known[2016] * growth ** (year - 2016)), year


def test_forecast_inputs_after_2016_are_projections(params):
    """Market income growth holds its 2016 value after 2016, and the migrant
    wage (a 2016 figure) grows with it: no later figure is declared."""
    growth = params.scalar("market_income_growth", 2016)
    for year in range(2017, 2026):
        assert params.scalar("market_income_growth", year) == growth
    wage = params.scalar("transfer_employment.wage", 2016)
    for year in range(2017, 2021):
        assert params.scalar("transfer_employment.wage", year) == round(
            wage * (1 + growth) ** (year - 2016))


def test_module_examples():
    import doctest

    import model.params

    failures, tried = doctest.testmod(model.params)
    assert tried > 0 and failures == 0


def test_calibrate_prior_is_declared_and_checked():
    from model.params import _declare

    base = dict(description="d", unit="1", range=[0, 1], reference="r", value=0.5)
    free = _declare("x", {**base, "calibrate": {"prior": [0.1, 0.9], "scale": "log"}}, "f.toml")
    assert free.free and free.prior == (0.1, 0.9) and free.prior_scale == "log"
    assert not _declare("x", base, "f.toml").free
    bad = [({"prior": [0.9, 0.1]}, "low < high"), ({"prior": [0, 2]}, "inside"),
           ({"prior": [0.1, 0.5], "scale": "lg"}, "did you mean 'log'"),
           ({"prio": [0, 1]}, "did you mean 'prior'"), ({"prior": [0, 0.5], "scale": "log"}, "low > 0")]
    for raw, message in bad:
        with pytest.raises(ParameterError, match=message):
            _declare("x", {**base, "calibrate": raw}, "f.toml")


@pytest.mark.parametrize("old, new", [("return_threshold", "household_exit.return_threshold"),
                                      ("medical_reimbursement", "illness.reimbursement"),
                                      ("delivery.build_months.industry", "industry.build_months")])
def test_an_old_name_fails_naming_the_new_one(old, new):
    params = Parameters.load()
    assert new in params
    with pytest.raises(ParameterError, match=f"unknown parameter '{old}'.*did you mean '{new}'"):
        params.with_overlay({old: 1}, source="old.toml")
    with pytest.raises(ParameterError, match=f"did you mean '{new}'"):
        params.at(old, 2016)


def test_a_free_parameter_needs_a_single_value():
    from model.params import _declare

    table = dict(description="d", unit="1", range=[0, 2], reference="r",
                 values={"2010": 1.0, "2020": 0.8}, calibrate={"prior": [0.5, 1.0]})
    with pytest.raises(ParameterError, match="needs a single 'value'"):
        _declare("x", table, "f.toml")
