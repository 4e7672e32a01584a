"""The measures of the seed plans, one small class each.

Defaults and their references are in ``model/parameters.toml`` under each
programme's name. Every class states who it needs, whom precise targeting
matches, its effect and its cost; :mod:`model.programmes.base` does the rest.
Income effects are per capita (yuan/person/year) in the programme's pathway.
"""

from __future__ import annotations

import numpy as np

from model.engine.bookkeeping import (
    or_at,
    or_in_units,
    product_at,
)
from model.engine.codes import HOUSING, MEDICAL, SCHOOLING, WATER
from model.engine.one_pass import Floor, Grant, Income, Lookup, PerMember, floor_costs
from model.engine.rules import county_dibao_standards
from model.engine.state import per_student
from model.programmes.base import Context, Programme, VillageProgramme, registered_people_by_village
from model.programmes.means_test import safety_net_eligible
from model.random import Stream, year_key
from model.registry.tables import CAUSES

# causes that production and employment programmes address (precise targeting)
_PRODUCTIVE = np.isin(np.arange(len(CAUSES)), [CAUSES.index(c) for c in (
    "lack_of_funds", "lack_of_skills", "lack_of_land", "lack_of_water", "disaster",
    "poor_transport", "lack_of_motivation")])


def _productive_cause(ctx: Context) -> np.ndarray:
    return _PRODUCTIVE[ctx.reg.households["cause"]]


def _students(ctx: Context) -> np.ndarray:
    h = ctx.reg.households
    return (h["students_preschool"] + h["students_compulsory"] + h["students_upper"]
            + h["students_university"])


def take_up_rate(p) -> float:
    """The year's take-up (1/year) of households with labour below the dibao
    standard: the fitted ``safety_net.take_up``, with the share
    ``safety_net.take_up_convergence`` of its gap to full take-up closed."""
    fitted = p("safety_net.take_up")
    return fitted + (1.0 - fitted) * p("safety_net.take_up_convergence")


class SafetyNet(Programme):
    """低保 / 五保 兜底: households without labour, and those already in dibao
    or wubao, are topped up to the dibao standard, which rises to meet the
    poverty line (两线合一). An entitlement: everyone eligible is covered.

    Households with labour whose income last year was below their county's
    dibao standard are taken in too (动态应保尽保), each year with the
    probability :func:`take_up_rate` (yearly, 0..1), drawn per household
    and year. With ``safety_net.means_test`` on, households registered as
    dibao, those taken in and the general households without labour stay
    covered only while their income before the top-up last year was below
    the standard (有进有出: the yearly review); households registered as
    wubao (特困, without labour, income or support) stay covered. With it
    off, once in, a household stays covered while the programme is
    active."""

    name, batch, stream, entitlement = "safety_net", "safety_net", 1, True
    description = "dibao / wubao top-up to the dibao standard"
    cost_after_income = True  # the top-up is known after the income update
    # last year's incomes and the enrolments, which only add households already in it
    needs_reads = "year start"
    reads_years = False
    # the means test can lapse an enrolment that stays on the books: the
    # record counts the households the floor reaches this year
    counts_reached = True

    def needs(self, ctx):
        h, st = ctx.reg.households, ctx.st
        return safety_net_eligible(
            h["category"], h["labourers"], st.enrolled[self.name], st.income, st.topup,
            h["county"], self._standard(ctx), ctx.p("safety_net.means_test") > 0, h["hh_id"],
            year_key(ctx.seed, Stream.TAKE_UP + 16 * self.stream, ctx.year), take_up_rate(ctx.p))

    def _standard(self, ctx) -> np.ndarray:
        """Each county's dibao standard this year (float32, yuan/person/year)."""
        standard = ctx.drawn.get((self.name, "standard"))
        if standard is None:
            standard = ctx.drawn[(self.name, "standard")] = county_dibao_standards(
                ctx.p, ctx.reg.counties["county_id"], ctx.seed)
        return standard

    def floor(self, ctx):
        return Floor(self._standard(ctx))

    def cost(self, ctx, new, active):
        # the top-up paid to the households the floor reached
        size = ctx.reg.households["size"]
        if active is None:
            return 0.0, floor_costs(ctx.county_starts, ctx.st.topup, size)
        return 0.0, product_at(active, ctx.st.topup, size)


