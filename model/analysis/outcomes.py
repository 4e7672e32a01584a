"""Named outcomes of a run, defined once for ``povsim compare`` and ``povsim sweep``.

A comparison reports the per-seed totals of :data:`OUTCOMES` for each scenario
(:func:`model.analysis.compare.seed_outcomes`); a sweep stores, for every
(point, seed), the outcomes its file names (:func:`parse_outcome`,
:func:`evaluate`). Both compute them with the functions below.

Outcome names
-------------
=========================  ==============================================
``zero_year``              first year with no registered poor people
                           (NaN: not by the end)
``registered_end``         registered poor people at the end of the run
``exits_sum``              people in exiting households, summed over years
``returns_sum``            people returning to poverty, summed over years
``cost_sum``               programme cost summed over everything (yuan)
``cost_per_exit``          ``cost_sum / exits_sum`` (yuan/person)
``registered_poor:YEAR``   registered poor people at the end of YEAR
``county_exits:YEAR``      share of poor counties exited by the end of YEAR
``met:TARGET``             1 when the seed meets the target (a label of
                           :class:`model.analysis.compare.Target`, e.g.
                           ``met:zero_by:2019``), 0 when not; its mean over
                           seeds is the probability of meeting it
=========================  ==============================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

# per-seed totals compared between scenarios: name -> (units, long name)
OUTCOMES = {
    "zero_year": ("year", "first year with no registered poor people (NaN: not by the end)"),
    "registered_end": ("persons", "registered poor people at the end of the last year"),
    "exits_sum": ("persons", "people in households exiting, summed over the years"),
    "returns_sum": ("persons", "people in households returning to poverty, summed over the years"),
    "cost_sum": ("yuan", "programme cost summed over programmes, counties and years"),
    "cost_per_exit": ("yuan/person", "cost_sum / exits_sum"),
}
# outcomes with an argument: kind -> (what the argument is, units, long name)
WITH_ARGUMENT = {
    "registered_poor": ("year", "persons", "registered poor people at the end of {arg}"),
    "county_exits": ("year", "1", "share of poor counties exited by the end of {arg}"),
    "met": ("target", "1",
            "1 if the seed meets target {arg}, else 0 (mean over seeds: probability)"),
}
CELLS = ("county", "category")


def yearly_totals(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """Whole-area totals per (seed, year) of a run.

    Returns
    -------
    dict
        ``registered`` (registered poor people at the end of the year),
        ``exits`` and ``returns`` (people in the year), ``cost`` (yuan/year).
    """
    return {"registered": ds["registered_people"].sum(CELLS),
            "exits": ds["exits_people"].sum(CELLS),
            "returns": ds["returns_people"].sum(CELLS),
            "cost": ds["cost"].sum(("county", "programme"))}


def zero_year(registered: xr.DataArray) -> xr.DataArray:
    """First year with no registered poor people, per seed (NaN: never)."""
    return registered["year"].where(registered == 0).min("year")


def cost_per_exit(cost_sum: xr.DataArray, exits_sum: xr.DataArray) -> xr.DataArray:
    """Cost per person exiting (yuan/person); NaN without exits."""
    return cost_sum / exits_sum.where(exits_sum > 0)


def totals(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """The per-seed :data:`OUTCOMES` of one run, by name."""
    t = yearly_totals(ds)
    exits_sum, cost_sum = t["exits"].sum("year"), t["cost"].sum("year")
    return {"zero_year": zero_year(t["registered"]),
            "registered_end": t["registered"].isel(year=-1, drop=True),
            "exits_sum": exits_sum,
            "returns_sum": t["returns"].sum("year"),
            "cost_sum": cost_sum,
            "cost_per_exit": cost_per_exit(cost_sum, exits_sum)}


def exited_by(exit_year, year):
    """Units (villages or counties) with an exit year in (0, ``year``]: out
    by the end of ``year`` (0: not exited). Arrays broadcast."""
    return (exit_year > 0) & (exit_year <= year)


def exited_share(exit_year: xr.DataArray, poor: xr.DataArray | None, dim: str,
                 year: int) -> xr.DataArray:
    """Share of the poor units (villages or counties) with an exit year in
    (0, year], per seed; NaN when there is no poor unit."""
    flag = (poor == 1) if poor is not None else xr.ones_like(exit_year.isel(seed=0), dtype=bool)
    n = int(flag.sum())
    if n == 0:
        return xr.full_like(exit_year.isel({dim: 0}), np.nan, dtype=float).drop_vars(dim)
    exited = (exited_by(exit_year, year) & flag).sum(dim)
    return exited / n


@dataclass(frozen=True)
class Outcome:
    """One named outcome: a name of :data:`OUTCOMES`, or a kind of
    :data:`WITH_ARGUMENT` and its argument (a year, or a target label)."""

    kind: str
    arg: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind

    @property
    def units(self) -> str:
        return OUTCOMES[self.kind][0] if not self.arg else WITH_ARGUMENT[self.kind][1]

    @property
    def long_name(self) -> str:
        if not self.arg:
            return OUTCOMES[self.kind][1]
        return WITH_ARGUMENT[self.kind][2].format(arg=self.arg)

    @property
    def is_probability(self) -> bool:
        """True for a met/missed outcome (0 or 1 per seed)."""
        return self.kind == "met"

    @property
    def year(self) -> int | None:
        """The year the outcome is read in (its argument's year), if any."""
        return int(self.arg.split(":")[-1]) if self.arg else None


def parse_outcome(text: str) -> Outcome:
    """An :class:`Outcome` from its name, e.g. ``"met:zero_by:2019"``.

    Raises
    ------
    ValueError
        For an unknown name or a bad argument; the message says what is
        expected, with a close match for a misspelt name.
    """
    from model.errors import close_match

    text = str(text).strip()
    kind, _, arg = text.partition(":")
    names = list(OUTCOMES) + [f"{k}:<{a}>" for k, (a, _, _) in WITH_ARGUMENT.items()]
    if kind in OUTCOMES and not arg:
        return Outcome(kind)
    if kind not in WITH_ARGUMENT:
        return _bad(f"unknown outcome '{text}'" + close_match(text, list(OUTCOMES)
                                                               + list(WITH_ARGUMENT))
                    + f"; expected one of {', '.join(names)}")
    what = WITH_ARGUMENT[kind][0]
    if what == "year":
        if not (arg.isdigit() and len(arg) == 4):
            return _bad(f"outcome '{text}': expected {kind}:<year>, e.g. {kind}:2019")
        return Outcome(kind, arg)
    from model.analysis.compare import KINDS, Target
    parts = arg.split(":")
    if len(parts) not in (2, 3) or parts[0] not in KINDS or not parts[-1].isdigit():
        return _bad(f"outcome '{text}': expected met:<target kind>:<year> (or "
                    f"met:batch_quota:<batch>:<year>), a kind of {', '.join(KINDS)}"
                    + (close_match(parts[0], KINDS) if parts else ""))
    return Outcome(kind, Target.from_label(arg).label)


def _bad(message: str):
    raise ValueError(message)


def evaluate(outcomes: list[Outcome], ds: xr.Dataset) -> np.ndarray:
    """The outcomes of one run, per seed.

    Parameters
    ----------
    outcomes : list of Outcome
        What to compute.
    ds : xarray.Dataset
        One scenario's run (:func:`model.runs.run_seed`, with its targets,
        scale and ``poor_county`` flags).

    Returns
    -------
    numpy.ndarray
        float64, shape (seeds, outcomes), in the units of each outcome; NaN
        where an outcome is undefined (zero never reached, a year or target
        not simulated).
    """
    from model.analysis.compare import evaluate_targets

    n_seeds = ds.sizes["seed"]
    out = np.full((n_seeds, len(outcomes)), np.nan)
    base = totals(ds) if any(o.kind in OUTCOMES for o in outcomes) else {}
    years = [int(y) for y in ds["year"].values]
    met = None
    for j, o in enumerate(outcomes):
        if o.kind in OUTCOMES:
            value = base[o.kind]
        elif o.year not in years:
            continue
        elif o.kind == "registered_poor":
            value = ds["registered_people"].sum(CELLS).sel(year=o.year)
        elif o.kind == "county_exits":
            value = exited_share(ds["county_exit_year"], ds.get("poor_county"), "county", o.year)
        else:
            if met is None:
                met = evaluate_targets(ds)["target_met"]
            if o.arg not in met["target"].values:
                continue
            value = met.sel(target=o.arg, drop=True)
        out[:, j] = np.asarray(value.transpose("seed").values, dtype=float)
    return out
