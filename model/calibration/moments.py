"""Model quantities compared with observed moments: the observation mapping.

Each quantity is a function of a run's results dataset (one or more seeds)
and a year, returning one value per seed in base units (persons, households,
a share, yuan, counties or villages). Counts of people and households are
divided by the run's ``scale`` attribute (share of households simulated), so
a reduced-scale run is compared with national figures directly; counties and
villages are kept whole at every scale and are not divided.

Mapping of the published series (``calibration/observation.md`` gives the
reasons; change a quantity here, not in the targets):

- ``survey_headcount``: the NBS rural poor under the 2010 standard is read as
  the people whose true household income is below their line, among all
  simulated households (registry and near-poor pool). Assumption: the survey
  counts the truly poor, the registry is what policy sees; people poor but
  outside both the registry and the pool are not simulated, so the quantity
  is lower than the survey's concept by them.
- ``survey_headcount_reduction``: its fall from the year before.
- ``survey_headcount_fall``: that fall over the year before's headcount (a
  share): the model holds the registry and a pool, not the whole rural
  population, so its levels miss some poor and the relative fall is the
  moment (``calibration/observation.md``).
- ``registered_people`` / ``registered_households``: the registry (建档立卡) at
  the end of the year (poor or returned).
- ``exits_people``, ``returns_people``: people in households exiting /
  returning in the year.
- ``registered_income``: mean per-capita income of the people on the registry
  during the year: registered at the year end and exiting in it (yuan).
- ``wrongful_exit_rate``: the year's exits whose true income is below the
  line / the year's exits (calibration/observation.md).
- ``counties_exited``: poor counties exiting (摘帽) in the year.
- ``poor_villages``, ``poor_counties``: the registry's poor villages and
  counties (the year is not used).
- ``programme_active``: households a programme reaches in the year.
- ``migrant_workers``: labourers placed by ``transfer_employment`` (one a
  household) in the year, compared with poor migrant workers (a lower bound:
  poor labourers who migrate without the programme are not counted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr

from model.errors import PovsimError, close_match

# unit -> (kind, base units per unit)
UNITS: dict[str, tuple[str, float]] = {
    "10k persons": ("persons", 1e4), "persons": ("persons", 1.0),
    "10k households": ("households", 1e4), "households": ("households", 1.0),
    "%": ("share", 0.01), "1": ("share", 1.0),
    "yuan": ("yuan", 1.0),
    "counties": ("counties", 1.0), "villages": ("villages", 1.0),
    "10k villages": ("villages", 1e4),
}


@dataclass(frozen=True)
class Quantity:
    """A model quantity: its kind (base unit), function and allowed arguments."""

    kind: str
    fn: Callable[..., np.ndarray]  # one value a seed
    args: tuple[str, ...] = ()
    doc: str = ""

    def check_args(self, args: dict) -> None:
        for key, value in args.items():
            if key not in self.args:
                allowed = ", ".join(self.args) or "none"
                raise ValueError(f"unknown argument '{key}' (allowed: {allowed})"
                                 + close_match(key, self.args))
            if key == "programme":
                from model.programmes.measures import PROGRAMMES
                names = [c.name for c in PROGRAMMES]
                if value not in names:
                    raise ValueError(f"unknown programme {value!r}" + close_match(str(value), names))
        missing = [a for a in self.args if a not in args]
        if missing:
            raise ValueError(f"missing argument '{missing[0]}'")


def _scale(ds: xr.Dataset) -> float:
    return float(ds.attrs.get("scale", 1.0))


def _position(ds: xr.Dataset, dim: str, label) -> int | None:
    """Where ``label`` is along ``dim`` (None if it is not there)."""
    found = np.flatnonzero(ds.variables[dim].values == label)
    return int(found[0]) if len(found) else None


def _at(ds: xr.Dataset, var: str, year: int) -> tuple[np.ndarray, tuple[str, ...]]:
    """``var`` in ``year``: its values (numpy) and their dimensions. Plain
    arrays: every step of a DataArray aligned its coordinates, and even a
    Variable's sum took most of a trial's moments (the same sums over the
    same arrays, NaN skipped as xarray skips it)."""
    k = _position(ds, "year", year)
    if k is None:
        years = ds.variables["year"].values
        raise PovsimError(f"moment year {year}: the run covers {years.min()}-{years.max()}")
    variable = ds.variables[var]
    axis = variable.dims.index("year")
    return np.take(variable.values, k, axis=axis), variable.dims[:axis] + variable.dims[axis + 1:]


def _sum(ds, var, year) -> np.ndarray:
    """``var`` in ``year`` summed over counties and categories (one value a seed)."""
    values, dims = _at(ds, var, year)
    return np.nansum(values, axis=(dims.index("county"), dims.index("category")))


def _total(ds: xr.Dataset, var: str, year: int) -> np.ndarray:
    return _sum(ds, var, year) / _scale(ds)


def survey_headcount(ds, year):
    return _total(ds, "true_poor_people", year)


def survey_headcount_reduction(ds, year):
    return survey_headcount(ds, year - 1) - survey_headcount(ds, year)


def survey_headcount_fall(ds, year):
    return _ratio(survey_headcount_reduction(ds, year), survey_headcount(ds, year - 1))


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b``, NaN where both are 0, without a warning (as xarray divides)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / b


def registered_income(ds, year):
    if "income_sum_exiting" in ds:      # the households on the registry during the year
        income = _sum(ds, "income_sum_registered", year) + _sum(ds, "income_sum_exiting", year)
        return _ratio(income, _sum(ds, "registered_people", year) + _sum(ds, "exits_people", year))
    return _ratio(_sum(ds, "income_sum_registered", year), _sum(ds, "registered_people", year))


def wrongful_exit_rate(ds, year):
    if "wrong_exits_households" in ds:  # the year's exits found truly below the line
        return _ratio(_sum(ds, "wrong_exits_households", year),
                      _sum(ds, "exits_households", year))
    return _ratio(_sum(ds, "wrongly_exited_households", year),
                  _sum(ds, "exited_households", year))


def counties_exited(ds, year):
    _at(ds, "registered_people", year)  # a year the run covers
    exited = (ds.variables["county_exit_year"] == year) & (ds.variables["poor_county"] == 1)
    return exited.sum("county").astype(float).values


def _flags(ds, var: str, dim: str) -> np.ndarray:
    """How many of the registry's units ``var`` flags, one value a seed
    (the flags carry a seed dimension once seeds are concatenated)."""
    total = ds.variables[var].sum(dim).astype(float)
    return total.values if total.ndim else np.full(ds.sizes["seed"], float(total.values))


def poor_villages(ds, year):
    return _flags(ds, "poor_village", "village")


def poor_counties(ds, year):
    return _flags(ds, "poor_county", "county")


def programme_active(ds, year, programme):
    k = _position(ds, "programme", programme)
    if k is None:
        raise PovsimError(f"programme '{programme}' is not run by this scenario")
    values, dims = _at(ds, "active_households", year)
    at = np.take(values, k, axis=dims.index("programme"))
    dims = tuple(d for d in dims if d != "programme")
    return np.nansum(at, axis=dims.index("county")) / _scale(ds)


def migrant_workers(ds, year):
    return programme_active(ds, year, "transfer_employment")


def _counter(var):
    def fn(ds, year):
        return _total(ds, var, year)
    fn.__name__ = var
    return fn


QUANTITIES: dict[str, Quantity] = {
    "survey_headcount": Quantity("persons", survey_headcount),
    "survey_headcount_reduction": Quantity("persons", survey_headcount_reduction),
    "survey_headcount_fall": Quantity("share", survey_headcount_fall),
    "registered_people": Quantity("persons", _counter("registered_people")),
    "registered_households": Quantity("households", _counter("registered_households")),
    "exits_people": Quantity("persons", _counter("exits_people")),
    "returns_people": Quantity("persons", _counter("returns_people")),
    "entries_people": Quantity("persons", _counter("entries_people")),
    "registered_income": Quantity("yuan", registered_income),
    "wrongful_exit_rate": Quantity("share", wrongful_exit_rate),
    "counties_exited": Quantity("counties", counties_exited),
    "poor_villages": Quantity("villages", poor_villages),
    "poor_counties": Quantity("counties", poor_counties),
    "programme_active": Quantity("households", programme_active, ("programme",)),
    "migrant_workers": Quantity("persons", migrant_workers),
}


def simulate(ds: xr.Dataset, moments) -> np.ndarray:
    """Simulated value of each moment in its own unit.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of one scenario (``seed`` dimension), with the registry's
        ``poor_village`` / ``poor_county`` flags and ``scale`` attribute
        (:func:`model.runs.run_seed` records them).
    moments : sequence of Moment
        The moments (:class:`model.calibration.targets.Moment`).

    Returns
    -------
    numpy.ndarray
        Shape ``(n_moments, n_seeds)``; NaN where the quantity is undefined
        (e.g. a rate over zero exits).
    """
    out = np.full((len(moments), ds.sizes["seed"]), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        for k, m in enumerate(moments):
            q = QUANTITIES[m.quantity]
            value = q.fn(ds, m.year, **m.args)
            out[k] = np.asarray(value, dtype=float).reshape(-1) / UNITS[m.unit][1]
    return out
