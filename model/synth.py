"""Synthetic registries from published aggregates.

:func:`build` turns a spec (:mod:`model.registry_spec`, files in
``model/specs/``) into a :class:`~model.population.Registry`:

1. **Joint table.** The household types (region x category x labour x
   disabled x ill x housing x cause x size) start from the spec's prior and
   are fitted to its margins by iterative proportional fitting
   (:func:`model.ipf.fit`), then rounded to whole households so that every
   count the spec gives holds exactly (:func:`model.ipf.round_exact`).
2. **Households.** One row per household of each cell (``np.repeat``); member
   counts (labourers, students, elderly, ill and disabled members) are drawn
   within the cell's constraints, exact where ``[members]`` gives a total;
   registration income is a Beta share of the identification line.
3. **Places.** Households of a region go to its counties (exact when the
   counties give households, else by apportioning their shares), then to the
   county's poor or other villages.
4. **Near-poor pool** (optional): unregistered households (``registered`` 0)
   with income just above the line, drawn from the same fitted table.

Everything is vectorised (no Python loop over households) and seeded by the
spec, so a spec always builds the same registry. :func:`synthetic` makes a
large registry without published counts, for benchmarks.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from model import ipf
from model.errors import PovsimError, close_match
from model.population import CAUSES, COUNTY_SCHEMA, HOUSEHOLD_SCHEMA, VILLAGE_SCHEMA, Registry, cast
from model.registry_spec import (ASSUMPTIONS, DIM_NAMES, MAX_SIZE, NEAR_POOR, SHAPE, TOP,
                                 VILLAGES, Counties, apportion, check_keys, constraints,
                                 counties, member_counts, prior_table)

__all__ = ["MAX_SIZE", "build", "builtin_specs", "load_spec", "synthetic"]


def builtin_specs() -> list[str]:
    """Names of the specs shipped with the package."""
    folder = resources.files("model").joinpath("specs")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_spec(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    """Read a spec by built-in name or path; return (spec, source)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise PovsimError(f"{source}: not UTF-8 text ({err.reason} at byte {err.start})") \
                from None
    else:
        names = builtin_specs()
        if str(name_or_path) not in names:
            raise PovsimError(f"registry spec '{name_or_path}' not found: expected a .toml file "
                              f"or one of {', '.join(names)}" + close_match(str(name_or_path), names))
        res = resources.files("model").joinpath("specs", f"{name_or_path}.toml")
        text, source = res.read_text(encoding="utf-8"), f"model/specs/{name_or_path}.toml"
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as err:
        raise PovsimError(f"{source}: {err}") from None


# ---------------------------------------------------------------- the joint table

def fit_table(spec: dict[str, Any], source: str = "spec") -> tuple[np.ndarray, np.ndarray,
                                                                   Counties]:
    """Fitted (float) and rounded (whole households) joint tables, and the counties."""
    check_keys(spec, TOP, source, "")
    for key in ("name", "base_year", "identification_line"):
        if key not in spec:
            raise PovsimError(f"{source}: missing key '{key}'")
    cs = counties(spec, source)
    used = np.bincount(cs.region, minlength=SHAPE[0]) > 0
    prior = prior_table(spec, source, used)
    cons = constraints(spec, source, cs.region, cs.households, cs.share)
    fitted = ipf.fit(prior, cons)
    return fitted, ipf.round_exact(fitted, cons), cs


