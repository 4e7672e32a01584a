"""Registry specs: the declarative description of a registry from published counts.

A spec is a TOML file (``model/registry/specs/*.toml``). Its keys, checked here, are:

``name``, ``description``, ``base_year``, ``seed``, ``identification_line``
    Label, base year (the registry describes the end of it), the seed of the
    sampling (a spec always builds the same registry) and the line (yuan per
    person per year) that registration income was below.
``[totals]``
    ``households`` and / or ``people`` (exact counts); ``mean_size``
    (persons, an assumption) gives the households when only people are known.
``[[margins]]``
    ``of`` = the dimensions (see :data:`DIMS`), ``source``, and rows of
    ``households`` or ``people`` (exact counts) or ``share`` or
    ``people_share`` (shares, met to rounding). A row is the labels, one per
    dimension, then the value: ``["dibao+wubao", "no", 1277]``; ``a+b``
    joins labels, ``"3-5"`` is a range of sizes.
``[members]``
    Exact counts of members: ``ill``, ``disabled``.
``[prior]``
    The seed table of the fit (assumptions): ``size_mean`` (mean of the
    shifted-Poisson size prior) and ``rules``, each ``{ when = {dim = label},
    weight = w }`` (multiplies the prior; 0 rules a combination out) or
    ``{ when = ..., size_mean = m }`` (another size prior there).
``[assumptions]``
    Member-level shares and income shapes (see :data:`ASSUMPTIONS`).
``[income]``
    Base-year market income per person of registered households: log-normal
    by labour (``labour`` and ``no_labour``), each given by two margins,
    ``below_line`` (share of households below the identification line) and
    ``mean`` (mean as a multiple of that line), with its ``source``
    (:func:`lognormal_from_margins`). A group may set ``shape =
    "rural_tail"`` instead: below the line, the rural population's log-normal
    (``rural = { incidence, mean }``, its share below the line and its mean)
    cut at the line; above it, the same spread placed to give the group's
    mean (:func:`rural_tail_from_margins`).
``[near_poor]``
    Optional pool of unregistered households just above the line.
``[villages]``
    Share of households in poor villages and village attributes.
``[[counties]]`` and ``[[county_groups]]``
    Named counties, or groups of ``count`` generated counties, with region,
    flags, villages, rural population (or incidence) and their part of the
    registry (``households`` exact, or ``share``). A top-level
    ``incidence_dispersion`` spreads the named counties' incidences around
    the figure they give (for an area-wide figure used for every county),
    keeping the area's rural population; a group's own key does the same for
    its generated counties, keeping their mean incidence.

Every key is declared with its type, range and unit (``TOP``, ``TOTALS``,
``COUNTY``... below, with :class:`model.errors.Key`), as scenario keys and
parameters are: NaN and infinity are refused, flags are 0 or 1, counts are
whole numbers. Every problem is a :class:`~model.errors.PovsimError` naming
the spec file, the key, the value (cut short) and what was expected, with a
close match for a misspelt key; a county's rural population below its
registered people is refused when the registry is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model.errors import Key, PovsimError, brief, close_match, key_problem
from model.params import FIRST_YEAR, LAST_YEAR
from model.registry.ipf import Constraint
from model.registry.tables import CATEGORIES, CAUSES, REGIONS

MAX_SIZE = 10
NO_YES = ("no", "yes")
DIMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("region", REGIONS),
    ("category", CATEGORIES),
    ("labour", NO_YES),          # at least one able-bodied labourer
    ("disabled", NO_YES),        # at least one disabled member
    ("ill", NO_YES),             # at least one chronically or seriously ill member
    ("housing", ("safe", "unsafe")),   # needs housing renovation
    ("cause", CAUSES),
    ("size", tuple(str(s) for s in range(1, MAX_SIZE + 1))),
)
DIM_NAMES = tuple(d for d, _ in DIMS)
SHAPE = tuple(len(labels) for _, labels in DIMS)

# The declared schema of a spec: every key with its type, range and unit
# (model.errors.Key); check_keys reports the file, the key, the value and
# what was expected, with a close match for a misspelt key.
_COUNT = 2**31 - 1                   # largest count a registry table can hold
_NUMBER = (int, float)
_SHARE = Key(_NUMBER, 0, 1)
_FLAG = Key(int, 0, 1, "flag")
_SHARES = Key(list, 0, 1)

TOP = {"name": str, "description": str,
       "base_year": Key(int, FIRST_YEAR, LAST_YEAR, "year"),
       "seed": Key(int, 0, 2**63 - 1),
       "identification_line": Key(_NUMBER, 0, 1e6, "yuan/person/year", low_open=True),
       "totals": dict, "margins": list, "members": dict,
       "prior": dict, "assumptions": dict, "income": dict, "near_poor": dict, "villages": dict,
       "counties": list, "county_groups": list, "cells": list, "counts": dict,
       "incidence_dispersion": Key(_NUMBER, 0, 5)}
CELL = {"category": str, "labour": bool, "households": Key(int, 0, _COUNT, "households"),
        "people": Key(int, 0, _COUNT, "persons")}
COUNTS = {"disabled_households": Key(int, 0, _COUNT, "households"),
          "disabled_household_people": Key(int, 0, _COUNT, "persons"),
          "ill_households": Key(int, 0, _COUNT, "households"),
          "ill_people": Key(int, 0, _COUNT, "persons"),
          "unsafe_housing_households": Key(int, 0, _COUNT, "households")}
TOTALS = {"households": Key(int, 1, _COUNT, "households"),
          "people": Key(int, 1, _COUNT, "persons"),
          "mean_size": Key(_NUMBER, 1, MAX_SIZE, "persons"),
          "rural_population": Key(int, 1, _COUNT, "persons"), "source": str}
MARGIN = {"of": list, "source": str, "households": list, "people": list, "share": list,
          "people_share": list}
MEMBERS = {"ill": Key(int, 0, _COUNT, "persons"), "disabled": Key(int, 0, _COUNT, "persons"),
           "source": str}
PRIOR = {"size_mean": Key(_NUMBER, 1, MAX_SIZE, "persons"), "rules": list}
RULE = {"when": dict, "weight": Key(_NUMBER, 0, 1e6), "size_mean": Key(_NUMBER, 1, MAX_SIZE,
                                                                       "persons"),
        "why": str}
# water_unsafe_share: among households of villages without the infrastructure
# conditions (a village that has them has safe water, model/registry/synth.py)
ASSUMPTIONS = {
    "labourer_share": 0.55, "elderly_share_no_labour": 0.6, "elderly_share_labour": 0.12,
    "children_per_member": 0.22, "student_stage_shares": [0.15, 0.6, 0.17, 0.08],
    "water_unsafe_share": 0.0, "extra_ill_share": 0.1, "extra_disabled_share": 0.1,
    "insured_share": 1.0, "harsh_area_share": 0.0, "dropout_share": 0.0,
}
ASSUMPTION_KEYS = {key: (_SHARES if isinstance(value, list) else _SHARE)
                   for key, value in ASSUMPTIONS.items()}
INCOME = {"labour": dict, "no_labour": dict, "source": str, "rural": dict}
INCOME_GROUP = {"below_line": Key(_NUMBER, 0, 1, low_open=True),
                "mean": Key(_NUMBER, 0, 100, "x the line", low_open=True),
                "shape": str}
INCOME_RURAL = {"incidence": Key(_NUMBER, 0, 1, low_open=True),
                "mean": Key(_NUMBER, 0, 1000, "x the line", low_open=True)}
INCOME_SHAPES = ("lognormal", "rural_tail")
NEAR_POOR = {"households_per_registered": Key(_NUMBER, 0, 100, "households"),
             "income_ratio": Key(list, 1, 100, "x the line"),
             "category_weights": dict, "source": str}
VILLAGES = {"poor_share": _SHARE, "collective_income": Key(list, 0, 1e9, "yuan/year"),
            "infrastructure_ok_share": _SHARES, "headroom": Key(_NUMBER, 1, 100)}
COUNTY = {"name": str, "region": str, "rural_population": Key(int, 1, _COUNT, "persons"),
          "incidence": Key(_NUMBER, 0, 1, low_open=True),
          "income_ratio": Key(_NUMBER, 0, 10), "national_poor": _FLAG,
          "poor_county": _FLAG, "villages": Key(int, 1, _COUNT, "villages"),
          "poor_villages": Key(int, 0, _COUNT, "villages"),
          "households": Key(int, 0, _COUNT, "households"), "share": _SHARE}
GROUP = {"prefix": str, "count": Key(int, 1, 32767, "counties"), "region": str,
         "regions": dict, "rural_population": Key(int, 1, _COUNT, "persons"),
         "incidence": Key(_NUMBER, 0, 1, low_open=True),
         "income_ratio": Key((int, float, list), 0, 10),
         "national": Key(int, 0, 32767, "counties"), "poor_county": _FLAG,
         "villages": Key(int, 1, _COUNT, "villages"),
         "poor_villages": Key(int, 0, _COUNT, "villages"),
         "share": _SHARE, "dispersion": Key(_NUMBER, 0, 5),
         "incidence_dispersion": Key(_NUMBER, 0, 5)}


def check_keys(table: dict, allowed: dict, source: str, where: str) -> None:
    """Raise for an unknown key or a value of the wrong type in ``table``."""
    if not isinstance(table, dict):
        raise PovsimError(f"{source}: '{where}' must be a table, found {brief(table)}")
    problem = key_problem(table, allowed, where)   # ASSUMPTIONS holds defaults: their kinds
    if problem is not None:
        raise PovsimError(f"{source}: {problem[1]}")


def _share(value: float, source: str, where: str) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise PovsimError(f"{source}: '{where}' = {value!r}: expected a share from 0 to 1")
    return float(value)


def label_index(dim: str, label: Any, source: str, where: str) -> list[int]:
    """Indices along ``dim`` named by ``label`` (``a+b`` joins; ``"3-5"`` sizes)."""
    labels = dict(DIMS)[dim]
    text = str(label)
    if dim == "size" and "-" in text:
        lo, _, hi = text.partition("-")
        if not (lo.isdigit() and hi.isdigit() and 1 <= int(lo) <= int(hi) <= MAX_SIZE):
            raise PovsimError(f"{source}: {where}: size range {text!r}: expected 'a-b' with "
                              f"1 <= a <= b <= {MAX_SIZE}")
        return list(range(int(lo) - 1, int(hi)))
    out = []
    for part in text.split("+"):
        if part not in labels:
            raise PovsimError(f"{source}: {where}: {dim} {part!r} is not one of "
                              f"{', '.join(labels)}" + close_match(part, labels))
        out.append(labels.index(part))
    return out


def cells_of(when: dict[str, Any], source: str, where: str) -> np.ndarray:
    """Boolean mask over the joint table for ``{dim: label or [labels]}``."""
    mask = np.ones(SHAPE, bool)
    for dim, label in when.items():
        if dim not in DIM_NAMES:
            raise PovsimError(f"{source}: {where}: unknown dimension '{dim}'"
                              + close_match(dim, DIM_NAMES))
        axis = DIM_NAMES.index(dim)
        keep = np.zeros(SHAPE[axis], bool)
        for lab in (label if isinstance(label, list) else [label]):
            keep[label_index(dim, lab, source, where)] = True
        shape = [1] * len(SHAPE)
        shape[axis] = SHAPE[axis]
        mask &= keep.reshape(shape)
    return mask


def size_weights() -> np.ndarray:
    """Household size of every cell of the joint table (persons, flat)."""
    sizes = np.arange(1, MAX_SIZE + 1, dtype=np.float64)
    return np.broadcast_to(sizes, SHAPE).ravel().copy()


def _size_prior(mean: float) -> np.ndarray:
    """Shifted Poisson (1 + Poisson(mean - 1)) truncated at MAX_SIZE."""
    lam = max(float(mean) - 1.0, 1e-6)
    k = np.arange(MAX_SIZE)
    logp = k * np.log(lam) - lam - np.cumsum(np.log(np.maximum(k, 1)))
    p = np.exp(logp - logp.max())
    return p / p.sum()


def prior_table(spec: dict, source: str, regions_used: np.ndarray) -> np.ndarray:
    """The seed table of the fit: shifted-Poisson sizes times the rules' weights."""
    prior = spec.get("prior", {})
    check_keys(prior, PRIOR, source, "prior")
    table = np.broadcast_to(_size_prior(prior.get("size_mean", 3.0)), SHAPE).copy()
    rules = prior.get("rules", [])
    masks = []
    for i, rule in enumerate(rules):
        where = f"prior.rules[{i}]"
        check_keys(rule, RULE, source, where)
        if rule.get("weight", 0) < 0:
            raise PovsimError(f"{source}: {where}.weight = {rule['weight']}: expected >= 0")
        masks.append(cells_of(rule.get("when", {}), source, where))
    # size priors first (a later rule wins), then the weights multiply
    for rule, mask in zip(rules, masks):
        if "size_mean" in rule:
            table = np.where(mask, np.broadcast_to(_size_prior(rule["size_mean"]), SHAPE), table)
    for rule, mask in zip(rules, masks):
        if "weight" in rule:
            table = np.where(mask, table * float(rule["weight"]), table)
    table *= regions_used.astype(float).reshape((-1,) + (1,) * (len(SHAPE) - 1))
    return table


