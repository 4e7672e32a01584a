"""Scenarios: TOML files naming a registry, run settings, parameter overlays,
programme entries and targets; a scenario can extend another.

The file format, every key with an example, is documented once, in
``scenarios/README.md``; the keys allowed are declared below (``_TOP``,
``_RUN``, :data:`TARGET_KINDS`) and programme keys come from
``model/parameters.toml``.

Names and extension
-------------------
A scenario is named by its file name without ``.toml``; :func:`find_scenario`
looks in ``./scenarios`` (the working folder), then in the shipped
``scenarios/`` folder of :func:`data_root`. ``"default"`` is the embedded
default (``model/default_scenario.toml``, Ruyuan county).

The shipped files (the scenarios and the calibration fits they extend) keep
the source tree's layout under one data root: the source checkout itself, or
in an installed wheel the package data folder ``model/data/`` (copied there
at build time, found with :mod:`importlib.resources`). So a relative path such
as ``extends = "../calibration/fits/national.toml"`` means the same file in
both; the embedded default counts as ``<data root>/model/default_scenario.toml``.

``extends`` names the parent: a scenario name (looked up beside the file
first) or a path relative to the file. The parent is loaded first (a cycle
is an error); the child's tables are then merged into it: keys override,
tables merge key by key, so dated values ``{year = value}`` merge year by
year (the child's years replace the parent's); lists and single values
replace. A dated parameter over a single value keeps that value before the
child's first year. ``name`` and ``description`` are each file's own.

Checks
------
Unknown keys, wrong types, values out of range, unknown programmes, batches
or parameters are :class:`~model.errors.ScenarioError` naming the file (the
parent's when the parent is wrong), the line and the key, with a close match
for a misspelt name. Nothing in a file is ignored.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from model.engine.codes import BATCHES
from model.errors import (
    ParameterError,
    PovsimError,
    ScenarioError,
    brief,
    close_match,
    key_problem,
)
from model.params import FIRST_YEAR, LAST_YEAR, Parameters, flatten_overlay, unknown_name_hint

DEFAULT = "default_scenario.toml"
DEFAULT_NAME = "default"
_DEFAULT_LABEL = f"model/{DEFAULT}"
_NUMBER = (int, float)
_TOP = {"name": str, "description": str, "label": (str, dict), "extends": str, "run": dict,
        "parameters": dict,
        "programmes": dict, "targets": dict, "fit": dict}   # fit: a fit file's provenance
_LABEL_LANGS = ("en", "zh")
_RUN = {"registry": str, "end_year": int, "seeds": int, "scale": _NUMBER, "programmes": list}
# The target kinds of [targets], in report order (the one list of them):
# kind -> (what a value is: a "year", "persons" (whole numbers >= 0) or a
# "share" (0..1) by year, or persons by "batch" and year; units of the
# quantity compared)
TARGET_KINDS = {
    "zero_by": ("year", "persons"),
    "registered_max": ("persons", "persons"),
    "incidence_max": ("share", "1"),
    "exits_people": ("persons", "persons"),
    "batch_quota": ("batch", "persons"),
    "villages_exit_share": ("share", "1"),
    "counties_exit_share": ("share", "1"),
    "counties_exit_by": ("year", "1"),
}
_BY_YEAR = {kind: value for kind, (value, _) in TARGET_KINDS.items()
            if value in ("persons", "share")}
_TARGETS = {kind: int if value == "year" else dict for kind, (value, _) in TARGET_KINDS.items()}
_REGISTRY_FILES = (".nc", ".csv", ".parquet", ".toml")
_LAST_END_YEAR = 2035   # the last year a run may end (the consolidation period)
MAX_SEEDS = 10000       # seeds of one run: each seed's results stay in memory until written
MAX_PERSONS = 2**31 - 1   # persons a target may name (the most a registry table can hold)


@dataclass(frozen=True)
class Scenario:
    """A resolved scenario: run settings, parameters with the overlays applied,
    and targets.

    Attributes
    ----------
    name, description : str
        The file's own name and one-line description.
    registry : str
        Built-in registry spec name, spec ``.toml`` or registry file.
    end_year : int
        Last simulated year (inclusive).
    seeds : int
        Default number of seeds.
    programmes : tuple of str
        Programmes run, in engine order (``run.programmes`` less those with
        ``enabled = false``).
    params : Parameters
        Declared parameters with every overlay of the chain applied.
    targets : dict
        Always every key: ``zero_by`` and ``counties_exit_by`` (year or None);
        ``exits_people`` and ``registered_max`` ({year: persons});
        ``incidence_max``, ``villages_exit_share`` and ``counties_exit_share``
        ({year: share}); ``batch_quota`` ({batch: {year: persons}}).
    source : str
        The file (or label) the scenario was read from.
    text : str
        That file's text.
    scale : float
        Share of households simulated (0 < scale <= 1).
    extends : tuple of str
        The files this scenario extends, nearest first (provenance).
    label : dict
        The file's own ``label`` for charts and reports by language
        (``{"en": ..., "zh": ...}``; a plain string is English); empty: the
        name stands in.
    draws : tuple of Parameters
        Parameter sets drawn from a fit's accepted vectors
        (:func:`model.calibration.posterior.attach`); seed ``i`` runs with
        ``draws[i % len(draws)]``. Empty: every seed runs with ``params``.
    """

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
    scale: float = 1.0
    extends: tuple[str, ...] = ()
    draws: tuple[Parameters, ...] = field(default=(), repr=False)
    label: dict[str, str] = field(default_factory=dict)

    def params_for(self, seed: int) -> Parameters:
        """The parameters seed ``seed`` runs with (see ``draws``)."""
        return self.draws[int(seed) % len(self.draws)] if self.draws else self.params

    def with_parameters(self, changes: dict[str, Any], name: str | None = None,
                        description: str | None = None) -> "Scenario":
        """A copy with parameters changed, checked as a file's ``[parameters]``.

        Parameters
        ----------
        changes : dict
            Dotted names (``"industry.capacity"``) or nested tables to a value
            or a table ``{year: value}`` (from its first year on), as in a
            scenario file.
        name, description : str, optional
            The copy's name (it names output folders and chart labels) and
            description; default: this scenario's.

        Raises
        ------
        ScenarioError
            An unknown parameter (with a close match), a value of the wrong
            shape or out of its declared range.

        Examples
        --------
        >>> fewer = scenario.with_parameters({"industry.capacity": 500}, name="fewer")
        """
        base = Parameters.load()
        flat = flatten_overlay(changes, set(base.names()))
        for key, value in flat.items():
            _check_param(base, key, value, "with_parameters")
        overlay = {key: _dated(value) for key, value in flat.items()}
        return self._changed(overlay, self.programmes, "with_parameters", changes, name,
                             description)

    def with_programme(self, programme: str, enabled: bool = True, name: str | None = None,
                       description: str | None = None, **settings: Any) -> "Scenario":
        """A copy with a programme switched on or off or its settings changed,
        checked as a file's ``[programmes.<programme>]`` entry.

        Parameters
        ----------
        programme : str
            A programme of :data:`model.programmes.measures.PROGRAMMES`.
        enabled : bool
            False drops the programme from the run; True adds it if missing.
        name, description : str, optional
            As in :meth:`with_parameters`.
        **settings
            The programme's own parameters without its prefix
            (``capacity={2016: 800}``, ``budget=...``).

        Raises
        ------
        ScenarioError
            An unknown programme or setting (with a close match), or a bad value.

        Examples
        --------
        >>> no_pv = scenario.with_programme("photovoltaic", enabled=False, name="no-pv")
        """
        names = _programme_names()
        if programme not in names:
            raise ScenarioError(f"with_programme: unknown programme '{programme}'"
                                + close_match(programme, names))
        base = Parameters.load()
        keys = [n[len(programme) + 1:] for n in base.names() if n.startswith(programme + ".")]
        overlay = {}
        for key, value in settings.items():
            if key not in keys:
                raise ScenarioError(f"with_programme: unknown setting '{key}': programme "
                                    f"'{programme}' has {', '.join(['enabled'] + keys)}"
                                    + close_match(key, keys))
            _check_param(base, f"{programme}.{key}", value, "with_programme")
            overlay[f"{programme}.{key}"] = _dated(value)
        listed = set(self.programmes) | {programme} if enabled else \
            set(self.programmes) - {programme}
        order = tuple(n for n in names if n in listed)
        change = {"programme": programme, "enabled": enabled, **settings}
        return self._changed(overlay, order, "with_programme", change, name, description)

    def _changed(self, overlay: dict[str, Any], programmes: tuple[str, ...], how: str,
                 change: dict, name: str | None, description: str | None) -> "Scenario":
        """A copy with ``overlay`` on its parameters (and draws), the programmes
        given, and the change written into its text as provenance."""
        import dataclasses
        import json

        label = f"{self.source} + {how}"

        def apply(params: Parameters) -> Parameters:
            try:
                return params.with_overlay(overlay, label) if overlay else params
            except ParameterError as err:
                raise ScenarioError(str(err)) from None

        note = json.dumps(change, ensure_ascii=False, default=str)
        return dataclasses.replace(
            self, name=name or self.name, description=description or self.description,
            programmes=programmes, params=apply(self.params),
            draws=tuple(apply(d) for d in self.draws), source=label,
            text=f"{self.text.rstrip()}\n\n# changed in Python: {how} {note}\n")


# ---------------------------------------------------------------- where in a file

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


@dataclass(frozen=True)
class _File:
    """One scenario file: its label in messages, its path (None for a text
    without a file) and its text."""

    label: str
    path: Path | None
    text: str

    def where(self, key: str, section: str | None = None) -> str:
        return _where(self.label, self.text, key, section)

    def error(self, key: str, section: str | None, message: str) -> ScenarioError:
        return ScenarioError(f"{self.where(key, section)}: {message}")


def _check_keys(table: dict, allowed: dict, src: _File, section: str | None) -> None:
    problem = key_problem(table, allowed, section)
    if problem is not None:
        raise src.error(problem[0], section, problem[1])


# ---------------------------------------------------------------- finding files

def _embedded() -> Path:
    return Path(str(resources.files("model").joinpath(DEFAULT)))


def data_root() -> Path:
    """The folder holding the shipped ``scenarios/`` and ``calibration/fits/``.

    The source checkout when the package runs from one (``scenarios/`` and
    ``calibration/fits/`` beside the package); else the package data folder
    ``model/data/`` that the wheel build fills with the same layout.
    """
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "scenarios").is_dir() and (checkout / "calibration" / "fits").is_dir():
        return checkout
    return Path(str(resources.files("model").joinpath("data")))


def _folder(src: "_File") -> Path:
    """The folder a file's relative paths start from (the embedded default
    counts as ``<data root>/model/``, as in the source tree)."""
    if src.path is None:
        return Path(".")
    if src.path.resolve() == _embedded().resolve():
        return data_root() / "model"
    return src.path.parent


def scenario_dirs() -> list[Path]:
    """Folders searched for scenario names: ``./scenarios``, then the shipped
    ``scenarios/`` of :func:`data_root` (each once)."""
    out, seen = [], set()
    for folder in (Path("scenarios"), data_root() / "scenarios"):
        key = folder.resolve()
        if key not in seen and folder.is_dir():
            seen.add(key)
            out.append(folder)
    return out


def list_scenarios() -> list[tuple[str, str, Path]]:
    """Scenarios found in :func:`scenario_dirs`: ``(name, description, path)``
    sorted by name. A name found in two folders is the first folder's."""
    found: dict[str, tuple[str, str, Path]] = {}
    for folder in scenario_dirs():
        for path in sorted(folder.glob("*.toml")):
            if path.stem in found:
                continue
            try:
                description = tomllib.loads(path.read_text(encoding="utf-8")).get(
                    "description", "")
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                description = "(not a valid scenario file)"
            found[path.stem] = (path.stem, str(description), path)
    return [found[name] for name in sorted(found)]


