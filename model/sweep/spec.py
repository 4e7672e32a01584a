"""Sweep files: which scenarios, which factors over which ranges, which design,
how many points and seeds, and which outcomes.

A sweep file is TOML, checked as strictly as a scenario file: an unknown key,
a wrong type or a bad value is a :class:`~model.errors.PovsimError` naming
the file, the line and the key, with a close match for a misspelt name.
Every key, with an example::

    name = "xiangxi-levers"          # default: the file name
    description = "What matters for Xiangxi's 2019 deadline"
    scenarios = ["xiangxi"]          # names or files (relative to this file)
    seeds = 2                        # seeds per point (default 1), the same for every point
    seed = 0                         # first seed (default 0)
    scale = 0.02                     # share of households, overriding the scenarios'
    outcomes = ["zero_year", "met:zero_by:2019", "registered_poor:2019",
                "cost_per_exit", "county_exits:2019"]
    series = ["registered"]          # per-year series kept per task (default none)

    [design]
    kind = "sobol"                   # grid, lhs, sobol or morris
    points = 256                     # see below
    second_order = false             # sobol: second-order indices too
    levels = 4                       # morris: levels of its grid
    seed = 0                         # random seed of the lhs, sobol or morris sample

    [factors."relocation.capacity"]  # a declared parameter (or programmes.<p>.<key>)
    range = [10000, 40000]           # or levels = [...] (grid only)
    scale = "linear"                 # or "log"
    years = [2016, 2017, 2018, 2019] # only in these years (default: every year)

``points`` is, by design: ``grid`` the levels of each factor given by a range
(evenly spaced, or evenly in log); ``lhs`` the points of the Latin hypercube;
``sobol`` the base sample N of Saltelli's scheme, a power of 2 (N (k + 2)
points for k factors, N (2k + 2) with second-order indices); ``morris`` the
trajectories (r (k + 1) points).
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.analysis.outcomes import Outcome, parse_outcome
from model.errors import PovsimError, close_match, key_problem
from model.params import FIRST_YEAR, LAST_YEAR, Parameters, unknown_name_hint
from model.scenario import Scenario, _File, find_scenario, load_scenario

DESIGNS = ("grid", "lhs", "sobol", "morris")
SERIES = {"registered": ("persons", "registered poor people at the end of the year"),
          "exits": ("persons", "people in households exiting in the year"),
          "returns": ("persons", "people in households returning to poverty in the year"),
          "cost": ("yuan/year", "programme cost in the year")}
DEFAULT_OUTCOMES = ("zero_year", "registered_end", "cost_per_exit", "met:zero_by:2019",
                    "met:zero_by:2020", "county_exits:2019")
_NUMBER = (int, float)
_TOP = {"name": str, "description": str, "scenarios": list, "seeds": int, "seed": int,
        "scale": _NUMBER, "outcomes": list, "series": list, "design": dict, "factors": dict}
_DESIGN = {"kind": str, "points": int, "second_order": bool, "levels": int, "seed": int}
_FACTOR = {"range": list, "levels": list, "scale": str, "years": list}
_MAX_POINTS = 10_000_000


@dataclass(frozen=True)
class Factor:
    """One factor of a sweep.

    Attributes
    ----------
    name : str
        The declared parameter it sets.
    low, high : float
        Its range, in the parameter's unit.
    levels : tuple of float
        Its levels when given as a list (grid designs); empty otherwise.
    log : bool
        Sampled evenly in log (the range must be above 0).
    years : tuple of int
        The years it holds in (empty: every year).
    """

    name: str
    low: float
    high: float
    levels: tuple[float, ...] = ()
    log: bool = False
    years: tuple[int, ...] = ()

    def overlay(self, value: float, params: Parameters, end_year: int) -> dict[str, Any]:
        """The parameter overlay that sets this factor to ``value``: the value in
        every year, or only in :attr:`years` (the scenario's values in the
        other years up to ``end_year``)."""
        if not self.years:
            return {self.name: float(value)}
        first = min(self.years)
        table = {year: float(value) if year in self.years else float(params.at(self.name, year))
                 for year in range(first, max(end_year, max(self.years)) + 1)}
        return {self.name: table}


@dataclass(frozen=True)
class Sweep:
    """A checked sweep: its scenarios, factors, design, seeds and outcomes."""

    name: str
    description: str
    source: str
    text: str
    scenarios: tuple[Scenario, ...]
    factors: tuple[Factor, ...]
    design: str
    points: int
    second_order: bool
    levels: int
    design_seed: int
    seeds: tuple[int, ...]
    outcomes: tuple[Outcome, ...]
    series: tuple[str, ...]

    def fingerprint(self) -> str:
        """A digest of everything that decides the sweep's numbers (the sweep
        text or its command line, and each scenario's resolved text)."""
        blob = json.dumps({"text": self.text,
                           "scenarios": [(s.name, s.text, s.scale, s.registry)
                                         for s in self.scenarios]}, sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def point_overlay(factors: tuple[Factor, ...], values, params: Parameters,
                  end_year: int) -> dict[str, Any]:
    """The overlay of one point: every factor at its value."""
    out: dict[str, Any] = {}
    for factor, value in zip(factors, values):
        out.update(factor.overlay(value, params, end_year))
    return out


# ---------------------------------------------------------------- reading


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise PovsimError(f"sweep file '{path}' not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise PovsimError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    return parse_sweep(text, str(path), path)


def parse_sweep(text: str, source: str, path: Path | None = None) -> Sweep:
    """Check a sweep from its TOML text; ``path`` locates scenario files
    named relative to it."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PovsimError(f"{source}: not valid TOML: {err}") from None
    return _from_table(data, _File(source, path, text))


def quick_sweep(scenario: str, vary: list[str], points: int, seeds: int, seed: int = 0,
                design: str = "grid", outcomes: list[str] | None = None,
                scale: float | None = None) -> Sweep:
    """A sweep from the command line, e.g. ``xiangxi --vary
    relocation.capacity=10000:40000 --points 8 --seeds 5``.

    ``vary`` holds ``NAME=LOW:HIGH`` (linear), ``NAME=LOW:HIGH:log`` or
    ``NAME=A,B,C`` (levels). The sweep is written out as the TOML text it
    stands for, so that its store can be resumed by the same command.
    """
    factors = {}
    given: dict[str, str] = {}  # factor name: the --vary item that gave it
    for item in vary:
        name, eq, spec = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise PovsimError(f"--vary '{item}': expected NAME=LOW:HIGH, NAME=LOW:HIGH:log or "
                              "NAME=A,B,C")
        if name in given:
            raise PovsimError(f"--vary '{item}': factor '{name}' is already given by "
                              f"--vary '{given[name]}': expected each factor once")
        given[name] = item
        parts = spec.split(":")
        try:
            if "," in spec:
                factors[name] = {"levels": [float(v) for v in spec.split(",")]}
            elif len(parts) in (2, 3) and (len(parts) == 2 or parts[2] in ("log", "linear")):
                entry: dict[str, Any] = {"range": [float(parts[0]), float(parts[1])]}
                if len(parts) == 3:
                    entry["scale"] = parts[2]
                factors[name] = entry
            else:
                raise ValueError(spec)
        except ValueError:
            raise PovsimError(f"--vary '{item}': expected NAME=LOW:HIGH, NAME=LOW:HIGH:log or "
                              "NAME=A,B,C with numbers") from None
    table: dict[str, Any] = {"name": f"{Path(scenario).stem}-sweep", "scenarios": [scenario],
                             "seeds": seeds, "seed": seed,
                             "outcomes": list(outcomes or DEFAULT_OUTCOMES),
                             "design": {"kind": design, "points": points},
                             "factors": factors}
    if scale is not None:
        table["scale"] = scale
    text = _to_toml(table)
    return _from_table(table, _CommandLine("command line", None, text, tuple(given.items())))


# the options of a quick sweep that give each key of the sweep table
_OPTIONS = {"points": "--points", "kind": "--design", "seeds": "--seeds", "seed": "--seed",
            "outcomes": "--outcome", "scale": "--scale", "scenarios": "the scenario argument"}


@dataclass(frozen=True)
class _CommandLine(_File):
    """A quick sweep's table, written out as the TOML it stands for: a
    message names the option that gave a value, not a line of that text."""

    vary: tuple[tuple[str, str], ...] = ()  # (factor name, its --vary item)

    def where(self, key: str, section: str | None = None) -> str:
        for name, item in self.vary:
            if (section == "factors" and key == name) or section == f"factors.{name}":
                return f"{self.label}, --vary '{item}'"
        if section in (None, "design") and key in _OPTIONS:
            return f"{self.label}, {_OPTIONS[key]}"
        return self.label


def _to_toml(table: dict) -> str:
    """The TOML text of a quick sweep (plain values and one level of tables)."""
    def value(v):
        return json.dumps(v, ensure_ascii=False) if not isinstance(v, bool) else str(v).lower()

    lines = [f"{k} = {value(v)}" for k, v in table.items() if not isinstance(v, dict)]
    lines += ["", "[design]"] + [f"{k} = {value(v)}" for k, v in table["design"].items()]
    for name, entry in table["factors"].items():
        lines += ["", f"[factors.{json.dumps(name)}]"]
        lines += [f"{k} = {value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


def _check(table: dict, allowed: dict, src: _File, section: str | None) -> None:
    problem = key_problem(table, allowed, section)
    if problem is not None:
        raise src.error(problem[0], section, problem[1])


def _from_table(data: dict, src: _File) -> Sweep:
    _check(data, _TOP, src, None)
    for key in ("scenarios", "design", "factors"):
        if key not in data:
            raise PovsimError(f"{src.label}: missing '{key}': a sweep names its scenarios, "
                              "its design and its factors")
    seeds = data.get("seeds", 1)
    first = data.get("seed", 0)
    if not 1 <= seeds <= 100000:
        raise src.error("seeds", None, f"'seeds' = {seeds}: expected 1 to 100000")
    if not 0 <= first < 2**63 - seeds:
        raise src.error("seed", None, f"'seed' = {first}: expected a whole number from 0")
    scale = data.get("scale")
    if scale is not None and not 0 < scale <= 1:
        raise src.error("scale", None, f"'scale' = {scale}: expected a share of households "
                                       "above 0 and at most 1")
    scenarios = tuple(_scenario(name, src, scale) for name in _strings(data, "scenarios", src))
    if not scenarios:
        raise src.error("scenarios", None, "'scenarios' is empty: expected at least one")
    outcomes = []
    for text in _strings(data, "outcomes", src, DEFAULT_OUTCOMES):
        try:
            outcomes.append(parse_outcome(text))
        except ValueError as err:
            raise src.error("outcomes", None, str(err)) from None
    if len({o.label for o in outcomes}) != len(outcomes):
        raise src.error("outcomes", None, "'outcomes' names an outcome twice")
    _check_targets(outcomes, scenarios, src)
    series = _strings(data, "series", src, ())
    for name in series:
        if name not in SERIES:
            raise src.error("series", None, f"unknown series '{name}': expected "
                            f"{', '.join(SERIES)}" + close_match(name, SERIES))
    design = data["design"]
    _check(design, _DESIGN, src, "design")
    kind = design.get("kind", "")
    if kind not in DESIGNS:
        raise src.error("kind", "design", f"'design.kind' = {kind!r}: expected one of "
                        f"{', '.join(DESIGNS)}" + close_match(kind, DESIGNS))
    factors = tuple(_factor(name, entry, src, scenarios[0].params, kind)
                    for name, entry in data["factors"].items())
    if not factors:
        raise src.error("factors", None, "no factors: expected at least one [factors.<name>]")
    if len({f.name for f in factors}) != len(factors):
        raise src.error("factors", None, "a parameter is named twice among the factors")
    points = design.get("points", 0)
    needs_points = kind != "grid" or any(not f.levels for f in factors)
    if needs_points and not 1 <= points <= _MAX_POINTS:
        raise src.error("points", "design", f"'design.points' = {points}: expected 1 to "
                                            f"{_MAX_POINTS}")
    if kind == "grid" and needs_points and points < 2:
        raise src.error("points", "design", f"'design.points' = {points}: a grid needs at "
                                            "least 2 levels per factor")
    if kind == "sobol" and points & (points - 1):
        raise src.error("points", "design", f"'design.points' = {points}: Saltelli's sample "
                        "needs a power of 2 (e.g. 256 or 512)")
    if kind in ("sobol", "morris") and len(factors) < 2:
        raise src.error("factors", None, f"a {kind} design needs at least 2 factors")
    levels = design.get("levels", 4)
    if kind == "morris" and not 2 <= levels <= 100:
        raise src.error("levels", "design", f"'design.levels' = {levels}: expected 2 to 100")
    for key, only in (("second_order", "sobol"), ("levels", "morris")):
        if key in design and kind != only:
            raise src.error(key, "design", f"'design.{key}' is for {only} designs only")
    design_seed = design.get("seed", 0)
    if not 0 <= design_seed < 2**32:
        raise src.error("seed", "design", f"'design.seed' = {design_seed}: expected 0 to 2**32-1")
    name = data.get("name") or (Path(src.path).stem if src.path else "sweep")
    return Sweep(name=name, description=data.get("description", ""), source=src.label,
                 text=src.text, scenarios=scenarios, factors=factors, design=kind,
                 points=points, second_order=design.get("second_order", False),
                 levels=levels, design_seed=design_seed,
                 seeds=tuple(range(first, first + seeds)), outcomes=tuple(outcomes),
                 series=tuple(series))


def _check_targets(outcomes: list[Outcome], scenarios: tuple[Scenario, ...], src: _File) -> None:
    """A ``met:`` outcome must name a target of some scenario's plan (or a
    national deadline)."""
    from model.analysis.compare import plan_targets

    known = {t.label for s in scenarios for t in plan_targets(s.targets)}
    for o in outcomes:
        if o.is_probability and o.arg not in known:
            raise src.error("outcomes", None, f"outcome '{o.label}': no scenario of the sweep "
                            f"has target '{o.arg}'; their targets are "
                            f"{', '.join(sorted(known))}" + close_match(o.arg, known))


def _strings(data: dict, key: str, src: _File, default=None) -> list[str]:
    values = data.get(key, default)
    if values is None:
        return []
    if any(not isinstance(v, str) for v in values):
        raise src.error(key, None, f"'{key}' = {values!r}: expected a list of strings")
    return list(values)


def _scenario(name: str, src: _File, scale: float | None) -> Scenario:
    target: str | Path = name
    if src.path is not None and (name.endswith(".toml") or "/" in name):
        beside = Path(src.path).parent / name
        target = beside if beside.is_file() else name
    try:
        find_scenario(target)
        scenario = load_scenario(target)
    except PovsimError as err:
        raise PovsimError(f"{src.where('scenarios')}: {err}") from None
    if scale is not None:
        from dataclasses import replace
        scenario = replace(scenario, scale=float(scale))
    if scenario.draws:
        raise src.error("scenarios", None, f"scenario '{name}' draws parameter vectors from a "
                                           "fit: a sweep runs fixed parameters")
    return scenario


def _factor(name: str, entry: Any, src: _File, params: Parameters, design: str) -> Factor:
    section = f"factors.{name}"
    if not isinstance(entry, dict):
        raise src.error(name, "factors", f"'{section}' = {entry!r}: expected a table with "
                                         "range or levels")
    _check(entry, _FACTOR, src, section)
    param = name.removeprefix("programmes.")
    if param not in params:
        raise src.error(name, "factors", f"unknown parameter '{param}' in [{section}]"
                        + unknown_name_hint(param, params.names()))
    decl = params.declaration(param)
    if decl.shape != ():
        raise src.error(name, "factors", f"parameter '{param}' is a vector: a factor must be "
                                         "a single number")
    if ("range" in entry) == ("levels" in entry):
        raise src.error(name, "factors", f"[{section}]: expected either range = [low, high] or "
                                         "levels = [...]")
    scale = entry.get("scale", "linear")
    if scale not in ("linear", "log"):
        raise src.error("scale", section, f"'{section}.scale' = {scale!r}: expected 'linear' "
                                          "or 'log'")
    values = entry.get("range") or entry.get("levels")
    key = "range" if "range" in entry else "levels"
    if any(isinstance(v, bool) or not isinstance(v, _NUMBER) or not math.isfinite(v)
           for v in values):
        raise src.error(key, section, f"'{section}.{key}' = {values!r}: expected numbers")
    if key == "range" and (len(values) != 2 or not values[0] < values[1]):
        raise src.error(key, section, f"'{section}.range' = {values!r}: expected [low, high] "
                                      "with low < high")
    if key == "levels" and (len(values) < 2 or len(set(values)) != len(values)):
        raise src.error(key, section, f"'{section}.levels' = {values!r}: expected at least 2 "
                                      "different values")
    if key == "levels" and design != "grid":
        raise src.error(key, section, f"'{section}.levels' is for grid designs only: a "
                                      f"{design} design samples a range")
    low, high = float(min(values)), float(max(values))
    if low < decl.low or high > decl.high:
        raise src.error(key, section, f"'{section}.{key}' = {values!r} leaves the declared range "
                        f"of '{param}' [{decl.low:g}, {decl.high:g}] ({decl.unit})")
    if scale == "log" and low <= 0:
        raise src.error(key, section, f"'{section}.{key}' = {values!r}: a log scale needs "
                                      "values above 0")
    years = entry.get("years", [])
    if any(isinstance(y, bool) or not isinstance(y, int) or not FIRST_YEAR <= y <= LAST_YEAR
           for y in years):
        raise src.error("years", section, f"'{section}.years' = {years!r}: expected years "
                                          f"from {FIRST_YEAR} to {LAST_YEAR}")
    return Factor(param, low, high, tuple(float(v) for v in values) if key == "levels" else (),
                  scale == "log", tuple(sorted(set(years))))