class Medical(Programme):
    """健康扶贫: premium paid, reimbursement raised, out-of-pocket cost capped
    (catastrophic cover and medical assistance). An entitlement of every
    registered household."""

    name, batch, stream, entitlement = "medical", "guarantee", 2, True
    needs_reads = "registry"
    reads_years = False
    grants = MEDICAL
    description = "premium subsidy, higher reimbursement, out-of-pocket cap"

    def needs(self, ctx):
        return np.ones(ctx.reg.n_households, bool)

    def grant(self, ctx):
        # medical_cover: the terms medical.reimbursement and medical.oop_cap apply
        return Grant(MEDICAL, flag="medical_cover", recurring=self._recurring(ctx))

    def _recurring(self, ctx) -> Lookup:
        """Premiums plus the expected (not realised) extra reimbursement of
        each household, by its ill members and its size."""
        p, h = ctx.p, ctx.reg.households
        extra = max(p("medical.reimbursement") - p("illness.reimbursement"), 0.0)
        ill = np.arange(21)
        events = np.minimum(p("illness.base_rate") + p("illness.rate_per_ill") * ill, 1.0)
        by_ill = (events * p("illness.cost_mean") * extra).astype(np.float32)
        by_size = (p("medical.premium") * np.arange(21)).astype(np.float32)
        return Lookup(by_ill, h["ill"], by_size, h["size"])

    def cost(self, ctx, new, active):
        return 0.0, None if active is None else self._recurring(ctx).at(active)


class Education(Programme):
    """教育扶贫: grants per student by stage, dropouts brought back to school,
    and vocational graduates who later join the labour force at a higher wage."""

    name, batch, stream = "education", "education", 3
    needs_reads = "registry"
    grants = SCHOOLING
    description = "grants by stage, no dropout, vocational graduates"

    def needs(self, ctx):
        return (_students(ctx) > 0) | (ctx.reg.households["dropouts"] > 0)

    def _grant(self, ctx) -> np.ndarray:
        """Each household's grants this year, per member (float32,
        yuan/person/year): computed for every household once, and again
        only when the grants change."""
        amounts = tuple(ctx.p("education.grant"))
        kept = ctx.lasting.get((self.name, "grant"))
        if kept is None or kept[0] != amounts:
            kept = ctx.lasting[(self.name, "grant")] = (amounts, per_student(ctx.reg, amounts))
        return kept[1]

    def income(self, ctx):
        # the grants reach the households' students (a guarantee of schooling,
        # and what the programme pays); a vocational graduate joins the labour
        # force at a higher wage after the years of training
        p = ctx.p
        return Income(self._grant(ctx), per_person=True, bits=SCHOOLING, costs_amount=True,
                      later_from=p("education.vocational_years"),
                      later_added=p("education.graduate_wage") * p("education.graduate_net_share"),
                      later_who=ctx.reg.households["students_upper"])

    def cost(self, ctx, new, active):
        return 0.0, None if active is None else self.income(ctx).recurring(
            active, ctx.reg.households["size"])


class Housing(Programme):
    """危房改造: unsafe houses are rebuilt or repaired within the year."""

    name, batch, stream = "housing", "guarantee", 4
    needs_reads = "registry"
    reads_years = False
    grants = HOUSING
    description = "rebuilding or repairing unsafe houses"

    def needs(self, ctx):
        return ctx.reg.households["housing_safe"] == 0

    def grant(self, ctx):
        return Grant(HOUSING)

    def unit_cost(self, p):
        new_cost, repair_cost = p("housing.cost")
        share = p("housing.share_new")
        return share * new_cost + (1.0 - share) * repair_cost

    def cost(self, ctx, new, active):
        return self.unit_cost(ctx.p), 0.0


