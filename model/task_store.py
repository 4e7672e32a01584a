"""A task store: a Zarr folder that each finished task writes its slice into,
with a done mask, so that a run of many tasks resumes where it stopped.

``povsim sweep`` (:class:`model.sweep.store.SweepStore`, one task per
scenario, point and seed) and ``povsim compare``
(:class:`model.run_store.RunStore`, one task per scenario and seed) keep
their tasks in one. What they share is here:

``status`` (the task axes)
    0 not run, 1 done, 2 failed (the error is in the ``failures`` attribute).
An attribute named after the kind of store (:attr:`TaskStore.KIND`)
    Its description, with a ``fingerprint`` of everything that decides its
    numbers: a store is resumed only by the same work.

A task writes its data first and its status last, and Zarr writes each chunk
file whole (a temporary file renamed over the old one), so a process killed
at any moment leaves every chunk either old or new: a task whose data were
written but not its status is simply run again. The store itself is made
under a temporary name and renamed when complete, and a store given up for
another one is renamed away before it is removed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from model.errors import PovsimError

NOT_RUN, DONE, FAILED = 0, 1, 2
TASKS_PER_CHUNK = 256     # of the status mask
MAX_ERROR = 2000          # characters of an error message kept


@dataclass(frozen=True)
class Summary:
    """What a run of a store's tasks did: tasks run, failed, skipped as
    already done, and the wall time (s)."""

    ran: int
    failed: int
    skipped: int
    seconds: float

    @property
    def rate(self) -> float:
        """Tasks per second."""
        return self.ran / self.seconds if self.seconds > 0 else float("nan")


def block_of(n: int, inner: int) -> int:
    """Rows of an axis of length ``n`` in one chunk, when each row holds
    ``inner`` tasks: about :data:`TASKS_PER_CHUNK` tasks a chunk."""
    return max(1, min(n, TASKS_PER_CHUNK // max(1, inner)))


def task_key(index) -> str:
    """A task's key in the ``failures`` attribute, e.g. ``0-3-1``."""
    return "-".join(str(int(i)) for i in index)


