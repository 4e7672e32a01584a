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
from numba import njit

from model.engine.codes import (
    ENTRY,
    EXIT,
    EXITED,
    NO_EVENT,
    NOT_REGISTERED,
    POOR,
    RETURN,
    RETURNED,
)
from model.engine.rules import household_line, household_line_np
from model.engine.tally_columns import COL, NV
from model.engine.threads import KERNEL, cuts, split_at
from model.random import CACHED, INLINE

NBINS = 400
BINS_PER_LINE = 100.0
NCHUNKS = 16
_NO_VILLAGE = np.zeros(0, np.int32)
_HH, _PP = COL["households"], COL["people"]
_REG_H, _REG_P = COL["registered_households"], COL["registered_people"]
_EXD_H, _EXD_P = COL["exited_households"], COL["exited_people"]
_EXIT_H, _EXIT_P = COL["exits_households"], COL["exits_people"]
_RET_H, _RET_P = COL["returns_households"], COL["returns_people"]
_ENT_H, _ENT_P = COL["entries_households"], COL["entries_people"]
_TP_H, _TP_P = COL["true_poor_households"], COL["true_poor_people"]
_WRONG = COL["wrongly_exited_households"]
_MISS_H, _MISS_P = COL["missed_households"], COL["missed_people"]
_INC, _GAP, _SHORT = COL["income_sum_registered"], COL["gap_sum_registered"], \
    COL["shortfall_registered"]
_INC_EXIT, _WRONG_EXIT = COL["income_sum_exiting"], COL["wrong_exits_households"]


def tally(county, category, size, income, floor, status, event, line, covered_line, n_categories,
          out, hist, village=None, village_people=None, chunks=None, scratch=None):
    """Fill ``out[g, k]`` (float64, shape (n_groups, NV)) and ``hist[g, b]``
    (int32, shape (n_groups, NBINS)) for the households' groups. The chunks'
    partial tables (:func:`tally_chunks`) are filled on threads.

    Parameters
    ----------
    county : int16 array (n,); category : int8 array (n,)
        A household's group is ``county * n_categories + category``.
    size : int8 array (n,)
        Members.
    income : float32 array (n,)
        True per-capita income (yuan/person/year).
    floor : float32 array (n,)
        Safety-net standard, ``> 0`` marks a covered household (its line is
        ``covered_line``).
    status : int8 array (n,); event : uint8 array (n,)
        Status at year end and this year's event (:mod:`model.engine.rules`).
    line, covered_line : float32
        Lines (yuan/person/year).
    village : int array (n,), optional; village_people : float64 array, optional
        With both: ``village_people[v] +=`` the people of registered
        households in village ``v`` (:func:`registered_people_by`), in the
        tally's pass.
    chunks : tuple, optional
        :func:`chunk_groups` of these households (it depends on the groups
        alone: a run computes it once).
    scratch : tuple, optional
        :func:`tally_scratch` of ``chunks``: the chunks' tables, zero, which
        the tally leaves zero (a run keeps them from one tally to the next).
    """
    step = tally_step(county.shape[0])
    if chunks is None:
        chunks = chunk_groups(county, category, n_categories, out.shape[0], step)
    lowest, rows = chunks
    if step * np.iinfo(size.dtype).max >= PACK:
        raise ValueError(f"tally: chunks of {step:,} households could hold 2**32 people or "
                         "more, beyond the packed counts of the kernel (registries of up "
                         f"to {NCHUNKS * (PACK // np.iinfo(size.dtype).max - 1):,} households)")
    partial, by_class = tally_scratch(chunks) if scratch is None else scratch
    if village is None:
        village, village_people = _NO_VILLAGE, np.zeros(0)
    # the histogram's counts are integers (float64 for the villages' people):
    # the same in any order. The first piece of chunks adds into the tables
    # themselves; each other piece adds the groups it may share with the
    # pieces before it (those below their highest: where households are
    # stored county by county, only the county at its start) into a
    # histogram of its own, the others into the table, and its villages
    # into a table of its own
    pieces = cuts(NCHUNKS, min_piece=1)
    tables = [(hist, np.int64(0), village_people)]
    earlier_end = 0  # one past the highest group of the pieces before
    for j in range(len(pieces) - 1):
        chunks_j = range(pieces[j], pieces[j + 1])
        first = min(int(lowest[c]) for c in chunks_j)
        end = max(int(lowest[c] + rows[c + 1] - rows[c]) for c in chunks_j)
        if j > 0:
            shared = min(max(earlier_end - first, 0), max(end - first, 0))
            tables.append((np.zeros((shared, hist.shape[1]), hist.dtype), np.int64(first),
                           np.zeros_like(village_people)))
        earlier_end = max(earlier_end, end)
    split_at(tally_chunks, pieces, county, category, size, income, floor, status, event,
             np.float32(line), np.float32(covered_line), np.int64(n_categories), step, lowest,
             rows, partial, by_class, village, hist, tables=tables)
    for part, first, people in tables[1:]:
        hist[first:first + len(part)] += part
        village_people += people
    add_partials(partial, rows, lowest, out)


