"""Numba kernels: the fused household income update and its numpy reference,
and the income update with verification in one pass.

Kernels are plain loops over arrays passed in; outputs are passed in too and
written in place. Every kernel has a numpy reference in this module or in the
tests, and the tests compare them on random inputs.

The kernels are compiled serial over a range of households and run on
threads, a piece of the households each (:mod:`model.engine.threads`, which
also holds the compilation flags); results are bit-identical whatever the
thread count or chunk size, which the tests check.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.rules import verification_scalars, verify_household
from model.engine.threads import KERNEL, on_threads
from model.random import (
    INLINE,
    exp_small,
    hash_id,
    hash_id_np,
    log_unit,
    normal_pair,
    normal_pair_np,
    uniforms,
    uniforms_np,
)


@on_threads("county_factor")
@njit(**KERNEL)
def income_update(hh_id, county, size, ill, base_market, county_factor,
                  programme_income, transfer_income, floor, schooling_cost, medical_cover,
                  key_income, key_illness, rho, innovation_sd, sigma_transitory, mean_shift,
                  illness_base_rate, illness_rate_per_ill, illness_cost_mean,
                  oop_share, oop_share_cover, oop_cap_cover,
                  z, topup, income):
    """Advance every household's per-capita income by one year.

    All incomes and costs are yuan per person per year (float32). It runs on
    threads, each on a slice of the households (:func:`model.engine.threads.on_threads`);
    ``income_update.kernel`` is the serial kernel.

    Parameters
    ----------
    hh_id : int32 array (n,)
        Household ids, the counter of the random draws.
    county : int16 array (n,)
        County row of each household, an index into ``county_factor``.
    size, ill : int8 arrays (n,)
        Members, and chronically ill members.
    base_market : float32 array (n,)
        Per-capita market income in the base year.
    county_factor : float32 array (n_counties,)
        Growth of market income since the base year times the county-wide
        shock of this year, ``G_t * exp(sigma_c * e_c - sigma_c**2 / 2)``.
    programme_income, transfer_income : float32 arrays (n,)
        Programme incomes and transfers (pension, grants) filled by the
        programme layer.
    floor : float32 array (n,)
        Safety-net standard the household is topped up to (0 if not covered).
        The floor holds on net income (兜底 with medical assistance): the
        top-up is paid after medical and schooling costs, so a covered
        household's ``income`` is never below its floor.
    schooling_cost : float32 array (n,)
        Rigid schooling cost counted against income.
    medical_cover : uint8 array (n,)
        1 for a household in the medical programme.
    key_income, key_illness : uint64
        Year keys of the INCOME and ILLNESS streams (:func:`model.random.year_key`).
    rho : float32
        AR(1) coefficient of the persistent log shock ``z``.
    innovation_sd : float32
        Standard deviation of the innovation of ``z``, ``sigma_p * sqrt(1 - rho**2)``.
    sigma_transitory : float32
        Standard deviation of the transitory log shock.
    mean_shift : float32
        ``-(sigma_p**2 + sigma_t**2) / 2``, so the shock multiplier has mean 1
        once ``z`` is stationary.
    illness_base_rate, illness_rate_per_ill : float32
        Event probability is ``base + rate * ill``, capped at 1 (per year).
    illness_cost_mean : float32
        Mean cost of an event (yuan, exponential), before reimbursement.
    oop_share, oop_share_cover : float32
        Share of an event's cost the household pays, without and with cover.
    oop_cap_cover : float32
        Cap on a covered household's out-of-pocket cost of an event (yuan).
    z : float32 array (n,)
        Persistent log shock, updated in place.
    topup, income : float32 arrays (n,)
        Outputs: the safety-net top-up ``max(floor - net, 0)`` for a covered
        household (else 0), with ``net = market + programme + transfer -
        medical - schooling`` (market income and the medical out-of-pocket
        cost of the year, which nothing else reads, are not kept:
        :func:`income_update_numpy` returns them), and total per-capita
        income ``net + topup``.
    """
    inputs = (hh_id, county, size, ill, base_market, county_factor, programme_income,
              transfer_income, floor, schooling_cost, medical_cover)
    scalars = (key_income, key_illness, rho, innovation_sd, sigma_transitory, mean_shift,
               illness_base_rate, illness_rate_per_ill, illness_cost_mean, oop_share,
               oop_share_cover, oop_cap_cover)
    outputs = (z, topup, income)
    for i in range(hh_id.shape[0]):
        _household_income(i, inputs, scalars, outputs)


@njit(**INLINE)
def _household_income(i, inputs, scalars, outputs):
    """The loop body of :func:`income_update` for household ``i`` (the
    arguments in three tuples, in their order); returns its income."""
    hh_id, county, size, ill, base_market, county_factor, programme_income, \
        transfer_income, floor, schooling_cost, medical_cover = inputs
    key_income, key_illness, rho, innovation_sd, sigma_transitory, mean_shift, \
        illness_base_rate, illness_rate_per_ill, illness_cost_mean, oop_share, \
        oop_share_cover, oop_cap_cover = scalars
    z, topup, income = outputs
    n1, n2 = normal_pair(hash_id(key_income, hh_id[i]))
    zi = rho * z[i] + innovation_sd * n1
    z[i] = zi
    factor = county_factor[np.uint64(county[i])]  # unsigned (model.engine.threads)
    m = base_market[i] * factor * exp_small(zi + sigma_transitory * n2 + mean_shift)
    u_event, u_cost = uniforms(hash_id(key_illness, hh_id[i]))
    p = illness_base_rate + illness_rate_per_ill * np.float32(ill[i])
    gross = -illness_cost_mean * log_unit(u_cost)
    covered = medical_cover[i] != 0
    cost = (min(gross * oop_share_cover, oop_cap_cover) if covered else gross * oop_share) \
        / np.float32(size[i])
    med = cost if u_event < p else np.float32(0.0)
    net = m + programme_income[i] + transfer_income[i] - med - schooling_cost[i]
    covered_net = floor[i] > np.float32(0.0)
    top = max(floor[i] - net, np.float32(0.0)) if covered_net else np.float32(0.0)
    topup[i] = top
    y = max(net + top, floor[i]) if covered_net else net
    income[i] = y
    return y


@on_threads("county_factor")
@njit(**KERNEL)
def income_and_verify(hh_id, county, size, ill, base_market, county_factor,
                      programme_income, transfer_income, floor, schooling_cost, medical_cover,
                      key_income, key_illness, rho, innovation_sd, sigma_transitory, mean_shift,
                      illness_base_rate, illness_rate_per_ill, illness_cost_mean,
                      oop_share, oop_share_cover, oop_cap_cover,
                      z, topup, income,
                      guarantees, key_verification, key_return, line, covered_line, sigma,
                      required, exit_margin, return_threshold, return_probability,
                      return_decay, adjust, year, status, event, exit_year):
    """:func:`income_update` and then :func:`model.engine.rules.verify`
    in one pass: the same results, bit for bit, with the households' ids,
    floors and incomes read once.

    The arguments are :func:`income_update`'s and then those of
    :func:`model.engine.rules.verify` it does not share, in their order.
    It runs on threads, each on a slice of the households;
    ``income_and_verify.kernel`` is the serial kernel.
    """
    inputs = (hh_id, county, size, ill, base_market, county_factor, programme_income,
              transfer_income, floor, schooling_cost, medical_cover)
    scalars = (key_income, key_illness, rho, innovation_sd, sigma_transitory, mean_shift,
               illness_base_rate, illness_rate_per_ill, illness_cost_mean, oop_share,
               oop_share_cover, oop_cap_cover)
    outputs = (z, topup, income)
    verification = verification_scalars(key_verification, key_return, line, covered_line,
                                        sigma, required, exit_margin, return_threshold,
                                        return_probability, return_decay, adjust, year)
    for i in range(hh_id.shape[0]):
        y = _household_income(i, inputs, scalars, outputs)
        verify_household(i, y, hh_id, floor, guarantees, verification, status, event,
                         exit_year)


def income_update_numpy(hh_id, county, size, ill, base_market, county_factor, programme_income,
                        transfer_income, floor, schooling_cost, medical_cover,
                        key_income, key_illness, rho, innovation_sd, sigma_transitory, mean_shift,
                        illness_base_rate, illness_rate_per_ill, illness_cost_mean,
                        oop_share, oop_share_cover, oop_cap_cover,
                        z, topup, income):
    """numpy reference of :func:`income_update`, same arguments and outputs;
    returns the year's market income and medical out-of-pocket cost
    (float32 arrays (n,), yuan/person/year), which the kernel computes and
    does not keep.

    One array operation per term, exact ``np.log``, ``np.exp``, ``np.cos`` and
    ``np.sin`` in float64, cast to float32 at the end. It draws the same random
    numbers, so it agrees with the kernel household by household up to the
    kernel's polynomial approximations (relative 1e-5, see the tests).
    """
    n1, n2 = normal_pair_np(hash_id_np(key_income, hh_id))
    zi = np.float64(rho) * z + np.float64(innovation_sd) * n1
    z[:] = zi
    shock = np.exp(np.clip(zi + sigma_transitory * n2 + mean_shift, -10.0, 10.0))
    m = base_market * county_factor[county].astype(np.float64) * shock
    u_event, u_cost = uniforms_np(hash_id_np(key_illness, hh_id))
    p = illness_base_rate + illness_rate_per_ill * ill.astype(np.float64)
    gross = -illness_cost_mean * np.log(u_cost.astype(np.float64))
    cost = np.where(medical_cover != 0, np.minimum(gross * oop_share_cover, oop_cap_cover),
                    gross * oop_share) / size
    med = np.where(u_event < p, cost, 0.0)
    net = m + programme_income + transfer_income - med - schooling_cost
    covered_net = floor > 0
    top = np.where(covered_net, np.maximum(floor - net, 0.0), 0.0)
    topup[:] = top
    income[:] = np.where(covered_net, np.maximum(net + top, floor), net)
    return m.astype(np.float32), med.astype(np.float32)
