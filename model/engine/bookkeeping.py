"""Programme bookkeeping in one pass each: who is active, who may enrol,
income added to a pathway (coverage and cost by county:
:mod:`model.engine.coverage`).

A programme's yearly bookkeeping used to be a chain of numpy passes over
the whole registry (a mask per condition, then ``flatnonzero``); each
function here is the same rule as one plain loop. Each has a numpy reference
(suffix ``_numpy``) that the tests compare bit for bit.

Indices read from arrays are unsigned where they index another array (see
:mod:`model.engine.threads`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.active_rule import active_indices_numpy, active_limits, enrolment_active
from model.engine.codes import POOR, RETURNED
from model.engine.threads import (
    KERNEL,
    indices_counted,
    on_threads,
    split_where,
)
from model.random import CACHED, INLINE, INLINE_SOURCE, hash_id, hash_id_np, uniforms, uniforms_np

# an empty array passed for an optional array argument: "none" to a kernel
EMPTY = np.zeros(0, np.int8)
EMPTY_MARKS = np.zeros(0, np.uint8)

# a serial loop compiled as a household kernel is (vectorising, no checks)
_LOOP = {k: v for k, v in KERNEL.items() if k != "nogil"}


@njit(**CACHED)
def merge_sorted(a, b):
    """The ascending int64 indices of ``a`` and ``b`` (each ascending, no
    index in both) in one array: one linear merge."""
    out = np.empty(a.shape[0] + b.shape[0], np.int64)
    i = j = 0
    for k in range(out.shape[0]):
        if j == b.shape[0] or (i < a.shape[0] and a[i] < b[j]):
            out[k] = a[i]
            i += 1
        else:
            out[k] = b[j]
            j += 1
    return out


def merge_sorted_numpy(a, b):
    """Reference of :func:`merge_sorted`."""
    return np.union1d(a, b).astype(np.int64)


def candidate_indices(start, status, matched=None):
    """Indices of registered households (poor or returned) never enrolled
    (``start == 0``) and, when ``matched`` is given, matched."""
    mask = np.empty(start.shape[0], np.bool_)
    if matched is None:
        bounds, counts = candidate_mask(start, status, mask)
    else:
        bounds, counts = matched_candidate_mask(start, status, matched, mask)
    return indices_counted(mask, bounds, counts)


@njit(**INLINE)
def _is_candidate(start, status):
    """Registered (poor or returned) and never enrolled."""
    return (start == 0) & ((status == POOR) | (status == RETURNED))


@on_threads()
@njit(**KERNEL)
def candidate_mask(start, status, out):
    """``out[i]``: household ``i`` is registered and never enrolled (on
    threads). Returns the candidates of the piece."""
    count = 0
    for i in range(start.shape[0]):
        c = _is_candidate(start[i], status[i])
        out[i] = c
        count += c
    return count


@on_threads()
@njit(**KERNEL)
def matched_candidate_mask(start, status, matched, out):
    """``out[i]``: household ``i`` is registered, never enrolled and matched
    (on threads). Returns the candidates of the piece."""
    count = 0
    for i in range(start.shape[0]):
        c = _is_candidate(start[i], status[i]) & matched[i]
        out[i] = c
        count += c
    return count


def poorer_candidate_indices(start, status, matched, income, bound):
    """:func:`candidate_indices` of the matched households whose ``income``
    is at or below ``bound`` (float32), in one pass over the registry and
    one over its mask."""
    mask = np.empty(start.shape[0], np.bool_)
    bounds, counts = poorer_candidate_mask(start, status, matched, income, np.float32(bound),
                                           mask)
    return indices_counted(mask, bounds, counts)


@on_threads()
@njit(**KERNEL)
def poorer_candidate_mask(start, status, matched, income, bound, out):
    """``out[i]``: household ``i`` is registered, never enrolled, matched and
    has an income at or below ``bound`` (on threads). Returns the
    candidates of the piece."""
    count = 0
    for i in range(start.shape[0]):
        c = _is_candidate(start[i], status[i]) & matched[i] & (income[i] <= bound)
        out[i] = c
        count += c
    return count


def poorer_candidate_indices_numpy(start, status, matched, income, bound):
    """Reference of :func:`poorer_candidate_indices`."""
    return candidate_indices_numpy(start, status, matched & (income <= np.float32(bound)))


def candidates_among(units, start, status, matched=None):
    """The units of ``units`` (int64, ascending) that :func:`candidate_indices`
    lists: only they are read, so a programme that kept last year's
    candidates (:meth:`model.programmes.base.Programme.enrol`) finds this
    year's without a pass over the registry."""
    mask = np.empty(units.shape[0], np.bool_)
    if matched is None:
        candidate_mask_at(units, start, status, mask)
    else:
        matched_candidate_mask_at(units, start, status, matched, mask)
    return units[mask]