def tally_scratch(chunks: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The tables the tally's chunks fill (zeros) for the chunks ``chunks``
    (:func:`chunk_groups`): their partial tables (float64, (rows, NV)) and
    their households and people by group and class (int64, flat: two slots
    a group and class, see :func:`tally_chunks`). :func:`tally` leaves them
    zero, so that a run's tallies can share them."""
    rows = chunks[1]
    return np.zeros((rows[-1], NV)), np.zeros(rows[-1] * NCLASSES * 2, np.int64)


def tally_step(n: int) -> int:
    """Households per chunk of the tally (the last chunk may hold fewer)."""
    return (n + NCHUNKS - 1) // NCHUNKS


# Every count of the tally is a sum over households of one class: status x
# event x true poor (4 x 4 x 2). A chunk counts households and people by group
# and class, and its count columns are sums of those (whole numbers: exact in
# any order). Only the income columns are summed household by household.
NCLASSES = 32


@njit(**INLINE)
def class_of(status, event, true_poor):
    """The tally's class of a household (0..NCLASSES - 1)."""
    return ((np.int64(status) & 3) * 4 + (np.int64(event) & 3)) * 2 + np.int64(true_poor)


def _counted_by_class() -> tuple[np.ndarray, np.ndarray]:
    """Which count columns take a household of each class (1.0) in households
    and in people: float64 arrays (NCLASSES, NV). The rule of the count
    columns, in one place for the kernel."""
    households, people = np.zeros((NCLASSES, NV)), np.zeros((NCLASSES, NV))
    for status in (POOR, EXITED, RETURNED, NOT_REGISTERED):
        for event in (NO_EVENT, EXIT, RETURN, ENTRY):
            for poor in (False, True):
                k = class_of.py_func(status, event, poor)  # in Python: no compilation at import
                pairs = [(_HH, _PP)]
                if status == EXITED:
                    pairs.append((_EXD_H, _EXD_P))
                elif status == NOT_REGISTERED:
                    pairs += [(_MISS_H, _MISS_P)] if poor else []
                else:
                    pairs.append((_REG_H, _REG_P))
                pairs += {EXIT: [(_EXIT_H, _EXIT_P)], RETURN: [(_RET_H, _RET_P)],
                          ENTRY: [(_ENT_H, _ENT_P)]}.get(event, [])
                pairs += [(_TP_H, _TP_P)] if poor else []
                for h, p in pairs:
                    households[k, h] = people[k, p] = 1.0
                households[k, _WRONG] = float(poor and status == EXITED)
                households[k, _WRONG_EXIT] = float(poor and event == EXIT)
    return households, people


def _columns_by_class(households: np.ndarray, people: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each class's count columns (:func:`_counted_by_class`), ascending,
    and whether each takes the class's people (else its households):
    int64 and bool arrays (NCLASSES, the most columns a class counts in),
    and each class's number of columns (NCLASSES,). A chunk adds a class's
    counts to these columns only: the others would add 0.0."""
    if ((households != 0) & (people != 0)).any():
        raise ValueError("a count column takes a class's households and its people")
    taken = (households != 0) | (people != 0)
    n_columns = taken.sum(axis=1)
    columns = np.zeros((NCLASSES, n_columns.max()), np.int64)
    by_people = np.zeros((NCLASSES, n_columns.max()), np.bool_)
    for k in range(NCLASSES):
        cols = np.flatnonzero(taken[k])
        columns[k, :len(cols)] = cols
        by_people[k, :len(cols)] = people[k, cols] != 0
    return columns, by_people, n_columns.astype(np.int64)


_CLASS_COLUMNS, _CLASS_BY_PEOPLE, _CLASS_N_COLUMNS = _columns_by_class(*_counted_by_class())


BLOCK = 256  # households whose terms are computed together
PACK = np.int64(1) << np.int64(32)  # a class's households above, its people below
# as a household kernel, but without fast-math: a NaN income still falls in the first bin
_TERMS = {k: v for k, v in KERNEL.items() if k != "fastmath"}
_T_INCOME, _T_GAP, _T_SHORT = range(3)  # rows of the income terms of a block
_REGISTERED, _EXITING = np.uint8(1), np.uint8(2)


@njit(**CACHED, nogil=True, error_model="numpy")
def tally_chunks(first, last, county, category, size, income, floor, status, event, line,
                 covered_line, n_categories, step, lowest, rows, partial, by_class, village,
                 hist, own, own_first, village_people):
    """Partial tables of the chunks ``first:last`` of ``step`` households,
    and their histogram, in one pass.

    Chunk ``c``'s groups from ``lowest[c]`` on are rows ``rows[c]:rows[c + 1]``
    of ``partial`` (float64, columns as ``out`` of :func:`tally`);
    ``by_class`` (int64, rows x NCLASSES x 2, flat, zeros) is the chunks'
    scratch of households (times :data:`PACK`) plus people by group and
    class, in two slots that households add to in turn: a run of
    households of one class then adds to two counts, neither waiting for
    the other's last addition. Each chunk zeroes its slots as it reads them.
    ``own[g - own_first, b] +=`` the people of registered households of
    group ``g`` whose income is in bin ``b`` (1 % of ``line`` wide, clipped
    to the first and last bins), for the groups ``own`` holds, and
    ``hist[g, b] +=`` for the groups above; when ``village`` is not empty,
    ``village_people[v] +=`` those of village ``v``: integer counts, which
    a piece of the chunks adds into tables of its own where it shares
    groups with another (:func:`tally`).

    A block of :data:`BLOCK` households at a time: their terms computed
    together (:func:`_household_terms`, vectorised), then added household
    by household, each income sum in the households' order. Only the
    registered households add to the histogram, the villages and the
    registered income sums, and only the exiting ones to the exits' income:
    a household outside a sum would add 0.0, which leaves it as it is.
    """
    n = county.shape[0]
    key, bin_index, people = np.empty(BLOCK, np.int64), np.empty(BLOCK, np.int64), \
        np.empty(BLOCK, np.int64)
    terms = np.empty((3, BLOCK))
    flags = np.empty(BLOCK, np.uint8)
    registered, exiting = np.empty(BLOCK, np.int64), np.empty(BLOCK, np.int64)
    flat_own, flat_hist = own.reshape(-1), hist.reshape(-1)
    own_size, offset = np.uint64(flat_own.shape[0]), np.uint64(own_first * hist.shape[1])
    for c in range(first, last):
        acc = partial[rows[c]:rows[c + 1]]
        cls = by_class[rows[c] * NCLASSES * 2:rows[c + 1] * NCLASSES * 2]
        low = np.int64(lowest[c])
        end = min(n, (c + 1) * step)
        for s0 in range(c * step, end, BLOCK):
            s1 = min(s0 + BLOCK, end)
            _household_terms(county[s0:s1], category[s0:s1], size[s0:s1], income[s0:s1],
                             floor[s0:s1], status[s0:s1], event[s0:s1], line, covered_line,
                             n_categories, low, own_first, key, bin_index, people, terms, flags)
            n_registered, n_exiting = 0, 0
            for t in range(s1 - s0):  # every household counts in its class
                cls[np.uint64(key[t] * 2 + (t & 1))] += PACK + people[t]  # slots in turn
                registered[n_registered] = t  # kept only if registered: no branch
                n_registered += flags[t] & _REGISTERED
                exiting[n_exiting] = t
                n_exiting += (flags[t] & _EXITING) >> 1
            for q in range(n_registered):
                t = np.uint64(registered[q])
                g = np.uint64(key[t] // NCLASSES)
                acc[g, _INC] += terms[_T_INCOME, t]
                acc[g, _GAP] += terms[_T_GAP, t]
                acc[g, _SHORT] += terms[_T_SHORT, t]
                b = np.uint64(bin_index[t])
                if b < own_size:
                    flat_own[b] += people[t]
                else:
                    flat_hist[b + offset] += people[t]
            if village.shape[0] > 0:
                for q in range(n_registered):
                    t = registered[q]
                    village_people[np.uint64(village[s0 + t])] += people[t]
            for q in range(n_exiting):
                t = np.uint64(exiting[q])
                acc[np.uint64(key[t] // NCLASSES), _INC_EXIT] += terms[_T_INCOME, t]
        # the chunk's households and people by group and class into its
        # count columns, leaving the scratch zero
        for g in range(acc.shape[0]):
            for k in range(NCLASSES):
                slot = np.uint64((g * NCLASSES + k) * 2)
                packed = cls[slot] + cls[slot + 1]
                h, p = np.float64(packed >> 32), np.float64(packed & (PACK - 1))
                if h == 0.0:
                    continue
                cls[slot] = cls[slot + 1] = 0
                for m in range(_CLASS_N_COLUMNS[k]):  # the columns counting the class
                    acc[g, _CLASS_COLUMNS[k, m]] += p if _CLASS_BY_PEOPLE[k, m] else h


@njit(**_TERMS)
def _household_terms(county, category, size, income, floor, status, event, line, covered_line,
                     n_categories, lowest, hist_first, key, bin_index, people, terms, flags):
    """What each household of a block adds to the tally (arrays of the
    block's households in, of :data:`BLOCK` out): ``key``, its row (group
    minus ``lowest``) times NCLASSES plus its class; ``bin_index``, its
    group's row of the histogram (from ``hist_first``) times NBINS plus its
    bin; ``people``, its members; ``terms``, the rows ``_T_*``: its income,
    gap and shortfall, people-weighted (the gap and shortfall 0 above its
    line); ``flags``: whether it is registered, and exiting."""
    for t in range(county.shape[0]):
        group = np.int64(county[t]) * n_categories + category[t]
        members = np.float64(size[t])
        y = np.float64(income[t])
        hl = np.float64(household_line(floor[t], line, covered_line))
        s, e = status[t], event[t]
        true_poor = y < hl
        key[t] = (group - lowest) * NCLASSES + class_of(s, e, true_poor)
        is_registered = (s != EXITED) & (s != NOT_REGISTERED)
        below = np.float64(true_poor)
        terms[_T_INCOME, t] = members * y
        terms[_T_GAP, t] = below * (members * (1.0 - y / hl))
        terms[_T_SHORT, t] = below * (members * (hl - y))
        people[t] = np.int64(size[t])
        # in this order a NaN income falls in the first bin, never outside
        b = np.int64(min(NBINS - 1.0, max(0.0, y / line * BINS_PER_LINE)))
        bin_index[t] = (group - hist_first) * NBINS + b
        flags[t] = np.uint8(is_registered) | (np.uint8(e == EXIT) << np.uint8(1))


@njit(**CACHED)
def chunk_groups(county, category, n_categories, n_groups, step):
    """Lowest group of each chunk of ``step`` households and the first row of
    its partial table: a chunk's table holds the groups between its lowest and
    highest (households are stored county by county, so a chunk spans few).

    Returns
    -------
    lowest : int64 array (NCHUNKS,)
    rows : int64 array (NCHUNKS + 1,)
        Chunk ``c``'s table is rows ``rows[c]:rows[c + 1]`` of the partial tables.
    """
    n = county.shape[0]
    lowest = np.zeros(NCHUNKS, np.int64)
    rows = np.zeros(NCHUNKS + 1, np.int64)
    for c in range(NCHUNKS):
        lo, hi = np.int64(n_groups), np.int64(-1)
        for i in range(c * step, min(n, (c + 1) * step)):
            g = np.int64(county[i]) * n_categories + category[i]
            lo, hi = min(lo, g), max(hi, g)
        lowest[c] = lo
        rows[c + 1] = rows[c] + max(hi - lo + 1, 0)
    return lowest, rows


@njit(**CACHED)
def add_partials(partial, rows, lowest, out):
    """``out += `` the partial table of each chunk ``c`` in order (the same
    sums whatever the thread count), leaving ``partial`` zero; chunk
    ``c``'s table is ``partial[rows[c]:rows[c + 1]]`` and starts at group
    ``lowest[c]`` (the groups a chunk does not reach would add zeros). A
    plain loop: the array expression cost several times the whole tally."""
    for c in range(len(rows) - 1):
        for r in range(rows[c], rows[c + 1]):
            g = lowest[c] + r - rows[c]
            for k in range(out.shape[1]):
                out[g, k] += partial[r, k]
                partial[r, k] = 0.0


def tally_numpy(county, category, size, income, floor, status, event, line, covered_line,
                n_categories, n_groups):
    """numpy reference of :func:`tally`: returns ``(out, hist)``."""
    group = county.astype(np.int64) * n_categories + category
    people = size.astype(np.float64)
    y = income.astype(np.float64)
    hl = household_line_np(floor, line, covered_line).astype(np.float64)
    exited = status == EXITED
    pool = status == NOT_REGISTERED
    reg = ~exited & ~pool
    poor = y < hl
    cols = [np.ones_like(y), people, reg, reg * people, exited, exited * people,
            event == EXIT, (event == EXIT) * people, event == RETURN, (event == RETURN) * people,
            event == ENTRY, (event == ENTRY) * people,
            poor, poor * people, exited & poor, pool & poor, (pool & poor) * people,
            reg * people * y, reg * poor * people * (1 - y / hl), reg * poor * people * (hl - y),
            (event == EXIT) * people * y, (event == EXIT) & poor]
    out = np.stack([np.bincount(group, weights=c.astype(np.float64), minlength=n_groups)
                    for c in cols], axis=1)
    b = np.clip(y / line * BINS_PER_LINE, 0, NBINS - 1).astype(np.int64)
    hist = np.bincount((group * NBINS + b)[reg], weights=people[reg],
                       minlength=n_groups * NBINS).reshape(n_groups, NBINS)
    return out, hist.astype(np.int64)


def median_from_hist(hist: np.ndarray, line) -> np.ndarray:
    """Median per row of a people-weighted histogram (yuan/person/year; NaN if empty).

    ``hist`` has shape (..., NBINS); bin ``b`` covers ``[b, b + 1) / BINS_PER_LINE``
    lines; ``line`` broadcasts to ``hist.shape[:-1]``. Rows whose histogram is
    empty give NaN. One compiled pass (:func:`median_rows`); the numpy
    reference is :func:`median_from_hist_numpy`.
    """
    hist = np.asarray(hist)
    shape = hist.shape[:-1]
    if hist.dtype not in (np.int32, np.int64):
        hist = hist.astype(np.int64)
    rows = np.ascontiguousarray(hist).reshape(-1, hist.shape[-1])   # no copy of the record
    # a copy: writable and C-contiguous (one compiled median), even for a single row
    lines = np.broadcast_to(np.asarray(line, np.float64), shape).copy().ravel()
    out = np.empty(len(rows))
    unused = np.zeros(rows.shape[1], rows.dtype)  # the rows' sum, which this median needs not
    median_rows(0, len(rows), rows, lines, out, unused, False)
    return out.reshape(shape)


def take_medians(hist: np.ndarray, line: float) -> tuple[np.ndarray, float]:
    """The median of each row of the tally's histogram ``hist`` (int32,
    (groups, NBINS)) and the median of all rows together, the year's line
    ``line`` (yuan/person/year) for all; ``hist`` is left zero, ready for
    the next tally.

    The same numbers as :func:`median_from_hist` of ``hist`` and of
    ``hist.sum(axis=0)``, in one pass over the table instead of three (the
    medians, the sum, the zeros), a piece of the rows a thread: the tally's
    histogram is larger than a small registry (the national scenario at
    1 % has 2.4 million bins for 324,000 households). Each piece sums its
    rows' bins apart; whole numbers, so the pieces' sums added give the
    same column on any number of threads.
    """
    out = np.empty(hist.shape[0])
    lines = np.full(hist.shape[0], np.float64(line))
    bounds = cuts(hist.shape[0], MEDIAN_PIECE)
    columns = [np.zeros(hist.shape[1], hist.dtype) for _ in range(len(bounds) - 1)]
    split_at(median_rows, bounds, hist, lines, out, tables=[(c, True) for c in columns])
    column = np.sum(columns, axis=0, dtype=hist.dtype)  # the nation's people fit int32
    return out, float(median_from_hist(column, line))


MEDIAN_BLOCK = 16  # bins the median's search skips at a time
MEDIAN_PIECE = 512  # rows of the histogram: fewer are not worth a thread


@njit(**CACHED, nogil=True)
def median_rows(first, last, hist, line, out, column, clear):
    """``out[r]``: the median of row ``r`` of ``hist`` (int32 or int64, (R,
    bins)), for the rows ``first`` to ``last - 1``, in yuan/person/year
    (``line[r]``: the row's line), interpolated in its bin; NaN for an
    empty row. Also ``column[b] +=`` each of these rows' bin ``b``
    (``column``: ``hist``'s type, (bins,)). With ``clear``, each row is
    zeroed once read."""
    nb = hist.shape[1]
    for r in range(first, last):
        total = np.int64(0)
        for b in range(nb):
            total += hist[r, b]
            column[b] += hist[r, b]
        out[r] = _median_of(hist[r], total, line[r])
        if clear:
            for b in range(nb):
                hist[r, b] = 0


@njit(**INLINE)
def _median_of(row, total, line):
    """The median of one histogram row whose bins add up to ``total``, at
    line ``line`` (NaN if empty).

    The median's bin is the first whose cumulative count reaches half the
    row's; the search adds whole blocks of :data:`MEDIAN_BLOCK` bins (sums
    the compiler vectorises) until the next block would reach it, then goes
    bin by bin: the same bin as a search bin by bin from the first, in a
    fraction of its steps."""
    if total <= 0:
        return np.nan
    nb = row.shape[0]
    half = total / 2.0
    cum = np.int64(0)
    start = 0
    while start + MEDIAN_BLOCK <= nb:
        block = np.int64(0)
        for b in range(start, start + MEDIAN_BLOCK):
            block += row[b]
        if cum + block >= half:
            break
        cum += block
        start += MEDIAN_BLOCK
    b = start
    for b in range(start, nb):
        cum += row[b]
        if cum >= half:
            break
    inside = row[b]
    frac = (half - (cum - inside)) / max(inside, 1) if inside > 0 else 0.5
    return (b + frac) / BINS_PER_LINE * line


def median_from_hist_numpy(hist: np.ndarray, line) -> np.ndarray:
    """Reference of :func:`median_from_hist` (numpy, whole arrays)."""
    cum = np.cumsum(hist, axis=-1)
    total = cum[..., -1:]
    half = total / 2.0
    b = np.argmax(cum >= half, axis=-1)[..., None]
    below = np.take_along_axis(cum, b, axis=-1) - np.take_along_axis(hist, b, axis=-1)
    inside = np.take_along_axis(hist, b, axis=-1)
    frac = np.where(inside > 0, (half - below) / np.maximum(inside, 1), 0.5)
    med = (b + frac)[..., 0] / BINS_PER_LINE * line
    return np.where(total[..., 0] > 0, med, np.nan)


@njit(**CACHED)
def registered_people_by(group, size, status, out):
    """``out[g] +=`` people of registered households (poor or returned) in group g."""
    for i in range(group.shape[0]):
        if status[i] == POOR or status[i] == RETURNED:
            out[group[i]] += size[i]
