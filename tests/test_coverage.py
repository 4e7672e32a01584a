"""Coverage and cost by county (model.engine.coverage) against the numpy
reference, bit for bit, on threads or not, in group order or not."""

import itertools

import numpy as np
import pytest

from model.engine import coverage, threads
from model.engine.coverage import coverage_at, coverage_at_numpy, group_starts

N, GROUPS = 20_000, 40


@pytest.fixture
def by_group(four_threads, monkeypatch):
    """Four threads, pieces of 1,000 units, and these short lists summed
    group by group too."""
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    monkeypatch.setattr(coverage, "_BY_GROUP_FROM", 1)
    monkeypatch.setattr(coverage, "_BY_GROUP_FROM_UNITS", 1)


def units(seed=29):
    """Groups stored in order, with the last groups and one inner group empty."""
    rng = np.random.default_rng(seed)
    group = np.sort(rng.integers(0, GROUPS - 3, N)).astype(np.int16)
    group[group == 7] = 8
    size = rng.integers(1, 9, N).astype(np.int8)
    return rng, group, size


def both(group, idx, weights, size, starts, start=0.0):
    got = [np.full(GROUPS, start) for _ in range(3)]
    ref = [np.full(GROUPS, start) for _ in range(3)]
    coverage_at(group, idx, weights, size, *got, starts)
    coverage_at_numpy(group, idx, weights, size, *ref)
    for a, b in zip(got, ref):
        np.testing.assert_array_equal(a, b)
    return got


@pytest.mark.parametrize("weights", ["float64", "float32", "integer", "fraction", "large"])
@pytest.mark.parametrize("people", [False, True])
@pytest.mark.parametrize("share", [0.0, 0.001, 0.7, 1.0])
def test_coverage_by_group_is_the_reference(by_group, weights, people, share):
    rng, group, size = units()
    idx = np.flatnonzero(rng.random(N) < share)
    w = {"float64": rng.random(len(idx)) * 1e4,  # sums that depend on their order
         "float32": (rng.random(len(idx)) * 1e4).astype(np.float32),
         "integer": np.array([3000.0]),  # n * w, exact
         "fraction": np.array([0.1]),  # not exact: added one at a time
         "large": np.array([2.0**50 + 1.0])}[weights]  # n * w past 2**53: added one at a time
    size = size if people else np.zeros(0, np.int8)
    got = both(group, idx, w, size, group_starts(group, GROUPS))
    np.testing.assert_array_equal(got[0], np.bincount(group[idx], minlength=GROUPS))
    if weights == "fraction" and share > 0.5:  # n * 0.1 would differ somewhere
        counts = got[0]
        assert (got[1] != counts * 0.1).any()


def test_each_group_is_summed_by_one_piece(by_group, monkeypatch):
    """The pieces are ranges of groups: every group once, about a thread's share each."""
    rng, group, size = units()
    idx = np.flatnonzero(rng.random(N) < 0.7)
    seen = []
    kernel = coverage._coverage_groups

    def spy(first, last, *args):
        seen.append((first, last))
        return kernel(first, last, *args)

    monkeypatch.setattr(coverage, "_coverage_groups", spy)
    both(group, idx, rng.random(len(idx)), size, group_starts(group, GROUPS))
    seen.sort()
    assert len(seen) == 4 and seen[0][0] == 0 and seen[-1][1] == GROUPS
    assert all(a[1] == b[0] for a, b in itertools.pairwise(seen))


@pytest.mark.parametrize("case", ["unsorted index", "group not in order", "tables not empty",
                                  "no starts"])
def test_out_of_order_falls_back_to_one_thread(by_group, case):
    rng, group, size = units()
    idx = np.flatnonzero(rng.random(N) < 0.7)
    starts = group_starts(group, GROUPS)
    start = 0.0
    if case == "unsorted index":  # two units swapped across a group's end
        k = int(np.searchsorted(idx, starts[20]))
        idx[k - 1], idx[k] = idx[k], idx[k - 1]
    elif case == "group not in order":  # households of group 1 again, later
        group = group.copy()
        group[N // 2:N // 2 + 300] = 1
        starts = group_starts(group, GROUPS)
        assert starts is None
    elif case == "tables not empty":
        start = 1.0
    elif case == "no starts":
        starts = None
    both(group, idx, rng.random(len(idx)) * 1e4, size, starts, start)


def test_group_starts():
    group = np.array([0, 0, 2, 2, 2, 3], np.int16)
    np.testing.assert_array_equal(group_starts(group, 5), [0, 2, 2, 5, 6, 6])
    assert group_starts(group[::-1], 5) is None
    assert group_starts(group, 3) is None  # a group past the table
    np.testing.assert_array_equal(group_starts(group[:0], 2), [0, 0, 0])


@pytest.mark.parametrize("threads_", [1, 4])
def test_amounts_in_order_with_groups_of_every_size(by_group, threads_):
    """Lanes that end early, groups of one unit, one group of most units,
    empty groups at either end: each group's sum is still its own amounts
    added in order."""
    threads.set_threads(threads_)
    rng = np.random.default_rng(5)
    lengths = np.zeros(GROUPS, np.int64)
    lengths[2:30] = rng.integers(0, 4, 28)
    lengths[12] = 15_000
    lengths[31] = 1
    group = np.repeat(np.arange(GROUPS), lengths).astype(np.int16)
    idx = np.flatnonzero(rng.random(len(group)) < 0.9)
    weights = rng.random(len(idx)) * 1e4
    got = both(group, idx, weights, np.zeros(0, np.int8), group_starts(group, GROUPS))
    assert np.count_nonzero(got[1]) >= 15


@pytest.mark.parametrize("short", ["a group", "in all"])
def test_a_short_list_is_summed_in_one_pass(monkeypatch, short):
    """Below _BY_GROUP_FROM units a group or _BY_GROUP_FROM_UNITS in all,
    the one pass in any order (faster there); the same tables."""
    rng, group, size = units()
    idx = np.flatnonzero(rng.random(N) < 0.7)
    calls = []
    kernel = coverage._coverage_groups
    monkeypatch.setattr(coverage, "_coverage_groups",
                        lambda *args: calls.append(1) or kernel(*args))
    each, total = len(idx) // GROUPS, len(idx)
    monkeypatch.setattr(coverage, "_BY_GROUP_FROM", each + 1 if short == "a group" else each)
    monkeypatch.setattr(coverage, "_BY_GROUP_FROM_UNITS", total + 1 if short == "in all" else total)
    both(group, idx, rng.random(len(idx)), size, group_starts(group, GROUPS))
    assert calls == []
    monkeypatch.setattr(coverage, "_BY_GROUP_FROM", each)
    monkeypatch.setattr(coverage, "_BY_GROUP_FROM_UNITS", total)
    both(group, idx, rng.random(len(idx)), size, group_starts(group, GROUPS))
    assert calls
