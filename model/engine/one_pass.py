"""The yearly step of a programme whose effect is income, guarantees alone
or a floor, in one pass over the households, county by county.

A programme declares such an effect as an :class:`Income` (an amount a
household or a person, or one of each household, with a ramp or a later
share, an amount added later to some, guarantee bits, a recurring cost of
the amount), a :class:`Grant` (guarantee bits, a flag, a recurring cost
read from tables) or a :class:`Floor` (a standard by county, the safety
net's). Its step then stops the failing enrolments (with a hazard, in a
loop of their own first: :func:`model.engine.bookkeeping.draw_failures`),
applies the effect to every active household that needs it and counts
the active households and their people (and the recurring cost) by
county in one loop (:func:`income_step`, :func:`grant_step`,
:func:`floor_step`; a floor's cost, the top-ups, after the income update:
:func:`floor_costs`). It
replaces the chain of :func:`model.engine.bookkeeping.step_indices`, the
effect's pass over the reached households and the record's
:func:`model.engine.coverage.coverage_at`, which listed the active
households and read the list twice more; the ``_numpy`` functions are that
chain, and the tests compare the two bit for bit.

Households are stored county by county (:func:`model.engine.coverage.group_starts`);
each thread takes a run of whole counties, so a county's counts are one
thread's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from model.engine.active_rule import active_limits, enrolment_active, whole_bound
from model.engine.bookkeeping import (
    add_at_numpy,
    draw_failures,
    enrolment_now,
    lookup_sum,
    lookup_sum_numpy,
    or_and_flag_at,
    or_and_flag_at_numpy,
    or_at,
    or_at_numpy,
    product_at_numpy,
    ramp_shares,
    set_from_table,
    set_from_table_numpy,
    step_indices_numpy,
)
from model.engine.coverage import coverage_at_numpy, group_pieces
from model.engine.ordered_sums import scratch, sum_in_order
from model.engine.threads import KERNEL, split_at
from model.random import INLINE_SOURCE


@dataclass(frozen=True, eq=False)
class Income:
    """A programme's effect when it is income, with perhaps guarantees.

    Each active household that needs the effect receives, in the
    programme's pathway, ``amount`` times the share of the full effect after
    ``years_in`` years since its enrolment (0 in the first): ``min((years_in
    + 1) / ramp, 1)`` until ``later_from`` years, ``later_share`` from then
    on; from ``later_from`` years on, the households ``later_who`` marks also
    receive ``later_added`` as a whole. All in float32, as the pathway's row.

    Attributes
    ----------
    amount : float or float32 array (n,)
        Income at full effect: yuan/household/year, or yuan/person/year when
        ``per_person``; one value for all, or one a household.
    per_person : bool
        Whether ``amount`` is per member.
    ramp : float
        Years to full effect (at least 1; 1: full effect at once), held in
        float32 as the amounts are (rounded to the nearest float32 when
        given otherwise): the share ``(years_in + 1) / ramp`` is then the
        same divided in float32 or in float64 and rounded to float32.
    later_from : float
        Years since enrolment from which ``later_share`` and ``later_added``
        apply (inf: never).
    later_share : float
        Share of ``amount`` from ``later_from`` years on (0..1).
    later_added : float
        Income received as a whole from ``later_from`` years on
        (yuan/household/year; 0: none) by the households ``later_who`` marks.
    later_who : int or bool array (n,), or None
        Non-zero for the households that receive ``later_added``.
    bits : int
        Guarantee bits (:mod:`model.engine.codes`) set in
        ``State.guarantees`` of each household the income reaches (0: none).
    costs_amount : bool
        The recurring cost of each active household is its ``amount`` at
        full effect, times its members when ``per_person`` (yuan/year).
    """

    amount: float | np.ndarray
    per_person: bool = False
    ramp: float = 1.0
    later_from: float = np.inf
    later_share: float = 1.0
    later_added: float = 0.0
    later_who: np.ndarray | None = None
    bits: int = 0
    costs_amount: bool = False

    def __post_init__(self):
        object.__setattr__(self, "ramp", float(np.float32(max(self.ramp, 1.0))))

    @property
    def reads_years(self) -> bool:
        """Whether the amount depends on the years since enrolment."""
        return self.ramp > 1.0 or np.isfinite(self.later_from)

    @property
    def each(self) -> bool:
        """Whether ``amount`` is one value a household."""
        return isinstance(self.amount, np.ndarray)

    def amounts(self, years_in: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
        """Income of households ``idx`` at ``years_in`` years since
        enrolment, before ``later_added`` (float32; one value for all when
        it is the same for all), as the step's kernel computes it."""
        amount = self.amount[idx] if self.each else np.float32(self.amount)
        if not self.reads_years:
            return np.atleast_1d(amount * np.float32(1.0))
        share = np.where(years_in >= self.later_from, np.float32(self.later_share),
                         ramp_shares(years_in, self.ramp))
        return amount * share.astype(np.float32)

    def later_reached(self, years_in: np.ndarray | None, idx: np.ndarray) -> np.ndarray:
        """Those of households ``idx`` (at ``years_in`` years since
        enrolment) that receive ``later_added`` this year."""
        if not self.later_added or self.later_who is None or not np.isfinite(self.later_from):
            return idx[:0]
        return idx[(years_in >= self.later_from) & (self.later_who[idx] != 0)]

    def recurring(self, active: np.ndarray, size: np.ndarray) -> np.ndarray:
        """With ``costs_amount``, the recurring cost of households ``active``
        (float64, yuan/year), as the step's kernel computes it."""
        amount = (self.amount[active] if self.each
                  else np.full(len(active), self.amount, np.float32)).astype(np.float64)
        return amount * size[active] if self.per_person else amount