class Relocation(Programme):
    """易地扶贫搬迁: households in harsh areas move after the build time; the
    new house is safe with safe water, farm income falls, and follow-up
    support (jobs near the site) adds income. Capacity in people."""

    name, batch, stream, unit = "relocation", "relocation", 5, "people"
    needs_reads = "registry"
    grants = HOUSING | WATER
    description = "relocation from harsh areas"

    def needs(self, ctx):
        return ctx.reg.households["harsh_area"] == 1

    def effect(self, ctx, idx, years_in):
        st, p = ctx.st, ctx.p
        build = p("relocation.build_years")
        moved = idx[years_in >= build]
        just_moved = idx[years_in == build]
        or_at(st.guarantees, moved, np.uint8(HOUSING | WATER))
        st.market_base[just_moved] *= np.float32(1.0 - p("relocation.farm_loss"))
        self.add_household_income(ctx, moved, np.float32(p("relocation.job_income")))

    def unit_cost(self, p):
        return p("relocation.cost") * 3.0  # per household of about three people

    def cost(self, ctx, new, active):
        return PerMember(ctx.p("relocation.cost")), 0.0


class IndustrySupport(Programme):
    """产业帮扶: subsidies and interest-free microcredit for a farm or business;
    operating income after a ramp-up, with a yearly failure hazard."""

    name, batch, stream = "industry", "production", 6
    needs_reads = "registry"
    description = "industry support with microcredit"

    def needs(self, ctx):
        return ctx.reg.households["labourers"] > 0

    # precise targeting matches every labour household, whatever its main
    # cause: the plans support everyone who can work (seed 000 §三(一)1,
    # seed 003 §二(一): 有劳动能力的贫困人口), not only the ~23 % whose main
    # cause is "productive"; the default matched = needs applies

    def income(self, ctx):
        return Income(ctx.p("industry.gain"), ramp=self._param(ctx.p, "ramp", 1.0))

    def unit_cost(self, p):
        interest = p("industry.loan") * p("industry.interest_rate") * p("industry.loan_years")
        return p("industry.subsidy") + p("industry.loan_share") * interest

    def cost(self, ctx, new, active):
        return self.unit_cost(ctx.p), 0.0


class TransferEmployment(Programme):
    """转移就业: training and placement of one labourer; the household gains a
    share of the migrant wage while the job lasts; employers get a bonus."""

    name, batch, stream = "transfer_employment", "production", 7
    needs_reads = "registry"
    reads_years = False
    description = "training and job placement of one labourer"

    def needs(self, ctx):
        return ctx.reg.households["labourers"] > 0

    def matched(self, ctx):
        return self.needs(ctx) & _productive_cause(ctx)

    def income(self, ctx):
        return Income(ctx.p("transfer_employment.wage") * ctx.p("transfer_employment.net_share"))

    def unit_cost(self, p):
        return p("transfer_employment.training_cost") + p("transfer_employment.employer_bonus")

    def cost(self, ctx, new, active):
        p = ctx.p
        return p("transfer_employment.training_cost"), p("transfer_employment.employer_bonus")


class PublicWelfareJobs(Programme):
    """公益岗位: a local job at a fixed wage for a member of a household with
    weak labour (an elderly, ill or disabled member able to do light work)."""

    name, batch, stream = "public_jobs", "production", 8
    needs_reads = "registry"
    reads_years = False
    description = "public-welfare jobs for weak-labour households"

    def needs(self, ctx):
        return ctx.reg.households["size"] > _students(ctx)

    def matched(self, ctx):
        h = ctx.reg.households
        weak = (h["elderly"] + h["ill"] + h["disabled"]) > 0
        return self.needs(ctx) & (h["labourers"] <= 1) & weak

    def income(self, ctx):
        return Income(ctx.p("public_jobs.wage"))

    def unit_cost(self, p):
        return p("public_jobs.wage")

    def cost(self, ctx, new, active):
        return 0.0, ctx.p("public_jobs.wage")


class EcologicalRanger(Programme):
    """生态护林员: a ranger's wage for one labourer (生态补偿脱贫一批)."""

    name, batch, stream = "rangers", "ecological", 9
    needs_reads = "registry"
    reads_years = False
    description = "ecological ranger jobs"

    def needs(self, ctx):
        return ctx.reg.households["labourers"] > 0

    def income(self, ctx):
        return Income(ctx.p("rangers.wage"))

    def unit_cost(self, p):
        return p("rangers.wage")

    def cost(self, ctx, new, active):
        return 0.0, ctx.p("rangers.wage")


