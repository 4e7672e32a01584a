"""The simulation state: per-household arrays that change year by year.

The registry (:class:`model.registry.tables.Registry`) holds what a household *is*;
the state holds what happens to it: income components of the current year,
the persistent shock, guarantees, status and programme enrolments. All arrays
are struct of arrays with compact dtypes, allocated once per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.engine.bookkeeping import merge_sorted, per_student_all, per_student_at
from model.engine.codes import (
    HOUSING,
    INCOME_BATCHES,
    MEDICAL,
    NOT_REGISTERED,
    POOR,
    RETURNED,
    SCHOOLING,
    WATER,
)
from model.registry.tables import DIBAO, STUDENT_STAGES, WUBAO, Registry

# the pathways (五个一批) whose programmes pay income, one row each of
# ``State.batch_income``; the safety net's income is the kernel's top-up


@dataclass
class State:
    """Per-household arrays of one run (all incomes yuan/person/year, float32).

    Attributes
    ----------
    z : persistent log shock of market income.
    market_base : base-year market income, changed by programmes that change
        earning capacity for good (relocation, a vocational graduate).
    topup, income : outputs of the income kernel (the year's market income
        and medical cost, which nothing reads, are not kept).
    batch_income : programme income by pathway, shape (len(INCOME_BATCHES), n).
    batch_written : which rows of ``batch_income`` had income added this
        year (bool, one per pathway): the others are zero, or stale.
    batch_stale : which rows of ``batch_income`` still hold an earlier
        year's income (bool, one per pathway), to be taken as zeros: the
        year's first step adding to such a row writes every household's
        value (or zeroes the row first), instead of the year zeroing it.
    programme_income : sum of ``batch_income`` over pathways.
    transfer_income : basic pension.
    floor : safety-net standard the household is topped up to (0 if not covered).
    floor_stale : ``floor`` still holds last year's floors, to be taken as
        zeros: the year's floor step writes every household's (a
        :class:`model.engine.one_pass.Floor`, the only writer of ``floor``
        in a year, or zeroes it first), instead of the year zeroing it.
    schooling_cost : rigid schooling cost.
    medical_cover : 1 for a household in the medical programme this year.
    guarantees : guarantee bits in force (:mod:`model.engine.rules`).
    reached : the pathways whose household programmes are active for the
        household this year (bit ``b``: ``BATCHES[b]``), set by the
        programmes' steps (uint8).
    status : POOR / EXITED / RETURNED / NOT_REGISTERED; event : this year's event.
    exit_year : year of the latest exit (0 if none).
    enrolled : programme name -> year of enrolment (int16; 0 never enrolled;
        minus the year when the programme stopped for the household); the
        rows of one table, as are ``village_enrolled``'s.
    ever_started : programme name -> indices (int64, ascending) of the
        households whose enrolment has taken effect (``0 < enrolled <=
        year`` at some time; a delivery backlog's has not yet), kept by
        :meth:`add_started`, or None once they are over the programme's
        share of the households (an eighth, or a thirty-second for a step
        in one pass): a programme's yearly step reads only them (no other
        enrolment can be active).
    candidates : programme name -> ``(year, uniform, indices)``: the
        households that were candidates for enrolment in ``year`` and not all
        taken (int64, ascending), kept by
        :meth:`model.programmes.base.Programme.enrol` when what it matches
        cannot change and they are few; next year's candidates are among
        them and the households that came onto the registry since.
    village_* : per-village collective income (yuan/year), infrastructure flag,
        exit year (0 if not exited) and enrolment of village programmes.
    county_exit_year : per county (0 if not exited).
    """

    z: np.ndarray
    market_base: np.ndarray
    topup: np.ndarray
    income: np.ndarray
    batch_income: np.ndarray
    batch_written: np.ndarray
    batch_stale: np.ndarray
    programme_income: np.ndarray
    transfer_income: np.ndarray
    floor: np.ndarray
    schooling_cost: np.ndarray
    medical_cover: np.ndarray
    guarantees: np.ndarray
    reached: np.ndarray
    status: np.ndarray
    event: np.ndarray
    exit_year: np.ndarray
    enrolled: dict[str, np.ndarray] = field(default_factory=dict)
    ever_started: dict[str, np.ndarray | None] = field(default_factory=dict)
    candidates: dict[str, tuple[int, bool, np.ndarray] | None] = field(default_factory=dict)
    village_collective: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    village_infrastructure: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    village_exit_year: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    village_enrolled: dict[str, np.ndarray] = field(default_factory=dict)
    county_exit_year: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    floor_stale: bool = False

    @classmethod
    def initial(cls, registry: Registry, programme_names: list[str],
                village_programme_names: list[str] = ()) -> State:
        """State at the end of the base year: registered households poor, the
        near-poor pool not registered, guarantees as the registry says."""
        h, v = registry.households, registry.villages
        n = registry.n_households

        def f32():
            return np.zeros(n, np.float32)

        # in uint8 throughout: np.where with Python ints made int64 arrays
        # of registry size, ten times the time
        u8 = np.uint8
        guarantees = ((h["housing_safe"] == 1) * u8(HOUSING) | (h["water_safe"] == 1) * u8(WATER)
                      | (h["dropouts"] == 0) * u8(SCHOOLING) | (h["insured"] == 1) * u8(MEDICAL))
        nv = len(v["village_id"])
        return cls(z=f32(), market_base=h["market_income"].copy(), topup=f32(),
                   income=h["market_income"].copy(),
                   # written now, not when a pathway first has income: the
                   # memory is faulted in here, once, not in a later year
                   batch_income=np.full((len(INCOME_BATCHES), n), 0.0, np.float32),
                   batch_written=np.zeros(len(INCOME_BATCHES), bool),
                   batch_stale=np.zeros(len(INCOME_BATCHES), bool),
                   programme_income=f32(), transfer_income=f32(), floor=f32(),
                   schooling_cost=f32(), medical_cover=np.zeros(n, np.uint8),
                   guarantees=guarantees, reached=np.zeros(n, np.uint8),
                   status=np.where(h["registered"] == 1, np.int8(POOR), np.int8(NOT_REGISTERED)),
                   event=np.zeros(n, np.uint8), exit_year=np.zeros(n, np.int16),
                   enrolled=_rows_of(np.zeros((len(programme_names), n), np.int16),
                                     programme_names),
                   ever_started={name: np.zeros(0, np.int64) for name in programme_names},
                   village_collective=v["collective_income"].copy(),
                   village_infrastructure=v["infrastructure_ok"].copy(),
                   village_exit_year=np.zeros(nv, np.int16),
                   village_enrolled=_rows_of(
                       np.zeros((len(village_programme_names), nv), np.int16),
                       village_programme_names),
                   county_exit_year=np.zeros(registry.n_counties, np.int16))

    def add_started(self, name: str, units: np.ndarray, share: float) -> None:
        """Add the households whose enrolment in programme ``name`` takes
        effect this year (ascending; an enrolment takes effect once) to
        :attr:`ever_started`, or drop the list once it holds ``share`` of
        the households or more (the programme's
        :meth:`~model.programmes.base.Programme.list_share`): a pass over
        the registry is then about as fast as the list, which would only
        grow."""
        ever = self.ever_started[name]
        if len(units) and ever is not None:
            self.ever_started[name] = (merge_sorted(ever, units)
                                       if len(ever) + len(units) < share * len(self.status)
                                       else None)

    def registered(self) -> np.ndarray:
        """Mask of households on the registry (poor or returned)."""
        return (self.status == POOR) | (self.status == RETURNED)

    def nbytes(self) -> int:
        """Memory held by the state's arrays (bytes)."""
        arrays = [v for v in vars(self).values() if isinstance(v, np.ndarray)]
        arrays += (list(self.enrolled.values()) + list(self.village_enrolled.values())
                   + [a for a in self.ever_started.values() if a is not None]
                   + [kept[2] for kept in self.candidates.values() if kept is not None])
        return sum(a.nbytes for a in arrays)


