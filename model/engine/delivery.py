"""In-year delivery (DESIGN 3.5): when this year's assistance takes effect.

Money and people are finite and late. For each county and year a small
discrete-event model (one :class:`simpy.Environment` per county) decides when
the enrolments of each programme take effect:

1. **Funds.** The year's money for a programme arrives in two tranches: the
   share the centre issued in advance is passed down by the province by
   ``funds_advance_month`` (end of March), the rest ``funds_forward_lag``
   months (two) after the centre issues it (seed 002 §一(二)6). Provincial
   funds follow the same timetable (same item: 下达时限要求原则上一致).
2. **Work teams** (驻村工作队) visit and file the newly enrolled households.
   The county's teams (``teams_per_village`` x villages; Xiangxi runs one team
   for two villages, seed 003 §三(三)) work through one shared pool of visits
   at ``households_per_team_month`` each; every programme gets the same share
   of its enrolments visited at any time (processor sharing).
3. **Approval.** Each programme's line department in the county (行业部门:
   seed 002 §一(二)8 has each department arrange its own projects and funds)
   approves that programme's visited enrolments first come, first served, at
   ``approval_per_month`` households a month; an approval then
   takes ``approval_months`` (drawn per county, programme and year within
   +-``approval_spread`` of it).
4. **Funding.** An approved enrolment waits, first come first served within its
   programme, until the money that has arrived covers it; it is then paid
   (money reaches village and household) and
5. **building or placement** starts: it takes ``build_months[p]`` months
   (photovoltaic station, relocation housing, industry project, training
   course...), after which the assistance is in effect.

Whatever is not in effect by 31 December is the **backlog**, carried to the
next year; money not paid out by then is **unspent** and goes back to the
province in the next fiscal year (seed 002 §一(二)6: 不能按时到村到户的资金,
在下一财政年度内全额无条件返还省级财政).

The model runs per county and programme, never per household: each
programme's new enrolments are split into ``lots`` near-equal lots (integer
households), and the simulated entities are those lots. The lot partition
depends only on the enrolments, and every stage is first come, first served
in a fixed order, so the results are monotone: later funds, fewer teams, a
slower office or longer builds never put more households in effect, nor any
earlier. Time is in months from 1 January (``t = 3`` is the end of March);
an enrolment is in effect this year if it starts before ``t = 12``.

Carry-over between years
------------------------
The engine passes ``enrolments`` = new enrolments + last year's backlog and,
optionally, last year's :attr:`DeliveryResult.carry`: backlog households
that were already approved skip the visit and approval and wait for this
year's money (last year's was returned); households whose building was paid
for and started keep their remaining build time (rounded up to whole months)
and need no money. Without ``carry`` the whole backlog starts from the visit
again, so a build longer than a year would never finish.

Randomness
----------
The only random draw is the approval time of each (county, programme, year):
a counter-based hash of (seed, stream, county id, year) from
:mod:`model.random`, with stream ``DELIVERY_STREAM + 16 * k`` for the
programme's own number ``k`` (``programme_ids``), so results are the same
for a seed whatever the order of counties or programmes.

Examples
--------
>>> import numpy as np
>>> from model.engine.delivery import Settings, deliver
>>> r = deliver(2016, np.array([[10, 0]]), np.array([[1e5, 0.0]]), Settings.instant(2), seed=1)
>>> r.in_effect.tolist(), r.backlog.tolist(), r.fraction_of_year.tolist()
([[10, 0]], [[0, 0]], [[1.0, 0.0]])
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import simpy

from model.engine.delivery_timeline import (
    MONTHS,
    county_timelines,
    payable,
    summarise_rows,
    tranche_events,
)
from model.random import Stream, first_uniforms, year_key

# per programme the stream is DELIVERY_STREAM + 16 * k like the other
# per-programme streams
DELIVERY_STREAM = int(Stream.DELIVERY)
MAX_BUILD_MONTHS = 24
CARRY_BINS = MAX_BUILD_MONTHS + 1  # carry.building[..., k]: in effect at month k next year


@dataclass(frozen=True)
class Settings:
    """Delivery settings of one year (scalars, plus build time per programme).

    Attributes
    ----------
    build_months : tuple of float
        Build or placement time per programme, in months (0 to 24), in the
        engine's programme order.
    funds_advance_share : float
        Share (0..1) of the year's money issued in advance by the centre.
    funds_advance_month : float
        Month (from 1 January) by which the province passes the advance down.
    funds_rest_issue_month : float
        Month at which the centre issues the rest.
    funds_forward_lag : float
        Months the province takes to pass the rest down.
    approval_per_month : float
        Households each programme's county office approves per month
        (``inf``: no queue).
    approval_months : float
        Time an approval takes once the office handles it, in months.
    approval_spread : float
        Relative spread (0..1) of the approval time across counties and
        programmes: uniform on ``approval_months * (1 +- spread)``.
    teams_per_village : float
        Work teams per village (``inf``: visits are instant).
    households_per_team_month : float
        Households one team visits and files per month (``inf``: instant).
    lots : int
        Lots each programme's new enrolments are split into (resolution).
    scale : float
        Share (0..1] of the real households that are simulated; money buys
        whole real households (:func:`model.engine.delivery_timeline.payable`).
    """

    build_months: tuple[float, ...]
    funds_advance_share: float = 1.0
    funds_advance_month: float = 0.0
    funds_rest_issue_month: float = 0.0
    funds_forward_lag: float = 0.0
    approval_per_month: float = math.inf
    approval_months: float = 0.0
    approval_spread: float = 0.0
    teams_per_village: float = math.inf
    households_per_team_month: float = math.inf
    lots: int = 8
    scale: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "build_months", tuple(float(b) for b in self.build_months))
        for f in fields(self):
            value = getattr(self, f.name)
            for v in (value if f.name == "build_months" else (value,)):
                if math.isnan(v) or v < 0:
                    raise ValueError(f"delivery setting {f.name} = {value!r}: expected >= 0")
        if not 0.0 <= self.funds_advance_share <= 1.0:
            raise ValueError(f"delivery setting funds_advance_share = "
                             f"{self.funds_advance_share!r}: expected a share in [0, 1]")
        if not 0.0 <= self.approval_spread <= 1.0:
            raise ValueError(f"delivery setting approval_spread = {self.approval_spread!r}: "
                             "expected a share in [0, 1]")
        if any(b > MAX_BUILD_MONTHS for b in self.build_months):
            raise ValueError(f"delivery setting build_months = {self.build_months}: expected "
                             f"at most {MAX_BUILD_MONTHS} months")
        if not 0.0 < self.scale <= 1.0:
            raise ValueError(f"delivery setting scale = {self.scale!r}: expected a share in (0, 1]")
        if self.lots != int(self.lots) or self.lots < 1:
            raise ValueError(f"delivery setting lots = {self.lots!r}: expected an integer >= 1")
        object.__setattr__(self, "lots", int(self.lots))

    @classmethod
    def instant(cls, n_programmes: int) -> Settings:
        """Everything in effect from 1 January: money at once, unlimited teams
        and office, no approval or build time (the engine without delivery)."""
        return cls(build_months=(0.0,) * n_programmes)

    @property
    def rest_month(self) -> float:
        """Month at which the rest of the money reaches the county."""
        return self.funds_rest_issue_month + self.funds_forward_lag

    def team_rate(self, villages: np.ndarray | None, n_counties: int) -> np.ndarray:
        """Visits per month by county (households/month); ``inf`` if unlimited."""
        if math.isinf(self.teams_per_village) or math.isinf(self.households_per_team_month):
            return np.full(n_counties, np.inf)
        if villages is None:
            raise ValueError("deliver: work-team capacity is finite "
                             f"(teams_per_village = {self.teams_per_village}), so the number of "
                             "villages per county is needed: pass villages=")
        return self.teams_per_village * self.households_per_team_month * villages


def settings_from_params(p: Callable[[str], float], programmes: Sequence[str]) -> Settings:
    """Settings of one year from declared parameters.

    Parameters
    ----------
    p : callable
        ``p(name)`` returns the value in force this year of a parameter
        declared in ``model/parameters.toml`` (e.g.
        :class:`model.programmes.base.YearParams`).
    programmes : sequence of str
        Programme names in the engine's order; each needs a declared
        ``<name>.build_months``.

    Returns
    -------
    Settings
        :meth:`Settings.instant` when ``delivery.enabled`` is 0.
    """
    if not p("delivery.enabled"):
        return Settings.instant(len(programmes))
    return Settings(
        build_months=tuple(float(p(f"{name}.build_months")) for name in programmes),
        funds_advance_share=float(p("delivery.funds_advance_share")),
        funds_advance_month=float(p("delivery.funds_advance_month")),
        funds_rest_issue_month=float(p("delivery.funds_rest_issue_month")),
        funds_forward_lag=float(p("delivery.funds_forward_lag")),
        approval_per_month=float(p("delivery.approval_per_month")),
        approval_months=float(p("delivery.approval_months")),
        approval_spread=float(p("delivery.approval_spread")),
        teams_per_village=float(p("delivery.teams_per_village")),
        households_per_team_month=float(p("delivery.households_per_team_month")),
        lots=p("delivery.lots"))


@dataclass(frozen=True)
class Carry:
    """Backlog households already past some stages, carried to next year.

    Attributes
    ----------
    approved : numpy.ndarray
        ``[c, p]`` int64: households approved but not paid (they need next
        year's money; this year's is returned).
    building : numpy.ndarray
        ``[c, p, CARRY_BINS]`` int64: households paid and being built;
        ``building[c, p, k]`` take effect at month ``k`` of next year.
    building_total : numpy.ndarray, optional
        ``[c, p]``: ``building`` summed over months (computed when not given;
        a carry's arrays are never changed in place).
    checked : bool, optional
        True for the carry :func:`deliver` returns: its arrays are known to
        be well formed, and the next year's :func:`deliver` does not check
        them again (it still checks them against that year's enrolments).
    """

    approved: np.ndarray
    building: np.ndarray
    building_total: np.ndarray | None = None
    checked: bool = field(default=False, compare=False)

    def __post_init__(self):
        if self.building_total is None:
            object.__setattr__(self, "building_total", np.asarray(self.building).sum(axis=-1))

    @classmethod
    def empty(cls, n_counties: int, n_programmes: int) -> Carry:
        return cls(np.zeros((n_counties, n_programmes), np.int64),
                   np.zeros((n_counties, n_programmes, CARRY_BINS), np.int64),
                   np.zeros((n_counties, n_programmes), np.int64), checked=True)

    @property
    def total(self) -> np.ndarray:
        """``[c, p]`` households carried past the visit (approved + building)."""
        return self.approved + self.building_total


@dataclass(frozen=True)
class DeliveryResult:
    """Delivery of one year, arrays over (county, programme).

    Attributes
    ----------
    in_effect : numpy.ndarray
        ``[c, p]`` int64 households whose assistance starts this year.
    backlog : numpy.ndarray
        ``[c, p]`` int64 households carried to next year
        (``in_effect + backlog == enrolments``).
    fraction_of_year : numpy.ndarray
        ``[c, p]`` float64: mean fraction (0..1) of the year in effect among
        the households in effect; 0 where none is.
    monthly_share : numpy.ndarray
        ``[c, p, 12]`` float64: share of this year's enrolments in effect at
        the end of each month (before ``t = m + 1``); 0 where none enrolled.
    monthly_households : numpy.ndarray
        ``[p, 12]`` float64: households in effect at the end of each month
        in all counties, ``monthly_share`` times the enrolments summed over
        the counties in county order.
    spent : numpy.ndarray
        ``[c, p]`` float64 yuan paid out to villages and households.
    unspent : numpy.ndarray
        ``[c, p]`` float64 yuan not paid out by 31 December, returned to the
        province in the next fiscal year.
    carry : Carry
        The part of the backlog already approved or being built, to pass to
        next year's :func:`deliver`.
    """

    in_effect: np.ndarray
    backlog: np.ndarray
    fraction_of_year: np.ndarray
    monthly_share: np.ndarray
    monthly_households: np.ndarray
    spent: np.ndarray
    unspent: np.ndarray
    carry: Carry

    @property
    def household_years(self) -> np.ndarray:
        """``[c, p]`` household-years in effect this year (in_effect x fraction)."""
        return self.in_effect * self.fraction_of_year


def approval_delays(settings: Settings, year: int, seed: int, county_ids: np.ndarray,
                    programme_ids: np.ndarray) -> np.ndarray:
    """Approval time per county and programme in months, ``[c, p]``.

    Uniform on ``approval_months * (1 +- approval_spread)``; the draw is a
    hash of (seed, ``DELIVERY_STREAM + 16 * k``, county id, year).
    """
    base = settings.approval_months
    out = np.full((len(county_ids), len(programme_ids)), base)
    if base == 0 or settings.approval_spread == 0:
        return out
    for j, k in enumerate(programme_ids):
        key = year_key(seed, DELIVERY_STREAM + 16 * int(k), year)
        u = first_uniforms(key, county_ids)
        out[:, j] = base * (1.0 + settings.approval_spread * (2.0 * u.astype(np.float64) - 1.0))
    return out


def _lots(n: np.ndarray, lots: int) -> np.ndarray:
    """``[p, lots]`` near-equal integer split of ``n[p]`` households."""
    k = np.arange(lots)
    return n[:, None] // lots + (k[None, :] < n[:, None] % lots)


class _County:
    """One county's year as a simpy model.

    Processes: ``funds`` (two tranches), ``teams`` (visits, one shared pool),
    one ``office`` per programme (its approval queue, a :class:`simpy.Store`
    of its visited lots) and one ``programme`` process per programme with
    enrolments, which takes
    its approved lots in order from a deque (cheaper than a Store per
    programme), waits for money and starts the build. After :meth:`run`,
    ``starts`` holds ``(programme, households, month paid)`` and ``approved``
    the households approved this year per programme.
    """

    def __init__(self, lots: np.ndarray, carried: np.ndarray, affordable: np.ndarray,
                 delay: np.ndarray, team_rate: float, office_rate: float,
                 tranches: list[tuple[float, float]], scale: float = 1.0):
        env = self.env = simpy.Environment()
        self.scale = scale
        npr = len(lots)
        self.rounds = [r for r in lots.T.tolist() if any(r)]  # round k: lot k of each programme
        self.delay, self.affordable = delay.tolist(), affordable.tolist()
        self.team_rate, self.office_rate = team_rate, office_rate
        self.share = 0.0  # share of the year's money arrived so far
        self.arrival = env.event()  # triggered at each tranche, then renewed
        self.starts: list[tuple[int, int, float]] = []
        self.approved = [0] * npr
        self.visited = [simpy.Store(env) for _ in range(npr)]
        self.ready: list[deque] = [deque() for _ in range(npr)]  # (month ready, households)
        self.wake: list[simpy.Event | None] = [None] * npr  # set while a programme idles
        env.process(self.funds(tranches))
        env.process(self.teams())
        for p in range(npr):
            env.process(self.office(p))
        for p, n in enumerate(carried.tolist()):
            if n > 0:  # approved last year: first in line for money
                self.ready[p].append((0.0, n))
            if n > 0 or lots[p].any():
                env.process(self.programme(p))

    def run(self) -> None:
        self.env.run(until=MONTHS)

    def funds(self, tranches):
        """Money arrives: cumulative share ``s`` of the budget at month ``t``."""
        for t, s in tranches:
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            self.share = s
            arrived, self.arrival = self.arrival, self.env.event()
            arrived.succeed()

    def teams(self):
        """Visit the new enrolments round by round at the county's team rate."""
        if self.team_rate <= 0:
            return  # no teams: nobody is visited
        for sizes in self.rounds:
            if self.team_rate < math.inf:
                yield self.env.timeout(sum(sizes) / self.team_rate)
            for p, n in enumerate(sizes):
                if n:
                    self.visited[p].put(n)

    def office(self, p: int):
        """Approve programme ``p``'s visited lots first come, first served."""
        if self.office_rate <= 0:
            return
        while True:
            n = yield self.visited[p].get()
            if self.office_rate < math.inf:
                yield self.env.timeout(n / self.office_rate)
            self.approved[p] += n
            self.ready[p].append((self.env.now + self.delay[p], n))
            if self.wake[p] is not None:
                self.wake[p].succeed()
                self.wake[p] = None

    def programme(self, p: int):
        """Pay approved lots in order as money allows; each payment starts a build."""
        env, queue, paid, budget_for = self.env, self.ready[p], 0, self.affordable[p]
        while True:
            if not queue:
                self.wake[p] = env.event()
                yield self.wake[p]
            ready, n = queue.popleft()
            if ready > env.now:
                yield env.timeout(ready - env.now)
            while n:
                if budget_for == math.inf:  # no money needed
                    take = n
                else:
                    take = min(n, int(payable(self.share, budget_for, self.scale)) - paid)
                if take > 0:
                    self.starts.append((p, take, env.now))
                    paid += take
                    n -= take
                if n:
                    yield self.arrival


def _check(name: str, a, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
    a = np.asarray(a)
    if a.shape != shape:
        raise ValueError(f"deliver: {name} has shape {a.shape}, expected {shape}")
    if (np.issubdtype(dtype, np.integer) and not np.issubdtype(a.dtype, np.integer)
            and not np.array_equal(a, np.round(a))):
        raise ValueError(f"deliver: {name} must hold whole numbers of households")
    a = a.astype(dtype, copy=False)
    if (a.dtype.kind == "f" and np.isnan(a).any()) or (a < 0).any():
        raise ValueError(f"deliver: {name} has negative or NaN values")
    return a


def _affordable(budget: np.ndarray, needing: np.ndarray, unit_cost) -> np.ndarray:
    """Households the whole budget pays for, ``[c, p]``; ``inf`` if no money is needed.

    By default the budget pays exactly for the ``needing`` households (and a
    zero budget means the programme needs no money).
    """
    if unit_cost is None:
        return np.where(budget > 0, needing.astype(np.float64), np.inf)
    unit = np.broadcast_to(np.asarray(unit_cost, np.float64), budget.shape)
    if np.isnan(unit).any() or (unit < 0).any():
        raise ValueError("deliver: unit_cost must be >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(unit > 0, budget / unit, np.inf)


def _tranches(settings: Settings) -> list[tuple[float, float]]:
    """``(month, cumulative share of the year's money arrived)``, by month."""
    amounts = [(settings.funds_advance_month, settings.funds_advance_share),
               (settings.rest_month, 1.0 - settings.funds_advance_share)]
    times = sorted({t for t, _ in amounts})
    return [(t, min(1.0, sum(a for u, a in amounts if u <= t))) for t in times]


def deliver(year: int, enrolments: np.ndarray, budget: np.ndarray, settings: Settings,
            seed: int, *, villages: np.ndarray | None = None, carry: Carry | None = None,
            unit_cost: np.ndarray | float | None = None, county_ids: np.ndarray | None = None,
            programme_ids: Sequence[int] | None = None, events: bool = False) -> DeliveryResult:
    """Run one year of delivery for every county and programme.

    Parameters
    ----------
    year : int
        Calendar year (keys the random approval times).
    enrolments : array_like of int, shape (C, P)
        Households newly enrolled this year plus last year's backlog.
    budget : array_like of float, shape (C, P)
        Yuan available this year for these enrolments (the money that arrives
        in tranches; returned if not paid out).
    settings : Settings
        Delivery settings of the year (:func:`settings_from_params`).
    seed : int
        Seed of the counter-based random numbers.
    villages : array_like, shape (C,), optional
        Villages with work teams per county; needed when team capacity is
        finite.
    carry : Carry, optional
        Last year's :attr:`DeliveryResult.carry`; must not exceed
        ``enrolments``. Default: the whole backlog starts from the visit.
    unit_cost : float or array_like broadcastable to (C, P), optional
        Yuan per household. Default: ``budget`` divided by the households that
        need money this year (the budget pays exactly for them). A programme
        with no money needed (unit cost 0) does not wait for funds.
    county_ids : array_like of int, shape (C,), optional
        Stable county ids for the random draws (default ``0..C-1``); with
        them, reordering counties reorders the results and changes nothing else.
    programme_ids : sequence of int, length P, optional
        Stable programme numbers for the random draws (default ``0..P-1``).
    events : bool, optional
        Run every county through the event model (:class:`_County`) instead of
        its closed form (:mod:`model.engine.delivery_timeline`); the results
        are the same bit for bit, only slower.

    Returns
    -------
    DeliveryResult
    """
    enrolments = np.asarray(enrolments)
    if enrolments.ndim != 2:
        raise ValueError(f"deliver: enrolments must be (counties, programmes), got shape "
                         f"{enrolments.shape}")
    nc, npr = enrolments.shape
    enrolments = _check("enrolments", enrolments, (nc, npr), np.int64)
    budget = _check("budget", budget, (nc, npr))
    if not np.isfinite(budget).all():
        raise ValueError("deliver: budget must be finite")
    if len(settings.build_months) != npr:
        raise ValueError(f"deliver: settings.build_months has {len(settings.build_months)} "
                         f"programmes, enrolments {npr}")
    carry = carry if carry is not None else Carry.empty(nc, npr)
    if not (carry.checked and carry.approved.shape == (nc, npr)):
        _check("carry.approved", carry.approved, (nc, npr), np.int64)
        _check("carry.building", carry.building, (nc, npr, CARRY_BINS), np.int64)
    building = carry.building_total
    if (carry.approved + building > enrolments).any():
        raise ValueError("deliver: carry exceeds enrolments (enrolments must include the "
                         "carried backlog)")
    county_ids = np.arange(nc) if county_ids is None else _check("county_ids", county_ids,
                                                                 (nc,), np.int64)
    programme_ids = np.arange(npr) if programme_ids is None else _check(
        "programme_ids", programme_ids, (npr,), np.int64)
    if villages is not None:
        villages = _check("villages", villages, (nc,))
    team_rate = settings.team_rate(villages, nc)
    build = np.array(settings.build_months)

    needing = enrolments - building  # households to be paid this year
    new = needing - carry.approved  # households to be visited and approved
    affordable = _affordable(budget, needing, unit_cost)
    delay = approval_delays(settings, year, seed, county_ids, programme_ids)
    tranches = _tranches(settings)
    if events:
        rows, approved = _county_events(range(nc), new, carry.approved, affordable, delay,
                                        team_rate, settings, tranches)
    else:
        rows, approved = _county_timelines(new, carry.approved, affordable, delay, team_rate,
                                           settings, tranches)
    return _summarise(enrolments, budget, build, carry, approved, rows, affordable)


def _county_events(counties, new, carried, affordable, delay, team_rate, settings,
                   tranches) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Payment rows ``(county, programme, households, month)`` and approvals
    ``[c, p]`` of the given counties, one event model each."""
    nc, npr = new.shape
    starts = []
    approved = np.zeros((nc, npr), np.int64)
    for c in counties:
        if not (new[c].any() or carried[c].any()):
            continue
        county = _County(_lots(new[c], settings.lots), carried[c], affordable[c], delay[c],
                         float(team_rate[c]), settings.approval_per_month, tranches,
                         settings.scale)
        county.run()
        approved[c] = county.approved
        starts.extend((c, p, n, t) for p, n, t in county.starts)
    rows = np.array(starts, np.float64).reshape(-1, 4)
    return (rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64),
            rows[:, 2].astype(np.int64), rows[:, 3]), approved


def _county_timelines(new, carried, affordable, delay, team_rate, settings,
                      tranches) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """As :func:`_county_events`, for every county, in closed form
    (:func:`model.engine.delivery_timeline.county_timelines`); the few counties
    whose order of events only the event model knows go through it."""
    nc, npr = new.shape
    times, shares, scheduled = tranche_events(tranches)
    pairs = int(np.count_nonzero((new > 0) | (carried > 0)))
    size = pairs * (settings.lots + 1) * (len(times) + 1)
    rows = (np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.int64),
            np.empty(size, np.float64))
    approved = np.zeros((nc, npr), np.int64)
    fallback = np.zeros(nc, bool)
    n = county_timelines(np.ascontiguousarray(new, np.int64),
                         np.ascontiguousarray(carried, np.int64),
                         np.ascontiguousarray(affordable, np.float64),
                         np.ascontiguousarray(delay, np.float64),
                         np.ascontiguousarray(team_rate, np.float64),
                         float(settings.approval_per_month), settings.lots,
                         float(settings.scale), times, shares,
                         scheduled, *rows, approved, fallback)
    rows = tuple(r[:n] for r in rows)
    if fallback.any():
        counties = np.flatnonzero(fallback)
        more, approved_there = _county_events(counties, new, carried, affordable, delay,
                                              team_rate, settings, tranches)
        approved[counties] = approved_there[counties]
        rows = tuple(np.concatenate([a, b]) for a, b in zip(rows, more))
    return rows, approved


def _summarise(enrolments, budget, build, carry, approved, rows,
               affordable) -> DeliveryResult:
    """Turn payment rows ``(county, programme, households, month paid)`` (and
    carried builds) into the result arrays. Sums run over the rows of each
    county and programme in the order paid."""
    nc, npr = enrolments.shape
    in_effect, paid = np.zeros((nc, npr), np.int64), np.zeros((nc, npr), np.int64)
    fraction, monthly = np.zeros((nc, npr)), np.zeros((nc, npr, MONTHS))
    monthly_households = np.zeros((npr, MONTHS))
    carry_building = np.zeros((nc, npr, CARRY_BINS), np.int64)
    carry_total = np.zeros((nc, npr), np.int64)
    summarise_rows(*rows, np.asarray(build, np.float64),
                   np.ascontiguousarray(carry.building, np.int64),
                   np.ascontiguousarray(carry.building_total, np.int64), enrolments, in_effect,
                   fraction, monthly, monthly_households, carry_building, carry_total, paid)
    carry_approved = carry.approved + approved - paid

    # unspent: the share of the budget whose households were not paid
    finite = np.isfinite(affordable) & (affordable > 0)
    share_paid = np.divide(paid, affordable, out=np.zeros((nc, npr)), where=finite)
    unspent = np.maximum(np.where(finite, budget * (1.0 - share_paid), budget), 0.0)
    backlog = enrolments - in_effect
    carry = Carry(carry_approved, carry_building, carry_total, checked=True)
    assert (carry_approved >= 0).all() and (carry.total <= backlog).all()
    return DeliveryResult(in_effect, backlog, fraction, monthly, monthly_households,
                          budget - unspent, unspent, carry)
