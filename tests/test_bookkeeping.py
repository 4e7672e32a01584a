"""The programme bookkeeping kernels against their numpy references, bit for bit."""

import numpy as np
import pytest

from model.engine.active_rule import (
    active_indices,
    active_indices_numpy,
    active_limits,
    active_mask_at,
)
from model.engine.bookkeeping import (
    add_at,
    add_at_numpy,
    candidate_indices,
    candidate_indices_numpy,
    poorer_candidate_indices,
    poorer_candidate_indices_numpy,
    candidates_among,
    candidates_among_numpy,
    lookup_sum,
    lookup_sum_numpy,
    merge_sorted,
    merge_sorted_numpy,
    or_and_flag_at,
    or_and_flag_at_numpy,
    or_at,
    or_at_numpy,
    ramp_shares,
    ramp_shares_numpy,
    step_indices,
    step_indices_numpy,
    stop_failed,
    stop_failed_numpy,
)
from model.random import year_key

N = 5000


def households(seed):
    rng = np.random.default_rng(seed)
    start = rng.choice(np.array([0, 0, 0, 2015, 2016, 2017, 2018, -2016], np.int16), N)
    status = rng.integers(0, 4, N).astype(np.int8)
    exit_year = np.where(status == 2, rng.choice(np.array([2015, 2016, 2017], np.int16), N),
                         0).astype(np.int16)
    return rng, start, status, exit_year


@pytest.mark.parametrize("oldest, last", [(-np.inf, -np.inf), (2014.0, 2015.0), (2015.5, -np.inf),
                                          (-np.inf, 2016.0)])
def test_active_indices(oldest, last):
    _, start, status, exit_year = households(1)
    got = active_indices(start, 2017, oldest, status, exit_year, last)
    ref = active_indices_numpy(start, 2017, oldest, status, exit_year, last)
    assert got.dtype == ref.dtype and 0 < len(got) < N
    np.testing.assert_array_equal(got, ref)
    # reading only the units ever enrolled gives the same
    units = np.flatnonzero(start != 0)
    np.testing.assert_array_equal(
        active_indices(start, 2017, oldest, status, exit_year, last, units), ref)


@pytest.mark.parametrize("oldest", [-np.inf, np.inf, 2014.0, 2014.5, -2014.5, -4e4, 4e4])
@pytest.mark.parametrize("last", [-np.inf, np.inf, 2015.0, 2015.5, -0.5, -4e4, 4e4])
def test_the_rules_int16_bounds_give_the_float_limits_answers(oldest, last):
    """active_limits' bounds: every start and exit year, from the ends of
    int16 (a backlog's WAITING is its top) through 0 and the years, is
    active under them exactly when it is under the float limits, finite,
    fractional, infinite or beyond int16."""
    from model.engine.backlog import WAITING

    starts = np.array([-32768, -32767, -2016, -1, 0, 1, 2013, 2014, 2015, 2016, 2017, 2018,
                       WAITING - 1, WAITING], np.int16)
    exits = np.array([0, 1, 2014, 2015, 2016, 2017, 32767], np.int16)
    start = np.repeat(starts, len(exits) * 4)
    exit_year = np.tile(np.repeat(exits, 4), len(starts))
    status = np.tile(np.arange(4, dtype=np.int8), len(starts) * len(exits))
    ref = active_indices_numpy(start, 2017, oldest, status, exit_year, last)
    np.testing.assert_array_equal(active_indices(start, 2017, oldest, status, exit_year, last),
                                  ref)
    year, low, high = active_limits(2017, oldest, last)
    assert year.dtype == low.dtype == high.dtype == np.int16


def test_candidate_indices():
    rng, start, status, _ = households(2)
    matched = rng.random(N) < 0.5
    for m in (None, matched):
        got, ref = candidate_indices(start, status, m), candidate_indices_numpy(start, status, m)
        assert 0 < len(got) < N
        np.testing.assert_array_equal(got, ref)


