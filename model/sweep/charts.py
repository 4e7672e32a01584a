"""Charts of a sweep (PNG): tornado, sensitivity indices, and the response
over one or two factors with the seed band.

- ``tornado.png``: per outcome, the mean response at each factor's lowest
  and highest quarter of values, around the mean over all points;
- ``indices.png``: per outcome, S1 and ST with their confidence intervals
  (sobol), mu* with its interval and sigma (morris), or Spearman's rho
  (grid, lhs);
- ``response.png`` (one factor): the response over the factor's values with
  the 10-90 % band over seeds (for a probability, its 90 % Wilson interval),
  for every outcome defined somewhere (a year simulated, a target checked);
  ``heatmap.png`` (two factors on a grid): the response over both.

Only the first scenario of a sweep is drawn, and in the tornado and indices
charts only the outcomes that vary over its points; every scenario and
outcome is in ``sweep.md`` and ``indices.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from model.atomic import atomic_write
from model.sweep.store import DONE

BAND = (10, 90)   # percentiles of the seed band
WILSON_Z = 1.645  # 90 % interval of a probability


def _panels(n: int, width: float = 5.0, height: float = 3.2):
    cols = min(n, 2)
    rows = -(-n // cols)
    fig = Figure(figsize=(width * cols, height * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))


def varied(a) -> list[int]:
    """Rows of the outcomes that vary over the first scenario's points."""
    scenario = a.info["scenarios"][0]
    flat = {r["outcome"] for r in a.indices
            if r["scenario"] == scenario and r.get("note") == "no variation"}
    return [o for o, name in enumerate(a.info["outcomes"]) if name not in flat]


def _title(info: dict, o: int) -> str:
    return f"{info['outcomes'][o]} ({info['outcome_units'][o]})"


