"""The yearly loop: one run is a function of (registry, parameters, seed).

Step order of a year ``t`` (the only place it is written down):

1. **Programme enrolment.** Each programme, in the order listed, enrols up to
   its capacity among registered households (or villages) not yet enrolled,
   in its targeting order (:meth:`model.programmes.base.Programme.enrol`).
2. **Delivery** (:func:`model.engine.delivery.deliver`, when ``delivery.enabled``).
   For every county and programme that is not an entitlement, this year's
   enrolments plus last year's backlog go through funds, work teams,
   approval and building. Those in effect by 31 December start this year
   (in each county the backlog first, then new enrolments from a random
   point, village by village); their first-year
   income is scaled by the county's fraction of the year in effect. The rest
   start next year. Entitlements (safety net, medical cover) take effect at
   once.
3. **Income components.** Programme effects of year ``t`` for the active
   enrolments (incomes by pathway, safety-net floor, guarantees, medical
   cover, the pathways that reach each household), basic pension and
   schooling cost (:meth:`model.programmes.base.Programme.step`).
4. **Income update.** The fused kernel (:func:`model.engine.kernels.income_update`)
   draws the household and county shocks and illness events of year ``t`` and
   computes market income, medical cost, safety-net top-up and total
   per-capita income (keeping the last two).
5. **Verification** (:func:`model.engine.rules.verify`): household exit, return and,
   in registry-adjustment years, entry of the near-poor. Steps 4 and 5 run
   in one pass (:func:`model.engine.kernels.income_and_verify`, the same
   results).
6. **Village exit, then county exit** (:func:`model.engine.rules.village_exits`,
   :func:`model.engine.rules.county_exits`), from the year-end counts of the
   record's tally (registered people by village, county sums), taken first.
7. **Record.** Counts and sums by county and category, exits by pathway,
   coverage and cost by programme, village and county exits
   (:mod:`model.engine.tally`, :mod:`model.engine.attribution`).

Year ``t`` means calendar year ``t``; the state is recorded at the end of the
year, after verification. The registry describes the end of its base year,
which is recorded first (registered households poor; base-year income through
the income update of step 4 without growth or programmes, with the safety-net
floor of households already in dibao or wubao); the run then covers
``base_year + 1`` to ``end_year``, both inclusive.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from model.allocator import keep_freed_arrays, reserve_heap
from model.engine.attribution import attribute_exits
from model.engine.backlog import WAITING, Backlog
from model.engine.bookkeeping import EMPTY, merge_sorted, per_capita, set_at
from model.engine.codes import ALL_GUARANTEES, BATCHES
from model.engine.context import Context, YearParams
from model.engine.coverage import coverage_at, group_starts, repeated_sums, sums_exactly
from model.engine.delivery import Carry, deliver, settings_from_params
from model.engine.delivery_order import by_county, order_offsets, split_cyclic
from model.engine.events import exits_and_arrivals
from model.engine.initial_income import income_groups, split_base_year
from model.engine.kernels import income_and_verify, income_update
from model.engine.one_pass import Counted, PerMember
from model.engine.record import (
    DELIVERY_COLUMNS,
    LINE_COLUMNS,
    PROGRAMME_COLUMNS,
    RATE_COLUMNS,
    Record,
)
from model.engine.rows import sum_rows
from model.engine.rules import (
    county_dibao_standards,
    county_exits,
    lines_for,
    scheduled_year,
    village_exits,
)
from model.engine.state import State, covered_by_category, per_student
from model.engine.tally import (
    NBINS,
    chunk_groups,
    take_medians,
    tally,
    tally_scratch,
    tally_step,
)
from model.engine.tally_columns import COL, NV
from model.params import Parameters
from model.random import Stream, hash_id_np, normal_pair_np, year_key
from model.registry.tables import CATEGORIES, Registry

# heap a run needs at its peak, bytes a household: a little under the
# national scenario's at full scale (121, ``povsim bench``), so that a run
# of the default programmes never holds memory it would not have used
HEAP_PER_HOUSEHOLD = 116

# column indices of the record's arrays, by name
P = {name: k for k, name in enumerate(PROGRAMME_COLUMNS)}
D = {name: k for k, name in enumerate(DELIVERY_COLUMNS)}
R = {name: k for k, name in enumerate(RATE_COLUMNS)}
L = {name: k for k, name in enumerate(LINE_COLUMNS)}


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
    programmes : list of Programme
        The programmes, in engine order: instances of
        :class:`model.programmes.base.Programme` (the engine knows no
        particular programme; :func:`model.runs.run_seed` hands it the
        scenario's).
    chunk_size : int, optional
        Run the household kernels on slices of this many households (results
        do not depend on it; it bounds the working set).
    scale : float, optional
        Share of the population the registry holds (0..1, a reduced-scale
        run): capacities, budgets and the county approval capacity are
        multiplied by it.
    """

    def __init__(self, registry: Registry, params: Parameters, seed: int, end_year: int,
                 programmes: list, chunk_size: int | None = None,
                 scale: float = 1.0):
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"scale = {scale!r}: expected a share in (0, 1]")
        keep_freed_arrays()  # registry-size temporaries reuse freed memory
        # and the first run's heap is backed in bulk, not a page fault at a time
        reserve_heap(HEAP_PER_HOUSEHOLD * registry.n_households)
        self.reg, self.params, self.seed, self.scale = registry, params, int(seed), float(scale)
        self.base_year, self.end_year = registry.base_year, int(end_year)
        if self.end_year <= self.base_year:
            raise ValueError(f"end_year {end_year} must be after the registry's base year "
                             f"{self.base_year}")
        self.programmes = list(programmes)
        self.chunk_size = chunk_size or max(1, registry.n_households)
        names = [p.name for p in self.programmes if p.level == "household"]
        village_names = [p.name for p in self.programmes if p.level == "village"]
        self.state = State.initial(registry, names, village_names)
        if params.scalar("income_initial_shocks", self.base_year):
            h = registry.households
            split_base_year(h["market_income"], income_groups(h), h["hh_id"], self.seed,
                            self.base_year,
                            params.scalar("income_sigma_persistent", self.base_year),
                            params.scalar("income_sigma_transitory", self.base_year),
                            self.state.market_base, self.state.z)
        self.n_groups = registry.n_counties * len(CATEGORIES)
        self._schooling_key = None
        self._tally_chunks = self._tally_scratch = None
        # the tally's people-weighted income histogram by county and category:
        # the record keeps its medians, so one table serves every year, zero
        # between tallies (people per bin fit int32: the nation's 8.96e7 < 2**31)
        self._hist = np.zeros((self.n_groups, NBINS), np.int32)
        self._village_people = None  # registered people by village at the last tally
        # the households that came onto the registry at the last verification
        # (Context.newly_registered), listed by the record with its exits
        self._arrivals = None
        self._pension_key = None  # the pension state.transfer_income holds
        self._lasting = {}  # what programmes compute once a run (Context.lasting)
        self._growth_index = 1.0
        years = np.arange(self.base_year, self.end_year + 1)
        nc, ncat = registry.n_counties, len(CATEGORIES)
        self.record = Record.empty(years, nc, ncat, len(self.programmes),
                                   self.state.village_exit_year, self.state.county_exit_year)
        # in-year delivery: programmes it applies to, their backlog (taken
        # first) and what the delivery model carries between years
        self.delivered = [j for j, prog in enumerate(self.programmes) if not prog.entitlement]
        h, v = registry.households, registry.villages
        # where each county's households and villages start (the record's
        # coverage sums a county's run of a programme's list)
        self._county_starts = {"household": group_starts(h["county"], nc),
                               "village": group_starts(v["county"], nc)}
        self.backlog = {j: Backlog(self._county_of(j), nc,
                                   self._county_starts[self.programmes[j].level])
                        for j in self.delivered}
        # the backlog's count by county, carried with it
        self.backlog_counts = {j: np.zeros(nc, np.int64) for j in self.delivered}
        self._started_counts: list[np.ndarray] = []  # set by _deliver each year
        self.carry = Carry.empty(nc, len(self.delivered))
        self.delivery_seconds = 0.0
        with_poor = np.zeros(len(v["village_id"]), bool)
        with_poor[h["village"][h["registered"] == 1]] = True
        # villages with a work team, as many as the registry stands for
        self.team_villages = (np.bincount(v["county"][with_poor], minlength=nc)
                              * registry.village_share)

    def run(self, progress=None) -> Record:
        """Record the base year, then step every year to ``end_year``."""
        self._record_base_year()
        for year in range(self.base_year + 1, self.end_year + 1):
            self.step(year)
            if progress is not None:
                progress.update(1)
        return self.record

    def _record_need_and_capacity(self) -> None:
        """Base-year need of each programme granting a guarantee, and every
        year's capacity (for the capacity-versus-need check of a comparison)."""
        p = YearParams(self.params, self.base_year)
        # the masks read from the registry alone, kept for the run's years
        ctx = Context(self.reg, self.state, p, self.seed, *lines_for(p), scale=self.scale,
                      lasting=self._lasting)
        self.record.need = np.array([prog.need(ctx) for prog in self.programmes])
        self.record.capacity = np.array(
            [[0.0 if y == self.base_year else prog.capacity(YearParams(self.params, y)) * self.scale
              for prog in self.programmes] for y in self.record.years])

    def _record_base_year(self) -> None:
        """The base year's incomes go through the same income update as every
        later year (shocks, illness, schooling cost, the net floor of the
        households already in dibao or wubao), without growth or programmes,
        so that the base year's true-poor count is comparable with the next."""
        p = YearParams(self.params, self.base_year)
        st, h = self.state, self.reg.households
        self._pension(p)
        covered = np.flatnonzero(covered_by_category(self.reg))
        st.floor[covered] = county_dibao_standards(p, self.reg.counties["county_id"],
                                                   self.seed)[h["county"][covered]]
        cost = tuple(p("schooling_cost"))
        st.schooling_cost[:] = per_student(self.reg, cost)
        self._schooling_key = cost
        self._base_year_income(p)
        _, self._village_people = self._tally(p, 0)
        self._record_need_and_capacity()

    def step(self, year: int) -> None:
        """Advance one year; see the module docstring for the step order."""
        p = YearParams(self.params, year)
        k = year - self.base_year
        ctx = Context(self.reg, self.state, p, self.seed, *lines_for(p), scale=self.scale,
                      lasting=self._lasting, village_people=self._village_people,
                      county_starts=self._county_starts["household"],
                      newly_registered=self._arrivals)
        # 1. programme enrolment
        new = [prog.enrol(ctx) for prog in self.programmes]
        # 2. delivery
        started = self._deliver(ctx, k, new)
        for prog, units in zip(self.programmes, started):
            if prog.level == "household":
                self.state.add_started(prog.name, units, prog.list_share())
        # 3. income components
        pending = self._components(ctx, k, started)
        # 4. income update, and 5. verification: household exit, return and
        # entry, in one pass
        self._income_and_verify(p, year)
        ctx.status_changed()
        # 6. village exit, then county exit
        sums, self._village_people = self._tally(p, k)
        village_new = self._village_exits(ctx, self._village_people)
        self._county_exits(ctx, sums)
        # 7. record
        for j, active in pending.items():
            self._record_programme(ctx, k, j, started[j], active)
        self._record_exits(ctx, k)
        county_of_village = self.reg.villages["county"]
        self.record.villages_exited[k] = np.bincount(county_of_village[village_new],
                                                     minlength=self.reg.n_counties)

    def _deliver(self, ctx: Context, k: int, new: list[np.ndarray]) -> list[np.ndarray]:
        """Decide which enrolments take effect this year; return, per
        programme, the indices that do (sorted)."""
        p, reg, year = ctx.p, self.reg, ctx.year
        started = list(new)
        out = self.record.delivery[k]
        # each programme's new enrolments, each county's together, and where
        # each county's start
        by = [by_county(units, self._county_of(j), reg.n_counties,
                        self._county_starts[self.programmes[j].level])
              for j, units in enumerate(new)]
        ordered, bounds = [b[0] for b in by], [b[1] for b in by]
        new_counts = [np.diff(b) for b in bounds]
        # the enrolments taking effect by county (those of delivered
        # programmes set below): the record's one-off costs
        self._started_counts = list(new_counts)
        if new_counts:
            counts = np.stack(new_counts, axis=1)  # [county, programme]
            for column in ("delivery_due", "delivery_in_effect", "delivery_household_years"):
                out[:, :, D[column]] = counts
            self.record.programme[k, :, :, P["new_households"]] = counts
        has_backlog = any(len(b) for b in self.backlog.values())
        if not (p("delivery.enabled") or has_backlog) or not self.delivered:
            return started
        tic = time.perf_counter()
        progs = [self.programmes[j] for j in self.delivered]
        settings = settings_from_params(p, [prog.name for prog in progs])
        settings = dataclasses.replace(settings, scale=self.scale)
        if settings.approval_per_month != np.inf:
            settings = dataclasses.replace(
                settings, approval_per_month=settings.approval_per_month * self.scale)
        nc, npr = reg.n_counties, len(progs)
        enrolments = np.zeros((nc, npr), np.int64)
        for q, j in enumerate(self.delivered):
            enrolments[:, q] = self.backlog_counts[j] + new_counts[j]
        unit = np.array([max(prog.unit_cost(p), 0.0) for prog in progs])
        needing = enrolments - self.carry.building_total
        result = deliver(year, enrolments, needing * unit[None, :], settings, self.seed,
                         villages=self.team_villages, carry=self.carry,
                         unit_cost=np.broadcast_to(unit, (nc, npr)),
                         county_ids=reg.counties["county_id"],
                         programme_ids=[prog.stream for prog in progs])
        self.carry = result.carry
        household_years = result.household_years
        for q, (j, prog) in enumerate(zip(self.delivered, progs)):
            # in each county the backlog first, then the new enrolments
            quota = result.in_effect[:, q]
            started_backlog, taken = self.backlog[j].take(quota)
            left = quota - taken
            if not left.any():
                started_new, waiting = new[j][:0], new[j]
            elif (left == new_counts[j]).all():
                started_new, waiting = new[j], new[j][:0]
            else:
                started_new, waiting = split_cyclic(
                    ordered[j], bounds[j], left,
                    order_offsets(self.seed, prog.stream, year, reg.counties["county_id"]))
                if self._county_starts[prog.level] is None:  # in county order: ascending
                    started_new = np.sort(started_new)
            start = (self.state.village_enrolled if prog.level == "village"
                     else self.state.enrolled)[prog.name]
            # those starting now from the backlog get their year (the new
            # already hold it); those left waiting, WAITING
            set_at(start, started_backlog, year)
            set_at(start, waiting, WAITING)
            self.backlog[j].add(waiting)
            self.backlog_counts[j] = result.backlog[:, q].astype(np.int64)
            self._started_counts[j] = quota  # the backlog's first, then the new
            started[j] = (merge_sorted(started_backlog, started_new)
                          if len(started_backlog) and len(started_new)
                          else started_backlog if len(started_backlog) else started_new)
            ctx.first_year_fraction[prog.name] = result.fraction_of_year[:, q]
        # the delivered programmes' columns, [county, programme] as deliver gives them
        for column, values in (("delivery_due", enrolments),
                               ("delivery_in_effect", result.in_effect),
                               ("delivery_backlog", result.backlog),
                               ("delivery_household_years", household_years),
                               ("funds_unspent", result.unspent)):
            out[:, self.delivered, D[column]] = values
        # households in effect by the end of each month, [programme, month]
        self.record.delivery_monthly[k, self.delivered] = result.monthly_households
        self.delivery_seconds += time.perf_counter() - tic
        return started

    def _county_of(self, j: int) -> np.ndarray:
        """County of each unit (household or village) of programme ``j``."""
        level = self.programmes[j].level
        return (self.reg.households if level == "household" else self.reg.villages)["county"]

    def _components(self, ctx: Context, k: int, new: list[np.ndarray]) -> dict[int, np.ndarray]:
        """Apply every programme; record its coverage and cost at once unless
        the cost depends on this year's income (then return its active set),
        so that only a few index arrays are alive at a time."""
        st, p = self.state, ctx.p
        # only the pathways that had income last year hold any: stale, the
        # year's first step adding to each writes it whole
        st.batch_stale |= st.batch_written
        st.batch_written[:] = False
        self._pension(p)
        st.floor_stale = True  # the floor step writes it whole
        st.medical_cover[:] = 0
        st.reached[:] = 0
        st.village_collective[:] = self.reg.villages["collective_income"]
        cost = tuple(p("schooling_cost"))
        if cost != self._schooling_key:
            st.schooling_cost[:] = per_student(self.reg, cost)
            self._schooling_key = cost
        pending = {}
        for j, prog in enumerate(self.programmes):
            active = prog.step(ctx)
            if prog.cost_after_income:
                pending[j] = active
            else:
                self._record_programme(ctx, k, j, new[j], active)
            del active
        if st.floor_stale:  # no floor this year
            st.floor[:] = 0.0
            st.floor_stale = False
        sum_rows(st.batch_income, np.flatnonzero(st.batch_written), st.programme_income)
        return pending

    def _pension(self, p: YearParams) -> None:
        """Set ``state.transfer_income`` to this year's basic pension per
        capita of every household (float32, yuan/person/year): computed
        again only when the pension changes (nothing else writes it)."""
        pension = p("pension_basic")
        if self._pension_key != pension:
            h = self.reg.households
            per_capita(float(pension), h["elderly"], h["size"], self.state.transfer_income)
            self._pension_key = pension

    def _county_factor(self, p: YearParams, year: int, growth: bool = True) -> np.ndarray:
        """Growth index since the base year times this year's county shock."""
        if growth:
            self._growth_index *= 1.0 + p("market_income_growth")
        sigma = p("income_sigma_county")
        key = year_key(self.seed, Stream.COUNTY, year)
        shock, _ = normal_pair_np(hash_id_np(key, np.arange(self.reg.n_counties)))
        return (self._growth_index * np.exp(sigma * shock - 0.5 * sigma**2)).astype(np.float32)

    def _income_arguments(self, p: YearParams, year: int, growth: bool = True) -> tuple:
        """The county factor and the scalars of :func:`income_update` in year ``year``."""
        rho = p("income_persistence")
        sp, stt = p("income_sigma_persistent"), p("income_sigma_transitory")
        return (self._county_factor(p, year, growth),
                (year_key(self.seed, Stream.INCOME, year),
                 year_key(self.seed, Stream.ILLNESS, year),
                 np.float32(rho), np.float32(sp * np.sqrt(1.0 - rho**2)), np.float32(stt),
                 np.float32(-0.5 * (sp**2 + stt**2)), np.float32(p("illness.base_rate")),
                 np.float32(p("illness.rate_per_ill")), np.float32(p("illness.cost_mean")),
                 np.float32(1.0 - p("illness.reimbursement")),
                 np.float32(1.0 - p("medical.reimbursement")),
                 np.float32(p("medical.oop_cap"))))

    def _income_inputs(self, s: slice, county_factor: np.ndarray, scalars: tuple) -> tuple:
        """The arguments of :func:`income_update` for the households ``s``."""
        st, h = self.state, self.reg.households
        return (h["hh_id"][s], h["county"][s], h["size"][s], h["ill"][s], st.market_base[s],
                county_factor, st.programme_income[s], st.transfer_income[s], st.floor[s],
                st.schooling_cost[s], st.medical_cover[s], *scalars, st.z[s], st.topup[s],
                st.income[s])

    def _base_year_income(self, p: YearParams) -> None:
        """The base year's income update: step 4 without growth, and alone
        (the base year is not verified)."""
        county_factor, scalars = self._income_arguments(p, self.base_year, growth=False)
        for s in self._chunks():
            income_update(*self._income_inputs(s, county_factor, scalars))

    def _income_and_verify(self, p: YearParams, year: int) -> None:
        """Steps 4 and 5 of the year, the income update and then
        verification, in one pass (:func:`income_and_verify`)."""
        county_factor, income_scalars = self._income_arguments(p, year)
        scalars = self._verify_arguments(p, year)
        st = self.state
        for s in self._chunks():
            income_and_verify(*self._income_inputs(s, county_factor, income_scalars),
                              st.guarantees[s], *scalars, st.status[s], st.event[s],
                              st.exit_year[s])

    def _verify_arguments(self, p: YearParams, year: int) -> tuple:
        """The scalars of :func:`model.engine.rules.verify` in year ``year``."""
        line, covered = lines_for(p)
        required = ALL_GUARANTEES if p("household_exit.require_guarantees") else 0
        adjust = (year - self.base_year) % int(p("registry_adjustment_interval")) == 0
        return (year_key(self.seed, Stream.VERIFICATION, year),
                year_key(self.seed, Stream.RETURN, year),
                np.float32(line), np.float32(covered),
                np.float32(p("household_exit.verification_sigma")),
                np.uint8(required), np.float32(p("household_exit.margin")),
                np.float32(p("household_exit.return_threshold")),
                np.float32(self._return_probability(p, year)),
                np.float32(p("household_exit.return_decay")), adjust, np.int16(year))

    @staticmethod
    def _return_probability(p: YearParams, year: int) -> float:
        """Return probability of the year after exit, matured since the start."""
        since = max(year - p("household_exit.maturation_start"), 0.0)
        return p("household_exit.return_probability") * float(
            np.exp(-p("household_exit.return_maturation") * since))

    def _chunks(self):
        n = self.reg.n_households
        for start in range(0, n, self.chunk_size):
            yield slice(start, min(n, start + self.chunk_size))

    def _village_exits(self, ctx: Context, poor: np.ndarray) -> np.ndarray:
        """Villages exiting this year; ``poor``: registered people by village
        at the end of the year (float64)."""
        p, st, reg = ctx.p, self.state, self.reg
        v = reg.villages
        return village_exits(ctx.year, poor, v["rural_population"],
                             reg.counties["region"][v["county"]], st.village_collective,
                             st.village_infrastructure, st.village_exit_year,
                             p("village_exit.incidence"), p("village_exit.incidence_west"),
                             p("village_exit.collective_income"),
                             p("village_exit.require_infrastructure") > 0, v["poor_village"])

    def _county_exits(self, ctx: Context, sums: np.ndarray) -> None:
        p, c = ctx.p, self.reg.counties
        by_county = sums.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            # 错退率 as exit assessments measure it: the year's exits that did
            # not meet the line (exited households that fell back later are
            # returns, or wait for the next verification)
            wrong = np.nan_to_num(by_county[:, COL["wrong_exits_households"]]
                                  / by_county[:, COL["exits_households"]])
            # 漏评率 as the exit assessment defines it: missed people over the
            # rural people outside the registry (未建档立卡的农村人口), not over
            # the poor, a ratio that grows as the poor vanish
            outside = (c["rural_population"] - by_county[:, COL["registered_people"]]
                       - by_county[:, COL["exited_people"]])
            missed = np.nan_to_num(by_county[:, COL["missed_people"]] / np.maximum(outside, 1))
        k = ctx.year - self.base_year
        self.record.rates[k, :, R["wrong_exit_rate"]] = wrong
        self.record.rates[k, :, R["missed_rate"]] = missed
        if p("county_exit.schedule"):
            first = scheduled_year(c["income_ratio"], p("county_exit.ratio_2017"),
                                   p("county_exit.ratio_2018"))
        else:
            first = np.zeros(self.reg.n_counties, np.int16)
        first = np.maximum(first, np.int16(p("county_exit.first_year")))
        county_exits(ctx.year, by_county[:, COL["registered_people"]], c["rural_population"],
                     c["region"], wrong, missed, self.state.county_exit_year,
                     p("county_exit.incidence"), p("county_exit.incidence_west"),
                     p("county_exit.wrong_exit_rate"), p("county_exit.missed_rate"), first,
                     c["poor_county"])

    def _tally(self, p: YearParams, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Record the year's sums and median incomes; return the sums by
        county and category and the registered people by village (float64)."""
        st, h = self.state, self.reg.households
        line, covered = lines_for(p)
        # the record's rows of the year (zeros) are the tally's tables
        out = self.record.sums[k].reshape(self.n_groups, NV)
        if self._tally_chunks is None:  # the chunks' groups do not change in a run
            self._tally_chunks = chunk_groups(h["county"], h["category"], len(CATEGORIES),
                                              self.n_groups, tally_step(self.reg.n_households))
            self._tally_scratch = tally_scratch(self._tally_chunks)
        village_people = np.zeros(len(self.reg.villages["village_id"]))
        tally(h["county"], h["category"], h["size"], st.income, st.floor, st.status, st.event,
              np.float32(line), np.float32(covered), len(CATEGORIES), out, self._hist,
              village=h["village"], village_people=village_people, chunks=self._tally_chunks,
              scratch=self._tally_scratch)
        medians, self.record.median_all[k] = take_medians(self._hist, line)  # and zeros it
        self.record.median[k] = medians.reshape(self.record.median[k].shape)
        self.record.lines[k, L["poverty_line"]] = line
        self.record.lines[k, L["covered_line"]] = covered
        return self.record.sums[k], village_people

    def _record_programme(self, ctx: Context, k: int, j: int, new: np.ndarray,
                          active: np.ndarray | Counted) -> None:
        """Active enrolments and cost of programme ``j`` by county; ``new``:
        the enrolments taking effect this year, which pay the one-off cost;
        ``active``: the active units, or what the step counted of them."""
        prog, nc = self.programmes[j], self.reg.n_counties
        county = (self.reg.households["county"] if prog.level == "household"
                  else self.reg.villages["county"])
        out = self.record.programme[k]
        counted = active if isinstance(active, Counted) else None
        one_off, recurring = prog.cost(ctx, new, None if counted else active)
        size = self.reg.households["size"] if prog.level == "household" else EMPTY
        for what, idx, unit in (("new", new, one_off), ("active", active, recurring)):
            counts, cost, people = np.zeros(nc), np.zeros(nc), np.zeros(nc)
            if what == "active" and counted is not None:
                counts, people = counted.households, counted.people
                if counted.cost is not None:  # the step summed it
                    cost = counted.cost
                elif isinstance(unit, np.ndarray) and unit.shape == (nc,):  # summed by county
                    cost = unit
                elif unit is None or np.ndim(unit) != 0:
                    raise TypeError(f"programme {prog.name!r}: the recurring cost of a "
                                    "programme declaring its income, grant or floor must be "
                                    "a number or the sums by county")
                else:
                    repeated_sums(np.float64(unit), counts, cost)
            elif what == "new" and isinstance(unit, PerMember):
                cost = self._per_member(prog, new, unit.amount)
            elif what == "new" and np.ndim(unit) == 0:  # the same amount each: by county
                repeated_sums(np.float64(unit), self._started_counts[j].astype(np.float64), cost)
            else:
                # an array as it is (the kernel adds each value as float64), a number as float64
                weights = (unit if isinstance(unit, np.ndarray) and unit.ndim == 1
                           else np.atleast_1d(np.asarray(unit, np.float64)))
                coverage_at(county, idx, weights, size if what == "active" else EMPTY, counts,
                            cost, people, self._county_starts[prog.level])
            if what == "active":  # new enrolments are counted by _deliver
                out[:, j, P["active_households"]] = counts
                if len(size):
                    out[:, j, P["active_people"]] = people
            out[:, j, P["cost"]] += cost

    def _per_member(self, prog, new: np.ndarray, amount: float) -> np.ndarray:
        """The one-off cost by county of the households ``new`` (ascending)
        at ``amount`` a member (yuan/person), each household's cost added in
        order: the amount times each county's members where every partial
        sum is a whole number below 2**53 (the additions then give it
        exactly, as :func:`model.engine.coverage.repeated_sums` does), else
        one addition a household."""
        if prog.level != "household":
            raise TypeError(f"programme {prog.name!r}: a one-off cost by members "
                            "(PerMember) is a household programme's")
        nc, h = self.reg.n_counties, self.reg.households
        starts = self._county_starts["household"]
        people = np.zeros(nc)
        coverage_at(h["county"], new, np.zeros(1), h["size"], np.zeros(nc), np.zeros(nc),
                    people, starts)
        cost = np.zeros(nc)
        if sums_exactly.py_func(np.float64(amount), people.sum()):
            repeated_sums(np.float64(amount), people, cost)
        else:
            weights = np.float64(amount) * h["size"][new].astype(np.float64)
            coverage_at(h["county"], new, weights, EMPTY, np.zeros(nc), cost, np.zeros(nc),
                        starts)
        return cost

    def _village_reached(self, ctx: Context) -> np.ndarray:
        """The pathways (bit ``b``: ``BATCHES[b]``) whose village programmes
        are active in each village this year (uint8, one a village)."""
        bits = np.zeros(len(self.reg.villages["village_id"]), np.uint8)
        for prog in self.programmes:
            if prog.level == "village" and prog.batch in BATCHES:
                bits |= prog.is_active(ctx).astype(np.uint8) << np.uint8(BATCHES.index(prog.batch))
        return bits

    def _record_exits(self, ctx: Context, k: int) -> None:
        st, h = self.state, self.reg.households
        exits, self._arrivals = exits_and_arrivals(st.event)
        # the household programmes marked the pathways they reach as they
        # stepped (State.reached); the village programmes reach the
        # households of the villages where they are active
        attribute_exits(exits, st.income, st.floor, ctx.line, ctx.covered_line,
                        st.batch_income, st.batch_written, st.topup, st.reached, h["village"],
                        self._village_reached(ctx), h["county"], h["size"],
                        self.record.batch_exits[k], self.record.batch_reached[k])
