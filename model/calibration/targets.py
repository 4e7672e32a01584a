"""Observed moments as data: ``calibration/targets.toml``.

A targets file names the scenario whose runs are compared with the record,
the last year fitted, the folder of the published tables, the uncertainty
rule and one ``[[moment]]`` table per observed figure::

    scenario = "national"          # scenario name or path (relative to this file)
    fit_until = 2016               # moments of later years are refused
    data = "../../shared/data"     # the published CSV tables, relative to this file

    [uncertainty]                  # relative standard deviation by the row's `verified`
    yes = 0.05
    partial = 0.15
    no = 0.30

    [[moment]]
    name = "headcount_2015"        # unique
    quantity = "survey_headcount"  # a function of model.calibration.moments.QUANTITIES
    year = 2015                    # the model year compared
    value = 5575                   # must equal the source row's value
    unit = "10k persons"           # the source row's unit
    source = { file = "national_headcount.csv", indicator = "poor_population", year = 2015 }
    range = [60, 70]               # optional: a range the source text gives (same unit)
    role = "fit"                   # "fit" (in the distance, default) or "check" (reported only)
    args = { programme = "transfer_employment" }   # optional arguments of the quantity

A share two rows give is a ratio: ``over`` names the row of the
denominator (its file defaults to the numerator's), and the value must
equal numerator / denominator in the moment's unit to four significant
digits (the moment then carries the exact ratio)::

    unit = "%"
    source = { file = "national_headcount.csv", indicator = "annual_reduction", year = 2015,
               over = { indicator = "poor_population", year = 2014 } }

A figure a seed policy document states (the folder ``seeds`` beside the
data folder) names the document by its number and quotes it::

    source = { seed = "003", section = "§一(二)", quote = "国家现行标准下的50万贫困人口" }

The quote must occur in the document word for word, and the number it gives
in 万 (ten thousands) must be the value in the moment's unit; a seed is the
issuing government's own text, so it counts as verified.

Uncertainty rule
----------------
The standard deviation of a moment is ``rel * |value|`` with ``rel`` from
``[uncertainty]`` by the row's ``verified`` column (yes / partial / no), or
half the width of ``range`` when that is larger. A ratio's ``rel`` combines
its two rows' as independent errors, ``sqrt(rel_1**2 + rel_2**2)``. A value is never typed in
alone: it is checked against its row, so every number fitted is one the
published tables hold.

Errors name the file, the moment (and its line), the key, the value and what
was expected, with a close match for a misspelt key or name.
"""

from __future__ import annotations

import csv
import hashlib
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from model.calibration import moments as mom
from model.errors import PovsimError, close_match, key_problem

_TOP = {"scenario": str, "fit_until": int, "data": str, "uncertainty": dict, "moment": list,
        "description": str}
_MOMENT = {"name": str, "quantity": str, "year": int, "value": (int, float), "unit": str,
           "source": dict, "range": list, "role": str, "args": dict, "note": str}
_REQUIRED = ("name", "quantity", "year", "value", "unit", "source")
_VERIFIED = ("yes", "partial", "no")
ROLES = ("fit", "check")


class TargetsError(PovsimError):
    """A targets file that does not parse, names an unknown thing or disagrees
    with its source row."""


@dataclass(frozen=True)
class Moment:
    """One observed moment.

    Attributes
    ----------
    name : str
        Unique label.
    quantity : str
        Model quantity compared (a key of :data:`model.calibration.moments.QUANTITIES`).
    year : int
        Model year compared (state at the end of the year).
    value : float
        Observed value, in ``unit``.
    unit : str
        Unit of ``value`` (one of :data:`model.calibration.moments.UNITS`).
    sd : float
        Standard deviation of the observation (same unit), from the rule above.
    verified : str
        The source row's ``verified`` column.
    source : dict
        File and the columns that select the row (``indicator``, ``year``, ...).
    role : str
        ``"fit"``: in the distance; ``"check"``: reported beside the fit only.
    args : dict
        Extra arguments of the quantity.
    range : tuple of float, optional
        Range given by the source text.
    note : str
        Free text (the observation mapping, caveats).
    """

    name: str
    quantity: str
    year: int
    value: float
    unit: str
    sd: float
    verified: str
    source: dict
    role: str = "fit"
    args: dict = field(default_factory=dict)
    range: tuple[float, float] | None = None
    note: str = ""

    @property
    def source_label(self) -> str:
        if "seed" in self.source:
            return f"seed {self.source['seed']} {self.source.get('section', '')}".rstrip()
        def label(src):
            keys = ", ".join(f"{k}={v}" for k, v in src.items() if k not in ("file", "over"))
            return f"{src['file']} ({keys})"
        if "over" in self.source:
            over = {"file": self.source["file"], **self.source["over"]}
            return f"{label(self.source)} / {label(over)}"
        return label(self.source)


