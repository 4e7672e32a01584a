"""Registry files: import of registry extracts, export, and validation.

Formats
-------
``FILE.nc``
    What ``povsim registry build`` writes: NetCDF groups ``households``,
    ``villages`` and ``counties`` in schema dtypes (model/registry/tables.py).
``FILE.csv`` or ``FILE.parquet``
    A household table, one row per household, beside a county table
    ``FILE.counties.csv`` (required) and a village table ``FILE.villages.csv``
    (optional); Parquet files use ``.parquet`` for all three and need pyarrow
    (``pip install 'povsim[parquet]'``). CSV files are UTF-8 (a BOM is
    allowed) with a header line.

Household columns (:data:`HOUSEHOLD_COLUMNS`): ``household_id`` (any text,
unique), ``county`` (a name in the county table), ``village`` (a name, unique
within its county), ``category`` (general / dibao / wubao, or 一般 / 低保 /
五保, or 0-2), ``cause`` (see model.registry.tables.CAUSES, or the Chinese
label, or 0-10), ``size``, ``labourers``, ``market_income`` (yuan per person
per year); optional with a default: ``elderly``, ``disabled``, ``ill``,
``students_preschool``, ``students_compulsory``, ``students_upper``,
``students_university``, ``dropouts`` (0), ``registered`` (1),
``harsh_area`` (0), ``insured`` (1), ``housing_safe`` (1), ``water_safe``
(1). Identifying columns ``name``, ``head_name``, ``id_number``,
``phone`` and ``address`` are allowed and dropped on reading.

County columns (:data:`COUNTY_COLUMNS`): ``county``, ``region`` (east /
central / west), ``rural_population`` (persons), ``base_year`` (the same in
every row); optional ``income_ratio`` (1), ``national_poor`` (0),
``poor_county`` (as national_poor). Village columns: ``county``,
``village``, ``rural_population``; optional ``collective_income`` (0),
``infrastructure_ok`` (0), ``poor_village`` (1). Without a village table the
villages are those the households name, each with an equal part of its
county's rural population (at least 1.25 times its households' people),
no collective income, infrastructure not yet ok, and flagged poor.

Reading: the suffix may be in any case (``X.CSV``); CSV blank lines are
skipped but counted, so a row is named by its real line; a row with more or
fewer values than the header (a trailing comma) is an error naming its line;
Parquet is read with pyarrow column by column, every value as its text, and a
null is a missing value (reported where a value is required). Values are cut
short in messages.

Privacy: the original household ids and names are used only to check the
file (a repeated id is reported by its rows, never by its value); households get internal indices (``hh_id`` = row order) and neither ids
nor names are kept in the registry, so no output can hold them. A loaded
registry stores its households county by county (a stable sort, each
household keeping its ``hh_id``): problems found in the file are named by
its rows, and an export lists the households county by county.

A registry ``.nc`` records the name and SHA-256 of its input, never its
folder.

Every problem names the file, the row, the column, the value and what was
expected; all problems are reported together (up to a limit) as one
:class:`~model.errors.SchemaError`, and nothing is written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.errors import PovsimError, SchemaError, close_match
from model.params import FIRST_YEAR, LAST_YEAR
from model.registry.tables import (
    CATEGORIES,
    CAUSES,
    COUNTY_SCHEMA,
    HOUSEHOLD_SCHEMA,
    REGIONS,
    VILLAGE_SCHEMA,
    Registry,
    cast,
)

LIMIT = 20
FORMAT = "povsim-registry 1"
IDENTIFYING = ("name", "head_name", "id_number", "phone", "address")
CATEGORY_LABELS = {**{c: i for i, c in enumerate(CATEGORIES)},
                   **{str(i): i for i in range(len(CATEGORIES))},
                   "一般": 0, "一般户": 0, "一般贫困户": 0, "低保": 1, "低保户": 1, "低保贫困户": 1,
                   "五保": 2, "五保户": 2, "五保贫困户": 2, "特困": 2}
CAUSE_LABELS = {**{c: i for i, c in enumerate(CAUSES)},
                **{str(i): i for i in range(len(CAUSES))},
                **dict(zip(("因病", "缺资金", "缺技术", "缺劳力", "因学", "因灾", "因残", "缺土地",
                            "缺水", "交通条件落后", "自身发展动力不足"), range(len(CAUSES))))}
REGION_LABELS = {**{r: i for i, r in enumerate(REGIONS)}, **{str(i): i for i in range(3)},
                 "东部": 0, "中部": 1, "西部": 2}


@dataclass(frozen=True)
class Column:
    """An import column: how to read it and its default (None: required)."""

    name: str
    kind: str            # "text", "int", "float" or "label"
    low: float = 0
    high: float = 0
    default: float | None = None
    labels: dict | None = None
    unit: str = ""


def _schema_column(name: str, default: float | None = None, table=HOUSEHOLD_SCHEMA) -> Column:
    f = next(f for f in table if f.name == name)
    kind = "float" if f.dtype.startswith("float") else "int"
    return Column(name, kind, f.low, f.high, default, unit=f.unit)


HOUSEHOLD_COLUMNS = (
    Column("household_id", "text"), Column("county", "text"), Column("village", "text"),
    Column("category", "label", labels=CATEGORY_LABELS),
    Column("cause", "label", labels=CAUSE_LABELS),
    _schema_column("size"), _schema_column("labourers"), _schema_column("market_income"),
    *(_schema_column(n, 0) for n in ("elderly", "disabled", "ill", "students_preschool",
                                     "students_compulsory", "students_upper",
                                     "students_university", "dropouts", "harsh_area")),
    *(_schema_column(n, 1) for n in ("registered", "insured", "housing_safe", "water_safe")),
)
COUNTY_COLUMNS = (
    Column("county", "text"), Column("region", "label", labels=REGION_LABELS),
    _schema_column("rural_population", None, COUNTY_SCHEMA),
    Column("base_year", "int", FIRST_YEAR, LAST_YEAR, unit="year"),
    _schema_column("income_ratio", 1.0, COUNTY_SCHEMA),
    _schema_column("national_poor", 0, COUNTY_SCHEMA),
    _schema_column("poor_county", -1, COUNTY_SCHEMA),   # -1: as national_poor
)
VILLAGE_COLUMNS = (
    Column("county", "text"), Column("village", "text"),
    _schema_column("rural_population", None, VILLAGE_SCHEMA),
    _schema_column("collective_income", 0.0, VILLAGE_SCHEMA),
    _schema_column("infrastructure_ok", 0, VILLAGE_SCHEMA),
    _schema_column("poor_village", 1, VILLAGE_SCHEMA),
)


class Problems:
    """Collects problems up to a limit; :meth:`raise_if_any` raises them together."""

    def __init__(self, limit: int = LIMIT):
        self.items: list[str] = []
        self.limit = limit
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(message)
        else:
            self.dropped += 1

    @property
    def full(self) -> bool:
        return len(self.items) >= self.limit

    def raise_if_any(self) -> None:
        if self.items:
            more = [f"... and more problems (stopped after {self.limit}; 'povsim registry "
                    "validate FILE --limit N' lists more)"] if self.dropped else []
            raise SchemaError("\n".join(self.items + more))


# ---------------------------------------------------------------- reading tables

def read_utf8(path: Path) -> str:
    """The file as text: UTF-8 (BOM allowed), else an error naming the line and byte."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        hint = ""
        try:
            data.decode("gb18030")
            hint = "; it looks like GBK / GB18030: save it as UTF-8"
        except UnicodeDecodeError:
            pass
        raise SchemaError(f"{path}, line {line}: byte 0x{data[err.start]:02x} at offset "
                          f"{err.start} is not UTF-8: expected UTF-8 text{hint}") from None


