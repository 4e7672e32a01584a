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
numbers (``model/registry/*.py``, ``model/random.py``) and the numpy and
scipy versions: any change rebuilds. Only synthetic registries are kept;
registry files (real households) are never copied.

The folder is ``$POVSIM_CACHE`` if set (``off``: no cache), else
``$XDG_CACHE_HOME/povsim`` or ``~/.cache/povsim``. An entry is written to a
temporary folder and renamed into place, so a reader never sees half an
entry; an entry that cannot be read is built again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from model.registry.tables import Registry

TABLES = ("households", "villages", "counties")
FORMAT = 1  # layout of an entry; bump when it changes


def folder() -> Path | None:
    """The cache folder, or None when caching is off (``POVSIM_CACHE=off``)."""
    chosen = os.environ.get("POVSIM_CACHE", "")
    if chosen.lower() in ("off", "0", "no", "false"):
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "povsim"


def _code_fingerprint() -> bytes:
    """What the build depends on besides the spec: code and library versions."""
    digest = hashlib.sha256()
    package = resources.files("model")
    sources = sorted(p for p in package.joinpath("registry").iterdir() if p.name.endswith(".py"))
    for path in [package.joinpath("random.py")] + sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in ("numpy", "scipy"):
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
        meta = {"columns": {t: list(getattr(registry, t)) for t in TABLES},
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
    tables = {t: {name: np.asarray(np.load(path / t / f"{name}.npy", mmap_mode="c",
                                           allow_pickle=False))
                  for name in meta["columns"][t]} for t in TABLES}
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
    entry = where / "registry" / key(spec_text, float(scale))
    if (entry / "meta.json").is_file():
        try:
            return load(entry)
        except (OSError, ValueError, KeyError, json.JSONDecodeError):
            shutil.rmtree(entry, ignore_errors=True)  # unreadable: build it again
    registry = build()
    try:
        save(registry, entry)
    except OSError:
        pass  # a read-only or full disk: run without the cache
    return registry