def totals(spec: dict, source: str) -> tuple[int, int | None]:
    """Exact (households, people) of the registry; people may be None."""
    t = spec.get("totals", {})
    check_keys(t, TOTALS, source, "totals")
    people = t.get("people")
    if "households" in t:
        households = t["households"]
    elif people is not None and "mean_size" in t:
        households = int(round(people / float(t["mean_size"])))
    else:
        raise PovsimError(f"{source}: [totals] needs 'households', or 'people' and 'mean_size'")
    if households < 1 or (people is not None and not households <= people <= households * MAX_SIZE):
        raise PovsimError(f"{source}: totals: {households} households cannot hold {people} "
                          f"people (1 to {MAX_SIZE} each)")
    return households, people


def constraints(spec: dict, source: str, county_regions: np.ndarray,
                county_households: np.ndarray | None, county_share: np.ndarray) -> list[Constraint]:
    """Every margin of the spec as a constraint on the joint table."""
    households, people = totals(spec, source)
    size = size_weights()
    every = np.arange(size.size)
    out = [Constraint(every, households, label=f"{source}: totals.households")]
    if people is not None:
        out.append(Constraint(every, people, size, label=f"{source}: totals.people"))
    # regions: from the counties (exact when their households are given)
    region_axis = np.arange(SHAPE[0]).reshape((-1,) + (1,) * (len(SHAPE) - 1))
    region_of_cell = np.broadcast_to(region_axis, SHAPE).ravel()
    explicit = any("region" in m.get("of", []) for m in spec.get("margins", []))
    for r in range(SHAPE[0]):
        in_r = county_regions == r
        if not in_r.any() or explicit:
            continue
        cells = np.flatnonzero(region_of_cell == r)
        if county_households is not None:
            out.append(Constraint(cells, int(county_households[in_r].sum()),
                                  label=f"{source}: households of the {REGIONS[r]} counties"))
        elif not in_r.all():
            out.append(Constraint(cells, households * float(county_share[in_r].sum()), hard=False,
                                  label=f"{source}: share of the {REGIONS[r]} counties"))
    margins = [(f"margins[{i}]", m) for i, m in enumerate(spec.get("margins", []))]
    margins += [(m.pop("where"), m) for m in shorthand_margins(spec, source)]
    for where, margin in margins:
        out += _margin(margin, where, source, households, people, size)
    return out


