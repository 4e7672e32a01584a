"""Year-end verification: household exit and return (DESIGN 3.4).

A registered household exits (脱贫) when every required guarantee holds and
either its *assessed* income reaches its line plus a margin (稳定脱贫:
``exit_margin`` times the line above it), or its safety-net floor, the net
income the guarantee tops it up to (兜底, paid after medical and schooling
costs), is itself at or above its line: income guaranteed by the safety net
needs no margin against shocks (两线合一 makes the dibao standard meet the
line, seed 000 §四(四)3; 社会保障兜底一批, DESIGN 3.3). Assessment sees true income with a
multiplicative log-normal error, so some exits are wrong (错退): true and
assessed status are kept apart. An exited household returns (返贫) when it
loses a required guarantee, or when its *true* income falls below
``household_exit.return_threshold`` times its line *and* the fall is found and
recorded, which happens with probability ``return_probability *
exp(-return_decay * (years since exit - 1))``: the chance of return falls with
the margin a household keeps above the line and with the years since its
exit, as its support matures. In a registry-adjustment year (动态管理), a household of
the near-poor pool whose assessed income is below its line is newly
identified (新识别) and enters the registry; truly poor households left out
are the missed (漏评).

A household's line is the year's poverty line; a household covered by the
safety net uses ``min(line, dibao standard)`` instead when
``household_exit.covered_at_dibao`` is set (Guangdong practice, seed 004 §一(三)).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.codes import ENTRY, EXIT, EXITED, NO_EVENT, NOT_REGISTERED, POOR, RETURN, RETURNED
from model.engine.threads import KERNEL, on_threads
from model.random import (
    INLINE,
    Stream,
    exp_small,
    first_uniforms,
    hash_id,
    hash_id_np,
    normal_pair,
    uniforms,
    uniforms_np,
    year_key,
)


def poverty_line(p) -> float:
    """The year's poverty line (yuan/person/year): ``poverty_line`` (the
    published line to 2016, a projection after) times ``poverty_line_factor``
    (a band around the projection)."""
    return p("poverty_line") * p("poverty_line_factor")


def dibao_standard(p) -> float:
    """The year's dibao standard (yuan/person/year): ``dibao_standard_ratio``
    times the poverty line (两线合一 when the ratio reaches 1); the lowest of
    the counties' standards (:func:`county_dibao_standards`)."""
    return p("dibao_standard_ratio") * poverty_line(p)


def county_dibao_standards(p, county_ids: np.ndarray, seed: int) -> np.ndarray:
    """Each county's dibao standard (float32, yuan/person/year): standards are
    set locally, from :func:`dibao_standard` up to ``1 + dibao_standard_spread``
    times it, a county's place in that range drawn once per run (Stream.DIBAO,
    counter = the county's id)."""
    spread = p("dibao_standard_spread")
    base = dibao_standard(p)
    if spread <= 0:
        return np.full(len(county_ids), base, np.float32)
    u = first_uniforms(year_key(seed, Stream.DIBAO, 0), county_ids)
    return (base * (1.0 + spread * u)).astype(np.float32)


def lines_for(p) -> tuple[float, float]:
    """(poverty line, line for households covered by the safety net) of the
    year whose parameters ``p`` holds (yuan/person/year)."""
    line = poverty_line(p)
    covered = min(line, dibao_standard(p)) if p("household_exit.covered_at_dibao") else line
    return line, covered


@njit(**INLINE)
def household_line(floor, line, covered_line):
    """The line a household is judged against (yuan/person/year): the covered
    households' line if it has a safety-net floor (``floor > 0``), else the
    poverty line. The one statement of this rule; kernels call it."""
    return covered_line if floor > 0 else line


def household_line_np(floor, line, covered_line):
    """numpy twin of :func:`household_line` for arrays of floors."""
    return np.where(floor > 0, covered_line, line)


@njit(**INLINE)
def _assessed_or_found(y, exited, hh_id, exit_year, key_verification, key_return, sigma, shift,
                       year, return_probability, return_decay):
    """The one draw a household's verification uses: for a household not
    exited, its true income ``y`` as the year's assessment sees it (times a
    log-normal error whose mean is 1, drawn under ``key_verification``);
    for an exited one, whether its fall is found and recorded this year
    (with probability ``return_probability * exp(-return_decay * (years
    since exit - 1))``, drawn under ``key_return``). Returns ``(assessed,
    found)``; only the first counts for a household not exited, only the
    second for one exited.

    Each stream's draw is the one it would make alone, for the households
    that use it: the key is chosen before hashing, and the one exponential
    takes the argument of the draw that counts. No branch, so that a loop
    of it vectorises."""
    h = hash_id(key_return if exited else key_verification, hh_id)
    n1, _n2 = normal_pair(h)
    u, _u2 = uniforms(h)
    since = max(np.float32(year - exit_year - 1), np.float32(0.0))
    e = exp_small(-return_decay * since if exited else sigma * n1 + shift)
    return y * e, u < return_probability * e


