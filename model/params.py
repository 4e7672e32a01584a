"""Dated parameters with units, ranges and references.

Every parameter is declared once in ``model/parameters.toml`` (description,
unit, range, reference and a value or dated values). A dated value holds from
its year until the next dated value. Scenarios change parameters through
overlays, which are checked against the declarations: an unknown key or a value
out of range is a :class:`~model.errors.ParameterError` naming the key, the value
and what was expected, with a close match for a misspelt key.

Examples
--------
>>> from model.params import Parameters
>>> p = Parameters.load()
>>> float(p.at("poverty_line", 2016))
2952.0
>>> q = p.with_overlay({"poverty_line": {"2016": 4000}}, source="my.toml")
>>> float(q.at("poverty_line", 2017)), float(q.at("poverty_line", 2020))
(4000.0, 4000.0)
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any, Mapping

import numpy as np

from model.errors import ParameterError, brief, close_match

_DECLARATION_KEYS = {"description", "unit", "range", "reference", "value", "values",
                     "calibrate", "integer"}
_WHOLE_UNITS = ("flag", "code")   # a value in these units must be declared integer = true
_PRIOR_SCALES = ("linear", "log")
# Years any input may name (dated parameters, targets, registry base years).
FIRST_YEAR, LAST_YEAR = 1949, 2100

# Names that were renamed when parameters were grouped by subject: an old
# name is an error that names the new one.
RENAMED = {
    "verification_sigma": "household_exit.verification_sigma",
    "return_threshold": "household_exit.return_threshold",
    "require_guarantees": "household_exit.require_guarantees",
    "safety_net_exit_at_dibao": "household_exit.covered_at_dibao",
    "policy_grace_years": "household_exit.policy_grace_years",
    "illness_base_rate": "illness.base_rate",
    "illness_rate_per_ill": "illness.rate_per_ill",
    "illness_cost_mean": "illness.cost_mean",
    "medical_reimbursement": "illness.reimbursement",
}
_RENAMED_PREFIX = "delivery.build_months."   # delivery.build_months.<p> -> <p>.build_months


def renamed(name: str) -> str | None:
    """The current name of a parameter's old name, or None."""
    if name in RENAMED:
        return RENAMED[name]
    if name.startswith(_RENAMED_PREFIX):
        return f"{name[len(_RENAMED_PREFIX):]}.build_months"
    return None


def unknown_name_hint(name: str, known) -> str:
    """What to say after "unknown parameter 'name'": the new name of a renamed
    parameter, else the closest declared name."""
    new = renamed(name)
    if new is not None and new in known:
        return f" (renamed: did you mean '{new}'?)"
    return close_match(name, known)
_REQUIRED_KEYS = {"description", "unit", "range", "reference"}


@dataclass(frozen=True)
class Parameter:
    """One declared parameter.

    Attributes
    ----------
    name : str
        Dotted name, e.g. ``"asset_income.dividend"``.
    description, unit, reference : str
        Metadata; the unit is where units live (never in the name).
    low, high : float
        Inclusive range for every element of every value.
    dated : tuple of (int, numpy.ndarray)
        ``(year, value)`` pairs sorted by year; a value is a float64 array of
        shape ``()`` for scalars or ``(k,)`` for vectors.
    prior : tuple of (float, float), optional
        For a free parameter (declared ``calibrate = { prior = [low, high],
        scale = "linear" }``): the prior range a calibration may move it in,
        inside ``[low, high]``. ``None`` for a fixed parameter.
    prior_scale : str
        ``"linear"`` or ``"log"``: how the prior range is sampled.
    integer : bool
        True for whole numbers only (declared ``integer = true``: flags,
        codes and counts the code uses as integers).
    """

    name: str
    description: str
    unit: str
    reference: str
    low: float
    high: float
    dated: tuple[tuple[int, np.ndarray], ...] = field(repr=False)
    prior: tuple[float, float] | None = None
    prior_scale: str = "linear"
    integer: bool = False

    @property
    def free(self) -> bool:
        """True for a parameter a calibration may fit."""
        return self.prior is not None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.dated[0][1].shape

    def at(self, year: int) -> np.ndarray:
        """Value in force in ``year`` (the latest dated value at or before it)."""
        value = None
        for start, v in self.dated:
            if start <= year:
                value = v
            else:
                break
        if value is None:
            raise ParameterError(
                f"parameter '{self.name}' has no value for year {year}: "
                f"its first dated value is for {self.dated[0][0]}"
            )
        return value


