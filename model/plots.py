"""Charts for reports (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr
from matplotlib.figure import Figure

from model.results import _atomic_write, plan_remaining, totals


def poor_by_year(ds: xr.Dataset, path: Path) -> None:
    """Registered poor people by year (median over seeds, 10-90 % band when
    there are several seeds), with the plan's remaining count if it has one."""
    t = totals(ds)["registered_people"]
    years = ds["year"].values
    fig = Figure(figsize=(7, 4.2), dpi=120)  # no pyplot: headless, no global state
    ax = fig.subplots()
    if ds.sizes["seed"] > 1:
        ax.fill_between(years, t.quantile(0.1, "seed"), t.quantile(0.9, "seed"), alpha=0.25,
                        color="C0", label=f"simulated, 10-90 % of {ds.sizes['seed']} seeds")
        ax.plot(years, t.median("seed"), "o-", color="C0", label="simulated, median")
    else:
        ax.plot(years, t.isel(seed=0), "o-", color="C0",
                label=f"simulated (seed {int(ds['seed'][0])})")
    plan = plan_remaining(ds)
    if plan is not None:
        ax.plot(years, plan[1].clip(min=0), "s--", color="C3", label="plan")
    ax.set_xlabel("year (state at year end)")
    ax.set_ylabel("registered poor people")
    ax.set_title(f"Registered poor by year: {ds.attrs.get('scenario', '')}")
    ax.set_ylim(bottom=0)
    ax.set_xticks(years)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    _atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png"))