@on_threads("start", "status")
@njit(**KERNEL)
def candidate_mask_at(units, start, status, out):
    """``out[j]``: unit ``units[j]`` is registered and never enrolled (on
    threads, a piece of ``units`` each)."""
    for j in range(units.shape[0]):
        i = np.uint64(units[j])
        out[j] = _is_candidate(start[i], status[i])


@on_threads("start", "status", "matched")
@njit(**KERNEL)
def matched_candidate_mask_at(units, start, status, matched, out):
    """``out[j]``: unit ``units[j]`` is registered, never enrolled and
    matched (on threads, a piece of ``units`` each)."""
    for j in range(units.shape[0]):
        i = np.uint64(units[j])
        out[j] = _is_candidate(start[i], status[i]) & matched[i]


def candidates_among_numpy(units, start, status, matched=None):
    """Reference of :func:`candidates_among`: the pass over the registry's
    candidates (:func:`candidate_indices_numpy`) that are among ``units``."""
    return np.intersect1d(units, candidate_indices_numpy(start, status, matched))


def candidate_indices_numpy(start, status, matched=None):
    """Reference of :func:`candidate_indices`."""
    mask = (start == 0) & ((status == POOR) | (status == RETURNED))
    if matched is not None:
        mask &= matched
    return np.flatnonzero(mask)


def step_indices(start, year, oldest_start, status, exit_year, last_exit_year, needs,
                 hh_id, key, hazard, units=None, years=True, marks=EMPTY_MARKS, bit=0):
    """A programme's yearly step over its units: stop the failing
    enrolments, mark the active units and those among them the effect
    applies to, in one pass, then list both.

    Parameters
    ----------
    start : int16 array (n,), in/out
        Year of enrolment (see :func:`active_indices`); a failed enrolment's
        ``start`` becomes ``-start`` (:func:`stop_failed`).
    year, oldest_start, status, exit_year, last_exit_year
        As :func:`active_indices`.
    needs : bool array (n,)
        Units the effect can apply to (not read from ``start``: it is read
        before the failures).
    hh_id : int array (n,)
        Stable ids (the counters of the failure draws).
    key : uint64
        Key of the year's failure draws.
    hazard : float
        Yearly probability that an enrolment fails, the rule of
        :func:`stop_failed` (compared in float32); 0: no failures.
    units : int64 array, optional
        As :func:`active_indices`: only these units are read, with the same
        result.
    years : bool, optional
        Whether to compute ``years_in`` (None otherwise).
    marks : uint8 array (n,), optional, in/out; bit : int
        ``bit`` is set in ``marks`` for every active unit (``State.reached``;
        a ``bit`` of 0 changes nothing).

    Returns
    -------
    active : int64 array
        The active units after the failures, ascending.
    reach : int64 array
        The active units that need the effect, ascending.
    years_in : int16 array or None
        ``year - start`` of each unit of ``reach``.
    """
    m = start.shape[0] if units is None else units.shape[0]
    active = np.empty(m, np.bool_)
    reach = np.empty(m, np.bool_)
    hazard = np.float32(hazard)
    # the rule's int16 bounds; year stays the caller's for the years since
    year16, oldest16, last_exit16 = active_limits(year, oldest_start, last_exit_year)
    if units is None:
        if len(marks) == 0:  # marks of no use to the caller
            marks, bit = np.zeros(m, np.uint8), 0
        bounds, counted = step_masks(start, year16, oldest16, status, exit_year, last_exit16,
                                     needs, hh_id, key, hazard, marks, np.uint8(bit), active,
                                     reach)
        counts = np.array(counted, np.int64).reshape(-1, 2)
        active = indices_counted(active, bounds, counts[:, 0])
        # mostly every active unit needs the effect: then one list serves for both
        reach = (active if counts[:, 1].sum() == len(active)
                 else indices_counted(reach, bounds, counts[:, 1]))
    else:
        step_masks_at(units, start, year16, oldest16, status, exit_year, last_exit16, needs,
                      hh_id, key, hazard, marks, np.uint8(bit), active, reach)
        active = units[active]
        reach = active if np.count_nonzero(reach) == len(active) else units[reach]
    if not years:
        return active, reach, None
    years_in = np.empty(reach.shape[0], np.int16)
    years_since(reach, start, year, years_in)
    return active, reach, years_in


