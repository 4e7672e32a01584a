"""Runs: scenarios for one or more seeds, returned as labelled datasets.

A run is a plain function of (scenario, parameters, seed): :func:`run_seed`
builds the registry, simulates and returns the dataset of that seed; it is
the one run path of ``povsim run``, ``povsim compare`` and the Python API.
Several seeds are concatenated along ``seed``; the same seed gives the same
numbers whatever the thread count, and two scenarios with the same seed share
their random numbers (common random numbers).

:func:`run` runs one scenario in this process; :func:`run_all` runs several
scenarios times several seeds, one task per (scenario, seed): with one worker
one after another in this process, with more in the worker processes of a
local ``dask.distributed`` cluster (one thread per worker). Tasks are put back
in scenario and seed order, so results are identical whatever the number of
workers.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr

from model.engine.sim import Simulation
from model.errors import PovsimError, ScenarioError
from model.progress import bar as progress_bar
from model.programmes.measures import instances
from model.random import Stream, hash_id_np, uniforms_np, year_key
from model.registry import files as registry_io
from model.registry import synth
from model.registry.tables import Registry
from model.results import to_dataset
from model.scenario import Scenario

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
                    registry.source, registry.village_share * scale)


def load_registry(name_or_path: str | Path, relative_to: str | Path | None = None,
                  scale: float = 1.0) -> Registry:
    """A registry from a built-in spec name, a spec file (``.toml``) or a registry
    file (``.nc``, ``.csv``, ``.parquet``; see :mod:`model.registry.files`).

    A relative path is looked up beside ``relative_to`` (e.g. the scenario
    file) first, then in the working folder. Built once per process, file
    version and ``scale`` (share of households: a spec is built at that
    scale, :func:`model.registry.synth.build`; a registry file is subsampled,
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
    programmes = instances(scenario.programmes)
    sim = Simulation(registry, scenario.params_for(seed), seed, scenario.end_year, programmes,
                     chunk_size, scale=scenario.scale)
    record = sim.run(progress)
    ds = to_dataset(record, registry, scenario, seed, [p.name for p in programmes])
    return with_registry_flags(ds, registry, scenario)


def run(scenario: Scenario, seeds: list[int] | None = None, registry: Registry | None = None,
        progress: bool = True) -> xr.Dataset:
    """Simulate ``scenario`` for each seed (default: ``range(scenario.seeds)``).

    A progress bar appears when the run takes longer than two seconds, on a
    terminal or in Jupyter (:mod:`model.progress`).
    """
    seeds = list(range(scenario.seeds)) if seeds is None else [int(s) for s in seeds]
    registry = registry if registry is not None else registry_for(scenario)
    check_years(scenario, registry)
    n_years = scenario.end_year - registry.base_year
    with progress_bar(len(seeds) * n_years, progress, desc=f"{scenario.name}", unit="year",
                      delay=2.0, leave=False) as bar:
        parts = [run_seed(scenario, s, registry, progress=bar) for s in seeds]
    ds = xr.concat(parts, dim="seed", data_vars="minimal", coords="minimal",
                   compat="override", combine_attrs="override") if len(parts) > 1 else parts[0]
    return ds

def cores() -> int:
    """Cores this process may run on (its CPU affinity where known)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_workers(n_tasks: int) -> int:
    """Worker processes used when none is asked for: one per core, at most one
    per task."""
    return max(1, min(cores(), n_tasks))


def run_one(scenario: Scenario, seed: int, threads: int | None = None) -> xr.Dataset:
    """Simulate one (scenario, seed) and add what a comparison needs.

    Parameters
    ----------
    scenario : Scenario
        The scenario, with its scale.
    seed : int
        The seed.
    threads : int, optional
        Threads the numba kernels may use in this process (default: leave
        the setting alone). Results do not depend on it.

    Returns
    -------
    xarray.Dataset
        :func:`run_seed`'s dataset (``seed`` of length 1).
    """
    if threads:
        import numba
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    return run_seed(scenario, seed)


def with_registry_flags(ds: xr.Dataset, registry: Registry, scenario: Scenario) -> xr.Dataset:
    """``ds`` with the registry's ``poor_village`` / ``poor_county`` flags (so
    that exit schedules count poor villages and counties only) and the
    ``scale`` attribute (share of households simulated)."""
    extra = {}
    if "poor_village" not in ds:
        extra["poor_village"] = xr.DataArray(
            np.asarray(registry.villages["poor_village"], dtype=np.int8), dims=("village",),
            attrs={"units": "flag", "long_name": "poor village (贫困村): 1, else 0"})
    if "poor_county" not in ds:
        extra["poor_county"] = xr.DataArray(
            np.asarray(registry.counties["poor_county"], dtype=np.int8), dims=("county",),
            attrs={"units": "flag", "long_name": "poor county (贫困县): 1, else 0"})
    out = ds.assign(extra)
    out.attrs.setdefault("scale", float(scenario.scale))
    return out


def concat_seeds(parts: list[xr.Dataset]) -> xr.Dataset:
    """One scenario's per-seed datasets, in the given order, along ``seed``."""
    if len(parts) == 1:
        return parts[0]
    return xr.concat(parts, dim="seed", data_vars="minimal", coords="minimal",
                     compat="override", combine_attrs="override")


