"""Attribution of exits to pathways (五个一批): the rule on a hand-built case
and the kernel against it."""

import numpy as np
import pytest

from model.engine.active_rule import active_indices_numpy
from model.engine.attribution import (
    NONE,
    attribute,
    attribute_exits,
    count_reached_numpy,
)
from model.engine.codes import ATTRIBUTION, BATCHES, EXIT


def _attribute(exits, income, floor, rows, written, topup, county, size, out):
    """The attribution of :func:`attribute_exits` alone (no pathway reached),
    lines 3000 and 2500."""
    n = len(income)
    attribute_exits(exits, income, floor, 3000.0, 2500.0, rows, written, topup,
                    np.zeros(n, np.uint8), np.zeros(n, np.int32), np.zeros(1, np.uint8), county,
                    size, out, np.zeros((out.shape[0], len(BATCHES))))


def count_reached(exits, reached, village, village_reached, county, size, out):
    """The reach counted by :func:`attribute_exits` alone (no pathway
    income: every exit is attributed to none)."""
    n = len(reached)
    attribute_exits(exits, np.zeros(n, np.float32), np.zeros(n, np.float32), 3000.0, 2500.0,
                    np.zeros((0, n), np.float32), np.zeros(0, bool), np.zeros(n, np.float32),
                    reached, village, village_reached, county, size,
                    np.zeros((out.shape[0], len(ATTRIBUTION), 2)), out)


def test_attribution_rule():
    line = np.full(5, 3000.0)
    income = np.array([3500.0, 3500.0, 3500.0, 5000.0, 3100.0])
    comps = np.zeros((len(BATCHES), 5))
    p, r, e, ed, s = range(5)
    comps[p, 0] = 1000                       # production alone decisive
    comps[[p, e], 1] = [600, 900]            # both decisive: the larger (ecological)
    comps[[p, ed], 2] = [300, 300]           # none alone decisive: the larger (first on ties)
    comps[p, 3] = 1000                       # own income suffices
    comps[[p, s], 4] = [50, 2000]            # safety net decisive, production not
    got = attribute(income, line, comps)
    assert [ATTRIBUTION[g] for g in got] == ["production", "ecological", "production", "none",
                                             "safety_net"]
    assert NONE == ATTRIBUTION.index("none")


def _decisive_first(income, line, comps):
    """The rule in three steps, as the plans' reading of it goes: none if
    own income suffices; else the largest of the pathways whose removal
    alone puts the household below the line; else, when none does alone,
    the largest."""
    y = income.astype(np.float64)
    total = comps.sum(axis=0)
    decisive = (y - comps < line) & (comps > 0)
    best_decisive = np.argmax(np.where(decisive, comps, -1.0), axis=0)
    out = np.where(decisive.any(axis=0), best_decisive, np.argmax(comps, axis=0))
    return np.where((total == 0) | (y - total >= line), NONE, out)


@pytest.mark.parametrize("grain", [0.0, 250.0])
def test_the_largest_pathway_is_the_decisive_one(grain):
    """The rule's second step (the largest pathway) gives the pathway the
    three-step reading gives: the largest decisive one when some are, the
    largest when none is alone; with many ties (``grain``), zero pathways
    and incomes at and below the line."""
    rng = np.random.default_rng(7)
    n = 200_000
    comps = (rng.random((len(BATCHES), n)) < 0.4) * rng.uniform(0, 3000, (len(BATCHES), n))
    income = rng.uniform(1500, 7000, n)
    if grain:
        comps, income = np.round(comps / grain) * grain, np.round(income / grain) * grain
    line = np.where(rng.random(n) < 0.3, 2500.0, 3000.0)
    got = attribute(income, line, comps)
    np.testing.assert_array_equal(got, _decisive_first(income, line, comps))
    # the cases the steps tell apart all occur
    decisive = ((income - comps < line) & (comps > 0)).sum(axis=0)
    own = income - comps.sum(axis=0) >= line
    assert ((decisive >= 2) & ~own).sum() > 1000 and ((decisive == 0) & ~own).sum() > 1000


