"""Counting households into groups (county x category) at the end of a year.

One pass over all households fills a table of sums per group and a
people-weighted histogram of the registered households' per-capita income
(for the median). Households are split into a fixed number of chunks, one
partial table per chunk, summed in chunk order afterwards: sums are therefore
identical whatever the thread count.

The median is read from the histogram: bins are 1 % of the household's line
(of the year's poverty line) wide from 0 to 4 lines (incomes outside are clipped into the first or last
bin) and the median is interpolated linearly inside its bin, so it is exact to
within half a percent of the line.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from model.rules import EXIT, EXITED, RETURN

# (name, unit, long name) of every tallied sum; the index is the column
TALLY = (
    ("households", "households", "households simulated"),
    ("people", "persons", "people simulated"),
    ("registered_households", "households", "registered poor households (not exited) at year end"),
    ("registered_people", "persons", "registered poor people (not exited) at year end"),
    ("exited_households", "households", "exited households at year end"),
    ("exited_people", "persons", "people in exited households at year end"),
    ("exits_households", "households", "households exiting in the year"),
    ("exits_people", "persons", "people in households exiting in the year"),
    ("returns_households", "households", "exited households returning to the registry in the year"),
    ("returns_people", "persons", "people in households returning in the year"),
    ("true_poor_households", "households", "households whose true income is below their line"),
    ("true_poor_people", "persons", "people whose true household income is below their line"),
    ("wrongly_exited_households", "households",
     "exited households whose true income is below their line (错退)"),
    ("income_sum_registered", "yuan/year", "total income of registered people"),
    ("gap_sum_registered", "persons", "sum over registered people of max(0, 1 - income / line)"),
    ("shortfall_registered", "yuan/year",
     "total shortfall of registered people below their line"),
)
NV = len(TALLY)
COL = {name: k for k, (name, _, _) in enumerate(TALLY)}
NBINS = 400
BINS_PER_LINE = 100.0
NCHUNKS = 16


@njit(parallel=True, cache=True, error_model="numpy")
def tally(group, size, income, floor, status, event, line, covered_line, n_groups, out, hist):
    """Fill ``out[g, k]`` (float64, shape (n_groups, NV)) and ``hist[g, b]``
    (int64, shape (n_groups, NBINS)) for the households' groups.

    Parameters
    ----------
    group : int32 array (n,)
        Group of each household (``county * 3 + category``).
    size : int8 array (n,)
        Members.
    income : float32 array (n,)
        True per-capita income (yuan/person/year).
    floor : float32 array (n,)
        Safety-net standard, ``> 0`` marks a covered household (its line is
        ``covered_line``).
    status : int8 array (n,); event : uint8 array (n,)
        Status at year end and this year's event.
    line, covered_line : float32
        Lines (yuan/person/year).
    """
    n = group.shape[0]
    partial = np.zeros((NCHUNKS, n_groups, NV))
    phist = np.zeros((NCHUNKS, n_groups, NBINS), np.int64)
    step = (n + NCHUNKS - 1) // NCHUNKS
    for c in prange(NCHUNKS):
        acc = partial[c]
        hc = phist[c]
        for i in range(c * step, min(n, (c + 1) * step)):
            g = group[i]
            people = np.float64(size[i])
            y = np.float64(income[i])
            hl = np.float64(covered_line if floor[i] > 0 else line)
            exited = status[i] == EXITED
            true_poor = y < hl
            acc[g, 0] += 1.0
            acc[g, 1] += people
            if exited:
                acc[g, 4] += 1.0
                acc[g, 5] += people
                if true_poor:
                    acc[g, 12] += 1.0
            else:
                acc[g, 2] += 1.0
                acc[g, 3] += people
                acc[g, 13] += people * y
                if true_poor:
                    acc[g, 14] += people * (1.0 - y / hl)
                    acc[g, 15] += people * (hl - y)
                b = int(min(max(y / line * BINS_PER_LINE, 0.0), NBINS - 1.0))
                hc[g, b] += size[i]
            if event[i] == EXIT:
                acc[g, 6] += 1.0
                acc[g, 7] += people
            elif event[i] == RETURN:
                acc[g, 8] += 1.0
                acc[g, 9] += people
            if true_poor:
                acc[g, 10] += 1.0
                acc[g, 11] += people
    for c in range(NCHUNKS):
        out += partial[c]
        hist += phist[c]


def tally_numpy(group, size, income, floor, status, event, line, covered_line, n_groups):
    """numpy reference of :func:`tally`: returns ``(out, hist)``."""
    people = size.astype(np.float64)
    y = income.astype(np.float64)
    hl = np.where(floor > 0, covered_line, line).astype(np.float64)
    exited = status == EXITED
    reg = ~exited
    poor = y < hl
    cols = [np.ones_like(y), people, reg, reg * people, exited, exited * people,
            event == EXIT, (event == EXIT) * people, event == RETURN, (event == RETURN) * people,
            poor, poor * people, exited & poor, reg * people * y,
            reg * poor * people * (1 - y / hl), reg * poor * people * (hl - y)]
    out = np.stack([np.bincount(group, weights=c.astype(np.float64), minlength=n_groups)
                    for c in cols], axis=1)
    b = np.clip(y / line * BINS_PER_LINE, 0, NBINS - 1).astype(np.int64)
    hist = np.bincount((group * NBINS + b)[reg], weights=people[reg],
                       minlength=n_groups * NBINS).reshape(n_groups, NBINS)
    return out, hist.astype(np.int64)


def median_from_hist(hist: np.ndarray, line: float) -> np.ndarray:
    """Median per row of a people-weighted histogram (yuan/person/year; NaN if empty).

    ``hist`` has shape (..., NBINS); bin ``b`` covers ``[b, b + 1) / BINS_PER_LINE``
    lines. Rows whose histogram is empty give NaN.
    """
    cum = np.cumsum(hist, axis=-1)
    total = cum[..., -1:]
    half = total / 2.0
    b = np.argmax(cum >= half, axis=-1)[..., None]
    below = np.take_along_axis(cum, b, axis=-1) - np.take_along_axis(hist, b, axis=-1)
    inside = np.take_along_axis(hist, b, axis=-1)
    frac = np.where(inside > 0, (half - below) / np.maximum(inside, 1), 0.5)
    med = (b + frac)[..., 0] / BINS_PER_LINE * line
    return np.where(total[..., 0] > 0, med, np.nan)


@njit(cache=True)
def count_at(group, index, weights, counts, sums):
    """For every j: ``counts[group[index[j]]] += 1`` and ``sums[...] += weights[j]``
    (serial; ``weights`` of length 1 is the same for every j)."""
    same = weights.shape[0] == 1
    for j in range(index.shape[0]):
        g = group[index[j]]
        counts[g] += 1.0
        sums[g] += weights[0] if same else weights[j]
