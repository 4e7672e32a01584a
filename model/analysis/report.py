"""Reports of a comparison (:func:`model.analysis.compare.compare`): a Markdown
summary, a CSV table and the NetCDF file, written all together or not at all.

Figures across seeds are the median with the 10-90 % range in brackets
(``median (p10 to p90)``); paired differences are the mean with the 10-90 %
range of the differences. A year when registered poor people reach zero is
summarised with observed years only (``inverted_cdf`` quantiles, no
interpolation); a seed that does not reach zero counts as later than any
year ("not by <end year>").
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import xarray as xr

from model.analysis import report_text
from model.analysis.charts import money_unit
from model.analysis.compare import (
    OUTCOMES,
    Target,
    capacity_shortfalls,
    counties_short_of_exit,
    full_size,
    income_waiting_at_deadline,
    waiting_at_deadline,
)
from model.engine.codes import ATTRIBUTION

Q = (0.1, 0.5, 0.9)
CSV_COLUMNS = ("scenario", "measure", "year", "batch", "unit", "planned", "mean", "p10",
               "median", "p90", "probability", "probability_low", "probability_high",
               "diff_mean", "diff_p10", "diff_p90", "note")
LEVEL = 0.9          # of the Monte Carlo interval of a probability
FEW_SEEDS = 20       # below this, the summary warns that probabilities are rough


# ---------------------------------------------------------------- numbers

def quantiles(values, qs=Q) -> np.ndarray:
    """Quantiles over seeds ignoring NaN (NaN when every value is NaN)."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[~np.isnan(v)]
    return np.quantile(v, qs) if v.size else np.full(len(qs), np.nan)


def year_quantiles(years, qs=Q) -> np.ndarray:
    """Quantiles of years in which something happened, NaN meaning "not by
    the end": observed years only, ``inf`` for a quantile among the seeds
    that did not get there."""
    v = np.asarray(years, dtype=float).ravel()
    return np.quantile(np.where(np.isnan(v), np.inf, v), qs, method="inverted_cdf")


def jeffreys(met, level: float = LEVEL) -> tuple[float, float]:
    """Jeffreys interval of a probability estimated from seeds.

    Parameters
    ----------
    met : array of 0, 1 or NaN
        Per seed: target met (1) or not (0); NaN seeds are left out.
    level : float
        Coverage of the interval.

    Returns
    -------
    (low, high) : float
        Equal-tailed quantiles of Beta(k + 1/2, n - k + 1/2) for k successes
        in n seeds, with low = 0 when k = 0 and high = 1 when k = n (Brown,
        Cai and DasGupta 2001); NaN when no seed counts.
    """
    from scipy.stats import beta

    v = np.asarray(met, dtype=float).ravel()
    v = v[~np.isnan(v)]
    n, k = v.size, float(v.sum())
    if n == 0:
        return np.nan, np.nan
    tail = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(tail, k + 0.5, n - k + 0.5))
    high = 1.0 if k == n else float(beta.ppf(1 - tail, k + 0.5, n - k + 0.5))
    return low, high


def fmt_number(x: float, digits: int = 0) -> str:
    """``12,345`` (thousands separators); ``-`` for NaN."""
    return "-" if x is None or np.isnan(x) else f"{x:,.{digits}f}"


def fmt_year(y: float, end_year: int, t: dict | None = None) -> str:
    not_by = (t or report_text.TEXT["en"])["not_by"]
    return not_by.format(year=end_year) if np.isinf(y) else str(int(y))


def fmt_share(x: float) -> str:
    return "-" if np.isnan(x) else f"{100 * x:.0f} %"


def fmt_range(values, digits: int = 0, scale: float = 1.0, mean: bool = False,
              to: str = "to") -> str:
    """``median (p10 to p90)`` (``mean (...)`` with ``mean``), values divided
    by ``scale``; ``to`` is the word between the two ends."""
    v = np.asarray(values, dtype=float) / scale
    lo, mid, hi = quantiles(v)
    if mean:
        mid = np.nanmean(v) if np.any(~np.isnan(v)) else np.nan
    if np.isnan(mid):
        return "-"
    if v.size == 1 or lo == hi:
        return fmt_number(mid, digits)
    return f"{fmt_number(mid, digits)} ({fmt_number(lo, digits)} {to} {fmt_number(hi, digits)})"


