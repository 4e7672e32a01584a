"""Running a sweep: one task per (scenario, point, seed) on dask.distributed.

A task ships the scenario (once per scenario, :meth:`model.runs.Tasks.share`)
and the point's factor values; the worker applies the values as a parameter
overlay, builds or reuses its registry
(:func:`model.runs.registry_for` keeps the last few per process) and returns
only the outcomes and series, a few hundred numbers. The driver writes each
result into the store as it arrives (:class:`model.sweep.store.SweepStore`)
and keeps at most a bounded window of tasks in flight, so its memory stays
flat whatever the number of tasks.

Tasks run through :class:`model.runs.Tasks`, the one way povsim runs many
tasks (compare too): a worker killed mid-task loses that task only, and the
scheduler runs it again elsewhere. A task that raises is recorded with its
error and point, and the sweep goes on.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
from tqdm.auto import tqdm

from model.analysis.outcomes import Outcome, evaluate, yearly_totals
from model.scenario import Scenario
from model.sweep.spec import Factor, Sweep, point_overlay
from model.sweep.store import SweepStore
from model.task_store import Summary


def run_task(scenario: Scenario, factors: tuple[Factor, ...], values: list[float], seed: int,
             outcomes: tuple[Outcome, ...], series: tuple[str, ...], years: list[int],
             threads: int | None = None) -> dict:
    """Run one (scenario, point, seed) and reduce it to what the store keeps.

    Parameters
    ----------
    scenario : Scenario
        The base scenario.
    factors, values
        The sweep's factors and this point's values (in their units).
    seed : int
        The seed.
    outcomes, series
        What to keep (:mod:`model.analysis.outcomes`; names of
        :data:`model.sweep.spec.SERIES`).
    years : list of int
        The store's year axis for the series.
    threads : int, optional
        Threads the numba kernels may use (default: leave the setting alone).

    Returns
    -------
    dict
        ``outcomes`` (float64, one per outcome) and ``series`` (name ->
        float64 over ``years``, NaN for years not simulated).
    """
    from model.runs import run_one

    overlay = point_overlay(factors, values, scenario.params, scenario.end_year)
    params = scenario.params.with_overlay(overlay, "sweep point")
    ds = run_one(replace(scenario, params=params), int(seed), threads)
    out = {"outcomes": evaluate(list(outcomes), ds)[0], "series": {}}
    if series:
        totals = yearly_totals(ds)
        index = {y: k for k, y in enumerate(years)}
        for name in series:
            row = np.full(len(years), np.nan)
            values_by_year = totals[name].isel(seed=0).values
            for y, v in zip(ds["year"].values, values_by_year):
                if int(y) in index:
                    row[index[int(y)]] = v
            out["series"][name] = row
    return out


def execute(sweep: Sweep, store: SweepStore, x: np.ndarray, workers: int | None = None,
            scheduler: str | None = None, progress: bool = True) -> Summary:
    """Run every task of ``sweep`` not yet done in ``store``.

    Parameters
    ----------
    sweep : Sweep
        The sweep.
    store : SweepStore
        Its store; finished tasks are skipped.
    x : numpy.ndarray
        The design's points (point, factor).
    workers : int, optional
        Worker processes of the local cluster (default: one per core, at
        most one per task); 1 without ``scheduler`` runs in this process.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:port``) to use
        instead of a local cluster.
    progress : bool
        Show a progress bar (with the ETA and the failures) on a terminal.

    Returns
    -------
    Summary
    """
    from model.runs import Tasks

    start = time.perf_counter()
    todo = store.todo()
    total = len(sweep.scenarios) * len(x) * len(sweep.seeds)
    failed = 0
    years = store.info["years"]
    if not todo:
        return Summary(0, 0, total, time.perf_counter() - start)
    # the bar starts once the pool has compiled the kernels and started its workers
    with Tasks(len(todo), workers, scheduler) as pool, \
            tqdm(total=len(todo), desc=sweep.name, unit="task",
                 disable=None if progress else True, dynamic_ncols=True, smoothing=0.05) as bar:
        held = [pool.share(s, f"sweep-scenario-{k}") for k, s in enumerate(sweep.scenarios)]
        calls = ((task, (held[task.scenario], sweep.factors, list(x[task.point]),
                         sweep.seeds[task.seed], sweep.outcomes, sweep.series, years,
                         pool.threads)) for task in todo)
        for task, result, error in pool.map(run_task, calls, "sweep"):
            if error is None:
                store.write(task, result["outcomes"], result["series"])
            else:
                failed += 1
                store.fail(task, f"{type(error).__name__}: {error}", list(x[task.point]))
                bar.set_postfix(failed=failed)
            bar.update()
    return Summary(len(todo), failed, total - len(todo), time.perf_counter() - start)