@njit(**INLINE)
def _fails(s, year, hh_id, key, hazard):
    """Whether an active enrolment that took effect in year ``s`` fails in
    ``year``: from its second year on, with probability ``hazard``
    (float32), the first uniform of the household's hash under ``key``."""
    if hazard > 0 and s < year:
        u, _ = uniforms(hash_id(key, hh_id))
        return u < hazard
    return False


@njit(**INLINE)
def kept_after_failure(s, year, oldest_start, status, exit_year, last_exit_year, hh_id, key,
                       hazard):
    """One unit's enrolment (start ``s``) this year: whether it is active
    after this year's failure draw (:func:`_failing`, made without a
    branch), and its start then (``-s`` if it failed)."""
    a = enrolment_active(s, year, oldest_start, status, exit_year, last_exit_year)
    fails = a & _failing(s, year, hh_id, key, hazard)
    return a & ~fails, -s if fails else s


@njit(**INLINE)
def _failing(s, year, hh_id, key, hazard):
    """:func:`_fails` without a branch, the draw made whatever ``s``: a loop
    over units that calls it vectorises (the same decisions)."""
    u, _ = uniforms(hash_id(key, hh_id))
    return (s < year) & (u < hazard)


@on_threads()
@njit(**KERNEL)
def step_masks(start, year, oldest_start, status, exit_year, last_exit_year, needs, hh_id, key,
               hazard, marks, bit, active, reach):
    """``active[i]``: unit ``i`` is active after this year's failures (its
    ``start`` negated when it fails, as :func:`fail_at` does); ``reach[i]``:
    and it needs the effect; ``marks[i] |= bit`` for the active units. On
    threads. Returns the numbers of active and reached units (each piece's,
    on threads), so that listing them needs no pass to count them."""
    arrays = (start, status, exit_year, needs, hh_id, marks, active, reach)
    limits = (year, oldest_start, last_exit_year, key, hazard, bit)
    # each case a loop of its own, without a branch: it vectorises
    if hazard > 0:
        return _step_loop(arrays, limits, True)
    return _step_loop(arrays, limits, False)


@njit(**INLINE_SOURCE)
def enrolment_now(rule, i, draws):
    """Unit ``i``'s enrolment this year under ``rule`` (``(start, year,
    oldest_start, status, exit_year, last_exit_year, hh_id, key, hazard)``,
    as :func:`step_indices`): whether it is active and its start, after the
    failure draw (:func:`kept_after_failure`, its start stored) when
    ``draws``. ``draws`` is a constant where it is called: each loop
    compiles without the branch, and without reading ``hh_id`` when it
    does not draw."""
    start, year, oldest_start, status, exit_year, last_exit_year, hh_id, key, hazard = rule
    if draws:
        a, s = kept_after_failure(start[i], year, oldest_start, status[i], exit_year[i],
                                  last_exit_year, hh_id[i], key, hazard)
        start[i] = s
        return a, s
    s = start[i]
    return enrolment_active(s, year, oldest_start, status[i], exit_year[i], last_exit_year), s


