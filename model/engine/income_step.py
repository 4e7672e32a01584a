"""The yearly step of a programme whose effect is income alone, in one pass
over the households, county by county.

A programme declares such an effect as an :class:`Income` (an amount a
household or a person, with a ramp or a later share). Its step then stops
the failing enrolments, adds the income of every active household that
needs it to the pathway's row and counts the active households and their
people by county in one loop (:func:`income_step`). It replaces the chain of
:func:`model.engine.bookkeeping.step_indices`, the effect's
:func:`model.engine.bookkeeping.add_at` and the record's
:func:`model.engine.coverage.coverage_at`, which listed the active
households and read the list twice more; :func:`income_step_numpy` is that
chain, and the tests compare the two bit for bit.

Households are stored county by county (:func:`model.engine.coverage.group_starts`);
each thread takes a run of whole counties, so a county's counts are one
thread's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from model.engine.bookkeeping import (
    add_at_numpy,
    kept_after_failure,
    ramp_shares_numpy,
    step_indices_numpy,
)
from model.engine.threads import KERNEL, cuts, split_at


@dataclass(frozen=True)
class Income:
    """A programme's effect when it is income alone.

    Each active household that needs the effect receives, in the
    programme's pathway, ``amount`` times the share of the full effect after
    ``years_in`` years since its enrolment (0 in the first): ``min((years_in
    + 1) / ramp, 1)`` until ``later_from`` years, ``later_share`` from then
    on. All in float32, as the pathway's row.

    Attributes
    ----------
    amount : float
        Income at full effect: yuan/household/year, or yuan/person/year when
        ``per_person``.
    per_person : bool
        Whether ``amount`` is per member.
    ramp : float
        Years to full effect (at least 1; 1: full effect at once).
    later_from : float
        Years since enrolment from which ``later_share`` applies (inf: never).
    later_share : float
        Share of ``amount`` from ``later_from`` years on (0..1).
    """

    amount: float
    per_person: bool = False
    ramp: float = 1.0
    later_from: float = np.inf
    later_share: float = 1.0

    @property
    def reads_years(self) -> bool:
        """Whether the amount depends on the years since enrolment."""
        return self.ramp > 1.0 or np.isfinite(self.later_from)

    def amounts(self, years_in: np.ndarray | None) -> np.ndarray:
        """Income of each household at ``years_in`` years since enrolment
        (float32; one value for all when it does not depend on the years),
        as the step's kernel computes it."""
        amount = np.float32(self.amount)
        if not self.reads_years:
            return np.atleast_1d(amount * np.float32(1.0))
        share = np.where(years_in >= self.later_from, np.float32(self.later_share),
                         ramp_shares_numpy(years_in, self.ramp))
        return amount * share.astype(np.float32)


@dataclass(frozen=True)
class Counted:
    """What a one-pass step counted by county (float64 arrays, one value a
    county): the active households and their members."""

    households: np.ndarray
    people: np.ndarray


def county_pieces(starts: np.ndarray) -> list[int]:
    """Groups cutting ``range(starts[-1])`` into runs of whole groups of
    about equal units, one a thread (:func:`model.engine.threads.cuts`):
    the first group of each piece, then the number of groups."""
    pieces = [0]
    for cut in cuts(int(starts[-1]))[1:-1]:
        g = int(np.searchsorted(starts, cut, side="right")) - 1
        if pieces[-1] < g < len(starts) - 1:
            pieces.append(g)
    pieces.append(len(starts) - 1)
    return pieces


