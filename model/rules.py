"""Year-end verification: household exit and return (DESIGN 3.4).

A registered household exits (脱贫) when its *assessed* income reaches its
line and every required guarantee holds. Assessment sees true income with a
multiplicative log-normal error, so some exits are wrong (错退): true and
assessed status are kept apart. An exited household returns (返贫) when its
*true* income falls below ``return_threshold`` times its line, or it loses a
required guarantee.

A household's line is the year's poverty line; a household covered by the
safety net uses ``min(line, dibao standard)`` instead when
``safety_net_exit_at_dibao`` is set (Guangdong practice, seed 004 §一(三)).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from model.kernels import KERNEL
from model.random import exp_small, hash_id, normal_pair

# household status at the end of a year; every household is in exactly one
POOR, EXITED, RETURNED = 0, 1, 2
STATUSES = ("poor", "exited", "returned")
# events of the year
NO_EVENT, EXIT, RETURN = 0, 1, 2
# guarantee bits (两不愁三保障 plus safe water); food and clothing follow income
HOUSING, WATER, SCHOOLING, MEDICAL = 1, 2, 4, 8
ALL_GUARANTEES = HOUSING | WATER | SCHOOLING | MEDICAL


@njit(inline="always", cache=True)
def household_line(covered, line, covered_line):
    """The line a household is judged against (yuan/person/year)."""
    return covered_line if covered else line


@njit(**KERNEL)
def verify(hh_id, income, floor, guarantees, key_verification, line, covered_line,
           sigma, required, return_threshold, year, status, event, exit_year):
    """Year-end verification of every household.

    Parameters
    ----------
    hh_id : int64 array (n,)
        Household ids (random-number counters).
    income : float32 array (n,)
        True per-capita income of the year (yuan/person/year).
    floor : float32 array (n,)
        Safety-net standard; ``floor > 0`` marks a covered household.
    guarantees : uint8 array (n,)
        Guarantee bits in force (:data:`HOUSING`, ...).
    key_verification : uint64
        Year key of the VERIFICATION stream.
    line, covered_line : float32
        The year's line, and the line for covered households (yuan/person/year).
    sigma : float32
        Standard deviation of the log assessment error.
    required : uint8
        Guarantee bits an exit requires.
    return_threshold : float32
        Share of the line below which an exited household returns.
    year : int16
        The year verified.
    status : int8 array (n,)
        :data:`POOR`, :data:`EXITED` or :data:`RETURNED`, updated in place.
    event : uint8 array (n,)
        Output: :data:`EXIT`, :data:`RETURN` or :data:`NO_EVENT` this year.
    exit_year : int16 array (n,)
        Year of the latest exit, set to ``year`` on exit.
    """
    shift = np.float32(-0.5) * sigma * sigma
    for i in prange(hh_id.shape[0]):
        n1, _n2 = normal_pair(hash_id(key_verification, hh_id[i]))
        assessed = income[i] * exp_small(sigma * n1 + shift)
        hl = household_line(floor[i] > np.float32(0.0), line, covered_line)
        ok = (guarantees[i] & required) == required
        s = status[i]
        exits = (s != EXITED) and ok and assessed >= hl
        returns = (s == EXITED) and ((not ok) or income[i] < return_threshold * hl)
        status[i] = EXITED if exits else (RETURNED if returns else s)
        event[i] = EXIT if exits else (RETURN if returns else NO_EVENT)
        exit_year[i] = year if exits else exit_year[i]


def verify_numpy(hh_id, income, floor, guarantees, key_verification, line, covered_line,
                 sigma, required, return_threshold, year, status, event, exit_year):
    """numpy reference of :func:`verify` (exact log-normal error)."""
    from model.random import hash_id_np, normal_pair_np

    n1, _ = normal_pair_np(hash_id_np(key_verification, hh_id))
    assessed = income * np.exp(sigma * n1 - 0.5 * sigma * sigma)
    hl = np.where(floor > 0, covered_line, line)
    ok = (guarantees & required) == required
    exits = (status != EXITED) & ok & (assessed >= hl)
    returns = (status == EXITED) & (~ok | (income < return_threshold * hl))
    event[:] = np.where(exits, EXIT, np.where(returns, RETURN, NO_EVENT))
    status[:] = np.where(exits, EXITED, np.where(returns, RETURNED, status))
    exit_year[exits] = year
