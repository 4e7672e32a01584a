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
local ``dask.distributed`` cluster (one thread per worker), or on a running
cluster. Tasks are put back in scenario and seed order, so results are
identical whatever the number of workers. :class:`Tasks` is the one way of
running many tasks (``povsim compare`` and ``povsim sweep`` use it): bounded
submission, scenarios shipped once, results as they finish.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import uuid
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Self

import numpy as np

from model import precompile
from model.engine.sim import Simulation
from model.errors import PovsimError, ScenarioError
from model.programmes.measures import instances
from model.progress import bar as progress_bar
from model.random import Stream, hash_id_np, uniforms_np, year_key
from model.registry import cache as registry_cache
from model.registry import files as registry_io
from model.registry.tables import Registry
from model.scenario import Scenario

if TYPE_CHECKING:
    import xarray as xr

REGISTRY_FILES = (".nc", ".csv", ".parquet")


@lru_cache(maxsize=4)
def _cached_registry(name_or_path: str, mtime_ns: int, scale: float = 1.0) -> Registry:
    if Path(name_or_path).suffix.lower() in REGISTRY_FILES:
        # a few problems are enough here; 'povsim registry validate' lists them all
        return subsample(registry_io.load_registry(name_or_path, limit=3), scale)

    def build() -> Registry:
        from model.registry import synth  # scipy: only when a registry is built

        return synth.build(*synth.load_spec(name_or_path), scale=scale)

    text = _spec_text(name_or_path)
    if text is None:
        return build()
    registry = registry_cache.cached(text, scale, build)
    # the cache is keyed by the spec's text: another file with the same text may
    # have built it, so say where this one came from (as synth.load_spec does)
    registry.source = (str(name_or_path) if Path(name_or_path).suffix == ".toml"
                       else f"model/registry/specs/{name_or_path}.toml")
    return registry


def _spec_text(name_or_path: str) -> str | None:
    """The text of a spec file or built-in spec; None if there is none (the
    build then says what is wrong)."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = resources.files("model.registry").joinpath("specs", f"{name_or_path}.toml")
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


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
    if path.suffix.lower() in REGISTRY_FILES + (".toml",):
        if not path.is_absolute() and relative_to is not None:
            beside = Path(relative_to).parent / path
            path = beside if beside.is_file() else path
        kind = "spec" if path.suffix.lower() == ".toml" else "file"
        if path.is_dir():
            raise PovsimError(f"registry {kind} '{text}' is a folder: expected a "
                              + ("spec .toml file" if kind == "spec"
                                 else ".nc, .csv or .parquet file"))
        if not path.is_file():
            raise PovsimError(f"registry {kind} '{text}' not found")
        return _cached_registry(str(path.resolve()), path.stat().st_mtime_ns, float(scale))
    if path.suffix and path.is_file():
        raise PovsimError(f"registry '{text}': expected a spec name, a spec .toml or a registry "
                          "file (.nc, .csv or .parquet)")
    return _cached_registry(text, 0, float(scale))


def registry_for(scenario: Scenario) -> Registry:
    """The scenario's registry (a spec name, a spec path or a registry file)
    at the scenario's scale."""
    return load_registry(scenario.registry, scenario.source, scenario.scale)


def check_years(scenario: Scenario, registry: Registry) -> None:
    """The scenario's end year must follow the registry's base year, and the
    registry (at the scenario's scale) must hold registered households."""
    if scenario.end_year <= registry.base_year:
        raise ScenarioError(f"{scenario.source}: run.end_year = {scenario.end_year} must be after "
                            f"the registry's base year {registry.base_year} "
                            f"(registry '{scenario.registry}')")
    if not (registry.households["registered"] == 1).any():
        raise ScenarioError(f"{scenario.source}: scale {scenario.scale:g} leaves no registered "
                            f"household of registry '{scenario.registry}' to simulate: raise "
                            "run.scale (or --scale)")


