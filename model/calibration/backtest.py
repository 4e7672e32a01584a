"""``povsim backtest``: fit up to a year, forecast the later years of an
observed series, and score the forecast beside three naive baselines.

The observed file has the format of ``national_headcount.csv`` (columns
``year``, ``indicator``, ``value``, ``unit``; one row per year for the
indicator used, ``poor_population`` by default). The model's forecast is its
survey headcount (:data:`model.calibration.moments.QUANTITIES`), mean over
seeds with the 10-90 % band; with ``posterior`` seed ``i`` uses accepted
vector ``i mod n``.

The forecast carries the model's relative change from the fit year onto the
last observed level: ``observed[fit year] * model[t] / model[fit year]``,
seed by seed. The model holds the registry and a near-poor pool, not every
rural household, so its headcount level sits below the survey's by the poor
it does not hold (``calibration/observation.md``); what it forecasts is the
change. The unanchored level is shown beside it (``model level``) and scored
too, so the choice is visible.

Baselines, fitted on the observed values from ``baseline_from`` (default: the
first year of a fitted headcount moment, or the year before the fit year if
that leaves one year) to the fit year:

- constant last reduction: the last year's fall repeats every year;
- linear trend: least squares line through the values;
- log-linear trend: least squares line through their logarithms (a constant
  rate of decline).

Scores: absolute percentage error per year, ``100 |forecast - observed| /
observed``, and their mean (MAPE).
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model import runs
from model.calibration import fit as fitting
from model.calibration import moments as mom
from model.calibration import posterior
from model.calibration.targets import Targets, load_targets
from model.errors import PovsimError
from model.scenario import load_scenario

BASELINES = ("constant last reduction", "linear trend", "log-linear trend")


def read_observed(path: str | Path, indicator: str = "poor_population") -> tuple[dict[int, float],
                                                                                  str]:
    """``{year: value}`` and the unit of ``indicator`` in an observed file.

    Raises
    ------
    PovsimError
        Naming the file, line, column and value on a bad row, a missing
        column or indicator (with a close match), or a year given twice.
    """
    from model.errors import close_match

    path = Path(path)
    if not path.is_file():
        raise PovsimError(f"observed file '{path}' not found")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        for col in ("year", "indicator", "value"):
            if col not in columns:
                raise PovsimError(f"{path}: missing column '{col}' (expected the format of "
                                  "national_headcount.csv: year,indicator,value,unit,...)"
                                  + close_match(col, columns))
        out: dict[int, float] = {}
        units, seen = set(), set()
        for line, row in enumerate(reader, start=2):
            seen.add(row["indicator"])
            if row["indicator"] != indicator:
                continue
            try:
                year = int(row["year"])
            except (TypeError, ValueError):
                raise PovsimError(f"{path}, line {line}: year = {row['year']!r}: expected a "
                                  "year") from None
            try:
                value = float(row["value"])
            except (TypeError, ValueError):
                raise PovsimError(f"{path}, line {line}: value = {row['value']!r}: expected a "
                                  "number") from None
            if not value > 0:
                raise PovsimError(f"{path}, line {line}: value = {row['value']!r}: expected a "
                                  "positive count")
            if year in out:
                raise PovsimError(f"{path}, line {line}: {indicator} {year} is given twice")
            out[year] = value
            units.add(row.get("unit", ""))
    if not out:
        raise PovsimError(f"{path}: no row with indicator '{indicator}'"
                          + close_match(indicator, sorted(seen)))
    if len(units) > 1:
        raise PovsimError(f"{path}: {indicator} rows mix units {sorted(units)}")
    return dict(sorted(out.items())), units.pop()


def baselines(observed: dict[int, float], years: list[int]) -> dict[str, dict[int, float]]:
    """The three naive forecasts of ``years`` from the ``observed`` values.

    Parameters
    ----------
    observed : dict
        ``{year: value}``, at least two years.
    years : list of int
        Years to forecast.
    """
    if len(observed) < 2:
        raise PovsimError(f"baselines need at least two observed years, got {sorted(observed)}")
    x = np.array(sorted(observed), float)
    y = np.array([observed[int(k)] for k in x])
    last, step = y[-1], y[-2] - y[-1]
    slope, intercept = np.polyfit(x, y, 1)
    lslope, lintercept = np.polyfit(x, np.log(y), 1)
    return {
        "constant last reduction": {t: float(last - step * (t - x[-1])) for t in years},
        "linear trend": {t: float(intercept + slope * t) for t in years},
        "log-linear trend": {t: float(np.exp(lintercept + lslope * t)) for t in years},
    }


def ape(forecast: dict[int, float], observed: dict[int, float]) -> dict[int, float]:
    """Absolute percentage error per year (percent)."""
    return {t: 100 * abs(forecast[t] - observed[t]) / abs(observed[t]) for t in forecast}


def mape(errors: dict[int, float]) -> float:
    return float(np.mean(list(errors.values()))) if errors else float("nan")


@dataclass
class Backtest:
    """Observed values, the model's forecast (mean, p10, p90), the baselines
    and their errors."""

    fit_until: int
    observed: dict[int, float]
    unit: str
    years: list[int]
    forecast: dict[int, tuple[float, float, float]]
    baselines: dict[str, dict[int, float]]
    errors: dict[str, dict[int, float]]
    fit: str
    level: dict[int, float] = dataclasses.field(default_factory=dict)  # unanchored model mean

    def table(self) -> str:
        head = ["year", "observed", "model (p10-p90)", "APE model", "model level",
                "APE level"]
        for b in BASELINES:
            head += [b, f"APE {b.split()[0]}"]
        rows = []
        for t in self.years:
            mean, lo, hi = self.forecast[t]
            row = [str(t), f"{self.observed[t]:,.0f}", f"{mean:,.0f} ({lo:,.0f}-{hi:,.0f})",
                   f"{self.errors['model'][t]:.1f} %", f"{self.level.get(t, np.nan):,.0f}",
                   f"{self.errors.get('model level', {}).get(t, np.nan):.1f} %"]
            for b in BASELINES:
                row += [f"{self.baselines[b][t]:,.0f}", f"{self.errors[b][t]:.1f} %"]
            rows.append(row)
        last = ["MAPE", "", "", f"{mape(self.errors['model']):.1f} %", "",
                f"{mape(self.errors.get('model level', {})):.1f} %"]
        for b in BASELINES:
            last += ["", f"{mape(self.errors[b]):.1f} %"]
        rows.append(last)
        widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(head)]
        lines = [f"back-test: fitted to {self.fit_until} ({self.fit}); {self.unit}",
                 "  ".join(h.rjust(w) for h, w in zip(head, widths))]
        lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows]
        best = min(["model", *BASELINES], key=lambda k: mape(self.errors[k]))
        lines.append(f"lowest MAPE: {best}")
        return "\n".join(lines)


def forecast_runs(scenario, seeds, workers):
    """Run ``scenario`` for ``seeds`` (on the cluster when ``workers`` > 1)."""
    return runs.run_all([scenario], list(seeds), workers, progress=True)[0]


def committed_fit(full: Targets, restricted: Targets, folder: Path | None = None) -> Path | None:
    """A fit in ``folder`` (default ``calibration/fits``) made from exactly the
    moments a back-test to ``restricted.fit_until`` would fit: the same targets
    file (by its SHA-256), the same moments, no later end year. The fit of the
    targets' scenario wins over any other; ``None`` when there is none, for
    instance when the back-test drops moments the committed fit used."""
    folder = folder or posterior.fits_folder()
    if not folder.is_dir():
        return None
    names = [m.name for m in restricted.moments]
    own = folder / f"{full.scenario}.toml"
    for path in [own] + sorted(p for p in folder.glob("*.toml") if p != own):
        if not path.is_file():
            continue
        made = posterior.read_fit(path).get("fit", {})
        if (made.get("targets_sha256") == full.sha256 and list(made.get("moments", [])) == names
                and int(made.get("end_year", 10**4)) <= restricted.fit_until):
            return path
    return None


def backtest(fit_until: int, observed_path: str | Path, fit: str | None = None,
             targets: str | Path = "calibration/targets.toml", indicator: str = "poor_population",
             trials: int = 50, seeds: int = 2, forecast_seeds: int = 10,
             scale: float | None = None, workers: int | None = None, use_posterior: bool = False,
             baseline_from: int | None = None, out: Path | None = None,
             mcmc_steps: int = 0, refit: bool = False, fits: Path | None = None,
             echo=print) -> Backtest:
    """Fit (or reuse ``fit``) on the targets up to ``fit_until``, forecast
    the observed years after it, score model and baselines, write a chart.

    Without ``fit``, a committed fit of exactly the same moments
    (:func:`committed_fit`, looked up in ``fits``) is reused unless
    ``refit``: a back-test from the last fitted year forecasts with the
    model's calibrated defaults, not with a short new fit. ``scale``: share
    simulated (default: the reused fit's; 0.01 for a new fit).
    ``mcmc_steps``: Metropolis draws as the fit's accepted set (for
    ``use_posterior``; :mod:`model.calibration.mcmc`)."""
    from model.calibration.calibrate import calibrate

    observed, unit = read_observed(observed_path, indicator)
    if unit not in mom.UNITS or mom.UNITS[unit][0] != "persons":
        raise PovsimError(f"{observed_path}: {indicator} is in {unit!r}: expected persons "
                          f"(one of {', '.join(k for k, v in mom.UNITS.items() if v[0] == 'persons')})")
    later = [t for t in observed if t > fit_until]
    if not later:
        raise PovsimError(f"{observed_path}: no {indicator} year after {fit_until} to score")
    full = load_targets(targets)
    restricted = full.until(fit_until)
    if not restricted.fitted:
        raise PovsimError(f"{full.path}: no fitted moment up to {fit_until}")
    out = Path(out) if out is not None else Path("outputs") / f"backtest-{fit_until}"
    if fit is None and not refit:
        found = committed_fit(full, restricted, fits)
        if found is not None:
            echo(f"reusing {found}: fitted to the same {len(restricted.fitted)} moments of "
                 f"{full.path} (up to {restricted.fit_until}); --refit fits anew")
            fit = str(found)
    if fit is None:
        name = f"backtest-{fit_until}"
        echo(f"fitting {name}: {len(restricted.fitted)} moments up to {fit_until}")
        done = calibrate(restricted, trials=trials, seeds=seeds, scale=scale or 0.01,
                         workers=workers,
                         resume=(out / "study" / "study.journal").is_file(), name=name,
                         fits=out / "fits", study_dir=out / "study", profile_points=0,
                         band_seeds=0, mcmc_steps=mcmc_steps, echo=echo)
        fit_file = done.fit_path
    else:
        fit_file = posterior.find_fit(fit)
    data = posterior.read_fit(fit_file)
    scenario = load_scenario(full.scenario, fits=fitting.usable_fit(restricted))
    scenario = dataclasses.replace(
        scenario, params=scenario.params.with_overlay(data["parameters"], str(fit_file)),
        scale=float(scale or data["fit"].get("scale", scenario.scale)),
        end_year=max(later))
    if use_posterior:
        scenario = posterior.attach(scenario, fit_file)
    ds = forecast_runs(scenario, range(forecast_seeds), workers)
    factor = mom.UNITS[unit][1]
    runs = [t for t in later if t in ds["year"].values]
    if fit_until not in observed or fit_until not in ds["year"].values:
        raise PovsimError(f"{observed_path}: no {indicator} value for {fit_until}, the year the "
                          "forecast starts from")
    start_level = np.asarray(mom.survey_headcount(ds, fit_until), float) / factor
    levels = {t: np.asarray(mom.survey_headcount(ds, t), float) / factor for t in runs}
    values = {t: observed[fit_until] * v / start_level for t, v in levels.items()}
    forecast = {t: (float(v.mean()), float(np.quantile(v, 0.1)), float(np.quantile(v, 0.9)))
                for t, v in values.items()}
    start = baseline_from or min(m.year for m in restricted.fitted
                                 if m.quantity == "survey_headcount")
    before = sorted(t for t in observed if t <= fit_until)
    if len([t for t in before if t >= start]) < 2 and len(before) >= 2:
        start = min(start, before[-2])      # a trend needs two years
    fitted_years = {t: v for t, v in observed.items() if start <= t <= fit_until}
    base = baselines(fitted_years, runs)
    scored = {t: observed[t] for t in runs}
    level = {t: float(v.mean()) for t, v in levels.items()}
    errors = {"model": ape({t: forecast[t][0] for t in runs}, scored),
              "model level": ape(level, scored)}
    errors.update({b: ape(base[b], scored) for b in BASELINES})
    result = Backtest(fit_until, observed, unit, runs, forecast, base, errors, str(fit_file),
                      level)
    model_years = {int(t): observed[fit_until]
                   * np.asarray(mom.survey_headcount(ds, int(t)), float) / factor / start_level
                   for t in ds["year"].values if int(t) >= fit_until}
    from model.atomic import output_folder
    with output_folder(out) as path_for:       # both files or neither
        chart(result, model_years, path_for("backtest.png"))
        path_for("backtest.txt").write_text(result.table() + "\n", encoding="utf-8")
    return result


def chart(result: Backtest, model_years: dict, path: Path) -> None:
    """Observed series, the model's fan (10-90 % over seeds) and the baselines."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8))
    years = sorted(result.observed)
    ax.plot(years, [result.observed[t] for t in years], "ko-", label="observed")
    ys = sorted(int(t) for t in model_years)
    v = [model_years[t] for t in ys]
    ax.fill_between(ys, [np.quantile(x, 0.1) for x in v], [np.quantile(x, 0.9) for x in v],
                    color="tab:blue", alpha=0.25, label="model 10-90 % (from the last observed level)")
    ax.plot(ys, [x.mean() for x in v], color="tab:blue", label="model mean")
    for b, style in zip(BASELINES, ("--", "-.", ":")):
        pts = [result.fit_until] + result.years
        vals = [result.observed[result.fit_until]] + [result.baselines[b][t] for t in result.years]
        ax.plot(pts, vals, style, color="tab:grey", label=b)
    ax.axvline(result.fit_until + 0.5, color="tab:red", lw=0.8)
    ax.text(result.fit_until + 0.55, ax.get_ylim()[1], " forecast", va="top", color="tab:red")
    ax.set_xlabel("year")
    ax.set_ylabel(result.unit)
    ax.set_title(f"back-test: fitted to {result.fit_until}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
