"""Scenarios: TOML files naming a registry, run settings, parameter overlays
and targets.

A scenario file looks like this (every key optional but ``name``)::

    name = "ruyuan"
    description = "one line for listings"

    [run]
    registry = "ruyuan"          # a built-in registry spec or a path
    end_year = 2020              # last simulated year, inclusive
    seeds = 1                    # default number of seeds
    programmes = ["safety_net", "asset_income"]   # default: all

    [parameters]                 # overlays on model/parameters.toml
    poverty_line = { 2016 = 6433 }

    [targets]
    exits_people = { 2016 = 2500 }   # planned exits (persons) by year
    zero_by = 2018                   # registered-poor count zero by this year

Unknown keys, wrong types and values out of range are
:class:`~model.errors.ScenarioError` naming the file, the line and the key,
with a close match for a misspelt key. The embedded default is
``model/default_scenario.toml`` (Ruyuan county).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from model.errors import ParameterError, PovsimError, ScenarioError, close_match
from model.params import Parameters, flatten_overlay
from model.measures import PROGRAMMES

_TOP = {"name": str, "description": str, "run": dict, "parameters": dict, "targets": dict}
_RUN = {"registry": str, "end_year": int, "seeds": int, "programmes": list}
_TARGETS = {"exits_people": dict, "zero_by": int}
DEFAULT = "default_scenario.toml"


@dataclass(frozen=True)
class Scenario:
    """A resolved scenario: settings plus parameters with its overlay applied."""

    name: str
    description: str
    registry: str
    end_year: int
    seeds: int
    programmes: tuple[str, ...]
    params: Parameters = field(repr=False)
    targets: dict[str, Any]
    source: str
    text: str = field(repr=False)


def _line_of(text: str, key: str, section: str | None = None) -> int:
    """1-based line where ``section.key`` is set or opened as a table, or 0.

    Understands inline tables, dotted keys (``a.b = 1``) and sub-tables
    (``[parameters.a]`` then ``b = 1``).
    """
    target = f"{section}.{key}" if section else key
    table = ""
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            table = header.group(1).replace(" ", "").replace('"', "")
            if table == target:
                return number
            continue
        assignment = re.match(r"^\s*([A-Za-z0-9_.\-\" ]+?)\s*=", line)
        if assignment:
            name = assignment.group(1).replace(" ", "").replace('"', "")
            path = f"{table}.{name}" if table else name
            if path == target or target.startswith(path + "."):
                return number
    return 0


def _where(source: str, text: str, key: str, section: str | None = None) -> str:
    line = _line_of(text, key, section)
    return f"{source}, line {line}" if line else source


def _check_keys(table: dict, allowed: dict, source: str, text: str, section: str | None) -> None:
    for key, value in table.items():
        label = f"{section}.{key}" if section else key
        if key not in allowed:
            raise ScenarioError(f"{_where(source, text, key, section)}: unknown key '{label}'"
                                + close_match(key, allowed))
        want = allowed[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ScenarioError(f"{_where(source, text, key, section)}: '{label}' = {value!r}: "
                                f"expected {want.__name__}")


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read a scenario file, or the embedded default when ``path`` is None."""
    if path is None:
        source = f"model/{DEFAULT}"
        text = resources.files("model").joinpath(DEFAULT).read_text(encoding="utf-8")
    else:
        p = Path(path)
        if not p.is_file():
            raise PovsimError(f"scenario file '{path}' not found")
        source = str(path)
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ScenarioError(f"{source}: not UTF-8 text ({err.reason} at byte {err.start})") \
                from None
    return parse_scenario(text, source)


def parse_scenario(text: str, source: str) -> Scenario:
    """Parse and check a scenario from its TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{source}: {err}") from None
    _check_keys(data, _TOP, source, text, None)
    if "name" not in data:
        raise ScenarioError(f"{source}: missing key 'name'")
    run = data.get("run", {})
    targets = data.get("targets", {})
    _check_keys(run, _RUN, source, text, "run")
    _check_keys(targets, _TARGETS, source, text, "targets")
    names = [c.name for c in PROGRAMMES]
    programmes = tuple(run.get("programmes", names))
    for prog in programmes:
        if prog not in names:
            raise ScenarioError(f"{_where(source, text, 'programmes', 'run')}: unknown programme "
                                f"'{prog}' in run.programmes" + close_match(str(prog), names))
    for key in ("end_year", "seeds"):
        if key in run and not (1 <= run[key] <= (2035 if key == "end_year" else 100000)):
            raise ScenarioError(f"{_where(source, text, key, 'run')}: 'run.{key}' = {run[key]} "
                                "is out of range")
    if run.get("end_year", 2020) < 1949:
        raise ScenarioError(f"{_where(source, text, 'end_year', 'run')}: 'run.end_year' is "
                            "before 1949")
    if "zero_by" in targets and not 1949 <= targets["zero_by"] <= 2100:
        raise ScenarioError(f"{_where(source, text, 'zero_by', 'targets')}: 'targets.zero_by' = "
                            f"{targets['zero_by']}: expected a year")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", data["name"]) or ".." in data["name"]:
        raise ScenarioError(f"{_where(source, text, 'name')}: name = {data['name']!r}: expected "
                            "letters, digits, '-', '_' or '.' (it names the output folder)")
    params = Parameters.load()
    overlay = flatten_overlay(data.get("parameters", {}), {n: None for n in params.names()})
    for key, value in overlay.items():
        try:
            params = params.with_overlay({key: value}, _where(source, text, key, "parameters"))
        except ParameterError as err:
            raise ScenarioError(str(err)) from None
    for year, value in targets.get("exits_people", {}).items():
        if (not str(year).isdigit() or not 1949 <= int(year) <= 2100
                or not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ScenarioError(f"{_where(source, text, 'exits_people', 'targets')}: "
                                f"targets.exits_people {year} = {value!r}: expected a year "
                                "and a number of persons >= 0")
    return Scenario(name=data["name"], description=data.get("description", ""),
                    registry=run.get("registry", "ruyuan"), end_year=run.get("end_year", 2020),
                    seeds=run.get("seeds", 1), programmes=programmes, params=params,
                    targets={"exits_people": {int(y): int(v) for y, v in
                                              targets.get("exits_people", {}).items()},
                             "zero_by": targets.get("zero_by")},
                    source=source, text=text)
