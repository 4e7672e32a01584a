"""Writing files all or nothing."""

import pytest

from model.atomic import atomic_write, staged


def test_staged_writes_all_or_nothing(tmp_path):
    (tmp_path / "a.txt").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), staged(tmp_path) as path_for:
        path_for("a.txt").write_text("new", encoding="utf-8")
        path_for("b.txt").write_text("new", encoding="utf-8")
        raise RuntimeError("failed half way")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "old"
    with staged(tmp_path) as path_for:
        path_for("a.txt").write_text("new", encoding="utf-8")
        path_for("b.txt").write_text("new", encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "new"


# ---------------------------------------------------------------- real runs


def test_atomic_write_keeps_the_old_file_on_failure_and_gives_a_new_files_mode(tmp_path):
    import os

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