def _decode(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Dimension values (int8) of each household's cell index."""
    out = {}
    stride = int(np.prod(SHAPE))
    for name, n in zip(DIM_NAMES, SHAPE):
        stride //= n
        out[name] = ((cells // stride) % n).astype(np.int8)
    out["size"] += 1   # index 0 is one person
    return out


def _cells(table: np.ndarray) -> np.ndarray:
    """One cell index per household, in cell order (uint16 is enough)."""
    return np.repeat(np.arange(table.size, dtype=np.uint16), table.ravel())


# ---------------------------------------------------------------- members

def _exact_total(rng: np.random.Generator, base: np.ndarray, room: np.ndarray, total: int,
                 what: str) -> np.ndarray:
    """``base`` plus extra units (at most ``room`` each) so that the sum is ``total``."""
    need = total - int(base.sum(dtype=np.int64))
    cap = int(room.sum(dtype=np.int64))
    if not 0 <= need <= cap:
        raise PovsimError(f"{what}: a total of {total} is impossible: the households drawn "
                          f"hold {int(base.sum())} to {int(base.sum()) + cap}")
    extra = rng.binomial(room, need / cap if cap else 0.0).astype(np.int32)
    diff = need - int(extra.sum(dtype=np.int64))
    while diff != 0:
        pool = np.flatnonzero(extra < room) if diff > 0 else np.flatnonzero(extra > 0)
        pick = rng.choice(pool, size=min(abs(diff), len(pool)), replace=False)
        extra[pick] += 1 if diff > 0 else -1
        diff -= len(pick) if diff > 0 else -len(pick)
    return base + extra


def _members(rng: np.random.Generator, d: dict[str, np.ndarray], assume: dict[str, Any],
             exact: dict[str, int], source: str) -> dict[str, np.ndarray]:
    """Member counts of each household, consistent with its cell."""
    size = d["size"].astype(np.int32)
    labour = d["labour"] == 1
    labourers = np.where(labour, 1 + rng.binomial(size - 1, assume["labourer_share"]), 0)
    room = size - labourers
    students = np.where(labour, np.minimum(rng.binomial(size, assume["children_per_member"]),
                                           room), 0)
    schooling = (d["cause"] == DIM_CAUSE_SCHOOLING) & (room > 0)
    students = np.where(schooling, np.maximum(students, 1), students)
    stages, left, rest = {}, students, 1.0
    shares = assume["student_stage_shares"]
    for k, name in enumerate(("students_preschool", "students_compulsory", "students_upper")):
        p = min(1.0, shares[k] / rest) if rest > 0 else 0.0
        stages[name] = rng.binomial(left, p)
        left, rest = left - stages[name], rest - shares[k]
    stages["students_university"] = left
    elder_share = np.where(labour, assume["elderly_share_labour"],
                           assume["elderly_share_no_labour"])
    out = {"labourers": labourers, **stages,
           "elderly": rng.binomial(room - students, elder_share),
           "dropouts": rng.binomial(stages["students_compulsory"], assume["dropout_share"])}
    for name, flag in (("ill", "ill"), ("disabled", "disabled")):
        has = d[flag] == 1
        base = has.astype(np.int32)
        if name in exact:
            out[name] = _exact_total(rng, base, np.where(has, size - 1, 0), exact[name],
                                     f"{source}: members.{name}")
        else:
            out[name] = base + np.where(has, rng.binomial(size - 1,
                                                          assume[f"extra_{name}_share"]), 0)
    return out


DIM_CAUSE_SCHOOLING = CAUSES.index("schooling")


def _households(rng: np.random.Generator, cells: np.ndarray, spec: dict, assume: dict,
                registered: bool, source: str) -> dict[str, np.ndarray]:
    """Household columns (no places yet) for the households of ``cells``."""
    n = len(cells)
    d = _decode(cells)
    exact = member_counts(spec, source) if registered else {}
    cols = {"region": d["region"], "category": d["category"], "cause": d["cause"],
            "size": d["size"], **_members(rng, d, assume, exact, source)}
    line = float(spec["identification_line"])
    labour = d["labour"] == 1
    if registered:
        a_l, b_l = assume["market_share_labour"]
        a_n, b_n = assume["market_share_no_labour"]
        share = np.where(labour, rng.beta(a_l, b_l, n), rng.beta(a_n, b_n, n))
        share = np.minimum(share, 0.999)
    else:
        lo, hi = spec["near_poor"].get("income_ratio", [1.0, 1.5])
        share = rng.uniform(lo, hi, n)
    cols.update({
        "registered": np.full(n, int(registered), np.uint8),
        "harsh_area": (rng.random(n) < assume["harsh_area_share"]).astype(np.uint8),
        "insured": (rng.random(n) < assume["insured_share"]).astype(np.uint8),
        "housing_safe": (d["housing"] == 0).astype(np.uint8),
        "water_safe": (rng.random(n) >= assume["water_unsafe_share"]).astype(np.uint8),
        "market_income": (share * line).astype(np.float32),
    })
    return cols


def _assumptions(spec: dict, source: str) -> dict[str, Any]:
    given = spec.get("assumptions", {})
    check_keys(given, ASSUMPTIONS, source, "assumptions")
    assume = {**ASSUMPTIONS, **given}
    for key, value in assume.items():
        for v in (value if isinstance(value, list) else [value]):
            if not isinstance(v, int | float) or isinstance(v, bool) or v < 0 or (
                    key.endswith("share") and v > 1):
                raise PovsimError(f"{source}: assumptions.{key} = {value!r}: expected "
                                  + ("shares from 0 to 1" if key.endswith("share")
                                     else "numbers >= 0"))
    if abs(sum(assume["student_stage_shares"]) - 1) > 1e-6 or len(
            assume["student_stage_shares"]) != 4:
        raise PovsimError(f"{source}: assumptions.student_stage_shares: expected 4 shares "
                          "adding up to 1")
    for key in ("market_share_labour", "market_share_no_labour"):
        if len(assume[key]) != 2 or min(assume[key]) <= 0:
            raise PovsimError(f"{source}: assumptions.{key}: expected Beta parameters [a, b] > 0")
    return assume


# ---------------------------------------------------------------- places

def _to_counties(rng: np.random.Generator, region: np.ndarray, cs: Counties,
                 weights: np.ndarray, exact: np.ndarray | None) -> np.ndarray:
    """County of each household: within its region, exact counts or apportioned weights.

    ``region`` must be sorted (households come in cell order, region first).
    """
    county = np.empty(len(region), np.int16)
    bounds = np.searchsorted(region, np.arange(4))
    for r in range(3):
        lo, hi = bounds[r], bounds[r + 1]
        if hi == lo:
            continue
        ids = np.flatnonzero(cs.region == r)
        counts = exact[ids] if exact is not None else apportion(hi - lo, weights[ids])
        county[lo:hi] = rng.permutation(np.repeat(ids, counts).astype(np.int16))
    return county


def _villages(rng: np.random.Generator, spec: dict, source: str, cs: Counties,
              county: np.ndarray, size: np.ndarray, registered: np.ndarray):
    """Village of each household and the village and county tables."""
    conf = spec.get("villages", {})
    check_keys(conf, VILLAGES, source, "villages")
    poor_share = float(conf.get("poor_share", 0.6))
    income = conf.get("collective_income", [0.0, 0.0])
    infra = conf.get("infrastructure_ok_share", [0.3, 0.9])
    headroom = float(conf.get("headroom", 1.25))
    n_poor, n_other = cs.poor_villages, cs.other_villages
    per_county = n_poor + n_other
    first = np.concatenate([[0], np.cumsum(per_county)[:-1]])
    p_poor = np.where(n_other == 0, 1.0, np.where(n_poor == 0, 0.0, poor_share))
    in_poor = rng.random(len(county)) < p_poor[county]
    u = rng.random(len(county))
    village = np.where(in_poor, first[county] + (u * n_poor[county]).astype(np.int64),
                       first[county] + n_poor[county] + (u * n_other[county]).astype(np.int64))
    village = village.astype(np.int32)
    nv = int(per_county.sum())
    v_county = np.repeat(np.arange(len(per_county)), per_county)
    poor_flag = (np.arange(nv) - first[v_county]) < n_poor[v_county]
    people = np.bincount(county, weights=size * registered, minlength=len(per_county))
    c_rural = np.where(cs.rural_population > 0, cs.rural_population,
                       np.ceil(people / np.nan_to_num(cs.incidence, nan=1.0)))
    v_people = np.bincount(village, weights=size, minlength=nv)
    v_rural = np.maximum(c_rural[v_county] // per_county[v_county],
                         np.ceil(v_people * headroom))
    means = np.where(poor_flag, float(income[0]), float(income[1]))
    villages = {
        "village_id": np.arange(nv), "county": v_county,
        "rural_population": np.maximum(v_rural, 1),
        "collective_income": rng.exponential(1.0, nv) * means,
        "infrastructure_ok": rng.random(nv) < np.where(poor_flag, infra[0], infra[1]),
        "poor_village": poor_flag,
    }
    counties_t = {
        "county_id": np.arange(len(per_county)), "region": cs.region,
        "rural_population": np.maximum(c_rural, 1), "income_ratio": cs.income_ratio,
        "national_poor": cs.national_poor, "poor_county": cs.poor_county,
    }
    return village, villages, counties_t


# ---------------------------------------------------------------- build

def build(spec: dict[str, Any], source: str = "spec") -> Registry:
    """Build a :class:`Registry` from a spec (see :mod:`model.registry_spec`).

    Parameters
    ----------
    spec : dict
        The parsed TOML spec.
    source : str
        Where it came from, for messages and ``Registry.source``.

    Raises
    ------
    PovsimError
        For a bad spec: unknown key, wrong type, inconsistent counts.
    """
    fitted, table, cs = fit_table(spec, source)
    assume = _assumptions(spec, source)
    rng = np.random.default_rng(int(spec.get("seed", 0)))
    parts = [_households(rng, _cells(table), spec, assume, True, source)]
    reg_counts = None
    if "near_poor" in spec:
        pool_cells = _pool_cells(spec, source, fitted, int(table.sum()))
        parts.append(_households(rng, pool_cells, spec, assume, False, source))
    county_parts = []
    for k, cols in enumerate(parts):
        if k == 0:
            county_parts.append(_to_counties(rng, cols["region"], cs, cs.share, cs.households))
            reg_counts = np.bincount(county_parts[0], minlength=len(cs.names))
        else:
            county_parts.append(_to_counties(rng, cols["region"], cs, reg_counts + 1e-9, None))
    hh = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    del hh["region"]
    county = np.concatenate(county_parts)
    village, villages, counties_t = _villages(rng, spec, source, cs, county, hh["size"],
                                              hh["registered"])
    # order by village (so by county); random within a village: ids carry no cell order
    perm = rng.permutation(len(county))
    order = perm[np.argsort(village[perm], kind="stable")]
    households = {k: v[order] for k, v in hh.items()}
    households.update(hh_id=np.arange(len(order), dtype=np.int64), village=village[order],
                      county=county[order])
    registry = Registry(cast(households, HOUSEHOLD_SCHEMA), cast(villages, VILLAGE_SCHEMA),
                        cast(counties_t, COUNTY_SCHEMA), list(cs.names), int(spec["base_year"]),
                        str(spec["name"]), source)
    registry.validate()
    return registry


def _pool_cells(spec: dict, source: str, fitted: np.ndarray, n_registered: int) -> np.ndarray:
    """Cells of the near-poor pool: the fitted table reweighted by category."""
    conf = spec["near_poor"]
    check_keys(conf, NEAR_POOR, source, "near_poor")
    ratio = float(conf.get("households_per_registered", 0.0))
    lo_hi = conf.get("income_ratio", [1.0, 1.5])
    if ratio < 0 or len(lo_hi) != 2 or not 1.0 <= lo_hi[0] <= lo_hi[1]:
        raise PovsimError(f"{source}: near_poor: expected households_per_registered >= 0 and "
                          "income_ratio = [low, high] with 1 <= low <= high (x the line)")
    weights = conf.get("category_weights", {})
    check_keys(weights, {c: (int, float) for c in ("general", "dibao", "wubao")}, source,
               "near_poor.category_weights")
    w = np.array([float(weights.get(c, 1.0)) for c in ("general", "dibao", "wubao")])
    table = fitted * w.reshape((1, -1) + (1,) * (len(SHAPE) - 2))
    counts = apportion(int(round(ratio * n_registered)), table.ravel())
    return np.repeat(np.arange(table.size, dtype=np.uint16), counts)


# ---------------------------------------------------------------- benchmarks

def synthetic(n: int, n_counties: int = 100, seed: int = 0, base_year: int = 2015) -> Registry:
    """A large synthetic registry for benchmarks and scale tests (no published counts).

    Vectorised throughout; ``n`` = 1e7 builds in a few seconds.
    """
    rng = np.random.default_rng(seed)
    county = np.sort(rng.integers(0, n_counties, n)).astype(np.int16)
    has_labour = rng.random(n) < 0.55
    size = np.clip(1 + rng.poisson(np.where(has_labour, 2.4, 0.6)), 1, MAX_SIZE).astype(np.int8)
    s32 = size.astype(np.int32)
    labourers = np.where(has_labour, 1 + rng.binomial(s32 - 1, 0.5), 0)
    ill = rng.binomial(s32, 0.15)
    line = 2855.0
    share = np.where(has_labour, rng.beta(3.0, 2.2, n), rng.beta(1.2, 6.0, n))
    villages_per_county = 50
    village = county.astype(np.int32) * villages_per_county + rng.integers(0, villages_per_county, n)
    zeros = np.zeros(n, np.int8)
    households = {
        "hh_id": np.arange(n, dtype=np.int64), "village": village, "county": county,
        "category": np.where(has_labour, 0, rng.integers(1, 3, n)),
        "cause": np.where(ill > 0, 0, np.where(has_labour, 1, 3)),
        "size": size, "labourers": labourers, "elderly": np.where(has_labour, 0, s32 // 2),
        "disabled": zeros, "ill": ill, "students_preschool": zeros,
        "students_compulsory": np.minimum(rng.binomial(s32, 0.1), s32 - labourers),
        "students_upper": zeros, "students_university": zeros,
        "registered": np.ones(n, np.uint8), "harsh_area": (rng.random(n) < 0.05).astype(np.uint8),
        "dropouts": np.zeros(n, np.int8), "insured": np.ones(n, np.uint8),
        "housing_safe": (rng.random(n) > 0.3).astype(np.uint8),
        "water_safe": np.ones(n, np.uint8), "market_income": share * line,
    }
    nv = n_counties * villages_per_county
    counties_t = {"county_id": np.arange(n_counties), "region": rng.integers(0, 3, n_counties),
                  "rural_population": np.full(n_counties, max(1, 10 * n // n_counties)),
                  "income_ratio": np.ones(n_counties), "national_poor": np.ones(n_counties),
                  "poor_county": np.ones(n_counties)}
    villages = {"village_id": np.arange(nv), "county": np.repeat(np.arange(n_counties),
                                                                  villages_per_county),
                "rural_population": np.full(nv, max(1, 10 * n // nv)),
                "collective_income": np.zeros(nv), "infrastructure_ok": np.ones(nv),
                "poor_village": np.ones(nv)}
    return Registry(cast(households, HOUSEHOLD_SCHEMA), cast(villages, VILLAGE_SCHEMA),
                    cast(counties_t, COUNTY_SCHEMA), [f"county {i}" for i in range(n_counties)],
                    base_year, f"synthetic-{n}", "synthetic")