@njit(**INLINE_SOURCE)
def draw_failures(lo, hi, rule):
    """With a hazard (``rule`` as :func:`enrolment_now`'s), draw this
    year's failures of the units ``lo`` to ``hi - 1`` and store them (a
    failed enrolment's start negated): a loop over the same units then
    reads them with ``enrolment_now(rule, i, False)``, which gives what it
    would have drawn itself. Kernels draw so to compile their loops once,
    without draws: an income's step each county's failures just before its
    loop (the units still in cache), a grant's or a floor's the piece's at
    once (a loop of draws before each county's loop slowed the floor's loop
    by a third)."""
    hazard = rule[-1]  # the rule's last element (enrolment_now)
    if hazard > 0:
        for i in range(lo, hi):
            enrolment_now(rule, i, True)


@njit(**INLINE)
def _step_loop(arrays, limits, draws):
    """The loop of :func:`step_masks`; ``draws`` is a constant where it is
    called. Every unit draws when the loop draws (two to three times faster
    than drawing for the active only)."""
    start, status, exit_year, needs, hh_id, marks, active, reach = arrays
    year, oldest_start, last_exit_year, key, hazard, bit = limits
    rule = (start, year, oldest_start, status, exit_year, last_exit_year, hh_id, key, hazard)
    n_active = n_reach = 0
    for i in range(start.shape[0]):
        a = enrolment_now(rule, i, draws)[0]
        r = a & needs[i]
        active[i] = a
        reach[i] = r
        marks[i] = marks[i] | bit if a else marks[i]
        n_active += a
        n_reach += r
    return n_active, n_reach


@on_threads("start", "status", "exit_year", "needs", "hh_id", "marks")
@njit(**KERNEL)
def step_masks_at(units, start, year, oldest_start, status, exit_year, last_exit_year, needs,
                  hh_id, key, hazard, marks, bit, active, reach):
    """:func:`step_masks` of the units ``units`` (``active[j]``, ``reach[j]``
    for unit ``units[j]``; ``marks`` indexed by unit), on threads as
    :func:`active_mask_at`."""
    marking = marks.shape[0] > 0
    for j in range(units.shape[0]):
        i = np.uint64(units[j])
        s = start[i]
        a = enrolment_active(s, year, oldest_start, status[i], exit_year[i], last_exit_year)
        if a and _fails(s, year, hh_id[i], key, hazard):
            start[i] = -s
            a = False
        active[j] = a
        reach[j] = a & needs[i]
        if marking and a:
            marks[i] |= bit


@on_threads("start")
@njit(**KERNEL)
def years_since(idx, start, year, out):
    """``out[j] = year - start[idx[j]]`` (int16: years since the enrolment),
    on threads as :func:`active_mask_at`."""
    for j in range(idx.shape[0]):
        out[j] = year - start[np.uint64(idx[j])]


def step_indices_numpy(start, year, oldest_start, status, exit_year, last_exit_year, needs,
                       hh_id, key, hazard, marks=EMPTY_MARKS, bit=0):
    """Reference of :func:`step_indices` (the numpy passes it replaces: the
    active indices, the failures among them, the reached subset, the
    active units marked)."""
    active = active_indices_numpy(start, year, oldest_start, status, exit_year, last_exit_year)
    if hazard > 0 and len(active):
        active = stop_failed_numpy(active, start, hh_id, key, year, hazard)
    if len(marks):
        marks[active] |= np.uint8(bit)
    reach = active[needs[active]]
    return active, reach, (year - start[reach]).astype(np.int16)


def ramp_shares(years_in, years):
    """Share of the full effect after ``years_in`` years when it builds up
    over ``years`` (at least 1): ``float32(min((years_in + 1) / years, 1))``
    in one pass on threads (float32 array, 0..1)."""
    out = np.empty(years_in.shape[0], np.float32)
    _ramp_shares(years_in, np.float64(max(years, 1.0)), out)
    return out


@on_threads()
@njit(**KERNEL)
def _ramp_shares(years_in, years, out):
    for j in range(years_in.shape[0]):
        out[j] = np.float32(min((np.float64(years_in[j]) + 1.0) / years, 1.0))


def ramp_shares_numpy(years_in, years):
    """Reference of :func:`ramp_shares` (the numpy passes it replaces)."""
    return np.minimum((years_in + 1) / max(years, 1.0), 1.0).astype(np.float32)


