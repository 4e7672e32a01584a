"""The yearly summary of a run: totals over counties and categories, mean
over seeds with a 10-90 % range, beside the plan's remaining count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from model.analysis import compare
from model.atomic import atomic_write
from model.results import totals

SUMMARY_COLUMNS = ("registered_households", "registered_people", "exits_people", "returns_people",
                   "true_poor_people", "incidence", "mean_income_registered",
                   "median_income_registered", "poverty_gap")


def summary_table(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Yearly totals: mean over seeds, and 10th / 90th percentiles if several seeds."""
    t = totals(ds)
    table = {"year": ds["year"].values}
    for col in SUMMARY_COLUMNS:
        v = t[col]
        table[col] = v.mean("seed").values
        if ds.sizes["seed"] > 1:
            table[f"{col}_p10"] = v.quantile(0.1, "seed").values
            table[f"{col}_p90"] = v.quantile(0.9, "seed").values
    plan = plan_remaining(ds)
    if plan is not None:
        table["plan_exits_people"], table["plan_registered_people"] = plan
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
    table = summary_table(ds)
    cols = list(table)

    def write(tmp):
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(",".join(cols) + "\n")
            for i in range(len(table["year"])):
                f.write(",".join(_fmt(table[c][i]) for c in cols) + "\n")

    atomic_write(path, write)


def _fmt(x) -> str:
    x = float(x)
    if np.isnan(x):
        return ""
    return str(int(x)) if x == int(x) else f"{x:.6g}"
