"""Designs: the points of a sweep, one row of factor values per point.

``grid`` is the full factorial of each factor's levels; ``lhs`` a Latin
hypercube (:class:`scipy.stats.qmc.LatinHypercube`); ``sobol`` Saltelli's
sample for Sobol indices (:func:`SALib.sample.sobol.sample`); ``morris``
Morris trajectories (:func:`SALib.sample.morris.sample`). A log factor is
sampled evenly in the logarithm of its value. The same sweep always gives
the same points (every random sample is seeded by ``design.seed``).
"""

from __future__ import annotations

import itertools

import numpy as np

from model.sweep.spec import Factor, Sweep


def problem(factors: tuple[Factor, ...]) -> dict:
    """The SALib problem of the factors, in sampling space (the natural
    logarithm of a log factor's value)."""
    return {"num_vars": len(factors), "names": [f.name for f in factors],
            "bounds": [[np.log(f.low), np.log(f.high)] if f.log else [f.low, f.high]
                       for f in factors]}


def to_sampling_space(factors: tuple[Factor, ...], values: np.ndarray) -> np.ndarray:
    """Factor values -> sampling space (log of the log factors)."""
    out = np.array(values, dtype=float, copy=True)
    for j, f in enumerate(factors):
        if f.log:
            out[:, j] = np.log(out[:, j])
    return out


def _from_unit(factors: tuple[Factor, ...], unit: np.ndarray) -> np.ndarray:
    """Points in [0, 1)^k -> factor values."""
    out = np.empty_like(unit, dtype=float)
    for j, f in enumerate(factors):
        if f.log:
            out[:, j] = np.exp(np.log(f.low) + unit[:, j] * (np.log(f.high) - np.log(f.low)))
        else:
            out[:, j] = f.low + unit[:, j] * (f.high - f.low)
    return out


def _from_sampling_space(factors: tuple[Factor, ...], sample: np.ndarray) -> np.ndarray:
    out = np.array(sample, dtype=float, copy=True)
    for j, f in enumerate(factors):
        if f.log:
            out[:, j] = np.exp(out[:, j])
    return out


def grid_levels(factor: Factor, points: int) -> np.ndarray:
    """A factor's grid levels: its listed levels, else ``points`` values from
    low to high (evenly, or evenly in log)."""
    if factor.levels:
        return np.array(factor.levels, dtype=float)
    if factor.log:
        return np.geomspace(factor.low, factor.high, points)
    return np.linspace(factor.low, factor.high, points)


def sample(sweep: Sweep) -> np.ndarray:
    """The sweep's points.

    Returns
    -------
    numpy.ndarray
        float64, shape (points, factors), in each factor's unit; rows in the
        order of the design (for ``sobol`` and ``morris`` the order SALib's
        analysis expects).
    """
    factors = sweep.factors
    if sweep.design == "grid":
        levels = [grid_levels(f, sweep.points) for f in factors]
        return np.array(list(itertools.product(*levels)), dtype=float)
    if sweep.design == "lhs":
        from scipy.stats import qmc
        unit = qmc.LatinHypercube(d=len(factors), seed=sweep.design_seed).random(sweep.points)
        return _from_unit(factors, unit)
    if sweep.design == "sobol":
        from SALib.sample import sobol
        raw = sobol.sample(problem(factors), sweep.points, calc_second_order=sweep.second_order,
                           seed=sweep.design_seed)
        return _from_sampling_space(factors, raw)
    if sweep.design == "morris":
        from SALib.sample import morris
        raw = morris.sample(problem(factors), sweep.points, num_levels=sweep.levels,
                            seed=sweep.design_seed)
        return _from_sampling_space(factors, raw)
    raise ValueError(f"unknown design {sweep.design!r}")