def stop_failed(active, start, hh_id, key, year, hazard):
    """Stop the enrolments of ``active`` that fail this year; return those
    still active.

    An enrolment can fail from its second year on (``start < year``), with
    probability ``hazard`` (float32, compared in float32 as numpy compares a
    float32 draw with a Python number): the first uniform of the household's
    hash under ``key``. A failed enrolment's ``start`` becomes ``-start``.
    The draws run on threads (:func:`fail_at`), and the survivors are listed
    on threads too.
    """
    kept = np.empty(active.shape[0], np.bool_)
    fail_at(active, start, hh_id, key, year, hazard, kept)
    return split_where(kept, active)[0]


@on_threads("start", "hh_id")
@njit(**KERNEL)
def fail_at(active, start, hh_id, key, year, hazard, kept):
    """``kept[j]``: the enrolment of unit ``active[j]`` does not fail this
    year; a failing one's ``start`` becomes ``-start`` (units distinct, so
    the pieces on threads write apart)."""
    for j in range(active.shape[0]):
        i = np.uint64(active[j])
        s = start[i]
        failed = _fails(s, year, hh_id[i], key, hazard)
        start[i] = -s if failed else s
        kept[j] = not failed


def stop_failed_numpy(active, start, hh_id, key, year, hazard):
    """Reference of :func:`stop_failed` (the numpy passes it replaces)."""
    older = active[start[active] < year]
    u, _ = uniforms_np(hash_id_np(key, hh_id[older]))
    failed = older[u < hazard]
    start[failed] = -start[failed]
    return active[start[active] > 0]


def or_at(values, idx, bits):
    """``values[idx] |= bits`` in one pass (``idx`` distinct); on threads, a
    piece of ``idx`` each (distinct: the pieces write apart)."""
    _or_at(idx, values, bits)


@on_threads("values")
@njit(**KERNEL)
def _or_at(idx, values, bits):
    for j in range(idx.shape[0]):
        values[np.uint64(idx[j])] |= bits


def or_at_numpy(values, idx, bits):
    """Reference of :func:`or_at`."""
    values[idx] |= bits


def values_at(values, idx):
    """``values[idx]`` in one pass; on threads, a piece of ``idx`` each."""
    out = np.empty(idx.shape[0], values.dtype)
    _values_at(idx, values, out)
    return out


@on_threads("values")
@njit(**KERNEL)
def _values_at(idx, values, out):
    for j in range(idx.shape[0]):
        out[j] = values[np.uint64(idx[j])]


def set_at(values, idx, value):
    """``values[idx] = value`` (``idx`` distinct); on threads, a piece of
    ``idx`` each (distinct: the pieces write apart). ``value`` is taken in
    the type of ``values``, as numpy's assignment takes it: one compiled
    kernel for each type of ``values``, whatever the type of ``value``."""
    _set_at(idx, values, values.dtype.type(value))


@on_threads("values")
@njit(**KERNEL)
def _set_at(idx, values, value):
    for j in range(idx.shape[0]):
        values[np.uint64(idx[j])] = value


def values_at_numpy(values, idx):
    """Reference of :func:`values_at`."""
    return values[idx]


def set_at_numpy(values, idx, value):
    """Reference of :func:`set_at`."""
    values[idx] = value


def or_and_flag_at(values, idx, bits, flags):
    """``values[idx] |= bits`` and ``flags[idx] = 1`` in one pass (``idx``
    distinct): a guarantee granted, and the flag the income kernel reads.
    On threads, a piece of ``idx`` each (distinct: the pieces write apart)."""
    _or_and_flag_at(idx, values, bits, flags)


@on_threads("values", "flags")
@njit(**KERNEL)
def _or_and_flag_at(idx, values, bits, flags):
    for j in range(idx.shape[0]):
        i = np.uint64(idx[j])
        values[i] |= bits
        flags[i] = 1


def or_and_flag_at_numpy(values, idx, bits, flags):
    """Reference of :func:`or_and_flag_at`."""
    values[idx] |= bits
    flags[idx] = 1