def zero_year_text(years, end_year: int, t: dict | None = None) -> str:
    t = t or report_text.TEXT["en"]
    lo, mid, hi = year_quantiles(years)
    text = fmt_year(mid, end_year, t)
    return text if lo == hi else (f"{text} ({fmt_year(lo, end_year, t)} {t['to']} "
                                  f"{fmt_year(hi, end_year, t)})")


# ---------------------------------------------------------------- the summary

def labels(cmp: xr.Dataset) -> list[str]:
    return [str(s) for s in cmp["scenario"].values]


def _end_year(cmp: xr.Dataset, label: str) -> int:
    return int(cmp["scenario_end_year"].sel(scenario=label))


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


class _Words:
    """The words and number formats of a summary in one language."""

    def __init__(self, cmp: xr.Dataset, lang: str):
        self.lang, self.t = lang, report_text.TEXT[lang]
        self.people, self.people_digits = report_text.PEOPLE[lang]
        largest = float(np.nanmax(np.abs(cmp["cost_sum"].values))) if "cost_sum" in cmp else 0.0
        self.money, money = money_unit(largest if np.isfinite(largest) else 0.0, lang)
        self.money_digits = 1 if lang == "en" else 2
        self.units = {"persons": self.t["persons"], "money": money}

    def persons(self, x: float) -> str:
        return fmt_number(x / self.people, self.people_digits)

    def persons_range(self, values, mean: bool = False) -> str:
        return fmt_range(values, self.people_digits, self.people, mean, self.t["to"])

    def money_range(self, values, mean: bool = False) -> str:
        return fmt_range(values, self.money_digits, self.money, mean, self.t["to"])

    def value(self, x: float, units: str) -> str:
        return fmt_share(x) if units == "1" else self.persons(x)


def markdown(cmp: xr.Dataset, quota_lines: list[str] | None = None, lang: str = "en") -> str:
    """The Markdown summary of a comparison.

    Parameters
    ----------
    cmp : xarray.Dataset
        :func:`model.analysis.compare.compare`'s dataset (or ``compare.nc`` read back).
    quota_lines : list of str, optional
        Pathway quotas the programmes cannot deliver
        (:func:`model.analysis.quota_check.lines`), listed as a warning.
    lang : {"en", "zh"}
        English, or Chinese (counts in 万人, money in 万元 or 亿元).

    Returns
    -------
    str
        Sections: when registered poor reach zero, targets (probability of
        meeting each), gap to the plan, exits by batch, returns and cost,
        and paired differences against the first scenario when there are
        several. Counts and money are at full size (:func:`full_size`), and
        the scale of a sample run is stated.
    """
    cmp = full_size(cmp)
    w = _Words(cmp, lang)
    t = w.t
    names = labels(cmp)
    seeds = [int(s) for s in cmp["seed"].values]
    seed_text = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
    lines = [t["title"].format(names=", ".join(names)), "",
             t["intro"].format(n=len(seeds), seeds=seed_text, level=f"{100 * LEVEL:.0f}")]
    if len(seeds) < FEW_SEEDS:
        lines.append(t["few"].format(n=len(seeds), few=FEW_SEEDS))
    scales: dict[float, list[str]] = {}
    for n in names:
        scales.setdefault(float(cmp["scenario_scale"].sel(scenario=n)), []).append(n)
    for scale, group in scales.items():
        if scale < 1:
            lines.append(t["scale"].format(scale=scale, names=", ".join(group)))
    warnings = capacity_warnings(cmp, names, lang)
    if warnings:
        lines += ["", t["capacity_head"], "", t["capacity"], ""] + warnings
    waiting = waiting_warnings(cmp, names, lang)
    if waiting:
        lines += ["", t["waiting_head"], "", t["waiting"], ""] + waiting
    income_waiting = income_waiting_warnings(cmp, names, lang)
    if income_waiting:
        lines += ["", t["income_waiting_head"], "", t["income_waiting"], ""] + income_waiting
    counties = county_lines(cmp, names, lang)
    if counties:
        lines += ["", t["county_head"], "", t["county"], ""] + counties
    if quota_lines:
        lines += ["", t["quota_head"], "", t["quota"], ""] + quota_lines
    lines += ["", t["zero_head"], ""] + _zero_section(cmp, names, w)
    lines += ["", t["targets_head"], "", t["targets"], ""]
    lines += _target_section(cmp, names, w)
    gap = _gap_section(cmp, names, w)
    if gap:
        lines += ["", t["gap_head"], "", t["gap"].format(**w.units), ""] + gap
    lines += ["", t["batch_head"], "", t["batch"].format(persons_cap=t["persons_cap"]), ""]
    lines += _batch_section(cmp, names, w)
    lines += ["", t["cost_head"], "", t["cost"].format(**w.units), ""]
    lines += _cost_section(cmp, names, w)
    if len(names) > 1:
        lines += ["", t["diff_head"].format(name=names[0]), "", t["diff"], ""]
        lines += _diff_section(cmp, names, w)
    return "\n".join(lines) + "\n"