@dataclass(frozen=True)
class PerMember:
    """A one-off cost of each new household by its members: ``amount``
    times its members (yuan/person), as a programme's :meth:`cost
    <model.programmes.base.Programme.cost>` may give it. The record sums
    it by county from the new households' members when that is exact
    (:meth:`model.engine.sim.Simulation._per_member`)."""

    amount: float


@dataclass(frozen=True)
class Lookup:
    """An amount of each household read from two small tables:
    ``first[first_key[i]] + second[second_key[i]]`` (float32 tables, in
    their type; yuan/household/year)."""

    first: np.ndarray
    first_key: np.ndarray
    second: np.ndarray
    second_key: np.ndarray

    def at(self, idx: np.ndarray) -> np.ndarray:
        """The amounts of households ``idx`` (float32)."""
        return lookup_sum(idx, self.first, self.first_key, self.second, self.second_key)


@dataclass(frozen=True)
class Grant:
    """A programme's effect when it grants guarantees alone.

    Attributes
    ----------
    bits : int
        Guarantee bits (:mod:`model.engine.codes`) set in
        ``State.guarantees`` of each active household that needs the effect.
    flag : str or None
        Name of a ``State`` array (uint8) set to 1 for those households too
        (``"medical_cover"``), or None.
    recurring : Lookup or None
        The recurring cost of each active household (yuan/household/year)
        when it differs by household; None when :meth:`cost
        <model.programmes.base.Programme.cost>` gives one number.
    """

    bits: int
    flag: str | None = None
    recurring: Lookup | None = None

    def apply(self, st, idx: np.ndarray) -> None:
        """The effect on households ``idx`` (the step's chain of passes)."""
        if self.flag is None:
            or_at(st.guarantees, idx, np.uint8(self.bits))
        else:
            or_and_flag_at(st.guarantees, idx, np.uint8(self.bits), getattr(st, self.flag))


