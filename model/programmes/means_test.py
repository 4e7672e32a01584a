"""The safety net's coverage rule of a year (低保 / 五保: who the floor
covers), as one pass over the households with its numpy reference.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.threads import KERNEL, on_threads
from model.random import hash_id, hash_id_np, uniforms, uniforms_np
from model.registry.tables import DIBAO, WUBAO


def safety_net_eligible(category, labourers, enrolled, income, topup, county, standard,
                        means_test, hh_id, key, take_up):
    """Households the safety net covers this year (bool, one pass).

    Parameters
    ----------
    category : int8 array (n,)
        Registered category (``GENERAL``, ``DIBAO``, ``WUBAO``).
    labourers : int array (n,)
        Members able to work.
    enrolled : int16 array (n,)
        Year the household entered the safety net (``> 0``: in it).
    income, topup : float32 arrays (n,)
        Last year's per-capita income and safety-net top-up (yuan/person/year).
    county : int array (n,); standard : float32 array (n_counties,)
        The household's county and each county's dibao standard (yuan/person/year).
    means_test : bool
        Dibao households, those taken in and those without labour stay
        covered only while their income before the top-up is below the standard.
    hh_id : int array (n,); key : uint64; take_up : float
        Households with income below the standard are taken in when the first
        uniform of their hash under ``key`` is below ``take_up`` (compared in
        float32); ``take_up <= 0``: none are.

    Returns
    -------
    bool array (n,): wubao; or (dibao, without labour or taken in before,
    means-tested when asked); or below the standard and taking it up.
    """
    out = np.empty(category.shape[0], np.bool_)
    _safety_net_eligible(category, labourers, enrolled, income, topup, county, standard,
                         bool(means_test), hh_id, np.uint64(key), np.float32(take_up),
                         take_up > 0, out)
    return out


@on_threads("standard")
@njit(**KERNEL)
def _safety_net_eligible(category, labourers, enrolled, income, topup, county, standard,
                         means_test, hh_id, key, take_up, any_take_up, out):
    for i in range(category.shape[0]):
        c = category[i]
        s = standard[np.uint64(county[i])]
        y = income[i]
        others = (c == DIBAO) | (labourers[i] == 0) | (enrolled[i] > 0)
        if means_test:
            others &= y - topup[i] < s
        below = False
        if any_take_up and y < s:
            u, _ = uniforms(hash_id(key, hh_id[i]))
            below = u < take_up
        out[i] = (c == WUBAO) | others | below


def safety_net_eligible_numpy(category, labourers, enrolled, income, topup, county, standard,
                              means_test, hh_id, key, take_up):
    """Reference of :func:`safety_net_eligible` (the numpy passes it replaces)."""
    standard = standard[county]
    others = (category == DIBAO) | (labourers == 0) | (enrolled > 0)
    if means_test:
        others &= income - topup < standard
    if take_up > 0:
        u, _ = uniforms_np(hash_id_np(key, hh_id))
        below = (income < standard) & (u < take_up)
    else:
        below = np.zeros(len(category), bool)
    return (category == WUBAO) | others | below
