"""Comparing scenarios: per-seed outcomes, targets met, paired differences.

Every scenario is run with the same seeds (common random numbers), so the
difference between two scenarios for one seed is the effect of policy, not of
noise. :func:`compare` puts the runs and what is derived from them into one
dataset with ``scenario`` and ``seed`` dimensions; :mod:`model.analysis.report` and
:mod:`model.analysis.charts` read only that dataset, so a saved ``compare.nc`` can be
reported again.

Targets
-------
:func:`evaluate_targets` checks a scenario's targets (``Scenario.targets``;
missing keys count as empty) seed by seed. Absolute targets (persons) are
multiplied by the run's ``scale`` (share of households simulated); shares are
not. A target is met when, at the end of its year:

==========================  ================================================
``zero_by``                 no registered poor people left (also checked for
                            the 2019 and 2020 deadlines when simulated)
``registered_max``          registered poor people at most the target
``incidence_max``           registered poor people / rural population at
                            most the target (whole area)
``exits_people``            people exiting in the year at least the plan
``batch_quota``             people in exiting households that the batch's
                            programmes reached in the year at least the
                            quota (quotas overlap, as these counts do)
``villages_exit_share``     share of poor villages exited by the end of the
                            year at least the plan's cumulative share
``counties_exit_share``     the same for poor counties
``counties_exit_by``        every poor county exited
==========================  ================================================

A target whose year is not simulated, or that has nothing to count (no poor
village or county), is neither met nor missed: NaN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import xarray as xr

from model import __version__
from model.analysis.outcomes import OUTCOMES, exited_by, exited_share, totals, yearly_totals
from model.engine.codes import ATTRIBUTION, BATCHES
from model.scenario import TARGET_KINDS

DEADLINES = (2019, 2020)   # national deadlines: most provinces 2019, the nation 2020
KINDS = tuple(TARGET_KINDS)
_TOL = 1e-9
_TARGET_UNITS = {kind: units for kind, (_, units) in TARGET_KINDS.items()}


@dataclass(frozen=True, order=True)
class Target:
    """One target: its kind (a key of ``Scenario.targets``), year and batch
    (batch quotas only)."""

    kind: str
    year: int
    batch: str = ""

    @property
    def label(self) -> str:
        """Stable label, e.g. ``exits_people:2016`` or ``batch_quota:relocation:2017``."""
        return ":".join([self.kind] + ([self.batch] if self.batch else []) + [str(self.year)])

    @classmethod
    def from_label(cls, label: str) -> Target:
        parts = str(label).split(":")
        return cls(parts[0], int(parts[-1]), parts[1] if len(parts) == 3 else "")

    def sort_key(self) -> tuple:
        return (KINDS.index(self.kind), self.year,
                BATCHES.index(self.batch) if self.batch in BATCHES else -1)


# ---------------------------------------------------------------- targets

def targets_of(ds: xr.Dataset) -> dict:
    """The targets recorded in a run dataset (its ``targets`` attribute, JSON),
    every key present, years as int."""
    return normalise_targets(json.loads(ds.attrs.get("targets", "{}") or "{}"))


def normalise_targets(targets: dict | None) -> dict:
    """Targets with every key of ``Scenario.targets`` (missing keys empty) and
    year keys as int (JSON gives strings)."""
    targets = targets or {}

    def years(table):
        return {int(y): v for y, v in (table or {}).items()}

    def year_or_none(value):
        return None if value is None else int(value)

    return {
        "zero_by": year_or_none(targets.get("zero_by")),
        "exits_people": years(targets.get("exits_people")),
        "registered_max": years(targets.get("registered_max")),
        "incidence_max": years(targets.get("incidence_max")),
        "batch_quota": {b: years(t) for b, t in (targets.get("batch_quota") or {}).items()},
        "villages_exit_share": years(targets.get("villages_exit_share")),
        "counties_exit_share": years(targets.get("counties_exit_share")),
        "counties_exit_by": year_or_none(targets.get("counties_exit_by")),
    }


def plan_targets(targets: dict, deadlines: tuple[int, ...] = DEADLINES) -> dict[Target, float]:
    """Every target of a plan with its planned value before scaling.

    Parameters
    ----------
    targets : dict
        ``Scenario.targets`` (see :func:`normalise_targets`).
    deadlines : tuple of int
        Years for which "zero registered poor" is checked as well.

    Returns
    -------
    dict
        :class:`Target` -> value: persons for ``exits_people``,
        ``registered_max`` and ``batch_quota``; a share for
        ``incidence_max``; the cumulative planned share by the year for
        ``villages_exit_share`` and ``counties_exit_share``; 0 persons for
        ``zero_by``; 1 (every poor county) for ``counties_exit_by``.
    """
    t = normalise_targets(targets)
    out: dict[Target, float] = {}
    for year in sorted({*deadlines, *([t["zero_by"]] if t["zero_by"] else [])}):
        out[Target("zero_by", year)] = 0.0
    for kind in ("registered_max", "incidence_max", "exits_people"):
        for year, value in t[kind].items():
            out[Target(kind, year)] = float(value)
    for batch, table in t["batch_quota"].items():
        for year, value in table.items():
            out[Target("batch_quota", year, batch)] = float(value)
    for kind in ("villages_exit_share", "counties_exit_share"):
        cumulative = 0.0
        for year in sorted(t[kind]):
            cumulative += float(t[kind][year])
            out[Target(kind, year)] = min(cumulative, 1.0)
    if t["counties_exit_by"]:
        out[Target("counties_exit_by", t["counties_exit_by"])] = 1.0
    return out


def evaluate_targets(ds: xr.Dataset, targets: dict | None = None, scale: float | None = None,
                     deadlines: tuple[int, ...] = DEADLINES) -> xr.Dataset:
    """Which targets each seed meets.

    Parameters
    ----------
    ds : xarray.Dataset
        One scenario's run (dims ``seed``, ``year``, ``county``, ...), with
        ``poor_village`` / ``poor_county`` flags when available (without
        them every village / county counts as poor).
    targets : dict, optional
        The plan's targets (default: the dataset's ``targets`` attribute).
    scale : float, optional
        Share of households simulated (default: the dataset's ``scale``
        attribute, else 1); absolute targets are multiplied by it.
    deadlines : tuple of int
        Years for which zero registered poor people is checked too.

    Returns
    -------
    xarray.Dataset
        Dimension ``target`` (labels of :class:`Target`) with
        ``target_planned`` (target; persons after scaling, or a share),
        ``target_actual`` (seed, target) and ``target_met`` (seed, target:
        1 met, 0 missed, NaN not simulated), and ``target_in_plan`` (target;
        1 when the plan states it, 0 for an added deadline); coordinates
        ``target_kind``, ``target_year`` and ``target_batch``.
    """
    targets = targets_of(ds) if targets is None else normalise_targets(targets)
    scale = float(ds.attrs.get("scale", 1.0)) if scale is None else float(scale)
    planned = plan_targets(targets, deadlines)
    in_plan = set(plan_targets(targets, ()))
    years = [int(y) for y in ds["year"].values]
    registered = ds["registered_people"].sum(("county", "category"))
    exits = ds["exits_people"].sum(("county", "category"))
    reached = ds["exits_reached_people"].sum("county")
    population = float(ds["rural_population"].sum())
    seeds = ds["seed"]
    rows = sorted(planned, key=Target.sort_key)
    actual = np.full((seeds.size, len(rows)), np.nan)
    met = np.full((seeds.size, len(rows)), np.nan)
    value = np.full(len(rows), np.nan)
    for j, target in enumerate(rows):
        plan = planned[target]
        absolute = target.kind in ("exits_people", "registered_max", "batch_quota")
        value[j] = plan * scale if absolute else plan
        if target.year not in years:
            continue
        at = {"year": target.year}
        kind = target.kind
        if kind == "zero_by":
            a = registered.sel(at)
            m = a == 0
        elif kind == "registered_max":
            a = registered.sel(at)
            m = a <= value[j] + _TOL
        elif kind == "incidence_max":
            a = registered.sel(at) / population
            m = a <= value[j] + _TOL
        elif kind == "exits_people":
            a = exits.sel(at)
            m = a >= value[j] - _TOL
        elif kind == "batch_quota":
            a = reached.sel(year=target.year, batch=target.batch)
            m = a >= value[j] - _TOL
        else:
            unit = "village" if kind == "villages_exit_share" else "county"
            a = exited_share(ds[f"{unit}_exit_year"], ds.get(f"poor_{unit}"), unit,
                             target.year)
            m = a >= value[j] - _TOL
        a = a.transpose("seed").values.astype(float)
        actual[:, j] = a
        met[:, j] = np.where(np.isnan(a), np.nan, m.transpose("seed").values.astype(float))
    return xr.Dataset(
        {"target_planned": xr.DataArray(value, dims="target", attrs={
            "units": "persons or 1", "long_name": "planned value, absolute targets multiplied "
                                                  "by the scale (units: target_units)"}),
         "target_actual": xr.DataArray(actual, dims=("seed", "target"), attrs={
             "units": "persons or 1", "long_name": "simulated value checked against the target "
                                                   "(units: target_units)"}),
         "target_met": xr.DataArray(met, dims=("seed", "target"), attrs={
             "units": "1", "long_name": "1 if the seed meets the target, 0 if not, NaN if the "
                                        "target's year is not simulated"}),
         "target_in_plan": xr.DataArray(
             np.array([float(t in in_plan) for t in rows]), dims="target", attrs={
                 "units": "1", "long_name": "1 if the scenario states the target, 0 for a "
                                            "national deadline checked besides"})},
        coords={"seed": seeds.values, "target": [t.label for t in rows],
                **_target_coords(rows)})


def _target_coords(rows: list[Target]) -> dict:
    """Coordinates along ``target``: kind, year, batch and units of each."""
    return {"target_kind": ("target", [t.kind for t in rows]),
            "target_year": ("target", np.array([t.year for t in rows], dtype=np.int64)),
            "target_batch": ("target", [t.batch for t in rows]),
            "target_units": ("target", [_TARGET_UNITS[t.kind] for t in rows])}


# ---------------------------------------------------------------- per-seed outcomes

def _attrs(units: str, long_name: str) -> dict:
    return {"units": units, "long_name": long_name}


def plan_remaining(ds: xr.Dataset, targets: dict | None = None,
                   scale: float | None = None) -> xr.DataArray | None:
    """Registered poor people the plan leaves at the end of each year: the
    base-year count less the plan's cumulative exits (times the scale),
    never below 0; None without ``exits_people`` in the plan.

    The base-year count is the registry's, the same for every seed (the
    mean over seeds is taken).
    """
    targets = targets_of(ds) if targets is None else normalise_targets(targets)
    if not targets["exits_people"]:
        return None
    scale = float(ds.attrs.get("scale", 1.0)) if scale is None else float(scale)
    years = ds["year"].values
    planned = np.array([targets["exits_people"].get(int(y), 0) for y in years], float) * scale
    start = float(ds["registered_people"].isel(year=0).sum(("county", "category")).mean("seed"))
    remaining = np.maximum(start - np.cumsum(planned), 0.0)
    return xr.DataArray(remaining, dims="year", coords={"year": years}, attrs=_attrs(
        "persons", "registered poor people left by the plan's exits (exits_people target)"))


def seed_outcomes(ds: xr.Dataset, last_year: int | None = None) -> xr.Dataset:
    """Per-seed outcomes of one scenario's run.

    Parameters
    ----------
    ds : xarray.Dataset
        One scenario's run.
    last_year : int, optional
        Count only the years up to this one (for comparing runs that end in
        different years); default all.

    Returns
    -------
    xarray.Dataset
        Per (seed, year): ``registered_people_total``, ``exits_people_total``,
        ``returns_people_total`` (persons) and ``cost_total`` (yuan/year); per
        (seed, year, batch): ``exits_by_batch`` (exclusive attribution) and
        ``reached_by_batch`` (overlapping reach; NaN for ``none``), persons;
        per seed: the :data:`OUTCOMES`.
    """
    if last_year is not None:
        ds = ds.sel(year=ds["year"] <= last_year)
    t = yearly_totals(ds)
    registered, exits, returns, cost = t["registered"], t["exits"], t["returns"], t["cost"]
    out = xr.Dataset({
        "registered_people_total": registered.assign_attrs(_attrs(
            "persons", "registered poor people at the end of the year")),
        "exits_people_total": exits.assign_attrs(_attrs(
            "persons", "people in households exiting in the year")),
        "returns_people_total": returns.assign_attrs(_attrs(
            "persons", "people in households returning to poverty in the year")),
        "cost_total": cost.assign_attrs(_attrs("yuan/year", "programme cost in the year")),
        "exits_by_batch": ds["exits_by_batch_people"].sum("county").assign_attrs(_attrs(
            "persons", "people exiting by the pathway that made the difference (exclusive)")),
        "reached_by_batch": ds["exits_reached_people"].sum("county", min_count=1).assign_attrs(
            _attrs("persons", "people in exiting households that the batch's programmes "
                              "reached (overlapping)")),
        **totals(ds),
    })
    for name, (units, long_name) in OUTCOMES.items():
        out[name].attrs = _attrs(units, long_name)
    return out


def batch_quotas(ds: xr.Dataset, targets: dict | None = None,
                 scale: float | None = None) -> xr.DataArray:
    """The plan's batch quotas by year (persons, times the scale; NaN where
    the plan has none), dims (year, batch)."""
    targets = targets_of(ds) if targets is None else normalise_targets(targets)
    scale = float(ds.attrs.get("scale", 1.0)) if scale is None else float(scale)
    years = [int(y) for y in ds["year"].values]
    out = np.full((len(years), len(ATTRIBUTION)), np.nan)
    for batch, table in targets["batch_quota"].items():
        for year, value in table.items():
            if year in years:
                out[years.index(year), ATTRIBUTION.index(batch)] = float(value) * scale
    return xr.DataArray(out, dims=("year", "batch"),
                        coords={"year": years, "batch": list(ATTRIBUTION)},
                        attrs=_attrs("persons", "the plan's batch quota in the year, times the "
                                                "scale (NaN: none)"))


# ---------------------------------------------------------------- several scenarios

def capacity_shortfalls(ds: xr.Dataset, targets: dict | None = None) -> list[dict]:
    """Programmes granting a guarantee whose capacity cannot meet the need by
    the deadline: the sum of the yearly capacities from the year after the
    base year to the deadline (the ``zero_by`` target, else the last year)
    below the base-year need (``programme_need``). In-year delivery can only
    delay further, so a shortfall means some households cannot exit in time.

    Returns one dict per short programme: ``programme``, ``need``,
    ``capacity`` (summed to the deadline), ``deadline`` and ``unit``.
    """
    if "programme_need" not in ds:
        return []
    need, deadline = _need_and_deadline(ds, targets, "capacity_shortfalls")
    years = ds["year"].values
    cap = ds["programme_capacity"]
    cap = cap.isel(seed=0) if "seed" in cap.dims else cap
    window = cap.sel(year=[y for y in years if years[0] < y <= deadline])
    total = window.sum("year")
    out = []
    for prog in need["programme"].values:
        n, c = float(need.sel(programme=prog)), float(total.sel(programme=prog))
        if np.isfinite(n) and n > 0 and c < n:
            out.append({"programme": str(prog), "need": n, "capacity": c,
                        "deadline": int(deadline), "unit": "households"})
    return out


def _need_and_deadline(ds: xr.Dataset, targets: dict | None, caller: str):
    """One scenario's base-year need by programme (its first seed's: the
    registry's, the same in every seed) and its deadline: the ``zero_by``
    target, else the last year."""
    need = ds["programme_need"]
    if "scenario" in need.dims:
        raise ValueError(f"{caller} takes one scenario's run")
    targets = targets_of(ds) if targets is None else normalise_targets(targets)
    need = need.isel(seed=0) if "seed" in need.dims else need
    return need, int(targets["zero_by"] or ds["year"].values[-1])


def _median_by_programme(var: xr.DataArray) -> xr.DataArray:
    """A count summed over everything but seed and programme, then its median
    over seeds."""
    var = var.sum([d for d in var.dims if d not in ("seed", "programme")])
    return var.median("seed") if "seed" in var.dims else var


def _waiting(ds: xr.Dataset, targets: dict | None, caller: str):
    """The base-year need by programme, the households still waiting for
    delivery at the end of the deadline year by programme (median over
    seeds) and that deadline (at most the last simulated year)."""
    need, deadline = _need_and_deadline(ds, targets, caller)
    deadline = min(deadline, int(ds["year"].values[-1]))
    return need, _median_by_programme(ds["delivery_backlog"].sel(year=deadline)), deadline


def _counted_in_households(granting: bool | None = None) -> set[str]:
    """Names of the programmes whose enrolments (and backlog) are counted in
    households: not relocation (people) or the village programmes; only
    those granting a guarantee (``granting`` True), or none (False)."""
    from model.programmes.measures import PROGRAMMES

    return {c.name for c in PROGRAMMES if c.unit == "households"
            and (granting is None or bool(c.grants) == granting)}


def waiting_at_deadline(ds: xr.Dataset, targets: dict | None = None) -> list[dict]:
    """Programmes granting a guarantee with households still waiting for
    delivery at the end of the deadline year (the ``zero_by`` target, else
    the last year): enrolled, not yet in effect (``delivery_backlog``), so
    their exit waits for it whatever their incomes. This is what the run
    shows, where :func:`capacity_shortfalls` compares yearly capacities.
    Only programmes counted in households (the backlog's unit): not
    relocation (people) or the village programmes.

    Returns one dict per such programme: ``programme``, ``waiting`` (median
    over seeds, households), ``need`` (the base-year need, households) and
    ``deadline``.
    """
    if "delivery_backlog" not in ds or "programme_need" not in ds:
        return []
    need, waiting, deadline = _waiting(ds, targets, "waiting_at_deadline")
    in_households = _counted_in_households()
    out = []
    for prog in need["programme"].values:
        n, w = float(need.sel(programme=prog)), float(waiting.sel(programme=prog))
        if str(prog) in in_households and np.isfinite(n) and n > 0 and w >= 0.5:
            out.append({"programme": str(prog), "waiting": w, "need": n,
                        "deadline": int(deadline)})
    return out


# an income programme's backlog at the deadline is reported from this share of
# its enrolments to the deadline: below it the delay is the ordinary lag of
# delivery, not a quota the pipeline cannot absorb
INCOME_WAITING_SHARE = 0.1


def income_waiting_at_deadline(ds: xr.Dataset, targets: dict | None = None) -> list[dict]:
    """Income programmes with many households still waiting for delivery at
    the end of the deadline year (the ``zero_by`` target, else the last
    year): enrolled by then, not yet in effect (``delivery_backlog``), at
    least :data:`INCOME_WAITING_SHARE` of the households enrolled up to the
    deadline. The in-year delivery model (visits, approval, funds, build
    time), not the programme's quota, then limits what the pathway adds to
    incomes by the deadline. Programmes granting a guarantee are reported by
    :func:`waiting_at_deadline`; only programmes counted in households.

    Returns one dict per such programme: ``programme``, ``waiting`` and
    ``enrolled`` (medians over seeds, households) and ``deadline``.
    """
    if "delivery_backlog" not in ds or "programme_need" not in ds or "new_households" not in ds:
        return []
    _, waiting, deadline = _waiting(ds, targets, "income_waiting_at_deadline")
    enrolled = _median_by_programme(ds["new_households"].sel(year=ds["year"] <= deadline))
    income = _counted_in_households(granting=False)
    out = []
    for prog in waiting["programme"].values:
        w, e = float(waiting.sel(programme=prog)), float(enrolled.sel(programme=prog))
        if str(prog) in income and w >= 0.5 and w >= INCOME_WAITING_SHARE * e:
            out.append({"programme": str(prog), "waiting": w, "enrolled": e,
                        "deadline": int(deadline)})
    return out


def counties_short_of_exit(ds: xr.Dataset, targets: dict | None = None) -> dict | None:
    """Why a plan's poor counties are not all out by its county deadline
    (``counties_exit_by``, else the last year of ``counties_exit_share``,
    at most the last simulated year): how many poor counties have not
    exited by then and the lowest registered incidence among them (per
    seed, then the median over seeds). A county exits only once its
    incidence is below its region's line (``county_exit.incidence``,
    ``county_exit.incidence_west``), so the lowest incidence says how far
    the nearest county is from it.

    Returns ``None`` when the plan sets no county target, or every poor
    county is out in at least half of the seeds; else a dict with
    ``deadline``, ``poor`` (poor counties), ``not_out`` (median) and
    ``lowest_incidence`` (median of the seeds that have one, a share).
    """
    if "county_exit_year" not in ds or "incidence" not in ds:
        return None
    t = targets_of(ds) if targets is None else normalise_targets(targets)
    years = list(t["counties_exit_share"]) + ([t["counties_exit_by"]]
                                              if t["counties_exit_by"] else [])
    if not years:
        return None
    deadline = min(max(years), int(ds["year"].values[-1]))
    exit_year = ds["county_exit_year"]
    exit_year = exit_year if "seed" in exit_year.dims else exit_year.expand_dims(seed=[0])
    poor = ds["poor_county"] == 1 if "poor_county" in ds else xr.ones_like(
        exit_year.isel(seed=0), dtype=bool)
    poor = poor.isel(seed=0) if "seed" in poor.dims else poor
    if int(poor.sum()) == 0:
        return None
    waiting = poor & ~exited_by(exit_year, deadline)
    not_out = float(waiting.sum("county").median("seed"))
    if not_out < 0.5:
        return None
    incidence = ds["incidence"].sel(year=deadline)
    incidence = incidence.sum([d for d in incidence.dims if d not in ("seed", "county")])
    incidence = incidence if "seed" in incidence.dims else incidence.expand_dims(seed=[0])
    lowest = incidence.where(waiting).min("county", skipna=True)
    return {"deadline": deadline, "poor": int(poor.sum()), "not_out": not_out,
            "lowest_incidence": float(lowest.median("seed", skipna=True))}


def unique_labels(names: list[str]) -> list[str]:
    """Scenario names made unique: a repeated name gets `` (2)``, `` (3)``..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