def shorthand_margins(spec: dict, source: str) -> list[dict]:
    """``[[cells]]`` (category x labour counts) and ``[counts]`` as margins.

    ``[[cells]]`` rows give ``category``, ``labour`` (true / false),
    ``households`` and ``people``; ``[counts]`` gives
    ``disabled_households``, ``disabled_household_people``,
    ``ill_households`` and ``unsafe_housing_households`` (``ill_people`` is a
    member count, see :func:`member_counts`).
    """
    out = []
    cells = spec.get("cells", [])
    for i, cell in enumerate(cells):
        where = f"cells[{i}]"
        check_keys(cell, CELL, source, where)
        for key in CELL:
            if key not in cell:
                raise PovsimError(f"{source}: {where}: missing key '{key}'")
        row = [cell["category"], NO_YES[int(cell["labour"])]]
        out.append({"of": ["category", "labour"], "where": where,
                    "households": [row + [cell["households"]]],
                    "people": [row + [cell["people"]]]})
    counts = spec.get("counts", {})
    check_keys(counts, COUNTS, source, "counts")
    for key, dim, label, unit in (("disabled_households", "disabled", "yes", "households"),
                                  ("disabled_household_people", "disabled", "yes", "people"),
                                  ("ill_households", "ill", "yes", "households"),
                                  ("unsafe_housing_households", "housing", "unsafe",
                                   "households")):
        if key in counts:
            out.append({"of": [dim], "where": f"counts.{key}",
                        unit: [[label, counts[key]]]})
    return out


