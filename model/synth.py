"""Synthetic registries from published counts (a first, simple generator).

A spec (TOML, see ``model/specs/ruyuan.toml``) gives cells of category x labour
capacity with exact household and people counts, plus household-level counts
(disabled households and their people, ill people and their households, unsafe
houses). The generator reproduces every household count exactly, the people
of each cell exactly, and the ill-people and disabled-household-people totals
exactly where the household sizes allow. Everything the spec does not give is
drawn from the spec's ``[assumptions]`` with a numpy generator seeded by the
spec, so a spec always builds the same registry.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from model.errors import PovsimError, close_match
from model.population import (CATEGORIES, CAUSES, COUNTY_SCHEMA, HOUSEHOLD_SCHEMA, REGIONS,
                              STUDENT_STAGES, VILLAGE_SCHEMA, Registry, cast)

MAX_SIZE = 10


def builtin_specs() -> list[str]:
    """Names of the specs shipped with the package."""
    folder = resources.files("model").joinpath("specs")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_spec(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    """Read a spec by built-in name or path; return (spec, source)."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text, source = path.read_text(encoding="utf-8"), str(path)
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


def _sizes(rng: np.random.Generator, households: int, people: int) -> np.ndarray:
    """Household sizes in 1..MAX_SIZE summing exactly to ``people``."""
    if not households <= people <= households * MAX_SIZE:
        raise PovsimError(f"cell of {households} households cannot hold {people} people "
                          f"(1 to {MAX_SIZE} each)")
    mean_extra = people / households - 1.0
    size = 1 + np.minimum(rng.poisson(mean_extra, households), MAX_SIZE - 1)
    diff = people - int(size.sum())
    while diff != 0:
        step = 1 if diff > 0 else -1
        room = np.flatnonzero(size < MAX_SIZE) if step > 0 else np.flatnonzero(size > 1)
        pick = rng.choice(room, size=min(abs(diff), len(room)), replace=False)
        size[pick] += step
        diff -= step * len(pick)
    return size.astype(np.int8)


def _choose_with_total(rng: np.random.Generator, size: np.ndarray, weight: np.ndarray,
                       count: int, total: int) -> np.ndarray:
    """Pick ``count`` households (weighted) whose sizes sum to ``total`` if possible.

    Starts from a weighted sample and swaps chosen for unchosen households to
    close the gap; stops when exact or when no swap helps.
    """
    p = weight / weight.sum()
    chosen = np.zeros(len(size), bool)
    chosen[rng.choice(len(size), size=count, replace=False, p=p)] = True
    gap = total - int(size[chosen].sum())
    for _ in range(50 * count):
        if gap == 0:
            break
        inside, outside = np.flatnonzero(chosen), np.flatnonzero(~chosen)
        a = rng.choice(inside, size=min(64, len(inside)))
        b = rng.choice(outside, size=min(64, len(outside)))
        delta = size[b].astype(int) - size[a].astype(int)
        ok = (np.sign(delta) == np.sign(gap)) & (np.abs(delta) <= abs(gap))
        if not ok.any():
            continue
        k = np.flatnonzero(ok)[0]
        chosen[a[k]], chosen[b[k]] = False, True
        gap -= int(delta[k])
    return chosen