@on_threads()
@njit(**KERNEL)
def verify(hh_id, income, floor, guarantees, key_verification, key_return, line,
           covered_line, sigma, required, exit_margin, return_threshold, return_probability,
           return_decay, adjust, year, status, event, exit_year):
    """Year-end verification of every household.

    It makes every household's one draw (the assessment error, or for an
    exited household the return) with no branch, so that its loop
    vectorises; the simulation runs it in one
    pass with the income update (:func:`model.engine.kernels.income_and_verify`,
    the same results). It runs on threads, each on a slice of the households
    (:func:`model.engine.threads.on_threads`); ``verify.kernel`` is the
    serial kernel.

    Parameters
    ----------
    hh_id : int32 array (n,)
        Household ids (random-number counters).
    income : float32 array (n,)
        True per-capita income of the year (yuan/person/year).
    floor : float32 array (n,)
        Safety-net standard; ``floor > 0`` marks a covered household.
    guarantees : uint8 array (n,)
        Guarantee bits in force (:data:`HOUSING`, ...).
    key_verification, key_return : uint64
        Year keys of the VERIFICATION and RETURN streams.
    line, covered_line : float32
        The year's line, and the line for covered households (yuan/person/year).
    sigma : float32
        Standard deviation of the log assessment error.
    required : uint8
        Guarantee bits an exit requires.
    exit_margin : float32
        An exit needs assessed income at least ``(1 + exit_margin)`` times
        the line (share of the line), unless the household's floor is at or
        above its line.
    return_threshold : float32
        Share of the line below which an exited household can return.
    return_probability : float32
        Probability (per year) that an exited household below the threshold
        in the year after its exit returns.
    return_decay : float32
        Rate (1/year) at which that probability falls with each further year
        since exit.
    adjust : bool
        True in a registry-adjustment year: the near-poor pool can enter.
    year : int16
        The year verified.
    status : int8 array (n,)
        :data:`POOR`, :data:`EXITED` or :data:`RETURNED`, updated in place.
    event : uint8 array (n,)
        Output: :data:`EXIT`, :data:`RETURN`, :data:`ENTRY` or :data:`NO_EVENT`.
    exit_year : int16 array (n,)
        Year of the latest exit, set to ``year`` on exit.
    """
    scalars = verification_scalars(key_verification, key_return, line, covered_line, sigma,
                                   required, exit_margin, return_threshold, return_probability,
                                   return_decay, adjust, year)
    for i in range(hh_id.shape[0]):
        verify_household(i, income[i], hh_id, floor, guarantees, scalars, status, event,
                         exit_year)


@njit(**INLINE)
def verification_scalars(key_verification, key_return, line, covered_line, sigma, required,
                         exit_margin, return_threshold, return_probability, return_decay,
                         adjust, year):
    """:func:`verify`'s scalar arguments in the tuple :func:`verify_household`
    takes, with the assessment error's shift and the exit factor."""
    return (key_verification, key_return, line, covered_line, sigma, required,
            np.float32(1.0) + exit_margin, return_threshold, return_probability,
            return_decay, adjust, year, np.float32(-0.5) * sigma * sigma)


@njit(**INLINE)
def verify_household(i, y, hh_id, floor, guarantees, scalars, status, event, exit_year):
    """The loop body of :func:`verify` for household ``i`` of true income
    ``y`` (yuan/person/year); ``scalars`` from :func:`verification_scalars`.
    No branch, so that a loop of it vectorises."""
    key_verification, key_return, line, covered_line, sigma, required, exit_factor, \
        return_threshold, return_probability, return_decay, adjust, year, shift = scalars
    s = status[i]
    assessed, found = _assessed_or_found(y, s == EXITED, hh_id[i], exit_year[i], key_verification,
                                         key_return, sigma, shift, year, return_probability,
                                         return_decay)
    hl = household_line(floor[i], line, covered_line)
    ok = (guarantees[i] & required) == required
    # earned with a margin, or guaranteed
    out = (assessed >= exit_factor * hl) | (floor[i] >= hl)
    exits = ((s == POOR) | (s == RETURNED)) & ok & out
    returns = (s == EXITED) & ((not ok) | ((y < return_threshold * hl) & found))
    enters = adjust & (s == NOT_REGISTERED) & (assessed < hl)
    status[i] = EXITED if exits else (RETURNED if returns else (POOR if enters else s))
    event[i] = EXIT if exits else (RETURN if returns else (ENTRY if enters else NO_EVENT))
    exit_year[i] = year if exits else exit_year[i]