@dataclass(frozen=True)
class Source:
    """A table file being read, and the line of each data row (CSV), for messages."""

    path: Path
    lines: np.ndarray | None = None     # None: a Parquet file (rows only)

    def __str__(self) -> str:
        return str(self.path)

    def row(self, row: int) -> str:
        """'file, row r (line l)': rows count data rows from 1, lines every line."""
        line = "" if self.lines is None else f" (line {int(self.lines[row])})"
        return f"{self.path}, row {row + 1}{line}"


def suffix_of(path: str | Path) -> str:
    """The file's suffix in lower case (``X.CSV`` is a CSV file)."""
    return Path(path).suffix.lower()


def brief_text(text, limit: int = 40) -> str:
    """A cell's text cut to about ``limit`` characters, for messages."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit - 3]}... ({len(text)} characters)"


def read_table(path: Path) -> tuple[Source, dict[str, np.ndarray]]:
    """Columns of a CSV or Parquet file as arrays of str (empty cells and
    Parquet nulls are ''), with the file's :class:`Source`."""
    if path.is_dir():
        raise PovsimError(f"registry file '{path}' is a folder: expected a .nc, .csv or "
                          ".parquet file")
    if not path.is_file():
        raise PovsimError(f"registry file '{path}' not found")
    if suffix_of(path) == ".parquet":
        src, names, columns = _read_parquet(path)
    else:
        src, names, columns = _read_csv(path)
    names = [str(c).strip() for c in names]
    for k, name in enumerate(names):
        if not name:
            raise SchemaError(f"{path}, header: column {k + 1} has no name (a trailing comma?): "
                              "name every column, or remove the extra comma")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SchemaError(f"{path}: column '{brief_text(dupes[0])}' appears more than once in "
                          "the header")
    return src, dict(zip(names, columns))


