"""Each numba kernel against its numpy reference on random inputs."""

import numpy as np
import pytest

from model.engine.codes import ALL_GUARANTEES, EXITED, HOUSING, NOT_REGISTERED, POOR, RETURNED
from model.engine.kernels import income_and_verify, income_update, income_update_numpy
from model.engine.rules import verify, verify_numpy
from model.engine.tally import (
    MEDIAN_PIECE,
    NBINS,
    NCHUNKS,
    chunk_groups,
    median_from_hist,
    median_from_hist_numpy,
    registered_people_by,
    take_medians,
    tally,
    tally_numpy,
    tally_scratch,
    tally_step,
)
from model.engine.tally_columns import COL, NV
from model.programmes.base import (
    SAMPLE,
    first_k,
    first_people,
    poorest_candidates,
    smallest_positions,
)
from model.random import Stream, year_key

F = np.float32


def random_inputs(n, seed):
    rng = np.random.default_rng(seed)
    nc = 7
    inputs = dict(
        hh_id=rng.permutation(10 * n)[:n].astype(np.int32),  # the registry's type
        county=rng.integers(0, nc, n).astype(np.int16),
        size=rng.integers(1, 9, n).astype(np.int8),
        ill=rng.integers(0, 3, n).astype(np.int8),
        base_market=(rng.lognormal(7.5, 1.0, n) * (rng.random(n) > 0.1)).astype(F),
        county_factor=rng.uniform(0.8, 1.6, nc).astype(F),
        programme_income=(rng.random(n) * 3000 * (rng.random(n) < 0.5)).astype(F),
        transfer_income=(rng.random(n) * 800).astype(F),
        floor=(3000 * (rng.random(n) < 0.3)).astype(F),
        schooling_cost=(rng.random(n) * 500 * (rng.random(n) < 0.3)).astype(F),
        medical_cover=(rng.random(n) < 0.5).astype(np.uint8),
    )
    scalars = dict(key_income=year_key(seed, Stream.INCOME, 2017),
                   key_illness=year_key(seed, Stream.ILLNESS, 2017), rho=F(0.7),
                   innovation_sd=F(0.2), sigma_transitory=F(0.15), mean_shift=F(-0.04),
                   illness_base_rate=F(0.05), illness_rate_per_ill=F(0.25),
                   illness_cost_mean=F(8000), oop_share=F(0.5), oop_share_cover=F(0.3),
                   oop_cap_cover=F(3000))
    z0 = rng.normal(0, 0.3, n).astype(F)
    return inputs, scalars, z0


def outputs(n, z0):
    out = {k: np.zeros(n, F) for k in ("topup", "income")}
    out["z"] = z0.copy()
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_income_kernel_matches_numpy_reference(seed):
    n = 200_000
    inputs, scalars, z0 = random_inputs(n, seed)
    a, b = outputs(n, z0), outputs(n, z0)
    income_update(**inputs, **scalars, **a)
    market, medical = income_update_numpy(**inputs, **scalars, **b)
    # income and the top-up (floor minus net income) are sums of components
    # and can cancel: measure them against the components' size. An
    # illness event the kernel drew and the reference did not (or the other
    # way) would move the income by the event's cost, far beyond this
    magnitude = market + medical + b["topup"] + inputs["programme_income"] \
        + inputs["transfer_income"] + inputs["schooling_cost"]
    for name in a:
        ref = magnitude if name in ("income", "topup") else np.abs(b[name])
        scale = np.maximum(ref, 1.0 if name == "z" else 100.0)
        rel = np.abs(a[name].astype(np.float64) - b[name]) / scale
        assert rel.max() < 1e-4, name
    assert (medical > 0).sum() > 1000  # illness was exercised
    assert (a["topup"] > 0).sum() > 1000  # the floor was exercised


def test_income_kernel_statistics():
    """Shock multiplier has mean one once z is stationary (z0 drawn from its
    stationary law): with no other income, cost or floor, the income is the
    market income. Top-ups bring covered households to their floor."""
    n = 400_000
    inputs, scalars, _ = random_inputs(n, 5)
    rng = np.random.default_rng(9)
    sp, st = 0.25, 0.15
    scalars.update(innovation_sd=F(sp * np.sqrt(1 - 0.49)), sigma_transitory=F(st),
                   mean_shift=F(-0.5 * (sp**2 + st**2)))
    z0 = rng.normal(0, sp, n).astype(F)
    inputs["base_market"][:] = 1000
    inputs["county_factor"][:] = 1
    alone = {**inputs, **{k: np.zeros(n, F) for k in ("programme_income", "transfer_income",
                                                       "floor", "schooling_cost")}}
    out = outputs(n, z0)
    income_update(**alone, **{**scalars, "illness_base_rate": F(0),
                              "illness_rate_per_ill": F(0)}, **out)
    assert abs(out["income"].mean() / 1000 - 1) < 3e-3
    assert abs(out["z"].std() - sp) < 3e-3
    out = outputs(n, z0)
    income_update(**inputs, **scalars, **out)
    covered = inputs["floor"] > 0
    paid = covered & (out["topup"] > 0)
    assert paid.sum() > 1000
    np.testing.assert_allclose(out["income"][paid], inputs["floor"][paid], rtol=1e-6)
    assert (out["income"][covered] >= inputs["floor"][covered]).all()
    assert (out["topup"][~covered] == 0).all()