def capacity_warnings(cmp: xr.Dataset, names: list[str], lang: str = "en") -> list[str]:
    """One line per scenario and programme whose capacity falls short of the
    need by the deadline (:func:`model.analysis.compare.capacity_shortfalls`)."""
    # years and programmes a scenario lacks (outer join) are NaN: skipped
    return _programme_lines(cmp, names, lang, ["programme_need", "programme_capacity"],
                            capacity_shortfalls, "capacity", "need", "capacity_line")


def waiting_warnings(cmp: xr.Dataset, names: list[str], lang: str = "en") -> list[str]:
    """One line per scenario and programme with households still waiting for
    delivery at the deadline (:func:`model.analysis.compare.waiting_at_deadline`)."""
    return _programme_lines(cmp, names, lang, ["programme_need", "delivery_backlog"],
                            waiting_at_deadline, "waiting", "need", "waiting_line")


def income_waiting_warnings(cmp: xr.Dataset, names: list[str], lang: str = "en") -> list[str]:
    """One line per scenario and income programme with many households still
    waiting for delivery at the deadline
    (:func:`model.analysis.compare.income_waiting_at_deadline`)."""
    return _programme_lines(cmp, names, lang,
                            ["programme_need", "delivery_backlog", "new_households"],
                            income_waiting_at_deadline, "waiting", "enrolled",
                            "income_waiting_line")


def county_lines(cmp: xr.Dataset, names: list[str], lang: str = "en") -> list[str]:
    """One line per scenario whose poor counties are not all out by its
    county deadline (:func:`model.analysis.compare.counties_short_of_exit`)."""
    out = []
    variables = [v for v in ("county_exit_year", "incidence", "poor_county") if v in cmp]
    if len(variables) < 3:
        return out
    for n in names:
        s = counties_short_of_exit(cmp[variables].sel(scenario=n), scenario_targets(cmp, n))
        if s is not None:
            out.append(report_text.TEXT[lang]["county_line"].format(
                name=n, not_out=fmt_number(s["not_out"]), poor=fmt_number(s["poor"]),
                deadline=s["deadline"], lowest="-" if np.isnan(s["lowest_incidence"])
                else f"{100 * s['lowest_incidence']:.1f} %"))
    return out


def _programme_lines(cmp: xr.Dataset, names: list[str], lang: str, variables: list[str],
                     find, amount: str, whole: str, line: str) -> list[str]:
    """The lines of ``find(run, targets)`` for each scenario (``run``: the
    comparison's ``variables`` of that scenario): ``amount`` (a count)
    against ``whole`` (the base-year need, or the households enrolled), in
    ``TEXT[lang][line]``, or in ``TEXT[lang][line + "_over"]`` when there is
    one and the count exceeds the whole."""
    out = []
    if any(v not in cmp for v in variables):
        return out
    text = report_text.TEXT[lang]
    for n in names:
        run = cmp[variables].sel(scenario=n)
        for s in find(run, scenario_targets(cmp, n)):
            over = s[amount] > s[whole] and f"{line}_over" in text
            out.append(text[f"{line}_over" if over else line].format(
                name=n, programme=s["programme"], deadline=s["deadline"],
                share=fmt_share(s[amount] / s[whole]),
                **{amount: fmt_number(s[amount]), whole: fmt_number(s[whole])}))
    return out