def _rows_of(table: np.ndarray, names) -> dict[str, np.ndarray]:
    """The rows of ``table``, one per name: the programmes' enrolment arrays
    are rows of one table."""
    return {name: table[j] for j, name in enumerate(names)}


def per_student(registry: Registry, amounts, index: np.ndarray | None = None) -> np.ndarray:
    """Per-capita sum of ``amounts`` (one per stage, yuan/student/year) over a
    household's students: float32 yuan/person/year, for all households or for
    the households at ``index`` (one pass on threads: :func:`per_student_all`,
    :func:`per_student_at`)."""
    h = registry.households
    stages = [h[stage] for stage in STUDENT_STAGES]
    amounts = np.asarray(amounts, np.float64).astype(np.float32)
    if index is None:
        out = np.empty(len(h["size"]), np.float32)
        per_student_all(*stages, h["size"], amounts, out)
    else:
        out = np.empty(len(index), np.float32)
        per_student_at(index, *stages, h["size"], amounts, out)
    return out


def per_student_numpy(registry: Registry, amounts, index: np.ndarray | None = None) -> np.ndarray:
    """Reference of :func:`per_student` (the numpy passes it replaces)."""
    h = registry.households
    pick = (lambda a: a) if index is None else (lambda a: a[index])
    total = np.zeros(len(pick(h["size"])), np.float32)
    for stage, amount in zip(STUDENT_STAGES, amounts):
        if amount:
            total += pick(h[stage]) * np.float32(amount)
    return total / pick(h["size"])


def covered_by_category(registry: Registry) -> np.ndarray:
    """Households already in dibao or wubao at registration."""
    category = registry.households["category"]
    return (category == DIBAO) | (category == WUBAO)  # np.isin took 5 times as long