@dataclass(frozen=True, eq=False)
class Floor:
    """A programme's effect when it tops households up to a floor (the
    safety net, 兜底).

    Each active household that needs the effect has ``State.floor`` set to
    its county's ``standard``; the income update then pays its top-up. The
    step counts the households reached, not every active one (a means test
    can leave an enrolment on the books that the floor does not reach), and
    their recurring cost is their top-up, known after the income update
    (:func:`floor_costs`).

    One programme of a run declares a floor (a second is an error,
    :meth:`model.programmes.base.Programme.step`): nothing else sets
    ``State.floor`` in a year, so the top-ups paid are its own.

    Attributes
    ----------
    standard : float32 array (counties,)
        Each county's standard this year (yuan/person/year).
    """

    standard: np.ndarray

    def apply(self, st, idx: np.ndarray, county: np.ndarray) -> None:
        """The effect on households ``idx`` (the step's chain of passes)."""
        if st.floor_stale:  # last year's floors: zeros first
            st.floor[:] = 0.0
            st.floor_stale = False
        set_from_table(st.floor, idx, self.standard, county)


@dataclass(frozen=True)
class Counted:
    """What a one-pass step counted by county (float64 arrays, one value a
    county): the active households and their members (those reached, for
    a :class:`Floor`), and their recurring cost (yuan) when the step summed
    it (None otherwise)."""

    households: np.ndarray
    people: np.ndarray
    cost: np.ndarray | None = None


_NO_AMOUNTS = np.zeros(0, np.float32)
_NO_WHO = np.zeros(0, np.int8)
_NO_FLAGS = np.zeros(0, np.uint8)
_NO_TABLE = np.zeros(0, np.float32)


