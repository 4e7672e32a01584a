"""Attribution of each exit to the pathway (batch, 五个一批) that made the
difference, and how many exits each pathway's programmes reached.

The rule, applied to the true per-capita income ``y`` of a household exiting
in the year against its line ``L``, with ``c_b`` the income the household
received from pathway ``b`` this year (production, relocation, ecological,
education programmes; the safety-net top-up):

1. if ``y - sum(c_b) >= L`` the household's own income (market income and
   pension) would have sufficed: ``"none"``;
2. otherwise the pathway with the largest ``c_b`` (the first in the order
   of ``BATCHES``, the top-up last, among equals).

The second step is the pathway that made the difference: when the removal
of some pathways alone would put the household below the line (``y - c_b
< L``: decisive), the largest ``c_b`` is decisive too (``y - c`` falls as
``c`` grows, in floating point as well), so the largest decisive pathway is
the largest of all; when no pathway is decisive alone, only several
together, it is the largest that takes the exit.

Every exit gets exactly one pathway, so exits by pathway add up to all exits
(the *exclusive* attribution). Plans count their batches with overlaps; the
*reached* count says how many exiting households each pathway's programmes
reached that year, so a household can count in several pathways.
Programmes that act on a guarantee only (housing, medical, infrastructure)
are not pathways here: an exit they unlock is attributed by income.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.engine.codes import ATTRIBUTION
from model.engine.rules import household_line
from model.engine.threads import split_summed
from model.random import CACHED

# the kernel reads pathways as the rows of batch_income, then the top-up

NONE = ATTRIBUTION.index("none")


def attribute(income: np.ndarray, line: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Pathway index (into :data:`model.programmes.base.ATTRIBUTION`) of each exit.

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
    total = comps.sum(axis=0)
    own = (total == 0) | (income.astype(np.float64) - total >= line)
    return np.where(own, NONE, np.argmax(comps, axis=0))


def attribute_exits(exits, income, floor, line, covered_line, batch_income, written, topup,
                    reached, village, village_reached, county, size, out, out_reached):
    """Attribute every exit of the year and count the pathways that reached
    it, in one pass over the exits (``exits``: the exiting households,
    ascending). Pieces of the exits run on threads
    (:func:`model.engine.threads.split_summed`): the counts are whole
    numbers, the same in any order.

    Parameters
    ----------
    exits : int array (m,)
        Households exiting in the year (ascending).
    income, floor : float32 arrays (n,)
        True per-capita income and safety-net floor (yuan/person/year).
    line, covered_line : float
        The lines (yuan/person/year), as :func:`model.engine.rules.household_line`;
        taken in float32, as verification and the tally take them, so that
        an exit is judged against the line it crossed.
    batch_income : float32 array (rows, n); written : bool array (rows,)
        Income of each pathway (``INCOME_BATCHES``, in the order of
        ``BATCHES``); the rows ``written`` says are not are zero and not read.
    topup : float32 array (n,)
        The safety-net top-up: the last pathway.
    reached : uint8 array (n,)
        The pathways whose household programmes are active for each
        household this year (bit ``b``: ``BATCHES[b]``; ``State.reached``,
        set by the programmes' steps).
    village : int array (n,); village_reached : uint8 array (villages,)
        Each household's village, and the pathways whose village programmes
        are active in each village this year (the same bits): a village
        programme reaches the households of its villages.
    county, size : int arrays (n,)
        County and members of every household.
    out : float64 array (counties, len(ATTRIBUTION), 2), in/out
        ``out[county, pathway, 0 or 1] +=`` each exit (households, people),
        its pathway by the rule of :func:`attribute`.
    out_reached : float64 array (counties, len(BATCHES)), in/out
        ``out_reached[county, b] +=`` the members of each exit that a
        programme of pathway ``b`` reaches (a household can count in several
        pathways; :func:`count_reached_numpy`).
    """
    # a row not written is zero for every household: it adds nothing to the
    # pathways' total and is never the largest but when the total is zero
    # ("none"): the kernel skips it
    rows = np.flatnonzero(written)
    split_summed(_attribute_piece, exits.shape[0], (out, out_reached), exits, income, floor,
                 np.float32(line), np.float32(covered_line), batch_income, rows, topup,
                 reached, village, village_reached, county, size)


BLOCK = 256  # exits of one county whose pathways are found together


@njit(**CACHED, nogil=True, error_model="numpy")
def _attribute_piece(start, stop, exits, income, floor, line, covered_line, batch_income, rows,
                     topup, reached, village, village_reached, county, size, out, out_reached):
    """:func:`attribute_exits` of ``exits[start:stop]``, a block of up to
    :data:`BLOCK` exits of one county at a time (exits come county by
    county): their incomes gathered into the block's columns, then each
    pathway's income compared across the whole block (the pathways in the
    rule's order, the first of equals kept: loops of selects the compiler
    vectorises, where one exit at a time followed a chain of selects
    through its pathways), then the block's households and people counted
    by pathway and by pathway reached (whole numbers: the same sums in any
    order)."""
    n_rows = rows.shape[0]
    topup_row = batch_income.shape[0]  # the top-up's pathway comes after the rows
    nr, na = out_reached.shape[1], out.shape[1]
    y, hl, total = np.empty(BLOCK), np.empty(BLOCK), np.empty(BLOCK)
    income_of = np.empty((n_rows + 1, BLOCK))  # each pathway's, the top-up last
    largest, best = np.empty(BLOCK), np.empty(BLOCK, np.int64)
    members, bits = np.empty(BLOCK, np.int64), np.empty(BLOCK, np.int64)
    j = np.uint64(start)
    while j < np.uint64(stop):
        here = county[np.uint64(exits[j])]
        m = 0
        while m < BLOCK and j + np.uint64(m) < np.uint64(stop):
            i = np.uint64(exits[j + np.uint64(m)])  # unsigned (model.engine.threads)
            if county[i] != here:
                break
            y[m] = np.float64(income[i])
            hl[m] = np.float64(household_line(floor[i], line, covered_line))
            for r in range(n_rows):
                income_of[r, m] = max(np.float64(batch_income[np.uint64(rows[r]), i]), 0.0)
            income_of[n_rows, m] = max(np.float64(topup[i]), 0.0)
            members[m] = np.int64(size[i])
            bits[m] = np.int64(reached[i] | village_reached[np.uint64(village[i])])
            m += 1
        for t in range(m):
            total[t], best[t], largest[t] = 0.0, 0, -1.0
        for r in range(n_rows + 1):
            b = rows[r] if r < n_rows else topup_row
            c = income_of[r]
            for t in range(m):
                total[t] += c[t]
                bigger = c[t] > largest[t]
                best[t] = b if bigger else best[t]
                largest[t] = c[t] if bigger else largest[t]
        for t in range(m):
            own = (total[t] == 0.0) | (y[t] - total[t] >= hl[t])
            best[t] = NONE if own else best[t]
        g = np.int64(here)
        for b in range(na):
            households, people = 0, 0
            for t in range(m):
                hit = np.int64(best[t] == b)
                households += hit
                people += hit * members[t]
            out[g, b, 0] += np.float64(households)
            out[g, b, 1] += np.float64(people)
        for b in range(nr):  # a pathway that missed an exit adds 0
            people = 0
            for t in range(m):
                people += members[t] * ((bits[t] >> b) & 1)
            out_reached[g, b] += np.float64(people)
        j += np.uint64(m)


def count_reached_numpy(exits, reached, village, village_reached, group, size, out):
    """Reference of the reach counted by :func:`attribute_exits`
    (``out_reached``): each pathway's exits from the bits of their
    households and villages, then weighted counts by group."""
    bits = reached[exits] | village_reached[village[exits]]
    county, people = group[exits], size[exits].astype(np.float64)
    for b in range(out.shape[1]):
        reach = (bits >> b) & 1 == 1
        out[:, b] += np.bincount(county[reach], weights=people[reach], minlength=out.shape[0])