_SCENARIO_ATTRS = {"scenario_source": ("scenario_source", "text",
                                       "file the scenario was read from"),
                   "scenario_text": ("scenario_text", "text", "the scenario file's text"),
                   "targets": ("scenario_targets", "json", "the scenario's targets"),
                   "parameters": ("scenario_parameters", "json", "resolved parameters by year"),
                   "registry": ("scenario_registry", "text", "registry name"),
                   "scenario_label": ("scenario_label", "json",
                                      "the scenario's label by language (empty: its name)"),
                   "extends": ("scenario_extends", "json",
                               "the files the scenario extends, nearest first")}


def _one(ds: xr.Dataset, label: str, counties: list[str], first: xr.Dataset) -> xr.Dataset:
    """One scenario's run and derived variables, ready to concatenate."""
    outcomes = seed_outcomes(ds)
    targets = evaluate_targets(ds)
    extra = {name: outcomes[name] for name in outcomes.data_vars}
    extra.update({name: targets[name] for name in targets.data_vars})
    plan = plan_remaining(ds)
    if plan is not None:
        extra["plan_remaining_people"] = plan
        extra["gap_people"] = (outcomes["registered_people_total"] - plan).assign_attrs(_attrs(
            "persons", "registered poor people minus the plan's remaining (positive: behind "
                       "the plan)"))
    extra["quota_by_batch"] = batch_quotas(ds)
    last = int(ds["year"].max())
    common = min(last, int(first["year"].max()))
    mine = outcomes if common == last else seed_outcomes(ds, common)
    base = mine if first is ds else seed_outcomes(first, common)
    for name, (units, long_name) in OUTCOMES.items():
        extra[f"diff_{name}"] = (mine[name] - base[name]).assign_attrs(_attrs(
            units, f"{long_name}: this scenario minus the first, same seed, years up to "
                   "the last year both simulate"))
    for attr, (name, units, long_name) in _SCENARIO_ATTRS.items():
        extra[name] = xr.DataArray(np.array(str(ds.attrs.get(attr, "")), dtype=object),
                                   attrs=_attrs(units, long_name))
    years = ds["year"].values
    for attr, default, units, long_name in (
            ("base_year", years[0], "year", "registry base year"),
            ("end_year", years[-1], "year", "last simulated year"),
            ("scale", 1.0, "1", "share of households simulated"),
            ("parameter_draws", 0, "1", ("parameter vectors the seeds cycle through (seed i: "
                                         "vector i mod n; 0: the same parameters for every "
                                         "seed)"))):
        extra[f"scenario_{attr}"] = xr.DataArray(float(ds.attrs.get(attr, default)),
                                                 attrs=_attrs(units, long_name))
    ds = ds.drop_vars([n for n in extra if n in ds.data_vars]).assign(
        {k: v.reset_coords(drop=True) for k, v in extra.items()})
    if "village_county" in ds:   # rows of this scenario's counties -> rows of the union
        union = {name: k for k, name in enumerate(counties)}
        row = np.array([union[str(c)] for c in ds["county"].values], dtype=np.int32)
        ds["village_county"] = ds["village_county"].copy(data=row[ds["village_county"].values])
        ds["village_county"].attrs["long_name"] = "row of the village's county in `county`"
    ds = ds.drop_vars([c for c in ("target_kind", "target_year", "target_batch", "target_units")
                       if c in ds.coords])
    ds.attrs = {}
    return ds.expand_dims(scenario=[label])


