"""Fit files and parameter uncertainty.

A fit file (``calibration/fits/<name>.toml``) is a scenario overlay: a
``name``, a ``description``, a ``[parameters]`` table holding the best
parameter vector, and a ``[fit]`` table of provenance (targets file and hash,
code version, seeds, scale, trials, distance, date), the simulated moments at
the optimum (for the regression guard) and the accepted set::

    name = "national"
    [parameters]
    income_persistence = 0.62
    [fit]
    targets = "calibration/targets.toml"
    ...
    [[fit.accepted]]
    trial = 17
    distance = 41.2
    parameters = { income_persistence = 0.58, ... }

Any scenario can ``extends`` it (``extends = "../calibration/fits/national.toml"``).

Accepted set
------------
Under the usual asymptotics of simulated method of moments with a distance
weighted by the observations' variances, the distance at the true parameters
exceeds the minimum by a chi-square variable with as many degrees of freedom
as free parameters. The parameter vectors the data cannot tell apart from the
best at the 95 % level are therefore the completed trials with
``distance <= best + chi2.ppf(0.95, n_free)``; the best ``max_accepted`` of
them are kept (the best first). This is a set of plausible vectors, not
posterior draws: TPE samples more densely near the optimum, so the set is
spread over the region the data leave open but not weighted by probability.

A run with ``posterior`` (``povsim run --posterior``) gives seed ``i`` the
accepted vector ``i mod n``, so that a band over seeds carries parameter
uncertainty as well as seed noise; :func:`band_split` tells the two apart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import subprocess
import tomllib
from pathlib import Path

import numpy as np
from scipy import stats

from model import __version__
from model.errors import PovsimError
from model.scenario import Scenario, data_root

CONFIDENCE = 0.95


def tolerance(n_free: int, confidence: float = CONFIDENCE) -> float:
    """Distance above the best within which a vector is accepted."""
    return float(stats.chi2.ppf(confidence, max(1, n_free)))


def accepted(table: dict[str, np.ndarray], names: list[str], max_accepted: int = 50,
             confidence: float = CONFIDENCE) -> list[dict]:
    """The accepted vectors of a trial table (:func:`model.calibration.fit.trial_table`).

    Returns
    -------
    list of dict
        ``{"trial", "distance", "parameters"}``, best first.
    """
    d = table["distance"]
    ok = np.isfinite(d)
    if not ok.any():
        return []
    limit = d[ok].min() + tolerance(len(names), confidence)
    order = [k for k in np.argsort(d, kind="stable") if ok[k] and d[k] <= limit][:max_accepted]
    return [{"trial": int(table["number"][k]), "distance": float(d[k]),
             "parameters": {n: float(table[n][k]) for n in names}} for k in order]


# ---------------------------------------------------------------- writing TOML

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if value is None:
        return "nan"
    raise TypeError(f"cannot write {value!r} as TOML")


def code_version() -> str:
    """``povsim <version>`` and the git commit when known (``+modified`` when
    the working tree has changes)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                capture_output=True, text=True, timeout=10, check=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10,
                               check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return f"povsim {__version__}"
    return f"povsim {__version__} (git {commit.strip()}{'+modified' if dirty.strip() else ''})"