def _read_csv(path: Path) -> tuple[Source, list[str], list[np.ndarray]]:
    """Header and columns of a CSV file; blank lines are skipped but counted."""
    text = read_utf8(path)
    if not text.strip():
        raise SchemaError(f"{path}: the file is empty: expected a header line with the "
                          "columns, then one line per row")
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    last = 0
    try:
        for fields in reader:
            first, last = last + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue                     # a blank line (or only commas)
            if header is None:
                header = fields
                continue
            if len(fields) != len(header):
                raise SchemaError(_field_count(path, first, fields, header))
            rows.append(fields)
            lines.append(first)
    except csv.Error as err:
        raise SchemaError(f"{path}, line {reader.line_num}: not valid CSV ({err})") from None
    assert header is not None
    columns = ([np.array(col, dtype=str) for col in zip(*rows)] if rows
               else [np.array([], dtype=str) for _ in header])
    return Source(path, np.array(lines, np.int64)), header, columns


def _field_count(path: Path, line: int, fields: list[str], header: list[str]) -> str:
    n, m = len(fields), len(header)
    if n > m and not any(f.strip() for f in fields[m:]):
        return (f"{path}, line {line}: {n} values for the {m} columns of the header: the "
                "line ends with a comma the header lacks: remove the trailing comma(s)")
    more = "more" if n > m else "fewer"
    return (f"{path}, line {line}: {n} values, {more} than the {m} columns of the header: "
            "expected one value per column (quote a value that holds a comma)")


