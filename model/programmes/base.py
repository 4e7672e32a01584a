"""Programmes: who gets assistance, what it does and what it costs.

A programme is one small class (see :mod:`model.programmes.measures` for the measures
of the seeds). The engine (:mod:`model.engine.sim`) knows nothing about any
particular programme; each year it calls, for every programme in order,

1. :meth:`Programme.enrol` — eligible registered households not yet
   enrolled are taken up to the year's capacity, in targeting order;
2. :meth:`Programme.step` — enrolments may stop (failure hazard), and the
   effect is applied to the active households: income in a pathway's row of
   ``State.batch_income``, a safety-net floor, a guarantee, or a lasting
   change of earning capacity;
3. :meth:`Programme.cost` — after the income update, the cost of the year.

What a subclass declares
------------------------
``name``, ``batch`` (五个一批 pathway or ``"guarantee"``), ``unit``
(capacity counted in ``"households"`` or ``"people"``), and the methods
:meth:`needs` (households the effect can physically apply to),
:meth:`matched` (precise targeting: the programme matched to the household's
cause and capacity, a subset of ``needs``), :meth:`effect` (or, when the
effect is income, :meth:`income`, guarantees alone, :meth:`grant`, or a
floor, :meth:`floor`: the step then runs as one pass,
:mod:`model.engine.one_pass`) and
:meth:`cost`; ``needs_reads`` says what :meth:`needs` and :meth:`matched`
read, and so how long their masks hold: ``"registry"`` (computed once a run,
one byte per household each), ``"year start"`` (the state as the year's
programmes find it: once a year) or ``"state"`` (every call, the default);
``counts_reached`` makes the record count the enrolments the effect
reached, not every active one (the safety net's means test);
``reads_years = False`` says the effect does not read the years since
enrolment, which are then not computed.
Its parameters are looked up as ``"<name>.<parameter>"``:
``capacity`` (and optionally ``budget``, yuan/year, turned into a capacity
by :meth:`unit_cost`), ``ramp`` (years to full effect), ``hazard`` (yearly
probability that an enrolment stops), ``duration`` (years active).

Targeting (a scenario setting, parameters ``targeting.uniform`` and
``targeting.order``): *precise* enrols ``matched`` households; *uniform*
(大水漫灌) enrols any registered household in random order, and the effect
then reaches only those the programme ``needs``. Entitlements (the safety
net, basic medical cover) follow their own rules in both modes. When capacity is short,
``targeting.order`` decides who goes first: poorest first (0), closest to
the line first (1) or random (2); ties are broken by a counter-based random
key, so choices are reproducible and independent of household order.

Policies continue after exit for ``household_exit.policy_grace_years`` (脱贫不脱政策).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from model.engine.active_rule import active_indices, active_limits, active_mask, active_mask_at
from model.engine.bookkeeping import (
    EMPTY,
    add_at,
    candidate_indices,
    candidate_indices_numpy,
    candidates_among,
    merge_sorted,
    or_at,
    poorer_candidate_indices,
    set_at,
    step_indices,
    stop_failed,
    values_at,
)
from model.engine.codes import (
    BATCHES,
    CLOSEST_FIRST,
    INCOME_BATCHES,
    POOREST_FIRST,
    RANDOM_ORDER,
)
from model.engine.context import Context, YearParams
from model.engine.one_pass import (
    Counted,
    Floor,
    Grant,
    Income,
    floor_step,
    grant_step,
    income_step,
)
from model.engine.rows import zero_rows
from model.engine.selection import people_threshold
from model.engine.threads import indices_where
from model.random import Stream, hash_ids, year_key

_NO_FRACTION = np.zeros(0, np.float32)

# Parameters the base class reads as ``<programme name>.<key>``: ``capacity``
# is required; the others are optional (budget: no limit, duration / life:
# forever, hazard: none, ramp: full effect at once). ``life`` is the duration
# of programmes that build an asset (``duration_parameter = "life"``).
GENERIC_PARAMETERS = ("capacity", "budget", "duration", "life", "hazard", "ramp")


class Programme:
    """A household programme. Subclasses set the class attributes and
    override :meth:`needs`, :meth:`effect` and :meth:`cost` (and
    :meth:`matched` when targeting uses the cause)."""

    name: ClassVar[str]
    batch: ClassVar[str]
    description: ClassVar[str]
    unit: ClassVar[str] = "households"
    stream: ClassVar[int] = 0  # distinct per programme: its own random streams
    level: ClassVar[str] = "household"
    entitlement: ClassVar[bool] = False  # a legal entitlement: the same in every targeting mode
    cost_after_income: ClassVar[bool] = False  # cost depends on the year's income update
    grants: ClassVar[int] = 0  # guarantee bits (model.engine.codes) the programme provides
    # the step returns, and the record counts, the enrolments the effect reached
    # this year (those needing it), not every active one
    counts_reached: ClassVar[bool] = False
    # what needs and matched read: "registry" (a mask for the run), "year start"
    # (a mask for the year) or "state" (computed at every call)
    needs_reads: ClassVar[str] = "state"
    # the effect reads years_in (years since enrolment); False: it gets None
    # and the years are not computed
    reads_years: ClassVar[bool] = True

    def need(self, ctx: Context) -> float:
        """Registered households (in :attr:`unit`) the programme must reach
        for the guarantees it grants: those it can help that lack one of
        them. NaN for a programme that grants no guarantee."""
        if not self.grants:
            return float("nan")
        st = ctx.st
        lacking = (st.guarantees & np.uint8(self.grants)) != self.grants
        who = lacking & ctx.registered() & self._mask(ctx, "needs")
        if self.unit == "people":
            return float(ctx.reg.households["size"].sum(where=who, dtype=np.int64))
        return float(np.count_nonzero(who))
    duration_parameter: ClassVar[str] = "duration"  # years an enrolment stays active

    # ---- to override
    def needs(self, ctx: Context) -> np.ndarray:
        """Mask of households the effect can apply to."""
        raise NotImplementedError

    def matched(self, ctx: Context) -> np.ndarray:
        """Mask of households precise targeting enrols (default: ``needs``)."""
        return self.needs(ctx)

    def income(self, ctx: Context) -> Income | None:
        """The effect, when it is income (perhaps with guarantees, see
        :class:`~model.engine.one_pass.Income`): declared so, the year's step
        runs as one pass (:mod:`model.engine.one_pass`). None (the
        default): :meth:`effect` applies the effect."""
        return None

    def grant(self, ctx: Context) -> Grant | None:
        """The effect, when it grants guarantees alone: declared so, the
        year's step runs as one pass (:mod:`model.engine.one_pass`). None
        (the default): :meth:`effect` or :meth:`income` applies the effect."""
        return None

    def floor(self, ctx: Context) -> Floor | None:
        """The effect, when it tops households up to a floor (the safety
        net): declared so, the year's step runs as one pass
        (:mod:`model.engine.one_pass`) and counts the households it reaches.
        None (the default): another declaration, or :meth:`effect`."""
        return None

    def effect(self, ctx: Context, idx: np.ndarray, years_in: np.ndarray | None) -> None:
        """Apply the effect to households ``idx`` (active, and needing it);
        ``years_in`` is the number of years since enrolment (0 in the first;
        None when :attr:`reads_years` is False). The default applies the
        declared :meth:`income`, :meth:`grant` or :meth:`floor`."""
        income, grant, floor = self.income(ctx), self.grant(ctx), self.floor(ctx)
        if income is not None:
            add = self.add_income if income.per_person else self.add_household_income
            add(ctx, idx, income.amounts(years_in, idx))
            later = income.later_reached(years_in, idx)
            if len(later):
                self.add_household_income(ctx, later, np.float32(income.later_added))
            if income.bits:
                or_at(ctx.st.guarantees, idx, np.uint8(income.bits))
        elif grant is not None:
            grant.apply(ctx.st, idx)
        elif floor is not None:
            floor.apply(ctx.st, idx, ctx.reg.households["county"])
        else:
            raise NotImplementedError(
                f"{type(self).__name__} declares no income, grant, floor or effect")

    def cost(self, ctx: Context, new: np.ndarray, active: np.ndarray | None):
        """``(one_off, recurring)`` in yuan: per new household (indices ``new``)
        and per active household (indices ``active``), each a number or an
        array aligned with its indices; the one-off cost may also be a
        :class:`model.engine.one_pass.PerMember` (an amount a member).
        ``active`` is None when the step counted the active households
        itself (a programme declaring :meth:`income`, :meth:`grant` or
        :meth:`floor`): the recurring cost
        is then a number, None when the step summed it (a grant's
        ``recurring``, an income's ``costs_amount``), or the sums by county
        (float64, one a county: a floor's top-ups,
        :func:`model.engine.one_pass.floor_costs`)."""
        raise NotImplementedError

    def unit_cost(self, p: YearParams) -> float:
        """Expected one-off cost of one enrolment (yuan): turns a budget into
        a capacity. Programmes with a budget parameter override it."""
        return 0.0

    def _mask(self, ctx: Context, what: str) -> np.ndarray:
        """:meth:`needs` or :meth:`matched` (``what``), remembered for the
        run or the year when :attr:`needs_reads` says they cannot change
        sooner."""
        compute = self.needs if what == "needs" else self.matched
        if self.needs_reads == "state":
            return compute(ctx)
        if what == "matched" and type(self).matched is Programme.matched:
            return self._mask(ctx, "needs")  # matched is needs: one mask for both
        kept = ctx.lasting if self.needs_reads == "registry" else ctx.drawn
        mask = kept.get((self.name, what))
        if mask is None:
            mask = kept[(self.name, what)] = compute(ctx)
        return mask

    # ---- the generic parameters, ``<name>.<key>`` in model/parameters.toml
    def _param(self, p: YearParams, key: str, default: float | None = None) -> float:
        """The programme's parameter ``key`` (one of :data:`GENERIC_PARAMETERS`)
        in force this year; ``default`` when it is optional and not declared.
        A required parameter (``default`` None) that is not declared is an
        error naming it, never a silent default."""
        if key not in GENERIC_PARAMETERS:
            raise KeyError(f"{key!r} is not a generic programme parameter: "
                           f"expected one of {', '.join(GENERIC_PARAMETERS)}")
        name = f"{self.name}.{key}"
        if default is None or p.has(name):
            return p(name)
        return default

    def capacity(self, p: YearParams) -> float:
        """New enrolments this year, in :attr:`unit`: the declared capacity
        parameter (required), further limited by the budget when one is declared."""
        cap = self._param(p, "capacity")
        budget = self._param(p, "budget", np.inf)
        if np.isfinite(budget):
            unit = self.unit_cost(p)
            cap = min(cap, np.floor(budget / unit) if unit > 0 else np.inf)
        return cap

    # ---- the yearly cycle, called by the engine
    def enrol(self, ctx: Context) -> np.ndarray:
        """Enrol up to capacity; return the indices of the new enrolments."""
        p, st = ctx.p, ctx.st
        cap = self.capacity(p) * ctx.scale
        if cap < 1:
            return np.zeros(0, np.int64)
        uniform = p("targeting.uniform") > 0 and not self.entitlement
        start = st.enrolled[self.name]
        order = RANDOM_ORDER if uniform else int(p("targeting.order"))
        candidates, every = self._candidates(
            ctx, None if uniform else self._mask(ctx, "matched"), uniform, order, cap)
        chosen = select(ctx, self.stream, candidates, cap, order, self.unit)
        set_at(start, chosen, np.int16(p.year))
        # what uniform targeting or a mask of the registry matches cannot
        # change: next year's candidates are among those left and the
        # households coming onto the registry (kept while few: a pass over
        # the registry is about as fast as a long list)
        left = candidates if len(chosen) < len(candidates) else candidates[:0]
        lasting = every and (uniform or self.needs_reads == "registry")
        st.candidates[self.name] = ((p.year, uniform, left)
                                    if lasting and 16 * len(left) <= len(start) else None)
        return chosen

    def _candidates(self, ctx: Context, matched: np.ndarray | None, uniform: bool,
                    order: int, capacity: float) -> tuple[np.ndarray, bool]:
        """Registered households never enrolled and, unless ``matched`` is
        None, matched (ascending), and whether they are all of them: among
        last year's candidates and the households that came onto the
        registry since when last year's were kept for the same targeting;
        else, poorest first, only the poorest of them when ``capacity``
        takes few of many (:func:`poorest_candidates`: the same are chosen
        from them); else from a pass over the registry."""
        st = ctx.st
        kept = st.candidates.get(self.name)
        if kept is not None and kept[0] == ctx.year - 1 and kept[1] == uniform:
            units = merge_sorted(kept[2], ctx.newly_registered())
            return candidates_among(units, st.enrolled[self.name], st.status, matched), True
        if order == POOREST_FIRST:
            poorest = poorest_candidates(ctx, st.enrolled[self.name], matched, capacity,
                                         self.unit)
            if poorest is not None:
                return poorest, False
        return candidate_indices(st.enrolled[self.name], st.status, matched), True

    def list_share(self) -> float:
        """The share of the households below which the yearly step reads
        only those ever enrolled (:meth:`_units`) rather than passing over
        all of them. A step in one pass (:meth:`_in_one_pass`, from the
        methods the class declares) reads a list of some 3 % of the
        national registry in about the time of its pass over all (the
        list's reads are scattered, the pass's are not): a thirty-second.
        Other steps read the list several times over: an eighth."""
        def declares(method: str) -> bool:
            return getattr(type(self), method) is not getattr(Programme, method)

        one_pass = self._in_one_pass(declares("floor"), declares("income"), declares("grant"))
        return 1 / 32 if one_pass else 1 / 8

    def _in_one_pass(self, floor: bool, income: bool, grant: bool) -> bool:
        """Whether a step declaring a floor, an income or a grant runs in one
        pass over the households (:mod:`model.engine.one_pass`): a floor's
        pass counts the households it reaches; an income's or a grant's
        counts every active one (a grant's marks no pathway), unless the
        record counts only those reached."""
        return floor or (not self.counts_reached and (
            income or (grant and not self.pathway_bit())))

    def _units(self, ctx: Context) -> np.ndarray | None:
        """The households whose enrolment ever took effect (ascending: the
        only ones that can be active), or None when they are too many for
        reading them alone to beat a pass over the registry."""
        return ctx.st.ever_started[self.name]

    def _limits(self, p: YearParams) -> tuple[float, float]:
        """Enrolments active in year ``p.year`` started after the first
        number (``-inf``: no duration); exited households stay reached while
        their exit year is after the second (``-inf``: no limit)."""
        duration = self._param(p, self.duration_parameter, np.inf)
        grace = p("household_exit.policy_grace_years")
        return (p.year - duration if np.isfinite(duration) else -np.inf,
                p.year - grace - 1 if np.isfinite(grace) else -np.inf)

    def is_active(self, ctx: Context, idx=slice(None)) -> np.ndarray:
        """Mask over households ``idx``: enrolled, not stopped (a delivery
        backlog starts next year), within ``duration`` and, after exit,
        within the grace."""
        st = ctx.st
        start = st.enrolled[self.name]
        year, oldest, last_exit = active_limits(ctx.year, *self._limits(ctx.p))
        if isinstance(idx, slice):
            start, status, exit_year = start[idx], st.status[idx], st.exit_year[idx]
            mask = np.empty(len(start), bool)
            active_mask(start, year, oldest, status, exit_year, last_exit, mask)
        else:
            idx = np.asarray(idx)
            mask = np.empty(len(idx), bool)
            active_mask_at(idx, start, year, oldest, st.status, st.exit_year, last_exit, mask)
        return mask

    def active(self, ctx: Context) -> np.ndarray:
        """Indices of households the programme reaches this year (as
        :meth:`is_active`, in one pass)."""
        st = ctx.st
        oldest, last_exit = self._limits(ctx.p)
        return active_indices(st.enrolled[self.name], ctx.year, oldest, st.status,
                              st.exit_year, last_exit, self._units(ctx))

    def step(self, ctx: Context) -> np.ndarray | Counted:
        """Stop failed enrolments, apply the effect and mark the pathway as
        reaching the active households (``State.reached``); return the
        active indices (those the effect reached when
        :attr:`counts_reached`), or, when the step ran as one pass, the
        active households and people it counted by county."""
        st = ctx.st
        hazard = self._param(ctx.p, "hazard", 0.0)
        key = year_key(ctx.seed, Stream.FAILURE + 16 * self.stream, ctx.year)
        start = st.enrolled[self.name]
        oldest, last_exit = self._limits(ctx.p)
        if hazard > 0 and self.needs_reads != "registry":
            # needs that may read the enrolments are read after the failures
            stop_failed(self.active(ctx), start, ctx.reg.households["hh_id"], key, ctx.year,
                        np.float32(hazard))
            hazard = 0.0
        units, floor = self._units(ctx), self.floor(ctx)
        if floor is not None:
            _one_floor(ctx, self.name)
        if units is not None and len(units) == 0:
            return units  # no enrolment has taken effect: none is active
        income, grant, bit = self.income(ctx), self.grant(ctx), self.pathway_bit()
        in_one_pass = self._in_one_pass(floor is not None, income is not None, grant is not None)
        if units is None and ctx.county_starts is not None and in_one_pass:
            # most households were enrolled once: one pass over them all
            h = ctx.reg.households
            rule = (ctx.county_starts, start, ctx.year, oldest, st.status, st.exit_year,
                    last_exit, self._mask(ctx, "needs"), h["hh_id"], key, hazard)
            if floor is not None:
                counted = floor_step(*rule, floor, st.floor, h["size"], st.reached, bit,
                                     st.floor_stale)
                st.floor_stale = False  # every household's written
                return counted
            if income is None:
                return grant_step(*rule, grant, st, h["size"])
            row = INCOME_BATCHES.index(self.batch)
            counted, reached = income_step(
                *rule, income, ctx.p("programme_income_share"), self._fraction(ctx), h["size"],
                st.batch_income[row], st.reached, bit, st.guarantees, st.batch_stale[row])
            st.batch_stale[row] = False  # every household's written
            st.batch_written[row] |= reached > 0
            return counted
        active, reach, years_in = step_indices(
            start, ctx.year, oldest, st.status, st.exit_year, last_exit,
            self._mask(ctx, "needs"), ctx.reg.households["hh_id"], key, np.float32(hazard),
            units, self.reads_years or (income is not None and income.reads_years),
            st.reached, bit)
        if len(reach):
            self.effect(ctx, reach, years_in)
        return reach if self.counts_reached else active

    def pathway_bit(self) -> np.uint8:
        """The bit of the programme's pathway in ``State.reached`` (0 for a
        programme that is no pathway: a guarantee)."""
        return np.uint8(1 << BATCHES.index(self.batch) if self.batch in BATCHES else 0)

    def add_income(self, ctx: Context, idx: np.ndarray, per_capita) -> None:
        """Add per-capita income (yuan/person/year) to this programme's pathway.

        The income is scaled by ``programme_income_share`` and, in the year an
        enrolment takes effect, by the fraction of that year it is in effect.
        """
        self._add(ctx, idx, per_capita, EMPTY)

    def add_household_income(self, ctx: Context, idx: np.ndarray, per_household) -> None:
        """Add income the household receives as a whole (yuan/household/year:
        a wage, a station's yield) to this programme's pathway, per member
        (float32), as :meth:`add_income` adds per-capita income."""
        self._add(ctx, idx, per_household, ctx.reg.households["size"])

    def _fraction(self, ctx: Context) -> np.ndarray:
        """Fraction of the year in effect, by county, of the enrolments
        taking effect this year (float32; empty: the whole year)."""
        fraction = ctx.first_year_fraction.get(self.name)
        return _NO_FRACTION if fraction is None else fraction.astype(np.float32)

    def _add(self, ctx: Context, idx: np.ndarray, amount, size: np.ndarray) -> None:
        fraction = self._fraction(ctx)
        village = self.level == "village"
        row = INCOME_BATCHES.index(self.batch)
        if len(idx):
            ctx.st.batch_written[row] = True
            if ctx.st.batch_stale[row]:  # an earlier year's income: zeros first
                zero_rows(ctx.st.batch_income, [row])
                ctx.st.batch_stale[row] = False
        add_at(ctx.st.batch_income[row], idx,
               np.atleast_1d(_as_numpy(amount)),
               np.float32(ctx.p("programme_income_share")),
               (ctx.st.village_enrolled if village else ctx.st.enrolled)[self.name],
               ctx.reg.households["village"] if village else EMPTY, ctx.year, fraction,
               ctx.reg.households["county"], size)

    def start_of(self, ctx: Context, households: np.ndarray) -> np.ndarray:
        """Year the programme took effect for ``households`` (0: never)."""
        return ctx.st.enrolled[self.name][households]


def _one_floor(ctx: Context, name: str) -> None:
    """Note that programme ``name`` declares a floor this year; a second
    programme declaring one is an error: the top-ups the income update pays
    are counted as the one floor's cost (:func:`model.engine.one_pass.floor_costs`)."""
    if ctx.floor_by is None:
        ctx.floor_by = name
    elif ctx.floor_by != name:
        raise TypeError(f"programmes {ctx.floor_by!r} and {name!r} both declare a floor: one "
                        "programme of a run may top households up to a floor (its top-ups "
                        "are its cost); let the other declare income or apply its effect")


def _as_numpy(value):
    """A Python number as numpy treats it beside float32 (NEP 50: it takes
    the array's type); numpy values unchanged."""
    return value if isinstance(value, (np.ndarray, np.generic)) else np.float32(value)


def select(ctx: Context, stream: int, candidates: np.ndarray, capacity: float, order: int,
           unit: str) -> np.ndarray:
    """The candidates to enrol, at most ``capacity`` households or people.

    Priority by ``order``; exact ties and random order use a counter-based key
    of (seed, programme stream, household id, year).
    """
    if len(candidates) == 0:
        return candidates
    if unit == "people":
        sizes = values_at(ctx.reg.households["size"], candidates)
        people = sizes.sum(dtype=np.int64)
        if capacity >= people:
            return candidates
    elif capacity >= len(candidates):
        return candidates
    key = year_key(ctx.seed, Stream.TARGETING + 16 * stream, ctx.year)
    ids = ctx.reg.households["hh_id"]

    def tie(positions):
        """Tie-break keys of the candidates at ``positions``: only the
        households whose priority ties need them, so few are hashed."""
        return hash_ids(key, ids[candidates[positions]])

    if order == POOREST_FIRST:
        priority = values_at(ctx.st.income, candidates)
    elif order == CLOSEST_FIRST:
        priority = np.maximum(ctx.household_line(candidates) - values_at(ctx.st.income, candidates),
                              0.0)
    else:
        priority = np.zeros(len(candidates), np.float32)
    if unit == "households":
        return candidates[first_k(priority, tie, int(min(capacity, len(candidates))))]
    return candidates[first_people(priority, tie, sizes, capacity)]


def first_people(priority: np.ndarray, tie, size: np.ndarray, capacity: float) -> np.ndarray:
    """Positions, ascending, of the longest run of units in ``(priority,
    tie)`` order whose people (``size``) stay within ``capacity``.

    The run takes every unit below the priority at which the capacity runs
    out (:func:`model.engine.selection.people_threshold`, in linear time)
    and, of the units at that priority, the first in tie-break order that
    still fit: only they are ordered, so only their keys are hashed.
    """
    value, below_people = people_threshold(priority, size, capacity)
    if value is None:
        return np.arange(len(priority))
    at = np.flatnonzero(priority == value)
    at = at[np.argsort(tie(at), kind="stable")]
    fits = below_people + np.cumsum(size[at], dtype=np.int64) <= capacity
    return merge_sorted(np.flatnonzero(priority < value), np.sort(at[fits]))


def first_k(priority: np.ndarray, tie, k: int) -> np.ndarray:
    """Positions of the ``k`` smallest ``(priority, tie)`` pairs, in O(n).

    Everything strictly below the k-th smallest priority is taken; the rest
    of the places go to the units at that priority with the smallest
    tie-break keys. ``tie`` returns the keys of the positions it is given:
    only the tied ones are asked for, so few keys are hashed. When a sample
    bounds the k-th smallest (:func:`smallest_positions`), only the
    positions at or below the bound are read again.
    """
    if k <= 0:
        return np.zeros(0, np.int64)
    few = smallest_positions(priority, k)
    values = priority if few is None else priority[few]
    kth = np.partition(values, k - 1)[k - 1]
    below = np.flatnonzero(values < kth)
    at = np.flatnonzero(values == kth)
    if few is not None:
        below, at = few[below], few[at]
    need = k - len(below)
    if need < len(at):
        at = at[np.argsort(tie(at), kind="stable")[:need]]
    # below is one sorted run (and at too when all of it is taken): the stable
    # sort (timsort) merges runs in linear time
    return np.sort(np.concatenate([below, at]), kind="stable")


SAMPLE = 1 << 16  # priorities sampled to bound the k-th smallest
# households from which poorest_candidates samples the registry: below, the
# sample costs more than listing every candidate saves (at the national 1 %,
# 324,280 households, it added 18 ms to a run of 190 ms)
POOREST_FROM = 64 * SAMPLE


def with_margin(count: float) -> int:
    """The sample's rank at which a bound is read for ``count`` sampled
    units taken: ``count`` raised by about six standard deviations of a
    sampled count, and 16 (so that the bound lies above what is taken,
    but for a very unlucky sample)."""
    return int(count + 6.0 * np.sqrt(count) + 16)


def smallest_positions(values: np.ndarray, k: int) -> np.ndarray | None:
    """Positions (ascending) of the values at or below a bound a little
    above the ``k``-th smallest, so that the ``k`` smallest are among them;
    None when there is no such bound.

    When ``k`` is a small share of many values, a regular sample of
    :data:`SAMPLE` of them gives the bound, and the values at or below it
    are few. If fewer than ``k`` are at or below it (an unlucky sample),
    there is none: the caller reads all the values, as without a sample.
    """
    n = len(values)
    if n > 4 * SAMPLE and 4 * k < n:
        sample = values[::n // SAMPLE]
        # the sample's rank of the k-th smallest, with a margin
        rank = with_margin(len(sample) * k / n)
        if rank < len(sample):
            bound = np.partition(sample, rank)[rank]
            few = indices_where(values <= bound)
            if len(few) >= k:
                return few
    return None


def poorest_candidates(ctx: Context, start: np.ndarray, matched: np.ndarray | None,
                       capacity: float, unit: str) -> np.ndarray | None:
    """The candidates (as :func:`model.engine.bookkeeping.candidate_indices`
    lists them: enrolment starts ``start``, the mask ``matched``) whose
    income is at or below a bound a little above that of the last one
    poorest-first targeting takes within ``capacity`` (households, or
    people when ``unit`` is ``"people"``); None when there is no such bound.

    When the capacity takes a small share of many households (a registry
    of :data:`POOREST_FROM` or more), a regular sample of :data:`SAMPLE`
    of the registry gives the bound, as :func:`smallest_positions` does,
    and one pass lists the candidates at or below it. Every candidate the
    selection takes is below the bound, and so is every one tied with the
    last taken: :func:`select` takes the same households from these as from
    all the candidates, without listing all of them and reading their
    incomes. If these do not fill the capacity (an unlucky sample), there
    is no bound: the caller lists all.
    """
    st, size = ctx.st, ctx.reg.households["size"]
    n = len(start)
    if n < POOREST_FROM or matched is None or not np.isfinite(capacity):
        return None
    step = n // SAMPLE
    sampled = slice(None, None, step)
    among = candidate_indices_numpy(start[sampled], st.status[sampled], matched[sampled])
    income = st.income[sampled][among]
    weight = (size[sampled][among] if unit == "people" else np.ones(len(among))).astype(np.int64)
    taken = capacity / step  # in the sample: households or people
    if 4 * taken >= weight.sum():
        return None
    order = np.argsort(income, kind="stable")
    # the sample's place of the last taken, with a margin
    rank = with_margin(np.searchsorted(np.cumsum(weight[order]), taken))
    if rank >= len(order):
        return None
    poorest = poorer_candidate_indices(start, st.status, matched, st.income, income[order[rank]])
    filled = size[poorest].sum(dtype=np.int64) if unit == "people" else len(poorest)
    return poorest if filled >= capacity else None


class VillageProgramme(Programme):
    """A programme enrolling villages (capacity in villages per year).

    Candidates are villages that have not exited, in order of their number of
    registered poor people, most first (ties by a random key). Subclasses
    override :meth:`village_needs`, :meth:`village_effect` and :meth:`cost`
    (indices are villages).
    """

    level: ClassVar[str] = "village"
    unit: ClassVar[str] = "villages"

    def village_needs(self, ctx: Context) -> np.ndarray:
        raise NotImplementedError

    def need(self, ctx: Context) -> float:
        """Villages in need that hold registered households lacking a granted
        guarantee (NaN if the programme grants none)."""
        if not self.grants:
            return float("nan")
        st, h = ctx.st, ctx.reg.households
        lacking = ((st.guarantees & np.uint8(self.grants)) != self.grants) & ctx.registered()
        has = np.zeros(len(ctx.reg.villages["village_id"]), bool)
        has[h["village"][lacking]] = True
        return float((has & self.village_needs(ctx)).sum())

    def village_effect(self, ctx: Context, villages: np.ndarray, years_in: np.ndarray) -> None:
        raise NotImplementedError

    def enrol(self, ctx: Context) -> np.ndarray:
        p, st = ctx.p, ctx.st
        cap = self.capacity(p) * ctx.scale
        start = st.village_enrolled[self.name]
        if cap < 1:
            return np.zeros(0, np.int64)
        uniform = p("targeting.uniform") > 0
        base = (start == 0) & (st.village_exit_year == 0)
        candidates = np.flatnonzero(base if uniform else base & self.village_needs(ctx))
        if cap < len(candidates):
            poor = registered_people_by_village(ctx)
            key = year_key(ctx.seed, Stream.TARGETING + 16 * self.stream, ctx.year)
            priority = (np.zeros(len(candidates), np.float32) if uniform
                        else -poor[candidates].astype(np.float32))
            candidates = candidates[first_k(priority, lambda at: hash_ids(key, candidates[at]),
                                            int(cap))]
        start[candidates] = p.year
        return candidates

    def _limits(self, p: YearParams) -> tuple[float, float]:
        """As :meth:`Programme._limits`; villages do not exit, so there is
        no limit after exit (``-inf``)."""
        duration = self._param(p, self.duration_parameter, np.inf)
        return (p.year - duration if np.isfinite(duration) else -np.inf), -np.inf

    def is_active(self, ctx: Context, idx=slice(None)) -> np.ndarray:
        """Mask over villages ``idx`` that the programme reaches this year."""
        start = ctx.st.village_enrolled[self.name][idx]
        oldest, _ = self._limits(ctx.p)
        # a delivery backlog starts next year
        return (start > 0) & (start <= ctx.year) & (start > oldest)

    def active(self, ctx: Context) -> np.ndarray:
        """Indices of the villages the programme reaches this year (as
        :meth:`is_active`, in one pass)."""
        start = ctx.st.village_enrolled[self.name]
        oldest, last_exit = self._limits(ctx.p)
        # villages do not exit here; the households' dtypes (status int8, exit
        # year int16), so the kernel compiled for households serves
        status, exit_year = np.zeros(len(start), np.int8), np.zeros(len(start), np.int16)
        return active_indices(start, ctx.year, oldest, status, exit_year, last_exit)

    def step(self, ctx: Context) -> np.ndarray:
        active = self.active(ctx)
        reach = active[self.village_needs(ctx)[active]] if len(active) else active
        start = ctx.st.village_enrolled[self.name]
        if len(reach):
            self.village_effect(ctx, reach, ctx.year - start[reach])
        return active

    def start_of(self, ctx: Context, households: np.ndarray) -> np.ndarray:
        """Year the programme took effect in the villages of ``households``."""
        return ctx.st.village_enrolled[self.name][ctx.reg.households["village"][households]]

    def households_of(self, ctx: Context, villages: np.ndarray) -> np.ndarray:
        """Mask of households living in ``villages``."""
        flag = np.zeros(len(ctx.reg.villages["village_id"]), bool)
        flag[villages] = True
        return flag[ctx.reg.households["village"]]


def registered_people_by_village(ctx: Context) -> np.ndarray:
    """Registered poor people per village (float64; read only: the context
    keeps it until the status changes)."""
    return ctx.registered_people_by_village()