class AssetIncome(Programme):
    """资产收益: funds invested per member pay a yearly dividend per person."""

    name, batch, stream = "asset_income", "production", 10
    needs_reads = "registry"
    description = "dividends from pooled investment"

    def needs(self, ctx):
        return ctx.reg.households["labourers"] > 0

    def income(self, ctx):
        p = ctx.p
        return Income(p("asset_income.dividend"), per_person=True,
                      later_from=p("asset_income.full_years"),
                      later_share=p("asset_income.later_share"))

    def unit_cost(self, p):
        return p("asset_income.investment") * 3.0  # per household of about three people

    def cost(self, ctx, new, active):
        return PerMember(ctx.p("asset_income.investment")), 0.0


class Photovoltaic(Programme):
    """光伏: a household station yielding a yearly income for its life."""

    name, batch, stream = "photovoltaic", "production", 11
    needs_reads = "registry"
    reads_years = False
    description = "household photovoltaic station"
    duration_parameter = "life"

    def needs(self, ctx):
        return ctx.reg.households["labourers"] > 0

    def income(self, ctx):
        return Income(ctx.p("photovoltaic.income"))

    def unit_cost(self, p):
        return p("photovoltaic.cost")

    def cost(self, ctx, new, active):
        return ctx.p("photovoltaic.cost"), 0.0


class VillagePhotovoltaic(VillageProgramme):
    """Village photovoltaic station: part of its income goes to the village's
    registered households (jobs and dividends), the rest to collective income."""

    name, batch, stream = "village_pv", "production", 12
    description = "village photovoltaic station"

    def village_needs(self, ctx):
        return np.ones(len(ctx.reg.villages["village_id"]), bool)

    def village_effect(self, ctx, villages, years_in):
        p, st, h = ctx.p, ctx.st, ctx.reg.households
        income = p("village_pv.income")
        share = p("village_pv.household_share")
        st.village_collective[villages] += np.float32((1.0 - share) * income)
        people = registered_people_by_village(ctx)
        per_person = np.zeros(len(people), np.float32)
        per_person[villages] = share * income / np.maximum(people[villages], 1.0)
        reach = np.flatnonzero(self.households_of(ctx, villages) & ctx.registered())
        self.add_income(ctx, reach, per_person[h["village"][reach]])

    def unit_cost(self, p):
        return p("village_pv.cost")

    def cost(self, ctx, new, active):
        return ctx.p("village_pv.cost"), 0.0


class VillageInfrastructure(VillageProgramme):
    """Village infrastructure (roads, water, power, clinic: Hubei's nine haves):
    a village exit condition, and safe water for its households."""

    name, batch, stream = "infrastructure", "guarantee", 13
    grants = WATER
    description = "village roads, water, power and clinic"

    def village_needs(self, ctx):
        return ctx.st.village_infrastructure == 0

    def village_effect(self, ctx, villages, years_in):
        ctx.st.village_infrastructure[villages] = 1
        flagged = np.zeros(len(ctx.reg.villages["village_id"]), bool)
        flagged[villages] = True
        or_in_units(ctx.st.guarantees, ctx.reg.households["village"], flagged, np.uint8(WATER))

    def unit_cost(self, p):
        return p("infrastructure.cost")

    def cost(self, ctx, new, active):
        return ctx.p("infrastructure.cost"), 0.0


class CollectiveEconomy(VillageProgramme):
    """Village collective economy: an investment that pays the village a
    yearly collective income (a village exit condition in Hubei)."""

    name, batch, stream = "collective_economy", "production", 14
    description = "village collective economy"

    def village_needs(self, ctx):
        return np.ones(len(ctx.reg.villages["village_id"]), bool)

    def village_effect(self, ctx, villages, years_in):
        ctx.st.village_collective[villages] += np.float32(ctx.p("collective_economy.income"))

    def unit_cost(self, p):
        return p("collective_economy.investment")

    def cost(self, ctx, new, active):
        return ctx.p("collective_economy.investment"), 0.0


# The order is the order of enrolment when programmes compete for households.
PROGRAMMES: tuple[type[Programme], ...] = (
    SafetyNet, Medical, Education, Housing, Relocation, IndustrySupport, TransferEmployment,
    PublicWelfareJobs, EcologicalRanger, AssetIncome, Photovoltaic, VillagePhotovoltaic,
    VillageInfrastructure, CollectiveEconomy)


def instances(names=None) -> list[Programme]:
    """One fresh instance of each programme of the catalogue, in engine order;
    only those named in ``names`` when given."""
    return [c() for c in PROGRAMMES if names is None or c.name in names]
