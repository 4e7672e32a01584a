"""Iterative proportional fitting of a joint table to margins, and its rounding.

A joint table is a non-negative float array over a few small dimensions (for
a registry: region, category, labour, disabled, ill, housing, cause, size). A
:class:`Constraint` says that a weighted sum over some cells equals a target:
with unit weights it is a household count (a margin cell), with the household
size as weight it is a people count. :func:`fit` starts from a prior table
(which carries the assumed associations and the structural zeros) and cycles
through the constraints, each time scaling the cells of one constraint so that
it holds exactly (the I-projection: a plain ratio for unit weights, an
exponential tilt ``x * exp(lambda * w)`` for weighted ones). The cycle
converges to the table closest to the prior (Kullback-Leibler) that meets
every constraint, when the constraints are consistent.

:func:`round_exact` turns the fitted table into whole households so that every
*hard* constraint holds exactly. Cells are pooled into atoms (cells that belong
to the same hard constraints with the same weight); a small integer programme
(``scipy.optimize.milp``) rounds the atoms, and each atom's whole total is then
spread over its cells by cumulative rounding. Soft constraints (shares) are not
forced, they follow the fitted table to within rounding.

No library fitted: ``ipfn`` (the only maintained-looking package) was last
released in 2021, works on pandas frames with one-way or full margins only and
has neither weighted (people) constraints nor integer rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix, hstack, identity, vstack

from model.errors import PovsimError


@dataclass(frozen=True)
class Constraint:
    """``sum(weight * table.flat[cells]) == target``.

    Attributes
    ----------
    cells : numpy.ndarray of int
        Flat indices of the cells summed.
    target : float
        Households (unit weights) or people (size weights).
    weight : numpy.ndarray or None
        Weight of each cell (e.g. household size, persons); None for 1.
    hard : bool
        True when the spec gives a count that must hold exactly in whole
        households; False for a share.
    label : str
        Where the constraint comes from, for error messages.
    """

    cells: np.ndarray
    target: float
    weight: np.ndarray | None = None
    hard: bool = True
    label: str = ""

    def value(self, flat: np.ndarray) -> float:
        x = flat[self.cells]
        return float(x.sum() if self.weight is None else (self.weight * x).sum())


def _tilt(x: np.ndarray, w: np.ndarray, target: float) -> float:
    """The ``lam`` for which ``sum(w * x * exp(lam * w)) == target`` (w > 0)."""
    lo, hi = -50.0, 50.0
    lam = 0.0
    for _ in range(200):
        s = w * x * np.exp(lam * w)
        f = s.sum() - target
        if abs(f) <= 1e-13 * target:
            return lam
        if f > 0:
            hi = lam
        else:
            lo = lam
        slope = (w * s).sum()
        step = lam - f / slope if slope > 0 else np.nan
        lam = step if lo < step < hi else 0.5 * (lo + hi)
    return lam


def fit(prior: np.ndarray, constraints: list[Constraint], tol: float = 1e-10,
        max_iter: int = 5000) -> np.ndarray:
    """Fit ``prior`` to ``constraints`` by iterative proportional fitting.

    Parameters
    ----------
    prior : numpy.ndarray
        Non-negative seed table (households); zeros stay zero.
    constraints : list of Constraint
        Targets on weighted sums of cells.
    tol : float
        Stop when every constraint holds to this relative error.
    max_iter : int
        Cycles through all constraints before giving up.

    Returns
    -------
    numpy.ndarray
        The fitted table, same shape as ``prior`` (households, float64).

    Raises
    ------
    PovsimError
        When a constraint's cells are all zero in the prior but its target is
        positive, or when the constraints do not converge (inconsistent
        margins); the message names the constraints that disagree.
    """
    flat = np.array(prior, dtype=np.float64).ravel()
    if np.any(flat < 0) or not np.all(np.isfinite(flat)):
        raise PovsimError("fit: the prior table must be finite and non-negative")
    for c in constraints:
        if c.target < 0:
            raise PovsimError(f"{c.label}: target {c.target:g} is negative, expected >= 0")
        if c.value(flat) <= 0 and c.target > 0:
            raise PovsimError(f"{c.label}: target {c.target:g} but every household it counts is "
                              "ruled out by the prior or the other margins (a zero cell)")
    # work on the cells the prior allows only (zeros stay zero)
    full, live = flat, np.flatnonzero(flat > 0)
    where = np.full(full.size, -1, np.int64)
    where[live] = np.arange(len(live))
    flat = full[live]
    packed = []
    for c in constraints:
        pos = where[c.cells]
        keep = pos >= 0
        packed.append(Constraint(pos[keep], c.target, None if c.weight is None
                                 else c.weight[keep], c.hard, c.label))
    fitted = _cycle(flat, packed, tol, max_iter)
    full = np.zeros(full.size)
    full[live] = fitted
    return full.reshape(np.shape(prior))


def _cycle(flat: np.ndarray, constraints: list[Constraint],
           tol: float, max_iter: int) -> np.ndarray:
    for _ in range(max_iter):
        worst = 0.0
        for c in constraints:
            current = c.value(flat)
            if c.target == 0:
                flat[c.cells] = 0.0
                continue
            worst = max(worst, abs(current - c.target) / c.target)
            if current <= 0:
                raise PovsimError(f"{c.label}: target {c.target:g} cannot be met: the other "
                                  "margins leave no household for it")
            if c.weight is None:
                flat[c.cells] *= c.target / current
            else:
                lam = _tilt(flat[c.cells], c.weight, c.target)
                flat[c.cells] *= np.exp(lam * c.weight)
        if worst <= tol:
            return flat
    def error(c):
        return abs(c.value(flat) - c.target) / max(c.target, 1e-300)

    off = [c for c in sorted(constraints, key=error, reverse=True) if error(c) > tol]
    worst, others = off[0], off[1:3]
    also = "; it disagrees with " + "; ".join(
        f"{c.label} (target {c.target:g}, fitted {c.value(flat):.6g})" for c in others) \
        if others else ""
    raise PovsimError(f"{worst.label}: target {worst.target:g} is inconsistent with the other "
                      f"margins (no table meets them all; fitted {worst.value(flat):.6g})"
                      + also)


def round_exact(table: np.ndarray, constraints: list[Constraint]) -> np.ndarray:
    """Whole households close to ``table`` meeting every hard constraint exactly.

    Parameters
    ----------
    table : numpy.ndarray
        Fitted table (households, float) that meets the constraints.
    constraints : list of Constraint
        Hard constraints must have whole-number targets.

    Returns
    -------
    numpy.ndarray of int64
        Same shape as ``table``.

    Raises
    ------
    PovsimError
        When no rounding meets the hard constraints (e.g. a people count that
        the household sizes allowed cannot reach).
    """
    flat = np.asarray(table, dtype=np.float64).ravel()
    hard = [c for c in constraints if c.hard]
    for c in hard:
        if c.target != round(c.target):
            raise PovsimError(f"{c.label}: target {c.target:g} must be a whole number")
    # signature of each cell: which hard constraints it is in, and with which weight
    keys = np.zeros((len(hard), flat.size), np.float64)
    for k, c in enumerate(hard):
        keys[k, c.cells] = 1.0 if c.weight is None else c.weight
    _, atom = np.unique(keys.T, axis=0, return_inverse=True) if hard else (None, np.zeros(
        flat.size, np.int64))
    atom = atom.ravel()
    n_atoms = int(atom.max()) + 1
    atom_value = np.bincount(atom, weights=flat, minlength=n_atoms)
    atom_total = _round_atoms(atom_value, atom, keys, hard)
    return _spread(flat, atom, atom_total).reshape(np.shape(table))


def _round_atoms(value: np.ndarray, atom: np.ndarray, keys: np.ndarray,
                 hard: list[Constraint]) -> np.ndarray:
    """Whole atom totals meeting the hard constraints, close to ``value``.

    First each atom is rounded down or up (a binary programme minimising the
    total distance); if no such rounding exists, atoms may move one further
    (minimising the sum of ``|x - value|``).
    """
    out = np.rint(value).astype(np.int64)
    live = np.flatnonzero(value > 1e-12)
    out[value <= 1e-12] = 0
    if not hard or len(live) == 0:
        return out
    first = np.zeros(len(value), np.int64)
    first[atom[::-1]] = np.arange(len(atom))[::-1]   # one cell of each atom
    a = csr_matrix(keys[:, first[live]])                # constraint x live atom
    target = np.array([c.target for c in hard])
    v = value[live]
    floor = np.floor(v + 1e-9)
    n = len(v)
    options = {"time_limit": 60.0}
    need = target - a @ floor
    res = milp(c=1.0 - 2.0 * (v - floor), integrality=np.ones(n), bounds=Bounds(0, 1),
               constraints=LinearConstraint(a, need, need), options=options)
    if res.status == 0 and res.x is not None:
        out[live] = floor.astype(np.int64) + np.rint(res.x).astype(np.int64)
        return out
    # wider: x in [floor - 1, floor + 2], e >= |x - v|
    eye = identity(n, format="csr")
    matrix = vstack([hstack([a, csr_matrix(a.shape)]), hstack([eye, -eye]),
                     hstack([-eye, -eye])], format="csr")
    res = milp(c=np.concatenate([np.zeros(n), np.ones(n)]),
               integrality=np.concatenate([np.ones(n), np.zeros(n)]),
               bounds=Bounds(np.concatenate([np.maximum(floor - 1, 0), np.zeros(n)]),
                             np.concatenate([floor + 2, np.full(n, np.inf)])),
               constraints=LinearConstraint(
                   matrix, np.concatenate([target, np.full(2 * n, -np.inf)]),
                   np.concatenate([target, v, -v])),
               options=options)
    if res.status == 0 and res.x is not None:
        out[live] = np.rint(res.x[:n]).astype(np.int64)
        return out
    labels = ", ".join(c.label for c in hard)
    raise PovsimError(f"no whole-household table meets these counts together: {labels}")


def _spread(flat: np.ndarray, atom: np.ndarray, atom_total: np.ndarray) -> np.ndarray:
    """Give each atom's whole total to its cells by cumulative rounding."""
    order = np.argsort(atom, kind="stable")
    values = flat[order]
    sorted_atom = atom[order]
    atom_value = np.bincount(atom, weights=flat, minlength=len(atom_total))
    scale = np.divide(atom_total, atom_value, out=np.zeros(len(atom_total)),
                      where=atom_value > 0)
    scaled = values * scale[sorted_atom]
    # atoms whose fitted value is zero but got households: give them to their first cell
    empty = (atom_value <= 0) & (atom_total > 0)
    if empty.any():
        first = np.searchsorted(sorted_atom, np.flatnonzero(empty))
        scaled[first] = atom_total[empty]
    cum = np.cumsum(scaled)
    start = np.searchsorted(sorted_atom, np.arange(len(atom_total)))
    base = np.concatenate([[0.0], cum])[start][sorted_atom]
    rounded = np.floor(cum - base + 0.5)
    prev = np.concatenate([[0.0], rounded[:-1]])
    prev[start[start < len(prev)]] = 0.0
    out = np.zeros(flat.size, np.int64)
    out[order] = (rounded - prev).astype(np.int64)
    return out
