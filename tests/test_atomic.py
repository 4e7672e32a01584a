"""Writing files all or nothing: one file, output folders and file sets.

A killed writer must leave the previous complete set or the new complete set,
never a mix, and its temporaries must be cleaned by the next write. This is
tested three ways: failures raised half way, a writer killed (``os._exit``)
after every single file-system step of a commit, and (slow) the real
``povsim run`` and ``povsim registry build`` killed at random moments.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model import atomic
from model.atomic import (
    MANIFEST,
    atomic_write,
    output_files,
    output_folder,
    read_manifest,
    recover,
    staged,
    verify_set,
)

ROOT = Path(__file__).parents[1]


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith(".povsim-"))


def write_set(folder: Path, contents: dict[str, str]) -> None:
    with output_folder(folder) as path_for:
        for name, text in contents.items():
            path_for(name).write_text(text, encoding="utf-8")


def folder_state(folder: Path) -> dict[str, str]:
    """The files of a set folder and their text, the manifest left out."""
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())
            if p.name != MANIFEST}


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---------------------------------------------------------------- failures half way

def test_staged_writes_all_or_nothing(tmp_path):
    out = tmp_path / "out"
    write_set(out, {"a.txt": "old"})
    with pytest.raises(RuntimeError), staged(out) as path_for:
        path_for("a.txt").write_text("new", encoding="utf-8")
        path_for("b.txt").write_text("new", encoding="utf-8")
        raise RuntimeError("failed half way")
    assert folder_state(out) == {"a.txt": "old"}
    assert temporaries(tmp_path) == []
    write_set(out, {"a.txt": "new", "b.txt": "new"})
    assert folder_state(out) == {"a.txt": "new", "b.txt": "new"}
    assert sorted(read_manifest(out / MANIFEST)["files"]) == ["a.txt", "b.txt"]
    assert verify_set(out) == []
    assert temporaries(tmp_path) == []


def test_a_new_set_drops_the_old_sets_files_and_keeps_the_users(tmp_path):
    out = tmp_path / "out"
    write_set(out, {"a.txt": "1", "old-chart.png": "1"})
    (out / "notes.md").write_text("mine", encoding="utf-8")        # a user's file
    (out / "drafts").mkdir()
    (out / "drafts" / "d.txt").write_text("mine too", encoding="utf-8")
    write_set(out, {"a.txt": "2"})
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "drafts", MANIFEST, "notes.md"]
    assert (out / "drafts" / "d.txt").read_text(encoding="utf-8") == "mine too"
    assert verify_set(out) == []
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask    # an ordinary new folder's mode


def test_a_link_to_the_output_folder_stays_a_link(tmp_path):
    real = tmp_path / "real"
    write_set(real, {"a.txt": "1"})
    (tmp_path / "out").symlink_to(real)
    write_set(tmp_path / "out", {"a.txt": "2"})
    assert (tmp_path / "out").is_symlink()
    assert folder_state(real) == {"a.txt": "2"} and temporaries(tmp_path) == []


def test_the_swap_works_without_an_atomic_exchange(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    write_set(out, {"a.txt": "1"})
    write_set(out, {"a.txt": "2"})
    assert folder_state(out) == {"a.txt": "2"} and temporaries(tmp_path) == []


def test_atomic_write_keeps_the_old_file_on_failure_and_gives_a_new_files_mode(tmp_path):
    path = tmp_path / "out" / "a.txt"
    atomic_write(path, lambda tmp: open(tmp, "w").write("one"))
    assert path.read_text() == "one"
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask

    def fail(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail)
    assert path.read_text() == "one"
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]


def test_file_set_failure_keeps_the_previous_files(tmp_path):
    with output_files(tmp_path, "r") as path_for:
        for name in ("r.csv", "r.counties.csv"):
            path_for(name).write_text("old", encoding="utf-8")
    (tmp_path / "other.txt").write_text("a user's", encoding="utf-8")
    with pytest.raises(RuntimeError), output_files(tmp_path, "r") as path_for:
        path_for("r.csv").write_text("new", encoding="utf-8")
        raise RuntimeError("the second table failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "other.txt", "r.counties.csv", "r.csv", "r.manifest.json"]
    assert (tmp_path / "r.csv").read_text(encoding="utf-8") == "old"
    assert verify_set(tmp_path, "r.manifest.json") == []


def test_run_that_fails_while_writing_keeps_the_previous_set(tmp_path, monkeypatch, capsys):
    from model.analysis import run_chart
    from model.cli import main

    out = tmp_path / "out"
    assert main(["run", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken_chart(ds, path, *args):
        raise RuntimeError("the chart failed after results.nc was written")

    monkeypatch.setattr(run_chart, "poor_by_year", broken_chart)
    with pytest.raises(RuntimeError):
        main(["run", "--seed", "5", "--out", str(out)])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert temporaries(tmp_path) == []


def test_registry_export_that_fails_keeps_the_previous_set(tmp_path, monkeypatch):
    import pandas as pd

    from model.registry import files as registry_io
    from model.registry import synth

    reg = synth.build(*synth.load_spec("ruyuan"))
    registry_io.write_registry(reg, tmp_path / "r.csv")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls = []
    original = pd.DataFrame.to_csv

    def second_fails(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", second_fails)
    with pytest.raises(OSError):
        registry_io.write_registry(reg, tmp_path / "r.csv")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# ---------------------------------------------------------------- stale temporaries

def test_stale_temporaries_are_cleaned_by_the_next_write(tmp_path):
    out = tmp_path / "out"
    write_set(out, {"a.txt": "1"})
    dead, alive = dead_pid(), os.getppid()
    (tmp_path / f".povsim-staging-out-{dead}-abc").mkdir()
    (tmp_path / f".povsim-staging-out-{dead}-abc" / "results.nc").write_text("half")
    (tmp_path / f".povsim-staging-out-{alive}-def").mkdir()        # a running writer's
    (tmp_path / f".povsim-staging-other-{dead}-abc").mkdir()       # another set's
    write_set(out, {"a.txt": "2"})
    assert temporaries(tmp_path) == [f".povsim-staging-other-{dead}-abc",
                                     f".povsim-staging-out-{alive}-def"]
    assert folder_state(out) == {"a.txt": "2"}


def test_stale_temporary_files_of_one_file_are_cleaned(tmp_path):
    dead, alive = dead_pid(), os.getppid()
    (tmp_path / f".a.txt.povsim-{dead}-xyz").write_text("half")
    (tmp_path / f".a.txt.povsim-{alive}-xyz").write_text("being written")
    atomic_write(tmp_path / "a.txt", lambda tmp: Path(tmp).write_text("whole"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f".a.txt.povsim-{alive}-xyz", "a.txt"]


def test_an_interrupted_file_commit_is_finished(tmp_path):
    journal = tmp_path / f".povsim-commit-r-{dead_pid()}-abcd"
    journal.mkdir()
    (tmp_path / "r.csv").write_text("new", encoding="utf-8")            # moved already
    (journal / "r.counties.csv").write_text("new", encoding="utf-8")    # not yet
    (tmp_path / "r.counties.csv").write_text("old", encoding="utf-8")
    recover(tmp_path, "r")
    assert (tmp_path / "r.counties.csv").read_text(encoding="utf-8") == "new"
    assert temporaries(tmp_path) == []


def test_an_interrupted_swap_is_undone(tmp_path):
    previous = tmp_path / f".povsim-previous-out-{dead_pid()}-abcd"
    previous.mkdir()
    (previous / "a.txt").write_text("old", encoding="utf-8")
    recover(tmp_path, "out")
    assert (tmp_path / "out" / "a.txt").read_text(encoding="utf-8") == "old"
    assert temporaries(tmp_path) == []


def test_a_folder_checks_probe_left_by_a_killed_process_is_removed(tmp_path):
    """A probe of a folder check (named where files cannot be made without
    a name) left by a killed process goes at the next recovery; a live
    process's stays; the check itself leaves nothing."""
    dead, alive = dead_pid(), os.getpid()
    (tmp_path / f".povsim-check-{dead}-abcd").write_text("")
    (tmp_path / f".povsim-check-{alive}-abcd").write_text("")
    recover(tmp_path, "out")
    assert temporaries(tmp_path) == [f".povsim-check-{alive}-abcd"]
    (tmp_path / f".povsim-check-{alive}-abcd").unlink()
    atomic.check_output_folder(tmp_path / "out")
    assert temporaries(tmp_path) == [] and not (tmp_path / "out").exists()


