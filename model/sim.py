"""The yearly loop: one run is a function of (registry, parameters, seed).

Step order of a year ``t`` (the only place it is written down):

1. **Delivery.** Assistance enrolled in year ``t`` takes effect for the whole
   year. (The in-year delivery model of DESIGN 3.5, which scales the first
   year by the fraction in effect and carries backlogs, is not built yet.)
2. **Programme enrolment.** Each programme, in the order listed, enrols up to
   its capacity among eligible registered households not yet enrolled, in its
   targeting order (last year's income, poorest first).
3. **Income components.** Programme incomes, transfers (basic pension,
   grants), the safety-net floor, schooling cost and the out-of-pocket share of
   medical cost are set from the parameters of year ``t`` and the programmes
   active in ``t``.
4. **Income update.** The fused kernel (:func:`model.kernels.income_update`)
   draws the household and county shocks and illness events of year ``t`` and
   computes market income, medical cost, safety-net top-up and total
   per-capita income.
5. **Verification: household exit and return** (:func:`model.rules.verify`).
6. **Village exit and county exit.** Incidence by county is recorded; the exit
   rules for villages and counties come with the programme library.
7. **Record.** Counts and sums by county and category, and coverage and cost
   by county and programme (:mod:`model.tally`).

Year ``t`` means calendar year ``t``; the state is recorded at the end of the
year, after verification. The registry describes the end of its base year,
which is recorded first (everyone registered poor, base-year income); the run
then covers ``base_year + 1`` to ``end_year``, both inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.kernels import income_update
from model.params import Parameters
from model.population import CATEGORIES, Registry
from model.programmes import PROGRAMMES, Programme, YearParams, dibao_standard, enrol
from model.random import Stream, hash_id_np, normal_pair_np, year_key
from model.rules import ALL_GUARANTEES, verify
from model.state import State, covered_by_category, per_student
from model.tally import NBINS, NV, count_at, tally


@dataclass
class Record:
    """What a run keeps: aggregates only, never household rows.

    Shapes: ``sums`` (years, counties, categories, NV); ``hist`` (years,
    counties, categories, NBINS); ``programme`` (years, counties, programmes,
    3) with new enrolments, active households and cost (yuan); ``lines``
    (years, 2) with the poverty line and the covered households' line.
    """

    years: np.ndarray
    sums: np.ndarray
    hist: np.ndarray
    programme: np.ndarray
    lines: np.ndarray


def lines_for(p: YearParams) -> tuple[float, float]:
    """(poverty line, line for households covered by the safety net)."""
    line = p("poverty_line")
    covered = min(line, dibao_standard(p)) if p("safety_net_exit_at_dibao") else line
    return line, covered


class Simulation:
    """Advance a registry year by year under a set of programmes.

    Parameters
    ----------
    registry : Registry
        The population at the end of ``registry.base_year``.
    params : Parameters
        Parameters with every overlay already applied.
    seed : int
        Seed of the counter-based random numbers.
    end_year : int
        Last simulated year (inclusive).
    programmes : list of Programme, optional
        Default: one instance of each class in :data:`model.programmes.PROGRAMMES`.
    chunk_size : int, optional
        Run the household kernels on slices of this many households (results
        do not depend on it; it bounds the working set).
    """

    def __init__(self, registry: Registry, params: Parameters, seed: int, end_year: int,
                 programmes: list[Programme] | None = None, chunk_size: int | None = None):
        self.reg, self.params, self.seed = registry, params, int(seed)
        self.base_year, self.end_year = registry.base_year, int(end_year)
        if self.end_year <= self.base_year:
            raise ValueError(f"end_year {end_year} must be after the registry's base year "
                             f"{self.base_year}")
        self.programmes = programmes if programmes is not None else [c() for c in PROGRAMMES]
        self.chunk_size = chunk_size or max(1, registry.n_households)
        self.state = State.initial(registry, [prog.name for prog in self.programmes])
        h = registry.households
        self.group = (h["county"].astype(np.int32) * len(CATEGORIES) + h["category"])
        self.n_groups = registry.n_counties * len(CATEGORIES)
        self._schooling_key = None
        years = np.arange(self.base_year, self.end_year + 1)
        nc, ncat = registry.n_counties, len(CATEGORIES)
        self.record = Record(years, np.zeros((len(years), nc, ncat, NV)),
                             np.zeros((len(years), nc, ncat, NBINS), np.int64),
                             np.zeros((len(years), nc, len(self.programmes), 3)),
                             np.zeros((len(years), 2)))
        self._growth_index = 1.0

    def run(self, progress=None) -> Record:
        """Record the base year, then step every year to ``end_year``."""
        self._record_base_year()
        for year in range(self.base_year + 1, self.end_year + 1):
            self.step(year)
            if progress is not None:
                progress.update(1)
        return self.record

    def _record_base_year(self) -> None:
        p = YearParams(self.params, self.base_year)
        st, h = self.state, self.reg.households
        st.transfer_income[:] = p("pension_basic") * h["elderly"] / h["size"]
        covered = covered_by_category(self.reg)
        st.floor[covered] = np.float32(dibao_standard(p))
        st.income[:] = np.maximum(st.market + st.transfer_income, st.floor)
        self._tally(p, 0)

    def step(self, year: int) -> None:
        """Advance one year; see the module docstring for the step order."""
        p = YearParams(self.params, year)
        k = year - self.base_year
        # 1. delivery: enrolments take effect from 1 January (see module docstring)
        # 2. programme enrolment
        new = [enrol(prog, self.reg, self.state, p, self.seed) for prog in self.programmes]
        # 3. income components
        active = self._components(p)
        # 4. income update
        self._income(p, year)
        # 5. verification: household exit and return
        self._verify(p, year)
        # 6. village and county exit: incidence is recorded in step 7
        # 7. record
        self._tally(p, k)
        self._record_programmes(p, k, new, active)

    def _components(self, p: YearParams) -> list[np.ndarray]:
        st, h = self.state, self.reg.households
        st.programme_income[:] = 0.0
        st.transfer_income[:] = p("pension_basic") * h["elderly"] / h["size"]
        st.floor[:] = 0.0
        st.oop_share[:] = 1.0 - p("medical_reimbursement")
        cost = tuple(p("schooling_cost"))
        if cost != self._schooling_key:
            st.schooling_cost[:] = per_student(self.reg, cost)
            self._schooling_key = cost
        active = []
        for prog in self.programmes:
            mask = prog.active(st, p)
            prog.apply(self.reg, st, p, mask)
            active.append(mask)
        return active

    def _county_factor(self, p: YearParams, year: int) -> np.ndarray:
        """Growth index since the base year times this year's county shock."""
        self._growth_index *= 1.0 + p("market_income_growth")
        sigma = p("income_sigma_county")
        key = year_key(self.seed, Stream.COUNTY, year)
        shock, _ = normal_pair_np(hash_id_np(key, np.arange(self.reg.n_counties)))
        return (self._growth_index * np.exp(sigma * shock - 0.5 * sigma**2)).astype(np.float32)

    def _income(self, p: YearParams, year: int) -> None:
        st, h = self.state, self.reg.households
        rho = p("income_persistence")
        sp, stt = p("income_sigma_persistent"), p("income_sigma_transitory")
        county_factor = self._county_factor(p, year)
        scalars = (year_key(self.seed, Stream.INCOME, year),
                   year_key(self.seed, Stream.ILLNESS, year),
                   np.float32(rho), np.float32(sp * np.sqrt(1.0 - rho**2)), np.float32(stt),
                   np.float32(-0.5 * (sp**2 + stt**2)), np.float32(p("illness_base_rate")),
                   np.float32(p("illness_rate_per_ill")), np.float32(p("illness_cost_mean")))
        for s in self._chunks():
            income_update(h["hh_id"][s], h["county"][s], h["size"][s], h["ill"][s],
                          h["market_income"][s], county_factor, st.programme_income[s],
                          st.transfer_income[s], st.floor[s], st.schooling_cost[s],
                          st.oop_share[s], *scalars, st.z[s], st.market[s], st.medical[s],
                          st.topup[s], st.income[s])

    def _verify(self, p: YearParams, year: int) -> None:
        st, h = self.state, self.reg.households
        line, covered = lines_for(p)
        required = ALL_GUARANTEES if p("require_guarantees") else 0
        key = year_key(self.seed, Stream.VERIFICATION, year)
        for s in self._chunks():
            verify(h["hh_id"][s], st.income[s], st.floor[s], st.guarantees[s], key,
                   np.float32(line), np.float32(covered), np.float32(p("verification_sigma")),
                   np.uint8(required), np.float32(p("return_threshold")), np.int16(year),
                   st.status[s], st.event[s], st.exit_year[s])

    def _chunks(self):
        n = self.reg.n_households
        for start in range(0, n, self.chunk_size):
            yield slice(start, min(n, start + self.chunk_size))

    def _tally(self, p: YearParams, k: int) -> None:
        st, h = self.state, self.reg.households
        line, covered = lines_for(p)
        out = np.zeros((self.n_groups, NV))
        hist = np.zeros((self.n_groups, NBINS), np.int64)
        tally(self.group, h["size"], st.income, st.floor, st.status, st.event, np.float32(line),
              np.float32(covered), self.n_groups, out, hist)
        shape = (self.reg.n_counties, len(CATEGORIES))
        self.record.sums[k] = out.reshape(shape + (NV,))
        self.record.hist[k] = hist.reshape(shape + (NBINS,))
        self.record.lines[k] = (line, covered)

    def _record_programmes(self, p: YearParams, k: int, new: list[np.ndarray],
                           active: list[np.ndarray]) -> None:
        county = self.reg.households["county"]
        nc = self.reg.n_counties
        out = self.record.programme[k]
        for j, prog in enumerate(self.programmes):
            one_off, recurring = prog.cost(self.reg, self.state, p, new[j], active[j])
            for col, idx, unit in ((0, new[j], one_off), (1, active[j], recurring)):
                counts, cost = np.zeros(nc), np.zeros(nc)
                count_at(county, idx, np.atleast_1d(np.asarray(unit, np.float64)), counts, cost)
                out[:, j, col] = counts
                out[:, j, 2] += cost
