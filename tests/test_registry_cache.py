"""Built registries kept on disk (model/registry/cache.py): the same registry
back, built once, rebuilt when anything it depends on changes."""

from __future__ import annotations

import numpy as np
import pytest

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