def verify_numpy(hh_id, income, floor, guarantees, key_verification, key_return, line,
                 covered_line, sigma, required, exit_margin, return_threshold,
                 return_probability, return_decay, adjust, year, status, event, exit_year):
    """numpy reference of :func:`verify` (exact log-normal error and
    exponential)."""
    from model.random import normal_pair_np

    n1, _ = normal_pair_np(hash_id_np(key_verification, hh_id))
    assessed = income * np.exp(sigma * n1 - 0.5 * sigma * sigma)
    hl = household_line_np(floor, line, covered_line)
    ok = (guarantees & required) == required
    out = (assessed >= (1.0 + exit_margin) * hl) | (floor >= hl)
    exits = ((status == POOR) | (status == RETURNED)) & ok & out
    u, _ = uniforms_np(hash_id_np(key_return, hh_id))
    since = np.maximum(int(year) - exit_year.astype(np.int64) - 1, 0)
    found = u < np.float64(return_probability) * np.exp(-np.float64(return_decay) * since)
    returns = (status == EXITED) & (~ok | ((income < return_threshold * hl) & found))
    enters = bool(adjust) & (status == NOT_REGISTERED) & (assessed < hl)
    event[:] = np.where(exits, EXIT, np.where(returns, RETURN, np.where(enters, ENTRY, NO_EVENT)))
    status[:] = np.where(exits, EXITED, np.where(returns, RETURNED,
                                                 np.where(enters, POOR, status)))
    exit_year[exits] = year


def village_exits(year, poor_people, village_population, village_region, collective,
                  infrastructure, exit_year, incidence, incidence_west, min_collective,
                  require_infrastructure, poor_village=None):
    """Village exit (出列): mark villages that meet the conditions this year.

    A village exits the first year its incidence (registered poor people over
    its rural population) is below the threshold of its region (``incidence``,
    or ``incidence_west`` in the west), its collective income is at least
    ``min_collective`` (yuan/year) and, if required, its infrastructure is
    complete. Only poor villages (``poor_village``, default all) exit. Exit
    is final. ``exit_year`` (int16, 0 = not exited) is updated in place; the
    indices of this year's exits are returned.
    """
    threshold = np.where(village_region == 2, incidence_west, incidence)
    ok = (poor_people / np.maximum(village_population, 1) < threshold)
    ok &= collective >= min_collective
    if require_infrastructure:
        ok &= infrastructure == 1
    if poor_village is not None:
        ok &= poor_village == 1
    new = np.flatnonzero(ok & (exit_year == 0))
    exit_year[new] = year
    return new


def scheduled_year(income_ratio, ratio_2017, ratio_2018):
    """First year a county may exit under a provincial schedule by its 2014
    rural-income ratio (seed 000 §三(三)): 2017, 2018, else 2019."""
    return np.where(income_ratio >= ratio_2017, 2017,
                    np.where(income_ratio >= ratio_2018, 2018, 2019)).astype(np.int16)


def county_exits(year, poor_people, population, region, wrong_exit_rate, missed_rate, exit_year,
                 incidence, incidence_west, max_wrong, max_missed, first_allowed, poor_county=None):
    """County exit (摘帽): incidence below its region's threshold, and both the
    wrongful-exit rate (错退率) and the missed rate (漏评率) below their limits,
    from ``first_allowed`` (a year per county) on; only poor counties
    (``poor_county``, default all) exit. Exit is final; ``exit_year``
    is updated in place and this year's exits are returned."""
    threshold = np.where(region == 2, incidence_west, incidence)
    ok = (poor_people / np.maximum(population, 1) < threshold)
    ok &= (wrong_exit_rate < max_wrong) & (missed_rate < max_missed)
    ok &= year >= first_allowed
    if poor_county is not None:
        ok &= poor_county == 1
    new = np.flatnonzero(ok & (exit_year == 0))
    exit_year[new] = year
    return new