def _names() -> list[str]:
    return [DEFAULT_NAME] + [name for name, _, _ in list_scenarios()]


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or "\\" in text


def find_scenario(name_or_path: str | Path) -> Path:
    """The file of a scenario given by name (see :func:`scenario_dirs`;
    ``"default"`` is the embedded default) or by path.

    Raises
    ------
    PovsimError
        When there is no such file or name; the message lists the known
        names with a close match.
    """
    text = str(name_or_path)
    if text == DEFAULT_NAME:
        return _embedded()
    if isinstance(name_or_path, Path) or _looks_like_path(text) or Path(text).is_file():
        if Path(text).is_file():
            return Path(text)
        raise PovsimError(f"scenario file '{text}' not found")
    for folder in scenario_dirs():
        if (folder / f"{text}.toml").is_file():
            return folder / f"{text}.toml"
    names = _names()
    raise PovsimError(f"scenario '{text}' not found: expected a .toml file or one of "
                      f"{', '.join(names)}" + close_match(text, names))


def _read(path: Path, label: str | None = None) -> _File:
    if path.resolve() == _embedded().resolve():
        text = resources.files("model").joinpath(DEFAULT).read_text(encoding="utf-8")
        return _File(_DEFAULT_LABEL, path, text)
    try:
        return _File(label or str(path), path, path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") \
            from None


def _label(path: Path) -> str:
    """The name of a file found through ``extends``, in messages and
    provenance: normalised, relative to the working folder or else to the
    repository, never a machine's absolute path when either holds it."""
    path = Path(os.path.normpath(path))
    if not path.is_absolute():
        return str(path)
    for root in (Path.cwd(), data_root()):
        try:
            return str(path.relative_to(root))
        except ValueError:
            continue
    return str(path)


def _parent(value: str, src: _File) -> Path:
    """The file named by ``extends = value`` in ``src``."""
    here = _folder(src)
    if value == DEFAULT_NAME:
        return _embedded()
    if _looks_like_path(value):
        path = Path(value) if Path(value).is_absolute() else Path(os.path.normpath(here / value))
        if path.is_file():
            return path
        raise src.error("extends", None, f"extends = {brief(value)}: file not found (looked for "
                                         f"{path}: a path is relative to this file's folder)")
    for folder in [here] + scenario_dirs():
        if (folder / f"{value}.toml").is_file():
            return folder / f"{value}.toml"
    beside = [p.stem for p in here.glob("*.toml")] if here.is_dir() else []
    raise src.error("extends", None, f"extends = {brief(value)}: no scenario of that name beside "
                                     "this file or in the scenario folders"
                    + close_match(value, sorted(set(_names() + beside))))


# ---------------------------------------------------------------- one file

@dataclass
class _Layer:
    """One file's content, checked and normalised: run settings, parameter
    overlay (dotted names, year keys as int), enabled flags and targets."""

    src: _File
    name: str
    description: str
    label: dict[str, str]
    extends: str | None
    run: dict[str, Any]
    params: dict[str, tuple[Any, str]]   # name -> (value, "file, line n")
    enabled: dict[str, bool]
    targets: dict[str, Any]
    fit: dict[str, Any] | None = None    # a fit file's provenance (written by povsim calibrate)


def _is_year(key: Any) -> bool:
    return str(key).isdigit() and FIRST_YEAR <= int(key) <= LAST_YEAR


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _share(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool) and 0 <= value <= 1


def _dated(value: Any) -> Any:
    """A parameter value with year keys as int (values are already checked)."""
    if isinstance(value, dict):
        return {int(year): v for year, v in value.items()}
    return value


def _check_param(base: Parameters, name: str, value: Any, where: str) -> None:
    if name not in base:
        raise ScenarioError(f"{where}: unknown parameter '{name}'"
                            + unknown_name_hint(name, base.names()))
    try:
        base.with_overlay({name: value}, where)
    except ParameterError as err:
        raise ScenarioError(str(err)) from None


def _programme_names() -> tuple[str, ...]:
    """The catalogue's programmes, in engine order. Imported here, not with
    this module: the programmes load their kernels, which reading a
    scenario's targets (the charts, a record's dataset) does not need."""
    from model.programmes.measures import PROGRAMMES

    return tuple(c.name for c in PROGRAMMES)


def _run_settings(run: dict, src: _File) -> dict[str, Any]:
    _check_keys(run, _RUN, src, "run")
    names = _programme_names()
    for prog in run.get("programmes", []):
        if prog not in names:
            raise src.error("programmes", "run", f"unknown programme '{prog}' in run.programmes"
                            + close_match(str(prog), names))
    limits = {"end_year": (FIRST_YEAR, _LAST_END_YEAR,
                           f"a year from {FIRST_YEAR} to {_LAST_END_YEAR}"),
              "seeds": (1, MAX_SEEDS, f"1 to {MAX_SEEDS}")}
    for key, (low, high, expected) in limits.items():
        if key in run and not low <= run[key] <= high:
            raise src.error(key, "run", f"'run.{key}' = {run[key]} is out of range: "
                                        f"expected {expected}")
    if "scale" in run and not 0 < run["scale"] <= 1:
        raise src.error("scale", "run", f"'run.scale' = {run['scale']} is out of range: "
                                        "expected a share of households above 0 and at most 1")
    out = dict(run)
    if "programmes" in out:
        out["programmes"] = tuple(out["programmes"])
    if "scale" in out:
        out["scale"] = float(out["scale"])
    registry = out.get("registry", "")
    if (src.path is not None and Path(registry).suffix in _REGISTRY_FILES
            and not Path(registry).is_absolute() and (src.path.parent / registry).is_file()):
        out["registry"] = str(src.path.parent / registry)   # relative to the file defining it
    return out


def _overlay(data: dict, src: _File, base: Parameters) -> dict[str, tuple[Any, str]]:
    """``[parameters]`` checked, by dotted name: ``(value, where it is set)``."""
    out = {}
    for name, value in flatten_overlay(data.get("parameters", {}), set(base.names())).items():
        where = src.where(name, "parameters")
        _check_param(base, name, value, where)
        out[name] = (_dated(value), where)
    return out


def _programme_entries(data: dict, src: _File, base: Parameters,
                       overlay: dict[str, tuple[Any, str]]) -> dict[str, bool]:
    """Add ``[programmes.X]`` keys to ``overlay``; return the enabled flags."""
    names = _programme_names()
    enabled: dict[str, bool] = {}
    for prog, entry in data.get("programmes", {}).items():
        if prog not in names:
            raise src.error(prog, "programmes", f"unknown programme '{prog}' in "
                            f"[programmes.{prog}]" + close_match(prog, names))
        if not isinstance(entry, dict):
            raise src.error(prog, "programmes", f"'programmes.{prog}' = {brief(entry)}: expected a "
                                                "table of parameters and 'enabled'")
        keys = ["enabled"] + [n[len(prog) + 1:] for n in base.names() if n.startswith(prog + ".")]
        section = f"programmes.{prog}"
        for key, value in entry.items():
            if key not in keys:
                raise src.error(key, section, f"unknown key '{section}.{key}': programme "
                                f"'{prog}' has {', '.join(keys)}" + close_match(key, keys))
            if key == "enabled":
                if not isinstance(value, bool):
                    raise src.error(key, section, f"'{section}.enabled' = {brief(value)}: expected "
                                                  "true or false")
                enabled[prog] = value
                continue
            name, where = f"{prog}.{key}", src.where(key, section)
            if name in overlay:
                raise src.error(key, section, f"'{section}.{key}' sets parameter '{name}', "
                                f"which [parameters] sets too ({overlay[name][1]})")
            _check_param(base, name, value, where)
            overlay[name] = (_dated(value), where)
    return enabled


def _by_year(table: dict, kind: str, label: str, key: str, section: str,
             src: _File) -> dict[int, Any]:
    """``{year: value}`` checked: persons (whole, >= 0) or shares (0..1)."""
    out = {}
    for year, value in table.items():
        good = (_whole(value) and value <= MAX_PERSONS) if kind == "persons" else _share(value)
        if not _is_year(year) or not good:
            expected = (f"a whole number of persons from 0 to {MAX_PERSONS:,}" if kind == "persons"
                        else "a share from 0 to 1")
            raise src.error(key, section, f"{label} {year} = {brief(value)}: expected a year "
                            f"({FIRST_YEAR}-{LAST_YEAR}) and {expected}")
        out[int(year)] = int(value) if kind == "persons" else float(value)
    return out


def _targets(targets: dict, src: _File) -> dict[str, Any]:
    _check_keys(targets, _TARGETS, src, "targets")
    out: dict[str, Any] = {}
    for key in (kind for kind, (value, _) in TARGET_KINDS.items() if value == "year"):
        if key in targets:
            if not _is_year(targets[key]):
                raise src.error(key, "targets", f"'targets.{key}' = {targets[key]}: expected a "
                                                f"year ({FIRST_YEAR}-{LAST_YEAR})")
            out[key] = int(targets[key])
    for key, kind in _BY_YEAR.items():
        if key in targets:
            out[key] = _by_year(targets[key], kind, f"targets.{key}", key, "targets", src)
    if "batch_quota" in targets:
        quota = {}
        for batch, table in targets["batch_quota"].items():
            if batch not in BATCHES:
                raise src.error(batch, "targets.batch_quota", f"unknown batch '{batch}' in "
                                f"targets.batch_quota: expected one of {', '.join(BATCHES)}"
                                + close_match(batch, BATCHES))
            label = f"targets.batch_quota.{batch}"
            if not isinstance(table, dict):
                raise src.error(batch, "targets.batch_quota",
                                f"'{label}' = {brief(table)}: expected a table of "
                                "{year = persons}")
            quota[batch] = _by_year(table, "persons", label, batch, "targets.batch_quota", src)
        out["batch_quota"] = quota
    return out


def _layer(src: _File, base: Parameters) -> _Layer:
    """Parse and check one file on its own."""
    try:
        data = tomllib.loads(src.text)
    except tomllib.TOMLDecodeError as err:
        found = re.fullmatch(r"(.*) \(at line (\d+), column \d+\)", str(err))
        where = f"{src.label}, line {found.group(2)}" if found else src.label
        raise ScenarioError(f"{where}: invalid TOML: {found.group(1) if found else err}") \
            from None
    _check_keys(data, _TOP, src, None)
    if "name" not in data:
        raise ScenarioError(f"{src.label}: missing key 'name'")
    name = data["name"]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name) or ".." in name:
        raise src.error("name", None, f"name = {brief(name)}: expected letters, digits, '-', '_' "
                                      "or '.' (it names the output folder)")
    run = _run_settings(data.get("run", {}), src)
    overlay = _overlay(data, src, base)
    enabled = _programme_entries(data, src, base, overlay)
    return _Layer(src, name, data.get("description", ""), _label_of(data, src),
                  data.get("extends"), run, overlay, enabled,
                  _targets(data.get("targets", {}), src), fit=data.get("fit"))