def member_counts(spec: dict, source: str) -> dict[str, int]:
    """Exact member totals: ``[members]`` ill / disabled, or ``counts.ill_people``."""
    members = spec.get("members", {})
    check_keys(members, MEMBERS, source, "members")
    out = {k: v for k, v in members.items() if k in ("ill", "disabled")}
    if "ill_people" in spec.get("counts", {}):
        out["ill"] = spec["counts"]["ill_people"]
    return out


def _margin(margin: dict, where: str, source: str, households: int, people: int | None,
            size: np.ndarray) -> list[Constraint]:
    check_keys(margin, MARGIN, source, where)
    dims = margin.get("of")
    if not dims:
        raise PovsimError(f"{source}: {where}.of: expected a list of dimensions from "
                          f"{', '.join(DIM_NAMES)}")
    for d in dims:
        if d not in DIM_NAMES:
            raise PovsimError(f"{source}: {where}.of: unknown dimension {d!r}"
                              + close_match(str(d), DIM_NAMES))
    out = []
    for unit in ("households", "people", "share", "people_share"):
        shares = 0.0
        for j, row in enumerate(margin.get(unit, [])):
            at = f"{where}.{unit}[{j}]"
            if not isinstance(row, list) or len(row) != len(dims) + 1:
                raise PovsimError(f"{source}: {at} = {row!r}: expected {len(dims)} label(s) "
                                  f"({', '.join(dims)}) and a value")
            value = row[-1]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise PovsimError(f"{source}: {at}: value {value!r}: expected a number >= 0")
            if unit in ("households", "people") and not isinstance(value, int):
                raise PovsimError(f"{source}: {at}: value {value!r}: expected a whole number "
                                  f"of {unit}")
            if unit.endswith("share"):
                shares += _share(value, source, at)
            mask = cells_of(dict(zip(dims, row[:-1])), source, at).ravel()
            cells = np.flatnonzero(mask)
            label = f"{source}: {at}"
            if unit == "households":
                out.append(Constraint(cells, value, label=label))
            elif unit == "people":
                out.append(Constraint(cells, value, size[cells], label=label))
            elif unit == "share":
                out.append(Constraint(cells, value * households, hard=False, label=label))
            else:
                if people is None:
                    raise PovsimError(f"{source}: {at}: a people_share needs totals.people")
                out.append(Constraint(cells, value * people, size[cells], hard=False,
                                      label=label))
        if shares > 1.0 + 1e-9:
            raise PovsimError(f"{source}: {where}.{unit}: shares add up to {shares:g}, "
                              "expected at most 1")
    return out