def check_targets(scenario: Scenario, registry: Registry) -> list[str]:
    """Warnings, one line each, for targets that can never be evaluated or
    are at odds with each other (:func:`target_warnings`) and
    for absolute targets above the registry's people, which no run of it can
    meet (a scenario run on another registry with ``--registry`` keeps the
    targets of its own)."""
    h = registry.households
    people = int(h["size"].sum(dtype=np.int64))
    scale = float(scenario.scale)
    t = scenario.targets
    tables = {"exits_people": t.get("exits_people", {})}
    tables.update({f"batch_quota.{b}": q for b, q in t.get("batch_quota", {}).items()})
    out = target_warnings(scenario, registry.base_year)
    for label, table in tables.items():
        for year, value in sorted(table.items()):
            if value * scale > people:
                out.append(f"{scenario.source}: targets.{label} {year} = {value:,} people: more "
                           f"than the {round(people / scale):,} people of registry "
                           f"'{Path(scenario.registry).name}': it can never be met")
    return out


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
    from model.results import to_dataset  # xarray: only once there is a record

    return to_dataset(record, registry, scenario, seed, [p.name for p in programmes])


def run(scenario: Scenario, seeds: list[int] | None = None, registry: Registry | None = None,
        progress: bool = True) -> xr.Dataset:
    """Simulate ``scenario`` for each seed (default: ``range(scenario.seeds)``).

    A progress bar appears when the run takes longer than two seconds, on a
    terminal or in Jupyter (:mod:`model.progress`).
    """
    seeds = list(range(scenario.seeds)) if seeds is None else [int(s) for s in seeds]
    registry = registry if registry is not None else registry_for(scenario)
    check_years(scenario, registry)
    prepare_kernels(scenario, registry, say=progress)
    n_years = scenario.end_year - registry.base_year
    with progress_bar(len(seeds) * n_years, progress, desc=f"{scenario.name}", unit="year",
                      delay=2.0, leave=False) as bar:
        parts = [run_seed(scenario, s, registry, progress=bar) for s in seeds]
    return concat_seeds(parts)


_prepared: set[tuple[str, ...]] = set()


def prepare_kernels(scenario: Scenario, registry: Registry, say: bool = False) -> None:
    """Load the compiled kernels (compile them, on the first run after
    install) before a progress bar starts timing years, by simulating one
    year of the registry's first households with the scenario's programmes.
    Once per process and set of programmes.

    Parameters
    ----------
    scenario : Scenario
        Its programmes and parameters are used.
    registry : Registry
        The run's registry (its base year).
    say : bool
        Print a line to standard error if this takes over two seconds
        (compiling), so that a progress bar's first estimate is not the
        compilation's.
    """
    names = tuple(sorted(scenario.programmes))
    if names in _prepared:
        return
    with _compiling_note(say):
        precompile.compile_first_run(names)  # on two cores, the first run after install
        simulate_first_year(scenario, registry)
    _prepared.add(names)


def compiling_ahead(scenario: Scenario):
    """A block in which, on the first run after install, the kernels of
    ``scenario``'s programmes start compiling in a second process
    (:func:`model.precompile.compiling_ahead`) while this one loads the
    registry; :func:`prepare_kernels` then compiles this process's share."""
    return precompile.compiling_ahead(tuple(sorted(scenario.programmes)))


def compile_kernels_first() -> None:
    """On the first run after install (numba's cache empty), compile the
    default programmes' kernels now, on two cores
    (:func:`model.precompile.compile_first_run`), with a line on standard
    error: before tasks compile them one by one as they reach them, or
    local workers start and each compiles the same kernels at once (each
    taking as long as one alone, and racing to save them). Nothing
    otherwise."""
    with _compiling_note(True):
        precompile.compile_first_run(precompile.default_programmes())


@contextmanager
def _compiling_note(say: bool):
    """Print a line to standard error if the block takes over two seconds
    (it is compiling the kernels), when ``say``."""
    note = threading.Timer(2.0, lambda: print(
        "povsim: compiling the model's kernels (first run after install; later runs load them)",
        file=sys.stderr, flush=True))
    if say:
        note.start()
    try:
        yield
    finally:
        note.cancel()


def simulate_first_year(scenario: Scenario, registry: Registry) -> None:
    """Simulate one year of the registry's first 200 households with the
    scenario's programmes (each kernel of a run is called once)."""
    first = {name: column[:200] for name, column in registry.households.items()}
    tiny = dataclasses.replace(registry, households=first)
    Simulation(tiny, scenario.params_for(0), 0, registry.base_year + 1,
               instances(scenario.programmes), scale=scenario.scale).run()


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
        Threads the kernels may use in this process (default: leave
        the setting alone). Results do not depend on it.

    Returns
    -------
    xarray.Dataset
        :func:`run_seed`'s dataset (``seed`` of length 1).
    """
    if threads:
        from model.engine.threads import set_threads

        set_threads(threads)
    return run_seed(scenario, seed)


def concat_seeds(parts: list[xr.Dataset]) -> xr.Dataset:
    """One scenario's per-seed datasets, in the given order, along ``seed``."""
    if len(parts) == 1:
        return parts[0]
    import xarray as xr

    return xr.concat(parts, dim="seed", data_vars="minimal", coords="minimal",
                     compat="override", combine_attrs="override")


