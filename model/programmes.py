"""Programmes: who gets assistance, what it does and what it costs.

A programme is one small class. The engine (:mod:`model.sim`) knows nothing
about any particular programme; each year it

1. asks every programme for its eligible households, its targeting order and
   its capacity, and enrols up to capacity among registered households not yet
   enrolled (:func:`enrol`);
2. asks every programme to apply its effect to its active households
   (:meth:`Programme.apply`): income, a safety-net floor or a guarantee;
3. after the income update, asks for the cost (:meth:`Programme.cost`).

Enrolment is kept as the year of enrolment per household; a programme is
active for ``duration`` years from then, whether or not the household has
exited meanwhile (脱贫不脱政策). Parameters are looked up as
``"<programme name>.<parameter>"`` in ``model/parameters.toml``.

To add a programme: write a subclass here, declare its parameters, and list it
in :data:`PROGRAMMES`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from model.params import Parameters
from model.population import GENERAL, Registry
from model.rules import EXITED, HOUSING
from model.random import Stream, hash_id_np, year_key
from model.state import State, per_student

BATCHES = ("production", "relocation", "ecological", "education", "safety_net", "guarantee")


class YearParams:
    """Parameters in force in one year: ``p("asset_income.dividend")``."""

    def __init__(self, params: Parameters, year: int):
        self.params, self.year = params, year

    def __call__(self, name: str):
        value = self.params.at(name, self.year)
        return float(value) if value.ndim == 0 else value


class Programme:
    """Base class. Subclasses set the class attributes and override
    :meth:`eligible`, :meth:`apply` and :meth:`cost`; the rest has defaults."""

    name: ClassVar[str]
    batch: ClassVar[str]
    description: ClassVar[str]
    stream: ClassVar[int] = 0  # distinguishes programmes' random tie-breaks

    def eligible(self, reg: Registry, st: State, p: YearParams) -> np.ndarray:
        """Boolean mask of households that may be enrolled this year."""
        raise NotImplementedError

    def priority(self, reg: Registry, st: State, p: YearParams) -> np.ndarray:
        """Targeting order, lowest first. Default: poorest (last year's income) first."""
        return st.income

    def capacity(self, p: YearParams) -> float:
        """New households that can be enrolled this year."""
        return p(f"{self.name}.capacity")

    def duration(self, p: YearParams) -> float:
        """Years the programme stays active after enrolment."""
        return np.inf

    def active(self, st: State, p: YearParams) -> np.ndarray:
        """Indices of the households the programme reaches this year."""
        start = st.enrolled[self.name]
        d = self.duration(p)
        if np.isfinite(d):
            return np.flatnonzero((start > 0) & (start > p.year - d))
        return np.flatnonzero(start > 0)

    def apply(self, reg: Registry, st: State, p: YearParams, active: np.ndarray) -> None:
        """Add the effect for the ``active`` households (indices) to the state."""
        raise NotImplementedError

    def cost(self, reg: Registry, st: State, p: YearParams, new: np.ndarray,
             active: np.ndarray) -> tuple:
        """Cost this year in yuan: ``(one_off, recurring)``, where ``one_off`` is
        per newly enrolled household (indices ``new``) and ``recurring`` per
        active household (indices ``active``); each is a number or an array
        aligned with its indices."""
        raise NotImplementedError


def enrol(programme: Programme, reg: Registry, st: State, p: YearParams, seed: int) -> np.ndarray:
    """Enrol up to capacity; return the indices of the new enrolments.

    Candidates are eligible registered (not exited) households not yet
    enrolled. When capacity is short, the lowest :meth:`Programme.priority`
    goes first; ties are broken by a counter-based random key, so the choice is
    reproducible and does not depend on household order.
    """
    cap = programme.capacity(p)
    if cap < 1:
        return np.zeros(0, np.int64)
    start = st.enrolled[programme.name]
    candidates = np.flatnonzero(programme.eligible(reg, st, p) & (start == 0)
                                & (st.status != EXITED))
    if cap < len(candidates):
        key = year_key(seed, Stream.TARGETING + 16 * programme.stream, p.year)
        tie = hash_id_np(key, reg.households["hh_id"][candidates])
        candidates = candidates[first_k(programme.priority(reg, st, p)[candidates], tie,
                                        int(cap))]
    start[candidates] = p.year
    return candidates


def first_k(priority: np.ndarray, tie: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest ``(priority, tie)`` pairs, in O(n).

    Everything strictly below the k-th smallest priority is taken; the rest
    of the places go to the households at that priority with the smallest
    tie-break keys.
    """
    kth = np.partition(priority, k - 1)[k - 1]
    below = np.flatnonzero(priority < kth)
    at = np.flatnonzero(priority == kth)
    need = k - len(below)
    if need < len(at):
        at = at[np.argsort(tie[at], kind="stable")[:need]]
    return np.sort(np.concatenate([below, at]))


class SafetyNet(Programme):
    """低保 / 五保 兜底: households without labour, and those already in dibao or
    wubao, are topped up to the dibao standard, which rises to meet the
    poverty line (两线合一)."""

    name, batch, stream = "safety_net", "safety_net", 1
    description = "dibao / wubao top-up to the dibao standard"

    def eligible(self, reg, st, p):
        h = reg.households
        return (h["labourers"] == 0) | (h["category"] != GENERAL)

    def apply(self, reg, st, p, active):
        st.floor[active] = np.float32(dibao_standard(p))

    def cost(self, reg, st, p, new, active):
        return 0.0, st.topup[active] * reg.households["size"][active].astype(np.float64)


def dibao_standard(p: YearParams) -> float:
    """The year's dibao standard (yuan/person/year)."""
    return p("dibao_standard_ratio") * p("poverty_line")


class AssetIncome(Programme):
    """资产收益: funds invested per member of a labour household pay a yearly
    dividend per person (seed 004 §二(一)1)."""

    name, batch, stream = "asset_income", "production", 2
    description = "dividends from pooled investment"

    def eligible(self, reg, st, p):
        return reg.households["labourers"] > 0

    def duration(self, p):
        return p("asset_income.duration")

    def apply(self, reg, st, p, active):
        st.programme_income[active] += np.float32(p("asset_income.dividend"))

    def cost(self, reg, st, p, new, active):
        return p("asset_income.investment") * reg.households["size"][new].astype(np.float64), 0.0


class Photovoltaic(Programme):
    """光伏: a 3 kW household station yielding about 3,000 yuan a year for
    20 years (seed 004 §二(一)9)."""

    name, batch, stream = "photovoltaic", "production", 3
    description = "household photovoltaic station"

    def eligible(self, reg, st, p):
        return reg.households["labourers"] > 0

    def duration(self, p):
        return p("photovoltaic.life")

    def apply(self, reg, st, p, active):
        st.programme_income[active] += (np.float32(p("photovoltaic.income"))
                                        / reg.households["size"][active])

    def cost(self, reg, st, p, new, active):
        return p("photovoltaic.cost"), 0.0


class TransferEmployment(Programme):
    """转移就业: training and placement of one labourer; the household gains a
    share of the migrant wage; employers get a yearly bonus (seed 004 §二(一)3)."""

    name, batch, stream = "transfer_employment", "production", 4
    description = "training and job placement of one labourer"

    def eligible(self, reg, st, p):
        return reg.households["labourers"] > 0

    def apply(self, reg, st, p, active):
        gain = p("transfer_employment.wage") * p("transfer_employment.net_share")
        st.programme_income[active] += np.float32(gain) / reg.households["size"][active]

    def cost(self, reg, st, p, new, active):
        return p("transfer_employment.training_cost"), p("transfer_employment.employer_bonus")


class Education(Programme):
    """教育扶贫: a yearly grant per registered student by stage (seed 004 §二(一)4)."""

    name, batch, stream = "education", "education", 5
    description = "grants per student by stage"

    def eligible(self, reg, st, p):
        h = reg.households
        return (h["students_preschool"] + h["students_compulsory"] + h["students_upper"]
                + h["students_university"]) > 0

    def capacity(self, p):
        return np.inf

    def apply(self, reg, st, p, active):
        st.transfer_income[active] += per_student(reg, p("education.grant"), active)

    def cost(self, reg, st, p, new, active):
        size = reg.households["size"][active].astype(np.float64)
        return 0.0, per_student(reg, p("education.grant"), active) * size


class Housing(Programme):
    """危房改造: unsafe houses are rebuilt or repaired; the house is safe from
    the year of enrolment (seed 004 §二(一)5)."""

    name, batch, stream = "housing", "guarantee", 6
    description = "rebuilding or repairing unsafe houses"

    def eligible(self, reg, st, p):
        return (st.guarantees & HOUSING) == 0

    def apply(self, reg, st, p, active):
        st.guarantees[active] |= np.uint8(HOUSING)

    def cost(self, reg, st, p, new, active):
        new_cost, repair_cost = p("housing.cost")
        share = p("housing.share_new")
        return share * new_cost + (1.0 - share) * repair_cost, 0.0


PROGRAMMES: tuple[type[Programme], ...] = (SafetyNet, AssetIncome, Photovoltaic,
                                           TransferEmployment, Education, Housing)
