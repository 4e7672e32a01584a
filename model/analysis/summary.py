"""The yearly summary of a run: totals over counties and categories, mean
over seeds with a 10-90 % range, beside the plan's remaining count.

Counts of a sample run (scale below 1) are scaled up to the full registry
(divided by the scale), and :func:`scale_note` says so wherever they are shown.
Registered people add up year to year: last year's, less exits, plus returns
(返贫) and new entries (新识别)."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from model.analysis import compare
from model.atomic import atomic_write
from model.results import totals

SUMMARY_COLUMNS = ("registered_households", "registered_people", "exits_people", "returns_people",
                   "entries_people", "true_poor_people", "incidence", "return_rate",
                   "mean_income_registered",
                   "median_income_registered", "poverty_gap")
COUNTS = ("registered_households", "registered_people", "exits_people", "returns_people",
          "entries_people", "true_poor_people")   # scaled up to full size for a sample


def scale_of(ds: xr.Dataset) -> float:
    """Share of households a run simulated (1: the whole registry)."""
    return float(ds.attrs.get("scale", 1.0))


def scale_note(scale: float) -> str:
    """What a reader needs to know about a sample run's counts ('' at full size)."""
    if scale >= 1:
        return ""
    return (f"scale {scale:g}: {scale:.3g} of the households simulated, counts scaled up to "
            f"the full registry (x {1 / scale:.4g})")


def summary_table(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Yearly totals: mean over seeds, and 10th / 90th percentiles if several
    seeds; counts at full size (divided by the run's scale)."""
    t = totals(ds)
    up = 1.0 / scale_of(ds)
    table = {"year": ds["year"].values}
    for col in SUMMARY_COLUMNS:
        v = t[col] * up if col in COUNTS else t[col]
        table[col] = v.mean("seed").values
        if ds.sizes["seed"] > 1:
            with warnings.catch_warnings():     # years without a value (return rate)
                warnings.simplefilter("ignore", RuntimeWarning)
                table[f"{col}_p10"] = v.quantile(0.1, "seed").values
                table[f"{col}_p90"] = v.quantile(0.9, "seed").values
    plan = plan_remaining(ds)
    if plan is not None:
        exits, left = plan
        table["plan_exits_people"], table["plan_registered_people"] = exits * up, left * up
    return table


def plan_remaining(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """Planned exits by year (persons, times the run's scale) and the
    registered count they leave (:func:`model.analysis.compare.plan_remaining`);
    None if the plan has no yearly exits."""
    left = compare.plan_remaining(ds)
    if left is None:
        return None
    planned = compare.targets_of(ds)["exits_people"]
    scale = float(ds.attrs.get("scale", 1.0))
    exits = np.array([planned.get(int(y), 0) for y in ds["year"].values], float) * scale
    return exits, left.values


def write_summary_csv(ds: xr.Dataset, path: Path) -> None:
    """:func:`summary_table` as CSV: numbers only, and a ``note`` column with
    the scale of a sample run."""
    table = summary_table(ds)
    cols = list(table)
    note = scale_note(scale_of(ds))

    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(cols + ["note"])
            for i in range(len(table["year"])):
                writer.writerow([_fmt(table[c][i]) for c in cols] + [note])

    atomic_write(path, write)


def _fmt(x) -> str:
    x = float(x)
    if np.isnan(x):
        return ""
    return str(int(x)) if x == int(x) else f"{x:.6g}"
