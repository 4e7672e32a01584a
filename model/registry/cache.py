"""Built registries kept on disk, so that sweeps and calibration build each once.

Building a registry from a spec (:func:`model.registry.synth.build`) fits and
rounds a joint table and draws every household: seconds nationally, and the
same result every time for the same spec, scale and code. :func:`cached`
keeps the built registry in a folder of one ``.npy`` file per column and
memory-maps the columns on the next run, copy-on-write (the engine never
writes to the registry; writable arrays keep the compiled kernels' types), so
the pages are shared between processes and loaded only when touched.

The key is a hash of the spec's text, the text of every built-in spec (a spec
may extend them), the scale, the source of the registry code and the random
numbers (``model/registry/*.py``, ``model/random.py``) and the numpy, scipy
and numba versions: any change rebuilds. Only synthetic registries are kept;
registry files (real households) are never copied.

The folder is ``$POVSIM_CACHE`` if set (``off``: no cache), else
``$XDG_CACHE_HOME/povsim`` or ``~/.cache/povsim``. An entry is written to a
temporary folder and renamed into place, so a reader never sees half an
entry (a build killed midway leaves only its temporary folder, removed by a
later save once it is an hour old). Its ``meta.json`` lists every column
with its dtype and length; an entry that cannot be read or does not match
its list is built again. Entries are kept up to ``$POVSIM_CACHE_GB``
gigabytes (default :data:`DEFAULT_GB`): a save removes the least recently
used beyond that.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from model.errors import PovsimError
from model.kernel_cache import cache_root
from model.registry.tables import Registry

TABLES = ("households", "villages", "counties")
FORMAT = 2  # layout of an entry; bump when it changes
DEFAULT_GB = 10.0   # size of the kept entries, unless $POVSIM_CACHE_GB says otherwise
STALE_SECONDS = 3600.0  # a temporary folder this old is a killed build's


def folder() -> Path | None:
    """The cache folder, or None when caching is off (``POVSIM_CACHE=off``)."""
    return cache_root()


def _code_fingerprint() -> bytes:
    """What the build depends on besides the spec: code and library versions."""
    digest = hashlib.sha256()
    package = resources.files("model")
    sources = sorted(p for p in package.joinpath("registry").iterdir() if p.name.endswith(".py"))
    for path in [package.joinpath("random.py")] + sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in ("numpy", "scipy", "numba"):
        try:
            digest.update(f"{name} {version(name)}".encode())
        except PackageNotFoundError:
            digest.update(name.encode())
    return digest.digest()


def key(spec_text: str, scale: float) -> str:
    """Cache key of a spec's registry at ``scale`` (hex)."""
    digest = hashlib.sha256(f"format {FORMAT}\0scale {scale!r}\0".encode())
    digest.update(spec_text.encode())
    specs = resources.files("model.registry").joinpath("specs")
    for path in sorted(specs.iterdir(), key=lambda p: p.name):
        if path.name.endswith(".toml"):
            digest.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
    digest.update(_code_fingerprint())
    return digest.hexdigest()[:32]


def save(registry: Registry, path: Path) -> None:
    """Write ``registry`` as the entry ``path`` (a folder), all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for table in TABLES:
            (tmp / table).mkdir()
            for name, column in getattr(registry, table).items():
                np.save(tmp / table / f"{name}.npy", np.ascontiguousarray(column),
                        allow_pickle=False)
        meta = {"columns": {t: {name: [column.dtype.str, len(column)]
                                for name, column in getattr(registry, t).items()}
                            for t in TABLES},
                "county_names": list(registry.county_names), "base_year": registry.base_year,
                "name": registry.name, "source": registry.source,
                "village_share": registry.village_share}
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        try:
            os.rename(tmp, path)
        except OSError:  # another process wrote the same entry first
            if not (path / "meta.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load(path: Path) -> Registry:
    """The registry of the entry ``path``, its columns memory-mapped copy-on-write.

    Raises
    ------
    OSError, ValueError, KeyError
        When the entry is missing or unreadable.
    """
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    tables = {}
    for t in TABLES:
        tables[t] = {}
        for name, (dtype, rows) in meta["columns"][t].items():
            column = np.load(path / t / f"{name}.npy", mmap_mode="c", allow_pickle=False)
            if column.dtype.str != dtype or column.shape != (rows,):
                raise ValueError(f"{path / t / name}.npy: {column.dtype.str} {column.shape}, "
                                 f"expected {dtype} ({rows},)")
            tables[t][name] = np.asarray(column)
        if len({len(column) for column in tables[t].values()}) > 1:
            raise ValueError(f"{path / t}: columns of different lengths")
    return Registry(tables["households"], tables["villages"], tables["counties"],
                    list(meta["county_names"]), int(meta["base_year"]), str(meta["name"]),
                    str(meta["source"]), float(meta["village_share"]))


def cached(spec_text: str, scale: float, build: Callable[[], Registry]) -> Registry:
    """The registry of a spec at ``scale``: from the cache, else ``build()``
    and kept for the next time.

    Parameters
    ----------
    spec_text : str
        The spec file's text (with the built-in specs, what the registry
        depends on besides code).
    scale : float
        Share of the households built.
    build : callable
        Builds the registry when it is not in the cache.
    """
    where = folder()
    if where is None:
        return build()
    limit = limit_bytes()   # a bad $POVSIM_CACHE_GB says so before the build
    entry = where / "registry" / key(spec_text, float(scale))
    if (entry / "meta.json").is_file():
        try:
            registry = load(entry)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            shutil.rmtree(entry, ignore_errors=True)  # unreadable: build it again
        else:
            with contextlib.suppress(OSError):   # a read-only cache is still read
                os.utime(entry / "meta.json")     # last used, for prune
            return registry
    elif entry.is_dir():   # not written by save (which renames whole entries)
        shutil.rmtree(entry, ignore_errors=True)
    registry = build()
    try:
        save(registry, entry)
        prune(entry.parent, limit, keep=entry)
    except OSError:
        pass  # a read-only or full disk: run without the cache
    return registry


def limit_bytes() -> float:
    """Size the kept entries may take (bytes): ``$POVSIM_CACHE_GB`` or :data:`DEFAULT_GB`."""
    given = os.environ.get("POVSIM_CACHE_GB", "")
    try:
        gigabytes = float(given) if given else DEFAULT_GB
    except ValueError:
        gigabytes = -1.0
    if not gigabytes >= 0:
        raise PovsimError(f"POVSIM_CACHE_GB = {given!r}: expected a number of gigabytes >= 0 "
                          "(the size of the registry cache)")
    return gigabytes * 1e9


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def prune(registry_folder: Path, limit: float, keep: Path | None = None) -> list[Path]:
    """Remove killed builds' temporary folders (older than :data:`STALE_SECONDS`)
    and the least recently used entries beyond ``limit`` bytes (never ``keep``).

    Returns
    -------
    list of Path
        What was removed.
    """
    removed = []
    now = time.time()
    entries = []
    for path in registry_folder.iterdir():
        if not path.is_dir():
            continue
        used = path.stat().st_mtime
        if path.name.startswith("."):   # another build's temporary folder
            if now - used > STALE_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
            continue
        meta = path / "meta.json"
        entries.append((meta.stat().st_mtime if meta.is_file() else used, path))
    entries.sort(reverse=True)   # most recently used first
    total = 0
    for _, path in entries:
        size = _size(path)
        if path != keep and total + size > limit:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        else:
            total += size
    return removed