def _zero_section(cmp: xr.Dataset, names: list[str], w: _Words) -> list[str]:
    t = w.t
    zero_targets = [Target.from_label(x) for x in cmp["target"].values
                    if str(x).startswith("zero_by:")]
    head = list(t["zero_cols"]) + [t["p_zero"].format(year=x.year) for x in zero_targets]
    rows = []
    for n in names:
        c = cmp.sel(scenario=n)
        start = quantiles(c["registered_people_total"].sel(year=int(c["scenario_base_year"])))[1]
        row = [n, str(c["scenario_registry"].values),
               f"{int(c['scenario_base_year'])}-{int(c['scenario_end_year'])}",
               w.persons(start), zero_year_text(c["zero_year"].values, _end_year(cmp, n), t)]
        for x in zero_targets:
            plan = float(c["target_in_plan"].sel(target=x.label)) == 1
            row.append(_probability(zero_by(c, x.year), t) + (t["plan_mark"] if plan else ""))
        rows.append(row)
    return _table(head, rows)


def zero_by(c: xr.Dataset, year: int) -> np.ndarray:
    """Per seed of one scenario: 1 when no registered poor are left at the
    end of ``year``, 0 when some are, NaN when the year is not simulated."""
    if year not in c["year"].values:
        return np.full(c.sizes["seed"], np.nan)
    registered = c["registered_people_total"].sel(year=year).values
    return np.where(np.isnan(registered), np.nan, (registered == 0).astype(float))


def _probability(met, t: dict | None = None) -> str:
    """``75 % [41-94 %]``: the share of seeds and its Jeffreys interval."""
    met = np.asarray(met, dtype=float)
    if np.all(np.isnan(met)):
        return (t or report_text.TEXT["en"])["not_simulated"]
    low, high = jeffreys(met)
    return f"{fmt_share(np.nanmean(met))} [{100 * low:.0f}-{100 * high:.0f} %]"


def _target_section(cmp: xr.Dataset, names: list[str], w: _Words) -> list[str]:
    t = w.t
    rows = []
    for label in cmp["target"].values:
        target = Target.from_label(label)
        if target.kind == "zero_by":
            continue
        units = str(cmp["target_units"].sel(target=label).values)
        row = [report_text.target_text(target, w.lang)]
        for n in names:
            c = cmp.sel(scenario=n, target=label)
            if np.isnan(float(c["target_in_plan"])):
                row.append("")
                continue
            met = c["target_met"].values
            actual = quantiles(c["target_actual"].values)[1]
            planned = float(c["target_planned"])
            row.append(t["target_cell"].format(p=_probability(met, t),
                                               actual=w.value(actual, units),
                                               planned=w.value(planned, units))
                       if not np.all(np.isnan(met)) else t["not_simulated"])
        rows.append(row)
    if not rows:
        return [t["no_targets"]]
    return _table([t["target"]] + names, rows)


def _gap_section(cmp: xr.Dataset, names: list[str], w: _Words) -> list[str]:
    if "gap_people" not in cmp:
        return []
    planned = [n for n in names if not np.all(np.isnan(cmp["gap_people"].sel(scenario=n)))]
    if not planned:
        return []
    rows = []
    for year in cmp["year"].values:
        row = [str(int(year))]
        for n in planned:
            c = cmp.sel(scenario=n, year=year)
            gap = c["gap_people"].values
            plan = float(c["plan_remaining_people"])
            row.append("" if np.isnan(plan) else w.t["gap_cell"].format(
                gap=w.persons_range(gap), plan=w.persons(plan)))
        rows.append(row)
    return _table([w.t["year"]] + planned, rows)