def run_all(scenarios: list[Scenario], seeds: list[int], workers: int | None = None,
            progress: bool = True, scheduler: str | None = None) -> list[xr.Dataset]:
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
    scheduler : str, optional
        Address of a running dask scheduler to use instead of a local
        cluster (see :class:`Tasks`).

    Returns
    -------
    list of xarray.Dataset
        One dataset per scenario, seeds in the order given.
    """
    tasks = [(k, int(seed)) for k in range(len(scenarios)) for seed in seeds]
    done: dict[tuple[int, int], xr.Dataset] = {}
    n_workers = default_workers(len(tasks)) if workers is None else min(workers, len(tasks))
    if scheduler is None and n_workers <= 1:
        # in this process: kernels compiled (first run after install) before the
        # bar starts timing runs, so its first estimate is not the compilation's
        for scenario in {tuple(sorted(s.programmes)): s for s in scenarios}.values():
            prepare_kernels(scenario, registry_for(scenario), say=progress)
    # a bar on a terminal (or in Jupyter) only, so piped or logged output stays clean;
    # started once the tasks' pool has compiled the kernels and started its workers
    with Tasks(len(tasks), workers, scheduler) as pool, \
            progress_bar(len(tasks), progress, desc="runs", unit="run", leave=False) as bar:
        held = [pool.share(s, f"scenario-{k}") for k, s in enumerate(scenarios)]
        calls = (((k, seed), (held[k], seed, pool.threads)) for k, seed in tasks)
        for (k, seed), result, error in pool.map(run_one, calls, "run"):
            if error is not None:
                raise error
            done[k, seed] = result
            bar.update()
    return [concat_seeds([done[k, int(seed)] for seed in seeds]) for k in range(len(scenarios))]


class Tasks:
    """The one way to run many tasks: in this process, on a local cluster of
    worker processes, or on a running dask cluster; ``povsim compare``,
    ``povsim run --workers`` and ``povsim sweep`` use it.

    Tasks are submitted in a bounded window (:data:`IN_FLIGHT_PER_THREAD`
    per worker thread), so a hundred thousand tasks do not flood the
    scheduler, and results are handed back as they finish. Large arguments
    shared by many tasks (a scenario) are shipped once with :meth:`share`.
    A worker killed mid-task loses only that task: the scheduler runs it
    again elsewhere.

    Parameters
    ----------
    n_tasks : int
        Tasks to run (for the default number of workers).
    workers : int, optional
        Worker processes of a local cluster (default :func:`default_workers`);
        1 runs in this process.
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:port``), however it was
        started; ``workers`` is then ignored.
    """

    IN_FLIGHT_PER_THREAD = 4

    def __init__(self, n_tasks: int, workers: int | None = None, scheduler: str | None = None):
        self.scheduler = scheduler
        self.workers = default_workers(n_tasks) if workers is None else max(1, min(workers,
                                                                                   n_tasks))
        local = scheduler is None and self.workers == 1
        self.threads = None if local or scheduler else max(1, cores() // self.workers)
        self.client = None
        self.token = uuid.uuid4().hex[:12]   # task keys unique on a shared scheduler
        self._count = 0
        if scheduler is None:  # this process's cores compile for its workers too
            compile_kernels_first()
        self._context = None if local else self._connect()

    def _connect(self):
        if self.scheduler is None:
            return _cluster(self.workers)
        return _remote(self.scheduler)

    def __enter__(self) -> Self:
        if self._context is not None:
            self.client = self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)

    def share(self, value, name: str):
        """``value`` as a task argument shipped to the cluster once (a task of
        its own, so a lost copy is made again), or itself in this process."""
        if self.client is None:
            return value
        return self.client.submit(_held, value, key=f"{name}-{self.token}", pure=False)

    def map(self, function, calls, name: str = "task"):
        """Run ``function(*args)`` for each ``(key, args)`` of ``calls``.

        Yields
        ------
        (key, result, error)
            As tasks finish (in order in this process): the result and None,
            or None and the exception the task raised.
        """
        if self.client is None:
            for key, args in calls:
                try:
                    result = function(*args)
                except Exception as err:  # noqa: BLE001  (handed to the caller)
                    yield key, None, err
                else:
                    yield key, result, None
            return
        from distributed import as_completed

        calls = iter(calls)
        keys = {}
        queue = as_completed([])

        def submit_next() -> None:
            item = next(calls, None)
            if item is not None:
                self._count += 1
                future = self.client.submit(function, *item[1], pure=False,
                                            key=f"{name}-{self.token}-{self._count}")
                keys[future.key] = item[0]
                queue.add(future)

        slots = sum(self.client.nthreads().values()) or 1
        for _ in range(max(8, self.IN_FLIGHT_PER_THREAD * slots)):
            submit_next()
        for future in queue:
            key = keys.pop(future.key)
            if future.status == "finished":
                yield key, future.result(), None
            else:
                yield key, None, future.exception()
            future.release()
            submit_next()


def _held(value):
    """A task returning its argument (:meth:`Tasks.share`)."""
    return value


@contextmanager
def _remote(address: str):
    """A client of the running scheduler at ``address``."""
    from distributed import Client
    try:
        client = Client(address, timeout="20s")
    except OSError as err:
        raise PovsimError(f"--scheduler {address}: cannot connect ({err})") from None
    with client:
        yield client


@contextmanager
def _cluster(workers: int):
    """A quiet local cluster of worker processes and its client; both are
    closed on leaving, also on an error or Ctrl-C.

    The workers start with one malloc arena (``MALLOC_ARENA_MAX=1``): a
    task runs in a worker's thread, and glibc gives every thread but the
    main one an arena of at most 64 MB heaps, whose larger blocks are
    mapped apart and unmapped when freed, so that every year of a large
    run would fault in its arrays anew (the national scenario at 30 %:
    380,000 page faults and 3.2-3.3 s a run in a thread, against 2.6-2.7 s
    with one arena; :mod:`model.allocator`).

    On the first run after install, callers compile the kernels first
    (:func:`compile_kernels_first`), so that the workers load them.
    """
    import dask
    from distributed import Client, LocalCluster

    quiet = [logging.getLogger(name) for name in ("distributed", "tornado", "bokeh")]
    levels = [log.level for log in quiet]
    for log in quiet:
        log.setLevel(logging.CRITICAL)
    try:
        with _workers_ignore_sigint(), _script_not_rerun(), dask.config.set(
                {"distributed.nanny.pre-spawn-environ.MALLOC_ARENA_MAX": 1}):
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


def target_warnings(scenario: Scenario, base_year: int) -> list[str]:
    """Targets that can never be evaluated (dated before the registry's base
    year or after the run's end year) and targets at odds with each other
    (exits planned after the year registered poor should reach zero; no
    registered poor asked for before that year): one line each."""
    out = _odd_targets(scenario)
    for kind, value in scenario.targets.items():
        if not value:
            continue
        if isinstance(value, int):
            years = {kind: [value]}
        elif kind == "batch_quota":
            years = {f"{kind}.{batch}": list(table) for batch, table in value.items()}
        else:
            years = {kind: list(value)}
        for label, listed in years.items():
            for year in sorted(listed):
                if not base_year <= year <= scenario.end_year:
                    when = "before the registry's base year" if year < base_year else \
                        "after the run's end year"
                    limit = base_year if year < base_year else scenario.end_year
                    out.append(f"{scenario.source}: targets.{label} {year} is {when} {limit}: "
                               "it can never be evaluated")
    return out


def _odd_targets(scenario: Scenario) -> list[str]:
    t, where = scenario.targets, scenario.source
    zero = t.get("zero_by")
    if zero is None:
        return []
    out = []
    exits = {f"exits_people {y}": v for y, v in t.get("exits_people", {}).items() if y > zero}
    exits.update({f"batch_quota.{b} {y}": v for b, table in t.get("batch_quota", {}).items()
                  for y, v in table.items() if y > zero})
    for label, value in sorted(exits.items()):
        if value > 0:
            out.append(f"{where}: targets.{label} = {value:,} comes after targets.zero_by = "
                       f"{zero}: with no registered poor left only returns and new entries "
                       "could exit; check the years")
    early = sorted(y for y, v in t.get("registered_max", {}).items() if v == 0 and y < zero)
    if early:
        out.append(f"{where}: targets.registered_max {early[0]} = 0 asks for no registered "
                   f"poor before targets.zero_by = {zero}: one of the two years is wrong")
    return out