@pytest.mark.parametrize("ties", [False, True])
def test_attribution_kernel_matches_rule(ties):
    rng = np.random.default_rng(2)
    n = 50_000
    batch_income = (rng.random((4, n)) < 0.4) * rng.uniform(0, 3000, (4, n))
    topup = (rng.random(n) < 0.3) * rng.uniform(0, 2000, n)
    if ties:  # pathways of equal income: the first in the rule's order
        batch_income, topup = np.round(batch_income / 500) * 500, np.round(topup / 500) * 500
    income = rng.uniform(2000, 9000, n).astype(np.float32)
    floor = (topup > 0).astype(np.float32) * 2500
    event = np.where(rng.random(n) < 0.5, EXIT, 0).astype(np.uint8)
    county = rng.integers(0, 3, n).astype(np.int16)
    size = rng.integers(1, 6, n).astype(np.int8)
    ex = np.flatnonzero(event == EXIT)
    # every row written; or rows 1 and 3 not, zero and not read
    for written in (np.ones(4, bool), np.array([True, False, True, False])):
        rows = np.where(written[:, None], batch_income, 0.0).astype(np.float32)
        out = np.zeros((3, len(ATTRIBUTION), 2))
        _attribute(ex, income, floor, rows, written, topup.astype(np.float32), county, size,
                   out)
        comps = np.vstack([rows[:, ex], topup.astype(np.float32)[ex]])
        ref = attribute(income[ex], np.where(floor[ex] > 0, 2500.0, 3000.0), comps)
        expected = np.zeros((3, len(ATTRIBUTION)))
        np.add.at(expected, (county[ex], ref), 1)
        np.testing.assert_array_equal(out[..., 0], expected)
        assert out[..., 0].sum() == len(ex)
        if not written.all():  # a row not written is not read: what it holds does not count
            rows[1] = 1e6
            again = np.zeros_like(out)
            _attribute(ex, income, floor, rows, written, topup.astype(np.float32), county,
                       size, again)
            np.testing.assert_array_equal(again, out)
    assert (expected > 0).sum() > 10