@dataclass(frozen=True)
class Targets:
    """A parsed targets file.

    Attributes
    ----------
    path : Path
        The file.
    sha256 : str
        Hash of its bytes (fit provenance).
    scenario : str
        Scenario name, or a path resolved against the file's folder.
    fit_until : int
        Last year a fitted moment may describe.
    moments : tuple of Moment
        Every moment, fitted and checked.
    data : Path
        Folder of the published tables.
    """

    path: Path
    sha256: str
    scenario: str
    fit_until: int
    moments: tuple[Moment, ...]
    data: Path
    description: str = ""

    @property
    def fitted(self) -> tuple[Moment, ...]:
        """The moments in the distance (role ``fit``)."""
        return tuple(m for m in self.moments if m.role == "fit")

    @property
    def last_year(self) -> int:
        """Last model year any moment needs."""
        return max(m.year for m in self.moments)

    def until(self, year: int) -> Targets:
        """The same targets fitted only up to ``year``: later fitted moments are
        dropped (checks too), e.g. for a back-test."""
        kept = tuple(m for m in self.moments if m.year <= year
                     and (m.role == "check" or int(m.source.get("year", m.year)) <= year))
        return replace(self, fit_until=min(self.fit_until, year), moments=kept)


def _line(text: str, pattern: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if re.search(pattern, line):
            return number
    return 0


class _Where:
    def __init__(self, path: Path, text: str):
        self.path, self.text = path, text

    def top(self, key: str) -> str:
        line = _line(self.text, rf"^\s*{re.escape(key)}\s*=")
        return f"{self.path}, line {line}" if line else str(self.path)

    def moment(self, index: int, name: str | None) -> str:
        line = _line(self.text, rf"^\s*name\s*=\s*\"{re.escape(name)}\"") if name else 0
        label = f"moment '{name}'" if name else f"moment #{index + 1}"
        return f"{self.path}, {label}" + (f" (line {line})" if line else "")


def _check_keys(table: dict, allowed: dict, where: str) -> None:
    """Unknown keys and wrong types, by the project's one key checker (no
    allowed type is bool here, so a bool is always wrong)."""
    problem = key_problem(table, allowed, None)
    if problem is not None:
        raise TargetsError(f"{where}: {problem[1]}")


_TABLES: dict[Path, tuple[list[str], list[dict[str, str]]]] = {}


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Columns and rows of a published CSV table (cached per path)."""
    path = path.resolve()
    if path not in _TABLES:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            _TABLES[path] = (list(reader.fieldnames or []), list(reader))
    return _TABLES[path]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _find_row(data: Path, source: dict, where: str) -> dict[str, str]:
    if "file" not in source:
        raise TargetsError(f"{where}: 'source' lacks 'file' (expected e.g. "
                           "{ file = \"national_headcount.csv\", indicator = ..., year = ... })")
    name = str(source["file"])
    path = data / name
    if not path.is_file():
        known = sorted(p.name for p in data.glob("*.csv")) if data.is_dir() else []
        raise TargetsError(f"{where}: source file '{name}' not found in {data}"
                           + close_match(name, known))
    columns, rows = read_table(path)
    for key in source:
        if key != "file" and key not in columns:
            raise TargetsError(f"{where}: source key '{key}' is not a column of {name} "
                               f"(columns: {', '.join(columns)})" + close_match(key, columns))
    want = {k: str(v) for k, v in source.items() if k != "file"}
    found = [r for r in rows if all(r[k].strip() == v for k, v in want.items())]
    if len(found) != 1:
        if not found and "indicator" in want:
            names = sorted({r["indicator"] for r in rows})
            hint = close_match(want["indicator"], names) if want["indicator"] not in names \
                else ""
        else:
            hint = ""
        what = "no row" if not found else f"{len(found)} rows"
        raise TargetsError(f"{where}: {what} of {name} with "
                           + ", ".join(f"{k} = {v}" for k, v in want.items())
                           + " (expected exactly one)" + hint)
    return found[0]


_SEED_SOURCE = ("seed", "section", "quote")
_WAN = re.compile(r"(\d+(?:\.\d+)?)万")


def _seed_row(data: Path, source: dict, value: float, unit: str, where: str) -> dict[str, str]:
    """The row a seed quote stands for: its value (checked against the
    quote's figure in 万) and ``verified = yes``."""
    for key in source:
        if key not in _SEED_SOURCE:
            raise TargetsError(f"{where}: source key '{key}': expected "
                               f"{', '.join(_SEED_SOURCE)}" + close_match(key, _SEED_SOURCE))
    for key in ("seed", "quote"):
        if not isinstance(source.get(key), str) or not source[key]:
            raise TargetsError(f"{where}: a seed source needs '{key}' (text), e.g. "
                               "{ seed = \"003\", section = \"§一(二)\", quote = \"...\" }")
    folder = data.parent / "seeds"
    found = sorted(folder.glob(f"{source['seed']}_*.txt")) if folder.is_dir() else []
    if len(found) != 1:
        known = sorted(p.name.split("_")[0] for p in folder.glob("*.txt")) if folder.is_dir() \
            else []
        raise TargetsError(f"{where}: seed = {source['seed']!r}: no single document "
                           f"'{source['seed']}_*.txt' in {folder}"
                           + close_match(source["seed"], known))
    if source["quote"] not in found[0].read_text(encoding="utf-8"):
        raise TargetsError(f"{where}: quote {source['quote']!r} is not in {found[0].name}")
    figures = [float(x) * 1e4 / mom.UNITS[unit][1] for x in _WAN.findall(source["quote"])]
    if not any(abs(f - value) <= 1e-9 * max(1.0, abs(value)) for f in figures):
        raise TargetsError(f"{where}: value = {value:g} {unit}, but the quote gives "
                           + (", ".join(f"{f:g}" for f in figures) or "no figure in 万"))
    return {"value": repr(value), "unit": unit, "verified": "yes"}


def _verified(row: dict[str, str], where: str) -> str:
    """A source row's ``verified`` column, one of yes / partial / no."""
    verified = row.get("verified", "").strip()
    if verified not in _VERIFIED:
        raise TargetsError(f"{where}: source row's verified = {verified!r}: expected "
                           f"{', '.join(_VERIFIED)}")
    return verified


def _ratio_row(data: Path, source: dict, value: float, unit: str, rel: dict[str, float],
               where: str) -> tuple[float, dict[str, str]]:
    """The exact ratio of a source's row over its ``over`` row, checked against
    the moment's ``value``, and the row that stands for it (the weaker
    ``verified`` of the two, the combined relative error as ``rel``)."""
    over = source["over"]
    if not isinstance(over, dict):
        raise TargetsError(f"{where}: source.over = {over!r}: expected a table naming a row, "
                           "e.g. { indicator = \"poor_population\", year = 2014 }")
    top = {k: v for k, v in source.items() if k != "over"}
    rows = [_find_row(data, top, where), _find_row(data, {"file": source.get("file"), **over},
                                                   f"{where}, source.over")]
    numbers = [_number(r.get("value", "")) for r in rows]
    if None in numbers or numbers[1] == 0:
        raise TargetsError(f"{where}: the rows hold {rows[0].get('value')!r} over "
                           f"{rows[1].get('value')!r}: expected two numbers, the second not 0")
    if rows[0].get("unit") != rows[1].get("unit"):
        raise TargetsError(f"{where}: a ratio needs rows in one unit, not "
                           f"{rows[0].get('unit')!r} over {rows[1].get('unit')!r}")
    if mom.UNITS[unit][0] != "share":
        raise TargetsError(f"{where}: unit = {unit!r}: a ratio of two rows is a share "
                           "(unit '%' or '1')")
    ratio = numbers[0] / numbers[1] / mom.UNITS[unit][1]
    if abs(ratio - value) > 5e-4 * abs(ratio):
        raise TargetsError(f"{where}: value = {value:g} {unit}, but the rows give "
                           f"{numbers[0]:g} / {numbers[1]:g} = {ratio:.6g} {unit}")
    verified = [_verified(r, where) for r in rows]
    weaker = max(verified, key=_VERIFIED.index)
    combined = (rel[verified[0]] ** 2 + rel[verified[1]] ** 2) ** 0.5
    return ratio, {"value": repr(ratio), "unit": unit, "verified": weaker, "rel": repr(combined)}


def _moment(raw: Any, index: int, w: _Where, data: Path, rel: dict[str, float],
            fit_until: int) -> Moment:
    name = raw.get("name") if isinstance(raw, dict) else None
    where = w.moment(index, name if isinstance(name, str) else None)
    if not isinstance(raw, dict):
        raise TargetsError(f"{where}: expected a table [[moment]]")
    _check_keys(raw, _MOMENT, where)
    for key in _REQUIRED:
        if key not in raw:
            raise TargetsError(f"{where}: missing key '{key}'")
    quantity = raw["quantity"]
    if quantity not in mom.QUANTITIES:
        raise TargetsError(f"{where}: quantity = {quantity!r}: unknown (expected one of "
                           f"{', '.join(mom.QUANTITIES)})" + close_match(quantity, mom.QUANTITIES))
    unit = raw["unit"]
    if unit not in mom.UNITS:
        raise TargetsError(f"{where}: unit = {unit!r}: unknown (expected one of "
                           f"{', '.join(mom.UNITS)})" + close_match(unit, mom.UNITS))
    kind = mom.QUANTITIES[quantity].kind
    if mom.UNITS[unit][0] != kind:
        raise TargetsError(f"{where}: unit = {unit!r} measures {mom.UNITS[unit][0]}, but "
                           f"quantity '{quantity}' is in {kind}")
    args = raw.get("args", {})
    try:
        mom.QUANTITIES[quantity].check_args(args)
    except ValueError as err:
        raise TargetsError(f"{where}: args = {args!r}: {err}") from None
    role = raw.get("role", "fit")
    if role not in ROLES:
        raise TargetsError(f"{where}: role = {role!r}: expected 'fit' or 'check'"
                           + close_match(role, ROLES))
    source = dict(raw["source"])
    value = float(raw["value"])
    if "over" in source:
        value, row = _ratio_row(data, source, value, unit, rel, where)
    elif "seed" in source:
        row = _seed_row(data, source, value, unit, where)
    else:
        row = _find_row(data, source, where)
    observed = _number(row.get("value", ""))
    if observed is None or abs(observed - value) > 1e-9 * max(1.0, abs(value)):
        raise TargetsError(f"{where}: value = {raw['value']!r} but the source row "
                           f"({source.get('file')}) holds {row.get('value', '')!r}")
    if row.get("unit", unit) != unit:
        raise TargetsError(f"{where}: unit = {unit!r} but the source row "
                           f"({source['file']}) is in {row['unit']!r}")
    year = raw["year"]
    source_year = int(source.get("year", year))
    if role == "fit" and max(year, source_year) > fit_until:
        raise TargetsError(f"{where}: year {max(year, source_year)} is after fit_until = "
                           f"{fit_until}: only data up to the fit year is fitted (role = "
                           "\"check\" reports it without fitting)")
    verified = _verified(row, where)
    sd = float(row.get("rel", rel[verified])) * abs(value)
    span = None
    if "range" in raw:
        span = raw["range"]
        if (len(span) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                      for x in span) or not span[0] < span[1]):
            raise TargetsError(f"{where}: range = {span!r}: expected [low, high] with low < high")
        span = (float(span[0]), float(span[1]))
        sd = max(sd, (span[1] - span[0]) / 2)
    if not sd > 0:
        raise TargetsError(f"{where}: value {value:g} gives a zero uncertainty: give a 'range'")
    return Moment(name=name, quantity=quantity, year=int(year), value=value, unit=unit, sd=sd,
                  verified=verified, source=source, role=role, args=dict(args), range=span,
                  note=raw.get("note", ""))


def load_targets(path: str | Path) -> Targets:
    """Read and check a targets file (see the module docstring).

    Raises
    ------
    TargetsError
        On any problem, naming the file, moment, key and value.
    """
    path = Path(path)
    if not path.is_file():
        raise TargetsError(f"targets file '{path}' not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as err:
        raise TargetsError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise TargetsError(f"{path}: invalid TOML: {err}") from None
    w = _Where(path, text)
    _check_keys(data, _TOP, str(path))
    for key in ("scenario", "fit_until", "data", "moment"):
        if key not in data:
            raise TargetsError(f"{path}: missing key '{key}'")
    rel = data.get("uncertainty", {"yes": 0.05, "partial": 0.15, "no": 0.30})
    for key, value in rel.items():
        if key not in _VERIFIED:
            raise TargetsError(f"{w.top(key)}: unknown key 'uncertainty.{key}' (expected "
                               f"{', '.join(_VERIFIED)})" + close_match(key, _VERIFIED))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise TargetsError(f"{w.top(key)}: uncertainty.{key} = {value!r}: expected a "
                               "relative standard deviation >= 0")
    missing = [k for k in _VERIFIED if k not in rel]
    if missing:
        raise TargetsError(f"{path}: [uncertainty] lacks {', '.join(missing)}")
    folder = Path(data["data"])
    folder = folder if folder.is_absolute() else path.parent / folder
    if not folder.is_dir():
        raise TargetsError(f"{w.top('data')}: data = {data['data']!r}: folder {folder} not found "
                           "(a path is relative to the targets file)")
    fit_until = data["fit_until"]
    moments = [_moment(m, k, w, folder, rel, fit_until) for k, m in enumerate(data["moment"])]
    seen: dict[str, int] = {}
    for k, m in enumerate(moments):
        if m.name in seen:
            raise TargetsError(f"{w.moment(k, m.name)}: name {m.name!r} is used twice")
        seen[m.name] = k
    if not any(m.role == "fit" for m in moments):
        raise TargetsError(f"{path}: no moment with role 'fit'")
    scenario = data["scenario"]
    if scenario.endswith(".toml") or "/" in scenario:
        scenario = str(path.parent / scenario) if not Path(scenario).is_absolute() else scenario
    return Targets(path=path, sha256=hashlib.sha256(raw).hexdigest(), scenario=scenario,
                   fit_until=fit_until, moments=tuple(moments), data=folder,
                   description=data.get("description", ""))