@pytest.mark.parametrize("kernel", [income_update, income_update_numpy])
def test_covered_household_net_income_never_below_its_floor(kernel):
    """兜底 holds on net income: after an illness and with students, a
    covered household's income (the one verification sees) is at least its
    floor, and the top-up pays the costs that pushed it below."""
    n = 100_000
    inputs, scalars, z0 = random_inputs(n, 11)
    scalars.update(illness_base_rate=F(0.6), illness_cost_mean=F(20000))
    inputs["schooling_cost"][:] = 2000
    inputs["base_market"][:] = 1500
    out = outputs(n, z0)
    kernel(**inputs, **scalars, **out)
    covered = inputs["floor"] > 0
    assert (out["income"][covered] >= inputs["floor"][covered]).all()
    # costs were large enough to matter: many covered households had net
    # income before the top-up below their floor because of them
    market, _ = income_update_numpy(**inputs, **scalars, **outputs(n, z0))
    gross = market + inputs["programme_income"] + inputs["transfer_income"]
    pushed = covered & (gross >= inputs["floor"]) & (out["topup"] > 0)
    assert pushed.sum() > 1000
    # uncovered households are not topped up and can fall below zero net
    assert (out["topup"][~covered] == 0).all()
    assert (out["income"][~covered] < 0).any()


def test_verify_matches_numpy_reference():
    n = 200_000
    rng = np.random.default_rng(3)
    hh_id = np.arange(n, dtype=np.int32)
    income = rng.lognormal(8.0, 0.6, n).astype(F)
    # floors below the covered line (2500), and a few at it: those exit without a margin
    floor = (np.where(rng.random(n) < 0.05, 2500, 2400) * (rng.random(n) < 0.3)).astype(F)
    guarantees = rng.choice([ALL_GUARANTEES, ALL_GUARANTEES & ~HOUSING], n).astype(np.uint8)
    status0 = rng.integers(0, 4, n).astype(np.int8)
    exit_year0 = np.where(status0 == EXITED, rng.integers(2015, 2018, n), 0).astype(np.int16)
    args = (hh_id, income, floor, guarantees, year_key(1, Stream.VERIFICATION, 2018),
            year_key(1, Stream.RETURN, 2018), F(2995), F(2500), F(0.1), np.uint8(ALL_GUARANTEES),
            F(0.1), F(1.0), F(0.6), F(0.4), True, np.int16(2018))
    res = []
    for fn in (verify, verify_numpy):
        status, event, exit_year = status0.copy(), np.zeros(n, np.uint8), exit_year0.copy()
        fn(*args, status, event, exit_year)
        res.append((status, event, exit_year))
    (s1, e1, y1), (s2, e2, y2) = res
    # only households whose assessed income sits within rounding of the line may differ
    assert (s1 != s2).mean() < 1e-4
    assert (e1 != e2).mean() < 1e-4
    assert ((y1 == 2018) == (e1 == 1)).all()
    # exits need the guarantees; returns need an exited household
    assert not ((e1 == 1) & (guarantees != ALL_GUARANTEES)).any()
    assert ((e1 == 2) <= (status0 == EXITED)).all()
    assert ((e1 == 3) <= (status0 == NOT_REGISTERED)).all()
    assert (s1[e1 == 3] == POOR).all()
    assert (e1 == 1).sum() > 1000 and (e1 == 2).sum() > 100 and (e1 == 3).sum() > 100
    # exits need the margin; returns fall with the years since exit
    line = np.where(floor > 0, F(2500), F(2995))
    no_margin = list(args)
    no_margin[10] = F(0.0)
    status, event, exit_year = status0.copy(), np.zeros(n, np.uint8), exit_year0.copy()
    verify(*no_margin, status, event, exit_year)
    near = (income >= line) & (income < 1.05 * line) & (floor < line)
    assert (event[near] == 1).sum() > 2 * (e1[near] == 1).sum()
    assert ((e1 == 1) <= (event == 1)).all()
    below = (status0 == EXITED) & (income < line) & (guarantees == ALL_GUARANTEES)
    share = [(e1[below & (exit_year0 == y)] == 2).mean() for y in (2017, 2016, 2015)]
    assert share[0] > share[1] > share[2] > 0
    np.testing.assert_allclose(share, 0.6 * np.exp(-0.4 * np.arange(3)), atol=0.03)


