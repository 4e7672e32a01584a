"""Several scenarios times several seeds: one task per (scenario, seed).

With one worker the tasks run one after another in this process; with more,
each task runs in a worker process of a local ``dask.distributed`` cluster
(one thread per worker). A task is a plain function of (scenario, seed), so
the results are identical whatever the number of workers; they are put back
in scenario and seed order before they are concatenated.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import contextmanager

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from model import runs
from model.scenario import Scenario


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
        :func:`model.runs.run_seed`'s dataset (``seed`` of length 1) with
        ``poor_village`` and ``poor_county`` flags from the registry (so that
        exit schedules count poor villages and counties only) and the
        ``scale`` attribute (share of households simulated).
    """
    if threads:
        import numba
        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    ds = runs.run_seed(scenario, seed)
    return with_registry_flags(ds, scenario)


def with_registry_flags(ds: xr.Dataset, scenario: Scenario) -> xr.Dataset:
    """``ds`` with the registry's ``poor_village`` / ``poor_county`` flags and
    the ``scale`` attribute, where the run did not record them."""
    registry = runs.registry_for(scenario)
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
        process without dask. Worker processes import the main module: in
        a script, call this under ``if __name__ == "__main__":``.
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
    # disable=None: a bar on a terminal only, so piped or logged output stays clean
    with tqdm(total=len(tasks), desc="runs", unit="run", disable=None if progress else True,
              leave=False) as bar:
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
        with _workers_ignore_sigint():
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
