"""The base year's income shocks: a registry's incomes are a cross-section
that already holds each household's current persistent and transitory
shocks.

The income kernel (:func:`model.engine.kernels.income_update`) multiplies a
household's base market income by ``exp(z + e - (sigma_p**2 + sigma_t**2) / 2)``
each year, with ``z`` the persistent AR(1) shock and ``e`` the transitory one.
A registry's market incomes are observed in the base year, so they already
contain that year's shocks. Starting ``z`` at 0 with the observed income as
the base would add the shocks' variance on top of the observed spread: the
spread of log income would grow each year towards the sum of both, and the
lower tail with it. :func:`split_base_year` instead splits each observed log
income ``x`` into a base and the shocks, drawn from their distribution given
``x``, within groups of households (registered or not, with or without
labour), so that the spread of incomes stays what the registry says.

Within a group with mean ``mu`` and variance ``V`` of log market income
(households with market income), the shocks ``w = z + e`` have variance
``s2 = sigma_p**2 + sigma_t**2`` and, given ``x``, the normal distribution with
mean ``r * (x - mu)`` and variance ``s2 * (1 - r)``, ``r = min(s2 / V, 1)``
(the shocks' share of the spread). The persistent part given ``w`` is normal
with mean ``sigma_p**2 / s2 * w`` and variance ``sigma_p**2 * sigma_t**2 / s2``.
The base is ``x - w + s2 / 2``: with the kernel's mean shift, base times
``exp(z + e - s2 / 2)`` is the observed income. The split is of the year
before the base year; the base year's update moves ``z`` on and draws that
year's transitory shock, so the base year keeps the registry's distribution
of incomes (not each household's value).

:func:`split_base_year` runs as two kernels: the groups' moments in one
serial pass, then the split on threads (bit-identical whatever the thread
count); :func:`split_base_year_numpy` is its reference (exact ``log``, ``exp``
and normals).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.threads import KERNEL, on_threads
from model.random import Stream, hash_id, hash_id_np, normal_pair, normal_pair_np, year_key


def split_base_year_numpy(market_income: np.ndarray, groups: np.ndarray, hh_id: np.ndarray,
                          seed: int, base_year: int, sigma_persistent: float,
                          sigma_transitory: float) -> tuple[np.ndarray, np.ndarray]:
    """Reference of :func:`split_base_year` (numpy: exact ``log``, ``exp`` and
    normals, two-pass variances), same arguments (without ``base`` and ``z``)
    and results, new arrays."""
    sp2, st2 = float(sigma_persistent) ** 2, float(sigma_transitory) ** 2
    s2 = sp2 + st2
    n1, n2 = normal_pair_np(hash_id_np(year_key(seed, Stream.INCOME, base_year - 1), hh_id))
    base = market_income.astype(np.float64)
    z = np.zeros(len(base))
    if s2 <= 0.0:
        return market_income.astype(np.float32), z.astype(np.float32)
    positive = base > 0
    x = np.log(np.where(positive, base, 1.0))
    for g in np.unique(groups[positive]):
        members = np.flatnonzero(positive & (groups == g))
        if len(members) < 2:
            continue
        xg = x[members]
        mu, var = xg.mean(), xg.var()
        r = min(s2 / var, 1.0) if var > 0 else 1.0
        w = r * (xg - mu) + np.sqrt(s2 * (1.0 - r)) * n1[members]
        z[members] = sp2 / s2 * w + np.sqrt(sp2 * st2 / s2) * n2[members]
        base[members] = np.exp(xg - w + 0.5 * s2)
    return base.astype(np.float32), z.astype(np.float32)


def split_base_year(market_income: np.ndarray, groups: np.ndarray, hh_id: np.ndarray,
                    seed: int, base_year: int, sigma_persistent: float,
                    sigma_transitory: float, base: np.ndarray | None = None,
                    z: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Base market income and persistent shock of every household.

    Parameters
    ----------
    market_income : float32 array (n,)
        Observed per-capita market income in the base year (yuan/person/year).
    groups : int8 array (n,)
        Group of each household (small non-negative integers); the spread is
        measured within a group.
    hh_id : int32 array (n,)
        Household ids (the counter of the draws).
    seed, base_year : int
        Run seed and the registry's base year. The split is of the year
        before the base year (the key of its draws: stream INCOME of that
        year, which the income update, from the base year on, never uses).
    sigma_persistent, sigma_transitory : float
        Stationary standard deviations of the persistent and transitory log
        shocks (log points).
    base, z : float32 arrays (n,), optional
        Where to write the results (new arrays if not given).

    Returns
    -------
    base : float32 array (n,)
        Base market income (yuan/person/year); 0 where the market income is 0.
    z : float32 array (n,)
        Persistent log shock of the year before the base year; the base
        year's update moves it on like any other year's.
    """
    sp2, st2 = float(sigma_persistent) ** 2, float(sigma_transitory) ** 2
    s2 = sp2 + st2
    n = len(market_income)
    base = np.empty(n, np.float32) if base is None else base
    z = np.empty(n, np.float32) if z is None else z
    if s2 <= 0.0:
        base[:] = market_income
        z[:] = 0.0
        return base, z
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    sums = np.zeros((n_groups, 3))
    group_log_moments(market_income, groups, sums)
    count, total, squares = sums.T
    mu = total / np.maximum(count, 1)
    var = squares / np.maximum(count, 1) - mu**2
    # the shocks' share of the spread, all of it when the group has none;
    # -1 marks a group too small to split
    ratio = np.where(count >= 2, np.minimum(s2 / np.maximum(var, 1e-300), 1.0), -1.0)
    sd_w = np.sqrt(s2 * np.maximum(1.0 - ratio, 0.0))
    split_shocks(market_income, groups, hh_id, year_key(seed, Stream.INCOME, base_year - 1),
                 mu, ratio, sd_w, sp2 / s2, np.sqrt(sp2 * st2 / s2), 0.5 * s2, base, z)
    return base, z


