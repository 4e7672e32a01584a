"""Runs: a scenario for one or more seeds, returned as one labelled dataset.

A run is a plain function of (scenario, parameters, seed): :func:`run_seed`
builds the registry, simulates and returns the dataset of that seed. Several
seeds are concatenated along ``seed``; the same seed gives the same numbers
whatever the thread count, and two scenarios with the same seed share their
random numbers (common random numbers).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from model import registry_io, synth
from model.errors import PovsimError, ScenarioError
from model.measures import PROGRAMMES
from model.population import Registry
from model.random import Stream, hash_id_np, uniforms_np, year_key
from model.results import to_dataset
from model.scenario import Scenario
from model.sim import Simulation

REGISTRY_FILES = (".nc", ".csv", ".parquet")


@lru_cache(maxsize=4)
def _cached_registry(name_or_path: str, mtime_ns: int, scale: float = 1.0) -> Registry:
    if Path(name_or_path).suffix in REGISTRY_FILES:
        return subsample(registry_io.load_registry(name_or_path), scale)
    return synth.build(*synth.load_spec(name_or_path), scale=scale)


def subsample(registry: Registry, scale: float) -> Registry:
    """A reduced-scale registry: about ``scale`` of the households.

    A household is kept when a counter-based uniform of its ``hh_id`` is
    below ``scale`` (the same households whatever the order of the rows;
    a household keeps its id, so its random numbers are those of the full
    registry). Rural populations of counties and villages (persons) are
    multiplied by ``scale`` so that poverty incidence stays about the same;
    villages and counties are kept, so small villages may lose all their
    households.

    Parameters
    ----------
    registry : Registry
        The full registry.
    scale : float
        Share of households kept, 0 < scale <= 1.

    Returns
    -------
    Registry
        ``registry`` itself when ``scale`` is 1, else a new registry.
    """
    if not 0 < scale <= 1:
        raise PovsimError(f"scale {scale!r}: expected a share above 0 and at most 1")
    if scale == 1:
        return registry
    h = registry.households
    u, _ = uniforms_np(hash_id_np(year_key(0, Stream.SYNTH, 0), h["hh_id"]))
    keep = np.flatnonzero(u < scale)
    households = {name: column[keep] for name, column in h.items()}

    def scaled(table: dict) -> dict:
        out = dict(table)
        population = np.ceil(table["rural_population"] * scale)
        out["rural_population"] = np.maximum(population, 1).astype(
            table["rural_population"].dtype)
        return out

    return Registry(households, scaled(registry.villages), scaled(registry.counties),
                    list(registry.county_names), registry.base_year, registry.name,
                    registry.source)


def load_registry(name_or_path: str | Path, relative_to: str | Path | None = None,
                  scale: float = 1.0) -> Registry:
    """A registry from a built-in spec name, a spec file (``.toml``) or a registry
    file (``.nc``, ``.csv``, ``.parquet``; see :mod:`model.registry_io`).

    A relative path is looked up beside ``relative_to`` (e.g. the scenario
    file) first, then in the working folder. Built once per process, file
    version and ``scale`` (share of households: a spec is built at that
    scale, :func:`model.synth.build`; a registry file is subsampled,
    :func:`subsample`).
    """
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in REGISTRY_FILES + (".toml",):
        if not path.is_absolute() and relative_to is not None:
            beside = Path(relative_to).parent / path
            path = beside if beside.is_file() else path
        if not path.is_file():
            kind = "spec" if path.suffix == ".toml" else "file"
            raise PovsimError(f"registry {kind} '{text}' not found")
        return _cached_registry(str(path.resolve()), path.stat().st_mtime_ns, float(scale))
    return _cached_registry(text, 0, float(scale))


def registry_for(scenario: Scenario) -> Registry:
    """The scenario's registry (a spec name, a spec path or a registry file)
    at the scenario's scale."""
    return load_registry(scenario.registry, scenario.source, scenario.scale)


def check_years(scenario: Scenario, registry: Registry) -> None:
    """The scenario's end year must follow the registry's base year."""
    if scenario.end_year <= registry.base_year:
        raise ScenarioError(f"{scenario.source}: run.end_year = {scenario.end_year} must be after "
                            f"the registry's base year {registry.base_year} "
                            f"(registry '{scenario.registry}')")


def run_seed(scenario: Scenario, seed: int, registry: Registry | None = None,
             chunk_size: int | None = None, progress=None) -> xr.Dataset:
    """Simulate ``scenario`` with one seed; return its dataset (``seed`` of length 1).

    The registry is built at ``scenario.scale`` (:func:`registry_for`) and the
    engine scales capacities and budgets by the same share.
    """
    registry = registry if registry is not None else registry_for(scenario)
    check_years(scenario, registry)
    programmes = [c() for c in PROGRAMMES if c.name in scenario.programmes]
    sim = Simulation(registry, scenario.params_for(seed), seed, scenario.end_year, programmes, chunk_size,
                     scale=scenario.scale)
    record = sim.run(progress)
    return to_dataset(record, registry, scenario, seed, [p.name for p in programmes])


def run(scenario: Scenario, seeds: list[int] | None = None, registry: Registry | None = None,
        progress: bool = True) -> xr.Dataset:
    """Simulate ``scenario`` for each seed (default: ``range(scenario.seeds)``).

    A progress bar appears when the run takes longer than two seconds.
    """
    seeds = list(range(scenario.seeds)) if seeds is None else [int(s) for s in seeds]
    registry = registry if registry is not None else registry_for(scenario)
    check_years(scenario, registry)
    n_years = scenario.end_year - registry.base_year
    with tqdm(total=len(seeds) * n_years, desc=f"{scenario.name}", unit="year", delay=2.0,
              disable=not progress, leave=False) as bar:
        parts = [run_seed(scenario, s, registry, progress=bar) for s in seeds]
    ds = xr.concat(parts, dim="seed", data_vars="minimal", coords="minimal",
                   compat="override", combine_attrs="override") if len(parts) > 1 else parts[0]
    return ds