class TaskStore:
    """The common part of a task store; subclasses name the folder
    (:attr:`FOLDER`), the description's attribute (:attr:`KIND`), what the
    store holds in messages (:attr:`WHAT`) and add their arrays (:meth:`_make`)."""

    FOLDER = "tasks.zarr"
    KIND = "tasks"
    WHAT = "task"        # in messages: "no <WHAT> store", "holds another <WHAT>"

    def __init__(self, path: Path, group):
        self.path = Path(path)
        self.group = group
        self.info = dict(group.attrs[self.KIND])
        self._status = group["status"]

    # ------------------------------------------------------------ opening

    @classmethod
    def _make(cls, group, info: dict, **data) -> None:
        """Add the store's own arrays to a new ``group`` (staged); ``data``
        are the keywords given to :meth:`create`."""

    @classmethod
    def same_work(cls, stored: dict, info: dict) -> bool:
        """Whether a store described by ``stored`` holds the work ``info``."""
        return stored.get("fingerprint") == info["fingerprint"]

    @classmethod
    def create(cls, folder: Path, info: dict, axes: dict[str, int], **data) -> Self:
        """Make a new store in ``folder`` for the tasks of ``axes`` (name ->
        length, in order), staged under a temporary name and renamed when
        complete."""
        import zarr

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        final, temp = folder / cls.FOLDER, folder / (cls.FOLDER + ".partial")
        if final.exists():
            raise PovsimError(f"{final}: a store is already there")
        shutil.rmtree(temp, ignore_errors=True)
        for given_up in folder.glob(cls.FOLDER + ".old-*"):     # a removal cut short
            shutil.rmtree(given_up, ignore_errors=True)
        shape = tuple(axes.values())
        if len(shape) == 1:
            chunks = (block_of(shape[0], 1),)
        else:
            inner = int(np.prod(shape[2:], dtype=np.int64))
            chunks = (1, block_of(shape[1], inner), *shape[2:])
        group = zarr.open_group(str(temp), mode="w")
        group.create_array("status", shape=shape, chunks=chunks, dtype="i1",
                           fill_value=NOT_RUN, dimension_names=tuple(axes))
        group.attrs.update({cls.KIND: info, "failures": {}})
        cls._make(group, info, **data)
        temp.rename(final)
        return cls.open(folder)

    @classmethod
    def open(cls, folder: Path) -> Self:
        """Open the store in ``folder`` (a PovsimError when there is none)."""
        import zarr

        path = Path(folder) / cls.FOLDER
        if not (path / "zarr.json").is_file():
            raise PovsimError(f"{folder}: no {cls.WHAT} store ({cls.FOLDER}) there")
        group = zarr.open_group(str(path), mode="r+")
        if cls.KIND not in group.attrs:
            raise PovsimError(f"{path}: not a povsim {cls.WHAT} store")
        return cls(path, group)

    @classmethod
    def exists(cls, folder: Path) -> bool:
        return (Path(folder) / cls.FOLDER / "zarr.json").is_file()

    @classmethod
    def resumed(cls, folder: Path, info: dict, axes: dict[str, int], resume: bool = False,
                replace: bool = False, **data) -> tuple[Self, bool]:
        """The store of the work described by ``info`` in ``folder``: the
        existing one when it holds the same work (its ``fingerprint``), a new
        one when there is none.

        Parameters
        ----------
        folder : Path
            The output folder.
        info : dict
            The description; ``info["fingerprint"]`` decides whether a store
            holds the same work.
        axes : dict
            The task axes (name -> length).
        resume : bool
            The store must be there (an error otherwise).
        replace : bool
            A store of other work is given up and a new one made (instead of
            an error); never with ``resume``.
        **data
            Passed to :meth:`create` for a new store.

        Returns
        -------
        (store, bool)
            The store and whether it existed.
        """
        if not cls.exists(folder):
            if resume:
                raise PovsimError(f"--resume: no {cls.WHAT} store in {folder} to resume")
            return cls.create(folder, info, axes, **data), False
        store = cls.open(folder)
        if cls.same_work(store.info, info):
            return store, True
        if replace and not resume:
            cls.discard(folder)
            return cls.create(folder, info, axes, **data), False
        raise PovsimError(f"{store.path}: holds another {cls.WHAT} ('{store.info.get('name')}' "
                          f"from {store.info.get('source')}); choose another --out")

    @classmethod
    def discard(cls, folder: Path) -> None:
        """Remove the store in ``folder``: renamed away first, so that a kill
        while it is removed never leaves a store that opens."""
        path = Path(folder) / cls.FOLDER
        gone = path.with_name(f"{cls.FOLDER}.old-{os.getpid()}")
        path.rename(gone)
        shutil.rmtree(gone)

    # ------------------------------------------------------------ tasks

    def status(self) -> np.ndarray:
        """Status of every task, shape of the task axes."""
        return np.asarray(self._status[...])

    def todo_indices(self) -> list[tuple[int, ...]]:
        """Indices of the tasks not done (never run, failed, or cut short), in order."""
        return [tuple(map(int, k)) for k in np.argwhere(self.status() != DONE)]

    def mark_done(self, index: tuple[int, ...]) -> None:
        """Mark a task done (after its data are written) and forget a failure."""
        self._status[index] = DONE
        key = task_key(index)
        if key in self.group.attrs.get("failures", {}):
            failures = dict(self.group.attrs["failures"])
            failures.pop(key)
            self.group.attrs["failures"] = failures

    def mark_failed(self, index: tuple[int, ...], record: dict) -> None:
        """Record a task that raised (``record`` holds its ``error`` and what
        the task was)."""
        failures = dict(self.group.attrs.get("failures", {}))
        record = dict(record)
        record["error"] = str(record.get("error", ""))[:MAX_ERROR]
        failures[task_key(index)] = record
        self.group.attrs["failures"] = failures
        self._status[index] = FAILED

    def failures(self) -> dict:
        return dict(self.group.attrs.get("failures", {}))
