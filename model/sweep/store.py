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
fingerprint). A task writes its outcomes and series first and its status
last, and Zarr writes each chunk file whole (a temporary file renamed over
the old one), so a process killed at any moment leaves every chunk either
old or new: a task whose data were written but not its status is simply run
again. The store itself is made under a temporary name and renamed when
complete.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from model import __version__
from model.errors import PovsimError
from model.sweep.spec import SERIES, Sweep

NOT_RUN, DONE, FAILED = 0, 1, 2
STORE = "sweep.zarr"
SERIES_FROM = 2010   # first year of the series axis (no registry starts earlier)
_TASKS_PER_CHUNK = 256
_MAX_ERROR = 2000    # characters of an error message kept


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


class SweepStore:
    """A sweep's Zarr store: open it with :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, group):
        self.path = Path(path)
        self.group = group
        self.info = dict(group.attrs["sweep"])
        self._outcomes = group["outcomes"]
        self._status = group["status"]
        self._series = {name: group[f"series_{name}"] for name in self.info["series"]}

    # ------------------------------------------------------------ opening

    @classmethod
    def create(cls, folder: Path, sweep: Sweep, x: np.ndarray) -> SweepStore:
        """Make a new store in ``folder`` (staged under a temporary name and
        renamed when complete)."""
        import zarr

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        final, temp = folder / STORE, folder / (STORE + ".partial")
        if final.exists():
            raise PovsimError(f"{final}: a store is already there")
        shutil.rmtree(temp, ignore_errors=True)
        info = describe(sweep, x)
        n_scen, n_points, n_seeds = len(sweep.scenarios), len(x), len(sweep.seeds)
        block = max(1, min(n_points, _TASKS_PER_CHUNK // max(1, n_seeds)))
        group = zarr.open_group(str(temp), mode="w")
        group.create_array("x", data=np.asarray(x, dtype="f8"), chunks=(max(1, len(x)),
                                                                        len(sweep.factors)),
                           dimension_names=("point", "factor"))
        group.create_array("outcomes", shape=(n_scen, n_points, n_seeds, len(sweep.outcomes)),
                           chunks=(1, block, n_seeds, len(sweep.outcomes)), dtype="f8",
                           fill_value=np.nan,
                           dimension_names=("scenario", "point", "seed", "outcome"))
        for name in sweep.series:
            group.create_array(f"series_{name}",
                               shape=(n_scen, n_points, n_seeds, len(info["years"])),
                               chunks=(1, block, n_seeds, len(info["years"])), dtype="f8",
                               fill_value=np.nan,
                               dimension_names=("scenario", "point", "seed", "year"))
        group.create_array("status", shape=(n_scen, n_points, n_seeds),
                           chunks=(1, block, n_seeds), dtype="i1", fill_value=NOT_RUN,
                           dimension_names=("scenario", "point", "seed"))
        group.attrs.update({"sweep": info, "failures": {}})
        temp.rename(final)
        return cls.open(folder)

    @classmethod
    def open(cls, folder: Path) -> SweepStore:
        """Open the store in ``folder`` (a PovsimError when there is none)."""
        import zarr

        path = Path(folder) / STORE
        if not (path / "zarr.json").is_file():
            raise PovsimError(f"{folder}: no sweep store ({STORE}) there")
        group = zarr.open_group(str(path), mode="r+")
        if "sweep" not in group.attrs:
            raise PovsimError(f"{path}: not a povsim sweep store")
        return cls(path, group)

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
        if not (Path(folder) / STORE / "zarr.json").is_file():
            if resume:
                raise PovsimError(f"--resume: no sweep store in {folder} to resume")
            return cls.create(folder, sweep, x), False
        store = cls.open(folder)
        if (store.info["fingerprint"] != sweep.fingerprint()
                or store.info["x_digest"] != _digest(x)):
            raise PovsimError(f"{store.path}: holds another sweep ('{store.info['name']}' from "
                              f"{store.info['source']}); choose another --out")
        return store, True

    # ------------------------------------------------------------ tasks

    def status(self) -> np.ndarray:
        """Status of every task, shape (scenario, point, seed)."""
        return np.asarray(self._status[...])

    def todo(self) -> list[Task]:
        """The tasks not done (never run, failed, or cut short), in order."""
        return [Task(*map(int, k)) for k in np.argwhere(self.status() != DONE)]

    def write(self, task: Task, outcomes: np.ndarray, series: dict[str, np.ndarray]) -> None:
        """Write one finished task's slice; its status last."""
        k, i, j = task.scenario, task.point, task.seed
        self._outcomes[k, i, j, :] = np.asarray(outcomes, dtype="f8")
        for name, array in self._series.items():
            array[k, i, j, :] = np.asarray(series[name], dtype="f8")
        self._status[k, i, j] = DONE
        if task.key in self.group.attrs.get("failures", {}):
            failures = dict(self.group.attrs["failures"])
            failures.pop(task.key)
            self.group.attrs["failures"] = failures

    def fail(self, task: Task, error: str, point: list[float]) -> None:
        """Record a task that raised: its error and point."""
        failures = dict(self.group.attrs.get("failures", {}))
        failures[task.key] = {"scenario": self.info["scenarios"][task.scenario],
                              "point": task.point, "seed": self.info["seeds"][task.seed],
                              "values": dict(zip(self.info["factors"], map(float, point))),
                              "error": error[:_MAX_ERROR]}
        self.group.attrs["failures"] = failures
        self._status[task.scenario, task.point, task.seed] = FAILED

    def failures(self) -> dict:
        return dict(self.group.attrs.get("failures", {}))

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
