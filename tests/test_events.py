"""The year's exits and arrivals listed on threads, against numpy."""

import numpy as np
import pytest

from model.engine import threads
from model.engine.codes import ENTRY, EXIT, NO_EVENT, RETURN
from model.engine.events import exits_and_arrivals, exits_and_arrivals_numpy
from model.engine.sim import Simulation
from model.params import Parameters
from model.programmes.measures import instances
from model.registry.synth import synthetic


@pytest.mark.parametrize("exit_share", [0.0, 0.03, 0.5, 1.0])
def test_exits_and_arrivals_are_flatnonzero_whatever_the_pieces(four_threads, monkeypatch,
                                                                  exit_share):
    """Four pieces, with no exit at the end of a piece (where a
    branch-free write could fall into the next piece's places) but
    arrivals after the piece's last exit, and every share of exits."""
    rng = np.random.default_rng(31)
    n = 10_007
    event = np.where(rng.random(n) < exit_share, EXIT,
                     rng.choice([NO_EVENT, NO_EVENT, RETURN, ENTRY], n)).astype(np.uint8)
    event[2_400:2_600] = np.where(np.arange(200) % 7 == 0, RETURN, NO_EVENT)
    monkeypatch.setattr(threads, "MIN_PIECE", 1_000)
    assert len(threads.cuts(n)) == 5
    for min_piece in (1_000, 10**9):
        monkeypatch.setattr(threads, "MIN_PIECE", min_piece)
        got = exits_and_arrivals(event)
        for a, b in zip(got, exits_and_arrivals_numpy(event)):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == np.int64
    assert len(got[1]) > 20
    assert (len(got[0]) > 0) == (exit_share > 0)


def test_arrivals_handed_to_the_next_year_are_its_newly_registered():
    """The record lists the arrivals with its exits; the next year's
    enrolment reads them as the households that came onto the registry at
    the last verification: those whose event is a return or an entry."""
    reg = synthetic(20_000, n_counties=4, seed=5)
    sim = Simulation(reg, Parameters.load(), seed=3, end_year=2020, programmes=instances())
    sim._record_base_year()
    handed = 0
    for year in range(sim.base_year + 1, sim.end_year + 1):
        if sim._arrivals is not None:
            np.testing.assert_array_equal(sim._arrivals,
                                          np.flatnonzero(sim.state.event >= RETURN))
            handed += len(sim._arrivals)
        sim.step(year)
    assert handed > 0