def _reach_case(seed, n_programmes=3, n_village_programmes=2):
    """Random households, exits, the household programmes' pathway bits
    (from their enrolment table, by their rule) and the village
    programmes' (from theirs) for :func:`count_reached`."""
    rng = np.random.default_rng(seed)
    n, nv, nc, year = 5000, 60, 7, 2018
    village = np.sort(rng.integers(0, nv, n)).astype(np.int32)
    county = (village * nc // nv).astype(np.int16)  # villages lie in counties
    size = rng.integers(1, 9, n).astype(np.int8)
    status = rng.integers(0, 4, n).astype(np.int8)
    exit_year = rng.choice(np.array([0, 2015, 2016, 2017, 2018], np.int16), n)
    years = np.array([0, 0, 2015, 2016, 2017, 2018, 2019, -2016], np.int16)
    table = rng.choice(years, (4, n))
    village_table = rng.choice(years, (3, nv))
    exits = np.sort(rng.choice(n, 1200, replace=False))
    reached = np.zeros(n, np.uint8)
    for row, oldest, last_exit, batch in list(zip([0, 2, 3], [-np.inf, 2015.0, -np.inf],
                                                  [-np.inf, -np.inf, 2016.0],
                                                  [0, 0, 2]))[:n_programmes]:
        active = active_indices_numpy(table[row], year, oldest, status, exit_year, last_exit)
        reached[active] |= np.uint8(1 << batch)
    village_reached = np.zeros(nv, np.uint8)
    for row, oldest, batch in list(zip([1, 2], [-np.inf, 2016.5], [1, 4]))[:n_village_programmes]:
        start = village_table[row]  # the villages' rule (VillageProgramme.is_active)
        village_reached[(start > 0) & (start <= year) & (start > oldest)] |= np.uint8(1 << batch)
    return (exits, reached, village, village_reached, county, size), nc


def test_an_exit_is_judged_against_the_line_verification_used():
    """Verification takes the line in float32: a household exactly at
    float32(3000.1) exits, and a pathway whose income, however small, put
    it there was decisive. Against the float64 line (below float32's) its
    own income would have sufficed."""
    line = 3000.1
    assert np.float64(np.float32(line)) > line
    income = np.array([np.float32(line)], np.float32)
    rows = np.zeros((len(BATCHES) - 1, 1), np.float32)
    rows[0, 0] = 2.0**-14  # the first pathway's income: exact in float32
    assert np.float64(income[0]) - rows[0, 0] >= line  # above the float64 line without it
    out = np.zeros((1, len(ATTRIBUTION), 2))
    attribute_exits(np.zeros(1, np.int64), income, np.zeros(1, np.float32), line, line, rows,
                    np.ones(len(BATCHES) - 1, bool), np.zeros(1, np.float32),
                    np.zeros(1, np.uint8), np.zeros(1, np.int32), np.zeros(1, np.uint8),
                    np.zeros(1, np.int16), np.ones(1, np.int8), out,
                    np.zeros((1, len(BATCHES))))
    assert out[0, :, 0].tolist() == [1.0 if k == 0 else 0.0 for k in range(len(ATTRIBUTION))]
    assert ATTRIBUTION[0] == BATCHES[0] != ATTRIBUTION[NONE]


def test_count_reached_matches_each_programmes_rule():
    args, nc = _reach_case(12)
    got, ref = np.zeros((nc, len(BATCHES))), np.zeros((nc, len(BATCHES)))
    count_reached(*args, got)
    count_reached_numpy(*args, ref)
    # every pathway of a programme counts some exits but not all of them
    everyone = args[-1][args[0]].sum()
    assert all(0 < got[:, b].sum() < everyone for b in (0, 1, 2, 4))
    assert got[:, 3].sum() == 0
    np.testing.assert_array_equal(got, ref)


def test_count_reached_counts_the_villages_programmes_for_their_households():
    """With no household programme, an exit counts in a village
    programme's pathway exactly when its village is reached."""
    (exits, reached, village, village_reached, county, size), nc = _reach_case(14, 0)
    got = np.zeros((nc, len(BATCHES)))
    count_reached(exits, reached, village, village_reached, county, size, got)
    for b in range(len(BATCHES)):
        hit = exits[(village_reached[village[exits]] >> b) & 1 == 1]
        expected = np.bincount(county[hit], weights=size[hit].astype(np.float64), minlength=nc)
        np.testing.assert_array_equal(got[:, b], expected)
    assert got[:, 1].sum() > 0 and got[:, 4].sum() > 0 and got[:, 0].sum() == 0


def test_count_reached_adds_to_what_the_table_holds():
    """Counts add to the table given (a second year's pathways to the first);
    without any programme nothing counts."""
    args, nc = _reach_case(13)
    start = np.arange(nc * len(BATCHES), dtype=np.float64).reshape(nc, len(BATCHES))
    got, ref = start.copy(), start.copy()
    count_reached(*args, got)
    count_reached_numpy(*args, ref)
    assert (got - start)[:, 1].sum() > 0 and (got - start)[:, 3].sum() == 0
    np.testing.assert_array_equal(got, ref)
    none, _ = _reach_case(13, 0, 0)
    unchanged = start.copy()
    count_reached(*none, unchanged)
    np.testing.assert_array_equal(unchanged, start)


def test_attribution_and_reach_in_one_pass_are_each_alone():
    """One pass attributes the exits and counts the pathways that reached
    them: each table is what the pass computing it alone gives, exits
    with and without pathway income, reached or not, county by county."""
    args, nc = _reach_case(15)
    exits, reached, village, village_reached, county, size = args
    n = len(reached)
    rng = np.random.default_rng(16)
    rows = ((rng.random((4, n)) < 0.4) * rng.uniform(0, 3000, (4, n))).astype(np.float32)
    topup = ((rng.random(n) < 0.3) * rng.uniform(0, 2000, n)).astype(np.float32)
    income = rng.uniform(2000, 9000, n).astype(np.float32)
    floor = (topup > 0).astype(np.float32) * 2500
    written = np.ones(4, bool)
    out, out_reached = np.zeros((nc, len(ATTRIBUTION), 2)), np.zeros((nc, len(BATCHES)))
    attribute_exits(exits, income, floor, 3000.0, 2500.0, rows, written, topup, reached, village,
                    village_reached, county, size, out, out_reached)
    alone, reach_ref = np.zeros_like(out), np.zeros_like(out_reached)
    _attribute(exits, income, floor, rows, written, topup, county, size, alone)
    count_reached_numpy(*args, reach_ref)
    np.testing.assert_array_equal(out, alone)
    np.testing.assert_array_equal(out_reached, reach_ref)
    assert (out[:, NONE, 0] > 0).all() and (out[:, :NONE, 0].sum(axis=1) > 0).all()
    assert (out_reached > 0).sum() > nc
