"""In-year delivery in closed form: the event model's timeline without events.

The delivery model of :mod:`model.engine.delivery` is a small discrete-event
model per county (funds, work teams, the approval office, one process per
programme). Its queues are first come, first served and its only shared state
is the share of money arrived, so each stage has a closed form:

- the teams visit round ``k`` (lot ``k`` of every programme) at
  ``T[k] = T[k-1] + households / team rate``;
- each programme's office starts its lot of round ``k`` at
  ``max(T[k], F[p, k-1])`` and approves it at
  ``F[p, k] = start + lot / office rate``;
- each programme pays its approved lots in order, at ``max(now, F[p, k] +
  approval time)``, as far as the money arrived by then allows, and waits for
  the next tranche for the rest.

:func:`county_timelines` walks these timelines for every county in one
compiled loop and writes the same payments, in the same order and with the
same floating-point times, as the event model (each time is computed by the
same additions the event model's timeouts make). Results are bit for bit
those of the event model, which ``tests/test_delivery_timeline.py`` checks on
random settings, ties included.

The one case whose order only the event queue knows is a programme whose own
wait ends exactly at the time a tranche arrives, when that wait began before
the previous tranche: the event model then pays with the old share first. The
kernel flags such a county (``fallback``) and the caller runs it through the
event model.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.random import CACHED, INLINE

MONTHS = 12  # the year ends at month 12 (31 December)
EPS = 1e-9  # households: guards floor() of money / unit cost against rounding


@njit(**CACHED)
def payable(share, households, scale):
    """Simulated households the money arrived so far pays for.

    Money buys whole real households: ``floor(share * households / scale)``
    of them, where ``households`` are the simulated households the year's
    budget covers and each stands for ``1 / scale`` real ones. That count is
    turned back into simulated households by rounding to the nearest, so a
    reduced-scale run pays, county by county, what the full registry would
    (a floor at the simulated scale would pay nobody in a county-programme
    with one simulated household until all its money arrived). At scale 1 it
    is the floor itself.

    Parameters
    ----------
    share : float
        Share (0..1) of the year's money arrived.
    households : float
        Simulated households the whole budget pays for.
    scale : float
        Share (0..1] of the real households simulated.

    Returns
    -------
    float
        Whole simulated households.
    """
    if scale == 1.0:
        return np.floor(share * households + EPS)
    return np.floor(np.floor(share * households / scale + EPS) * scale + 0.5)


def tranche_events(tranches: list[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    """Times, cumulative shares and scheduling times of the money's tranches.

    Parameters
    ----------
    tranches : list of (float, float)
        ``(month, cumulative share)`` sorted by month
        (:func:`model.engine.delivery._tranches`).

    Returns
    -------
    times, shares, scheduled : numpy.ndarray of float64
        The month each tranche reaches the county, computed as the event
        model's timeouts do (``now + (t - now)``; 0 for a tranche at or
        before 1 January), the share arrived after it, and the month at which
        its wait began (the previous tranche's month, 0 for the first).
    """
    times, shares, scheduled = [], [], []
    now = previous = 0.0
    for t, s in tranches:
        if t > now:
            previous = now
            now = now + (t - now)
        times.append(now)
        shares.append(s)
        scheduled.append(previous)
    return (np.array(times, np.float64), np.array(shares, np.float64),
            np.array(scheduled, np.float64))


@njit(**CACHED)
def county_timelines(new, carried, affordable, delay, team_rate, office_rate, lots,
                     scale, times, shares, scheduled, rows_c, rows_p, rows_n, rows_t,
                     approved, fallback):
    """Payments of every county's year of delivery, in closed form.

    Parameters
    ----------
    new : int64 array (C, P)
        Households to visit and approve per county and programme.
    carried : int64 array (C, P)
        Households approved last year, first in line for this year's money.
    affordable : float64 array (C, P)
        Households the whole year's money pays for (``inf``: no money needed).
    delay : float64 array (C, P)
        Approval time in months.
    team_rate : float64 array (C,)
        Visits per month (households/month; ``inf``: instant; 0: none).
    office_rate : float
        Approvals per month (households/month; ``inf``: instant; 0: none).
    lots : int
        Lots each programme's new enrolments are split into.
    times, shares, scheduled : float64 arrays (K,)
        The tranches (:func:`tranche_events`).
    rows_c, rows_p, rows_n : int64 arrays, out
        County, programme and households of each payment.
    rows_t : float64 array, out
        Month of each payment.
    approved : int64 array (C, P), out
        Households approved this year.
    fallback : bool array (C,), out
        True for the counties whose order of events the closed form cannot
        tell (see the module docstring); their rows are left out.

    Returns
    -------
    int
        Number of rows written.
    """
    nc, npr = new.shape
    ntr = len(times)
    ready_at_start = 0
    while ready_at_start < ntr and times[ready_at_start] <= 0.0:
        ready_at_start += 1
    finish = np.empty((npr, lots))
    n_approved = np.zeros(npr, np.int64)
    nrows = 0
    for c in range(nc):
        largest = 0
        any_carried = False
        for p in range(npr):
            largest = max(largest, new[c, p])
            any_carried = any_carried or carried[c, p] > 0
        if largest == 0 and not any_carried:
            continue
        # visits round by round (round k: lot k of each programme), then each
        # programme's office approves its lots in order
        n_approved[:] = 0
        if team_rate[c] > 0 and office_rate > 0:
            visited = 0.0
            for k in range(min(lots, largest)):
                households = 0
                for p in range(npr):
                    households += new[c, p] // lots + (1 if k < new[c, p] % lots else 0)
                if team_rate[c] < np.inf:
                    visited = visited + households / team_rate[c]
                    if visited >= MONTHS:
                        break
                for p in range(npr):
                    n = new[c, p] // lots + (1 if k < new[c, p] % lots else 0)
                    if n == 0 or n_approved[p] < k:  # no lot, or its office is past the year
                        continue
                    office = finish[p, k - 1] if k > 0 else 0.0
                    start = max(visited, office)
                    done = start + n / office_rate if office_rate < np.inf else start
                    if done >= MONTHS:
                        continue
                    finish[p, k] = done
                    n_approved[p] = k + 1
        first_row = nrows
        for p in range(npr):
            base, extra = new[c, p] // lots, new[c, p] % lots
            now = 0.0
            seen = ready_at_start  # tranches this programme has seen arrive
            paid = 0
            budget = affordable[c, p]
            stuck = False
            for k in range(-1, n_approved[p]):
                if k < 0:
                    n, posted, ready = carried[c, p], 0.0, 0.0
                else:
                    n = base + (1 if k < extra else 0)
                    posted, ready = finish[p, k], finish[p, k] + delay[c, p]
                    approved[c, p] += n
                if n == 0 or stuck:
                    continue
                if posted > now:  # idle until the office posts the lot
                    now = posted
                    while seen < ntr and times[seen] <= now:
                        seen += 1
                if ready > now:  # own wait for the approval time
                    began = now
                    now = now + (ready - now)
                    if now >= MONTHS:
                        stuck = True
                        continue
                    while seen < ntr and times[seen] < now:
                        seen += 1
                    while seen < ntr and times[seen] == now:
                        if began < scheduled[seen]:
                            fallback[c] = True
                        seen += 1
                while n > 0:
                    if budget == np.inf:
                        take = n
                    else:
                        share = shares[seen - 1] if seen > 0 else 0.0
                        cap = payable(share, budget, scale)
                        take = n if cap >= paid + n else int(cap) - paid
                    if take > 0:
                        rows_c[nrows] = c
                        rows_p[nrows] = p
                        rows_n[nrows] = take
                        rows_t[nrows] = now
                        nrows += 1
                        paid += take
                        n -= take
                    if n > 0:  # wait for the next tranche
                        if seen >= ntr or times[seen] >= MONTHS:
                            stuck = True
                            break
                        now = times[seen]
                        seen += 1
        if fallback[c]:
            nrows = first_row
    return nrows


@njit(**CACHED)
def summarise_rows(rows_c, rows_p, rows_n, rows_t, build, carried_building, carried_total,
                   enrolments, in_effect, fraction, monthly, monthly_households, carry_building,
                   carry_total, paid):
    """Result arrays of a year of delivery from its payment rows.

    A row's assistance takes effect at ``month paid + build[p]``; carried
    builds (``carried_building[c, p, k]``) at month ``k``. Household-years
    are summed over the rows of each county and programme in row order, then
    over the carried builds in month order (the order of the event model's
    record).

    Parameters
    ----------
    rows_c, rows_p, rows_n : int64 arrays (R,)
        County, programme and households of each payment.
    rows_t : float64 array (R,)
        Month of each payment.
    build : float64 array (P,)
        Build time per programme in months.
    carried_building : int64 array (C, P, K)
        Builds carried from last year, in effect at month ``k``.
    carried_total : int64 array (C, P)
        ``carried_building`` summed over ``k`` (pairs with none are skipped).
    enrolments : int64 array (C, P)
        Households due this year.
    in_effect, paid : int64 arrays (C, P), out (zeros)
        Households in effect this year; households paid this year.
    fraction : float64 array (C, P), out (zeros)
        Mean fraction of the year in effect among those in effect.
    monthly : float64 array (C, P, 12), out (zeros)
        Share of ``enrolments`` in effect by the end of each month.
    monthly_households : float64 array (P, 12), out (zeros)
        ``monthly`` times ``enrolments``, summed over the counties in
        county order (as numpy's ``(monthly * enrolments[:, :, None]).sum(axis=0)``).
    carry_building : int64 array (C, P, K), out (zeros)
        Builds not finished by 31 December: in effect at month ``k`` of
        next year.
    carry_total : int64 array (C, P), out (zeros)
        ``carry_building`` summed over ``k``.
    """
    nc, npr = enrolments.shape
    years = np.zeros((nc, npr))
    # monthly first counts the households taking effect in each month (whole
    # numbers, exact in float64), then becomes their cumulative share
    for i in range(len(rows_c)):
        c, p, n = rows_c[i], rows_p[i], rows_n[i]
        paid[c, p] += n
        _take_effect(c, p, n, rows_t[i] + build[p], in_effect, years, monthly, carry_building,
                     carry_total)
    for c in range(nc):
        for p in range(npr):
            if carried_total[c, p] == 0:
                continue
            for k in range(carried_building.shape[2]):
                n = carried_building[c, p, k]
                if n > 0:
                    _take_effect(c, p, n, np.float64(k), in_effect, years, monthly,
                                 carry_building, carry_total)
    for c in range(nc):
        for p in range(npr):
            if in_effect[c, p] == 0:
                continue  # its shares stay 0.0, and would add 0.0 to the households
            fraction[c, p] = years[c, p] / in_effect[c, p]
            cum = 0.0
            for m in range(MONTHS):
                cum += monthly[c, p, m]
                monthly[c, p, m] = cum / enrolments[c, p]
                monthly_households[p, m] += monthly[c, p, m] * enrolments[c, p]


@njit(**INLINE)
def _take_effect(c, p, n, effect, in_effect, years, started, carry_building, carry_total):
    """``n`` households of county ``c`` and programme ``p`` take effect at
    month ``effect``: this year before month 12 (counted in ``started``,
    float64, by month), else carried."""
    if effect < MONTHS:
        in_effect[c, p] += n
        years[c, p] += n * (MONTHS - effect) / MONTHS
        started[c, p, int(np.floor(effect))] += n
    else:
        b = min(max(np.ceil(effect - MONTHS - EPS), 0.0), carry_building.shape[2] - 1.0)
        carry_building[c, p, int(b)] += n
        carry_total[c, p] += n
