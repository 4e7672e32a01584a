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

import xarray as xr
from tqdm.auto import tqdm

from model import registry_io, synth
from model.population import Registry
from model.measures import PROGRAMMES
from model.results import to_dataset
from model.errors import PovsimError, ScenarioError
from model.scenario import Scenario
from model.sim import Simulation


REGISTRY_FILES = (".nc", ".csv", ".parquet")


@lru_cache(maxsize=4)
def _cached_registry(name_or_path: str, mtime_ns: int) -> Registry:
    if Path(name_or_path).suffix in REGISTRY_FILES:
        return registry_io.load_registry(name_or_path)
    return synth.build(*synth.load_spec(name_or_path))


def load_registry(name_or_path: str | Path, relative_to: str | Path | None = None) -> Registry:
    """A registry from a built-in spec name, a spec file (``.toml``) or a registry
    file (``.nc``, ``.csv``, ``.parquet``; see :mod:`model.registry_io`).

    A relative path is looked up beside ``relative_to`` (e.g. the scenario
    file) first, then in the working folder. Built once per process and file
    version.
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
        return _cached_registry(str(path.resolve()), path.stat().st_mtime_ns)
    return _cached_registry(text, 0)


def registry_for(scenario: Scenario) -> Registry:
    """The scenario's registry: a spec name, a spec path or a registry file."""
    return load_registry(scenario.registry, scenario.source)


def check_years(scenario: Scenario, registry: Registry) -> None:
    """The scenario's end year must follow the registry's base year."""
    if scenario.end_year <= registry.base_year:
        raise ScenarioError(f"{scenario.source}: run.end_year = {scenario.end_year} must be after "
                            f"the registry's base year {registry.base_year} "
                            f"(registry '{scenario.registry}')")


def run_seed(scenario: Scenario, seed: int, registry: Registry | None = None,
             chunk_size: int | None = None, progress=None) -> xr.Dataset:
    """Simulate ``scenario`` with one seed; return its dataset (``seed`` of length 1)."""
    registry = registry if registry is not None else registry_for(scenario)
    check_years(scenario, registry)
    programmes = [c() for c in PROGRAMMES if c.name in scenario.programmes]
    sim = Simulation(registry, scenario.params, seed, scenario.end_year, programmes, chunk_size)
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