# ---------------------------------------------------------------- killed after every step

STEPS = ("rename", "replace", "link", "fsync", "unlink", "rmdir", "mkdir", "chmod")


def _die_after(steps: int, monkeypatch) -> None:
    """In a forked child: end the process (like a kill) before file-system
    step number ``steps + 1``."""
    count = [0]

    def wrap(function):
        def wrapped(*args, **kwargs):
            count[0] += 1
            if count[0] > steps:
                os._exit(9)
            return function(*args, **kwargs)
        return wrapped

    for name in STEPS:
        monkeypatch.setattr(os, name, wrap(getattr(os, name)))
    monkeypatch.setattr(atomic, "_exchange", wrap(atomic._exchange))


def _killed_writer(steps: int, write) -> int:
    """Run ``write`` in a child killed before step ``steps + 1``; its exit code."""
    pid = os.fork()
    if pid == 0:                                     # the child
        code = 1
        try:
            with pytest.MonkeyPatch.context() as mp:
                _die_after(steps, mp)
                write()
            code = 0
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two renames"])
def test_folder_set_killed_after_every_step(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    old = {"results.nc": "old results", "summary.csv": "old summary"}
    new = {"results.nc": "new results", "summary.csv": "new summary", "chart.png": "new"}
    finished = False
    for steps in range(200):
        write_set(out, old)
        code = _killed_writer(steps, lambda: write_set(out, new))
        assert code in (0, 9), code
        if out.exists():                       # strict: one complete set, at once
            assert folder_state(out) in (old, new), (steps, folder_state(out))
            assert verify_set(out) == []
        recover(tmp_path, "out")               # what the next write does first
        assert folder_state(out) in (old, new), steps
        assert verify_set(out) == [] and temporaries(tmp_path) == [], steps
        if code == 0:
            finished = True
            assert folder_state(out) == new
            break
    assert finished


def test_file_set_killed_after_every_step(tmp_path):
    from model.registry import files as registry_io

    names = ["r.csv", "r.counties.csv", "r.villages.csv"]

    def export(text: str):
        def write():
            with output_files(tmp_path, "r") as path_for:
                for name in names:
                    path_for(name).write_text(f"{text} {name}", encoding="utf-8")
        return write

    def state():
        return {n: (tmp_path / n).read_text(encoding="utf-8") for n in names}

    old = {n: f"old {n}" for n in names}
    new = {n: f"new {n}" for n in names}
    assert registry_io.export_paths(tmp_path / "r.csv")[-1].name == "r.manifest.json"
    finished = False
    for steps in range(200):
        export("old")()
        code = _killed_writer(steps, export("new"))
        assert code in (0, 9), code
        committing = any(n.startswith(".povsim-commit-") for n in temporaries(tmp_path))
        assert committing or state() in (old, new), steps
        recover(tmp_path, "r")
        assert state() in (old, new), steps
        assert verify_set(tmp_path, "r.manifest.json") == [], steps
        assert temporaries(tmp_path) == [], steps
        if code == 0:
            finished = True
            assert state() == new
            break
    assert finished


# ---------------------------------------------------------------- the commands, killed

def _povsim(*args, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-m", "model", *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _killed_at_random(args_of, check, tmp_path: Path, kills: int, seed: int) -> int:
    """Run the command once to completion (timed), then ``kills`` times killed
    after a random part of that time; ``check()`` after each. Returns how
    many runs finished before their kill."""
    rng = random.Random(seed)
    start = time.perf_counter()
    assert _povsim(*args_of(0), cwd=tmp_path).wait() == 0
    took = time.perf_counter() - start
    check()
    finished = 0
    for k in range(1, kills + 1):
        proc = _povsim(*args_of(k), cwd=tmp_path)
        time.sleep(rng.uniform(0.4, 1.1) * took)
        proc.kill()
        finished += proc.wait() == 0
        check()
    return finished


@pytest.mark.slow
def test_povsim_run_killed_at_random_moments(tmp_path):
    out = tmp_path / "out"
    sets = set()

    def check():
        assert verify_set(out) == []                      # complete, never a mix
        files = sorted(p.name for p in out.iterdir())
        assert files == [MANIFEST, "registered_poor.png", "registered_poor.svg", "results.nc",
                         "summary.csv"]
        sets.add((out / MANIFEST).read_text(encoding="utf-8"))
        recover(tmp_path, "out")
        assert temporaries(tmp_path) == []

    _killed_at_random(lambda k: ["run", "--seed", k, "--out", out], check, tmp_path,
                      kills=6, seed=16)
    assert len(sets) >= 1


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".nc", ".csv"])
def test_povsim_registry_build_killed_at_random_moments(tmp_path, suffix):
    from model.registry import files as registry_io

    target = tmp_path / f"r{suffix}"
    paths = registry_io.export_paths(target)

    def check():
        recover(tmp_path, "r")                            # a commit cut short is finished
        assert temporaries(tmp_path) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
        assert verify_set(tmp_path, paths[-1].name) == []

    specs = ["ruyuan", "xiangxi"]
    _killed_at_random(lambda k: ["registry", "build", specs[k % 2], "--out", target], check,
                      tmp_path, kills=5, seed=16)