def write_fit(path: Path, name: str, description: str, best: dict[str, float],
              provenance: dict, accepted_: list[dict], extends: str | None = None) -> None:
    """Write a fit file (see the module docstring), atomically. ``extends``:
    the fit it builds on (an area fit on the national one), relative to it."""
    from model.atomic import atomic_write

    lines = [f"# Written by povsim calibrate on {provenance.get('date', '')}: regenerate it "
             "rather than editing it.",
             f"name = {_toml_value(name)}", f"description = {_toml_value(description)}"]
    if extends:
        lines += [f"extends = {_toml_value(extends)}"]
    lines += ["", "[parameters]"]
    lines += [f"{k} = {_toml_value(float(v))}" for k, v in sorted(best.items())]
    lines += ["", "[fit]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in provenance.items()]
    for a in accepted_:      # a trial, or a chain's draw
        lines += ["", "[[fit.accepted]]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in a.items() if k != "parameters"]
        lines += [f"parameters = {_toml_value(a['parameters'])}"]
    text = "\n".join(lines) + "\n"

    def write(tmp):
        Path(tmp).write_text(text, encoding="utf-8")
    atomic_write(Path(path), write)


def read_fit(path: str | Path) -> dict:
    """A fit file's tables: ``name``, ``parameters`` (flat dotted names) and
    ``fit``.

    Raises
    ------
    PovsimError
        When the file is missing, not TOML or has no ``[fit]`` table.
    """
    from model.params import Parameters, flatten_overlay

    path = Path(path)
    if not path.is_file():
        raise PovsimError(f"fit file '{path}' not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise PovsimError(f"{path}: invalid TOML: {err}") from None
    if "fit" not in data or not isinstance(data["fit"], dict):
        raise PovsimError(f"{path}: not a fit file (no [fit] table)")
    declared = {n: None for n in Parameters.load().names()}
    data["parameters"] = flatten_overlay(data.get("parameters", {}), declared)
    for a in data["fit"].get("accepted", []):
        a["parameters"] = flatten_overlay(a.get("parameters", {}), declared)
    return data


def find_fit(path_or_name: str, folder: Path | None = None) -> Path:
    """A fit file by path, or by name in ``calibration/fits``."""
    path = Path(path_or_name)
    if path.suffix == ".toml":
        if not path.is_file():
            raise PovsimError(f"fit file '{path_or_name}' not found")
        return path
    folder = folder or fits_folder()
    candidate = folder / f"{path_or_name}.toml"
    if not candidate.is_file():
        from model.errors import close_match
        known = sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []
        raise PovsimError(f"fit '{path_or_name}' not found in {folder}"
                          + (f" (fits: {', '.join(known)})" if known else "")
                          + close_match(path_or_name, known))
    return candidate


def fits_folder() -> Path:
    """``calibration/fits`` of the working folder if it exists, else the
    shipped one (:func:`model.scenario.data_root`)."""
    here = Path("calibration") / "fits"
    return here if here.is_dir() else data_root() / "calibration" / "fits"


# ---------------------------------------------------------------- drawing

def fit_of(scenario: Scenario) -> tuple[Path, dict] | None:
    """The nearest fit file in the scenario's chain (itself, then its
    parents), or None."""
    for label in (scenario.source,) + tuple(scenario.extends):
        # a label is relative to the working folder or else to the shipped data
        path = next((p for p in (Path(label), data_root() / label) if p.is_file()), Path(label))
        if path.suffix != ".toml" or not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        if isinstance(data.get("fit"), dict):
            return path, read_fit(path)
    return None


def attach(scenario: Scenario, fit: str | Path | None = None) -> Scenario:
    """``scenario`` with one parameter set per accepted vector (``draws``).

    Parameters
    ----------
    scenario : Scenario
        A scenario that extends a fit file, or any scenario when ``fit`` is given.
    fit : str or Path, optional
        A fit name or file to draw from instead of the scenario's own.

    A parameter the scenario sets after the fit (its value differs from the
    fit's best) keeps the scenario's value in every draw.
    """
    if fit is not None:
        path = find_fit(str(fit))
        data = read_fit(path)
        base = scenario.params.with_overlay(data["parameters"], str(path))
    else:
        found = fit_of(scenario)
        if found is None:
            raise PovsimError(f"{scenario.source}: --posterior needs a scenario that extends a "
                              "fit file (calibration/fits/<name>.toml)")
        path, data = found
        base = scenario.params
    vectors = [a["parameters"] for a in data["fit"].get("accepted", [])]
    if not vectors:
        raise PovsimError(f"{path}: the fit has no accepted parameter vectors")
    best = data["parameters"]
    own = {n for n, v in best.items()
           if n in base and abs(float(base.scalar(n, scenario.end_year)) - float(v)) <= 1e-12
           * max(1.0, abs(float(v)))}
    draws = tuple(base.with_overlay({n: v for n, v in vec.items() if n in own},
                                    f"{path} accepted vector {k}")
                  for k, vec in enumerate(vectors))
    return dataclasses.replace(scenario, params=base, draws=draws)


def band_split(fixed, drawn, quantity) -> dict[str, np.ndarray]:
    """Split the spread over seeds of a quantity into seed and parameter parts.

    Parameters
    ----------
    fixed, drawn : xarray.Dataset
        The same scenario and seeds (common random numbers), with the best
        parameters and with the accepted vectors (:func:`attach`).
    quantity : callable
        ``quantity(ds, year)`` giving one value per seed
        (:data:`model.calibration.moments.QUANTITIES`).

    Returns
    -------
    dict
        ``year``, ``sd_seed`` (spread with the best parameters), ``sd_total``
        (with the accepted vectors) and ``parameter_share`` = 1 -
        var_seed / var_total (clipped to 0..1): the part of the band's variance
        the parameters add.
    """
    years = [int(y) for y in fixed["year"].values]
    sd_seed = np.array([float(np.std(np.asarray(quantity(fixed, y)), ddof=1)) for y in years])
    sd_total = np.array([float(np.std(np.asarray(quantity(drawn, y)), ddof=1)) for y in years])
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.clip(1 - sd_seed ** 2 / sd_total ** 2, 0, 1)
    share[sd_total == 0] = 0.0
    return {"year": np.array(years), "sd_seed": sd_seed, "sd_total": sd_total,
            "parameter_share": share}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
