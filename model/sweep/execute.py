"""Running a sweep: one task per (scenario, point, seed) on dask.distributed.

A task ships the scenario (once per scenario, as a task of its own that the
others depend on) and the point's factor values; the worker applies the
values as a parameter overlay, builds or reuses its registry
(:func:`model.runs.registry_for` keeps the last few per process) and returns
only the outcomes and series, a few hundred numbers. The driver writes each
result into the store as it arrives (:class:`model.sweep.store.SweepStore`)
and keeps at most a bounded window of tasks in flight, so its memory stays
flat whatever the number of tasks.

A worker killed mid-task loses that task only: the scheduler runs it again
elsewhere. A task that raises is recorded with its error and point, and the
sweep goes on.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
from tqdm.auto import tqdm

from model.analysis.outcomes import Outcome, evaluate, yearly_totals
from model.scenario import Scenario
from model.sweep.spec import Factor, Sweep, point_overlay
from model.sweep.store import SweepStore, Task

IN_FLIGHT_PER_WORKER = 4   # tasks queued per worker thread: enough to keep it busy


@dataclass(frozen=True)
class Summary:
    """What a sweep run did: tasks run, failed, skipped as already done, and
    the wall time (s)."""

    ran: int
    failed: int
    skipped: int
    seconds: float

    @property
    def rate(self) -> float:
        """Tasks per second."""
        return self.ran / self.seconds if self.seconds > 0 else float("nan")


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


def _hold(value):
    """A task returning its argument: the scenario, shipped once to the cluster."""
    return value


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
    from model.runs import cores, default_workers

    start = time.perf_counter()
    todo = store.todo()
    total = len(sweep.scenarios) * len(x) * len(sweep.seeds)
    skipped = total - len(todo)
    years = store.info["years"]
    failed = 0
    args = (sweep.factors, sweep.outcomes, sweep.series, years)
    with tqdm(total=len(todo), desc=sweep.name, unit="task", disable=None if progress else True,
              dynamic_ncols=True, smoothing=0.05) as bar:
        def finished(task: Task, result: dict | None, error: str | None) -> None:
            nonlocal failed
            if error is None:
                store.write(task, result["outcomes"], result["series"])
            else:
                failed += 1
                store.fail(task, error, list(x[task.point]))
                bar.set_postfix(failed=failed)
            bar.update()

        if scheduler is None and (workers or default_workers(len(todo))) == 1:
            for task in todo:
                scenario = sweep.scenarios[task.scenario]
                try:
                    result = run_task(scenario, args[0], list(x[task.point]),
                                      sweep.seeds[task.seed], *args[1:])
                except Exception as err:   # recorded with its point; the sweep goes on
                    finished(task, None, f"{type(err).__name__}: {err}")
                else:
                    finished(task, result, None)
        elif todo:
            n = workers or default_workers(len(todo))
            threads = None if scheduler else max(1, cores() // n)
            with _client(scheduler, n) as client:
                _on_cluster(client, sweep, x, todo, args, threads, finished)
    return Summary(len(todo), failed, skipped, time.perf_counter() - start)


@contextmanager
def _client(scheduler: str | None, workers: int):
    """A client of the scheduler at ``scheduler``, or of a new local cluster."""
    if scheduler is None:
        from model.runs import _cluster
        with _cluster(workers) as client:
            yield client
        return
    from distributed import Client
    try:
        client = Client(scheduler, timeout="20s")
    except OSError as err:
        from model.errors import PovsimError
        raise PovsimError(f"--scheduler {scheduler}: cannot connect ({err})") from None
    with client:
        yield client


def _on_cluster(client, sweep: Sweep, x: np.ndarray, todo: list[Task], args: tuple,
                threads: int | None, finished) -> None:
    """Submit ``todo`` in a bounded window and hand each result to ``finished``."""
    from distributed import as_completed

    factors, outcomes, series, years = args
    token = sweep.fingerprint()[:12]
    held = [client.submit(_hold, s, key=f"sweep-scenario-{k}-{token}", pure=False)
            for k, s in enumerate(sweep.scenarios)]
    slots = sum(client.nthreads().values()) or 1
    window = max(8, IN_FLIGHT_PER_WORKER * slots)
    pending = iter(todo)
    tasks = {}

    def submit_next(queue) -> None:
        task = next(pending, None)
        if task is None:
            return
        future = client.submit(run_task, held[task.scenario], factors, list(x[task.point]),
                               sweep.seeds[task.seed], outcomes, series, years, threads,
                               key=f"sweep-{token}-{task.key}", pure=False)
        tasks[future.key] = task
        queue.add(future)

    queue = as_completed([])
    for _ in range(window):
        submit_next(queue)
    for future in queue:
        task = tasks.pop(future.key)
        if future.status == "finished":
            finished(task, future.result(), None)
        else:
            err = future.exception()
            finished(task, None, f"{type(err).__name__}: {err}")
        future.release()
        submit_next(queue)
