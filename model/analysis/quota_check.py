"""Can a plan's pathway quotas be absorbed? The income gain a quota implies
against what the batch's programmes give, as parameterised.

A plan that states people out by pathway (``targets.batch_quota``, 五个一批)
asks each batch's programmes to lift that many people over the exit
threshold in the year. For each quota this module puts two figures side by
side, both in yuan per person per year:

- **needed**: the mean shortfall of the quota's people below the exit
  threshold, ``(1 + household_exit.margin)`` times the line of the quota
  year, taking the registered households the batch's programmes match in
  the order most favourable to the plan (closest to the threshold first).
  Incomes are the base year's, grown by ``market_income_growth`` to the
  quota year; households already above the threshold count with no
  shortfall. Quotas of earlier years are assumed met by the households
  closest to the threshold, so a later quota starts further down.
- **given**: the mean per-capita income the batch's household programmes
  add to a matched household at full effect in the quota year
  (:meth:`model.programmes.base.Programme.effect` on a scratch copy of the
  base-year state, ramp complete). Village programmes and the safety net
  (a floor, not an income) are not counted; relocation's farm-income loss
  is not netted.

``given < needed`` means the programme as parameterised cannot deliver the
quota: the plan expects a larger gain per person than the model's programme
gives, or counts people the programme cannot lift.
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from model.engine.codes import INCOME_BATCHES
from model.engine.context import Context, YearParams
from model.engine.rules import lines_for


@dataclasses.dataclass(frozen=True)
class QuotaCheck:
    """One batch quota: people, and needed and given gains (yuan/person/year)."""

    batch: str
    year: int
    quota: float          # persons, at the run's scale
    matched: float        # registered persons the batch's programmes match
    needed: float         # mean shortfall of the quota's people (yuan/person/year)
    given: float          # mean gain the programmes give a matched person (yuan/person/year)
    programmes: tuple[str, ...]

    @property
    def deliverable(self) -> bool:
        return self.matched >= self.quota and self.given >= self.needed


def _grown(params, base_year: int, year: int) -> float:
    factor = 1.0
    for t in range(base_year + 1, year + 1):
        factor *= 1.0 + float(YearParams(params, t)("market_income_growth"))
    return factor


def check(scenario, registry=None, seed: int = 0) -> list[QuotaCheck]:
    """The quota check of every income-batch quota of ``scenario``.

    Parameters
    ----------
    scenario : model.scenario.Scenario
        A plan with ``targets.batch_quota``; quotas (persons) are multiplied
        by its scale, as compare does.
    registry : Registry, optional
        Its registry (default: built at the scenario's scale).
    seed : int
        Seed of the base year's draws (shocks, dibao standards).

    Returns
    -------
    list of QuotaCheck
        In batch and year order; empty when the plan has no income-batch quota.
    """
    from model import runs
    from model.engine.sim import Simulation
    from model.programmes.measures import instances

    quotas = scenario.targets.get("batch_quota") or {}
    if not any(b in INCOME_BATCHES for b in quotas):
        return []
    registry = registry if registry is not None else runs.registry_for(scenario)
    programmes = instances(scenario.programmes)
    params = scenario.params_for(seed)
    sim = Simulation(registry, params, seed, scenario.end_year, programmes, scale=scenario.scale)
    sim._record_base_year()
    base, h = sim.state, registry.households
    size = h["size"].astype(np.float64)
    registered = base.registered()
    out = []
    for batch in (b for b in INCOME_BATCHES if b in quotas):
        progs = [p for p in programmes if p.batch == batch and p.level == "household"]
        done = 0.0                       # people taken by earlier quotas
        for year in sorted(int(y) for y in quotas[batch]):
            quota = float(quotas[batch][year]) * scenario.scale
            p = YearParams(params, year)
            ctx = Context(registry, base, p, seed, *lines_for(p), scale=scenario.scale)
            match = np.zeros(registry.n_households, bool)
            for prog in progs:
                match |= prog.matched(ctx)
            idx = np.flatnonzero(registered & match)
            threshold = ctx.household_line(idx) * (1.0 + p("household_exit.margin"))
            income = base.income[idx] * _grown(params, registry.base_year, year)
            short = np.maximum(threshold - income, 0.0)
            order = np.argsort(short, kind="stable")
            people = np.cumsum(size[idx][order])
            take = (people > done) & (people - size[idx][order] < done + quota)
            taken = order[take]
            needed = (float(np.average(short[taken], weights=size[idx][taken]))
                      if len(taken) else float("nan"))
            out.append(QuotaCheck(batch, year, quota, float(size[idx].sum()), needed,
                                  _given(progs, ctx, idx, size, batch), tuple(p.name for p in progs)))
            done += quota
    return out


def _given(progs, ctx: Context, idx: np.ndarray, size: np.ndarray, batch: str) -> float:
    """Mean per-capita income the programmes add to households ``idx`` at full effect."""
    if not len(idx) or not progs:
        return float("nan")
    scratch = copy.deepcopy(ctx.st)
    scratch.batch_income[:] = 0
    scratch.batch_stale[:] = False
    sctx = Context(ctx.reg, scratch, ctx.p, ctx.seed, ctx.line, ctx.covered_line, ctx.scale)
    full = np.full(len(idx), 100, np.int64)       # years in: every ramp and build complete
    for prog in progs:
        reach = idx[prog.needs(sctx)[idx]]
        if len(reach):
            prog.effect(sctx, reach, full[:len(reach)])
    gain = scratch.batch_income[INCOME_BATCHES.index(batch), idx].astype(np.float64)
    return float(np.average(gain, weights=size[idx]))


def lines(checks: list[QuotaCheck], label: str = "", lang: str = "en") -> list[str]:
    """One report line per quota the programmes cannot deliver (in English,
    or Chinese with ``lang="zh"``)."""
    from model.analysis.report_text import batch_name

    out = []
    zh = lang == "zh"
    who = (f"{label}：" if zh else f"{label}: ") if label else ""
    for c in checks:
        if c.deliverable:
            continue
        programmes = "、".join(c.programmes) if zh else ", ".join(c.programmes)
        if c.matched < c.quota:
            why = (f"仅 {c.matched:,.0f} 名建档立卡人口与{programmes or '任何项目'}匹配" if zh
                   else f"only {c.matched:,.0f} registered people are matched by "
                        f"{programmes or 'no programme'}")
        else:
            why = (f"任务人口距脱贫标准平均每人差 {c.needed:,.0f} 元，而{programmes}增加 "
                   f"{c.given:,.0f} 元" if zh else
                   f"the quota's people are short of the exit threshold by {c.needed:,.0f} "
                   f"yuan a person on average, while {programmes} add {c.given:,.0f}")
        out.append(f"- {who}{batch_name(c.batch, 'zh')}{c.year}年，{c.quota:,.0f} 人：{why}。"
                   if zh else f"- {who}{c.batch} {c.year}, {c.quota:,.0f} people: {why}.")
    return out
