"""What a sweep's store says: sensitivity indices, response, thresholds.

Every analysis reads the store only (``povsim sweep --analyse DIR`` redoes it
without running anything). For each scenario and outcome the response of a
point is the mean over its seeds (for a ``met:`` outcome, the probability of
meeting the target); a ``zero_year`` never reached counts as the year after
the scenario's last, so that every point has a number.

- ``sobol``: first- and total-order Sobol indices with 95 % confidence
  intervals (:func:`SALib.analyze.sobol.analyze`);
- ``morris``: mu* (with its 95 % confidence interval) and sigma
  (:func:`SALib.analyze.morris.analyze`);
- ``grid`` and ``lhs``: Spearman's rank correlation of each factor with the
  response (:func:`scipy.stats.spearmanr`).

Thresholds: for each ``met:`` outcome and factor, the factor values where the
probability of meeting the target first reaches 50 % and 90 % (linear
interpolation between neighbouring values; with several factors, over the
factor's octiles, averaged over the other factors).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from model.atomic import atomic_write
from model.sweep.store import DONE, SweepStore

CONF_LEVEL = 0.95
RESAMPLES = 1000
MATTERS_SOBOL = 0.05     # a total-order index at least this: the factor matters
MATTERS_MORRIS = 0.1     # mu* at least this share of the largest mu*
MATTERS_RANK = 0.2       # |Spearman rho| at least this
LEVELS = (0.5, 0.9)      # probabilities whose thresholds are reported
BINS = 8                 # factor bins for thresholds with several factors


@dataclass(frozen=True)
class Analysis:
    """A sweep's analysis: its description, the per-point responses and the
    tables of :func:`analyse`."""

    info: dict
    ds: xr.Dataset
    response: xr.DataArray          # (scenario, point, outcome): mean over seeds
    complete: np.ndarray            # (scenario, point): every seed done
    indices: list[dict]
    thresholds: list[dict]
    failures: dict


def responses(ds: xr.Dataset, info: dict) -> xr.DataArray:
    """Mean over seeds of each outcome per (scenario, point); a zero year
    never reached counts as the year after the scenario's last."""
    values = ds["outcomes"].where(ds["status"] == DONE)
    if "zero_year" in info["outcomes"]:
        end = xr.DataArray(np.array(info["end_years"], float) + 1, dims="scenario",
                           coords={"scenario": ds["scenario"]})
        zero = values.sel(outcome="zero_year")
        done = ds["status"] == DONE
        values = xr.where(values["outcome"] == "zero_year",
                          zero.fillna(end).where(done), values)
    return values.mean("seed").transpose("scenario", "point", "outcome")


def analyse(store: SweepStore) -> Analysis:
    """Indices and thresholds of every scenario and outcome in ``store``."""
    info = store.info
    ds = store.dataset()
    response = responses(ds, info)
    complete = (ds["status"] == DONE).all("seed").values
    x = ds["x"].values
    indices, thresholds = [], []
    for k, scenario in enumerate(info["scenarios"]):
        for o, outcome in enumerate(info["outcomes"]):
            y = response.values[k, :, o]
            rows = indices_for(info, x, y, complete[k])
            indices += [dict(scenario=scenario, outcome=outcome, **row) for row in rows]
            if outcome.startswith("met:") and not any("note" in r for r in rows):
                thresholds += [dict(scenario=scenario, outcome=outcome, **row)
                               for row in _thresholds(info, x[complete[k]],
                                                      y[complete[k]])]
    return Analysis(info, ds, response, complete, indices, thresholds, store.failures())


def _problem(info: dict) -> dict:
    return {"num_vars": len(info["factors"]), "names": list(info["factors"]),
            "bounds": [[np.log(lo), np.log(hi)] if log else [lo, hi]
                       for (lo, hi), log in zip(info["bounds"], info["log"])]}


def _sampling(info: dict, x: np.ndarray) -> np.ndarray:
    out = np.array(x, dtype=float, copy=True)
    for j, log in enumerate(info["log"]):
        if log:
            out[:, j] = np.log(out[:, j])
    return out


def _bootstrap_seed(info: dict) -> int:
    """The seed of the confidence intervals' resampling: the design's seed
    plus one, as SALib leaves a seed of 0 unseeded."""
    return int(info["design_seed"]) + 1


