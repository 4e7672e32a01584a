"""The engine's rules on small hand-built cases: the household line, village
and county exit, the Hubei schedule. (Household exit, return and entry are
checked kernel against numpy reference in test_kernels.py.)"""

import numpy as np
from numba import njit

from model.engine.context import YearParams
from model.engine.rules import (
    county_exits,
    dibao_standard,
    household_line,
    household_line_np,
    lines_for,
    scheduled_year,
    village_exits,
)
from model.params import Parameters


def _villages(**kw):
    args = dict(poor_people=np.array([1.0, 3.0, 2.0, 0.0]),
                village_population=np.array([100, 100, 100, 100]),
                village_region=np.array([0, 2, 0, 1]),
                collective=np.array([60000, 60000, 40000, 60000], np.float32),
                infrastructure=np.array([1, 1, 1, 0], np.uint8),
                exit_year=np.zeros(4, np.int16), incidence=0.02, incidence_west=0.03,
                min_collective=0.0, require_infrastructure=False)
    args.update(kw)
    return args


def test_village_exit_by_incidence_and_region():
    a = _villages()
    new = village_exits(2017, **a)
    # 1 % east exits; 3 % west does not (needs < 3 %); 2 % east does not; 0 % exits
    np.testing.assert_array_equal(new, [0, 3])
    np.testing.assert_array_equal(a["exit_year"], [2017, 0, 0, 2017])


def test_village_exit_collective_income_and_infrastructure():
    a = _villages(poor_people=np.zeros(4), min_collective=50000.0, require_infrastructure=True)
    new = village_exits(2018, **a)
    np.testing.assert_array_equal(new, [0, 1])  # village 2 lacks income, 3 infrastructure


def test_village_exit_is_final_and_keeps_its_year():
    a = _villages()
    village_exits(2016, **a)
    a["poor_people"] = np.array([50.0, 0.0, 0.0, 50.0])
    new = village_exits(2017, **a)
    np.testing.assert_array_equal(new, [1, 2])
    np.testing.assert_array_equal(a["exit_year"], [2016, 2017, 2017, 2016])


def _counties(**kw):
    args = dict(poor_people=np.array([100.0, 250.0, 100.0, 100.0]),
                population=np.array([10000, 10000, 10000, 10000]),
                region=np.array([1, 2, 1, 1]),
                wrong_exit_rate=np.array([0.01, 0.01, 0.03, 0.01]),
                missed_rate=np.array([0.0, 0.0, 0.0, 0.025]),
                exit_year=np.zeros(4, np.int16), incidence=0.02, incidence_west=0.03,
                max_wrong=0.02, max_missed=0.02, first_allowed=np.zeros(4, np.int16))
    args.update(kw)
    return args


def test_county_exit_needs_incidence_and_both_rates():
    a = _counties()
    new = county_exits(2018, **a)
    # county 1 is western (2.5 % < 3 %); 2 has 3 % wrongful exits; 3 misses 2.5 %
    np.testing.assert_array_equal(new, [0, 1])
    a = _counties(poor_people=np.array([250.0, 350.0, 100.0, 100.0]))
    np.testing.assert_array_equal(county_exits(2018, **a), [])


def test_hubei_schedule_by_income_ratio():
    ratio = np.array([0.80, 0.70, 0.6999, 0.65, 0.64, 0.30])
    np.testing.assert_array_equal(scheduled_year(ratio, 0.70, 0.65),
                                  [2017, 2017, 2018, 2018, 2019, 2019])


def test_county_cannot_exit_before_its_scheduled_year():
    first = scheduled_year(np.array([0.8, 0.66, 0.5, 0.9]), 0.70, 0.65)
    a = _counties(poor_people=np.zeros(4), missed_rate=np.zeros(4),
                  wrong_exit_rate=np.zeros(4), first_allowed=first)
    exits = {year: county_exits(year, **a).tolist() for year in (2016, 2017, 2018, 2019)}
    assert exits == {2016: [], 2017: [0, 3], 2018: [1], 2019: [2]}
    np.testing.assert_array_equal(a["exit_year"], [2017, 2018, 2019, 2017])


def test_only_poor_villages_and_counties_exit():
    a = _villages(poor_people=np.zeros(4))
    new = village_exits(2017, **a, poor_village=np.array([1, 0, 1, 0], np.uint8))
    np.testing.assert_array_equal(new, [0, 2])
    b = _counties(poor_people=np.zeros(4), missed_rate=np.zeros(4), wrong_exit_rate=np.zeros(4))
    new = county_exits(2017, **b, poor_county=np.array([0, 1, 1, 0], np.uint8))
    np.testing.assert_array_equal(new, [1, 2])