def _as_value(name: str, raw: Any, shape: tuple[int, ...] | None, low: float, high: float,
              where: str, integer: bool = False) -> np.ndarray:
    """Check one value (number or list of numbers) and return it as float64 array."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, list)):
        raise ParameterError(
            f"{where}: parameter '{name}' = {raw!r}: expected a number"
            + (" or a list of numbers" if shape not in (None, ()) else "")
        )
    if isinstance(raw, list):
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw):
            raise ParameterError(f"{where}: parameter '{name}' = {raw!r}: expected numbers only")
    value = np.array(raw, dtype=np.float64)
    value.flags.writeable = False  # shared by every run using these parameters
    if shape is not None and value.shape != shape:
        expected = "a single number" if shape == () else f"a list of {shape[0]} numbers"
        raise ParameterError(f"{where}: parameter '{name}' = {raw!r}: expected {expected}")
    bad = np.isnan(value) | (value < low) | (value > high)
    if bad.any():
        raise ParameterError(
            f"{where}: parameter '{name}' = {brief(raw)} is out of range: "
            f"expected values in [{low:g}, {high:g}]"
        )
    if integer and (value != np.floor(value)).any():
        raise ParameterError(f"{where}: parameter '{name}' = {brief(raw)}: expected a whole "
                             f"number in [{low:g}, {high:g}] (it is a count, a code or a flag)")
    return value


def _as_year(name: str, key: Any, where: str) -> int:
    try:
        year = int(key)
    except (TypeError, ValueError):
        raise ParameterError(
            f"{where}: parameter '{name}': dated key {key!r} is not a year (expected e.g. 2016)"
        ) from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ParameterError(f"{where}: parameter '{name}': year {year} is outside "
                             f"{FIRST_YEAR}-{LAST_YEAR}")
    return year


def flatten(tree: Mapping[str, Any], is_leaf, prefix: str = "") -> dict[str, Any]:
    """Nested tables to dotted names: the one flattener of parameter trees.

    A value that is not a table, an empty table, or a table for which
    ``is_leaf(dotted_name, table)`` is true is a leaf; other tables are
    walked into.
    """
    flat: dict[str, Any] = {}
    for key, sub in tree.items():
        name = f"{prefix}{key}"
        if isinstance(sub, Mapping) and sub and not is_leaf(name, sub):
            flat.update(flatten(sub, is_leaf, name + "."))
        else:
            flat[name] = sub
    return flat


def _flatten(tree: Mapping[str, Any]) -> dict[str, Any]:
    """Declarations by dotted name: a table holding ``value``, ``values`` or
    ``description`` is a leaf, and so is a table of years."""
    return flatten(tree, lambda _name, sub: bool(_DECLARATION_KEYS & set(sub)) or _looks_dated(sub))


def flatten_overlay(tree: Mapping[str, Any], declared: Mapping[str, Any]) -> dict[str, Any]:
    """An overlay by dotted name: a declared name is a leaf whatever its
    value, and so is a table of years (an undeclared dated name is then
    reported by its name)."""
    return flatten(tree, lambda name, sub: name in declared or _looks_dated(sub))


def _looks_dated(table: Mapping[str, Any]) -> bool:
    return bool(table) and all(str(k).isdigit() for k in table)


def _declare(name: str, table: Mapping[str, Any], where: str) -> Parameter:
    missing = _REQUIRED_KEYS - set(table)
    unknown = set(table) - _DECLARATION_KEYS
    if missing:
        raise ParameterError(f"{where}: parameter '{name}' lacks {', '.join(sorted(missing))}")
    if unknown:
        key = sorted(unknown)[0]
        raise ParameterError(f"{where}: parameter '{name}' has unknown key '{key}'"
                             + close_match(key, _DECLARATION_KEYS))
    if ("value" in table) == ("values" in table):
        raise ParameterError(f"{where}: parameter '{name}' needs exactly one of 'value' or 'values'")
    low, high = (float(x) for x in table["range"])
    integer = table.get("integer", False)
    if not isinstance(integer, bool) or (table["unit"] in _WHOLE_UNITS and not integer):
        raise ParameterError(f"{where}: parameter '{name}': integer = {integer!r}: expected "
                             "true or false (true for a flag or a code)")
    if "value" in table:
        dated = ((FIRST_YEAR, _as_value(name, table["value"], None, low, high, where,
                                        integer)),)
    else:
        pairs = sorted((_as_year(name, k, where), v) for k, v in table["values"].items())
        first = _as_value(name, pairs[0][1], None, low, high, where, integer)
        dated = tuple((y, _as_value(name, v, first.shape, low, high, where, integer))
                      for y, v in pairs)
    prior, scale = _prior(name, table.get("calibrate"), low, high, where)
    if prior is not None and len(dated) > 1:
        raise ParameterError(f"{where}: parameter '{name}' has dated values and a calibrate "
                             "prior: a fit sets one value for every year, so a free parameter "
                             "needs a single 'value'")
    return Parameter(name, table["description"], table["unit"], table["reference"],
                     low, high, dated, prior, scale, integer)


def _prior(name: str, raw: Any, low: float, high: float,
           where: str) -> tuple[tuple[float, float] | None, str]:
    """Check a ``calibrate = { prior = [a, b], scale = "linear" | "log" }`` field."""
    if raw is None:
        return None, "linear"
    what = f"{where}: parameter '{name}': calibrate"
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{what} = {raw!r}: expected a table "
                             "{ prior = [low, high], scale = \"linear\" or \"log\" }")
    unknown = sorted(set(raw) - {"prior", "scale"})
    if unknown:
        raise ParameterError(f"{what} has unknown key '{unknown[0]}'"
                             + close_match(unknown[0], ("prior", "scale")))
    bounds = raw.get("prior")
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in bounds)):
        raise ParameterError(f"{what}.prior = {bounds!r}: expected [low, high], two numbers")
    a, b = float(bounds[0]), float(bounds[1])
    if not (low <= a < b <= high):
        raise ParameterError(f"{what}.prior = {bounds!r}: expected low < high inside the "
                             f"parameter's range [{low:g}, {high:g}]")
    scale = raw.get("scale", "linear")
    if scale not in _PRIOR_SCALES:
        raise ParameterError(f"{what}.scale = {scale!r}: expected \"linear\" or \"log\""
                             + close_match(str(scale), _PRIOR_SCALES))
    if scale == "log" and a <= 0:
        raise ParameterError(f"{what}.prior = {bounds!r}: a log scale needs low > 0")
    return (a, b), scale


class Parameters:
    """The full set of parameters: declarations plus any overlays applied.

    Use :meth:`load` for the declared defaults and :meth:`with_overlay` to
    apply a scenario's changes; both return new objects (parameters are never
    changed in place, so one object can be shared by many runs).
    """

    def __init__(self, declared: Mapping[str, Parameter], applied: tuple[str, ...] = ()):
        self._params = dict(declared)
        self.applied = applied  # sources of the overlays applied, in order

    @classmethod
    def load(cls, overlay: Mapping[str, Any] | None = None, source: str = "overlay") -> Parameters:
        """Read ``model/parameters.toml`` and apply ``overlay`` if given."""
        text = resources.files("model").joinpath("parameters.toml").read_text(encoding="utf-8")
        where = "model/parameters.toml"
        tree = tomllib.loads(text)
        declared = {n: _declare(n, t, where) for n, t in _flatten(tree).items()}
        params = cls(declared)
        return params.with_overlay(overlay, source) if overlay else params

    def __contains__(self, name: str) -> bool:
        return name in self._params

    def names(self) -> list[str]:
        return sorted(self._params)

    def free_names(self) -> list[str]:
        """Names of the parameters declared with a ``calibrate`` prior."""
        return sorted(n for n, d in self._params.items() if d.free)

    def declaration(self, name: str) -> Parameter:
        self._check_name(name, "lookup")
        return self._params[name]

    def _check_name(self, name: str, where: str) -> None:
        if name not in self._params:
            raise ParameterError(f"{where}: unknown parameter '{name}'"
                                 + unknown_name_hint(name, self._params))

    def at(self, name: str, year: int) -> np.ndarray:
        """Value of ``name`` in force in ``year`` (float64 array, 0-d for scalars)."""
        self._check_name(name, "lookup")
        return self._params[name].at(year)

    def scalar(self, name: str, year: int) -> float:
        """Value of a scalar parameter in ``year`` as a Python float."""
        return float(self.at(name, year))

    def with_overlay(self, overlay: Mapping[str, Any], source: str = "overlay") -> Parameters:
        """Return new parameters with ``overlay`` applied.

        Parameters
        ----------
        overlay : mapping
            Dotted names (or nested tables) to either a value, which replaces
            every dated value, or a table ``{year: value}``: its values hold
            from their years on, replacing every declared value dated at or
            after its first year; declared values before that year are kept.
        source : str
            Where the overlay comes from (a file name), used in error messages.
        """
        params = dict(self._params)
        for name, raw in flatten_overlay(overlay, params).items():
            if name not in params:
                raise ParameterError(f"{source}: unknown parameter '{name}'"
                                     + unknown_name_hint(name, params))
            decl = params[name]
            if isinstance(raw, Mapping):
                if not raw:
                    raise ParameterError(f"{source}: parameter '{name}' = {{}}: expected a value "
                                         "or a table of {year = value}")
                given = {_as_year(name, key, source):
                         _as_value(name, v, decl.shape, decl.low, decl.high, source,
                                   decl.integer)
                         for key, v in raw.items()}
                first = min(given)
                kept = {y: v for y, v in decl.dated if y < first}
                new = tuple(sorted({**kept, **given}.items()))
            else:
                new = ((FIRST_YEAR, _as_value(name, raw, decl.shape, decl.low, decl.high,
                                              source, decl.integer)),)
            params[name] = replace(decl, dated=new)
        return Parameters(params, self.applied + (source,))

    def resolved(self, years: range) -> dict[str, list]:
        """Every parameter's value in each of ``years``: ``{name: [v_year...]}``.

        Used to record the parameters of a run in its results.
        """
        out = {}
        for name in self.names():
            decl = self._params[name]
            values = []
            for y in years:
                try:
                    v = decl.at(y)
                except ParameterError:
                    v = np.full(decl.shape, math.nan)
                values.append(v.tolist())
            out[name] = values
        return out
