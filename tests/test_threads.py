"""Household kernels on threads: the pieces cover every household once, and a
kernel's results do not depend on where the households are cut."""

import itertools

import numpy as np
import pytest
from test_kernels import outputs, random_inputs

from model.engine import threads
from model.engine.kernels import income_update


@pytest.mark.parametrize("n, min_piece, pieces", [(10, 1, 4), (10, 3, 4), (10, 4, 3),
                                                  (10, 100, 1), (0, 1, 1), (3, 1, 3)])
def test_pieces_cover_every_household_once(four_threads, n, min_piece, pieces):
    seen = []
    threads.split(lambda start, stop, out: out.append((start, stop)), n, seen,
                  min_piece=min_piece)
    seen.sort()
    assert len(seen) == pieces
    assert seen[0][0] == 0 and seen[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(seen))


def test_set_threads_bounds_the_pieces(four_threads):
    threads.set_threads(2)
    seen = []
    threads.split(lambda start, stop: seen.append(start), 100, min_piece=1)
    assert len(seen) == 2 and threads.threads() == 2
    threads.set_threads(99)
    assert threads.threads() == 4


def test_income_update_is_the_same_whatever_the_cuts(four_threads, monkeypatch):
    n = 50_003
    inputs, scalars, z0 = random_inputs(n, 5)
    whole = outputs(n, z0)
    income_update.kernel(**inputs, **scalars, **whole)  # one serial pass
    monkeypatch.setattr(threads, "MIN_PIECE", 7)
    cut = outputs(n, z0)
    income_update(**inputs, **scalars, **cut)  # four pieces on threads
    odd = outputs(n, z0)
    for start, stop in ((0, 7), (7, 1_000), (1_000, n)):  # cuts off the vector width
        part = {k: v[start:stop] if k != "county_factor" else v for k, v in inputs.items()}
        income_update.kernel(**part, **scalars, **{k: v[start:stop] for k, v in odd.items()})
    for name in whole:
        np.testing.assert_array_equal(whole[name], cut[name])
        np.testing.assert_array_equal(whole[name], odd[name])


def test_a_threaded_kernel_takes_its_arguments_by_position_or_name(four_threads, monkeypatch):
    from model.engine.bookkeeping import _ramp_shares

    monkeypatch.setattr(threads, "MIN_PIECE", 7)
    years_in = (np.arange(1_001) % 7).astype(np.int16)
    expected = np.minimum((years_in + 1) / 3.0, 1.0).astype(np.float32)
    calls = (lambda out: _ramp_shares(years_in, 3.0, out),
             lambda out: _ramp_shares(years_in, 3.0, out=out),
             lambda out: _ramp_shares(out=out, years=3.0, years_in=years_in))
    for call in calls:
        out = np.full(len(years_in), np.nan, np.float32)
        call(out)
        np.testing.assert_array_equal(out, expected)
    with pytest.raises(TypeError):
        _ramp_shares(years_in, 3.0)
    with pytest.raises(TypeError):
        _ramp_shares(years_in, 3.0, expected, expected)


def test_a_kernel_error_reaches_the_caller(four_threads):
    def kernel(start, stop):
        if start > 0:
            raise ValueError("piece failed")

    with pytest.raises(ValueError, match="piece failed"):
        threads.split(kernel, 100, min_piece=1)


def test_split_summed_tables_do_not_depend_on_the_threads(four_threads, monkeypatch):
    """Pieces add into tables of their own; the tables summed afterwards are
    the one-piece tables, for the tally and its histogram, the attribution
    and the reach."""
    from model.engine.attribution import attribute_exits
    from model.engine.codes import ATTRIBUTION, BATCHES
    from model.engine.tally import NBINS, tally
    from model.engine.tally_columns import NV

    rng = np.random.default_rng(4)
    n, nc = 20_011, 5
    county = np.sort(rng.integers(0, nc, n)).astype(np.int16)
    category = rng.integers(0, 3, n).astype(np.int8)
    size = rng.integers(1, 9, n).astype(np.int8)
    income = rng.uniform(0, 12_000, n).astype(np.float32)
    status = rng.integers(0, 4, n).astype(np.int8)
    event = rng.integers(0, 4, n).astype(np.uint8)
    village = rng.integers(0, 40, n).astype(np.int32)
    exits = np.sort(rng.choice(n, 9_001, replace=False))
    batch_income = ((rng.random((4, n)) < 0.4) * rng.uniform(0, 3000, (4, n))).astype(np.float32)
    topup = ((rng.random(n) < 0.3) * rng.uniform(0, 2000, n)).astype(np.float32)
    floor = (topup > 0).astype(np.float32) * 2500
    marks, village_marks = (rng.integers(0, 32, m).astype(np.uint8) for m in (n, 40))

    def tables():
        hist, people = np.zeros((nc * 3, NBINS), np.int32), np.zeros(40)
        counts = np.zeros((nc * 3, NV))
        tally(county, category, size, income, floor, status, event, 3000.0, 2500.0, 3, counts,
              hist, village=village, village_people=people)
        out, reached = np.zeros((nc, len(ATTRIBUTION), 2)), np.zeros((nc, len(BATCHES)))
        attribute_exits(exits, income, floor, 3000.0, 2500.0, batch_income, np.ones(4, bool),
                        topup, marks, village, village_marks, county, size, out, reached)
        return hist, people, counts, out, reached

    monkeypatch.setattr(threads, "MIN_PIECE", 10**9)
    threads.set_threads(1)
    one = tables()  # one piece
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    threads.set_threads(4)
    four = tables()
    assert one[0].sum() == size[(status == 0) | (status == 2)].sum()  # poor or returned
    assert one[1].sum() == one[0].sum() and one[2][:, 0].sum() == n
    assert one[3][..., 0].sum() == len(exits) and one[4].sum() > 0
    for a, b in zip(one, four):
        np.testing.assert_array_equal(a, b)