def _batch_section(cmp: xr.Dataset, names: list[str], w: _Words) -> list[str]:
    rows = []
    for n in names:
        c = cmp.sel(scenario=n)
        exclusive = c["exits_by_batch"].sum("year", min_count=1).mean("seed")
        reached = c["reached_by_batch"].sum("year", min_count=1).mean("seed")
        quota = c["quota_by_batch"].sum("year", min_count=1)
        for batch in ATTRIBUTION:
            rows.append([n, report_text.batch_name(batch, w.lang),
                         w.persons(float(exclusive.sel(batch=batch))),
                         w.persons(float(reached.sel(batch=batch))),
                         w.persons(float(quota.sel(batch=batch)))])
    return _table(w.t["batch_cols"], rows)


def _cost_section(cmp: xr.Dataset, names: list[str], w: _Words) -> list[str]:
    rows = []
    for n in names:
        c = cmp.sel(scenario=n)
        rows.append([n, w.persons_range(c["exits_sum"].values),
                     w.persons_range(c["returns_sum"].values),
                     w.money_range(c["cost_sum"].values),
                     fmt_range(c["cost_per_exit"].values, to=w.t["to"])])
    return _table([h.format(**w.units) for h in w.t["cost_cols"]], rows)


def _diff_section(cmp: xr.Dataset, names: list[str], w: _Words) -> list[str]:
    t = w.t
    rows = []
    for n in names[1:]:
        c = cmp.sel(scenario=n)
        zero = c["diff_zero_year"].values
        both = int(np.sum(~np.isnan(zero)))
        zero_text = (t["diff_zero"].format(value=fmt_range(zero, 1, mean=True, to=t["to"]),
                                           both=both, n=zero.size)
                     if both else t["diff_none"])
        rows.append([n, zero_text, w.persons_range(c["diff_registered_end"].values, True),
                     w.persons_range(c["diff_exits_sum"].values, True),
                     w.persons_range(c["diff_returns_sum"].values, True),
                     w.money_range(c["diff_cost_sum"].values, True),
                     fmt_range(c["diff_cost_per_exit"].values, mean=True, to=t["to"])])
    return _table([h.format(**w.units) for h in t["diff_cols"]], rows)


# ---------------------------------------------------------------- the CSV table

def _stats(values) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    lo, mid, hi = quantiles(v)
    return {"mean": np.nanmean(v) if np.any(~np.isnan(v)) else np.nan, "p10": lo,
            "median": mid, "p90": hi}


