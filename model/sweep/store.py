"""The sweep store: a Zarr folder that each finished task writes its slice into.

Layout (``<out>/sweep.zarr``)
----------------------------
``x`` (point, factor)
    The design's factor values (written when the store is made).
``outcomes`` (scenario, point, seed, outcome)
    Each task's outcomes (:mod:`model.analysis.outcomes`); NaN until done.
``series_<name>`` (scenario, point, seed, year)
    The per-year series the sweep keeps (:data:`model.sweep.spec.SERIES`).
``status`` (scenario, point, seed)
    0 not run, 1 done, 2 failed (the error is in the ``failures`` attribute).

The attributes hold the sweep (its text, factors, outcomes, seeds and a
fingerprint). The done mask, the failures, resuming and why a kill never
leaves a corrupt store are :mod:`model.task_store`'s, shared with
``povsim compare``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from model import __version__
from model.sweep.spec import SERIES, Sweep
from model.task_store import DONE, FAILED, NOT_RUN, TaskStore, block_of

STORE = "sweep.zarr"
SERIES_FROM = 2010   # first year of the series axis (no registry starts earlier)
__all__ = ["DONE", "FAILED", "NOT_RUN", "STORE", "SweepStore", "Task", "describe"]


@dataclass(frozen=True)
class Task:
    """One task: scenario row, point row and seed row in the store."""

    scenario: int
    point: int
    seed: int

    @property
    def key(self) -> str:
        return f"{self.scenario}-{self.point}-{self.seed}"


def describe(sweep: Sweep, x: np.ndarray) -> dict:
    """The store's description of a sweep (its ``sweep`` attribute)."""
    end = max(s.end_year for s in sweep.scenarios)
    return {"name": sweep.name, "description": sweep.description, "source": sweep.source,
            "text": sweep.text, "fingerprint": sweep.fingerprint(),
            "x_digest": _digest(x),
            "scenarios": [s.name for s in sweep.scenarios],
            "scales": [s.scale for s in sweep.scenarios],
            "end_years": [s.end_year for s in sweep.scenarios],
            "factors": [f.name for f in sweep.factors],
            "log": [f.log for f in sweep.factors],
            "bounds": [[f.low, f.high] for f in sweep.factors],
            "years_of_factors": [list(f.years) for f in sweep.factors],
            "design": sweep.design, "points": sweep.points,
            "second_order": sweep.second_order, "levels": sweep.levels,
            "design_seed": sweep.design_seed,
            "seeds": list(sweep.seeds),
            "outcomes": [o.label for o in sweep.outcomes],
            "outcome_units": [o.units for o in sweep.outcomes],
            "outcome_names": [o.long_name for o in sweep.outcomes],
            "series": list(sweep.series),
            "years": list(range(SERIES_FROM, end + 1)),
            "code_version": f"povsim {__version__}"}


def _digest(x: np.ndarray) -> str:
    import hashlib
    return hashlib.sha256(np.ascontiguousarray(x, dtype="<f8").tobytes()).hexdigest()


class SweepStore(TaskStore):
    """A sweep's Zarr store: open it with :meth:`for_sweep` or :meth:`open`
    (the done mask, failures and resuming are :class:`model.task_store.TaskStore`'s)."""

    FOLDER = STORE
    KIND = "sweep"
    WHAT = "sweep"

    def __init__(self, path: Path, group):
        super().__init__(path, group)
        self._outcomes = group["outcomes"]
        self._series = {name: group[f"series_{name}"] for name in self.info["series"]}

    # ------------------------------------------------------------ opening

    @classmethod
    def _make(cls, group, info: dict, x: np.ndarray) -> None:
        group.create_array("x", data=np.asarray(x, dtype="f8"),
                           chunks=(max(1, len(x)), len(info["factors"])),
                           dimension_names=("point", "factor"))
        n_scen, n_points = len(info["scenarios"]), len(x)
        n_seeds, n_out, n_years = len(info["seeds"]), len(info["outcomes"]), len(info["years"])
        block = block_of(n_points, n_seeds)
        group.create_array("outcomes", shape=(n_scen, n_points, n_seeds, n_out),
                           chunks=(1, block, n_seeds, n_out), dtype="f8", fill_value=np.nan,
                           dimension_names=("scenario", "point", "seed", "outcome"))
        for name in info["series"]:
            group.create_array(f"series_{name}", shape=(n_scen, n_points, n_seeds, n_years),
                               chunks=(1, block, n_seeds, n_years), dtype="f8",
                               fill_value=np.nan,
                               dimension_names=("scenario", "point", "seed", "year"))

    @classmethod
    def for_sweep(cls, folder: Path, sweep: Sweep, x: np.ndarray,
                  resume: bool = False) -> tuple[SweepStore, bool]:
        """The store of ``sweep`` in ``folder``: the existing one when it holds
        this same sweep (it is resumed), a new one when there is none.

        Returns
        -------
        (SweepStore, bool)
            The store and whether it existed.

        Raises
        ------
        PovsimError
            When the folder holds another sweep's store, or ``resume`` is
            asked for and there is no store.
        """
        info = describe(sweep, x)
        axes = {"scenario": len(sweep.scenarios), "point": len(x), "seed": len(sweep.seeds)}
        return cls.resumed(folder, info, axes, resume, x=x)

    @classmethod
    def same_work(cls, stored: dict, info: dict) -> bool:
        return (stored.get("fingerprint") == info["fingerprint"]
                and stored.get("x_digest") == info["x_digest"])

    # ------------------------------------------------------------ tasks

    def todo(self) -> list[Task]:
        """The tasks not done (never run, failed, or cut short), in order."""
        return [Task(*k) for k in self.todo_indices()]

    def write(self, task: Task, outcomes: np.ndarray, series: dict[str, np.ndarray]) -> None:
        """Write one finished task's slice; its status last."""
        k, i, j = task.scenario, task.point, task.seed
        self._outcomes[k, i, j, :] = np.asarray(outcomes, dtype="f8")
        for name, array in self._series.items():
            array[k, i, j, :] = np.asarray(series[name], dtype="f8")
        self.mark_done((k, i, j))

    def fail(self, task: Task, error: str, point: list[float]) -> None:
        """Record a task that raised: its error and point."""
        self.mark_failed((task.scenario, task.point, task.seed), {
            "scenario": self.info["scenarios"][task.scenario], "point": task.point,
            "seed": self.info["seeds"][task.seed],
            "values": dict(zip(self.info["factors"], map(float, point))), "error": error})

    def x(self) -> np.ndarray:
        return np.asarray(self.group["x"][...])

    # ------------------------------------------------------------ reading

    def dataset(self) -> xr.Dataset:
        """The whole store as one dataset (for the analysis)."""
        info = self.info
        coords = {"scenario": info["scenarios"], "factor": info["factors"],
                  "seed": info["seeds"], "outcome": info["outcomes"], "year": info["years"]}
        data = {"x": (("point", "factor"), self.x()),
                "outcomes": (("scenario", "point", "seed", "outcome"),
                             np.asarray(self._outcomes[...])),
                "status": (("scenario", "point", "seed"), self.status())}
        for name, array in self._series.items():
            data[f"series_{name}"] = (("scenario", "point", "seed", "year"),
                                      np.asarray(array[...]),
                                      {"units": SERIES[name][0], "long_name": SERIES[name][1]})
        ds = xr.Dataset(data, coords=coords)
        ds["outcome_units"] = ("outcome", info["outcome_units"])
        ds.attrs = {"sweep": json.dumps(info, ensure_ascii=False)}
        return ds