def test_failures_are_the_same_whatever_the_pieces(four_threads, monkeypatch):
    """stop_failed's draws run on threads: the same failures and survivors
    in four pieces as in one."""
    from model.engine.bookkeeping import stop_failed
    from model.random import year_key

    rng = np.random.default_rng(12)
    n = 30_000
    start = rng.choice(np.array([2015, 2016, 2017, 2018], np.int16), n)
    hh_id = rng.permutation(10 * n)[:n].astype(np.int32)
    active = np.sort(rng.choice(n, 20_000, replace=False))
    key = year_key(3, 7, 2018)
    results = []
    for piece in (10**9, 1_000):
        monkeypatch.setattr(threads, "MIN_PIECE", piece)
        got_start = start.copy()
        results.append((stop_failed(active, got_start, hh_id, key, 2018, np.float32(0.3)),
                        got_start))
    assert 0 < len(results[0][0]) < len(active)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_per_student_is_the_same_whatever_the_pieces(four_threads, monkeypatch):
    from model.engine.state import per_student
    from model.registry.synth import synthetic

    reg = synthetic(5000, seed=2)
    idx = np.sort(np.random.default_rng(2).choice(5000, 3000, replace=False))
    amounts = (1000.0, 2500.0, 3000.0, 5000.0)
    results = []
    for piece in (10**9, 100):
        monkeypatch.setattr(threads, "MIN_PIECE", piece)
        results.append((per_student(reg, amounts), per_student(reg, amounts, idx)))
    assert results[0][0].max() > 0
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_elementwise_bookkeeping_is_the_same_whatever_the_pieces(four_threads, monkeypatch):
    """The one-pass setters, lookups and income additions on threads: four
    pieces as one."""
    from model.engine.bookkeeping import (
        EMPTY,
        add_at,
        lookup_sum,
        or_and_flag_at,
        product_at,
        set_at,
        set_from_table,
    )

    rng = np.random.default_rng(13)
    n = 40_000
    idx = np.sort(rng.choice(n, 25_000, replace=False))
    key = rng.integers(0, 21, n).astype(np.int8)
    size = rng.integers(1, 9, n).astype(np.int8)
    table = rng.uniform(0, 900, 21).astype(np.float32)
    topup = rng.uniform(0, 3000, n).astype(np.float32)
    results = []
    for piece in (10**9, 1_000):
        monkeypatch.setattr(threads, "MIN_PIECE", piece)
        floor, bits, flags = np.zeros(n, np.float32), np.zeros(n, np.uint8), np.zeros(n, np.uint8)
        set_from_table(floor, idx, table, key)
        or_and_flag_at(bits, idx, np.uint8(8), flags)
        one, each = np.zeros(n, np.float32), np.zeros(n, np.float32)
        start = np.where(np.arange(n) % 3 == 0, 2016, 2017).astype(np.int16)
        fraction = np.linspace(0.1, 1.0, 21).astype(np.float32)
        add_at(one, idx, np.array([700.0], np.float32), np.float32(0.9), start, EMPTY, 2017,
               fraction, key)
        add_at(each, idx, topup[idx], np.float32(0.9), start, EMPTY, 2017, fraction, key)
        start_now = start.copy()
        set_at(start_now, idx, 2018)
        results.append((floor, bits, flags, lookup_sum(idx, table, key, table, size),
                        product_at(idx, topup, size), one, each, start_now))
    assert results[0][2].sum() == len(idx) and (results[0][5] > 0).sum() == len(idx)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("share", [0.0, 0.002, 0.02, 0.03, 0.5, 1.0])
def test_indices_where_is_flatnonzero_whatever_the_pieces(four_threads, monkeypatch, share):
    """Four pieces, with runs of false at the ends of pieces (where a
    branch-free write could fall into the next piece's places); the
    sparse masks are read eight elements at a time."""
    rng = np.random.default_rng(17)
    mask = rng.random(10_007) < share
    mask[2_400:2_600] = False  # the end of the first piece and the start of the second
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    assert len(threads.cuts(len(mask))) == 5
    np.testing.assert_array_equal(threads.indices_where(mask), np.flatnonzero(mask))
    monkeypatch.setattr(threads, "MIN_PIECE", 10**9)
    np.testing.assert_array_equal(threads.indices_where(mask), np.flatnonzero(mask))
    assert threads.indices_where(mask).dtype == np.int64