def income_step(starts, start, year, oldest_start, status, exit_year, last_exit_year, needs,
                hh_id, key, hazard, income: Income, share, fraction, size, row):
    """A programme's step whose effect is ``income``, in one pass on threads.

    Parameters
    ----------
    starts : int64 array (counties + 1,)
        First household of each county, then the number of households
        (:func:`model.engine.coverage.group_starts`).
    start, year, oldest_start, status, exit_year, last_exit_year, needs, hh_id, key, hazard
        As :func:`model.engine.bookkeeping.step_indices` (``start`` in/out:
        a failed enrolment's becomes ``-start``).
    income : Income
        The effect.
    share : float32
        ``programme_income_share`` (0..1).
    fraction : float32 array (counties,), or empty
        As :func:`model.engine.bookkeeping.add_at`: fraction of the year in
        effect of the enrolments taking effect this year.
    size : int array (n,)
        Members of each household.
    row : float32 array (n,), in/out
        The pathway's row of programme income (yuan/person/year).

    Returns
    -------
    households, people : float64 arrays (counties,)
        Active households (after the failures) and their members, by county.
    reached : int
        Households the income reached (active and needing it).
    """
    nc = len(starts) - 1
    households, people = np.zeros(nc), np.zeros(nc)
    later_from = (np.float64(income.later_from) if np.isfinite(income.later_from)
                  else np.float64(np.iinfo(np.int32).max))
    reached = split_at(_income_counties, county_pieces(starts), starts, start, np.int64(year),
                       np.float64(oldest_start), status, exit_year, np.float64(last_exit_year),
                       needs, hh_id, np.uint64(key), np.float32(hazard),
                       np.float32(income.amount), not income.per_person,
                       np.float64(max(income.ramp, 1.0)), later_from,
                       np.float32(income.later_share), np.float32(share), fraction, size, row,
                       households, people)
    return households, people, int(sum(reached))


@njit(**KERNEL)
def _income_counties(first, last, starts, start, year, oldest_start, status, exit_year,
                     last_exit_year, needs, hh_id, key, hazard, amount, per_household, ramp,
                     later_from, later_share, share, fraction, size, row, households, people):
    """:func:`income_step` for counties ``first`` to ``last - 1``; returns
    the households reached."""
    scaled = fraction.shape[0] > 0
    reached = 0
    for g in range(first, last):
        f = fraction[g] if scaled else np.float32(1.0)
        n_active = 0
        members = 0
        for i in range(np.uint64(starts[g]), np.uint64(starts[g + 1])):
            # drawn whatever the hazard: the loop has no branch and vectorises
            a, s = kept_after_failure(start[i], year, oldest_start, status[i], exit_year[i],
                                      last_exit_year, hh_id[i], key, hazard)
            start[i] = s
            r = a & needs[i]
            years_in = np.float64(year - s)
            factor = (later_share if years_in >= later_from
                      else np.float32(min((years_in + 1.0) / ramp, 1.0)))
            v = amount * factor
            if per_household:
                v = v / np.float32(size[i])
            v = share * v
            if scaled:
                v = v * f if s == year else v
            row[i] = row[i] + v if r else row[i]
            n_active += a
            members += np.int64(size[i]) * a
            reached += r
        households[g] = np.float64(n_active)
        people[g] = np.float64(members)
    return reached


def income_step_numpy(county, n_counties, start, year, oldest_start, status, exit_year, last_exit_year,
                      needs, hh_id, key, hazard, income: Income, share, fraction, size, row):
    """Reference of :func:`income_step`: the active and reached lists
    (:func:`model.engine.bookkeeping.step_indices_numpy`), the income added
    to the reached (:func:`model.engine.bookkeeping.add_at_numpy`) and the
    active households and people counted by county (``county``: each
    household's, one of ``n_counties``)."""
    nc = n_counties
    active, reach, years_in = step_indices_numpy(start, year, oldest_start, status, exit_year,
                                                 last_exit_year, needs, hh_id, key, hazard)
    add_at_numpy(row, reach, income.amounts(years_in), np.float32(share), start,
                 np.zeros(0, np.int64), year, fraction, county,
                 np.zeros(0, np.int8) if income.per_person else size)
    households = np.bincount(county[active], minlength=nc).astype(np.float64)
    people = np.bincount(county[active], weights=size[active].astype(np.float64), minlength=nc)
    return households, people, len(reach)