def lookup_sum(idx, first, first_key, second, second_key):
    """``first[first_key[idx]] + second[second_key[idx]]`` in one pass, in
    the tables' type (a per-unit amount read from two small tables); on
    threads, a piece of ``idx`` each."""
    out = np.empty(idx.shape[0], first.dtype)
    _lookup_sum(idx, first, first_key, second, second_key, out)
    return out


@on_threads("first", "first_key", "second", "second_key")
@njit(**KERNEL)
def _lookup_sum(idx, first, first_key, second, second_key, out):
    for j in range(idx.shape[0]):
        i = np.uint64(idx[j])
        out[j] = first[np.uint64(first_key[i])] + second[np.uint64(second_key[i])]


def lookup_sum_numpy(idx, first, first_key, second, second_key):
    """Reference of :func:`lookup_sum`."""
    return first[first_key[idx]] + second[second_key[idx]]


def add_at(row, idx, per_capita, share, start, unit_of, year, fraction, county, size=EMPTY):
    """``row[idx[j]] += share * per_capita[j]``, times ``fraction[county]``
    of the household's county when its programme took effect this year;
    with ``size``, ``per_capita[j]`` is the household's and is first divided
    by its members (float32, as numpy divides by ``size[idx].astype(float32)``).

    Parameters
    ----------
    row : float32 array (n,), in/out
        The pathway's row of programme income (yuan/person/year).
    idx : int array (m,)
        Households, distinct.
    per_capita : float array (m,) or (1,)
        Income (yuan/person/year); one value for all when of length 1.
    share : float32
        ``programme_income_share``.
    start : int16 array
        Year the programme took effect for each unit.
    unit_of : int array (n,), or empty
        Unit (village) of each household; empty when units are households.
    year : int
        The year.
    fraction : float32 array (n_counties,), or empty
        Fraction of the year in effect, by county, of the enrolments taking
        effect this year; empty when every enrolment has the whole year.
    county : int array (n,)
        County of each household.
    size : int array (n,), or empty
        Members of each household, when ``per_capita`` is income per
        household (yuan/household/year); empty when it is per person.
    """
    if per_capita.shape[0] == 1:  # one value for all: the kernel reads it alone
        value, per_capita = per_capita[0], per_capita[:0]
    else:
        value = per_capita.dtype.type(0)
    _add_at(idx, per_capita, value, row, share, start, unit_of, year, fraction, county, size)


@on_threads("row", "start", "unit_of", "fraction", "county", "size")
@njit(**CACHED, nogil=True)
def _add_at(idx, per_capita, value, row, share, start, unit_of, year, fraction, county, size):
    """:func:`add_at` on threads, a piece of ``idx`` (and of ``per_capita``)
    each: the households are distinct, so the pieces write apart.
    ``per_capita`` empty: ``value`` for every household."""
    each = per_capita.shape[0] > 0
    by_unit = unit_of.shape[0] > 0
    scaled = fraction.shape[0] > 0
    per_household = size.shape[0] > 0
    for j in range(idx.shape[0]):
        i = np.uint64(idx[j])
        amount = per_capita[j] if each else value
        if per_household:
            amount = amount / np.float32(size[i])
        v = share * amount
        if scaled:
            s = start[np.uint64(unit_of[i])] if by_unit else start[i]
            f = fraction[np.uint64(county[i])]
            v = v * f if s == year else v
        row[i] += v


def add_at_numpy(row, idx, per_capita, share, start, unit_of, year, fraction, county,
                 size=EMPTY):
    """Reference of :func:`add_at` (the numpy passes it replaces)."""
    if len(size):
        per_capita = per_capita / size[idx].astype(np.float32)
    per_capita = share * per_capita
    if len(fraction) and len(idx):
        started = start[unit_of[idx]] if len(unit_of) else start[idx]
        per_capita = np.where(started == year, per_capita * fraction[county[idx]], per_capita)
    row[idx] += per_capita


@njit(**INLINE)
def _per_student(preschool, compulsory, upper, university, size, amounts):
    """One household's per-capita sum of ``amounts`` over its students, in
    float32 as the stage-by-stage numpy sum (stages with amount 0 left out)."""
    t = np.float32(0.0)
    if amounts[0] != 0:
        t += np.float32(preschool) * amounts[0]
    if amounts[1] != 0:
        t += np.float32(compulsory) * amounts[1]
    if amounts[2] != 0:
        t += np.float32(upper) * amounts[2]
    if amounts[3] != 0:
        t += np.float32(university) * amounts[3]
    return t / np.float32(size)