def tornado(a, path: Path) -> None:
    """Mean response at each factor's lowest and highest quarter of values."""
    info, x = a.info, a.ds["x"].values
    y_all = a.response.values[0]
    rows = varied(a)
    fig, axes = _panels(len(rows))
    for o, ax in zip(rows, axes):
        y = y_all[:, o]
        ok = np.isfinite(y)
        if ok.sum() < 4:
            ax.set_title(_title(info, o) + ": no data", fontsize=9)
            continue
        mid = float(np.mean(y[ok]))
        bars = []
        for j, name in enumerate(info["factors"]):
            lo_cut, hi_cut = np.quantile(x[ok, j], [0.25, 0.75])
            low = float(np.mean(y[ok][x[ok, j] <= lo_cut]))
            high = float(np.mean(y[ok][x[ok, j] >= hi_cut]))
            bars.append((abs(high - low), name, low, high))
        bars.sort()
        for row, (_, name, low, high) in enumerate(bars):
            ax.barh(row, low - mid, left=mid, color="#4c72b0",
                    label="lowest quarter" if row == 0 else None)
            ax.barh(row, high - mid, left=mid, color="#dd8452",
                    label="highest quarter" if row == 0 else None)
        ax.axvline(mid, color="k", lw=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_yticks(range(len(bars)), [b[1] for b in bars], fontsize=8)
        ax.set_title(_title(info, o), fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{info['name']}: {info['scenarios'][0]}, mean response by factor quarter",
                 fontsize=10)
    _save(fig, path)


def indices(a, path: Path) -> None:
    """The sensitivity measures of each outcome."""
    info = a.info
    scenario = info["scenarios"][0]
    rows_shown = varied(a)
    fig, axes = _panels(len(rows_shown))
    names = info["factors"]
    pos = np.arange(len(names))
    for o, ax in zip(rows_shown, axes):
        rows = [r for r in a.indices if r["scenario"] == scenario
                and r["outcome"] == info["outcomes"][o]]
        ax.set_title(_title(info, o), fontsize=9)
        if not rows or "note" in rows[0]:
            ax.text(0.5, 0.5, rows[0]["note"] if rows else "no data", ha="center",
                    transform=ax.transAxes)
            continue
        if "ST" in rows[0]:
            pairs = (("S1", "first order"), ("ST", "total order"))
        elif "mu_star" in rows[0]:
            pairs = (("mu_star", "mu*"), ("sigma", "sigma"))
        else:
            pairs = (("rho", "Spearman rho"),)
        width = 0.8 / len(pairs)
        for n, (key, label) in enumerate(pairs):
            conf = [r.get(f"{key}_conf", 0.0) for r in rows]
            ax.bar(pos + (n - (len(pairs) - 1) / 2) * width, [r[key] for r in rows], width,
                   yerr=conf if any(conf) else None, capsize=2, label=label)
        ax.set_xticks(pos, names, rotation=20, ha="right", fontsize=7)
        ax.axhline(0, color="k", lw=0.6)
        ax.legend(fontsize=7)
    fig.suptitle(f"{info['name']}: {scenario}, sensitivity", fontsize=10)
    _save(fig, path)


def _band(values: np.ndarray, probability: bool) -> tuple[np.ndarray, np.ndarray]:
    """Low and high edges of the band over seeds, per point (values: point x seed)."""
    if not probability:
        return (np.nanpercentile(values, BAND[0], axis=1),
                np.nanpercentile(values, BAND[1], axis=1))
    n = np.sum(np.isfinite(values), axis=1)
    p = np.nanmean(values, axis=1)
    z2 = WILSON_Z ** 2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = WILSON_Z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


def response(a, path: Path) -> None:
    """One factor: each outcome over the factor with its seed band."""
    info = a.info
    x = a.ds["x"].values[:, 0]
    order = np.argsort(x, kind="stable")
    done = a.ds["status"].values[0] == DONE
    values = np.where(done[..., None], a.ds["outcomes"].values[0], np.nan)
    if "zero_year" in info["outcomes"]:   # never: the year after the last, as in the response
        z = info["outcomes"].index("zero_year")
        values[..., z] = np.where(done, np.nan_to_num(values[..., z],
                                                      nan=info["end_years"][0] + 1), np.nan)
    shown = [o for o in range(len(info["outcomes"]))
             if np.isfinite(a.response.values[0, :, o]).any()]
    fig, axes = _panels(max(1, len(shown)))
    for o, ax in zip(shown, axes):
        probability = info["outcomes"][o].startswith("met:")
        v = values[order, :, o]
        low, high = _band(v, probability)
        ax.fill_between(x[order], low, high, alpha=0.3, lw=0,
                        label="90 % interval" if probability else "10-90 % of seeds")
        ax.plot(x[order], a.response.values[0, order, o], marker="o", ms=3,
                label="probability" if probability else "mean over seeds")
        if probability:
            for level in (0.5, 0.9):
                ax.axhline(level, color="grey", lw=0.6, ls="--")
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(info["factors"][0], fontsize=8)
        if info["log"][0]:
            ax.set_xscale("log")
        ax.set_title(_title(info, o), fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(f"{info['name']}: {info['scenarios'][0]}, {len(info['seeds'])} seed(s) per "
                 "point", fontsize=10)
    _save(fig, path)


def heatmap(a, path: Path) -> None:
    """Two factors on a grid: each outcome's mean over both."""
    info = a.info
    x = a.ds["x"].values
    xs, ys = np.unique(x[:, 0]), np.unique(x[:, 1])
    fig, axes = _panels(len(info["outcomes"]))
    for o, ax in enumerate(axes):
        grid = np.full((ys.size, xs.size), np.nan)
        for value, (u, v) in zip(a.response.values[0, :, o], x):
            grid[np.searchsorted(ys, v), np.searchsorted(xs, u)] = value
        mesh = ax.pcolormesh(np.arange(xs.size + 1), np.arange(ys.size + 1), grid,
                             shading="flat", cmap="viridis")
        ax.set_xticks(np.arange(xs.size) + 0.5, [f"{v:.3g}" for v in xs], fontsize=7,
                      rotation=30)
        ax.set_yticks(np.arange(ys.size) + 0.5, [f"{v:.3g}" for v in ys], fontsize=7)
        ax.set_xlabel(info["factors"][0], fontsize=8)
        ax.set_ylabel(info["factors"][1], fontsize=8)
        ax.set_title(_title(info, o) + ", mean over seeds", fontsize=9)
        fig.colorbar(mesh, ax=ax)
    fig.suptitle(f"{info['name']}: {info['scenarios'][0]}", fontsize=10)
    _save(fig, path)


def write_all(a, folder: Path) -> list[str]:
    """Write the charts that fit the sweep into ``folder``; their file names."""
    folder = Path(folder)
    written = []
    if a.complete[0].sum() >= 4 and len(a.info["factors"]) > 1 and varied(a):
        tornado(a, folder / "tornado.png")
        indices(a, folder / "indices.png")
        written += ["tornado.png", "indices.png"]
    if len(a.info["factors"]) == 1 and a.complete[0].any():
        response(a, folder / "response.png")
        written.append("response.png")
    if len(a.info["factors"]) == 2 and a.info["design"] == "grid":
        heatmap(a, folder / "heatmap.png")
        written.append("heatmap.png")
    return written