@pytest.mark.parametrize("adjust", [True, False])
def test_income_and_verify_is_the_income_update_then_verify(four_threads, adjust):
    """The one pass gives what the income update and then dense
    verification give, bit for bit, every output, on four threads: every
    status, guarantees missing or not, floors of both lines. The income
    array holds other values before (last year's): verification must read
    the new ones."""
    n = 100_000
    inputs, scalars, z0 = random_inputs(n, 21)
    rng = np.random.default_rng(22)
    status0 = rng.choice([POOR, RETURNED, EXITED, NOT_REGISTERED], n).astype(np.int8)
    exit_year0 = np.where(status0 == EXITED, rng.integers(2015, 2018, n), 0).astype(np.int16)
    guarantees = rng.choice([ALL_GUARANTEES, ALL_GUARANTEES & ~HOUSING], n,
                            p=[0.9, 0.1]).astype(np.uint8)
    checks = (year_key(3, Stream.VERIFICATION, 2018), year_key(3, Stream.RETURN, 2018), F(2995),
              F(2500), F(0.15), np.uint8(ALL_GUARANTEES), F(0.1), F(1.0), F(0.6), F(0.4),
              adjust, np.int16(2018))
    last_year = rng.uniform(0, 9000, n).astype(F)
    res = []
    for one_pass in (False, True):
        out = outputs(n, z0)
        out["income"][:] = last_year
        status, event, exit_year = status0.copy(), np.full(n, 9, np.uint8), exit_year0.copy()
        if one_pass:
            income_and_verify(**inputs, **scalars, **out, guarantees=guarantees,
                              key_verification=checks[0], key_return=checks[1],
                              line=checks[2], covered_line=checks[3], sigma=checks[4],
                              required=checks[5], exit_margin=checks[6],
                              return_threshold=checks[7], return_probability=checks[8],
                              return_decay=checks[9], adjust=checks[10], year=checks[11],
                              status=status, event=event, exit_year=exit_year)
        else:
            income_update(**inputs, **scalars, **out)
            verify(inputs["hh_id"], out["income"], inputs["floor"], guarantees, *checks,
                   status, event, exit_year)
        res.append((*out.values(), status, event, exit_year))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
    event = res[0][-2]
    for e in (1, 2):
        assert (event == e).sum() > 100, e
    assert ((event == 3).sum() > 100) == adjust


def test_an_id_draws_the_same_as_an_int32_and_as_an_int64(four_threads):
    """The registry stores household ids as int32 (a kernel reading them
    vectorises twice as wide): every draw is the one the same number gives as
    an int64, up to the largest id the schema allows."""
    n = 50_000
    inputs, scalars, z0 = random_inputs(n, 23)
    ids = np.random.default_rng(24).integers(0, 2**31 - 1, n).astype(np.int32)
    ids[:2] = 0, 2**31 - 1
    checks = (year_key(3, Stream.VERIFICATION, 2018), year_key(3, Stream.RETURN, 2018), F(2995),
              F(2500), F(0.15), np.uint8(0), F(0.1), F(1.0), F(0.6), F(0.4), True,
              np.int16(2018))
    res = []
    for dtype in (np.int32, np.int64):
        out = outputs(n, z0)
        status = np.random.default_rng(25).choice([POOR, EXITED, NOT_REGISTERED], n)
        status, event, exit_year = status.astype(np.int8), np.zeros(n, np.uint8), \
            np.full(n, 2016, np.int16)
        income_and_verify(**{**inputs, "hh_id": ids.astype(dtype)}, **scalars, **out,
                          guarantees=np.zeros(n, np.uint8), key_verification=checks[0],
                          key_return=checks[1], line=checks[2], covered_line=checks[3],
                          sigma=checks[4], required=checks[5], exit_margin=checks[6],
                          return_threshold=checks[7], return_probability=checks[8],
                          return_decay=checks[9], adjust=checks[10], year=checks[11],
                          status=status, event=event, exit_year=exit_year)
        res.append((*out.values(), status, event))
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)
    assert len(np.unique(res[0][-1])) == 4  # exits, returns and entries were drawn


