"""Runs streamed into a store: ``povsim compare``'s one task per (scenario,
seed), each written to disk as it finishes, resumable.

Layout (``<out>/compare.zarr``), on :class:`model.task_store.TaskStore`
----------------------------------------------------------------------
``status`` (scenario, seed)
    The done mask (0 not run, 1 done, 2 failed).
``run_<k>/`` (one group per scenario)
    The scenario's run dataset (:func:`model.runs.run_seed`) with its whole
    ``seed`` axis. Variables with a ``seed`` dimension are stacked, those of
    the same dimensions and type together, into arrays ``block_<i>``
    (variable, ...) chunked one seed at a time, so that each task writes a
    few chunks of its own; a variable without one (registry flags, lines by
    year) and the dataset's attributes are written from the first seed, as
    :func:`model.runs.concat_seeds` takes them; text coordinates and each
    variable's place, type and attributes are in the group's ``layout``
    attribute. The group is made, staged and renamed, when the scenario's
    first task finishes (its shapes are known only then).

:func:`run_into` runs the tasks not yet done on :class:`model.runs.Tasks`
and writes each result at once, so the driver holds at most the window of
tasks in flight; :meth:`RunStore.dataset` reads a scenario back as exactly
the dataset :func:`model.runs.run_all` returns (values, types, attributes
and order), so a comparison built from the store is identical to one built
in memory, interrupted or not.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import numpy as np
import xarray as xr

from model import __version__
from model.errors import PovsimError
from model.progress import bar as progress_bar
from model.runs import Tasks, concat_seeds, run_one
from model.scenario import Scenario
from model.task_store import DONE, Summary, TaskStore

STORE = "compare.zarr"
_PARAMETER_YEARS = range(2000, 2041)   # years the fingerprint reads parameters for


def describe(scenarios: list[Scenario], labels: list[str], seeds: list[int]) -> dict:
    """The store's description of a comparison (its ``runs`` attribute), with
    a fingerprint of everything that decides the runs' numbers: each
    scenario's text, source, registry, scale, years, programmes and resolved
    parameters (and accepted draws), and the seeds."""
    def resolved(params) -> dict:
        return params.resolved(_PARAMETER_YEARS)

    blob = json.dumps({"seeds": [int(s) for s in seeds], "scenarios": [
        {"name": s.name, "source": s.source, "text": s.text, "registry": s.registry,
         "scale": s.scale, "end_year": s.end_year, "programmes": list(s.programmes),
         "params": resolved(s.params), "draws": [resolved(d) for d in s.draws]}
        for s in scenarios]}, sort_keys=True, default=str)
    return {"name": "compare " + " ".join(labels), "source": "povsim compare",
            "fingerprint": hashlib.sha256(blob.encode("utf-8")).hexdigest(),
            "scenarios": list(labels), "seeds": [int(s) for s in seeds],
            "code_version": f"povsim {__version__}"}


class RunStore(TaskStore):
    """The runs of a comparison, one (scenario, seed) task at a time."""

    FOLDER = STORE
    KIND = "runs"
    WHAT = "comparison"

    @classmethod
    def for_runs(cls, folder: Path, scenarios: list[Scenario], labels: list[str],
                 seeds: list[int], resume: bool = False) -> tuple[RunStore, bool]:
        """The store of these runs in ``folder``: the existing one when it
        holds the same scenarios and seeds (it is resumed); otherwise a new
        one, replacing a store of other runs unless ``resume`` is asked for
        (then that is an error, as is a missing store).

        Returns
        -------
        (RunStore, bool)
            The store and whether it existed.
        """
        info = describe(scenarios, labels, seeds)
        axes = {"scenario": len(scenarios), "seed": len(seeds)}
        return cls.resumed(folder, info, axes, resume, replace=True)

    # ------------------------------------------------------------ writing

    def __init__(self, path: Path, group):
        super().__init__(path, group)
        self._arrays: dict[int, tuple[list, dict]] = {}

    def _group_name(self, k: int) -> str:
        return f"run_{k}"

    def _opened(self, k: int, ds: xr.Dataset):
        """Scenario ``k``'s group, its layout and arrays (opened once), made
        from ``ds`` when there is none; and whether it was made now."""
        if k in self._arrays:
            return (*self._arrays[k], False)
        g, made = self._run_group(k, ds)
        layout = g.attrs["layout"]
        arrays = {e["array"]: g[e["array"]] for e in layout if "array" in e}
        self._arrays[k] = (g, layout, arrays)
        return g, layout, arrays, made

    def _run_group(self, k: int, ds: xr.Dataset):
        """Scenario ``k``'s group, made (staged, then renamed) from its first
        finished seed ``ds`` when there is none."""
        import zarr

        name = self._group_name(k)
        if name in self.group:
            return self.group[name], False
        n_seeds = len(self.info["seeds"])
        temp = self.path / f"{name}.partial"
        shutil.rmtree(temp, ignore_errors=True)
        g = zarr.open_group(str(temp), mode="w")
        layout, blocks = [], {}
        for var, v in ds.variables.items():
            entry = {"name": var, "dims": list(v.dims), "coord": var in ds.coords,
                     "dtype": v.dtype.str, "attrs": dict(v.attrs)}
            if var == "seed":
                entry["kind"] = "seeds"
            elif v.dtype.kind in "US":
                if "seed" in v.dims:
                    raise ValueError(f"run variable {var!r}: text along seed is not stored")
                entry["kind"], entry["values"] = "text", v.values.tolist()
            elif "seed" in v.dims:     # with the others of its dimensions and type
                key = (tuple(v.dims), v.shape, v.dtype.str)
                block = blocks.setdefault(key, [])
                entry.update(kind="per_seed", array=f"block_{list(blocks).index(key)}",
                             row=len(block))
                block.append(var)
            else:
                entry.update(kind="shared", array=var)
                g.create_array(var, shape=v.shape, chunks=tuple(max(1, n) for n in v.shape),
                               dtype=v.dtype, fill_value=_fill(v.dtype),
                               dimension_names=tuple(v.dims))
            layout.append(entry)
        for b, ((dims, shape, dtype), names) in enumerate(blocks.items()):
            g.create_array(f"block_{b}", shape=(len(names),) + tuple(
                n_seeds if d == "seed" else n for d, n in zip(dims, shape)),
                chunks=(len(names),) + tuple(1 if d == "seed" else max(1, n)
                                             for d, n in zip(dims, shape)),
                dtype=np.dtype(dtype), fill_value=_fill(np.dtype(dtype)),
                dimension_names=("variable",) + dims)
        g.attrs.update({"layout": layout})
        temp.rename(self.path / name)
        return zarr.open_group(str(self.path / name), mode="r+"), True

    def write(self, k: int, j: int, ds: xr.Dataset) -> None:
        """Write the run of scenario ``k`` and seed row ``j`` (a dataset with
        one seed); its status last."""
        g, layout, arrays, made = self._opened(k, ds)
        if {e["name"] for e in layout} != set(ds.variables):
            raise ValueError(f"scenario {k}, seed row {j}: the run's variables differ from "
                             "those of its other seeds")
        if made or j == 0:      # as concat_seeds: shared parts from the first seed
            for e in layout:
                if e["kind"] == "shared":
                    arrays[e["array"]][...] = ds[e["name"]].values
            g.attrs["dataset_attrs"] = dict(ds.attrs)
        rows: dict[str, list] = {}
        for e in layout:
            if e["kind"] == "per_seed":
                rows.setdefault(e["array"], []).append((e, ds[e["name"]].values))
        for name, parts in rows.items():
            dims = parts[0][0]["dims"]
            where = tuple(slice(j, j + 1) if d == "seed" else slice(None) for d in dims)
            arrays[name][(slice(None),) + where] = np.stack([values for _, values in parts])
        self.mark_done((k, j))

    def fail(self, k: int, j: int, error: str) -> None:
        """Record a task that raised."""
        self.mark_failed((k, j), {"scenario": self.info["scenarios"][k],
                                  "seed": self.info["seeds"][j], "error": error})

    # ------------------------------------------------------------ reading

    def dataset(self, k: int) -> xr.Dataset:
        """Scenario ``k``'s runs over every seed: the dataset
        :func:`model.runs.run_all` gives for it."""
        status = self.status()[k]
        if not (status == DONE).all():
            raise PovsimError(f"{self.path}: scenario {self.info['scenarios'][k]} has "
                              f"{int((status != DONE).sum())} seed(s) not run")
        g = self.group[self._group_name(k)]
        layout = g.attrs["layout"]
        seeds = np.asarray(self.info["seeds"], dtype=np.int64)
        whole = {e["array"]: np.asarray(g[e["array"]][...]) for e in layout if "array" in e}

        def one(j: int) -> xr.Dataset:
            variables = {}
            for e in layout:
                if e["kind"] == "seeds":
                    data = seeds[j:j + 1].astype(np.dtype(e["dtype"]))
                elif e["kind"] == "text":
                    data = np.asarray(e["values"], dtype=np.dtype(e["dtype"]))
                elif e["kind"] == "shared":
                    data = whole[e["array"]]
                else:
                    data = whole[e["array"]][e["row"]][tuple(
                        slice(j, j + 1) if d == "seed" else slice(None) for d in e["dims"])]
                variables[e["name"]] = xr.Variable(tuple(e["dims"]), data, attrs=e["attrs"])
            dims = {d for v in variables.values() for d in v.dims}
            ds = xr.Dataset(variables).set_coords(
                [e["name"] for e in layout if e["coord"] and e["name"] not in dims])
            ds.attrs = dict(g.attrs["dataset_attrs"])
            return ds

        # the per-seed datasets put together as run_all does (same order of variables)
        return concat_seeds([one(j) for j in range(len(seeds))])


def _fill(dtype: np.dtype):
    """Fill value of an array not yet written: NaN for floats, else 0."""
    return np.nan if dtype.kind == "f" else 0


def run_into(store: RunStore, scenarios: list[Scenario], workers: int | None = None,
             scheduler: str | None = None, progress: bool = True) -> Summary:
    """Run every (scenario, seed) task not yet done in ``store``, writing each
    result into it as it finishes.

    Parameters
    ----------
    store : RunStore
        The store (:meth:`RunStore.for_runs`); finished tasks are skipped.
    scenarios : list of Scenario
        The scenarios, in the store's order.
    workers : int, optional
        Worker processes of a local cluster (default: one per core, at most
        one per task); 1 without ``scheduler`` runs in this process.
    scheduler : str, optional
        Address of a running dask scheduler instead of a local cluster.
    progress : bool
        Show a progress bar over tasks (on a terminal or in Jupyter).

    Returns
    -------
    Summary
        Tasks run and skipped. The first task that raises is recorded in the
        store and raised again (the tasks already written stay done).
    """
    start = time.perf_counter()
    seeds = store.info["seeds"]
    todo = store.todo_indices()
    total = len(scenarios) * len(seeds)
    if not todo:
        return Summary(0, 0, total, time.perf_counter() - start)
    # the bar starts once the pool has compiled the kernels and started its workers
    with Tasks(len(todo), workers, scheduler) as pool, \
            progress_bar(len(todo), progress, desc="runs", unit="run", leave=False) as bar:
        held = [pool.share(s, f"scenario-{k}") for k, s in enumerate(scenarios)]
        calls = (((k, j), (held[k], int(seeds[j]), pool.threads)) for k, j in todo)
        for (k, j), result, error in pool.map(run_one, calls, "run"):
            if error is not None:
                store.fail(k, j, f"{type(error).__name__}: {error}")
                raise error
            store.write(k, j, result)
            bar.update()
    return Summary(len(todo), 0, total - len(todo), time.perf_counter() - start)
