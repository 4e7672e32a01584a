"""Privacy: original household ids and names never reach an output file.

An extract with recognisable national-id-like ids and names (Chinese and
Latin) is imported and run through ``povsim run``; every file written is
searched raw (bytes, in UTF-8 and GB18030) and, for NetCDF, decoded (every
variable, coordinate and attribute as text).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import xarray as xr
from test_cli import povsim_here  # the command's main, in this process


def make_extract(folder: Path, n: int = 300) -> tuple[Path, list[str]]:
    rng = np.random.default_rng(11)
    secrets = []
    with open(folder / "extract.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["household_id", "name", "id_number", "county", "village", "category",
                    "cause", "size", "labourers", "ill", "market_income"])
        for i in range(n):
            hid = f"43312719{800101 + i:06d}{i % 10}X"
            name = f"张秘密{i:03d}" if i % 2 else f"Secretname{i:03d}"
            idn = f"ID-{9_000_000 + 7 * i}"
            secrets += [hid, name, idn]
            size = int(rng.integers(1, 6))
            labourers = int(rng.integers(0, size + 1))
            w.writerow([hid, name, idn, ["Alpha", "Beta"][i % 2], f"V{i % 7}",
                        ["general", "dibao", "wubao"][i % 3], "illness", size, labourers,
                        int(rng.integers(0, 2)), round(float(rng.uniform(200, 2700)), 1)])
    with open(folder / "extract.counties.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["county", "region", "rural_population", "base_year"])
        w.writerows([["Alpha", "central", 20000, 2015], ["Beta", "west", 15000, 2015]])
    return folder / "extract.csv", secrets


def netcdf_text(path: Path) -> str:
    """Everything a NetCDF file holds, as text (compressed data included)."""
    parts = []
    with xr.open_dataset(path) as ds:
        parts.append(repr(ds.attrs))
        for name in list(ds.variables):
            parts.append(repr(ds[name].attrs))
            parts.append(" ".join(map(str, np.asarray(ds[name].values).ravel().tolist())))
    return "\n".join(parts)


def test_no_id_or_name_in_any_output(tmp_path):
    extract, secrets = make_extract(tmp_path)
    (tmp_path / "scenario.toml").write_text(
        'name = "private"\n[run]\nregistry = "extract.csv"\nend_year = 2017\n', encoding="utf-8")
    out = tmp_path / "out"
    proc = povsim_here("run", "scenario.toml", "--out", str(out), "--seeds", "2", "--workers", "1",
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"results.nc", "summary.csv", "registered_poor.png"}
    assert "results.nc" in [p.name for p in files]
    for path in files:
        raw = path.read_bytes()
        text = netcdf_text(path) if path.suffix == ".nc" else ""
        for secret in secrets:
            assert secret.encode("utf-8") not in raw, (path, secret)
            assert secret.encode("gb18030") not in raw, (path, secret)
            assert secret not in text, (path, secret)
    # the check itself works: the inputs do contain them
    assert secrets[0] in extract.read_text(encoding="utf-8")
    assert "Alpha" in netcdf_text(out / "results.nc")   # public county names are there
    # stdout and stderr of the run hold none either
    for secret in secrets:
        assert secret not in proc.stdout + proc.stderr


def test_export_of_an_imported_registry_has_no_original_ids(tmp_path):
    from model.registry import files as registry_io

    extract, secrets = make_extract(tmp_path)
    reg = registry_io.load_registry(extract)
    written = registry_io.write_registry(reg, tmp_path / "out" / "copy.csv")
    written += registry_io.write_registry(reg, tmp_path / "out" / "copy.nc")
    for path in written:
        raw = path.read_bytes()
        text = netcdf_text(path) if path.suffix == ".nc" else raw.decode("utf-8")
        for secret in secrets:
            assert secret.encode("utf-8") not in raw and secret not in text, (path, secret)