@dataclass
class Counties:
    """The counties of a spec, expanded from ``[[counties]]`` and ``[[county_groups]]``."""

    names: list[str]
    region: np.ndarray
    national_poor: np.ndarray
    poor_county: np.ndarray
    income_ratio: np.ndarray
    poor_villages: np.ndarray
    other_villages: np.ndarray
    share: np.ndarray                 # part of the registry (sums to 1)
    households: np.ndarray | None     # exact households, when every county gives them
    rural_population: np.ndarray      # persons; -1 where derived from incidence
    incidence: np.ndarray             # registered people / rural population; nan if given
    where: tuple[str, ...] = ()       # each county's key in the spec, for messages


def counties(spec: dict, source: str) -> Counties:
    """Expand and check the spec's counties (deterministic, from the spec's seed)."""
    rng = np.random.default_rng([int(spec.get("seed", 0)), 1])
    rows: list[dict] = []
    for i, c in enumerate(spec.get("counties", [])):
        where = f"counties[{i}]"
        check_keys(c, COUNTY, source, where)
        if "name" not in c or "region" not in c:
            raise PovsimError(f"{source}: {where}: needs 'name' and 'region'")
        rows.append({**c, "where": where, "national": c.get("national_poor", 0)})
    area = _area_incidence(spec, source)
    if area is not None:    # named counties without a figure of their own take the area's
        for r in rows:
            if "incidence" not in r and "rural_population" not in r:
                r["incidence"] = area
    spread = float(spec.get("incidence_dispersion", 0.0))
    if spread > 0:
        _spread_incidences(rows, spread, np.random.default_rng([int(spec.get("seed", 0)), 2]))
    for i, g in enumerate(spec.get("county_groups", [])):
        where = f"county_groups[{i}]"
        check_keys(g, GROUP, source, where)
        rows += _expand_group(g, where, source, rng)
    if not rows:
        raise PovsimError(f"{source}: no [[counties]] or [[county_groups]]: a registry needs "
                          "at least one county")
    names = [r["name"] for r in rows]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PovsimError(f"{source}: county name {dupes[0]!r} is used more than once")
    for r in rows:
        if r["region"] not in REGIONS:
            raise PovsimError(f"{source}: {r['where']}.region = {r['region']!r}: expected one of "
                              f"{', '.join(REGIONS)}" + close_match(r["region"], REGIONS))
        for flag in ("national", "poor_county"):
            if r.get(flag, 0) not in (0, 1):
                raise PovsimError(f"{source}: {r['where']}.{flag}: expected 0 or 1")
        if ("rural_population" in r) == ("incidence" in r):
            raise PovsimError(f"{source}: {r['where']}: give exactly one of 'rural_population' "
                              "and 'incidence'")
        if "incidence" in r and not 0 < r["incidence"] <= 1:
            raise PovsimError(f"{source}: {r['where']}.incidence = {r['incidence']}: expected "
                              "a share above 0 and at most 1")
        if not 0 <= r.get("poor_villages", 0) <= r.get("villages", 0) or r.get("villages", 0) < 1:
            raise PovsimError(f"{source}: {r['where']}: needs 'villages' >= 1, of which "
                              "'poor_villages' (0 to villages) are registered poor villages")
    given = ["households" in r for r in rows]
    if any(given) and not all(given):
        raise PovsimError(f"{source}: either every county gives 'households' or none does")
    if not all(given) and any("share" not in r for r in rows):
        missing = next(r["where"] for r in rows if "share" not in r)
        raise PovsimError(f"{source}: {missing}: needs 'share' (part of the registry) or "
                          "'households'")
    households = np.array([r["households"] for r in rows], np.int64) if all(given) else None
    share = (households / households.sum() if households is not None
             else np.array([float(r["share"]) for r in rows]))
    if households is None and abs(share.sum() - 1.0) > 1e-6:
        raise PovsimError(f"{source}: county shares add up to {share.sum():.6g}, expected 1")
    return Counties(
        names=names,
        region=np.array([REGIONS.index(r["region"]) for r in rows], np.int8),
        national_poor=np.array([r.get("national", 0) for r in rows], np.uint8),
        poor_county=np.array([r.get("poor_county", r.get("national", 0)) for r in rows],
                             np.uint8),
        income_ratio=np.array([float(r.get("income_ratio", 1.0)) for r in rows]),
        poor_villages=np.array([r.get("poor_villages", 0) for r in rows], np.int64),
        other_villages=np.array([r["villages"] - r.get("poor_villages", 0) for r in rows],
                                np.int64),
        share=share, households=households,
        rural_population=np.array([r.get("rural_population", -1) for r in rows], np.int64),
        incidence=np.array([float(r.get("incidence", np.nan)) for r in rows]),
        where=tuple(r["where"] for r in rows),
    )


def _area_incidence(spec: dict, source: str) -> float | None:
    """Registered people over the area's rural population
    (``totals.rural_population``), or None when the spec gives none."""
    t = spec.get("totals", {})
    if "rural_population" not in t:
        return None
    _, people = totals(spec, source)
    if people is None or people > t["rural_population"]:
        raise PovsimError(f"{source}: totals.rural_population = {t['rural_population']:,}: "
                          "expected at least totals.people "
                          f"({'not given' if people is None else f'{people:,}'})")
    return people / t["rural_population"]


