"""Household, village and county tables (struct of arrays) and their schema.

A registry is three tables, each a dict of equally long numpy arrays with
compact dtypes: households, villages and counties. People are counts inside a
household. Every field is declared once in a schema (dtype, unit, allowed
range, meaning); :func:`validate` checks a table against it and reports every
problem (up to a limit) with the field, the row and the value.

Household ids are compact int32 indices (``hh_id``), stable for the life of a
run and used as the counter of the random numbers; the registry's own ids and
names never enter these tables (an importer maps them to ``hh_id``). The
household kernels read the ids in every pass: with 4-byte ids their loops
vectorise 16 households wide rather than 8, and an id draws what the same
number as an int64 would.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np

from model.errors import SchemaError

# categories (一般贫困户 / 低保户 / 五保户)
GENERAL, DIBAO, WUBAO = 0, 1, 2
CATEGORIES = ("general", "dibao", "wubao")
# regions of a county (exit thresholds differ in the west)
EAST, CENTRAL, WEST = 0, 1, 2
REGIONS = ("east", "central", "west")
# main cause of poverty (致贫原因), order of data poverty_causes.csv
CAUSES = ("illness", "lack_of_funds", "lack_of_skills", "lack_of_labour", "schooling",
          "disaster", "disability", "lack_of_land", "lack_of_water", "poor_transport",
          "lack_of_motivation")
STUDENT_STAGES = ("students_preschool", "students_compulsory", "students_upper",
                  "students_university")


@dataclass(frozen=True)
class Field:
    """One column of a table: dtype, unit, inclusive range and meaning."""

    name: str
    dtype: str
    unit: str
    low: float
    high: float
    description: str


HOUSEHOLD_SCHEMA = (
    Field("hh_id", "int32", "index", 0, 2**31 - 1,
          "internal household id (random-number counter)"),
    Field("village", "int32", "index", 0, 2**31 - 1, "row of the household's village"),
    Field("county", "int16", "index", 0, 32767, "row of the household's county"),
    Field("category", "int8", "code", 0, 2, "0 general poor, 1 dibao, 2 wubao"),
    Field("cause", "int8", "code", 0, len(CAUSES) - 1, "main cause of poverty, see CAUSES"),
    Field("size", "int8", "persons", 1, 20, "household members"),
    Field("labourers", "int8", "persons", 0, 20, "able-bodied working-age members"),
    Field("elderly", "int8", "persons", 0, 20, "members aged 60 or more"),
    Field("disabled", "int8", "persons", 0, 20, "members with a disability"),
    Field("ill", "int8", "persons", 0, 20, "chronically or seriously ill members"),
    Field("students_preschool", "int8", "persons", 0, 20, "children in preschool"),
    Field("students_compulsory", "int8", "persons", 0, 20, "students in compulsory school"),
    Field("students_upper", "int8", "persons", 0, 20,
          "students in upper-secondary or vocational school"),
    Field("students_university", "int8", "persons", 0, 20, "students at university"),
    Field("registered", "uint8", "flag", 0, 1,
          "1 if on the registry (建档立卡) at the base year; 0 for the near-poor pool"),
    Field("harsh_area", "uint8", "flag", 0, 1,
          "1 if living where the land cannot support its people (relocation candidate)"),
    Field("dropouts", "int8", "persons", 0, 20,
          "compulsory-age children out of school (the schooling guarantee fails if > 0)"),
    Field("insured", "uint8", "flag", 0, 1,
          "1 if every member has basic medical insurance (a guarantee)"),
    Field("housing_safe", "uint8", "flag", 0, 1, "1 if the house is safe (a guarantee)"),
    Field("water_safe", "uint8", "flag", 0, 1, "1 if drinking water is safe (a guarantee)"),
    Field("market_income", "float32", "yuan/person/year", 0, 1e6,
          "per-capita market income (wages, farm and business) in the base year"),
)

VILLAGE_SCHEMA = (
    Field("village_id", "int32", "index", 0, 2**31 - 1, "internal village id"),
    Field("county", "int16", "index", 0, 32767, "row of the village's county"),
    Field("rural_population", "int32", "persons", 1, 2**31 - 1,
          "rural population (denominator of the village's poverty incidence)"),
    Field("collective_income", "float32", "yuan/year", 0, 1e9,
          "village collective income in the base year"),
    Field("infrastructure_ok", "uint8", "flag", 0, 1,
          "1 if roads, water, power and clinic meet the village exit conditions"),
    Field("poor_village", "uint8", "flag", 0, 1,
          "1 for a registered poor village (贫困村), whose exit is tracked"),
)

COUNTY_SCHEMA = (
    Field("county_id", "int16", "index", 0, 32767, "internal county id"),
    Field("region", "int8", "code", 0, 2, "0 east, 1 central, 2 west"),
    Field("rural_population", "int32", "persons", 1, 2**31 - 1,
          "rural population (denominator of the poverty incidence)"),
    Field("income_ratio", "float32", "1", 0, 10,
          "base-year rural income relative to the provincial average"),
    Field("national_poor", "uint8", "flag", 0, 1, "1 for a national poor county"),
    Field("poor_county", "uint8", "flag", 0, 1,
          "1 for a poor county (national or provincial) that exits as a county"),
)

SCHEMAS = {"households": HOUSEHOLD_SCHEMA, "villages": VILLAGE_SCHEMA, "counties": COUNTY_SCHEMA}


def _row_problems(name: str, values: np.ndarray, bad: np.ndarray, expected: str,
                  source: str, limit: int) -> list[str]:
    rows = np.flatnonzero(bad)[:max(limit, 0)]
    return [f"{source}: field '{name}' row {r}: value {values[r].item()!r}, expected {expected}"
            for r in rows]


def validate(table: Mapping[str, np.ndarray], schema: tuple[Field, ...], source: str,
             limit: int = 20) -> list[str]:
    """Return every problem of ``table`` against ``schema`` (at most ``limit``).

    Checks presence, dtype kind, length, range and, for households, the
    consistency of the person counts. An empty list means the table is valid.
    """
    problems: list[str] = []
    names = {f.name for f in schema}
    n = None
    for f in schema:
        if f.name not in table:
            problems.append(f"{source}: field '{f.name}' is missing ({f.description})")
            continue
        col = np.asarray(table[f.name])
        if col.ndim != 1:
            problems.append(f"{source}: field '{f.name}' has shape {col.shape}, expected 1-D")
            continue
        if n is None:
            n = len(col)
        elif len(col) != n:
            problems.append(f"{source}: field '{f.name}' has {len(col)} rows, expected {n}")
            continue
        want = np.dtype(f.dtype)
        if col.dtype.kind not in "biuf" or (want.kind in "iu" and col.dtype.kind == "f"):
            problems.append(f"{source}: field '{f.name}' has dtype {col.dtype}, expected {f.dtype}")
            continue
        bad = (col < f.low) | (col > f.high)
        if col.dtype.kind == "f":
            bad |= ~np.isfinite(col)
        kind = "an integer" if want.kind in "iu" else "a number"
        problems += _row_problems(f.name, col, bad, f"{kind} in [{f.low:g}, {f.high:g}] ({f.unit})",
                                  source, limit - len(problems))
    extra = sorted(set(table) - names)
    problems += [f"{source}: field '{e}' is not in the schema" for e in extra]
    if schema is HOUSEHOLD_SCHEMA and not problems:
        problems += _household_consistency(table, source, limit)
    if "hh_id" in names and not problems:
        ids = np.asarray(table["hh_id"])
        uniq, counts = np.unique(ids, return_counts=True)
        for d in uniq[counts > 1][:limit]:
            rows = np.flatnonzero(ids == d)[:5].tolist()
            problems.append(f"{source}: field 'hh_id' rows {rows}: value {d.item()} appears "
                            "more than once, expected unique ids")
    return problems[:limit]


def _household_consistency(t: Mapping[str, np.ndarray], source: str, limit: int) -> list[str]:
    size = t["size"].astype(np.int32)
    problems: list[str] = []
    for name in ("labourers", "elderly", "disabled", "ill"):
        bad = t[name].astype(np.int32) > size
        problems += _row_problems(name, t[name], bad, "at most 'size' members", source,
                                  limit - len(problems))
    students = sum(t[s].astype(np.int32) for s in STUDENT_STAGES)
    bad = students + t["labourers"].astype(np.int32) > size
    problems += _row_problems("labourers", t["labourers"], bad,
                              "labourers plus students at most 'size' members", source,
                              limit - len(problems))
    return problems


def cast(table: Mapping[str, np.ndarray], schema: tuple[Field, ...],
         copy: bool = True) -> dict[str, np.ndarray]:
    """Return ``table`` with every field in its schema dtype, contiguous.

    With ``copy`` (the default) every field is a new array, never a view, so
    no two fields share memory. Without, a field already in its dtype is kept
    as it is (a large table is not held twice); its fields must then be
    separate arrays already (checked).
    """
    if copy:
        return {f.name: np.array(table[f.name], dtype=f.dtype, order="C", copy=True)
                for f in schema}
    out = {f.name: np.ascontiguousarray(table[f.name], dtype=f.dtype) for f in schema}
    columns = list(out.values())
    for i, a in enumerate(columns):
        if any(np.may_share_memory(a, b) for b in columns[i + 1:]):
            raise ValueError(f"cast: field '{schema[i].name}' shares memory with another field")
    return out


@dataclass
class Registry:
    """A population of registered poor households with their villages and counties.

    Attributes
    ----------
    households, villages, counties : dict of str to numpy.ndarray
        Tables as struct of arrays, in schema dtypes.
    county_names : list of str
        Public county names (never household data).
    base_year : int
        The registry describes the population at the end of this year.
    name : str
        Short label, e.g. ``"ruyuan"``.
    source : str
        Where it was read or built from.
    village_share : float
        Share of each village's teams this registry stands for: 1 for a
        registry built at its scale (its villages are scaled already), the
        scale for a registry subsampled from a file (every village is kept,
        each with about ``scale`` of its households), so the work teams of a
        reduced-scale run are scaled like its households.
    """

    households: dict[str, np.ndarray]
    villages: dict[str, np.ndarray]
    counties: dict[str, np.ndarray]
    county_names: list[str]
    base_year: int
    name: str
    source: str = field(default="")
    village_share: float = 1.0

    @property
    def n_households(self) -> int:
        return len(self.households["hh_id"])

    @property
    def n_counties(self) -> int:
        return len(self.counties["county_id"])

    @property
    def n_people(self) -> int:
        return int(self.households["size"].sum(dtype=np.int64))

    def validate(self) -> None:
        """Raise :class:`SchemaError` listing every problem (up to 20)."""
        where = self.source or self.name
        problems = []
        for table_name, schema in SCHEMAS.items():
            problems += validate(getattr(self, table_name), schema, f"{where} [{table_name}]")
        if not problems:
            problems += self._check_links(where)
        if not problems:
            problems += self._check_people(where)
        if problems:
            raise SchemaError("\n".join(problems))

    def _check_people(self, where: str) -> list[str]:
        """At least one registered household, and no county with more
        registered people than its rural population (incidence above 100 %)."""
        h = self.households
        registered = h["registered"] == 1
        if not registered.any():
            return [f"{where} [households]: field 'registered' is 0 in every row: expected at "
                    "least one registered household (registered = 1)"]
        people = np.bincount(h["county"][registered], weights=h["size"][registered],
                             minlength=self.n_counties)
        rural = self.counties["rural_population"].astype(np.float64)
        over = np.flatnonzero(people > rural)
        return [f"{where} [counties]: county '{self.county_names[k]}' (row {k}): "
                f"{int(people[k]):,} registered people but rural_population "
                f"{int(rural[k]):,}: expected a rural population of at least its registered "
                "people (incidence at most 100 %)" for k in over[:5]]

    def _check_links(self, where: str) -> list[str]:
        problems = []
        nc, nv = self.n_counties, len(self.villages["village_id"])
        if len(self.county_names) != nc:
            problems.append(f"{where}: {len(self.county_names)} county names for {nc} counties")
        for table, col, n, target in (("households", "county", nc, "county"),
                                      ("households", "village", nv, "village"),
                                      ("villages", "county", nc, "county")):
            values = getattr(self, table)[col]
            bad = values >= n
            problems += _row_problems(col, values, bad, f"an existing {target} (0 to {n - 1})",
                                      f"{where} [{table}]", 20)
        if not problems:
            hv = self.villages["county"][self.households["village"]]
            bad = hv != self.households["county"]
            problems += _row_problems("county", self.households["county"], bad,
                                      "the county of the household's village",
                                      f"{where} [households]", 20)
        return problems

    def in_county_order(self) -> Registry:
        """The registry with its households stored county by county: itself
        when they are, else a copy whose households are sorted by county
        (a stable sort: in a county, the rows keep their order).

        The engine's one-pass steps, delivery and records take a county's
        households as one run of rows, and share counties among threads;
        households stored in another order take slower paths (about twice
        the time a year). Each household keeps its ``hh_id``, so its random
        numbers are the same in either order.
        """
        county = self.households["county"]
        if not len(county) or (county[1:] >= county[:-1]).all():
            return self
        order = np.argsort(county, kind="stable")
        households = {name: column[order] for name, column in self.households.items()}
        return replace(self, households=households)

    def nbytes(self) -> int:
        """Memory held by the tables (bytes)."""
        return sum(a.nbytes for t in (self.households, self.villages, self.counties)
                   for a in t.values())
