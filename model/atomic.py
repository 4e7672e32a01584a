"""Writing files so that a failure never leaves a half-written file.

:func:`atomic_write` writes one file through a temporary file beside it;
:func:`staged` writes several, all or none. New files get the ordinary mode
of a new file (``0666`` less the umask), whichever way they are written.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary(folder: Path, name: str) -> Path:
    """An empty temporary file for ``name`` in ``folder``, with a new file's mode."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())   # as an ordinary new file, not mkstemp's 0600
    return Path(tmp)


def atomic_write(path: Path, write) -> None:
    """Write ``path`` by calling ``write(temporary_path)``, then rename.

    Parameters
    ----------
    path : Path
        The file to write; its folder is created if missing.
    write : callable
        Called with the temporary path (a ``str``) to write to.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path.parent, path.name)
    try:
        write(str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def staged(folder: Path):
    """Write several files at once, all or none.

    Yields a function ``name -> temporary path`` in ``folder``; when the
    block ends without an error each temporary file is renamed to its name,
    else every temporary file is removed (previous files stay untouched).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pending: dict[str, Path] = {}

    def temp(name: str) -> Path:
        pending[name] = _temporary(folder, name)
        return pending[name]

    try:
        yield temp
    except BaseException:
        for tmp in pending.values():
            tmp.unlink(missing_ok=True)
        raise
    for name, tmp in pending.items():
        os.replace(tmp, folder / name)
