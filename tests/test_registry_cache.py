"""Built registries kept on disk (model/registry/cache.py): the same registry
back, memory-mapped, built once, rebuilt when anything it depends on changes
or the entry is damaged; killed builds leave no entry; old entries go beyond
the size limit."""

from __future__ import annotations

import numpy as np
import pytest

from model.errors import PovsimError
from model.registry import cache
from model.runs import _spec_text
from model.registry.synth import synthetic

SCALE = 0.002


def built(calls: list):
    """A registry builder that counts its calls (a small synthetic registry
    stands for a spec's: the cache keeps whatever the builder returns)."""
    def make():
        calls.append(1)
        return synthetic(500, seed=3)
    return make


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("POVSIM_CACHE", str(tmp_path))
    return tmp_path


def assert_same(a, b):
    for table in cache.TABLES:
        ta, tb = getattr(a, table), getattr(b, table)
        assert list(ta) == list(tb)
        for name in ta:
            assert ta[name].dtype == tb[name].dtype and np.array_equal(ta[name], tb[name]), name
    assert (a.county_names, a.base_year, a.name, a.source, a.village_share) == \
        (b.county_names, b.base_year, b.name, b.source, b.village_share)


def test_a_cached_registry_is_built_once_and_read_back_the_same(cache_dir):
    calls = []
    text = _spec_text("ruyuan")
    first = cache.cached(text, SCALE, built(calls))
    second = cache.cached(text, SCALE, built(calls))
    assert calls == [1]
    assert_same(first, second)
    assert second.households["size"].flags.writeable  # copy-on-write map, same kernel types


def test_another_scale_or_spec_text_is_another_entry(cache_dir):
    text = _spec_text("ruyuan")
    assert cache.key(text, SCALE) != cache.key(text, 2 * SCALE)
    assert cache.key(text, SCALE) != cache.key(text + "\n# changed\n", SCALE)
    calls = []
    cache.cached(text, SCALE, built(calls))
    cache.cached(text + "\n", SCALE, built(calls))
    assert calls == [1, 1]


def test_an_unreadable_entry_is_built_again(cache_dir):
    calls = []
    text = _spec_text("ruyuan")
    cache.cached(text, SCALE, built(calls))
    entry = cache_dir / "registry" / cache.key(text, SCALE)
    (entry / "households" / "size.npy").write_bytes(b"not an array")
    again = cache.cached(text, SCALE, built(calls))
    assert calls == [1, 1]
    assert_same(again, synthetic(500, seed=3))


def test_off_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("POVSIM_CACHE", "off")
    calls = []
    cache.cached(_spec_text("ruyuan"), SCALE, built(calls))
    cache.cached(_spec_text("ruyuan"), SCALE, built(calls))
    assert calls == [1, 1] and cache.folder() is None


def memory_mapped(array: np.ndarray) -> bool:
    while array is not None:
        if isinstance(array, np.memmap):
            return True
        array = array.base
    return False


def test_a_second_load_maps_the_files(cache_dir):
    calls = []
    text = _spec_text("ruyuan")
    first = cache.cached(text, SCALE, built(calls))
    second = cache.cached(text, SCALE, built(calls))
    assert not memory_mapped(first.households["size"])
    assert all(memory_mapped(column) for table in cache.TABLES
               for column in getattr(second, table).values())


@pytest.mark.parametrize("damage", ["shorter column", "other dtype", "missing column",
                                    "broken meta", "no meta"])
def test_a_damaged_entry_is_built_again_not_trusted(cache_dir, damage):
    calls = []
    text = _spec_text("ruyuan")
    cache.cached(text, SCALE, built(calls))
    entry = cache_dir / "registry" / cache.key(text, SCALE)
    column = entry / "households" / "market_income.npy"
    if damage == "shorter column":   # a valid array, but not the one listed
        np.save(column, np.zeros(499, np.float32))
    elif damage == "other dtype":
        np.save(column, np.zeros(500, np.float64))
    elif damage == "missing column":
        column.unlink()
    elif damage == "broken meta":
        (entry / "meta.json").write_text('{"columns": [1, 2', encoding="utf-8")
    else:   # a folder in the entry's place that save did not write
        (entry / "meta.json").unlink()
    again = cache.cached(text, SCALE, built(calls))
    assert calls == [1, 1]
    assert_same(again, synthetic(500, seed=3))
    assert_same(cache.cached(text, SCALE, built(calls)), again)   # and kept again
    assert calls == [1, 1]


def test_a_killed_build_leaves_no_entry_and_its_leftovers_go(cache_dir, monkeypatch):
    text = _spec_text("ruyuan")
    entry = cache_dir / "registry" / cache.key(text, SCALE)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(cache.os, "rename", killed)   # dies just before the entry appears
        cache.cached(text, SCALE, built([]))
    assert not entry.exists() and list((cache_dir / "registry").iterdir()) == []
    # a folder left by a build killed outright (no clean-up ran): not an entry
    old, young = cache_dir / "registry" / ".old.x", cache_dir / "registry" / ".young.x"
    for folder in (old, young):
        (folder / "households").mkdir(parents=True)
    stale = cache.time.time() - 2 * cache.STALE_SECONDS
    cache.os.utime(old, (stale, stale))
    calls = []
    cache.cached(text, SCALE, built(calls))
    assert calls == [1] and (entry / "meta.json").is_file()
    assert not old.exists() and young.exists()   # a young one may be a build in progress


def test_entries_beyond_the_size_limit_go_least_recently_used_first(cache_dir, monkeypatch):
    text = _spec_text("ruyuan")
    scales = (0.001, 0.002, 0.003)
    for scale in scales:
        cache.cached(text, scale, built([]))
    entries = [cache_dir / "registry" / cache.key(text, s) for s in scales]
    size = max(cache._size(e) for e in entries)
    cache.cached(text, scales[0], built([]))   # used again: now the most recent
    monkeypatch.setenv("POVSIM_CACHE_GB", str(2.5 * size / 1e9))   # room for two
    cache.cached(text, 0.004, built([]))
    assert entries[0].exists() and not entries[1].exists() and not entries[2].exists()
    assert (cache_dir / "registry" / cache.key(text, 0.004)).exists()


@pytest.mark.parametrize("given", ["lots", "-1", "nan"])
def test_a_bad_size_limit_is_named_before_the_build(cache_dir, monkeypatch, given):
    monkeypatch.setenv("POVSIM_CACHE_GB", given)
    calls = []
    with pytest.raises(PovsimError, match="POVSIM_CACHE_GB"):
        cache.cached(_spec_text("ruyuan"), SCALE, built(calls))
    assert calls == []