def test_poorer_candidate_indices():
    """The matched candidates at or below a bound, some of them at it."""
    rng, start, status, _ = households(3)
    matched = rng.random(N) < 0.5
    income = rng.lognormal(8.0, 0.5, N).astype(np.float32)
    bound = np.quantile(income, 0.3).astype(np.float32)
    income[rng.random(N) < 0.05] = bound
    got = poorer_candidate_indices(start, status, matched, income, bound)
    ref = poorer_candidate_indices_numpy(start, status, matched, income, bound)
    assert got.dtype == np.int64 and 0 < len(got) < len(candidate_indices(start, status, matched))
    assert (income[got] == bound).any()
    np.testing.assert_array_equal(got, ref)


def test_candidates_among_a_list_are_those_of_the_whole_registry_in_it():
    rng, start, status, _ = households(5)
    matched = rng.random(N) < 0.5
    units = np.sort(rng.choice(N, N // 3, replace=False))
    for m in (None, matched):
        got, ref = candidates_among(units, start, status, m), candidates_among_numpy(
            units, start, status, m)
        assert got.dtype == np.int64 and 0 < len(got) < len(units)
        np.testing.assert_array_equal(got, ref)
        # the same as the pass over the registry, restricted to the list
        np.testing.assert_array_equal(got, np.intersect1d(candidate_indices(start, status, m),
                                                          units))


@pytest.mark.parametrize("village", [False, True])
@pytest.mark.parametrize("scalar", [False, True])
@pytest.mark.parametrize("with_fraction", [False, True])
@pytest.mark.parametrize("per_household", [False, True])
def test_add_at(village, scalar, with_fraction, per_household):
    rng, start, _, _ = households(3)
    nv, nc = 40, 7
    unit_of = rng.integers(0, nv, N) if village else np.zeros(0, np.int8)
    start = start[:nv] if village else start
    county = rng.integers(0, nc, N).astype(np.int16)
    idx = np.sort(rng.choice(N, 800, replace=False))
    per_capita = (np.array([123.4], np.float32) if scalar
                  else (rng.random(800) * 900).astype(np.float32))
    fraction = (rng.random(nc).astype(np.float32) if with_fraction
                else np.zeros(0, np.float32))
    size = rng.integers(1, 9, N).astype(np.int8) if per_household else np.zeros(0, np.int8)
    row = (rng.random(N) * 100).astype(np.float32)
    ref, before = row.copy(), row.copy()
    add_at(row, idx, per_capita, np.float32(0.85), start, unit_of, 2017, fraction, county, size)
    add_at_numpy(ref, idx, per_capita, np.float32(0.85), start, unit_of, 2017, fraction, county,
                 size)
    assert not np.array_equal(row, before)
    np.testing.assert_array_equal(row, ref)
    if per_household:  # as the programmes divided by the members before
        ref = before.copy()
        add_at_numpy(ref, idx, per_capita / size[idx].astype(np.float32), np.float32(0.85), start,
                     unit_of, 2017, fraction, county)
        np.testing.assert_array_equal(row, ref)


@pytest.mark.parametrize("hazard", [0.0, 0.3, 0.7, 1.0])
@pytest.mark.parametrize("oldest, last", [(-np.inf, -np.inf), (2015.5, 2016.0)])
def test_step_indices(hazard, oldest, last):
    # 0.3 lies below its float32 value, 0.7 above: the kernel takes float32(hazard)
    rng, start, status, exit_year = households(5)
    hh_id = rng.permutation(10 * N)[:N].astype(np.int32)
    needs = rng.random(N) < 0.6
    key = year_key(2, 7 + 16 * 6, 2018)
    ref_start = start.copy()
    ref = step_indices_numpy(ref_start, 2018, oldest, status, exit_year, last, needs, hh_id,
                             key, hazard)
    assert 0 < len(ref[1]) < len(ref[0]) < N
    if hazard:
        assert (ref_start < 0).sum() > (start < 0).sum()  # some enrolments failed
    # every unit read, or only those ever enrolled
    for units in (None, np.flatnonzero(start != 0)):
        got_start = start.copy()
        got = step_indices(got_start, 2018, oldest, status, exit_year, last, needs, hh_id, key,
                           np.float32(hazard), units)
        for a, b in zip(got, ref):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(got_start, ref_start)
        # without the years since enrolment: the same lists, no years
        got_start = start.copy()
        *lists, years_in = step_indices(got_start, 2018, oldest, status, exit_year, last, needs,
                                        hh_id, key, np.float32(hazard), units, years=False)
        assert years_in is None
        for a, b in zip(lists, ref[:2]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(got_start, ref_start)
        # marking the active units: the same lists, the bit set for each active unit alone
        marks = rng.integers(0, 256, N).astype(np.uint8) & np.uint8(0b11110111)
        got_marks, ref_marks, got_start = marks.copy(), marks.copy(), start.copy()
        got = step_indices(got_start, 2018, oldest, status, exit_year, last, needs, hh_id, key,
                           np.float32(hazard), units, True, got_marks, 8)
        step_indices_numpy(start.copy(), 2018, oldest, status, exit_year, last, needs, hh_id,
                           key, hazard, ref_marks, 8)
        for a, b in zip(got, ref):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(got_marks, ref_marks)
        assert np.count_nonzero(got_marks & 8) == len(ref[0])


@pytest.mark.parametrize("sizes", [(0, 0), (0, 40), (40, 0), (300, 1), (1, 300), (500, 700)])
def test_merge_sorted(sizes):
    rng = np.random.default_rng(sum(sizes))
    both = rng.choice(5000, sum(sizes), replace=False)
    a, b = np.sort(both[:sizes[0]]), np.sort(both[sizes[0]:])
    got = merge_sorted(a.astype(np.int64), b.astype(np.int64))
    assert got.dtype == np.int64 and len(got) == sum(sizes)
    np.testing.assert_array_equal(got, merge_sorted_numpy(a, b))


@pytest.mark.parametrize("hazard", [0.3, 0.7, 1.0])
def test_stop_failed(hazard):
    # 0.3 lies below its float32 value, 0.7 above: the kernel takes float32(hazard)
    rng, start, _, _ = households(5)
    hh_id = rng.permutation(10 * N)[:N].astype(np.int32)
    active = np.flatnonzero(start > 0)
    key = year_key(2, 7 + 16 * 6, 2018)
    got_start, ref_start = start.copy(), start.copy()
    got = stop_failed(active, got_start, hh_id, key, 2018, np.float32(hazard))
    ref = stop_failed_numpy(active, ref_start, hh_id, key, 2018, hazard)
    assert 0 < len(ref) < len(active)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got_start, ref_start)


def test_active_mask_at_is_the_mask_of_a_subset():
    rng, start, status, exit_year = households(7)
    idx = np.sort(rng.choice(N, 700, replace=False))
    got = np.empty(len(idx), bool)
    active_mask_at(idx, start, 2017, 2014.0, status, exit_year, 2015.0, got)
    ref = np.zeros(N, bool)
    ref[active_indices_numpy(start, 2017, 2014.0, status, exit_year, 2015.0)] = True
    np.testing.assert_array_equal(got, ref[idx])


def test_or_at_and_lookup_sum():
    rng = np.random.default_rng(9)
    values = rng.integers(0, 16, N).astype(np.uint8)
    idx = np.sort(rng.choice(N, 900, replace=False))
    got, ref = values.copy(), values.copy()
    or_at(got, idx, np.uint8(8))
    or_at_numpy(ref, idx, np.uint8(8))
    assert not np.array_equal(got, values)
    np.testing.assert_array_equal(got, ref)
    got_flags, ref_flags = np.zeros(N, np.uint8), np.zeros(N, np.uint8)
    got, ref = values.copy(), values.copy()
    or_and_flag_at(got, idx, np.uint8(8), got_flags)
    or_and_flag_at_numpy(ref, idx, np.uint8(8), ref_flags)
    assert got_flags.sum() == len(idx)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(got_flags, ref_flags)
    first, second = rng.random(21).astype(np.float32), rng.random(21).astype(np.float32) * 1e3
    first_key = rng.integers(0, 21, N).astype(np.int8)
    second_key = rng.integers(1, 21, N).astype(np.int8)
    got = lookup_sum(idx, first, first_key, second, second_key)
    ref = lookup_sum_numpy(idx, first, first_key, second, second_key)
    assert got.dtype == ref.dtype == np.float32
    np.testing.assert_array_equal(got, ref)


def test_per_student_matches_numpy_reference():
    from model.engine.state import per_student, per_student_numpy
    from model.registry.synth import synthetic

    reg = synthetic(3000, seed=4)
    idx = np.sort(np.random.default_rng(4).choice(3000, 700, replace=False))
    for amounts in ((1000.0, 2500.0, 3000.0, 5000.0), (0.0, 2500.0, 0.0, 1e-50), (0, 0, 0, 0)):
        for index in (None, idx, idx[:0]):
            got = per_student(reg, amounts, index)
            ref = per_student_numpy(reg, amounts, index)
            assert got.dtype == ref.dtype == np.float32 and len(got) == len(ref)
            np.testing.assert_array_equal(got, ref)
    assert per_student(reg, (1000.0, 2500.0, 3000.0, 5000.0)).max() > 0


def test_one_pass_setters_match_numpy_references(four_threads, monkeypatch):
    from model.engine import threads
    from model.engine.bookkeeping import (
        or_in_units,
        or_in_units_numpy,
        per_capita,
        per_capita_numpy,
        product_at,
        product_at_numpy,
        set_at,
        set_at_numpy,
        set_from_table,
        set_from_table_numpy,
    )

    rng = np.random.default_rng(8)
    idx = np.sort(rng.choice(N, 1200, replace=False))
    key = rng.integers(0, 9, N).astype(np.int16)
    table = rng.uniform(2000, 4000, 9).astype(np.float32)
    got, ref = np.zeros(N, np.float32), np.zeros(N, np.float32)
    set_from_table(got, idx, table, key)
    set_from_table_numpy(ref, idx, table, key)
    np.testing.assert_array_equal(got, ref)

    start = rng.choice(np.array([0, 2016, -2016], np.int16), N)
    got, ref = start.copy(), start.copy()
    set_at(got, idx, 2018)
    set_at_numpy(ref, idx, 2018)
    assert (got != start).any()
    np.testing.assert_array_equal(got, ref)

    bits = rng.integers(0, 256, N).astype(np.uint8)
    unit_of, flagged = rng.integers(0, 50, N).astype(np.int32), rng.random(50) < 0.3
    ref = bits.copy()
    or_in_units_numpy(ref, unit_of, flagged, np.uint8(4))
    for min_piece in (threads.MIN_PIECE, N // 5):  # one piece, and several on threads
        monkeypatch.setattr(threads, "MIN_PIECE", min_piece)
        got = bits.copy()
        pieces, _ = or_in_units(got, unit_of, flagged, np.uint8(4))
        assert (len(pieces) > 2) == (min_piece < N // 2)
        assert (got != bits).any()
        np.testing.assert_array_equal(got, ref)

    first, second = rng.uniform(0, 900, N).astype(np.float32), rng.integers(1, 9, N).astype(np.int8)
    got, ref = product_at(idx, first, second), product_at_numpy(idx, first, second)
    assert got.dtype == ref.dtype == np.float64
    np.testing.assert_array_equal(got, ref)

    elderly = rng.integers(0, 3, N).astype(np.int8)
    out = np.empty(N, np.float32)
    per_capita(1056.0, elderly, second, out)
    np.testing.assert_array_equal(out, per_capita_numpy(1056.0, elderly, second))
    assert out.max() > 0


@pytest.mark.parametrize("years", [0.0, 1.0, 3.0, 2.5])
def test_ramp_shares(years):
    years_in = np.random.default_rng(8).integers(0, 6, 3000).astype(np.int16)
    got, ref = ramp_shares(years_in, years), ramp_shares_numpy(years_in, years)
    assert got.dtype == np.float32 and ((got > 0) & (got <= 1)).all()
    np.testing.assert_array_equal(got, ref)
    if years > 1:
        assert (got < 1).any()


def test_values_at_is_numpys_gather_in_pieces(four_threads, monkeypatch):
    from model.engine import threads
    from model.engine.bookkeeping import values_at, values_at_numpy

    monkeypatch.setattr(threads, "MIN_PIECE", 100)
    rng = np.random.default_rng(9)
    idx = np.sort(rng.choice(N, N // 3, replace=False))
    for values in (rng.uniform(0, 9000, N).astype(np.float32), rng.integers(1, 9, N).astype(np.int8)):
        got, ref = values_at(values, idx), values_at_numpy(values, idx)
        assert got.dtype == ref.dtype == values.dtype and len(got) == len(idx)
        np.testing.assert_array_equal(got, ref)