def income_step(starts, start, year, oldest_start, status, exit_year, last_exit_year, needs,
                hh_id, key, hazard, income: Income, share, fraction, size, row, marks, bit,
                guarantees, fresh=False):
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
    marks : uint8 array (n,), in/out; bit : uint8
        ``bit`` (the pathway's) is set in ``marks`` (``State.reached``) for
        every active household.
    guarantees : uint8 array (n,), in/out
        ``State.guarantees``: ``income.bits`` are set for the households reached.
    fresh : bool
        ``row`` holds an earlier year's income, to be taken as zeros: every
        household's is written (``0.0 + income``, or 0.0), none is read.

    Returns
    -------
    Counted
        Active households (after the failures) and their members by county,
        and their recurring cost with ``income.costs_amount`` (each county's
        amounts added in household order from 0.0, as
        :func:`model.engine.coverage.coverage_at` adds them).
    reached : int
        Households the income reached (active and needing it).
    """
    nc = len(starts) - 1
    households, people, cost = np.zeros(nc), np.zeros(nc), np.zeros(nc)
    # the first whole year at or after later_from (the end of int32 for "never", inf)
    later_from = whole_bound(income.later_from, np.int32, up=True)
    # one type of each array whatever the programme: one compiled kernel
    each = np.asarray(income.amount, np.float32) if income.each else _NO_AMOUNTS
    who = income.later_who
    later_who = (_NO_WHO if who is None or not income.later_added
                 else who if who.dtype == np.int8 else (who != 0).view(np.int8))
    year, oldest_start, last_exit_year = active_limits(year, oldest_start, last_exit_year)
    reached = split_at(_income_counties, group_pieces(starts), starts, start, year,
                       oldest_start, status, exit_year, last_exit_year, needs, hh_id,
                       np.uint64(key), np.float32(hazard),
                       np.float32(0.0 if income.each else income.amount), each,
                       not income.per_person, np.float32(income.ramp), later_from,
                       np.float32(income.later_share), np.float32(income.later_added),
                       later_who, np.uint8(income.bits), income.costs_amount, np.float32(share),
                       fraction, size, row, marks, np.uint8(bit), guarantees, bool(fresh),
                       households, people, cost)
    return (Counted(households, people, cost if income.costs_amount else None),
            int(sum(reached)))


@njit(**KERNEL)
def _income_counties(first, last, starts, start, year, oldest_start, status, exit_year,
                     last_exit_year, needs, hh_id, key, hazard, amount, each, per_household,
                     ramp, later_from, later_share, later_added, later_who, bits, costs_amount,
                     share, fraction, size, row, marks, bit, guarantees, fresh, households,
                     people, cost):
    """:func:`income_step` for counties ``first`` to ``last - 1``; returns
    the households reached."""
    reached = 0
    rule = (start, year, oldest_start, status, exit_year, last_exit_year, hh_id, key, hazard)
    effect = (needs, amount, each, per_household, ramp, later_from, later_share, share, size,
              row, marks, bit)
    more = (later_added, later_who, bits, guarantees, costs_amount)
    further = later_who.shape[0] > 0 or bits != 0 or costs_amount
    amounts = scratch(starts, first, last if costs_amount else first)
    for g in range(first, last):
        f = fraction[g] if fraction.shape[0] > 0 else np.float32(-1.0)
        lo, hi = np.uint64(starts[g]), np.uint64(starts[g + 1])
        # a county's failures drawn first (its units are then still in
        # cache when the loop reads them): the loop compiles without draws
        draw_failures(lo, hi, rule)
        # each loop compiled for its case (a constant where called): the
        # loop of a plain income does nothing else
        if further:
            n_active, members, r = _income_county(lo, hi, rule, effect, f, fresh, True, more,
                                                  amounts)
        else:
            n_active, members, r = _income_county(lo, hi, rule, effect, f, fresh, False, more,
                                                  amounts)
        households[g] = np.float64(n_active)
        people[g] = np.float64(members)
        reached += r
        if costs_amount:
            cost[g] = sum_in_order(amounts, np.int64(hi - lo))
    return reached


@njit(**INLINE_SOURCE)
def _income_county(lo, hi, rule, effect, f, fresh, further, more, amounts):
    """The households ``lo`` to ``hi - 1`` of one county (``f``: its
    fraction of the first year, negative for the whole year; ``fresh``: the
    row's values are taken as zeros): active households, their members and
    the households reached. With ``further`` (a constant where called),
    also ``later_added`` and the guarantee bits for the reached, and each
    active household's recurring cost into ``amounts`` (0.0 for the
    others) with ``costs_amount``."""
    year = rule[1]
    needs, amount, each, per_household, ramp, later_from, later_share, share, size, row, \
        marks, bit = effect
    later_added, later_who, bits, guarantees, costs_amount = more
    added = later_who.shape[0] > 0
    n_active = members = reached = 0
    for i in range(lo, hi):
        a, s = enrolment_now(rule, i, False)
        r = a & needs[i]
        years_in = np.int32(year) - np.int32(s)
        # in float32: the float64 division's share (the ramp is float32, Income)
        factor = (later_share if years_in >= later_from
                  else min((np.float32(years_in) + np.float32(1.0)) / ramp, np.float32(1.0)))
        v = (each[i] if each.shape[0] > 0 else amount) * factor
        if per_household:
            v = v / np.float32(size[i])
        v = share * v
        if f >= 0:
            v = v * f if s == year else v
        held = np.float32(0.0) if fresh else row[i]
        value = held + v if r else held
        if further:
            guarantees[i] = guarantees[i] | bits if r else guarantees[i]
            if added:
                w = share * (later_added / np.float32(size[i]))
                if f >= 0:
                    w = w * f if s == year else w
                later = r & (later_who[i] != 0) & (years_in >= later_from)
                value = value + w if later else value
            if costs_amount:
                # the amount at full effect, times the members for one a person
                x = np.float64(each[i] if each.shape[0] > 0 else amount)
                x = x if per_household else x * np.float64(size[i])
                amounts[i - lo] = x if a else 0.0
        row[i] = value
        marks[i] = marks[i] | bit if a else marks[i]
        n_active += a
        members += np.int64(size[i]) * a
        reached += r
    return n_active, members, reached


def income_step_numpy(county, n_counties, start, year, oldest_start, status, exit_year,
                      last_exit_year, needs, hh_id, key, hazard, income: Income, share, fraction,
                      size, row, marks, bit, guarantees):
    """Reference of :func:`income_step`: the active and reached lists
    (:func:`model.engine.bookkeeping.step_indices_numpy`), the income added
    to the reached and then ``later_added`` to those it reaches
    (:func:`model.engine.bookkeeping.add_at_numpy`), the bits set for the
    reached, and the active households, people and recurring cost counted
    by county (``county``: each household's, one of ``n_counties``)."""
    nc = n_counties
    active, reach, years_in = step_indices_numpy(start, year, oldest_start, status, exit_year,
                                                 last_exit_year, needs, hh_id, key, hazard)
    by_person, by_household = np.zeros(0, np.int8), size
    rest = (np.float32(share), start, np.zeros(0, np.int64), year, fraction, county)
    add_at_numpy(row, reach, income.amounts(years_in, reach), *rest,
                 by_person if income.per_person else by_household)
    add_at_numpy(row, income.later_reached(years_in, reach),
                 np.atleast_1d(np.float32(income.later_added)), *rest, by_household)
    or_at_numpy(guarantees, reach, np.uint8(income.bits))
    marks[active] |= np.uint8(bit)
    cost = (_summed_numpy(county, nc, active, income.recurring(active, size))
            if income.costs_amount else None)
    return _counted_numpy(county, nc, active, size, cost), len(reach)


def _counted_numpy(county, n_counties, units, size, cost=None) -> Counted:
    """The households ``units`` and their members counted by county (the
    references' :class:`Counted`), with ``cost``."""
    households = np.bincount(county[units], minlength=n_counties).astype(np.float64)
    people = np.bincount(county[units], weights=size[units].astype(np.float64),
                         minlength=n_counties)
    return Counted(households, people, cost)


def _summed_numpy(county, n_counties, units, amounts) -> np.ndarray:
    """``amounts`` of the households ``units`` summed by county as the
    record sums a list's (:func:`model.engine.coverage.coverage_at_numpy`)."""
    counts, sums, people = np.zeros(n_counties), np.zeros(n_counties), np.zeros(n_counties)
    coverage_at_numpy(county, units, amounts, np.zeros(0, np.int8), counts, sums, people)
    return sums


def grant_step(starts, start, year, oldest_start, status, exit_year, last_exit_year, needs,
               hh_id, key, hazard, grant: Grant, st, size):
    """A programme's step whose effect is ``grant``, in one pass on threads.

    Parameters
    ----------
    starts, start, year, oldest_start, status, exit_year, last_exit_year, needs, hh_id, key, hazard
        As :func:`income_step`.
    grant : Grant
        The effect.
    st : State
        Its ``guarantees`` (and the array ``grant.flag`` names) are set.
    size : int array (n,)
        Members of each household.

    Returns
    -------
    Counted
        Active households, people and, with ``grant.recurring``, their
        recurring cost by county (each county's amounts added in household
        order from 0.0, as :func:`model.engine.coverage.coverage_at` adds
        them).
    """
    nc = len(starts) - 1
    households, people, cost = np.zeros(nc), np.zeros(nc), np.zeros(nc)
    flags = _NO_FLAGS if grant.flag is None else getattr(st, grant.flag)
    lookup = grant.recurring or Lookup(_NO_TABLE, size, _NO_TABLE, size)
    year, oldest_start, last_exit_year = active_limits(year, oldest_start, last_exit_year)
    split_at(_grant_counties, group_pieces(starts), starts, start, year, oldest_start, status,
             exit_year, last_exit_year, needs,
             hh_id, np.uint64(key), np.float32(hazard), np.uint8(grant.bits), st.guarantees,
             flags, size, lookup.first, lookup.first_key, lookup.second, lookup.second_key,
             households, people, cost)
    return Counted(households, people, None if grant.recurring is None else cost)


@njit(**KERNEL)
def _grant_counties(first, last, starts, start, year, oldest_start, status, exit_year,
                    last_exit_year, needs, hh_id, key, hazard, bits, guarantees, flags, size,
                    table, table_key, second, second_key, households, people, cost):
    """:func:`grant_step` for counties ``first`` to ``last - 1``."""
    rule = (start, year, oldest_start, status, exit_year, last_exit_year, hh_id, key, hazard)
    effect = (needs, bits, guarantees, flags, size)
    amounts = scratch(starts, first, last if table.shape[0] > 0 else first)
    # the piece's failures drawn first: the loop compiles without draws
    draw_failures(np.uint64(starts[first]), np.uint64(starts[last]), rule)
    for g in range(first, last):
        lo, hi = np.uint64(starts[g]), np.uint64(starts[g + 1])
        n_active, members = _grant_county(lo, hi, rule, effect)
        households[g] = np.float64(n_active)
        people[g] = np.float64(members)
        if table.shape[0] > 0:
            # the active households' recurring costs, in household order
            for i in range(lo, hi):
                a = enrolment_active(start[i], year, oldest_start, status[i], exit_year[i],
                                     last_exit_year)
                x = np.float64(table[np.uint64(table_key[i])] + second[np.uint64(second_key[i])])
                amounts[i - lo] = x if a else 0.0
            cost[g] = sum_in_order(amounts, np.int64(hi - lo))


@njit(**INLINE_SOURCE)
def _grant_county(lo, hi, rule, effect):
    """The households ``lo`` to ``hi - 1`` of one county: active
    households and their members."""
    needs, bits, guarantees, flags, size = effect
    flagged = flags.shape[0] > 0
    n_active = members = 0
    for i in range(lo, hi):
        a = enrolment_now(rule, i, False)[0]
        r = a & needs[i]
        guarantees[i] = guarantees[i] | bits if r else guarantees[i]
        if flagged:
            flags[i] = np.uint8(1) if r else flags[i]
        n_active += a
        members += np.int64(size[i]) * a
    return n_active, members


def grant_step_numpy(county, n_counties, start, year, oldest_start, status, exit_year,
                     last_exit_year, needs, hh_id, key, hazard, grant: Grant, st, size):
    """Reference of :func:`grant_step`: the active and reached lists, the
    guarantees (and flag) set for the reached, the active households and
    people counted by county and their recurring cost summed as the record
    sums a list's (:func:`model.engine.coverage.coverage_at_numpy`)."""
    active, reach, _ = step_indices_numpy(start, year, oldest_start, status, exit_year,
                                          last_exit_year, needs, hh_id, key, hazard)
    if grant.flag is None:
        or_at_numpy(st.guarantees, reach, np.uint8(grant.bits))
    else:
        or_and_flag_at_numpy(st.guarantees, reach, np.uint8(grant.bits), getattr(st, grant.flag))
    r = grant.recurring
    cost = None if r is None else _summed_numpy(
        county, n_counties, active,
        lookup_sum_numpy(active, r.first, r.first_key, r.second, r.second_key))
    return _counted_numpy(county, n_counties, active, size, cost)


def floor_step(starts, start, year, oldest_start, status, exit_year, last_exit_year, needs,
               hh_id, key, hazard, floor: Floor, level, size, marks, bit, fresh=False):
    """A programme's step whose effect is ``floor``, in one pass on threads.

    Parameters
    ----------
    starts, start, year, oldest_start, status, exit_year, last_exit_year, needs, hh_id, key, hazard
        As :func:`income_step`.
    floor : Floor
        The effect.
    level : float32 array (n,), in/out
        ``State.floor`` (yuan/person/year): the county's standard is set for
        every household reached.
    size : int array (n,)
        Members of each household.
    marks : uint8 array (n,), in/out; bit : uint8
        As :func:`income_step`: ``bit`` is set for every active household.
    fresh : bool
        ``level`` holds last year's floors, to be taken as zeros: every
        household's is written (the standard, or 0.0), none is read.

    Returns
    -------
    Counted
        The households reached (active and needing it) and their members,
        by county; no cost (:func:`floor_costs` sums it after the income
        update).
    """
    nc = len(starts) - 1
    households, people = np.zeros(nc), np.zeros(nc)
    year, oldest_start, last_exit_year = active_limits(year, oldest_start, last_exit_year)
    split_at(_floor_counties, group_pieces(starts), starts, start, year, oldest_start, status,
             exit_year, last_exit_year, needs,
             hh_id, np.uint64(key), np.float32(hazard), np.asarray(floor.standard, np.float32),
             level, size, marks, np.uint8(bit), bool(fresh), households, people)
    return Counted(households, people)


@njit(**KERNEL)
def _floor_counties(first, last, starts, start, year, oldest_start, status, exit_year,
                    last_exit_year, needs, hh_id, key, hazard, standard, level, size, marks,
                    bit, fresh, households, people):
    """:func:`floor_step` for counties ``first`` to ``last - 1``."""
    rule = (start, year, oldest_start, status, exit_year, last_exit_year, hh_id, key, hazard)
    effect = (needs, level, size, marks, bit)
    # the piece's failures drawn first: the loop compiles without draws
    draw_failures(np.uint64(starts[first]), np.uint64(starts[last]), rule)
    for g in range(first, last):
        lo, hi = np.uint64(starts[g]), np.uint64(starts[g + 1])
        reached, members = _floor_county(lo, hi, rule, effect, standard[g], fresh)
        households[g] = np.float64(reached)
        people[g] = np.float64(members)


@njit(**INLINE_SOURCE)
def _floor_county(lo, hi, rule, effect, standard, fresh):
    """The households ``lo`` to ``hi - 1`` of one county (its ``standard``;
    ``fresh``: the levels held are taken as zeros): the households reached
    and their members."""
    needs, level, size, marks, bit = effect
    reached = members = 0
    for i in range(lo, hi):
        a = enrolment_now(rule, i, False)[0]
        r = a & needs[i]
        level[i] = standard if r else (np.float32(0.0) if fresh else level[i])
        marks[i] = marks[i] | bit if a else marks[i]
        reached += r
        members += np.int64(size[i]) * r
    return reached, members


def floor_step_numpy(county, n_counties, start, year, oldest_start, status, exit_year,
                     last_exit_year, needs, hh_id, key, hazard, floor: Floor, level, size, marks,
                     bit):
    """Reference of :func:`floor_step`: the active and reached lists, the
    standard set for the reached, the reached counted by county."""
    _, reach, _ = step_indices_numpy(start, year, oldest_start, status, exit_year,
                                     last_exit_year, needs, hh_id, key, hazard, marks, bit)
    set_from_table_numpy(level, reach, np.asarray(floor.standard, np.float32), county)
    return _counted_numpy(county, n_counties, reach, size)


def floor_costs(starts, topup, size):
    """The top-ups paid by county after the income update (float64, one sum
    a county, yuan/year): ``float64(topup[i]) * float64(size[i])`` added in
    household order from 0.0, as :func:`model.engine.coverage.coverage_at`
    adds them over the households a :class:`Floor` reached. Only those can
    have a top-up: the others' is 0.0, and adding it leaves a sum from 0.0
    as it is (:func:`model.engine.ordered_sums.sum_in_order` adds every
    household's)."""
    cost = np.zeros(len(starts) - 1)
    split_at(_floor_costs, group_pieces(starts), starts, topup, size, cost)
    return cost


@njit(**KERNEL)
def _floor_costs(first, last, starts, topup, size, cost):
    amounts = scratch(starts, first, last)
    for g in range(first, last):
        lo, hi = np.uint64(starts[g]), np.uint64(starts[g + 1])
        for i in range(lo, hi):
            amounts[i - lo] = np.float64(topup[i]) * np.float64(size[i])
        cost[g] = sum_in_order(amounts, np.int64(hi - lo))


def floor_costs_numpy(county, n_counties, reach, topup, size):
    """Reference of :func:`floor_costs`: the record's sums over the
    households reached (``reach``, ascending)."""
    return _summed_numpy(county, n_counties, reach, product_at_numpy(reach, topup, size))
