"""Writing outputs so that a failure never leaves a half-written file or a mixed set.

:func:`atomic_write` writes one file through a temporary file beside it.
:func:`output_folder` and :func:`output_files` write the files of one command
as one set, the only way ``povsim`` writes its outputs:

1. the files are written into a staging folder beside the target
   (``.povsim-staging-<name>-<pid>-<random>``);
2. a manifest (:data:`MANIFEST`) names every file of the set with its size
   and SHA-256; every file, the manifest and the folder are flushed to disk
   (fsync);
3. the set is put in place by renames: a whole output folder is swapped with
   the staging folder in one atomic exchange (Linux ``renameat2``; elsewhere
   two renames, undone by the next write when interrupted between them);
   files in a shared folder (a registry export) are committed by renaming the
   staging folder to ``.povsim-commit-...``, then moved in, the manifest last.

A failure or a kill before the commit leaves the previous set untouched; the
staging folders of processes that no longer run are removed, and interrupted
commits finished, by the next write to the same place (:func:`recover`).

:func:`check_output_folder` and :func:`check_output_file` check before any
work that an output location can be created and written.

New files get the ordinary mode of a new file (``0666`` less the umask).
"""

from __future__ import annotations

import ctypes
import errno
import glob
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from model.clib import libc
from model.errors import PovsimError

