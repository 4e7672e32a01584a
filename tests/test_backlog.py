"""The delivery backlog (model.engine.backlog) against the due list it
replaces: last year's waiting first, then this year's, each county's
first enrolments taking effect (model.engine.delivery_order.first_in_group_numpy)."""

import numpy as np
import pytest

from model.engine.backlog import Backlog
from model.engine.coverage import group_starts
from model.engine.delivery_order import first_in_group_numpy


@pytest.mark.parametrize("grouped", [True, False])
def test_backlog_takes_each_countys_first_as_the_due_list_does(grouped):
    """Six years of waiting units added and taken: each year the units
    taken and each county's count are those the first of each county in
    the list (the waiting in the order they were left, then the new) gives,
    and what is left waits in the same order."""
    rng = np.random.default_rng(5 + grouped)
    n, nc = 5000, 9
    county = (np.sort(rng.integers(0, nc, n)) if grouped
              else rng.integers(0, nc, n)).astype(np.int16)
    starts = group_starts(county, nc) if grouped else None
    assert (starts is not None) == grouped
    backlog, due_list = Backlog(county, nc, starts), np.zeros(0, np.int64)
    unused = rng.permutation(n)
    dropped_a_run = False
    for year in range(6):
        quota = rng.integers(0, 120, nc) * (rng.random(nc) < 0.8)
        take = first_in_group_numpy(county[due_list], quota)
        expected, left = due_list[take], due_list[~take]
        runs_before = len(backlog.runs)
        taken, counts = backlog.take(quota)
        np.testing.assert_array_equal(taken, np.sort(expected))
        np.testing.assert_array_equal(counts, np.bincount(county[expected], minlength=nc))
        dropped_a_run |= len(backlog.runs) < runs_before
        # this year's new units left waiting, ascending
        new, unused = np.sort(unused[:700]), unused[700:]
        new = new[rng.random(len(new)) < 0.6]
        backlog.add(new)
        due_list = np.concatenate([left, new])
        assert len(backlog) == len(due_list)
        for c in range(nc):  # each county's queue in order
            queue = backlog.units()[county[backlog.units()] == c]
            np.testing.assert_array_equal(queue, due_list[county[due_list] == c])
    assert dropped_a_run


def _waiting(county, *runs):
    """A backlog of units stored county by county (``county``: each
    unit's), the ``runs`` added in turn."""
    county = np.array(county, np.int16)
    backlog = Backlog(county, int(county.max()) + 1, group_starts(county, int(county.max()) + 1))
    for run in runs:
        backlog.add(np.array(run))
    return backlog


def test_backlog_takes_at_most_what_waits():
    backlog = _waiting([0, 0, 1, 2, 2, 2], [0, 3, 5], [1, 4])
    taken, counts = backlog.take(np.array([5, 5, 1]))
    np.testing.assert_array_equal(taken, [0, 1, 3])
    np.testing.assert_array_equal(counts, [2, 0, 1])
    np.testing.assert_array_equal(backlog.units(), [5, 4])
    assert len(backlog) == 2 and len(backlog.runs) == 2
    taken, counts = backlog.take(np.array([0, 0, 2]))
    np.testing.assert_array_equal(taken, [4, 5])
    assert len(backlog) == 0 and backlog.runs == []


def test_backlog_taking_whole_runs_drops_them():
    """A run taken whole (none of it taken before, every county's part
    within its quota) is given back as it is and dropped; the next takes
    find the later run only."""
    backlog = _waiting([0, 0, 1, 1, 2], [0, 2, 4], [1, 3])
    taken, counts = backlog.take(np.array([1, 1, 3]))
    np.testing.assert_array_equal(taken, [0, 2, 4])
    np.testing.assert_array_equal(counts, [1, 1, 1])
    assert len(backlog.runs) == 1 and len(backlog) == 2
    taken, counts = backlog.take(np.array([9, 0, 9]))
    np.testing.assert_array_equal(taken, [1])
    np.testing.assert_array_equal(backlog.units(), [3])