def _label_of(data: dict, src: _File) -> dict[str, str]:
    """``label``: a string (English) or a table by language."""
    label = data.get("label", {})
    label = {"en": label} if isinstance(label, str) else label
    for lang, text in label.items():
        if lang not in _LABEL_LANGS or not isinstance(text, str):
            raise src.error("label", None, f"label.{lang} = {text!r}: expected a text under "
                            f"one of {', '.join(_LABEL_LANGS)}" + close_match(lang, _LABEL_LANGS))
    return dict(label)


# ---------------------------------------------------------------- the chain

def _chain(src: _File, base: Parameters, below: tuple[Path, ...] = ()) -> list[_Layer]:
    """The layers of ``src`` and its ancestors, the root first. ``below``:
    the files already in the chain (to find cycles)."""
    layer = _layer(src, base)
    if layer.extends is None:
        return [layer]
    path = _parent(layer.extends, src)
    below = below + ((src.path.resolve(),) if src.path is not None else ())
    if path.resolve() in below:
        cycle = " -> ".join(p.name for p in below + (path.resolve(),))
        raise src.error("extends", None, f"extends = {brief(layer.extends)}: the scenarios extend "
                                         f"each other in a cycle ({cycle})")
    return _chain(_read(path, _label(path)), base, below) + [layer]