def test_tally_puts_an_income_that_is_not_a_number_in_the_first_bin():
    """Every household's bin is computed, registered or not (no branch): an
    income that is not a number must still land inside the histogram."""
    n = 2000
    rng = np.random.default_rng(14)
    county = np.zeros(n, np.int16)
    category = np.zeros(n, np.int8)
    size = rng.integers(1, 6, n).astype(np.int8)
    income = rng.uniform(1000, 9000, n).astype(F)
    income[::7] = np.nan
    status = rng.integers(0, 4, n).astype(np.int8)
    out, hist = np.zeros((3, NV)), np.zeros((3, NBINS), np.int64)
    tally(county, category, size, income, np.zeros(n, F), status, np.zeros(n, np.uint8),
          F(3000), F(2500), 3, out, hist)
    registered = (status == POOR) | (status == RETURNED)
    assert hist.sum() == size[registered].sum()
    assert hist[0, 0] == size[registered & np.isnan(income)].sum() > 0


def test_tally_refuses_chunks_whose_people_could_overflow_its_packed_counts():
    """The kernel packs a class's households and people in one int64, the
    people in its low 32 bits: chunks that could hold 2**32 people or more
    are refused, not counted wrong. With members up to 32,767 (int16) that
    is 131,077 households a chunk (131,076 could hold 2**32 - 4)."""
    n = 16 * 131_077
    args = (np.zeros(n, np.int16), np.zeros(n, np.int8), np.ones(n, np.int16),
            np.zeros(n, F), np.zeros(n, F), np.zeros(n, np.int8), np.zeros(n, np.uint8),
            F(3000), F(2500), 3)
    with pytest.raises(ValueError, match="2\\*\\*32 people"):
        tally(*args, np.zeros((3, NV)), np.zeros((3, NBINS), np.int64))
    short = tuple(a[:n - 16] if isinstance(a, np.ndarray) else a for a in args)
    out = np.zeros((3, NV))
    tally(*short, out, np.zeros((3, NBINS), np.int64))
    assert out[0, COL["people"]] == n - 16