def compare(datasets: list[xr.Dataset], labels: list[str] | None = None) -> xr.Dataset:
    """Put several scenarios' runs and their comparison into one dataset.

    Parameters
    ----------
    datasets : list of xarray.Dataset
        One run per scenario (:func:`model.runs.run_all`), all with the
        same seeds; the first is the reference for paired differences.
    labels : list of str, optional
        Scenario labels (default: the runs' scenario names, made unique).

    Returns
    -------
    xarray.Dataset
        The runs' variables and the derived ones (:func:`seed_outcomes`,
        :func:`evaluate_targets`, ``plan_remaining_people`` and
        ``gap_people`` where a plan states exits, ``quota_by_batch``,
        ``diff_<outcome>`` against the first scenario) along a ``scenario``
        dimension. Years, counties, programmes, villages and targets are the
        union over the scenarios (outer join, NaN where a scenario has
        none); each scenario's text, targets, parameters, registry, base and
        end year and scale are ``scenario_*`` variables.
    """
    if not datasets:
        raise ValueError("compare needs at least one run")
    seeds = [list(map(int, ds["seed"].values)) for ds in datasets]
    if any(s != seeds[0] for s in seeds):
        raise ValueError(f"runs have different seeds: {seeds}")
    labels = unique_labels([ds.attrs.get("scenario", f"scenario {k + 1}")
                            for k, ds in enumerate(datasets)]) if labels is None else labels
    counties = sorted({str(c) for ds in datasets for c in ds["county"].values})
    parts = [_one(ds, label, counties, datasets[0]) for ds, label in zip(datasets, labels)]
    out = xr.concat(parts, dim="scenario", join="outer", data_vars="all", coords="minimal",
                    compat="override", combine_attrs="override")
    targets = sorted((Target.from_label(t) for t in out["target"].values), key=Target.sort_key)
    out = out.reindex(target=[t.label for t in targets])
    out = out.assign_coords(_target_coords(targets))
    out.attrs = {"title": "povsim comparison: " + ", ".join(labels),
                 "scenarios": json.dumps(labels, ensure_ascii=False),
                 "reference": labels[0],
                 "seeds": json.dumps(seeds[0]),
                 "code_version": f"povsim {__version__}",
                 "conventions": "common random numbers: the same seed gives every scenario "
                                "the same shocks; counts and cost are at each run's scale"}
    return out