def _exit_then_shock(margin, drop, n=50_000):
    """Households exit in 2017 at exactly their exit threshold (assessed =
    true income, no error); in 2018 their income falls by ``drop``. Returns
    the 2018 events, with the default return parameters."""
    from model.engine.codes import ALL_GUARANTEES, EXIT, POOR
    from model.engine.rules import verify
    from model.params import Parameters
    from model.random import Stream, year_key

    p = Parameters.load()
    line = np.float32(2952.0)
    hh = np.arange(n, dtype=np.int32)
    income = np.full(n, (1.0 + margin) * line * 1.0001, np.float32)
    floor = np.zeros(n, np.float32)
    g = np.full(n, ALL_GUARANTEES, np.uint8)
    status, event, exit_year = np.full(n, POOR, np.int8), np.zeros(n, np.uint8), np.zeros(n, np.int16)

    for year, inc in ((2017, income), (2018, income * np.float32(1.0 - drop))):
        verify(hh, inc, floor, g, year_key(3, Stream.VERIFICATION, year),
               year_key(3, Stream.RETURN, year), line, line, np.float32(0.0),
               np.uint8(ALL_GUARANTEES), np.float32(margin),
               np.float32(p.at("household_exit.return_threshold", year)),
               np.float32(p.at("household_exit.return_probability", year)),
               np.float32(p.at("household_exit.return_decay", year)), False, np.int16(year),
               status, event, exit_year)
        if year == 2017:
            assert (event == EXIT).all()
    return event


def test_just_exited_household_with_a_margin_does_not_return_on_an_ordinary_shock():
    """稳定脱贫: a household that exits with the default margin and then loses
    an ordinary year's worth of income (a fall of one standard deviation of
    the transitory shock) stays out; without the margin, or after a large
    fall, some return."""
    from model.engine.codes import RETURN
    from model.params import Parameters

    p = Parameters.load()
    margin = float(p.at("household_exit.margin", 2017))
    ordinary = 1.0 - np.exp(-float(p.at("income_sigma_transitory", 2018)))
    assert margin > 0 and 0.1 < ordinary < 0.3
    assert not (_exit_then_shock(margin, ordinary) == RETURN).any()
    assert (_exit_then_shock(0.0, ordinary) == RETURN).mean() > 0.1
    assert (_exit_then_shock(margin, 0.4) == RETURN).mean() > 0.1


def test_covered_households_are_judged_at_the_dibao_standard_only_where_the_rule_says():
    params = Parameters.load()
    p = YearParams(params, 2016)
    line, covered = lines_for(p)
    assert line == p("poverty_line") and covered == line     # the national rule
    q = YearParams(params.with_overlay({"household_exit.covered_at_dibao": 1}), 2016)
    line, covered = lines_for(q)
    assert covered == min(line, dibao_standard(q)) < line    # Guangdong practice, 2016


def test_household_line_kernel_and_numpy_twin_agree():
    @njit
    def lines(floor, line, covered):
        out = np.empty(len(floor))
        for i in range(len(floor)):
            out[i] = household_line(floor[i], line, covered)
        return out

    floor = np.array([0.0, 2500.0, 0.0, 1.0], np.float32)
    expected = np.array([3000.0, 2600.0, 3000.0, 2600.0])
    np.testing.assert_array_equal(lines(floor, 3000.0, 2600.0), expected)
    np.testing.assert_array_equal(household_line_np(floor, 3000.0, 2600.0), expected)


def test_income_guaranteed_at_the_line_exits_without_a_margin():
    """兜底: a household whose safety-net floor is at or above its line exits
    once its guarantees hold, whatever the margin; a floor below the line,
    or a missing guarantee, does not make an exit."""
    from model.engine.codes import ALL_GUARANTEES, EXIT, HOUSING, POOR
    from model.engine.rules import verify, verify_numpy
    from model.random import Stream, year_key

    n = 6
    f = np.float32
    income = np.array([3000, 3000, 3000, 2950, 3300, 3000], f)   # net of costs, after top-up
    floor = np.array([3000, 3200, 2900, 0, 0, 3000], f)
    guarantees = np.array([ALL_GUARANTEES] * 5 + [ALL_GUARANTEES & ~HOUSING], np.uint8)
    for fn in (verify, verify_numpy):
        status, event, exit_year = np.full(n, POOR, np.int8), np.zeros(n, np.uint8), \
            np.zeros(n, np.int16)
        fn(np.arange(n, dtype=np.int32), income, floor, guarantees,
           year_key(0, Stream.VERIFICATION, 2018), year_key(0, Stream.RETURN, 2018),
           f(3000), f(3000), f(0.0), np.uint8(ALL_GUARANTEES), f(0.5), f(0.9), f(0.9),
           f(0.3), False, np.int16(2018), status, event, exit_year)
        assert list(event == EXIT) == [True, True, False, False, False, False], fn.__name__