def _merge(old: Any, new: Any) -> Any:
    """``new`` over ``old``: tables merge key by key; anything else replaces."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = dict(old)
        for key, value in new.items():
            out[key] = _merge(old.get(key), value)
        return out
    return new


def _merge_params(old: Any, new: Any) -> Any:
    """Dated values merge year by year; a single value under dated values
    holds before the child's first year."""
    if isinstance(new, dict) and old is not None and not isinstance(old, dict):
        old = {FIRST_YEAR: old}
    return _merge(old, new)


def _resolve(src: _File, fits: bool | Callable[[str, dict], bool] = True) -> Scenario:
    base = Parameters.load()
    layers = _chain(src, base)
    if fits is not True:
        keep = fits if callable(fits) else (lambda name, fit: False)
        layers = [layer for layer in layers[:-1]
                  if layer.fit is None or keep(layer.name, layer.fit)] + layers[-1:]
    run: dict[str, Any] = {}
    overlay: dict[str, Any] = {}
    where: dict[str, str] = {}          # parameter -> where it was set last
    enabled: dict[str, tuple[bool, _File]] = {}
    targets: dict[str, Any] = {}
    target_file: dict[str, _File] = {}  # target -> the file that set it last
    for layer in layers:
        run.update(layer.run)
        for name, (value, at) in layer.params.items():
            overlay[name] = _merge_params(overlay.get(name), value)
            where[name] = at
        for prog, flag in layer.enabled.items():
            enabled[prog] = (flag, layer.src)
        for key, value in layer.targets.items():
            targets[key] = _merge(targets.get(key), value)
            target_file[key] = layer.src
    listed = run.get("programmes", _programme_names())
    for prog, (flag, src_of) in enabled.items():
        if flag and prog not in listed:
            raise src_of.error("enabled", f"programmes.{prog}", f"programme '{prog}' is "
                               "enabled but run.programmes does not list it")
    for key in ("villages_exit_share", "counties_exit_share"):
        total = sum(targets.get(key, {}).values())
        if total > 1 + 1e-9:
            raise target_file[key].error(key, "targets", f"targets.{key} adds up to {total:g} "
                                                         "over the years: expected at most 1")
    params = base
    for name, value in overlay.items():
        try:
            params = params.with_overlay({name: value}, where[name])
        except ParameterError as err:
            raise ScenarioError(str(err)) from None
    child = layers[-1]
    return Scenario(
        name=child.name, description=child.description,
        registry=run.get("registry", "ruyuan"), end_year=run.get("end_year", 2020),
        seeds=run.get("seeds", 1),
        programmes=tuple(name for name in _programme_names()
                         if name in listed and enabled.get(name, (True,))[0]),
        params=params,
        targets={"zero_by": targets.get("zero_by"),
                 "exits_people": targets.get("exits_people", {}),
                 "registered_max": targets.get("registered_max", {}),
                 "incidence_max": targets.get("incidence_max", {}),
                 "batch_quota": targets.get("batch_quota", {}),
                 "villages_exit_share": targets.get("villages_exit_share", {}),
                 "counties_exit_share": targets.get("counties_exit_share", {}),
                 "counties_exit_by": targets.get("counties_exit_by")},
        source=src.label, text=src.text, scale=run.get("scale", 1.0),
        extends=tuple(layer.src.label for layer in reversed(layers[:-1])), label=child.label)


# ---------------------------------------------------------------- public

def load_scenario(name_or_path: str | Path | None = None,
                  fits: bool | Callable[[str, dict], bool] = True) -> Scenario:
    """Read a scenario by name or path (see :func:`find_scenario`), or the
    embedded default when ``name_or_path`` is None, with its parents.

    ``fits`` decides which parents that are fit files (written by
    ``povsim calibrate``) are kept: all (True), none (False: the scenario at
    its declared values), or those for which ``fits(name, provenance)`` is
    true (``provenance``: the fit file's ``[fit]`` table)."""
    path = _embedded() if name_or_path is None else find_scenario(name_or_path)
    return _resolve(_read(path), fits)


def parse_scenario(text: str, source: str, path: str | Path | None = None) -> Scenario:
    """Parse and check a scenario from its TOML text.

    Parameters
    ----------
    text : str
        The TOML text.
    source : str
        Its label in messages.
    path : str or Path, optional
        Where it lives, for ``extends`` and registry paths relative to it
        (default: the working folder).
    """
    return _resolve(_File(source, Path(path) if path is not None else None,
                          text.removeprefix("\ufeff")))