def _read_parquet(path: Path) -> tuple[Source, list[str], list[np.ndarray]]:
    """Header and columns of a Parquet file, read with pyarrow: every value as
    text (whole floats without their '.0'), nulls as ''."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise PovsimError(f"{path}: reading Parquet needs pyarrow: "
                          "pip install 'povsim[parquet]' (or use CSV)") from None
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as err:
        raise SchemaError(f"{path}: not a readable Parquet file ({brief_text(err, 200)})") \
            from None
    columns = [np.array([_cell(v) for v in table.column(k).to_pylist()], dtype=object)
               .astype(str) for k in range(table.num_columns)]
    return Source(path), list(table.column_names), columns


def _cell(value) -> str:
    """One Parquet value as the text a CSV cell would hold."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:               # NaN: a missing value
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def parse_columns(path: Source, raw: dict[str, np.ndarray], columns: tuple[Column, ...],
                  problems: Problems, extra_ok: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Check and convert ``raw`` columns; report every problem to ``problems``."""
    known = [c.name for c in columns]
    for name in raw:
        if name not in known and name not in extra_ok:
            problems.add(f"{path}, header: column '{brief_text(name)}' is not a known column"
                         + close_match(name, known + list(extra_ok)))
    n = len(next(iter(raw.values()))) if raw else 0
    out: dict[str, np.ndarray] = {}
    for col in columns:
        if col.name not in raw:
            if col.default is None:
                problems.add(f"{path}, header: column '{col.name}' is missing"
                             + close_match(col.name, [r for r in raw if r not in known]))
            else:
                out[col.name] = np.full(n, col.default)
            continue
        out[col.name] = _convert(path, col, np.char.strip(raw[col.name]), problems)
    if n == 0 and not problems.items:
        problems.add(f"{path}: no data rows: expected one line per row after the header")
    return out


def _convert(path: Source, col: Column, values: np.ndarray, problems: Problems) -> np.ndarray:
    import pandas as pd

    empty = values == ""
    if col.kind == "text":
        bad, expected = empty, "a non-empty text"
        result = values
    elif col.kind == "label":
        result = pd.Series(values).map(col.labels).to_numpy(dtype=float)
        bad = np.isnan(result)
        english = [k for k in col.labels if k.isascii() and not k.isdigit()]
        expected = f"one of {', '.join(english)}"
        if bad.any():
            first = values[np.flatnonzero(bad)[0]]
            expected += close_match(str(first), english)
    else:
        number = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
        if col.default is not None:
            number = np.where(empty, col.default, number)
        whole = col.kind == "int"
        bad = ~np.isfinite(number) | (number < col.low) | (number > col.high)
        if whole:
            bad |= np.isfinite(number) & (number != np.floor(number))
        kind = "a whole number" if whole else "a number"
        unit = f" ({col.unit})" if col.unit else ""
        expected = f"{kind} from {col.low:g} to {col.high:g}{unit}"
        if col.default == -1:
            bad &= ~empty
        result = number
    rows = np.flatnonzero(bad)
    room = max(problems.limit - len(problems.items), 0)
    missing = "empty" if path.lines is not None else "missing (null or empty)"
    for r in rows[:room]:
        shown = missing if values[r] == "" else repr(brief_text(values[r]))
        problems.add(f"{path.row(int(r))}, column '{col.name}': value {shown}, "
                     f"expected {expected}")
    problems.dropped += max(len(rows) - room, 0)
    return result


# ---------------------------------------------------------------- import

def companion(path: Path, table: str) -> Path:
    """``X.csv`` -> ``X.counties.csv`` (the same suffix)."""
    return path.with_name(f"{path.stem}.{table}{path.suffix}")


def export_paths(path: Path) -> list[Path]:
    """The files :func:`write_registry` writes for ``path`` (its manifest last)."""
    path = Path(path)
    tables = [path] if suffix_of(path) == ".nc" else [
        path, companion(path, "counties"), companion(path, "villages")]
    return tables + [path.with_name(f"{path.stem}.manifest.json")]


def import_registry(path: Path, limit: int = LIMIT) -> Registry:
    """Read a household table and its county (and village) tables into a Registry.

    Raises
    ------
    SchemaError
        Every problem found (up to ``limit``), each naming file, row, column,
        value and what was expected.
    """
    problems = Problems(limit)
    county_path = companion(path, "counties")
    if not county_path.is_file():
        raise PovsimError(f"{path}: the county table '{county_path}' is missing (columns "
                          f"{', '.join(c.name for c in COUNTY_COLUMNS)})")
    village_path = companion(path, "villages")
    tables = [read_table(path), read_table(county_path)]
    tables += [read_table(village_path)] if village_path.exists() else []
    (hh_src, hh_raw), (cty_src, cty_raw) = tables[:2]
    hh = parse_columns(hh_src, hh_raw, HOUSEHOLD_COLUMNS, problems, IDENTIFYING)
    cty = parse_columns(cty_src, cty_raw, COUNTY_COLUMNS, problems)
    vil_src = tables[2][0] if len(tables) > 2 else Source(village_path)
    vil = (parse_columns(vil_src, tables[2][1], VILLAGE_COLUMNS, problems)
           if len(tables) > 2 else None)
    complete = all(c.name in t for t, cols in ((hh, HOUSEHOLD_COLUMNS), (cty, COUNTY_COLUMNS),
                                               (vil or {}, VILLAGE_COLUMNS if vil else ()))
                   for c in cols)
    if not complete or not len(hh["household_id"]):
        problems.raise_if_any()      # a missing column or no rows: nothing more to check
    # the checks below also run when some values did not parse (NaN compares false)
    county_names = list(cty["county"])
    _unique(cty_src, cty["county"], "county", problems)
    years = np.unique(cty["base_year"])
    if len(years) > 1:
        shown = ", ".join(f"{y:g}" for y in years)
        problems.add(f"{county_path}, column 'base_year': values {shown}: expected the same "
                     "base year in every row")
    _unique(hh_src, hh["household_id"], "household_id", problems, shown=False)
    county = _lookup(hh_src, hh["county"], county_names, "county", county_path, problems)
    _consistency(hh_src, hh, problems)
    problems.raise_if_any()          # villages need known counties
    village, villages = _village_table(hh_src, hh, county, vil, vil_src, cty, county_path,
                                       problems)
    problems.raise_if_any()
    n = len(county)
    households = {c.name: hh[c.name] for c in HOUSEHOLD_COLUMNS
                  if c.name not in ("household_id", "county", "village")}
    households.update(hh_id=np.arange(n), county=county, village=village)
    poor_county = np.where(cty["poor_county"] < 0, cty["national_poor"], cty["poor_county"])
    counties = {"county_id": np.arange(len(county_names)), "region": cty["region"],
                "rural_population": cty["rural_population"],
                "income_ratio": cty["income_ratio"], "national_poor": cty["national_poor"],
                "poor_county": poor_county}
    registry = Registry(cast(households, HOUSEHOLD_SCHEMA), cast(villages, VILLAGE_SCHEMA),
                        cast(counties, COUNTY_SCHEMA), [str(c) for c in county_names],
                        int(years[0]), path.stem.split(".")[0], str(path))
    registry.validate()
    return registry


def _unique(path: Source, values: np.ndarray, column: str, problems: Problems,
            shown: bool = True) -> None:
    """Report repeated values; ``shown=False`` names rows only (household ids
    are personal data and never appear in a message)."""
    uniq, first, counts = np.unique(values, return_index=True, return_counts=True)
    for k in np.flatnonzero(counts > 1)[:problems.limit]:
        rows = np.flatnonzero(values == uniq[k])[:3]
        if shown:
            problems.add(f"{path.row(int(rows[1]))}, column '{column}': value "
                         f"{brief_text(uniq[k])!r} appears more than once (first in row "
                         f"{int(rows[0]) + 1}), expected unique values")
        else:
            problems.add(f"{path.row(int(rows[1]))}, column '{column}': the same value as row "
                         f"{int(rows[0]) + 1} (not shown: personal data), expected unique "
                         "values")


def _lookup(path: Source, values: np.ndarray, names: list[str], column: str, table: Path,
            problems: Problems) -> np.ndarray:
    """Index of each value in ``names``; unknown values are problems."""
    index = {v: i for i, v in enumerate(names)}
    uniq, inverse = np.unique(values, return_inverse=True)
    codes = np.array([index.get(str(u), -1) for u in uniq], np.int64)
    for k in np.flatnonzero(codes < 0)[:problems.limit]:
        row = int(np.flatnonzero(inverse == k)[0])
        shown = str(uniq[k]).split("\x1f")[-1]    # village keys are 'county<US>village'
        problems.add(f"{path.row(row)}, column '{column}': value {brief_text(shown)!r} is not in "
                     f"{table}" + close_match(shown, [n.split("\x1f")[-1] for n in names]))
    return codes[inverse.ravel()]


def _consistency(path: Source, hh: dict[str, np.ndarray], problems: Problems) -> None:
    size = hh["size"]
    valid = (size >= 1) & (size <= 20)   # a bad size is reported already
    students = sum(hh[s] for s in ("students_preschool", "students_compulsory",
                                   "students_upper", "students_university"))
    for name, value, what in (
            ("labourers", hh["labourers"], "at most 'size'"),
            ("elderly", hh["elderly"], "at most 'size'"),
            ("disabled", hh["disabled"], "at most 'size'"),
            ("ill", hh["ill"], "at most 'size'"),
            ("labourers", np.where(hh["labourers"] > size, 0, hh["labourers"] + students),
             "labourers plus students at most 'size'"),
            ("dropouts", hh["dropouts"], "at most 'size'")):
        for r in np.flatnonzero(valid & (value > size))[:problems.limit]:
            problems.add(f"{path.row(int(r))}, column '{name}': value "
                         f"{hh[name][r]:g} with size {size[r]:g}, expected {what}")


def _village_table(path, hh, county, vil, village_path, cty, county_path, problems):
    """Village index of each household, and the village table."""
    key = np.char.add(np.char.add(county.astype(str), "\x1f"), hh["village"].astype(str))
    if vil is None:
        names, village = np.unique(key, return_inverse=True)
        v_county = np.array([int(k.split("\x1f")[0]) for k in names], np.int64)
        nv = len(names)
        per_county = np.bincount(v_county, minlength=len(cty["county"]))
        people = np.bincount(village, weights=hh["size"], minlength=nv)
        share = cty["rural_population"][v_county] // np.maximum(per_county[v_county], 1)
        villages = {"village_id": np.arange(nv), "county": v_county,
                    "rural_population": np.maximum(share, np.ceil(1.25 * people)),
                    "collective_income": np.zeros(nv), "infrastructure_ok": np.zeros(nv),
                    "poor_village": np.ones(nv)}
        return village.ravel(), villages
    v_county = _lookup(village_path, vil["county"], list(cty["county"]), "county",
                       county_path, problems)
    v_key = np.char.add(np.char.add(v_county.astype(str), "\x1f"), vil["village"].astype(str))
    _unique(village_path, v_key, "village", problems)
    village = _lookup(path, key, list(v_key), "village", village_path, problems)
    order = np.argsort(v_county, kind="stable")   # villages grouped by county
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    villages = {"village_id": np.arange(len(order)), "county": v_county[order],
                **{c: vil[c][order] for c in ("rural_population", "collective_income",
                                              "infrastructure_ok", "poor_village")}}
    return np.where(village >= 0, rank[np.maximum(village, 0)], -1), villages


# ---------------------------------------------------------------- NetCDF and export

def read_netcdf(path: Path) -> Registry:
    """A registry written by :func:`write_registry` (``.nc``)."""
    import xarray as xr

    try:
        with xr.open_dataset(path, engine="netcdf4") as root:
            attrs = dict(root.attrs)
        if attrs.get("format") != FORMAT:
            found = brief_text(repr(attrs.get("format")))
            raise SchemaError(f"{path}: not a povsim registry (attribute format = {found}, "
                              f"expected {FORMAT!r}); results.nc files hold aggregates, not "
                              "households")
        tables = {}
        for group in ("households", "villages", "counties"):
            with xr.open_dataset(path, group=group, engine="netcdf4") as ds:
                tables[group] = {k: ds[k].values for k in ds.data_vars if k != "county_name"}
                if group == "counties":
                    names = [str(v) for v in ds["county_name"].values]
    except (OSError, KeyError, ValueError) as err:
        raise SchemaError(f"{path}: not a readable povsim registry ({brief_text(err, 200)})") \
            from None
    base_year = attrs.get("base_year")
    if isinstance(base_year, np.generic):
        base_year = base_year.item()
    if not isinstance(base_year, int) or not FIRST_YEAR <= base_year <= LAST_YEAR:
        raise SchemaError(f"{path}: attribute 'base_year' = {brief_text(repr(base_year))}: "
                          f"expected a year from {FIRST_YEAR} to {LAST_YEAR}; rebuild the file "
                          "with 'povsim registry build' or export it again")
    reg = Registry(tables["households"], tables["villages"], tables["counties"], names,
                   base_year, str(attrs.get("name", path.stem)), str(path))
    reg.validate()
    return reg


def load_registry(path: str | Path, limit: int = LIMIT) -> Registry:
    """Load a registry file: ``.nc`` (povsim), ``.csv`` or ``.parquet`` (an
    extract); the suffix may be in any case. Its households are stored
    county by county (:meth:`Registry.in_county_order`: each keeps its
    ``hh_id``, the row it was read from)."""
    path = Path(path)
    if path.is_dir():
        raise PovsimError(f"registry file '{path}' is a folder: expected a .nc, .csv or "
                          ".parquet file")
    if not path.is_file():
        raise PovsimError(f"registry file '{path}' not found")
    if suffix_of(path) == ".nc":
        return read_netcdf(path).in_county_order()
    if suffix_of(path) in (".csv", ".parquet"):
        return import_registry(path, limit).in_county_order()
    raise PovsimError(f"registry file '{path}': expected a .nc, .csv or .parquet file")


def _export_tables(reg: Registry) -> dict[str, dict[str, np.ndarray]]:
    """The registry as the import columns (labels, names; ids are internal indices)."""
    h, v, c = reg.households, reg.villages, reg.counties
    names = np.array(reg.county_names, dtype=object)
    households = {"household_id": h["hh_id"], "county": names[h["county"]],
                  "village": np.char.add("v", h["village"].astype(str)),
                  "category": np.array(CATEGORIES, dtype=object)[h["category"]],
                  "cause": np.array(CAUSES, dtype=object)[h["cause"]]}
    households.update({col.name: h[col.name] for col in HOUSEHOLD_COLUMNS
                       if col.name not in households})
    counties = {"county": names, "region": np.array(REGIONS, dtype=object)[c["region"]],
                "rural_population": c["rural_population"],
                "base_year": np.full(reg.n_counties, reg.base_year),
                **{k: c[k] for k in ("income_ratio", "national_poor", "poor_county")}}
    villages = {"county": names[v["county"]],
                "village": np.char.add("v", v["village_id"].astype(str)),
                **{k: v[k] for k in ("rural_population", "collective_income",
                                     "infrastructure_ok", "poor_village")}}
    return {"": households, "counties": counties, "villages": villages}


def write_registry(reg: Registry, path: str | Path) -> list[Path]:
    """Write ``reg`` to ``.nc``, or ``.csv`` / ``.parquet`` with its county and
    village tables beside it, as one set with a manifest
    (:func:`model.atomic.output_files`): all files or none."""
    import pandas as pd

    from model.atomic import check_output_file, output_files

    path = check_output_file(path, (".nc", ".csv", ".parquet"))
    suffix = suffix_of(path)
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise PovsimError(f"{path}: writing Parquet needs pyarrow: "
                              "pip install 'povsim[parquet]' (or use .csv)") from None
    with output_files(path.parent, path.stem) as path_for:
        if suffix == ".nc":
            _write_netcdf(reg, str(path_for(path.name)))
        else:
            for table, columns in _export_tables(reg).items():
                target = path_for((companion(path, table) if table else path).name)
                frame = pd.DataFrame(columns)
                if suffix == ".csv":
                    frame.to_csv(target, index=False, encoding="utf-8")
                else:
                    frame.to_parquet(target, index=False)
    return export_paths(path)


def public_source(source: str) -> str:
    """What a registry file records of its input: the file's name and SHA-256
    for a file (never its folder, which may hold a user name), else the label."""
    from model.atomic import sha256

    path = Path(source)
    if path.is_file():
        return f"{path.name} (sha256 {sha256(path)})"
    return path.name if path.is_absolute() else source


def _write_netcdf(reg: Registry, tmp: str) -> None:
    import xarray as xr

    from model.interrupts import WRITING, interrupts_held

    root = xr.Dataset(attrs={"format": FORMAT, "name": reg.name, "base_year": reg.base_year,
                             "source": public_source(reg.source),
                             "title": f"povsim registry {reg.name}"})
    with interrupts_held(WRITING):  # Ctrl-C between writes, not inside one
        root.to_netcdf(tmp, mode="w", engine="netcdf4")
    dims = {"households": "household", "villages": "village", "counties": "county"}
    for group, dim in dims.items():
        table = getattr(reg, group)
        ds = xr.Dataset({k: (dim, v) for k, v in table.items()})
        if group == "counties":
            ds["county_name"] = (dim, np.array(reg.county_names, dtype=object))
        encoding = {k: {"zlib": True, "complevel": 1} for k in table}
        with interrupts_held(WRITING):
            ds.to_netcdf(tmp, mode="a", group=group, engine="netcdf4", encoding=encoding)