# variables of a comparison that count people or money, at each run's scale
FULL_SIZE = "full size (divided by each scenario's scale)"
COUNTS = ("registered_people_total", "rural_population", "exits_people_total", "returns_people_total",
          "cost_total", "exits_by_batch", "reached_by_batch", "quota_by_batch",
          "plan_remaining_people", "gap_people", "registered_end", "exits_sum", "returns_sum",
          "cost_sum", "diff_registered_end", "diff_exits_sum", "diff_returns_sum",
          "diff_cost_sum", "programme_need", "programme_capacity", "delivery_backlog",
          "new_households")


def full_size(cmp: xr.Dataset) -> xr.Dataset:
    """The comparison with its counts of people and households and its money
    scaled up to full size (divided by each scenario's scale), as the charts
    show them: :data:`COUNTS`, and the simulated and planned values of
    targets in persons. Shares, probabilities, years and cost per exit are
    left as they are; at scale 1 nothing changes. The reports and the charts
    all read their counts through it; a comparison already at full size is
    returned as it is."""
    if ("scenario_scale" not in cmp or cmp.attrs.get("counts") == FULL_SIZE
            or bool((cmp["scenario_scale"] == 1).all())):
        return cmp
    up = 1.0 / cmp["scenario_scale"]
    out = cmp.copy()
    out.attrs["counts"] = FULL_SIZE
    for name in COUNTS:
        if name in cmp:
            out[name] = (cmp[name] * up).assign_attrs(cmp[name].attrs)
    if "target_units" in cmp.coords:
        factor = xr.where(cmp["target_units"] == "persons", up, 1.0)
        for name in ("target_actual", "target_planned"):
            if name in cmp:
                out[name] = (cmp[name] * factor).assign_attrs(cmp[name].attrs)
    return out
