"""Synthetic registries from published aggregates.

:func:`build` turns a spec (:mod:`model.registry.spec`, files in
``model/registry/specs/``) into a :class:`~model.registry.tables.Registry`:

1. **Joint table.** The household types (region x category x labour x
   disabled x ill x housing x cause x size) start from the spec's prior and
   are fitted to its margins by iterative proportional fitting
   (:func:`model.registry.ipf.fit`), then rounded to whole households so that every
   count the spec gives holds exactly (:func:`model.registry.ipf.round_exact`).
2. **Households.** One row per household of each cell (``np.repeat``); member
   counts (labourers, students, elderly, ill and disabled members) are drawn
   within the cell's constraints, exact where ``[members]`` gives a total;
   base-year market income is log-normal in multiples of the identification
   line, fitted to the spec's ``[income]`` margins (share below the line and
   mean) by labour; nothing caps it below the line, since the registry was
   filled by quota (规模控制) and held households above the line too.
3. **Places.** Households of a region go to its counties (exact when the
   counties give households, else by apportioning their shares), then to the
   county's poor or other villages.
4. **Near-poor pool** (optional): unregistered households (``registered`` 0)
   with income just above the line, drawn from the same fitted table.

Everything is vectorised (no Python loop over households) and seeded by the
spec, so a spec always builds the same registry. The large draws, the
shuffles and the sort by village run as compiled loops that give numpy's
numbers bit for bit (:mod:`model.registry.draws`); household columns are
built in their small dtypes, and float64 uniforms a piece at a time, so the
national registry (32M households, 1.1 GB of tables) builds in about 1.5 GB.
:func:`synthetic` makes a large registry without published counts, for
benchmarks.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from model.allocator import keep_freed_arrays
from model.errors import PovsimError, close_match
from model.registry import draws, ipf
from model.registry.files import read_utf8
from model.registry.spec import (
    ASSUMPTION_KEYS,
    ASSUMPTIONS,
    DIM_NAMES,
    MAX_SIZE,
    NEAR_POOR,
    SHAPE,
    TOP,
    VILLAGES,
    Counties,
    apportion,
    check_keys,
    constraints,
    counties,
    income_margins,
    member_counts,
    prior_table,
    scale_spec,
)
from model.registry.tables import (
    CAUSES,
    COUNTY_SCHEMA,
    HOUSEHOLD_SCHEMA,
    VILLAGE_SCHEMA,
    Registry,
    cast,
)

CHUNK = 1 << 20  # incomes drawn at a time (bounds their float64 temporaries)

__all__ = ["MAX_SIZE", "build", "builtin_specs", "load_spec", "synthetic"]


def builtin_specs() -> list[str]:
    """Names of the specs shipped with the package (``_name`` files are bases only)."""
    folder = resources.files("model.registry").joinpath("specs")
    return sorted(p.name[:-5] for p in folder.iterdir()
                  if p.name.endswith(".toml") and not p.name.startswith("_"))


def _merge(base: dict, spec: dict) -> dict:
    """``spec`` over ``base``: tables merge, lists of tables add up, values replace."""
    out = dict(base)
    for key, value in spec.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = _merge(old, value)
        elif (isinstance(old, list) and isinstance(value, list) and old and value
              and isinstance(old[0], dict) and isinstance(value[0], dict)):
            out[key] = old + value
        else:
            out[key] = value
    return out


def _extend(spec: dict, source: str) -> dict:
    """Resolve ``extends = "_base"`` (a spec in model/registry/specs named without .toml)."""
    base_name = spec.pop("extends", None)
    if base_name is None:
        return spec
    names = [p.name[:-5] for p in resources.files("model.registry").joinpath("specs").iterdir()
             if p.name.endswith(".toml")]
    if not isinstance(base_name, str) or base_name not in names:
        raise PovsimError(f"{source}: extends = {base_name!r}: expected one of "
                          f"{', '.join(sorted(names))}" + close_match(str(base_name), names))
    text = resources.files("model.registry").joinpath("specs", f"{base_name}.toml").read_text("utf-8")
    return _merge(_extend(tomllib.loads(text), f"model/registry/specs/{base_name}.toml"), spec)


def load_spec(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    """Read a spec by built-in name or path; return (spec, source)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.is_file():
        source, text = str(path), read_utf8(path)
    else:
        names = builtin_specs()
        if str(name_or_path) not in names:
            raise PovsimError(f"registry spec '{name_or_path}' not found: expected a .toml file "
                              f"or one of {', '.join(names)}"
                              + close_match(str(name_or_path), names))
        res = resources.files("model.registry").joinpath("specs", f"{name_or_path}.toml")
        text, source = res.read_text(encoding="utf-8"), f"model/registry/specs/{name_or_path}.toml"
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PovsimError(f"{source}: {err}") from None
    return _extend(spec, source), source


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