MANIFEST = "manifest.json"
STAGING = ".povsim-staging-"
COMMIT = ".povsim-commit-"
PREVIOUS = ".povsim-previous-"
CHECK = ".povsim-check-"  # a probe that a folder can be written, with its process's id
FORMAT = "povsim-output-set 1"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temporary(folder: Path, name: str) -> Path:
    """An empty temporary file for ``name`` in ``folder`` (named with this
    process's id), with a new file's mode."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.povsim-{os.getpid()}-", dir=folder)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())   # as an ordinary new file, not mkstemp's 0600
    return Path(tmp)


def _clean_stale_temporaries(folder: Path, name: str) -> None:
    """Remove the temporary files for ``name`` of processes that no longer run."""
    prefix = f".{name}.povsim-"
    for entry in folder.glob(f"{glob.escape(prefix)}*"):
        pid = entry.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            entry.unlink(missing_ok=True)


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
    _clean_stale_temporaries(path.parent, path.name)
    tmp = _temporary(path.parent, path.name)
    try:
        write(str(tmp))
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- checks before work

def _existing_ancestor(path: Path) -> tuple[Path, list[Path]]:
    """The nearest existing ancestor of ``path`` and the missing parts below it."""
    missing = []
    here = path
    while not here.exists() and not here.is_symlink():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    return here, missing


def _writable_folder(folder: Path, shown: str, option: str) -> None:
    """Raise unless a file can be created in the existing folder ``folder``.

    The probe is a file without a name where the system has them (Linux's
    ``O_TMPFILE``): a process killed meanwhile leaves nothing. Elsewhere it
    is named with the process's id and removed at once; one left by a
    killed process is removed by the next :func:`recover` of the folder."""
    try:
        with tempfile.TemporaryFile(prefix=f"{CHECK}{os.getpid()}-", dir=folder):
            pass
    except OSError as err:
        raise PovsimError(f"{option} {shown}: cannot write in '{folder}' "
                          f"({err.strerror}): choose a folder you can write to") from None


def check_output_folder(folder: str | Path | None, option: str = "--out") -> Path:
    """Check before any work that ``folder`` can be created (or replaced) and written.

    Nothing is created. Raises :class:`~model.errors.PovsimError` for an empty
    name, a path below an existing file, an existing file in its place, or a
    place that cannot be written, naming the option and the fix.
    """
    if folder is None or str(folder).strip() == "":
        raise PovsimError(f"{option}: empty path: expected a folder name, e.g. {option} "
                          "outputs/mine")
    given, shown = Path(folder), str(folder)
    folder = Path(os.path.abspath(folder))
    if folder == Path(os.path.abspath(Path.cwd())) or folder in Path.cwd().resolve().parents \
            or folder.parent == folder:
        raise PovsimError(f"{option} {shown}: the working folder (or one holding it) cannot be "
                          "replaced by an output set: name a folder below it, e.g. "
                          f"{option} outputs/mine")
    if folder.exists() and not folder.is_dir():
        raise PovsimError(f"{option} {shown}: exists and is not a folder: choose another "
                          "name or remove the file")
    ancestor, _ = _existing_ancestor(folder)
    if not ancestor.is_dir():
        raise PovsimError(f"{option} {shown}: '{ancestor}' is a file, so no folder can be "
                          "made below it: choose another path")
    # the set is staged beside the folder, so its parent must be writable too
    parent = folder.parent if folder.exists() else ancestor
    _writable_folder(parent, shown, option)
    if folder.exists():
        _writable_folder(folder, shown, option)
    return given


def check_output_file(path: str | Path | None, suffixes: tuple[str, ...],
                      option: str = "--out") -> Path:
    """Check before any work that the file ``path`` (and its companions, which
    share its folder) can be written: a known suffix, no folder in its place,
    a folder that can be created and written."""
    if path is None or str(path).strip() == "":
        raise PovsimError(f"{option}: empty path: expected a file name ending in "
                          f"{', '.join(suffixes)}")
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise PovsimError(f"{option} {path}: expected a file name ending in "
                          f"{', '.join(suffixes)}")
    if path.is_dir():
        raise PovsimError(f"{option} {path}: is a folder: expected a file name (e.g. "
                          f"{path / ('registry' + suffixes[0])})")
    ancestor, _ = _existing_ancestor(path.parent)
    if not ancestor.is_dir():
        raise PovsimError(f"{option} {path}: '{ancestor}' is a file, so no folder can be "
                          "made below it: choose another path")
    _writable_folder(ancestor, str(path), option)
    return path


# ---------------------------------------------------------------- durable writes

def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    try:
        _fsync(folder)
    except OSError:          # some file systems cannot sync a folder
        pass


def sha256(path: Path) -> str:
    """SHA-256 of a file (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _manifest(folder: Path, names: list[str]) -> dict:
    return {"format": FORMAT,
            "files": {n: {"bytes": (folder / n).stat().st_size, "sha256": sha256(folder / n)}
                      for n in names}}


def read_manifest(path: Path) -> dict | None:
    """The manifest at ``path``, or None if missing or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def verify_set(folder: Path, manifest_name: str = MANIFEST) -> list[str]:
    """Problems of the set in ``folder`` against its manifest (empty: complete)."""
    manifest = read_manifest(Path(folder) / manifest_name)
    if manifest is None:
        return [f"{folder}: no readable {manifest_name}"]
    out = []
    for name, entry in manifest["files"].items():
        path = Path(folder) / name
        if not path.is_file():
            out.append(f"{path}: missing")
        elif sha256(path) != entry["sha256"]:
            out.append(f"{path}: content differs from the manifest")
    return out


def _stage_folder(parent: Path, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{STAGING}{name}-{os.getpid()}-", dir=parent))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(entry: Path, prefix: str, name: str) -> int | None:
    """The process id in a temporary's name for ``name``, or None."""
    parts = entry.name[len(prefix):].rsplit("-", 2)
    if len(parts) != 3 or parts[0] != name or not parts[1].isdigit():
        return None
    return int(parts[1])


def recover(parent: Path, name: str) -> None:
    """Clean the temporaries of ``name`` in ``parent`` left by processes that
    no longer run: remove staging folders (sets never committed), finish
    committed file sets, put back a previous folder set whose swap was
    cut between its two renames, and remove the probes of a folder check
    (:func:`check_output_folder`)."""
    parent = Path(parent)
    if not parent.is_dir():
        return
    for prefix in (COMMIT, PREVIOUS, STAGING):
        for entry in sorted(parent.glob(f"{prefix}{glob.escape(name)}-*")):
            pid = _owner(entry, prefix, name)
            if pid is None or _alive(pid) and pid != os.getpid():
                continue
            if prefix == COMMIT:
                _move_in(entry, parent)
            elif prefix == PREVIOUS and not (parent / name).exists():
                os.rename(entry, parent / name)
            else:
                shutil.rmtree(entry, ignore_errors=True)
    for entry in parent.glob(f"{CHECK}*-*"):  # probes of folders checked, left by a kill
        pid = entry.name[len(CHECK):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            entry.unlink(missing_ok=True)
    _fsync_folder(parent)


# ---------------------------------------------------------------- folder sets

_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False if unsupported."""
    func = getattr(libc(), "renameat2", None)
    if func is None:
        return False
    at_fdcwd = -100
    if func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _carry_over(old: Path, new: Path, names: set[str]) -> None:
    """Link into ``new`` what ``old`` holds besides its own set (files a user
    put there), so that swapping the folders keeps them."""
    manifest = read_manifest(old / MANIFEST)
    previous = set(manifest["files"]) if manifest else set()
    for entry in old.iterdir():
        if entry.name in names or entry.name in previous or entry.name == MANIFEST:
            continue
        target = new / entry.name
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, target)


def _link_or_copy(src, dst) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _seal(stage: Path, names: list[str], manifest_name: str) -> list[str]:
    """Flush the staged files ``names`` to disk and write their manifest;
    return the names written (each once, in order)."""
    written = [n for n in dict.fromkeys(names) if (stage / n).is_file()]
    for n in written:
        _fsync(stage / n)
    atomic_write(stage / manifest_name, lambda tmp: Path(tmp).write_text(
        json.dumps(_manifest(stage, written), indent=1) + "\n", encoding="utf-8"))
    return written


@contextmanager
def output_folder(folder: str | Path):
    """Write the files of ``folder`` as one set, all or none.

    Yields a function ``name -> path`` in a staging folder beside ``folder``;
    when the block ends without an error, a manifest is written, everything
    is flushed to disk, and the staging folder replaces ``folder`` in one
    atomic swap (files of ``folder`` that are not in its previous set are
    kept). On an error or a kill the previous set stays as it was.
    """
    folder = Path(os.path.realpath(folder))     # a link to a folder: the folder is replaced
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    recover(parent, folder.name)
    stage = _stage_folder(parent, folder.name)
    names: list[str] = []

    def path_for(name: str) -> Path:
        if name == MANIFEST or "/" in name or name.startswith("."):
            raise ValueError(f"bad output name {name!r}")
        names.append(name)
        return stage / name

    try:
        yield path_for
        written = _seal(stage, names, MANIFEST)
        os.chmod(stage, 0o777 & ~_umask())
        if folder.is_dir():
            _carry_over(folder, stage, set(written))
        _fsync_folder(stage)
        _commit_folder(stage, folder)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _commit_folder(stage: Path, folder: Path) -> None:
    parent = folder.parent
    if not folder.exists():
        os.rename(stage, folder)
    elif not _exchange(stage, folder):
        previous = parent / f"{PREVIOUS}{folder.name}-{os.getpid()}-{os.urandom(4).hex()}"
        os.rename(folder, previous)
        os.rename(stage, folder)
        shutil.rmtree(previous, ignore_errors=True)
    _fsync_folder(parent)


# ---------------------------------------------------------------- file sets

def _move_in(journal: Path, folder: Path) -> None:
    """Move a committed set's files into ``folder``, its manifest last."""
    order = sorted(journal.iterdir(), key=lambda p: p.name.endswith(MANIFEST))
    for entry in order:
        os.replace(entry, folder / entry.name)
    _fsync_folder(folder)
    shutil.rmtree(journal, ignore_errors=True)


@contextmanager
def output_files(folder: str | Path, stem: str):
    """Write a set of files ``stem*`` into the shared ``folder``, all or none.

    Yields a function ``name -> path`` in a staging folder inside ``folder``.
    When the block ends without an error, the manifest ``<stem>.manifest.json``
    is added, everything is flushed, the staging folder is renamed to a commit
    folder (the set is then decided) and its files are moved in, the manifest
    last. A kill during these moves is finished by the next write (:func:`recover`).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    recover(folder, stem)
    stage = _stage_folder(folder, stem)
    names: list[str] = []
    manifest_name = f"{stem}.{MANIFEST}"

    def path_for(name: str) -> Path:
        names.append(name)
        return stage / name

    try:
        yield path_for
        _seal(stage, names, manifest_name)
        _fsync_folder(stage)
        journal = folder / f"{COMMIT}{stem}-{os.getpid()}-{os.urandom(4).hex()}"
        os.rename(stage, journal)
        _fsync_folder(folder)
        _move_in(journal, folder)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def staged(folder: Path):
    """The files of ``folder`` as one set (:func:`output_folder`)."""
    return output_folder(folder)
