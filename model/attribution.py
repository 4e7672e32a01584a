"""Attribution of each exit to the pathway (batch, 五个一批) that made the
difference, and how many exits each pathway's programmes reached.

The rule, applied to the true per-capita income ``y`` of a household exiting
in the year against its line ``L``, with ``c_b`` the income the household
received from pathway ``b`` this year (production, relocation, ecological,
education programmes; the safety-net top-up):

1. if ``y - sum(c_b) >= L`` the household's own income (market income and
   pension) would have sufficed: ``"none"``;
2. otherwise, among the pathways whose removal alone would put it below the
   line (``y - c_b < L``), the one with the largest ``c_b``;
3. otherwise (no single pathway is decisive, only several together), the
   pathway with the largest ``c_b``.

Every exit gets exactly one pathway, so exits by pathway add up to all exits
(the *exclusive* attribution). Plans count their batches with overlaps; the
*reached* count says how many exiting households each pathway's programmes
reached that year, so a household can count in several pathways.
Programmes that act on a guarantee only (housing, medical, infrastructure)
are not pathways here: an exit they unlock is attributed by income.
"""

from __future__ import annotations

import numpy as np

from model.programmes import ATTRIBUTION, BATCHES

NONE = ATTRIBUTION.index("none")


def attribute(income: np.ndarray, line: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Pathway index (into :data:`model.programmes.ATTRIBUTION`) of each exit.

    Parameters
    ----------
    income : float array (k,)
        True per-capita income of the exiting households (yuan/person/year).
    line : float array (k,)
        Their lines (yuan/person/year).
    components : float array (len(BATCHES), k)
        Per-capita income from each pathway, in the order of ``BATCHES``.
    """
    comps = np.maximum(components.astype(np.float64), 0.0)
    y = income.astype(np.float64)
    own = y - comps.sum(axis=0) >= line
    decisive = (y - comps < line) & (comps > 0)
    best_decisive = np.argmax(np.where(decisive, comps, -1.0), axis=0)
    largest = np.argmax(comps, axis=0)
    out = np.where(decisive.any(axis=0), best_decisive, largest)
    return np.where(own | (comps.sum(axis=0) == 0), NONE, out)


def reached(exits: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Mask over ``exits`` (sorted indices) of those in ``active`` (sorted indices)."""
    if len(active) == 0 or len(exits) == 0:
        return np.zeros(len(exits), bool)
    pos = np.minimum(np.searchsorted(active, exits), len(active) - 1)
    return active[pos] == exits