def indices_for(info: dict, x: np.ndarray, y: np.ndarray, complete: np.ndarray) -> list[dict]:
    """One row per factor: the design's sensitivity measures, or a note why
    there are none."""
    names = info["factors"]
    design = info["design"]
    if design in ("sobol", "morris") and not complete.all():
        return [{"factor": f, "note": f"{int((~complete).sum())} points not done"}
                for f in names]
    finite = np.isfinite(y) & complete
    if design in ("sobol", "morris") and not finite.all():
        return [{"factor": f, "note": "outcome undefined at some points"} for f in names]
    if finite.sum() < 3 or np.ptp(y[finite]) == 0:
        return [{"factor": f, "note": "no variation"} for f in names]
    if design == "sobol":
        from SALib.analyze import sobol
        res = sobol.analyze(_problem(info), y, calc_second_order=info["second_order"],
                            num_resamples=RESAMPLES, conf_level=CONF_LEVEL,
                            seed=_bootstrap_seed(info))
        return [{"factor": f, "S1": float(res["S1"][j]), "S1_conf": float(res["S1_conf"][j]),
                 "ST": float(res["ST"][j]), "ST_conf": float(res["ST_conf"][j])}
                for j, f in enumerate(names)]
    if design == "morris":
        from SALib.analyze import morris
        res = morris.analyze(_problem(info), _sampling(info, x), y, num_resamples=RESAMPLES,
                             conf_level=CONF_LEVEL, num_levels=info["levels"],
                             seed=_bootstrap_seed(info))
        return [{"factor": f, "mu_star": float(res["mu_star"][j]),
                 "mu_star_conf": float(res["mu_star_conf"][j]),
                 "sigma": float(res["sigma"][j])} for j, f in enumerate(names)]
    from scipy.stats import spearmanr
    rows = []
    for j, f in enumerate(names):
        if np.ptp(x[finite, j]) == 0:
            rows.append({"factor": f, "note": "factor constant"})
            continue
        rho = spearmanr(x[finite, j], y[finite])
        rows.append({"factor": f, "rho": float(rho.statistic), "p_value": float(rho.pvalue)})
    return rows


def matters(row: dict, rows: list[dict]) -> bool:
    """Whether a factor's row says it matters for its outcome."""
    if "ST" in row:
        return row["ST"] >= MATTERS_SOBOL
    if "mu_star" in row:
        top = max(r.get("mu_star", 0.0) for r in rows)
        return top > 0 and row["mu_star"] >= MATTERS_MORRIS * top
    if "rho" in row:
        return abs(row["rho"]) >= MATTERS_RANK and row["p_value"] < 0.05
    return False


def crossing(xs: np.ndarray, ps: np.ndarray, level: float) -> tuple[str, float]:
    """Where ``ps`` (over increasing ``xs``) first reaches ``level``.

    Returns
    -------
    (str, float)
        ``("at", x)`` interpolated between the neighbouring values,
        ``("below", x0)`` when already reached at the first value,
        ``("never", max p)`` when not reached.
    """
    reached = np.flatnonzero(ps >= level)
    if reached.size == 0:
        return "never", float(np.nanmax(ps)) if ps.size else float("nan")
    i = int(reached[0])
    if i == 0:
        return "below", float(xs[0])
    x0, x1, p0, p1 = xs[i - 1], xs[i], ps[i - 1], ps[i]
    return "at", float(x0 + (level - p0) * (x1 - x0) / (p1 - p0))


def profile(x: np.ndarray, y: np.ndarray, j: int, several: bool) -> tuple[np.ndarray, np.ndarray]:
    """The mean response over factor ``j``'s values (one factor), or over its
    octiles, averaged over the other factors (several)."""
    xs, ys = x[:, j], y
    if not several or np.unique(xs).size <= BINS:
        values = np.unique(xs)
        return values, np.array([np.nanmean(ys[xs == v]) for v in values])
    edges = np.quantile(xs, np.linspace(0, 1, BINS + 1))
    bin_of = np.clip(np.searchsorted(edges, xs, side="right") - 1, 0, BINS - 1)
    centres = np.array([np.mean(xs[bin_of == b]) for b in range(BINS)])
    return centres, np.array([np.nanmean(ys[bin_of == b]) for b in range(BINS)])


def _thresholds(info: dict, x: np.ndarray, p: np.ndarray) -> list[dict]:
    rows = []
    several = len(info["factors"]) > 1
    for j, factor in enumerate(info["factors"]):
        if x.shape[0] < 2:
            continue
        xs, ps = profile(x, p, j, several)
        for level in LEVELS:
            where, value = crossing(xs, ps, level)
            rows.append({"factor": factor, "level": level, "where": where, "value": value,
                         "averaged": several})
    return rows


# ---------------------------------------------------------------- writing


def _fmt(v: float) -> str:
    if not np.isfinite(v):
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def indices_table(a: Analysis, scenario: str, outcome: str) -> str:
    """A markdown table of one outcome's indices."""
    rows = [r for r in a.indices if r["scenario"] == scenario and r["outcome"] == outcome]
    if any("note" in r for r in rows):
        return f"_{rows[0]['note']}_\n"
    if "ST" in rows[0]:
        head = "| factor | S1 | ±95 % | ST | ±95 % |\n|---|---:|---:|---:|---:|\n"
        body = "".join(f"| {r['factor']} | {r['S1']:.3f} | {r['S1_conf']:.3f} | {r['ST']:.3f} "
                       f"| {r['ST_conf']:.3f} |\n" for r in rows)
    elif "mu_star" in rows[0]:
        head = "| factor | mu* | ±95 % | sigma |\n|---|---:|---:|---:|\n"
        body = "".join(f"| {r['factor']} | {_fmt(r['mu_star'])} | {_fmt(r['mu_star_conf'])} | "
                       f"{_fmt(r['sigma'])} |\n" for r in rows)
    else:
        head = "| factor | Spearman rho | p |\n|---|---:|---:|\n"
        body = "".join(f"| {r['factor']} | {r['rho']:.3f} | {r['p_value']:.2g} |\n"
                       for r in rows)
    return head + body