def _spread_incidences(rows: list[dict], spread: float, rng: np.random.Generator) -> None:
    """Spread the incidences of the named counties that give one log-normally
    (standard deviation ``spread`` of the log), for an area whose county
    incidences are one area-wide figure: counties far below it can exit early
    (assumption). The area's rural population (each county's registered people
    over its incidence, summed) is kept, so the area's incidence does not move.
    Rows are changed in place."""
    listed = [r for r in rows if "incidence" in r and ("share" in r or "households" in r)]
    if not listed:
        return
    weight = np.array([float(r.get("households", r.get("share", 0.0))) for r in listed])
    given = np.array([float(r["incidence"]) for r in listed])
    spread_out = given * np.exp(rng.normal(0.0, spread, len(listed)))
    spread_out *= (weight / spread_out).sum() / (weight / given).sum()
    for r, value in zip(listed, spread_out):
        r["incidence"] = min(float(value), 0.95)


def apportion(total: int, weights: np.ndarray, minimum: int = 0) -> np.ndarray:
    """Whole numbers proportional to ``weights`` summing to ``total`` (largest
    remainder), each at least ``minimum`` when the total allows."""
    weights = np.asarray(weights, np.float64)
    n = len(weights)
    base = min(minimum, total // max(n, 1))
    left = total - base * n
    exact = left * weights / weights.sum() if weights.sum() > 0 else np.zeros(n)
    out = np.floor(exact).astype(np.int64)
    rest = left - int(out.sum())
    out[np.argsort(-(exact - out), kind="stable")[:rest]] += 1
    return out + base


def _expand_group(g: dict, where: str, source: str, rng: np.random.Generator) -> list[dict]:
    """One row per county of a ``[[county_groups]]`` entry."""
    for key in ("prefix", "count", "share"):
        if key not in g:
            raise PovsimError(f"{source}: {where}: needs '{key}'")
    n = g["count"]
    if n < 1:
        raise PovsimError(f"{source}: {where}.count = {n}: expected at least 1")
    if "regions" in g:
        check_keys(g["regions"], dict.fromkeys(REGIONS, int), source, f"{where}.regions")
        if sum(g["regions"].values()) != n:
            raise PovsimError(f"{source}: {where}.regions add up to "
                              f"{sum(g['regions'].values())}, expected count = {n}")
        region = [r for r in REGIONS for _ in range(g["regions"].get(r, 0))]
    elif "region" in g:
        region = [g["region"]] * n
    else:
        raise PovsimError(f"{source}: {where}: needs 'region' or 'regions'")
    ratio = g.get("income_ratio", 1.0)
    ratio = ratio if isinstance(ratio, list) else [ratio] * n
    if len(ratio) != n:
        raise PovsimError(f"{source}: {where}.income_ratio has {len(ratio)} values, expected "
                          f"count = {n}")
    national = g.get("national", 0)
    if not 0 <= national <= n:
        raise PovsimError(f"{source}: {where}.national = {national}: expected 0 to count = {n}")
    # weights of the counties within the group: lognormal spread (assumption)
    w = np.exp(rng.normal(0.0, float(g.get("dispersion", 0.0)), n))
    w /= w.sum()
    poor_v = apportion(g.get("poor_villages", 0), w, minimum=1)
    if g.get("villages", 0) < g.get("poor_villages", 0) + n:
        raise PovsimError(f"{source}: {where}.villages = {g.get('villages', 0)}: expected at "
                          "least poor_villages + count (one other village per county)")
    other_v = apportion(g["villages"] - g.get("poor_villages", 0), w, minimum=1)
    rows = []
    for k in range(n):
        row = {"name": f"{g['prefix']}-{k + 1:0{len(str(n))}d}", "region": region[k],
               "where": f"{where} (county {k + 1})", "national": int(k < national),
               "poor_county": g.get("poor_county", int(k < national)),
               "income_ratio": ratio[k], "poor_villages": int(poor_v[k]),
               "villages": int(poor_v[k] + other_v[k]), "share": float(g["share"]) * w[k]}
        if "rural_population" in g:
            row["rural_population"] = max(1, int(round(g["rural_population"] * w[k])))
        if "incidence" in g:
            row["incidence"] = g["incidence"]
        rows.append(row)
    spread = float(g.get("incidence_dispersion", 0.0))
    if spread > 0 and "incidence" in g:
        # incidences of the counties spread log-normally around the group's
        # (mean kept): counties far below it can exit early (assumption)
        factor = np.exp(rng.normal(0.0, spread, n) - spread ** 2 / 2)
        for row, f in zip(rows, factor):
            row["incidence"] = min(float(g["incidence"]) * f, 0.95)
    return rows


def scale_spec(spec: dict, scale: float, source: str) -> dict:
    """The spec of a registry ``scale`` times as large, for reduced-scale runs.

    Households, people, exact member counts, villages and given rural
    populations are multiplied by ``scale`` (rounded); counties are kept;
    exact household and people counts of margins (``[[margins]]``,
    ``[[cells]]``, ``[counts]``) become shares of the full totals, so the
    composition, household size and poverty incidence stay about the same.

    Parameters
    ----------
    spec : dict
        A spec with its base merged in (:func:`model.registry.synth.load_spec`).
    scale : float
        Share of households kept, 0 < scale <= 1.
    source : str
        The spec's file, for messages.

    Returns
    -------
    dict
        A new spec; ``spec`` is not changed.
    """
    if not 0 < scale <= 1:
        raise PovsimError(f"{source}: scale {scale!r}: expected a share above 0 and at most 1")
    if scale == 1:
        return spec
    households, people = totals(spec, source)
    if round(households * scale) < 1:
        raise PovsimError(f"{source}: scale {scale:g} leaves no registered household of its "
                          f"{households:,}: raise run.scale (or --scale) to at least "
                          f"{1 / households:.2g}")
    out = {key: value for key, value in spec.items() if key not in ("cells", "counts")}
    new_households = max(1, round(households * scale))
    new_totals = {k: v for k, v in spec["totals"].items() if k not in ("households", "people")}
    new_totals["households"] = new_households
    if people is not None:
        new_totals["people"] = max(new_households, round(people * scale))
    if "rural_population" in new_totals:
        new_totals["rural_population"] = max(new_totals.get("people", 1),
                                              round(new_totals["rural_population"] * scale))
    out["totals"] = new_totals

    def as_shares(margin: dict) -> dict:
        new = {k: v for k, v in margin.items() if k not in ("households", "people", "where")}
        for unit, share_unit, total in (("households", "share", households),
                                        ("people", "people_share", people)):
            rows = margin.get(unit, [])
            if rows and total is None:   # people counts without a people total: scaled
                new[unit] = [row[:-1] + [round(row[-1] * scale)] for row in rows]
            elif rows:
                new[share_unit] = new.get(share_unit, []) + [
                    row[:-1] + [row[-1] / total] for row in rows]
        return new

    margins = [dict(m) for m in spec.get("margins", [])]
    for i, margin in enumerate(margins):
        _margin(margin, f"margins[{i}]", source, households, people, size_weights())
    out["margins"] = [as_shares(m) for m in margins + shorthand_margins(spec, source)]
    members = {k: v for k, v in spec.get("members", {}).items()}
    for name, count in member_counts(spec, source).items():
        members[name] = round(count * scale)
    if members:
        out["members"] = members
    out["counties"] = _scale_counties(spec, scale, source, new_households)
    out["county_groups"] = [_scale_group(g, scale) for g in spec.get("county_groups", [])]
    return out


def _scaled_villages(villages: int, poor: int, scale: float, others: int) -> tuple[int, int]:
    """Villages and poor villages at ``scale``: a poor village is kept where
    there was one, and ``others`` villages besides the poor ones."""
    new_poor = max(int(poor > 0), round(poor * scale))
    return max(round(villages * scale), new_poor + others), new_poor


def _scale_counties(spec: dict, scale: float, source: str, households: int) -> list[dict]:
    rows = [dict(c) for c in spec.get("counties", [])]
    given = [r for r in rows if "households" in r]
    if given and len(given) == len(rows):
        counts = apportion(households, np.array([r["households"] for r in rows], np.float64))
        for row, count in zip(rows, counts):
            row["households"] = int(count)
    for row in rows:
        if "rural_population" in row:
            row["rural_population"] = max(1, round(row["rural_population"] * scale))
        if isinstance(row.get("villages"), int) and isinstance(row.get("poor_villages", 0), int):
            poor = row.get("poor_villages", 0)
            row["villages"], new_poor = _scaled_villages(
                row["villages"], poor, scale, int(row["villages"] > poor))
            if "poor_villages" in row:
                row["poor_villages"] = new_poor
    return rows


def _scale_group(group: dict, scale: float) -> dict:
    out = dict(group)
    if isinstance(out.get("rural_population"), int):
        out["rural_population"] = max(1, round(out["rural_population"] * scale))
    count = out.get("count", 1)
    if isinstance(out.get("villages"), int) and isinstance(out.get("poor_villages", 0), int) \
            and isinstance(count, int):
        poor = out.get("poor_villages", 0)
        out["villages"], new_poor = _scaled_villages(out["villages"], poor, scale, count)
        if "poor_villages" in out:
            out["poor_villages"] = new_poor
    return out


def lognormal_from_margins(below_line: float, mean: float, where: str) -> tuple[float, float]:
    """``(mu, sigma)`` of a log-normal income (in multiples of the line) with
    ``below_line`` of its mass below 1 and the given ``mean``.

    ``P(X < 1) = Phi(-mu / sigma)`` and ``E X = exp(mu + sigma**2 / 2)``
    give ``sigma**2 / 2 - z sigma - ln(mean) = 0`` with ``z = Phi^-1(below_line)``;
    the smallest positive root is taken (the least dispersed distribution).
    """
    from scipy.special import ndtri  # Phi^-1 (what scipy.stats.norm.ppf computes), light to import

    if not 0 < below_line < 1 or not mean > 0:
        raise PovsimError(f"{where}: below_line = {below_line!r}, mean = {mean!r}: expected a "
                          "share strictly between 0 and 1 and a mean above 0")
    z = float(ndtri(below_line))
    disc = z * z + 2.0 * np.log(mean)
    if disc < 0:
        raise PovsimError(f"{where}: no log-normal has {below_line:.0%} below the line and mean "
                          f"{mean} x the line: with that share below, the mean must be at least "
                          f"{np.exp(-z * z / 2):.3f} x the line")
    roots = [r for r in (z - np.sqrt(disc), z + np.sqrt(disc)) if r > 1e-9]
    sigma = float(min(roots))
    return -sigma * z, sigma


def truncated_lognormal_mean(mu: float, sigma: float, above: bool) -> float:
    """Mean of a log-normal ``exp(N(mu, sigma**2))`` above 1 (``above``) or
    below it."""
    from scipy.special import ndtr

    tail = ndtr(mu / sigma) if above else ndtr(-mu / sigma)
    part = ndtr((mu + sigma**2) / sigma) if above else ndtr(-(mu + sigma**2) / sigma)
    return float(np.exp(mu + sigma**2 / 2) * part / tail)


def rural_tail_from_margins(below_line: float, mean: float, rural: tuple[float, float],
                            where: str) -> tuple[float, float, float, float]:
    """``(below_line, mu, sigma, mu_above)`` of a two-part income (in
    multiples of the line): below the line, the rural population's
    log-normal ``(mu, sigma)`` cut at 1 (the poor are its lower tail); above
    it, a log-normal of the same ``sigma`` cut at 1, whose location
    ``mu_above`` gives the group its ``mean``."""
    from scipy.optimize import brentq

    if not 0 < below_line < 1 or not mean > 0:
        raise PovsimError(f"{where}: below_line = {below_line!r}, mean = {mean!r}: expected a "
                          "share strictly between 0 and 1 and a mean above 0")
    mu, sigma = rural
    below = truncated_lognormal_mean(mu, sigma, above=False)
    need = (mean - below_line * below) / (1.0 - below_line)
    if need <= truncated_lognormal_mean(-8.0 * sigma, sigma, above=True):
        raise PovsimError(f"{where}: shape = 'rural_tail', below_line = {below_line}, mean = "
                          f"{mean}: the rural tail's poor average {below:.3f} x the line, so "
                          f"the mean must be above {below_line * below + (1 - below_line):.3f}")
    mu_above = brentq(lambda m: truncated_lognormal_mean(m, sigma, above=True) - need,
                      -8.0 * sigma, 20.0)
    return below_line, mu, sigma, float(mu_above)


def income_margins(spec: dict, source: str) -> dict[str, tuple]:
    """The spec's ``[income]`` table checked: by group (``labour``,
    ``no_labour``), ``("lognormal", mu, sigma)`` or ``("rural_tail",
    below_line, mu, sigma, mu_above)`` (:func:`rural_tail_from_margins`)."""
    table = spec.get("income")
    if table is None:
        raise PovsimError(f"{source}: missing table [income] (base-year market income: "
                          "labour = { below_line = ..., mean = ... } and no_labour = ...)")
    check_keys(table, INCOME, source, "income")
    rural = None
    if "rural" in table:
        check_keys(table["rural"], INCOME_RURAL, source, "income.rural")
        for key in INCOME_RURAL:
            if key not in table["rural"]:
                raise PovsimError(f"{source}: income.rural: missing '{key}'")
        rural = lognormal_from_margins(float(table["rural"]["incidence"]),
                                       float(table["rural"]["mean"]), f"{source}: income.rural")
    out = {}
    for group in ("labour", "no_labour"):
        if group not in table:
            raise PovsimError(f"{source}: [income] needs '{group}' = {{ below_line = share, "
                              "mean = multiple of the line }")
        check_keys(table[group], INCOME_GROUP, source, f"income.{group}")
        for key in ("below_line", "mean"):
            if key not in table[group]:
                raise PovsimError(f"{source}: income.{group}: missing '{key}'")
        shape = table[group].get("shape", "lognormal")
        where = f"{source}: income.{group}"
        below, mean = float(table[group]["below_line"]), float(table[group]["mean"])
        if shape not in INCOME_SHAPES:
            raise PovsimError(f"{where}: shape = {shape!r}: expected one of "
                              f"{', '.join(INCOME_SHAPES)}" + close_match(shape, INCOME_SHAPES))
        if shape == "lognormal":
            out[group] = ("lognormal", *lognormal_from_margins(below, mean, where))
        elif rural is None:
            raise PovsimError(f"{where}: shape = 'rural_tail' needs [income] rural = "
                              "{ incidence = share below the line, mean = multiple of the line }")
        else:
            out[group] = ("rural_tail", *rural_tail_from_margins(below, mean, rural, where))
    return out
