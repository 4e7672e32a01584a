"""Where numba keeps the compiled kernels: one folder per version of their code.

Numba's cache (``cache=True``) checks a compiled function against its own
source file only. A kernel inlines functions of other modules (the random
numbers of ``model/random.py``, the rules of ``model/engine/rules.py``, the
compile flags of ``model/engine/threads.py``): after a change to one of
those, numba would load the kernel compiled from the old code, and a run
would give the old numbers. This happens after a ``git pull`` or an edit in
a source checkout; a reinstalled wheel rewrites every file, so it does not.

:func:`configure` therefore points numba's cache at a folder named by a
digest of every module of the package that mentions numba: any change to
one of them compiles the kernels afresh, into a new folder. It is called
when the package is imported, before numba is, and costs a few
milliseconds (the sources are read, numba is not imported).

The folder is ``<cache>/numba/<digest>``, where ``<cache>`` is the folder of
the registry cache (``$POVSIM_CACHE``, else ``$XDG_CACHE_HOME/povsim`` or
``~/.cache/povsim``). A ``NUMBA_CACHE_DIR`` set by the user is left as it
is, and so is numba's default (beside the sources, with the staleness
above) when ``POVSIM_CACHE`` is ``off``. Folders of other versions unused
for :data:`KEEP_DAYS` days are removed. Other numba code with ``cache=True``
run in the same process keeps its cache in the same folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

KEEP_DAYS = 30.0  # a kernel folder of another code version unused this long is removed
_OFF = ("off", "0", "no", "false")


def source_digest(package: Path | None = None) -> str:
    """Hex digest (16 characters) of the package's modules that mention numba:
    their paths and contents."""
    package = Path(__file__).parent if package is None else package
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        text = path.read_bytes()
        if b"numba" in text:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + text + b"\0")
    return digest.hexdigest()[:16]


def cache_root() -> Path | None:
    """The povsim cache folder (of registries and kernels), or None when
    caching is off."""
    chosen = os.environ.get("POVSIM_CACHE", "")
    if chosen.lower() in _OFF:
        return None
    if chosen:
        return Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "povsim"


def configure() -> Path | None:
    """Point numba's cache at this code version's folder; return it (None
    when ``NUMBA_CACHE_DIR`` is set by the user or caching is off)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    try:
        root = cache_root()
    except RuntimeError:  # no home folder to find: numba's default
        return None
    if root is None:
        return None
    kernels = root / "numba"
    folder = kernels / source_digest()
    if not folder.exists():
        _remove_unused(kernels)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)  # child processes compile into it too
    if "numba" in sys.modules:  # imported before povsim: its configuration is read already
        sys.modules["numba"].config.CACHE_DIR = str(folder)
    return folder


def prefer_wide_vectors() -> str | None:
    """Let numba compile for the CPU's 512-bit vectors (AVX-512), which
    LLVM's tuning for most such CPUs leaves aside for 256-bit ones; return
    the features set (None when nothing is changed).

    The household kernels are compute-bound loops in which no reassociation
    is allowed (:data:`model.engine.threads.KERNEL`): a wider vector does
    the same arithmetic on more households at once, so results do not
    change, and the income and verification kernels run about 1.4 times
    faster on an AVX-512 CPU. It sets ``NUMBA_CPU_FEATURES`` (the host's
    features, less the preference for 256-bit vectors) for this process and
    the processes it starts. Called by :mod:`model.random` before it
    defines its numba functions (which set numba's compiler up), and every
    module with kernels imports that one: a
    ``NUMBA_CPU_FEATURES`` or ``NUMBA_CPU_NAME`` set by the user (a portable
    cache, say) is left as it is, a CPU without AVX-512 is left alone,
    and numba code that compiled earlier in the process keeps its features.
    Other numba code of the process compiles with the same features.
    """
    if "NUMBA_CPU_FEATURES" in os.environ or "NUMBA_CPU_NAME" in os.environ:
        return None  # the user chose what to compile for
    from llvmlite import binding  # numba's own dependency, loaded with it anyway

    try:
        features = binding.get_host_cpu_features()
    except RuntimeError:  # LLVM cannot tell on this host: numba's default
        return None
    if not features.get("avx512f"):
        return None
    value = features.flatten() + ",-prefer-256-bit"
    os.environ["NUMBA_CPU_FEATURES"] = value
    if "numba.core.config" in sys.modules:  # read already: numba rereads it only on a change
        sys.modules["numba.core.config"].CPU_FEATURES = value
    return value


def _remove_unused(kernels: Path) -> None:
    """Remove the folders of other code versions unused for KEEP_DAYS days."""
    if not kernels.is_dir():
        return
    cutoff = time.time() - KEEP_DAYS * 86400.0
    for old in kernels.iterdir():
        try:
            if old.is_dir() and _last_used(old) < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:  # another process removed it first
            continue


def _last_used(folder: Path) -> float:
    """The latest modification time of a folder's files (numba rewrites an
    index when it adds a kernel, and reads it without touching it)."""
    return max((p.stat().st_mtime for p in folder.rglob("*")), default=folder.stat().st_mtime)