def markdown(a: Analysis, charts: list[str]) -> str:
    """The ``sweep.md`` summary."""
    info = a.info
    n_tasks = int(a.ds["status"].size)
    n_done = int((a.ds["status"] == DONE).sum())
    lines = [f"# Sweep {info['name']}", ""]
    if info["description"]:
        lines += [info["description"], ""]
    factors = ", ".join(f"{f} [{_fmt(lo)}, {_fmt(hi)}]{' log' if log else ''}"
                        for f, (lo, hi), log in zip(info["factors"], info["bounds"], info["log"]))
    scales = ", ".join(f"{s:g}" for s in info["scales"])
    lines += [(f"- design: {info['design']}, {int(a.ds.sizes['point'])} points x "
               f"{len(info['seeds'])} seed(s) x {len(info['scenarios'])} scenario(s) = "
               f"{n_tasks} tasks; {n_done} done, {len(a.failures)} failed"),
              f"- factors: {factors}",
              f"- scenarios: {', '.join(info['scenarios'])} (scale {scales})",
              f"- source: {info['source']} ({info['code_version']})", ""]
    for scenario in info["scenarios"]:
        for outcome, units in zip(info["outcomes"], info["outcome_units"]):
            rows = [r for r in a.indices if r["scenario"] == scenario and r["outcome"] == outcome]
            which = [r["factor"] for r in rows if matters(r, rows)]
            lines += [f"## {scenario}: {outcome} ({units})", "",
                      "Factors that matter: " + (", ".join(which) if which else "none"), "",
                      indices_table(a, scenario, outcome)]
    constant = [(r["scenario"], r["outcome"]) for r in a.indices
                if r["outcome"].startswith("met:") and r.get("note") == "no variation"]
    if a.thresholds or constant:
        lines += ["## Thresholds", ""]
        for scenario, outcome in dict.fromkeys(constant):
            k = info["scenarios"].index(scenario)
            values = a.response.sel(scenario=scenario, outcome=outcome).values[a.complete[k]]
            values = values[np.isfinite(values)]
            if values.size:
                lines.append(f"- {scenario}: {outcome} has probability {values[0]:.0%} at "
                             "every point: no threshold in these ranges")
        if lines[-1]:
            lines.append("")
    if a.thresholds:
        lines += [
                  "Where the probability of meeting a target first reaches each level"
                  + (" (by factor octile, averaged over the other factors)"
                     if len(info["factors"]) > 1 else "") + ":", "",
                  "| scenario | outcome | factor | 50 % | 90 % |", "|---|---|---|---:|---:|"]
        keys = dict.fromkeys((t["scenario"], t["outcome"], t["factor"]) for t in a.thresholds)
        for key in keys:
            cells = []
            for level in (0.5, 0.9):
                t = next(t for t in a.thresholds
                         if (t["scenario"], t["outcome"], t["factor"], t["level"]) == (*key, level))
                cells.append({"at": f"{_fmt(t['value'])}",
                              "below": f"≤ {_fmt(t['value'])} (lowest value)",
                              "never": f"not reached (max {t['value']:.0%})"}[t["where"]])
            lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {cells[0]} | {cells[1]} |")
        lines.append("")
    if a.failures:
        lines += ["## Failed tasks", "", "| scenario | point | seed | values | error |",
                  "|---|---:|---:|---|---|"]
        for f in a.failures.values():
            values = ", ".join(f"{k}={_fmt(v)}" for k, v in f["values"].items())
            error = f["error"].replace("|", "\\|").replace("\n", " ")[:300]
            lines.append(f"| {f['scenario']} | {f['point']} | {f['seed']} | {values} | {error} |")
        lines.append("")
    if charts:
        lines += ["Charts: " + ", ".join(charts), ""]
    return "\n".join(lines)


def indices_csv(a: Analysis) -> str:
    """Every index row as CSV."""
    columns = ["scenario", "outcome", "factor", "S1", "S1_conf", "ST", "ST_conf", "mu_star",
               "mu_star_conf", "sigma", "rho", "p_value", "note"]
    lines = [",".join(columns)]
    for r in a.indices:
        lines.append(",".join(json.dumps(r[c]) if isinstance(r.get(c), str) else
                              (repr(r[c]) if c in r else "") for c in columns))
    return "\n".join(lines) + "\n"


def write(store: SweepStore, folder: Path) -> tuple[Analysis, list[str]]:
    """Analyse ``store`` and write ``sweep.md``, ``indices.csv`` and the charts
    into ``folder`` (each file whole or not at all)."""
    from model.sweep import charts as sweep_charts

    a = analyse(store)
    folder = Path(folder)
    written = sweep_charts.write_all(a, folder)
    text = markdown(a, written)
    atomic_write(folder / "indices.csv",
                 lambda tmp: Path(tmp).write_text(indices_csv(a), encoding="utf-8"))
    atomic_write(folder / "sweep.md", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return a, ["sweep.md", "indices.csv"] + written