def build(spec: dict[str, Any], source: str = "spec") -> Registry:
    """Build a :class:`Registry` from a cells-and-counts spec."""
    rng = np.random.default_rng(int(spec.get("seed", 0)))
    assume = spec["assumptions"]
    counts = spec["counts"]
    cells = spec["cells"]
    parts: dict[str, list[np.ndarray]] = {"category": [], "labour": [], "size": []}
    for i, cell in enumerate(cells):
        if cell["category"] not in CATEGORIES:
            raise PovsimError(f"{source}: cells[{i}].category = {cell['category']!r}, expected one "
                              f"of {CATEGORIES}" + close_match(str(cell["category"]), CATEGORIES))
        h, n = int(cell["households"]), int(cell["people"])
        parts["category"].append(np.full(h, CATEGORIES.index(cell["category"]), np.int8))
        parts["labour"].append(np.full(h, bool(cell["labour"])))
        parts["size"].append(_sizes(rng, h, n))
    category = np.concatenate(parts["category"])
    has_labour = np.concatenate(parts["labour"])
    size = np.concatenate(parts["size"])
    n = len(size)
    order = rng.permutation(n)  # mix cells so that ids carry no cell order
    category, has_labour, size = category[order], has_labour[order], size[order]
    s32 = size.astype(np.int32)

    extra = rng.binomial(s32 - 1, assume["labourer_share"])
    labourers = np.where(has_labour, 1 + extra, 0)
    room = s32 - labourers
    n_students = np.where(has_labour, np.minimum(rng.binomial(s32, assume["children_per_member"]),
                                                 room), 0)
    stages = np.zeros((n, len(STUDENT_STAGES)), np.int32)
    for k in range(int(n_students.max(initial=0))):
        stages += rng.multinomial(1, assume["student_stage_shares"], size=n) * (n_students > k)[:, None]
    elder_share = np.where(has_labour, assume["elderly_share_labour"],
                           assume["elderly_share_no_labour"])
    elderly = rng.binomial(room - n_students, elder_share)

    # disabled households: weighted towards households without labour
    w_dis = np.where(has_labour, 1.0, 2.0)
    disabled_hh = _choose_with_total(rng, s32, w_dis, counts["disabled_households"],
                                     counts["disabled_household_people"])
    disabled = np.where(disabled_hh, 1 + rng.binomial(np.maximum(s32 - 1, 0), 0.1), 0)

    # ill people: one in each chosen household, the rest spread where room remains
    w_ill = np.where(has_labour, 1.0, 1.5)
    ill_hh = np.zeros(n, bool)
    ill_hh[rng.choice(n, counts["ill_households"], replace=False, p=w_ill / w_ill.sum())] = True
    ill = ill_hh.astype(np.int32)
    left = counts["ill_people"] - counts["ill_households"]
    while left > 0:
        room_ill = np.flatnonzero(ill_hh & (ill < s32))
        if len(room_ill) == 0:
            break
        pick = rng.choice(room_ill, size=min(left, len(room_ill)), replace=False)
        ill[pick] += 1
        left -= len(pick)

    housing_safe = np.ones(n, np.uint8)
    housing_safe[rng.choice(n, counts["unsafe_housing_households"], replace=False)] = 0
    water_safe = (rng.random(n) >= assume["water_unsafe_share"]).astype(np.uint8)

    cause = np.where(ill > 0, CAUSES.index("illness"),
                     np.where(disabled > 0, CAUSES.index("disability"),
                              np.where(~has_labour, CAUSES.index("lack_of_labour"),
                                       rng.choice([CAUSES.index("lack_of_funds"),
                                                   CAUSES.index("lack_of_skills")], n))))
    line = float(spec["identification_line"])
    a_l, b_l = assume["market_share_labour"]
    a_n, b_n = assume["market_share_no_labour"]
    share = np.where(has_labour, rng.beta(a_l, b_l, n), rng.beta(a_n, b_n, n))
    market = (share * line).astype(np.float32)

    county, village, counties, villages, names = _places(rng, spec, n, source)
    households = {
        "hh_id": np.arange(n, dtype=np.int64), "village": village, "county": county,
        "category": category, "cause": cause, "size": size, "labourers": labourers,
        "elderly": elderly, "disabled": disabled, "ill": ill,
        **{s: stages[:, k] for k, s in enumerate(STUDENT_STAGES)},
        "registered": np.ones(n, np.uint8), "harsh_area": np.zeros(n, np.uint8),
        "dropouts": np.zeros(n, np.int8), "insured": np.ones(n, np.uint8),
        "housing_safe": housing_safe, "water_safe": water_safe, "market_income": market,
    }
    registry = Registry(cast(households, HOUSEHOLD_SCHEMA), cast(villages, VILLAGE_SCHEMA),
                        cast(counties, COUNTY_SCHEMA), names, int(spec["base_year"]),
                        str(spec["name"]), source)
    registry.validate()
    return registry


def _places(rng: np.random.Generator, spec: dict[str, Any], n: int, source: str):
    """Assign households to counties (by the counties' household counts) and
    uniformly to the villages of their county."""
    specs = spec["counties"]
    hh_per_county = np.array([int(c["households"]) for c in specs])
    if hh_per_county.sum() != n:
        raise PovsimError(f"{source}: counties hold {hh_per_county.sum()} households but the "
                          f"cells give {n}")
    county = np.repeat(np.arange(len(specs)), hh_per_county)
    n_villages = np.array([int(c["villages"]) for c in specs])
    first_village = np.concatenate([[0], np.cumsum(n_villages)[:-1]])
    village = first_village[county] + (rng.random(n) * n_villages[county]).astype(np.int64)
    for c in specs:
        if c["region"] not in REGIONS:
            raise PovsimError(f"{source}: county '{c['name']}' region = {c['region']!r}, "
                              f"expected one of {REGIONS}" + close_match(c["region"], REGIONS))
    counties = {
        "county_id": np.arange(len(specs)),
        "region": [REGIONS.index(c["region"]) for c in specs],
        "rural_population": [int(c["rural_population"]) for c in specs],
        "income_ratio": [float(c["income_ratio"]) for c in specs],
        "national_poor": [int(c["national_poor"]) for c in specs],
    }
    pop_per_village = [int(c["rural_population"]) // int(c["villages"]) for c in specs]
    villages = {
        "village_id": np.arange(n_villages.sum()),
        "county": np.repeat(np.arange(len(specs)), n_villages),
        "rural_population": np.repeat(pop_per_village, n_villages),
        "collective_income": np.zeros(n_villages.sum()),
        "infrastructure_ok": np.ones(n_villages.sum()),
    }
    return county, village, counties, villages, [str(c["name"]) for c in specs]


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
    counties = {"county_id": np.arange(n_counties), "region": rng.integers(0, 3, n_counties),
                "rural_population": np.full(n_counties, max(1, 10 * n // n_counties)),
                "income_ratio": np.ones(n_counties), "national_poor": np.ones(n_counties)}
    villages = {"village_id": np.arange(nv), "county": np.repeat(np.arange(n_counties),
                                                                  villages_per_county),
                "rural_population": np.full(nv, max(1, 10 * n // nv)),
                "collective_income": np.zeros(nv), "infrastructure_ok": np.ones(nv)}
    return Registry(cast(households, HOUSEHOLD_SCHEMA), cast(villages, VILLAGE_SCHEMA),
                    cast(counties, COUNTY_SCHEMA), [f"county {i}" for i in range(n_counties)],
                    base_year, f"synthetic-{n}", "synthetic")