def _decode_table(name: str) -> np.ndarray:
    """Value (int8) of dimension ``name`` in every cell (``size``: persons)."""
    k = DIM_NAMES.index(name)
    stride = int(np.prod(SHAPE[k + 1:]))
    every = np.arange(int(np.prod(SHAPE)))
    return ((every // stride) % SHAPE[k] + (name == "size")).astype(np.int8)


def _decode(cells: np.ndarray, names: tuple[str, ...] = DIM_NAMES) -> dict[str, np.ndarray]:
    """Dimension values (int8) of each household's cell index (``size``: persons)."""
    return {name: draws.take(_decode_table(name), cells) for name in names}


def _cells(table: np.ndarray) -> np.ndarray:
    """One cell index per household, in cell order (uint16 is enough)."""
    return np.repeat(np.arange(table.size, dtype=np.uint16), table.ravel())


def _pieces(n: int):
    """Slices of ``range(n)`` of at most :data:`CHUNK` rows, in order."""
    return (slice(lo, min(lo + CHUNK, n)) for lo in range(0, n, CHUNK))


# ---------------------------------------------------------------- members

def _exact_extra(rng: np.random.Generator, room: np.ndarray, need: int,
                 what: str) -> np.ndarray:
    """Extra units, at most ``room`` each, adding up to exactly ``need``."""
    cap = int(room.sum(dtype=np.int64))
    if not 0 <= need <= cap:
        raise PovsimError(f"{what}: impossible: the households drawn have room for 0 to {cap} "
                          f"more members, {need} needed")
    extra = draws.binomial(rng, room, need / cap if cap else 0.0)
    diff = need - int(extra.sum(dtype=np.int64))
    while diff != 0:
        pool = np.flatnonzero(extra < room) if diff > 0 else np.flatnonzero(extra > 0)
        pick = rng.choice(pool, size=min(abs(diff), len(pool)), replace=False)
        extra[pick] += 1 if diff > 0 else -1
        diff -= len(pick) if diff > 0 else -len(pick)
    return extra


def _income_draw(rng: np.random.Generator, shape: tuple):
    """A function drawing ``k`` incomes (multiples of the line) of a group's
    shape (:func:`model.registry.spec.income_margins`)."""
    if shape[0] == "lognormal":
        return lambda k: rng.lognormal(shape[1], shape[2], k)
    from scipy.special import ndtr, ndtri

    below_line, mu, sigma, mu_above = shape[1:]
    cut_below, cut_above = ndtr(-mu / sigma), ndtr(-mu_above / sigma)

    def draw(k):
        """Below the line with probability ``below_line``: the rural
        log-normal cut at 1; else the log-normal above 1 (inverse CDF)."""
        is_below = rng.random(k) < below_line
        u = rng.random(k)
        z = np.where(is_below, ndtri(u * cut_below), ndtri(cut_above + u * (1.0 - cut_above)))
        return np.exp(np.where(is_below, mu, mu_above) + sigma * z)

    return draw


def _market_income(rng: np.random.Generator, labour: np.ndarray, reg: np.ndarray,
                   shapes: dict, pool_range: tuple[float, float], line: float) -> np.ndarray:
    """Base-year market income (yuan per person, float32): multiples of ``line``
    of each group's shape for the registered (with labour first, then without), uniform in
    ``pool_range`` for the pool; each call draws in household order, a piece
    at a time, and each household's multiple goes straight to its income."""
    out = np.empty(len(reg), np.float32)
    groups = [(labour & reg, _income_draw(rng, shapes["labour"])),
              (~labour & reg, _income_draw(rng, shapes["no_labour"]))]
    if not reg.all():
        groups.append((~reg, lambda k: rng.uniform(*pool_range, k)))
    for mask, draw in groups:
        for part in _pieces(len(reg)):
            where = mask[part]
            out[part][where] = (draw(int(where.sum())) * line).astype(np.float32)
    return out


def _households(rng: np.random.Generator, cells: np.ndarray, registered: np.ndarray,
                spec: dict, assume: dict, source: str) -> dict[str, np.ndarray]:
    """Household columns for households of the given cells (registered 1 or pool 0).

    Member counts are consistent with the cell; the spec's exact member totals
    (``[members]``) hold over the registered households. Counts are int8
    (persons, at most :data:`MAX_SIZE`), flags bool.
    """
    n = len(cells)
    d = _decode(cells, tuple(name for name in DIM_NAMES if name != "region"))
    reg = registered == 1
    size = d["size"]
    labour = d["labour"] == 1
    labourers = np.where(labour, 1 + draws.binomial(rng, size - 1, assume["labourer_share"]),
                         0).astype(np.int8)
    room = size - labourers
    students = np.where(labour, np.minimum(
        draws.binomial(rng, size, assume["children_per_member"]), room), 0).astype(np.int8)
    schooling = (d["cause"] == CAUSES.index("schooling")) & (room > 0)
    students = np.maximum(students, schooling)
    cols: dict[str, np.ndarray] = {}
    left, rest = students, 1.0
    shares = assume["student_stage_shares"]
    for k, name in enumerate(("students_preschool", "students_compulsory", "students_upper")):
        cols[name] = draws.binomial(rng, left, min(1.0, shares[k] / rest) if rest > 0 else 0.0)
        left, rest = left - cols[name], rest - shares[k]
    cols["students_university"] = left
    cols["elderly"] = draws.binomial(
        rng, room - students, [assume["elderly_share_no_labour"], assume["elderly_share_labour"]],
        labour.view(np.uint8))
    cols["dropouts"] = draws.binomial(rng, cols["students_compulsory"], assume["dropout_share"])
    del room, students, left
    exact = member_counts(spec, source)
    for name in ("ill", "disabled"):
        has = d.pop(name) == 1
        spare = np.where(has, size - 1, 0).astype(np.int8)
        extra = draws.binomial(rng, spare, assume[f"extra_{name}_share"])
        if name in exact:   # exact over the registered, shares in the pool
            need = exact[name] - int((has & reg).sum())
            extra[reg] = 0
            spare[~reg] = 0
            extra += _exact_extra(rng, spare, need, f"{source}: member count of {name}")
        cols[name] = has + extra
        del has, spare, extra
    lo, hi = spec.get("near_poor", {}).get("income_ratio", [1.0, 1.5])
    income = _market_income(rng, labour, reg, income_margins(spec, source), (lo, hi),
                            float(spec["identification_line"]))
    cols.update({
        "category": d["category"], "cause": d["cause"], "size": size,
        "labourers": labourers, "registered": registered,
        "harsh_area": draws.below(rng, n, assume["harsh_area_share"]),
        "insured": draws.below(rng, n, assume["insured_share"]),
        "housing_safe": d["housing"] == 0,
        "water_safe": ~draws.below(rng, n, assume["water_unsafe_share"]),
        "market_income": income,
    })
    return cols


def _assumptions(spec: dict, source: str) -> dict[str, Any]:
    given = spec.get("assumptions", {})
    check_keys(given, ASSUMPTION_KEYS, source, "assumptions")
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
    return assume


# ---------------------------------------------------------------- places

def _to_counties(rng: np.random.Generator, region: np.ndarray, cs: Counties,
                 weights: np.ndarray, exact: np.ndarray | None) -> np.ndarray:
    """County of each household (within its region, exact counts or apportioned
    weights), and the households of each county.

    ``region`` must be sorted (households come in cell order, region first).
    """
    county = np.empty(len(region), np.int16)
    placed = np.zeros(len(cs.names), np.int64)
    bounds = np.searchsorted(region, np.arange(4, dtype=region.dtype))
    for r in range(3):
        lo, hi = bounds[r], bounds[r + 1]
        if hi == lo:
            continue
        ids = np.flatnonzero(cs.region == r)
        counts = exact[ids] if exact is not None else apportion(hi - lo, weights[ids])
        county[lo:hi] = np.repeat(ids.astype(np.int16), counts)
        draws.shuffle(rng, county[lo:hi])   # rng.permutation, faster
        placed[ids] = counts
    return county, placed


def _people(index: np.ndarray, cells: np.ndarray, length: int,
            registered: np.ndarray | None = None) -> np.ndarray:
    """Persons (float64) per value of ``index``, of the registered households only
    when ``registered`` is given; whole numbers, so the sums are exact."""
    size = draws.take(_decode_table("size"), cells)
    return draws.sum_by(index, size if registered is None else size * registered, length)


def _villages(rng: np.random.Generator, spec: dict, source: str, cs: Counties,
              county: np.ndarray, cells: np.ndarray, registered: np.ndarray):
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
    village = draws.villages(rng, county, p_poor, first, n_poor, n_other)
    nv = int(per_county.sum())
    v_county = np.repeat(np.arange(len(per_county)), per_county)
    poor_flag = (np.arange(nv) - first[v_county]) < n_poor[v_county]
    people = _people(county, cells, len(per_county), registered)
    c_rural = np.where(cs.rural_population > 0, cs.rural_population,
                       np.ceil(people / np.nan_to_num(cs.incidence, nan=1.0)))
    given = cs.rural_population > 0
    short = np.flatnonzero(given & (people > cs.rural_population))
    if len(short):
        k = int(short[0])
        raise PovsimError(f"{source}: {cs.where[k]}.rural_population = "
                          f"{int(cs.rural_population[k]):,}: fewer than the {int(people[k]):,} "
                          f"registered people placed in county '{cs.names[k]}': expected a "
                          "rural population of at least its registered people (or give "
                          "'incidence' instead)")
    v_people = _people(village, cells, nv)
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

def build(spec: dict[str, Any], source: str = "spec", scale: float = 1.0) -> Registry:
    """Build a :class:`Registry` from a spec (see :mod:`model.registry.spec`).

    Parameters
    ----------
    spec : dict
        The parsed TOML spec.
    source : str
        Where it came from, for messages and ``Registry.source``.
    scale : float
        Share of the households built, 0 < scale <= 1 (reduced-scale runs):
        households, people and villages are ``scale`` times the spec's,
        counties and the composition stay (:func:`model.registry.spec.scale_spec`).

    Returns
    -------
    Registry
        Households ordered by village (so by county); ``hh_id`` is the row.

    Raises
    ------
    PovsimError
        For a bad spec: unknown key, wrong type, inconsistent counts.
    """
    check_keys(spec, TOP, source, "")
    keep_freed_arrays()  # the build's registry-size temporaries reuse freed memory
    spec = scale_spec(spec, scale, source)
    fitted, table, cs = fit_table(spec, source)
    assume = _assumptions(spec, source)
    rng = np.random.default_rng(int(spec.get("seed", 0)))
    cells = _cells(table)
    county, reg_counts = _to_counties(rng, _decode_region(cells), cs, cs.share, cs.households)
    registered = np.ones(len(cells), np.uint8)
    if "near_poor" in spec:
        pool = _pool_cells(spec, source, fitted, len(cells))
        pool_county, _ = _to_counties(rng, _decode_region(pool), cs, reg_counts + 1e-9, None)
        cells, county = np.concatenate([cells, pool]), np.concatenate([county, pool_county])
        registered = np.concatenate([registered, np.zeros(len(pool), np.uint8)])
    village, villages, counties_t = _villages(rng, spec, source, cs, county, cells, registered)
    # households in village order (so county order); members drawn in that order
    nv, v_county = len(villages["village_id"]), villages["county"].astype(np.int16)
    del county   # each household is in a village of its county (every county has one)
    per_village, (cells, registered) = draws.sort_by(village, nv, cells, registered,
                                                     coarse=v_county)
    del village
    households = _households(rng, cells, registered, spec, assume, source)
    del cells, registered
    village = np.repeat(np.arange(nv, dtype=np.int32), per_village)  # the sorted villages
    per_county = np.bincount(v_county, weights=per_village, minlength=len(cs.names))
    households.update(hh_id=np.arange(len(village), dtype=np.int32), village=village,
                      county=np.repeat(np.arange(len(cs.names), dtype=np.int16),
                                       per_county.astype(np.int64)))
    # a village that meets the infrastructure conditions has safe drinking
    # water (Hubei's nine haves, seed 000 §三(二); Ruyuan's tap water, seed 004
    # §二(二)): unsafe water is only where the village infrastructure is missing,
    # which the village programme fixes
    households["water_safe"] |= villages["infrastructure_ok"][village] == 1
    # the household columns are new arrays already: convert, never copy
    return Registry(cast(households, HOUSEHOLD_SCHEMA, copy=False),
                    cast(villages, VILLAGE_SCHEMA), cast(counties_t, COUNTY_SCHEMA),
                    list(cs.names), int(spec["base_year"]), str(spec["name"]), source)


def _decode_region(cells: np.ndarray) -> np.ndarray:
    return (cells // (int(np.prod(SHAPE)) // SHAPE[0])).astype(np.int8)


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

def synthetic(n: int, n_counties: int = 100, seed: int = 0, base_year: int = 2015,
              villages_per_county: int = 50) -> Registry:
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
    village = (county.astype(np.int32) * villages_per_county
               + rng.integers(0, villages_per_county, n))
    zeros = np.zeros(n, np.int8)
    households = {
        "hh_id": np.arange(n, dtype=np.int32), "village": village, "county": county,
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
