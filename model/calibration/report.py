"""The fit report: Markdown tables and PNG charts.

``fit.md``: provenance; each moment observed (with its standard deviation)
against the simulated mean over seeds (with the spread over seeds) and the
standardised miss; each free parameter's best value against its prior, the
range of the accepted vectors and whether the distance profile identifies it;
the distance by trial; how much of the forecast band is parameter
uncertainty. ``fit.png``: moments, parameters and distance by trial;
``profile.png``: the one-at-a-time profiles.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from model.calibration.fit import FAILED_DISTANCE, Free, without_effect  # noqa: E402


def _num(x: float, digits: int = 4) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    return f"{x:,.{digits}g}" if abs(x) < 1e4 else f"{x:,.0f}"


def _chi2(q: float, df: int) -> float:
    from scipy import stats
    return float(stats.chi2.ppf(q, max(1, df)))


def moments_rows(moments, mean, sd) -> list[list[str]]:
    """Rows of the moments table: name, year, unit, observed ± sd, simulated
    ± seed sd, z, role, source."""
    rows = []
    for m, mu, s in zip(moments, mean, sd):
        z = (mu - m.value) / m.sd if mu is not None and np.isfinite(mu) else np.nan
        rows.append([m.name, str(m.year), m.unit, f"{_num(m.value)} ± {_num(m.sd, 2)}",
                     f"{_num(mu)} ± {_num(s, 2)}", _num(z, 3), m.role, m.source_label])
    return rows


def table(head: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(head: list[str], rows: list[list[str]]) -> str:
    """A plain aligned table for the terminal."""
    widths = [max(len(h), *(len(r[k]) for r in rows)) if rows else len(h)
              for k, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


MOMENT_HEAD = ["moment", "year", "unit", "observed ± sd", "simulated ± seed sd", "z", "role",
               "source"]


def parameter_rows(free: list[Free], best: dict, accepted: list[dict],
                   ident: dict[str, bool] | None, prof: dict | None) -> list[list[str]]:
    rows = []
    held = set(without_effect(prof)) if prof is not None else set()
    for f in free:
        values = [a["parameters"][f.name] for a in accepted] or [best[f.name]]
        span = "-"
        if prof is not None and f.name in prof:
            d = prof[f.name][1]
            d = d[np.isfinite(d) & (d < FAILED_DISTANCE)]
            span = _num(float(d.max() - d.min()), 3) if d.size else "-"
        flag = "-" if ident is None else ("yes" if ident.get(f.name) else "NO (flat)")
        if f.name in held:
            flag = "NO (no effect: held at its start value)"
        rows.append([f.name, f"{_num(f.low)} - {_num(f.high)} ({'log' if f.log else 'linear'})",
                     _num(best[f.name]), f"{_num(min(values))} - {_num(max(values))}", span, flag])
    return rows


PARAMETER_HEAD = ["parameter", "prior", "best", "accepted range", "profile span", "identified"]


def _unit(f: Free, v) -> np.ndarray:
    """Position inside the prior, 0..1 on its scale."""
    v = np.asarray(v, float)
    if f.log:
        return (np.log(v) - np.log(f.low)) / (np.log(f.high) - np.log(f.low))
    return (v - f.low) / (f.high - f.low)


def fit_figure(moments, mean, sd, free, best, accepted, trials, path: Path) -> None:
    """``fit.png``: standardised misses of the moments, parameters within their
    priors, distance by trial."""
    fig, axes = plt.subplots(1, 3, figsize=(17, max(4.5, 0.32 * max(len(moments), len(free)))))
    ax = axes[0]
    y = np.arange(len(moments))
    z = np.array([(mu - m.value) / m.sd if mu is not None and np.isfinite(mu) else np.nan
                  for m, mu in zip(moments, mean)])
    zs = np.array([(s or 0) / m.sd for m, s in zip(moments, sd)])
    colours = ["tab:blue" if m.role == "fit" else "tab:grey" for m in moments]
    ax.axvspan(-1, 1, color="tab:green", alpha=0.15, label="observed ± 1 sd")
    ax.errorbar(np.clip(z, -10, 10), y, xerr=zs, fmt="none", ecolor="black", lw=1)
    ax.scatter(np.clip(z, -10, 10), y, c=colours, zorder=3, label="simulated (grey: check)")
    ax.axvline(0, color="black", lw=0.5)
    ax.set_yticks(y, [f"{m.name}" for m in moments], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-10.5, 10.5)
    ax.set_xlabel("(simulated - observed) / sd (clipped at ±10)")
    ax.set_title("moments")
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[1]
    y = np.arange(len(free))
    for k, f in enumerate(free):
        vals = [a["parameters"][f.name] for a in accepted]
        if vals:
            ax.plot(_unit(f, [min(vals), max(vals)]), [k, k], color="tab:orange", lw=4,
                    alpha=0.6, label="accepted range" if k == 0 else None)
        ax.scatter(_unit(f, best[f.name]), k, color="tab:red", zorder=3,
                   label="best" if k == 0 else None)
    ax.set_yticks(y, [f.name for f in free], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("position in the prior range (0 = low, 1 = high; log priors on log scale)")
    ax.set_title("parameters")
    ax.legend(fontsize=7, loc="lower right")
    ax = axes[2]
    d = np.asarray(trials["distance"], float)
    n = np.asarray(trials["number"])
    ok = np.isfinite(d) & (d < FAILED_DISTANCE)
    ax.scatter(n[ok], d[ok], s=10, color="tab:blue", label="trial")
    if ok.any():
        ax.plot(n[ok], np.minimum.accumulate(d[ok]), color="tab:red", label="best so far")
        ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("distance")
    ax.set_title("distance by trial")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def profile_figure(prof: dict, free: list[Free], best: dict, ident: dict, path: Path) -> None:
    """``profile.png``: distance against each parameter, the others at the optimum."""
    n = len(free)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, f in zip(axes.ravel(), free):
        v, d = prof[f.name]
        ok = d < FAILED_DISTANCE
        ax.plot(v[ok], d[ok], marker="o", ms=3)
        ax.axvline(best[f.name], color="tab:red", lw=0.8)
        if f.log:
            ax.set_xscale("log")
        ax.set_title(f.name + ("" if ident.get(f.name) else "  (flat)"), fontsize=8)
        ax.tick_params(labelsize=7)
    fig.supylabel("distance")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def markdown(name: str, provenance: dict, moments, mean, sd, free, best, accepted,
             trials, ident=None, prof=None, bands=None, speed: str = "") -> str:
    """The fit report."""
    d = np.asarray(trials["distance"], float)
    ok = np.isfinite(d) & (d < FAILED_DISTANCE)
    lines = [f"# Fit '{name}'", ""]
    lines += [f"- {k}: {v}" for k, v in provenance.items()
              if k not in ("moments", "simulated", "simulated_sd")]
    if speed:
        lines += [f"- speed: {speed}"]
    fitted = [m for m in moments if m.role == "fit"]
    md = float(provenance.get("moment_distance", d[ok].min() if ok.any() else np.nan))
    if ok.any() and md > _chi2(0.99, len(fitted)):
        lines += ["", f"**The model does not fit**: the best trial's moment distance {_num(md)} is "
                      "above "
                      f"the 99 % chi-square quantile for {len(fitted)} moments "
                      f"({_num(_chi2(0.99, len(fitted)))}). The accepted set then shows which "
                      "vectors fit about as badly, not which ones the data cannot tell apart."]
    if len(free) > len(fitted):
        lines += ["", f"{len(free)} free parameters against {len(fitted)} fitted moments: the "
                      "moments cannot identify them all (see the profiles)."]
    lines += ["", "## Moments", "",
              "Observed value ± its standard deviation (targets file rule); simulated mean over "
              "seeds ± the spread over seeds; z = (simulated - observed) / sd. Role 'check' is "
              "shown, not fitted.", "", table(MOMENT_HEAD, moments_rows(moments, mean, sd)), "",
              "## Parameters", "",
              f"Accepted vectors: {len(accepted)} (distance within "
              f"{provenance.get('accept_tolerance', '-')} of the best). Profile span: how much "
              "the distance changes when the parameter alone crosses its prior, the others at "
              "the optimum; under 1 the data do not identify it.", "",
              table(PARAMETER_HEAD, parameter_rows(free, best, accepted, ident, prof)), "",
              "## Distance by trial", "",
              f"{int(ok.sum())} completed trials; first (the scenario's own values) "
              f"{_num(d[0]) if d.size else '-'}, best {_num(d[ok].min()) if ok.any() else '-'}, "
              f"median {_num(float(np.median(d[ok]))) if ok.any() else '-'}.", "",
              "![fit](fit.png)", ""]
    if prof is not None:
        lines += [("One parameter at a time around the study's best trial, the others held "
                   "there (the red line); each parameter's width in it also sets its step in "
                   "the draws."), "", "![profile](profile.png)", ""]
    if bands:
        lines += ["## Band: parameters against seeds", "",
                  "Spread over the same seeds with the best parameters (seed noise) and with the "
                  "accepted vectors (seed i uses vector i mod n); the parameter share is the part "
                  "of the variance the parameters add.", ""]
        for label, b in bands.items():
            rows = [[str(y), _num(s1), _num(s2), f"{100 * p:.0f} %"]
                    for y, s1, s2, p in zip(b["year"], b["sd_seed"], b["sd_total"],
                                            b["parameter_share"])]
            lines += [f"{label}:", "", table(["year", "sd seeds", "sd seeds + parameters",
                                              "parameter share"], rows), ""]
    return "\n".join(lines)