@pytest.mark.parametrize("stored", ["in any order", "county by county", "counties falling"])
def test_tally_matches_numpy_reference(four_threads, stored):
    """On four threads, each piece of chunks with its own histogram of the
    groups it reaches: all of them when households come in any order, and
    lower ones in each later chunk when the counties fall."""
    n = 300_000
    rng = np.random.default_rng(4)
    n_groups = 12
    county = rng.integers(0, 4, n).astype(np.int16)
    if stored == "county by county":
        county = np.sort(county)
    elif stored == "counties falling":  # the counties' ends not at the pieces'
        county = np.sort(county)[::-1][n // 7:].copy()
        n = len(county)
    args = (county, rng.integers(0, 3, n).astype(np.int8),
            rng.integers(1, 9, n).astype(np.int8),
            (rng.lognormal(8.0, 0.7, n) - 500).astype(F), (2500 * (rng.random(n) < 0.3)).astype(F),
            rng.integers(0, 4, n).astype(np.int8), rng.integers(0, 4, n).astype(np.uint8),
            F(2995), F(2500), 3)
    out = np.zeros((n_groups, NV))
    hist = np.zeros((n_groups, NBINS), np.int64)
    tally(*args, out, hist)
    ref_out, ref_hist = tally_numpy(*args, n_groups)
    np.testing.assert_allclose(out, ref_out, rtol=1e-9)
    np.testing.assert_array_equal(hist, ref_hist)
    # with villages (random, or in runs as households are stored): the same
    # tables, and the registered people by village
    for village in (rng.integers(0, 50, n), _groups(rng, 50, n, True)):
        village = village.astype(np.int32)
        people, ref_people = np.zeros(50), np.zeros(50)
        out2, hist2 = np.zeros_like(out), np.zeros_like(hist)
        tally(*args, out2, hist2, village=village, village_people=people)
        registered_people_by(village, args[2], args[5], ref_people)
        np.testing.assert_array_equal(out2, out)
        np.testing.assert_array_equal(hist2, hist)
        assert ref_people.sum() > 0
        np.testing.assert_array_equal(people, ref_people)


def test_a_tallys_scratch_is_left_zero_for_the_next(four_threads):
    """A run keeps the chunks' tables from one tally to the next: each
    tally leaves them zero, so the next (other incomes and statuses, runs
    of one class included) counts as on fresh tables."""
    n, n_groups = 200_000, 12
    rng = np.random.default_rng(21)
    county = np.sort(rng.integers(0, 4, n)).astype(np.int16)
    category, size = rng.integers(0, 3, n).astype(np.int8), rng.integers(1, 9, n).astype(np.int8)
    chunks = chunk_groups(county, category, 3, n_groups, tally_step(n))
    scratch = tally_scratch(chunks)
    for year in range(3):
        status = (rng.integers(0, 4, n) if year < 2 else np.full(n, POOR)).astype(np.int8)
        args = (county, category, size, (rng.lognormal(8.0, 0.7, n) - 500).astype(F),
                (2500 * (rng.random(n) < 0.3)).astype(F), status,
                rng.integers(0, 4, n).astype(np.uint8), F(2995), F(2500), 3)
        out, hist = np.zeros((n_groups, NV)), np.zeros((n_groups, NBINS), np.int64)
        tally(*args, out, hist, chunks=chunks, scratch=scratch)
        fresh, fresh_hist = np.zeros_like(out), np.zeros_like(hist)
        tally(*args, fresh, fresh_hist)
        np.testing.assert_array_equal(out, fresh)
        np.testing.assert_array_equal(hist, fresh_hist)
        assert not any(table.any() for table in scratch)
        np.testing.assert_allclose(out, tally_numpy(*args, n_groups)[0], rtol=1e-9)


def test_median_from_histogram_is_within_half_a_bin():
    rng = np.random.default_rng(5)
    line = 3000.0
    for _ in range(20):
        y = rng.uniform(0.2, 1.8, 5001) * line
        hist = np.bincount((y / line * 100).astype(int), minlength=NBINS)
        med = median_from_hist(hist, line)
        assert abs(med - np.median(y)) <= line / 100
    assert np.isnan(median_from_hist(np.zeros(NBINS, np.int64), line))


def test_median_kernel_is_the_numpy_reference_bit_for_bit():
    rng = np.random.default_rng(8)
    hist = rng.poisson(rng.uniform(0, 3, (3, 40, 1)), (3, 40, NBINS)) * (rng.random((3, 40, NBINS)) < 0.2)
    hist[0, :5] = 0  # empty rows
    hist[1, 3, :] = 0
    hist[1, 3, 7] = 1  # one household
    line = np.array([2800.0, 2952.5, 3146.0])[:, None]
    assert_same = np.testing.assert_array_equal
    assert_same(median_from_hist(hist, line), median_from_hist_numpy(hist, line))
    total = hist.sum(axis=1)
    assert_same(median_from_hist(total, line[:, 0]), median_from_hist_numpy(total, line[:, 0]))
    # the record's int32 counts read the same
    assert_same(median_from_hist(hist.astype(np.int32), line), median_from_hist_numpy(hist, line))
    # medians on either side of the search's blocks, and rows not a whole
    # number of blocks long
    edges = np.zeros((12, NBINS), np.int64)
    for row, bins in enumerate(([0], [15], [16], [17], [31], [32], [NBINS - 1], [15, 16],
                                [15, 16, 16], [0, NBINS - 1], [14, 15, 15, 40], [47, 48])):
        np.add.at(edges[row], bins, 1)
    assert_same(median_from_hist(edges, 3000.0), median_from_hist_numpy(edges, 3000.0))
    short = rng.poisson(2.0, (50, 37)) * (rng.random((50, 37)) < 0.3)
    assert_same(median_from_hist(short, 3000.0), median_from_hist_numpy(short, 3000.0))


def test_take_medians_is_each_row_and_all_rows_then_zeros():
    rng = np.random.default_rng(9)
    hist = (rng.poisson(rng.uniform(0, 3, (60, 1)), (60, NBINS))
            * (rng.random((60, NBINS)) < 0.1)).astype(np.int32)
    hist[:4] = 0  # empty groups
    hist[10] = 0
    hist[10, NBINS - 1] = 3  # all in the last bin
    line = 2952.5
    want_rows = median_from_hist_numpy(hist.astype(np.int64), line)
    want_all = median_from_hist_numpy(hist.sum(axis=0, dtype=np.int64), line)
    table = hist.copy()
    rows, national = take_medians(table, line)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_array_equal(np.isnan(rows), hist.sum(axis=1) == 0)
    assert np.isnan(rows[:4]).all() and (~np.isnan(rows)).sum() > 40
    assert national == want_all
    assert not table.any()  # ready for the next tally
    # an empty table: every median NaN
    rows, national = take_medians(np.zeros((5, NBINS), np.int32), line)
    assert np.isnan(rows).all() and np.isnan(national)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_take_medians_on_threads_is_the_same(cores, threads):
    """Rows enough for a piece a thread: each piece's rows and its part of
    the column, the parts added, give the numbers of one pass."""
    cores(threads)
    rng = np.random.default_rng(4)
    rows = 3 * MEDIAN_PIECE + 7
    hist = (rng.poisson(2.0, (rows, NBINS)) * (rng.random((rows, NBINS)) < 0.05)).astype(np.int32)
    hist[rows - MEDIAN_PIECE // 2:] = 0  # empty groups in the last piece
    line = 3100.0
    table = hist.copy()
    got_rows, national = take_medians(table, line)
    np.testing.assert_array_equal(got_rows, median_from_hist_numpy(hist.astype(np.int64), line))
    assert national == median_from_hist_numpy(hist.sum(axis=0, dtype=np.int64), line)
    assert not table.any()


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_tally_sums_chunk_by_chunk_in_chunk_order(cores, threads):
    """Sorted by county as a registry is stored, each chunk spans few groups;
    the sums are those of whole per-chunk tables added in chunk order, on
    any number of threads (three: pieces of an odd number of chunks, whose
    last is counted alone; the last chunk is shorter than the others)."""
    cores(threads)
    rng = np.random.default_rng(9)
    n, n_groups = 5003, 60 * 3
    county = np.sort(rng.integers(0, 60, n)).astype(np.int16)
    args = (county, rng.integers(0, 3, n).astype(np.int8), rng.integers(1, 9, n).astype(np.int8),
            (rng.lognormal(8.0, 0.7, n) - 500).astype(F), (2500 * (rng.random(n) < 0.3)).astype(F),
            rng.integers(0, 4, n).astype(np.int8), rng.integers(0, 4, n).astype(np.uint8),
            F(2995), F(2500), 3)
    out, hist = np.zeros((n_groups, NV)), np.zeros((n_groups, NBINS), np.int64)
    tally(*args, out, hist)
    step = -(-n // NCHUNKS)
    ref = np.zeros((n_groups, NV))
    for c in range(NCHUNKS):
        part = slice(c * step, (c + 1) * step)
        ref += tally_numpy(*(a[part] for a in args[:7]), *args[7:], n_groups)[0]
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("k", [1, 5, 50, 99, 100])
def test_first_k_equals_lexsort(k):
    rng = np.random.default_rng(k)
    priority = rng.integers(0, 10, 100).astype(F)  # many ties
    tie = rng.integers(0, 2**63, 100, dtype=np.int64).astype(np.uint64)
    expected = np.sort(np.lexsort((tie, priority))[:k])
    np.testing.assert_array_equal(first_k(priority, tie.__getitem__, k), expected)
    asked = []

    def tie_of(positions):
        asked.append(len(positions))
        return tie[positions]

    # only tied places ask for keys
    np.testing.assert_array_equal(first_k(priority, tie_of, k), expected)
    kth = np.sort(priority)[k - 1]
    assert sum(asked) <= (priority == kth).sum()


@pytest.mark.parametrize("share", [0.001, 0.02, 0.2, 0.5])
@pytest.mark.parametrize("tied", [0.5, 0.05])
def test_first_k_of_many_equals_lexsort(share, tied):
    """Many priorities, a fifth of them tied at the median or at the 5 %
    quantile (where the sample's bound can fall among the tied): the k
    smallest pairs, whether a sample bounds the k-th smallest (small
    shares) or not."""
    rng = np.random.default_rng(int(share * 1000))
    n = 6 * SAMPLE
    values = rng.lognormal(8.0, 1.0, n).astype(F)
    values[rng.random(n) < 0.2] = np.quantile(values, tied).astype(F)
    tie = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    for k in (1, int(share * n), int(share * n) + 7):
        expected = np.sort(np.lexsort((tie, values))[:k])
        np.testing.assert_array_equal(first_k(values, tie.__getitem__, k), expected)
        few = smallest_positions(values, k)
        assert (few is not None) == (4 * k < n)
        if few is not None:  # every one of the k smallest, and few others
            assert np.isin(expected, few).all() and len(few) < n / 2


def test_first_k_when_the_bound_holds_too_few(monkeypatch):
    """When fewer than k values are at or below the sample's bound, the
    whole array is read, with the same answer: here the sampled values are
    the smallest, so the bound lies far below the k-th."""
    n, k = 6 * SAMPLE, 5000
    values = 1e6 + np.arange(n, dtype=F)
    values[::n // SAMPLE] = np.arange(SAMPLE, dtype=F)
    tie = np.arange(n, dtype=np.uint64)
    expected = np.sort(np.lexsort((tie, values))[:k])
    assert smallest_positions(values, k) is None
    sizes, partition = [], np.partition
    monkeypatch.setattr(np, "partition", lambda a, kth: sizes.append(len(a)) or partition(a, kth))
    np.testing.assert_array_equal(first_k(values, tie.__getitem__, k), expected)
    assert sizes == [SAMPLE, n]  # the sample, then everything


def test_poorest_candidates_when_the_bound_holds_too_few(monkeypatch):
    """When the candidates at or below the sample's bound do not fill the
    capacity, there is no bound (the caller then lists every candidate):
    here the sampled households are the poorest, so the bound lies below
    all the others. With a capacity they fill, they are the answer; in a
    registry under POOREST_FROM households, there is none."""
    from types import SimpleNamespace

    import model.programmes.base as base

    n = 6 * SAMPLE
    income = np.full(n, 5000.0, F)
    income[::n // SAMPLE] = 1000.0
    st = SimpleNamespace(status=np.full(n, POOR, np.int8), income=income)
    ctx = SimpleNamespace(st=st, reg=SimpleNamespace(households={"size": np.full(n, 2, np.int8)}))
    start, matched = np.zeros(n, np.int16), np.ones(n, bool)
    assert poorest_candidates(ctx, start, matched, SAMPLE, "households") is None  # too few
    monkeypatch.setattr(base, "POOREST_FROM", n)
    assert poorest_candidates(ctx, start, matched, SAMPLE + 1000, "households") is None
    assert poorest_candidates(ctx, start, matched, 2 * SAMPLE + 1000, "people") is None
    sampled = np.arange(0, n, n // SAMPLE)
    np.testing.assert_array_equal(poorest_candidates(ctx, start, matched, SAMPLE, "households"),
                                  sampled)
    np.testing.assert_array_equal(poorest_candidates(ctx, start, matched, 2 * SAMPLE, "people"),
                                  sampled)


def _groups(rng, n_groups, n, grouped):
    """Random groups, or groups mostly in runs (sorted, with a tenth of the
    elements moved elsewhere) as a county's households come."""
    group = rng.integers(0, n_groups, n)
    if grouped:
        group = np.sort(group)
        moved = rng.random(n) < 0.1
        group[moved] = rng.permutation(group[moved])
    return group


@pytest.mark.parametrize("grouped", [False, True])
def test_first_in_group_takes_each_groups_first(grouped):
    """The backlog's rule: the first quota[g] elements of each group, in
    array order (all of a group with fewer)."""
    from model.engine.delivery_order import first_in_group_numpy
    rng = np.random.default_rng(5)
    group = _groups(rng, 7, 5000, grouped)
    quota = rng.integers(0, 900, 7)
    take = first_in_group_numpy(group, quota)
    expected = np.minimum(quota, np.bincount(group, minlength=7))
    assert 0 < expected.sum() < len(group)
    np.testing.assert_array_equal(np.bincount(group[take], minlength=7), expected)
    for g in range(7):
        np.testing.assert_array_equal(np.flatnonzero(take & (group == g)),
                                      np.flatnonzero(group == g)[:expected[g]])


@pytest.mark.parametrize("grouped", [False, True])
def test_split_cyclic_takes_each_countys_block_whatever_the_order(four_threads, monkeypatch,
                                                                   grouped):
    """Units stored county by county or not: ordered by county
    (by_county), split_cyclic takes the work teams' block of each county
    (take_cyclic_numpy): quota units a county, from the first unit with an
    offset of 0; the rest are left, none twice. On four threads, in pieces
    of whole counties."""
    from model.engine import threads
    from model.engine.coverage import group_pieces, group_starts
    from model.engine.delivery_order import by_county, split_cyclic, take_cyclic_numpy
    monkeypatch.setattr(threads, "MIN_PIECE", 500)
    rng = np.random.default_rng(6)
    group = _groups(rng, 9, 4000, grouped)
    units = np.arange(0, 3 * len(group), 3, dtype=np.int64)
    county = np.zeros(units[-1] + 1, np.int16)
    county[units] = group
    starts = group_starts(county, 9)
    assert (starts is not None) == (np.diff(group) >= 0).all()
    ordered, bounds = by_county(units, county, 9, starts)
    size = np.bincount(group, minlength=9)
    np.testing.assert_array_equal(np.diff(bounds), size)
    assert len(group_pieces(bounds)) == 5  # four pieces
    quota = rng.integers(0, size + 1)
    offset = rng.random(9)
    offset[0] = 0.0
    taken, left = split_cyclic(ordered, bounds, quota, offset)
    take = take_cyclic_numpy(group, quota, offset)
    np.testing.assert_array_equal(np.sort(taken), units[take])
    np.testing.assert_array_equal(np.sort(left), units[~take])
    np.testing.assert_array_equal(np.bincount(county[taken], minlength=9), quota)
    # offset 0: the first quota units of the county
    np.testing.assert_array_equal(np.sort(taken[county[taken] == 0]),
                                  units[group == 0][:quota[0]])


def test_places_of_starts_among_units_are_numpys_search():
    """by_county's bounds for units stored county by county: for each
    county's first unit, how many units come before it, as
    np.searchsorted finds them (units at a start, none in some counties,
    none at all, every one: a search past the last unit)."""
    from model.engine.delivery_order import _places
    rng = np.random.default_rng(11)
    for m in (0, 1, 40, 3000, 5000):
        starts = np.concatenate([[0], np.sort(rng.integers(0, 5000, 30)), [5000]])
        units = np.sort(rng.choice(5000, m, replace=False)).astype(np.int64)
        if m > 1:
            units = np.union1d(units, starts[1:2])  # a unit at a county's start
        out = np.full(len(starts), -1, np.int64)
        _places(units, starts.astype(np.int64), out)
        np.testing.assert_array_equal(out, np.searchsorted(units, starts))


def test_split_cyclic_is_take_cyclic_of_units_stored_by_county():
    """Units stored county by county: the taken and the left, read from
    each county's range, are take_cyclic_numpy's marked and unmarked units, in
    order; offsets 0 and near 1 (a block wrapping round), quotas of none,
    some and all, and a county with no units."""
    from model.engine.delivery_order import split_cyclic, take_cyclic_numpy
    rng = np.random.default_rng(8)
    group = np.sort(rng.integers(0, 9, 3000))
    group = group[group != 4]  # a county without units
    units = np.sort(rng.permutation(20_000)[:len(group)]).astype(np.int64)
    size = np.bincount(group, minlength=9)
    bounds = np.searchsorted(group, np.arange(10)).astype(np.int64)
    offset = rng.random(9)
    offset[0], offset[1] = 0.0, 0.999
    for quota in (rng.integers(0, size + 1), size, np.zeros(9, np.int64)):
        take = take_cyclic_numpy(group, quota, offset)
        taken, left = split_cyclic(units, bounds, quota, offset)
        np.testing.assert_array_equal(taken, units[take])
        np.testing.assert_array_equal(left, units[~take])
    taken, _ = split_cyclic(units, bounds, size // 2, offset)
    assert 0 < len(taken) < len(units)
    # a quota above a county's units would write past the outputs: refused
    with pytest.raises(ValueError, match="above its units"):
        split_cyclic(units, bounds, size + (np.arange(9) == 3), offset)


def test_the_work_teams_start_from_a_point_drawn_for_county_programme_and_year():
    from model.engine.delivery_order import order_offsets
    from model.random import Stream, first_uniforms, year_key
    ids = np.arange(100, 106)
    offset = order_offsets(3, 2, 2017, ids)
    expected = first_uniforms(year_key(3, Stream.DELIVERY_ORDER + 16 * 2, 2017), ids)
    np.testing.assert_array_equal(offset, expected.astype(np.float64))
    assert offset.dtype == np.float64 and ((offset > 0) & (offset < 1)).all()
    assert not (offset == order_offsets(3, 2, 2018, ids)).any()
    assert not (offset == order_offsets(3, 5, 2017, ids)).any()


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dtype", [F, np.float64])
def test_first_people_equals_the_prefix_of_the_whole_ranking(seed, dtype):
    """The longest run in (priority, tie) order whose people fit the
    capacity: a capacity running out inside a group of tied priorities, at
    its end, or with every unit fitting."""
    rng = np.random.default_rng(seed)
    n = 400
    priority = rng.integers(0, 20, n).astype(dtype)
    priority[rng.random(n) < 0.1] = -0.0  # equal to 0.0
    tie = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    tie[:40] = tie[40:80]  # equal keys too: both orders keep the positions' order
    size = rng.integers(1, 9, n).astype(np.int8)
    ranked = np.lexsort((tie, priority))
    total = np.cumsum(size[ranked])
    for capacity in (float(rng.integers(1, total[-1])), float(total[n // 2]), 0.5,
                     float(total[-1])):
        expected = np.sort(ranked[total <= capacity])
        got = first_people(priority, tie.__getitem__, size, capacity)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("levels", [1, 3, 50, 10**6])
@pytest.mark.parametrize("dtype", [F, np.float64])
def test_people_threshold_equals_its_reference(levels, dtype):
    from model.engine.selection import (
        _threshold_sorted,
        people_threshold,
        people_threshold_numpy,
    )

    rng = np.random.default_rng(levels)
    n = 20_000
    priority = rng.integers(0, levels, n).astype(dtype) - levels // 2
    priority[:5_000] = np.sort(priority[:5_000])  # a sorted stretch
    size = rng.integers(1, 9, n).astype(np.int8)
    total = int(size.sum(dtype=np.int64))
    for capacity in (0.0, 1.0, total * 0.37, total * 0.999, total - 1.0, float(total)):
        expected = people_threshold_numpy(priority, size, capacity)
        assert people_threshold(priority, size, capacity) == expected
        found, value, below = _threshold_sorted(priority.copy(), size.astype(np.int64),
                                                capacity, 0)  # the fallback after bad pivots
        assert (dtype(value) if found else None, below) == expected