def table_rows(cmp: xr.Dataset) -> list[dict]:
    """The CSV table: one row per scenario and measure (and year, batch).

    Columns are :data:`CSV_COLUMNS`: ``planned`` is the plan's value, ``mean`` / ``p10`` / ``median`` / ``p90`` are over seeds,
    ``probability`` the share of seeds meeting a target, ``diff_*`` the
    paired differences against the first scenario; ``probability_low`` /
    ``probability_high`` its Jeffreys interval (:func:`jeffreys`). Every
    column but the labels and ``note`` is numeric: for ``zero_year`` a
    quantile among seeds that never reach zero is empty and ``note`` says
    "not by <end year>"; ``probability`` is the share of seeds reaching zero
    by the end. Counts of people and money are at full size
    (:func:`full_size`: a sample run's divided by its scale), and ``note``
    states the scale they were simulated at.
    """
    scales = {n: float(cmp["scenario_scale"].sel(scenario=n)) for n in labels(cmp)}
    cmp = full_size(cmp)
    rows = []
    first = labels(cmp)[0]

    def add(scenario, measure, unit, values, year="", batch="", planned=np.nan, **extra):
        row = {"scenario": scenario, "measure": measure, "year": year, "batch": batch,
               "unit": unit, "planned": planned, **_stats(values)}
        row.update(extra)
        rows.append(row)

    for n in labels(cmp):
        c = cmp.sel(scenario=n)
        end = _end_year(cmp, n)
        years = [int(y) for y in c["year"].values
                 if not np.all(np.isnan(c["registered_people_total"].sel(year=y)))]
        plan = c.get("plan_remaining_people")
        for y in years:
            cy = c.sel(year=y)
            planned = float(plan.sel(year=y)) if plan is not None else np.nan
            add(n, "registered_people", "persons", cy["registered_people_total"], y,
                planned=planned)
            if not np.isnan(planned):
                add(n, "gap_people", "persons", cy["gap_people"], y)
            add(n, "exits_people", "persons", cy["exits_people_total"], y)
            add(n, "returns_people", "persons", cy["returns_people_total"], y)
            add(n, "cost", "yuan", cy["cost_total"], y)
            for batch in ATTRIBUTION:
                quota = float(cy["quota_by_batch"].sel(batch=batch))
                add(n, "exits_by_batch_exclusive", "persons",
                    cy["exits_by_batch"].sel(batch=batch), y, batch, quota)
                if batch != "none":
                    add(n, "exits_by_batch_reached", "persons",
                        cy["reached_by_batch"].sel(batch=batch), y, batch, quota)
        zero = c["zero_year"].values
        lo, mid, hi = year_quantiles(zero)
        diff = {}
        if n != first:
            d = _stats(c["diff_zero_year"].values)
            diff = {"diff_mean": d["mean"], "diff_p10": d["p10"], "diff_p90": d["p90"]}
        never = [q for q, v in zip(("p10", "median", "p90"), (lo, mid, hi)) if np.isinf(v)]
        low, high = jeffreys(~np.isnan(zero))
        rows.append({"scenario": n, "measure": "zero_year", "year": "", "batch": "",
                     "unit": "year", "planned": np.nan, "mean": np.nan,
                     **{q: np.nan if np.isinf(v) else v
                        for q, v in zip(("p10", "median", "p90"), (lo, mid, hi))},
                     "probability": float(np.mean(~np.isnan(zero))),
                     "probability_low": low, "probability_high": high,
                     "note": (f"{', '.join(never)}: not by {end} (no zero year in that share "
                              "of seeds)") if never else "",
                     **diff})
        for name, (units, _) in OUTCOMES.items():
            if name == "zero_year":
                continue
            diff = {}
            if n != first:
                d = _stats(c[f"diff_{name}"].values)
                diff = {"diff_mean": d["mean"], "diff_p10": d["p10"], "diff_p90": d["p90"]}
            add(n, name, units, c[name], **diff)
        for label in c["target"].values:
            ct = c.sel(target=label)
            if np.isnan(float(ct["target_in_plan"])):
                continue
            target = Target.from_label(label)
            met = ct["target_met"].values
            low, high = jeffreys(met)
            add(n, f"target {target.kind}", str(ct["target_units"].values), ct["target_actual"],
                target.year, target.batch, float(ct["target_planned"]),
                probability=np.nan if np.all(np.isnan(met)) else float(np.nanmean(met)),
                probability_low=low, probability_high=high)
    scale_notes = {n: f"counts and cost scaled up to full size from scale {scale:g} (the "
                      "share of households simulated)" for n, scale in scales.items() if scale < 1}
    for row in rows:
        if row["scenario"] in scale_notes and row["unit"] in ("persons", "yuan"):
            row["note"] = "; ".join(filter(None, [row.get("note", ""),
                                                  scale_notes[row["scenario"]]]))
    return rows


def csv_text(cmp: xr.Dataset) -> str:
    """:func:`table_rows` as CSV text (numbers to 6 significant digits, empty
    for NaN)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in table_rows(cmp):
        writer.writerow({k: _cell(row.get(k, np.nan)) for k in CSV_COLUMNS})
    return buffer.getvalue()


def _cell(x) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, xr.DataArray):
        x = x.values
    x = float(x)
    if np.isnan(x):
        return ""
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else f"{x:.6g}"


# ---------------------------------------------------------------- writing

def read_comparison(path: Path) -> xr.Dataset:
    """A ``compare.nc`` read back into memory."""
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()


def scenario_targets(cmp: xr.Dataset, label: str) -> dict:
    """One scenario's targets from the comparison dataset."""
    return json.loads(str(cmp["scenario_targets"].sel(scenario=label).values) or "{}")