@pytest.mark.parametrize("share", [0.0, 0.03, 0.5, 1.0])
@pytest.mark.parametrize("dtype", [np.int64, np.int16])
def test_split_where_is_boolean_indexing_whatever_the_pieces(four_threads, monkeypatch, share,
                                                             dtype):
    rng = np.random.default_rng(23)
    mask = rng.random(10_007) < share
    mask[2_400:2_600] = share > 0.5  # a run across the first cut
    values = rng.integers(0, 30_000, len(mask)).astype(dtype)
    for min_piece in (1_000, 10**9):  # four pieces, then one
        monkeypatch.setattr(threads, "MIN_PIECE", min_piece)
        taken, left = threads.split_where(mask, values)
        assert taken.dtype == left.dtype == dtype
        np.testing.assert_array_equal(taken, values[mask])
        np.testing.assert_array_equal(left, values[~mask])


def test_registry_masks_are_the_same_whatever_the_pieces(four_threads, monkeypatch):
    from model.engine.active_rule import active_indices
    from model.engine.bookkeeping import candidate_indices, step_indices

    rng = np.random.default_rng(19)
    n = 30_011
    start = rng.choice(np.array([0, 0, 2015, 2016, 2017, -2016], np.int16), n)
    status = rng.integers(1, 5, n).astype(np.int8)
    exit_year = rng.choice(np.array([0, 2015, 2016], np.int16), n)
    needs = rng.random(n) < 0.7
    matched = rng.random(n) < 0.5
    results = []

    def marked():
        marks = np.zeros(n, np.uint8)
        step_indices(start.copy(), 2017, 2014.0, status, exit_year, 2015.0, needs, np.arange(n),
                     np.uint64(5), 0.3, None, False, marks, 4)
        return marks

    for piece in (10**9, 1_000):
        monkeypatch.setattr(threads, "MIN_PIECE", piece)
        results.append((active_indices(start, 2017, 2014.0, status, exit_year, 2015.0),
                        candidate_indices(start, status), candidate_indices(start, status, matched),
                        *step_indices(start.copy(), 2017, 2014.0, status, exit_year, 2015.0, needs,
                                      np.arange(n), np.uint64(5), 0.0),
                        # the failures are drawn in the same pass, each household with its id
                        *step_indices(start.copy(), 2017, 2014.0, status, exit_year, 2015.0, needs,
                                      np.arange(n), np.uint64(5), 0.3)[:2],
                        *step_indices(start.copy(), 2017, 2014.0, status, exit_year, 2015.0, needs,
                                      np.arange(n), np.uint64(5), 0.3,
                                      units=np.flatnonzero(start != 0))[:2], marked()))
    assert all(len(r) > 0 for r in results[0])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_a_threaded_kernel_returns_its_pieces_and_their_counts(four_threads, monkeypatch):
    from model.engine.bookkeeping import step_masks

    rng = np.random.default_rng(23)
    n = 10_007
    start = rng.choice(np.array([0, 2015, 2016, 2017], np.int16), n)
    status = rng.integers(1, 5, n).astype(np.int8)
    exit_year = rng.choice(np.array([0, 2015, 2016], np.int16), n)
    needs = rng.random(n) < 0.7
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    active, reach = np.empty(n, bool), np.empty(n, bool)
    bounds, counted = step_masks(start, 2017, 2014.0, status, exit_year, 2015.0, needs,
                                 np.arange(n), np.uint64(5), np.float32(0.3),
                                 np.zeros(n, np.uint8), np.uint8(1), active, reach)
    assert bounds == threads.cuts(n) and len(bounds) == 5
    assert counted == [(int(active[a:b].sum()), int(reach[a:b].sum()))
                       for a, b in itertools.pairwise(bounds)]
    assert 0 < reach.sum() < active.sum() < n


def test_rows_are_summed_and_zeroed_as_numpy_does_whatever_the_pieces(four_threads,
                                                                       monkeypatch):
    from model.engine.rows import sum_rows, zero_rows

    rng = np.random.default_rng(23)
    n = 30_011
    rows = (rng.standard_normal((4, n)) * 1e3).astype(np.float32)
    rows[:, rng.random(n) < 0.5] = 0.0  # most households have no income in a pathway
    for piece in (10**9, 1_000):
        monkeypatch.setattr(threads, "MIN_PIECE", piece)
        for which in ([0, 1, 2, 3], [0, 2], [3], []):
            table = np.zeros_like(rows)
            table[which] = rows[which]  # the rows not listed are zero
            out = np.full(n, np.nan, np.float32)
            sum_rows(table, which, out)
            np.testing.assert_array_equal(out, np.sum(table, axis=0))
            zero_rows(table, which)
            assert not table.any()
        copy = rows.copy()
        zero_rows(copy, [1, 3])  # only the rows listed are zeroed
        np.testing.assert_array_equal(copy[[0, 2]], rows[[0, 2]])
        assert not copy[[1, 3]].any()
