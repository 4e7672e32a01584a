"""Results of runs as one labelled ``xarray.Dataset``, and the files written.

A run gives a dataset with dimensions ``seed``, ``year``, ``county``,
``category`` and ``programme``; every variable carries ``units`` and
``long_name``; the dataset's attributes hold the resolved scenario and
parameters (JSON), the registry, the seeds and the code version. Outputs hold
aggregates only, never household rows, ids or names.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from model import __version__
from model.atomic import atomic_write
from model.engine.codes import ATTRIBUTION, BATCHES
from model.engine.record import DELIVERY_COLUMNS, PROGRAMME_COLUMNS, Record
from model.engine.tally_columns import COL, TALLY
from model.interrupts import WRITING, interrupts_held
from model.registry.tables import CATEGORIES, Registry

if TYPE_CHECKING:  # the scenario's modules import the programmes and their kernels
    from model.scenario import Scenario


class _DaskArrayOnceLoaded(type):
    """``isinstance(x, DaskArray)`` true only for a dask array, without
    importing ``dask.array`` (none exists until something imports it)."""

    def __instancecheck__(cls, obj) -> bool:
        array = getattr(sys.modules.get("dask.array"), "Array", None)
        return array is not None and isinstance(obj, array)


class DaskArray(metaclass=_DaskArrayOnceLoaded):
    """The dask array type for xarray's checks, looked up only once dask.array is loaded."""


def defer_dask_array() -> None:
    """Let xarray tell dask arrays apart without importing ``dask.array``.

    xarray imports ``dask.array`` (about 0.6 s) to check whether the first
    numpy array it wraps is a dask array, even when no dask array exists.
    Its answer is cached per module, so this puts :class:`DaskArray` in that
    cache: the same answers, with the import left to whoever makes a dask
    array. Nothing changes if xarray has looked dask up already, or if its
    internals differ from the version this was written for.
    """
    try:
        from xarray.namedarray import pycompat

        if "dask" in pycompat._cached_duck_array_modules:
            return
        duck = object.__new__(pycompat.DuckArrayModule)
        duck.module, duck.version, duck.type = None, None, (DaskArray,)
        duck.available = importlib.util.find_spec("dask") is not None
        pycompat._cached_duck_array_modules["dask"] = duck
    except (ImportError, AttributeError):  # another xarray: its own lookup stands
        return


def defer_dask_collection_check() -> None:
    """Let xarray tell dask collections apart without importing ``dask``.

    xarray asks ``dask.base.is_dask_collection`` about every array it wraps,
    importing dask (about 0.2 s) to hear that a numpy array is not one. dask
    answers no at once for an object without ``__dask_graph__``; this gives
    that answer before the import and leaves every other object to xarray's
    own check. Nothing changes if xarray's internals differ from the version
    this was written for.
    """
    try:
        from xarray.namedarray import utils

        check = utils.is_dask_collection
    except (ImportError, AttributeError):  # another xarray: its own check stands
        return

    def is_dask_collection(x: object) -> bool:
        return hasattr(x, "__dask_graph__") and check(x)

    utils.is_dask_collection = is_dask_collection


defer_dask_array()
defer_dask_collection_check()

STATIC = ("rural_population", "poverty_line", "covered_line", "village_county", "villages")  # the same for every seed
PROGRAMME_FIELDS = {  # name: (units, long name), for the record's PROGRAMME_COLUMNS
    "new_households": ("households",
                       "households (villages for village programmes) newly enrolled in the year"),
    "active_households": ("households",
                          "households (villages for village programmes) the programme reaches"),
    "cost": ("yuan/year", "programme cost in the year (a one-off cost falls in the year "
                          "the enrolment takes effect)"),
    "active_people": ("persons", "people in the households the programme reaches (0 for "
                                 "village programmes)")}


COORDINATE_ATTRS = {  # name: (units, long name) of each dimension's coordinate
    "seed": ("1", "random seed of the run (common random numbers across scenarios)"),
    "year": ("year", "calendar year; counts are at the end of the year, flows during it"),
    "county": ("1", "county (区县) of the registry"),
    "category": ("1", "household category: general, dibao (低保, safety net), wubao (五保, "
                      "five guarantees)"),
    "programme": ("1", "programme (measure) of the scenario, in engine order"),
    "batch": ("1", "pathway (五个一批) an exit is attributed to; 'none': no programme made "
                   "the difference"),
    "village": ("index", "village row of the registry (no original id)"),
    "month": ("month", "month of the year, 1-12"),
}


