"""Parameter draws around a fit: random-walk Metropolis on the fit's objective.

The fit's objective ``Q`` (the uncertainty-weighted moment distance plus the
weak prior, :mod:`model.calibration.fit`) is the minus-two log of a
quasi-posterior ``exp(-Q / 2)``: a Gaussian likelihood of the moments times
a Gaussian prior on each parameter's place in its prior range (Chernozhukov
and Hong 2003, Laplace-type estimators). Its draws are weighted by how well
they fit and they follow ridges, the directions along which parameters trade
off and the moments cannot tell them apart, which the best trials of a TPE
study (clustered near the optimum) do not.

Each chain starts from a good trial and proposes a Gaussian step on every
parameter's place in its prior range (0 to 1 on the prior's scale), reflected
at the ends, so the proposal is symmetric. A parameter's step is a common
factor times its own scale: with a profile of the distance around the optimum
(:func:`scales_from_profile`), the width over which ``exp(-Q / 2)`` falls by
one standard deviation along that parameter alone. A parameter the moments
pin down then moves by little, and one they hardly see moves across its
prior within a few dozen steps; with one step for all (no profile), a chain
of a few hundred steps leaves the weakly identified parameters near their
start. The common factor is adapted in the first half of the chain (burn-in)
towards an acceptance of 15-35 %, then held; the second half is kept. Trials
use common random numbers, so ``Q`` is a plain function of the parameters
and the chain is an ordinary Metropolis chain. The profile is one parameter
at a time, so ridges along which parameters trade off are found by the
chain's acceptances only: read the draws as a lower bound of the parameter
uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.calibration.fit import Free

ADAPT_EVERY = 10
ACCEPTANCE = (0.15, 0.35)


@dataclass
class Walk:
    """Draws of :func:`walk`: ``draws`` (``{"chain", "step", "distance",
    "parameters"}``, the kept half of every chain), the acceptance rate of
    that half and the step it used (share of a prior range)."""

    draws: list[dict]
    acceptance: float
    step: float
    evaluations: int


def reflect(u: np.ndarray) -> np.ndarray:
    """Positions folded back into [0, 1] (a symmetric proposal at the ends)."""
    u = np.mod(u, 2.0)
    return np.where(u > 1.0, 2.0 - u, u)


def scales_from_profile(profile: dict[str, tuple[np.ndarray, np.ndarray]], best: dict,
                        free: list[Free], prior_sd: float) -> np.ndarray:
    """Proposal scale of each parameter, as a share of its prior range.

    The one-at-a-time profile (:func:`model.calibration.fit.profile`: values
    and moment distances, the others at ``best``) gives the curvature of the
    distance on each side of the optimum from its nearest profile point,
    ``(d - d_best) / (u - u_best) ** 2`` on the prior's 0-1 scale; the larger
    side counts. The weak prior adds ``1 / prior_sd ** 2``. The scale is one
    over the square root of the sum: the quasi-posterior's standard
    deviation along that parameter if it were Gaussian.
    """
    out = []
    for f in free:
        values, distances = profile[f.name]
        u = np.array([f.position(v) for v in values])
        at = f.position(best[f.name])
        d_best = distances[int(np.argmin(np.abs(u - at)))]
        curvature = 0.0
        for side in (u < at - 1e-9, u > at + 1e-9):
            if side.any():
                j = np.flatnonzero(side)[int(np.argmin(np.abs(u[side] - at)))]
                rise = distances[j] - d_best if np.isfinite(distances[j]) else np.inf
                curvature = max(curvature, rise / (u[j] - at) ** 2)
        out.append(1.0 / np.sqrt(curvature + 1.0 / prior_sd ** 2))
    return np.array(out)


def walk(objective: Callable[[list[dict]], list[float]], starts: list[dict], free: list[Free],
         steps: int, seed: int = 0, step: float | None = None,
         scales: np.ndarray | None = None) -> Walk:
    """Random-walk Metropolis on ``exp(-objective / 2)``, one chain per start.

    Parameters
    ----------
    objective : callable
        Takes a list of parameter vectors (one per chain) and returns their
        objective values, in order; the chains' proposals of a step are
        evaluated together (in parallel by the caller).
    starts : list of dict
        One starting vector per chain (``{name: value}`` for every free
        parameter).
    free : list of Free
        The free parameters and their priors.
    steps : int
        Steps per chain; the second half is kept.
    seed : int
        Seed of the proposals and acceptances (the draws are reproducible).
    step : float, optional
        Initial common factor of the proposal's standard deviations; adapted
        during burn-in. Default: 2.38 / sqrt(number of parameters) with
        ``scales`` (the optimal random-walk step on a Gaussian), else 0.05.
    scales : array, optional
        Each parameter's proposal scale, as a share of its prior range on
        its scale (:func:`scales_from_profile`); default: 1 for every one.
    """
    rng = np.random.default_rng(seed)
    if step is None:
        step = 2.38 / np.sqrt(len(free)) if scales is not None else 0.05
    scales = np.ones(len(free)) if scales is None else np.asarray(scales, float)
    names = [f.name for f in free]
    u = np.array([[f.position(s[f.name]) for f in free] for s in starts], float)
    q = np.asarray(objective([dict(s) for s in starts]), float)
    evaluations = len(starts)
    burn = steps // 2
    accepted_recent = tried_recent = accepted_kept = 0
    draws: list[dict] = []
    for k in range(steps):
        proposal = reflect(u + step * scales * rng.standard_normal(u.shape))
        vectors = [{n: f.value(p) for n, f, p in zip(names, free, row)} for row in proposal]
        q_new = np.asarray(objective(vectors), float)
        evaluations += len(vectors)
        finite = np.isfinite(q_new)
        log_ratio = np.where(finite, -(q_new - q) / 2.0, -np.inf)
        take = np.log(rng.random(len(q))) < log_ratio
        u = np.where(take[:, None], proposal, u)
        q = np.where(take, q_new, q)
        if k < burn:
            accepted_recent += int(take.sum())
            tried_recent += len(take)
            if (k + 1) % ADAPT_EVERY == 0:
                rate = accepted_recent / tried_recent
                step *= 1.3 if rate > ACCEPTANCE[1] else (0.7 if rate < ACCEPTANCE[0] else 1.0)
                accepted_recent = tried_recent = 0
            continue
        accepted_kept += int(take.sum())
        for c in range(len(q)):
            draws.append({"chain": c, "step": k, "distance": float(q[c]),
                          "parameters": {n: f.value(p) for n, f, p in zip(names, free, u[c])}})
    kept_steps = max(steps - burn, 1)
    return Walk(draws, accepted_kept / (kept_steps * len(starts)), float(step), evaluations)


def thin(draws: list[dict], at_most: int) -> list[dict]:
    """At most ``at_most`` draws, evenly spaced through the kept steps."""
    if len(draws) <= at_most:
        return list(draws)
    pick = np.linspace(0, len(draws) - 1, at_most).round().astype(int)
    return [draws[k] for k in pick]