def run_all(scenarios: list[Scenario], seeds: list[int], workers: int | None = None,
            progress: bool = True) -> list[xr.Dataset]:
    """Run every scenario with the same seeds (common random numbers).

    Parameters
    ----------
    scenarios : list of Scenario
        The scenarios, in report order.
    seeds : list of int
        The seeds, the same for every scenario.
    workers : int, optional
        Worker processes (default :func:`default_workers`); 1 runs in this
        process without dask. A script needs no ``if __name__ ==
        "__main__":`` guard: the workers do not run it again.
    progress : bool
        Show a progress bar over completed tasks (on stderr, when it is a
        terminal).

    Returns
    -------
    list of xarray.Dataset
        One dataset per scenario, seeds in the order given.
    """
    tasks = [(k, int(seed)) for k in range(len(scenarios)) for seed in seeds]
    workers = default_workers(len(tasks)) if workers is None else max(1, min(workers, len(tasks)))
    done: dict[tuple[int, int], xr.Dataset] = {}
    with progress_bar(len(tasks), progress, desc="runs", unit="run", leave=False) as bar:
        if workers == 1:
            for k, seed in tasks:
                done[k, seed] = run_one(scenarios[k], seed)
                bar.update()
        else:
            threads = max(1, cores() // workers)
            with _cluster(workers) as client:
                from distributed import as_completed
                futures = {client.submit(run_one, scenarios[k], seed, threads, pure=False,
                                         key=f"run-{k}-{seed}"): (k, seed) for k, seed in tasks}
                for future in as_completed(futures):
                    done[futures[future]] = future.result()   # re-raises a task's error
                    bar.update()
    return [concat_seeds([done[k, int(seed)] for seed in seeds]) for k in range(len(scenarios))]


@contextmanager
def _cluster(workers: int):
    """A quiet local cluster of worker processes and its client; both are
    closed on leaving, also on an error or Ctrl-C."""
    from distributed import Client, LocalCluster

    quiet = [logging.getLogger(name) for name in ("distributed", "tornado", "bokeh")]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.CRITICAL)
    try:
        with _workers_ignore_sigint(), _script_not_rerun():
            # no dashboard; the scheduler's own HTTP endpoint on any free port (its
            # default, 8787, warns when another cluster holds it)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.CRITICAL,
                                   scheduler_kwargs={"dashboard": False,
                                                     "dashboard_address": ":0"})
        with cluster, Client(cluster) as client:
            yield client
    finally:
        for log, level in zip(quiet, levels):
            log.setLevel(level)


@contextmanager
def _script_not_rerun():
    """Start worker processes without running the user's script again.

    multiprocessing's spawn imports a script's main module in every new
    process, so a script calling :func:`run_all` at its top level would start
    clusters within clusters; a worker needs only ``model``. While the
    workers start, the main module of a plain script (run by path) hides its
    file name, so the workers start as they do from Jupyter or ``python -c``:
    a script needs no ``if __name__ == "__main__":`` guard.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield      # python -m, Jupyter, the povsim command: nothing to hide
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


@contextmanager
def _workers_ignore_sigint():
    """Ignore Ctrl-C (SIGINT) while worker processes start, so that they
    inherit it: on Ctrl-C only this process is interrupted, and it shuts the
    cluster down (instead of every worker printing a traceback)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