def income_groups(households: dict) -> np.ndarray:
    """Group of each household for the split (int8): registered or not
    (the pool is drawn apart), with or without labour (their incomes are
    drawn from separate margins, model/registry/spec.py ``[income]``)."""
    groups = (households["labourers"] > 0).view(np.int8)
    groups += 2 * households["registered"].astype(np.int8)
    return groups


@njit(**KERNEL)
def group_log_moments(market_income, groups, sums):
    """Count, sum and sum of squares of log market income by group, over the
    households with market income (one serial pass; ``sums`` (n_groups, 3),
    float64, added to in place)."""
    for i in range(market_income.shape[0]):
        y = market_income[i]
        if y > 0:
            x = np.log(np.float64(y))
            g = groups[i]
            sums[g, 0] += 1.0
            sums[g, 1] += x
            sums[g, 2] += x * x


@on_threads("mu", "ratio", "sd_w")
@njit(**KERNEL)
def split_shocks(market_income, groups, hh_id, key, mu, ratio, sd_w, share_persistent,
                 sd_persistent_given_w, half_s2, base, z):
    """Split each household's log market income into its base and shocks
    (see the module docstring); a household without market income, or of a
    group marked ``ratio < 0``, keeps its income as the base and ``z = 0``."""
    for i in range(market_income.shape[0]):
        y = market_income[i]
        g = groups[i]
        if y > 0 and ratio[g] >= 0:
            n1, n2 = normal_pair(hash_id(key, hh_id[i]))
            x = np.log(np.float64(y))
            w = ratio[g] * (x - mu[g]) + sd_w[g] * np.float64(n1)
            z[i] = np.float32(share_persistent * w + sd_persistent_given_w * np.float64(n2))
            base[i] = np.float32(np.exp(x - w + half_s2))
        else:
            z[i] = np.float32(0.0)
            base[i] = y
