"""The simulation state: per-household arrays that change year by year.

The registry (:class:`model.population.Registry`) holds what a household *is*;
the state holds what happens to it: income components of the current year,
the persistent shock, guarantees, status and programme enrolments. All arrays
are struct of arrays with compact dtypes, allocated once per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.population import DIBAO, STUDENT_STAGES, WUBAO, Registry
from model.rules import HOUSING, MEDICAL, POOR, SCHOOLING, WATER


@dataclass
class State:
    """Per-household arrays of one run (all incomes yuan/person/year, float32).

    Attributes
    ----------
    z : persistent log shock of market income.
    market, medical, topup, income : outputs of the income kernel.
    programme_income : income from production programmes this year.
    transfer_income : pensions and grants this year.
    floor : safety-net standard the household is topped up to (0 if not covered).
    schooling_cost : rigid schooling cost.
    oop_share : share of an illness event's cost paid out of pocket (1).
    guarantees : guarantee bits in force (:mod:`model.rules`).
    status : POOR / EXITED / RETURNED; event : this year's EXIT / RETURN.
    exit_year : year of the latest exit (0 if none).
    enrolled : programme name -> year of enrolment (int16, 0 if never).
    """

    z: np.ndarray
    market: np.ndarray
    medical: np.ndarray
    topup: np.ndarray
    income: np.ndarray
    programme_income: np.ndarray
    transfer_income: np.ndarray
    floor: np.ndarray
    schooling_cost: np.ndarray
    oop_share: np.ndarray
    guarantees: np.ndarray
    status: np.ndarray
    event: np.ndarray
    exit_year: np.ndarray
    enrolled: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def initial(cls, registry: Registry, programme_names: list[str]) -> State:
        """State at the end of the base year: everyone registered poor."""
        h = registry.households
        n = registry.n_households

        def f32():
            return np.zeros(n, np.float32)

        guarantees = (np.where(h["housing_safe"] == 1, HOUSING, 0)
                      | np.where(h["water_safe"] == 1, WATER, 0)
                      | SCHOOLING | MEDICAL).astype(np.uint8)
        return cls(z=f32(), market=h["market_income"].copy(), medical=f32(), topup=f32(),
                   income=h["market_income"].copy(), programme_income=f32(),
                   transfer_income=f32(), floor=f32(), schooling_cost=f32(),
                   oop_share=np.ones(n, np.float32), guarantees=guarantees,
                   status=np.full(n, POOR, np.int8), event=np.zeros(n, np.uint8),
                   exit_year=np.zeros(n, np.int16),
                   enrolled={name: np.zeros(n, np.int16) for name in programme_names})

    def nbytes(self) -> int:
        arrays = [v for v in vars(self).values() if isinstance(v, np.ndarray)]
        return sum(a.nbytes for a in arrays) + sum(a.nbytes for a in self.enrolled.values())


def per_student(registry: Registry, amounts, index: np.ndarray | None = None) -> np.ndarray:
    """Per-capita sum of ``amounts`` (one per stage, yuan/student/year) over a
    household's students: float32 yuan/person/year, for all households or for
    the households at ``index``."""
    h = registry.households
    pick = (lambda a: a) if index is None else (lambda a: a[index])
    total = np.zeros(len(pick(h["size"])), np.float32)
    for stage, amount in zip(STUDENT_STAGES, amounts):
        if amount:
            total += pick(h[stage]) * np.float32(amount)
    return total / pick(h["size"])


def covered_by_category(registry: Registry) -> np.ndarray:
    """Households already in dibao or wubao at registration."""
    return np.isin(registry.households["category"], (DIBAO, WUBAO))