def with_coordinate_attrs(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with ``units`` and ``long_name`` on every known coordinate."""
    for name, (unit, long_name) in COORDINATE_ATTRS.items():
        if name in ds.coords:
            ds[name].attrs.update(units=unit, long_name=long_name)
    return ds


def _variable(values, dims, attrs) -> xr.Variable:
    """A variable of the dataset: plain values on named dimensions, without
    coordinates, so that building the dataset aligns nothing (a DataArray
    each would cost a reindexing of every variable, about half of the
    dataset's time)."""
    return xr.Variable(dims, values, attrs)


def to_dataset(record: Record, registry: Registry, scenario: Scenario, seed: int,
               programmes: list[str]) -> xr.Dataset:
    """Build the dataset of one seed from a simulation's record, with the
    registry's poor-village and poor-county flags (:func:`registry_flags`)."""
    coords = {"year": record.years, "county": registry.county_names,
              "category": list(CATEGORIES), "programme": programmes,
              "batch": list(ATTRIBUTION), "village": np.arange(len(record.village_exit_year)),
              "month": np.arange(1, 13)}
    dims = ("year", "county", "category")
    data = {}
    for name, unit, long_name in TALLY:
        data[name] = _variable(record.sums[..., COL[name]], dims=dims,
                               attrs={"units": unit, "long_name": long_name})
    people = record.sums[..., COL["registered_people"]]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = record.sums[..., COL["income_sum_registered"]] / people
        gap = record.sums[..., COL["gap_sum_registered"]] / people
    pop = registry.counties["rural_population"].astype(np.float64)
    data["incidence"] = _variable(
        people / pop[None, :, None], dims=dims,
        attrs={"units": "1", "long_name": "registered poor people / rural population of the county"})
    data["rural_population"] = _variable(pop, dims=("county",), attrs={
        "units": "persons", "long_name": "rural population of the county"})
    data["mean_income_registered"] = _variable(
        mean, dims=dims, attrs={"units": "yuan/person/year",
                                "long_name": "mean per-capita income of registered people"})
    line = record.lines[:, record.col("lines", "poverty_line")]
    data["median_income_registered"] = _variable(
        record.median, dims=dims,
        attrs={"units": "yuan/person/year",
               "long_name": "median per-capita income of registered people (from a histogram "
                            "of 1 %-of-line bins)"})
    data["median_income_registered_all"] = _variable(
        record.median_all, dims=("year",),
        attrs={"units": "yuan/person/year",
               "long_name": "median per-capita income of all registered people"})
    data["poverty_gap"] = _variable(
        gap, dims=dims, attrs={"units": "1", "long_name": "mean of max(0, 1 - income / line) "
                                                          "over registered people (FGT1)"})
    data["poverty_line"] = _variable(line, dims=("year",), attrs={
        "units": "yuan/person/year", "long_name": "poverty line"})
    data["covered_line"] = _variable(record.lines[:, record.col("lines", "covered_line")], dims=("year",), attrs={
        "units": "yuan/person/year", "long_name": "line for households covered by the safety net"})
    for name in PROGRAMME_COLUMNS:
        unit, long_name = PROGRAMME_FIELDS[name]
        data[name] = _variable(record.programme[..., record.col("programme", name)],
                               dims=("year", "county", "programme"),
                               attrs={"units": unit, "long_name": long_name})
    if record.need is not None:
        data["programme_need"] = _variable(record.need, dims=("programme",), attrs={
            "units": "households (people or villages in the programme's unit)",
            "long_name": "registered households lacking a guarantee the programme grants and "
                         "can help, in the base year (NaN: it grants none)"})
        data["programme_capacity"] = _variable(record.capacity, dims=("year", "programme"),
                                               attrs={
            "units": "households (people or villages in the programme's unit)",
            "long_name": "new enrolments the programme may take in the year, at the run's scale"})
    data.update(_exit_variables(record, registry))
    data.update(_delivery_variables(record))
    # the seed's dimension first on every variable but the static ones, then
    # the static ones and the registry's flags: one dataset built at once
    # (expanding and assigning afterwards rebuilt it twice, most of its time)
    static = {k: data.pop(k) for k in STATIC}
    data = {k: xr.Variable(("seed",) + v.dims, v.data[None], v.attrs) for k, v in data.items()}
    ds = xr.Dataset({**data, **static, **registry_flags(registry)},
                    coords={"seed": [int(seed)], **coords})
    ds = with_coordinate_attrs(ds)
    ds.attrs.update(run_attributes(registry, scenario))
    return ds


def registry_flags(registry: Registry) -> dict[str, xr.Variable]:
    """The registry's ``poor_village`` and ``poor_county`` flags, so that
    exit schedules count poor villages and counties only."""
    village = np.asarray(registry.villages["poor_village"], dtype=np.int8)
    county = np.asarray(registry.counties["poor_county"], dtype=np.int8)
    return {"poor_village": _variable(village, dims=("village",), attrs={
                "units": "flag", "long_name": "poor village (贫困村): 1, else 0"}),
            "poor_county": _variable(county, dims=("county",), attrs={
                "units": "flag", "long_name": "poor county (贫困县): 1, else 0"})}


DELIVERY_FIELDS = {  # name: (units, long name), for the record's DELIVERY_COLUMNS
    "delivery_due": ("households", "enrolments due to take effect: new ones and last year's "
                                   "backlog (villages for village programmes)"),
    "delivery_in_effect": ("households", "enrolments taking effect in the year"),
    "delivery_backlog": ("households", "enrolments carried to next year (due - in effect)"),
    "delivery_household_years": ("households", "household-years in effect in the year of taking "
                                               "effect (in effect x fraction of the year)"),
    "funds_unspent": ("yuan", "programme funds not paid out by 31 December, returned to the "
                              "province in the next fiscal year")}


def _delivery_variables(record: Record) -> dict[str, xr.Variable]:
    """In-year delivery (model.engine.delivery) by year, county and programme."""
    dims = ("year", "county", "programme")
    out = {name: _variable(record.delivery[..., record.col("delivery", name)], dims=dims,
                           attrs={"units": DELIVERY_FIELDS[name][0],
                                  "long_name": DELIVERY_FIELDS[name][1]})
           for name in DELIVERY_COLUMNS}
    out["delivery_by_month"] = _variable(
        record.delivery_monthly, dims=("year", "programme", "month"),
        attrs={"units": "households", "long_name": "enrolments due in the year that are in "
                                                   "effect by the end of the month, all counties"})
    return out


def _exit_variables(record: Record, registry: Registry) -> dict[str, xr.Variable]:
    """Exits by pathway, village and county exits, wrongful-exit and missed rates."""
    yc, ycb = ("year", "county"), ("year", "county", "batch")
    reached = np.full(record.batch_exits.shape[:3], np.nan)
    reached[..., :len(BATCHES)] = record.batch_reached
    village_county = registry.villages["county"]
    return {
        "exits_by_batch_households": _variable(record.batch_exits[..., record.col("batch_exits", "households")], dims=ycb, attrs={
            "units": "households", "long_name": "exits by the pathway that made the difference "
                                                "(exclusive; see model.engine.attribution)"}),
        "exits_by_batch_people": _variable(record.batch_exits[..., record.col("batch_exits", "people")], dims=ycb, attrs={
            "units": "persons", "long_name": "people exiting by the pathway that made the "
                                             "difference (exclusive)"}),
        "exits_reached_people": _variable(reached, dims=ycb, attrs={
            "units": "persons", "long_name": "people in exiting households that the pathway's "
                                             "programmes reached (overlapping)"}),
        "wrong_exit_rate": _variable(record.rates[..., record.col("rates", "wrong_exit_rate")], dims=yc, attrs={
            "units": "1", "long_name": "wrongful-exit rate (错退率): households exiting in the "
                                       "year truly below their line / households exiting in "
                                       "the year"}),
        "missed_rate": _variable(record.rates[..., record.col("rates", "missed_rate")], dims=yc, attrs={
            "units": "1", "long_name": "missed rate (漏评率): truly poor people not registered / "
                                       "rural people outside the registry"}),
        "villages_exited": _variable(record.villages_exited, dims=yc, attrs={
            "units": "villages", "long_name": "villages exiting (出列) in the year"}),
        "village_exit_year": _variable(record.village_exit_year.astype(np.int32),
                                       dims=("village",), attrs={
            "units": "year", "long_name": "year the village exited (0: not by the end)"}),
        "county_exit_year": _variable(record.county_exit_year.astype(np.int32),
                                      dims=("county",), attrs={
            "units": "year", "long_name": "year the county exited (摘帽; 0: not by the end)"}),
        "village_county": _variable(village_county.astype(np.int32), dims=("village",), attrs={
            "units": "index", "long_name": "county row of the village"}),
        "villages": _variable(np.bincount(village_county, minlength=registry.n_counties)
                              .astype(np.float64), dims=("county",), attrs={
            "units": "villages", "long_name": "villages of the county (poor or not)"}),
    }


def run_attributes(registry: Registry, scenario: Scenario) -> dict[str, str | int]:
    years = range(registry.base_year, scenario.end_year + 1)
    return {
        "title": f"povsim results: {scenario.name}",
        "scenario": scenario.name,
        "scenario_source": scenario.source,
        "scenario_text": scenario.text,
        "parameters": json.dumps({"years": list(years), **scenario.params.resolved(years)}),
        "registry": registry.name,
        "base_year": registry.base_year,
        "end_year": scenario.end_year,
        "scale": float(getattr(scenario, "scale", 1.0)),
        "scenario_label": json.dumps(getattr(scenario, "label", {}), ensure_ascii=False),
        "extends": json.dumps(list(getattr(scenario, "extends", ())), ensure_ascii=False),
        "parameter_draws": len(getattr(scenario, "draws", ())),
        "code_version": f"povsim {__version__}",
        "targets": json.dumps({k: v for k, v in scenario.targets.items() if v}),
    }


def totals(ds: xr.Dataset) -> xr.Dataset:
    """Sum counts over counties and categories; recompute the ratios."""
    sums = ds[[name for name, _, _ in TALLY]].sum(("county", "category"))
    people = sums["registered_people"]
    out = sums.assign(
        mean_income_registered=sums["income_sum_registered"] / people,
        poverty_gap=sums["gap_sum_registered"] / people,
        median_income_registered=ds["median_income_registered_all"],
        incidence=people / ds["rural_population"].sum("county"),
        return_rate=return_rate(sums),
    )
    return out


def return_rate(sums: xr.Dataset) -> xr.DataArray:
    """Returns (返贫) over the people in exited households at the end of the
    year before: the yearly hazard of the exited (1/year; NaN in the base
    year and while nobody has exited). Returns over the year's exits, the
    other reading, rises as exits run out even when the exited return less."""
    exited_before = sums["exited_people"].shift(year=1)
    rate = sums["returns_people"] / exited_before.where(exited_before > 0)
    return rate.assign_attrs(units="1/year", long_name="returns over the exited people "
                                                        "of the year before")


def write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """A run's or a comparison's dataset as NetCDF-4 (numeric variables
    compressed), written atomically."""
    encoding = {v: {"zlib": True, "complevel": 4} for v in ds.data_vars
                if ds[v].dtype.kind in "biuf"}

    def write(tmp):
        with interrupts_held(WRITING):  # Ctrl-C between writes, not inside one
            ds.to_netcdf(tmp, engine="netcdf4", encoding=encoding)

    with _dask_unless_loaded():
        atomic_write(path, write)


@contextmanager
def _dask_unless_loaded():
    """Keep ``to_netcdf`` from importing dask (about 0.2 s) and
    dask.distributed (about 0.4 s) only to learn which scheduler would run
    dask arrays and whether a dask client is running: with neither loaded,
    the dataset holds no dask array, no client runs and the file written is
    the same. xarray and dask take a blocked import for the package not
    installed; it is unblocked afterwards."""
    blocked = [name for name in ("dask", "distributed") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # an import of it raises ImportError
    try:
        yield
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