@on_threads("amounts")
@njit(**KERNEL)
def per_student_all(preschool, compulsory, upper, university, size, amounts, out):
    """``out[i]``: household ``i``'s per-capita sum of ``amounts`` (float32,
    one per stage, yuan/student/year) over its students; on threads."""
    for i in range(size.shape[0]):
        out[i] = _per_student(preschool[i], compulsory[i], upper[i], university[i], size[i],
                              amounts)


@on_threads("preschool", "compulsory", "upper", "university", "size", "amounts")
@njit(**KERNEL)
def per_student_at(idx, preschool, compulsory, upper, university, size, amounts, out):
    """``out[j]``: as :func:`per_student_all` for household ``idx[j]``."""
    for j in range(idx.shape[0]):
        i = np.uint64(idx[j])
        out[j] = _per_student(preschool[i], compulsory[i], upper[i], university[i], size[i],
                              amounts)


def set_from_table(values, idx, table, key):
    """``values[idx[j]] = table[key[idx[j]]]`` in one pass (a per-unit
    amount read from a small table, e.g. its county's standard); on
    threads, a piece of ``idx`` each (distinct: the pieces write apart)."""
    _set_from_table(idx, values, table, key)


@on_threads("values", "table", "key")
@njit(**KERNEL)
def _set_from_table(idx, values, table, key):
    for j in range(idx.shape[0]):
        i = np.uint64(idx[j])
        values[i] = table[np.uint64(key[i])]


def set_from_table_numpy(values, idx, table, key):
    """Reference of :func:`set_from_table`."""
    values[idx] = table[key[idx]]


def or_in_units(values, unit_of, flagged, bits):
    """``values[i] |= bits`` for every household ``i`` whose unit (village)
    ``unit_of[i]`` is flagged (bool, one a unit), in one pass on threads.
    Returns the pieces' bounds and what each returned
    (:func:`model.engine.threads.on_threads`)."""
    return _or_in_units(values, unit_of, np.asarray(flagged).astype(np.int32), np.uint8(bits))


@on_threads("flagged")
@njit(**KERNEL)
def _or_in_units(values, unit_of, flagged, bits):
    """:func:`or_in_units` with int32 flags, without a branch: a loop that
    vectorises (a vector can gather 32-bit flags, not bytes). At the
    national scale the loop it replaces, one thread with a branch, took
    50 ms a year, this one 12 ms."""
    for i in range(values.shape[0]):
        values[i] = values[i] | bits if flagged[np.uint64(unit_of[i])] != 0 else values[i]


def or_in_units_numpy(values, unit_of, flagged, bits):
    """Reference of :func:`or_in_units`."""
    values[flagged[unit_of]] |= bits


def product_at(idx, first, second):
    """``float64(first[idx]) * float64(second[idx])`` in one pass; on
    threads, a piece of ``idx`` each."""
    out = np.empty(idx.shape[0], np.float64)
    _product_at(idx, first, second, out)
    return out


@on_threads("first", "second")
@njit(**KERNEL)
def _product_at(idx, first, second, out):
    for j in range(idx.shape[0]):
        i = np.uint64(idx[j])
        out[j] = np.float64(first[i]) * np.float64(second[i])


def product_at_numpy(idx, first, second):
    """Reference of :func:`product_at`."""
    return first[idx].astype(np.float64) * second[idx].astype(np.float64)


@njit(**_LOOP)
def per_capita(amount, count, size, out):
    """``out[i] = float32(amount * count[i] / size[i])`` computed in float64
    (e.g. the basic pension of a household's elderly, per person)."""
    for i in range(out.shape[0]):
        out[i] = np.float32(amount * np.float64(count[i]) / np.float64(size[i]))


def per_capita_numpy(amount, count, size):
    """Reference of :func:`per_capita` (the numpy expression it replaces)."""
    return (amount * count / size).astype(np.float32)
