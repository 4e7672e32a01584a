"""The compiled loops of the registry build (model/registry/draws.py) against
their numpy references: the same numbers, and the generator left in the same
state; and the build itself the same whatever its piece size, and whether
its draws take the compiled loops or numpy's own functions (below
``draws.COMPILED_FROM`` items). Every other test here runs the compiled
loops, however few the items."""

from __future__ import annotations

import numpy as np
import pytest

from model.registry import draws, synth
from model.registry.cache import TABLES

PROBABILITIES = (0.0, 1e-9, 0.01, 0.15, 1 / 3, 0.4999999, 0.5, 0.5000001, 2 / 3, 0.9,
                 1 - 1e-12, 1.0)


@pytest.fixture(autouse=True)
def compiled_loops(monkeypatch):
    monkeypatch.setattr(draws, "COMPILED_FROM", 0)


def twins(seed: int = 11) -> tuple[np.random.Generator, np.random.Generator]:
    return np.random.default_rng(seed), np.random.default_rng(seed)


def assert_same_state(a: np.random.Generator, b: np.random.Generator) -> None:
    assert a.bit_generator.state == b.bit_generator.state


def assert_same_registry(one, other) -> None:
    for table in TABLES:
        a, b = getattr(one, table), getattr(other, table)
        assert list(a) == list(b)
        for column in a:
            assert a[column].dtype == b[column].dtype, column
            assert np.array_equal(a[column], b[column]), column


@pytest.mark.parametrize("p", PROBABILITIES)
@pytest.mark.parametrize("top", [1, 3, 10, 20])
def test_binomial_draws_numpys_numbers(p, top):
    n = np.random.default_rng(top).integers(0, top + 1, 20_000).astype(np.int8)
    numpy_rng, kernel_rng = twins()
    expected = numpy_rng.binomial(n, p)
    got = draws.binomial(kernel_rng, n, p)
    assert got.dtype == n.dtype
    np.testing.assert_array_equal(got, expected)
    assert_same_state(numpy_rng, kernel_rng)


def test_binomial_with_a_probability_per_draw():
    source = np.random.default_rng(5)
    n = source.integers(0, 9, 50_000).astype(np.int32)
    probs = [0.05, 0.45, 0.7]
    choice = source.integers(0, 3, len(n)).astype(np.uint8)
    numpy_rng, kernel_rng = twins()
    np.testing.assert_array_equal(draws.binomial(kernel_rng, n, probs, choice),
                                  numpy_rng.binomial(n, np.array(probs)[choice]))
    assert_same_state(numpy_rng, kernel_rng)


def test_binomial_beyond_inversion_is_numpys_own():
    n = np.full(1000, 200, np.int64)
    numpy_rng, kernel_rng = twins()
    np.testing.assert_array_equal(draws.binomial(kernel_rng, n, 0.4),
                                  numpy_rng.binomial(n, 0.4))
    assert_same_state(numpy_rng, kernel_rng)


@pytest.mark.parametrize("n, p, choice", [
    (np.array([1, -1]), 0.5, None), (np.array([1, 2]), 1.5, None),
    (np.array([1, 2]), float("nan"), None), (np.array([1, 2]), [0.1, 0.2], None),
    (np.array([1, 2]), [0.1, 0.2], np.array([0, 2]))])
def test_binomial_refuses_what_numpy_refuses(n, p, choice):
    with pytest.raises(ValueError):
        draws.binomial(np.random.default_rng(0), n, p, choice)


@pytest.mark.parametrize("length", [0, 1, 2, 3, draws.BATCH - 1, draws.BATCH,
                                    draws.BATCH + 1, 3 * draws.BATCH + 17, 100_000])
@pytest.mark.parametrize("dtype", [np.int16, np.int64])
def test_shuffle_is_numpys_permutation(length, dtype):
    x = np.repeat(np.arange(40, dtype=dtype), length // 40 + 1)[:length]
    numpy_rng, kernel_rng = twins(length)
    expected = numpy_rng.permutation(x)
    draws.shuffle(kernel_rng, x)
    np.testing.assert_array_equal(x, expected)
    assert_same_state(numpy_rng, kernel_rng)


def test_shuffle_needs_a_contiguous_vector():
    with pytest.raises(ValueError):
        draws.shuffle(np.random.default_rng(0), np.arange(10)[::2])


@pytest.mark.parametrize("n_keys", [1, 7, 5000])
def test_sort_by_is_a_stable_argsort(n_keys):
    source = np.random.default_rng(n_keys)
    keys = source.integers(0, n_keys, 40_000).astype(np.int32)
    a, b = source.integers(0, 60_000, len(keys)).astype(np.uint16), source.random(len(keys))
    order = np.argsort(keys, kind="stable")
    coarse = np.sort(source.integers(0, max(1, n_keys // 10), n_keys)).astype(np.int16)
    for given in (None, coarse):
        counts, (sa, sb) = draws.sort_by(keys, n_keys, a, b, coarse=given)
        np.testing.assert_array_equal(counts, np.bincount(keys, minlength=n_keys))
        np.testing.assert_array_equal(sa, a[order])
        np.testing.assert_array_equal(sb, b[order])


@pytest.mark.parametrize("keys, coarse", [
    (np.array([0, 3]), None), (np.array([0, -1]), None),
    (np.array([0, 1]), np.array([1, 0, 2])), (np.array([0, 1]), np.array([0, 1]))])
def test_sort_by_refuses_keys_out_of_range_and_an_unordered_coarse_key(keys, coarse):
    with pytest.raises(ValueError):
        draws.sort_by(keys, 3, keys, coarse=coarse)


@pytest.mark.parametrize("name, scale", [("ruyuan", 1.0), ("xiangxi", 0.02)])
def test_a_build_is_the_same_whatever_its_piece_size(monkeypatch, name, scale):
    # ruyuan: exact ill members; xiangxi: a near-poor pool
    whole = synth.build(*synth.load_spec(name), scale=scale)
    monkeypatch.setattr(synth, "CHUNK", 97)   # many pieces, none a divisor of the count
    pieces = synth.build(*synth.load_spec(name), scale=scale)
    assert whole.n_households > 10 * 97
    assert_same_registry(whole, pieces)


@pytest.mark.parametrize("name, scale", [("ruyuan", 1.0), ("xiangxi", 0.02)])
def test_a_build_is_the_same_with_numpys_own_draws(monkeypatch, name, scale):
    compiled = synth.build(*synth.load_spec(name), scale=scale)
    monkeypatch.setattr(draws, "COMPILED_FROM", 1 << 62)
    numpys = synth.build(*synth.load_spec(name), scale=scale)
    assert_same_registry(compiled, numpys)


def test_villages_are_the_numpy_references():
    source = np.random.default_rng(2)
    n_poor, n_other = source.integers(0, 6, 50), source.integers(0, 40, 50)
    n_other[n_poor + n_other == 0] = 1
    first = np.concatenate([[0], np.cumsum(n_poor + n_other)[:-1]])
    p_poor = np.where(n_other == 0, 1.0, np.where(n_poor == 0, 0.0, 0.6))
    county = source.integers(0, 50, 30_000).astype(np.int16)
    numpy_rng, kernel_rng = twins()
    expected = draws.villages_numpy(numpy_rng, county, p_poor, first, n_poor, n_other)
    got = draws.villages(kernel_rng, county, p_poor, first, n_poor, n_other)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)
    assert_same_state(numpy_rng, kernel_rng)


@pytest.mark.parametrize("share", [0.0, 0.05, 0.5, 1.0])
def test_below_is_uniforms_below_a_share(share):
    numpy_rng, kernel_rng = twins()
    expected = numpy_rng.random(10_001) < share
    np.testing.assert_array_equal(draws.below(kernel_rng, 10_001, share), expected)
    assert_same_state(numpy_rng, kernel_rng)


def test_take_and_sum_by_are_numpys():
    source = np.random.default_rng(4)
    index = source.integers(0, 300, 20_000).astype(np.uint16)
    table = source.integers(-5, 100, 300).astype(np.int8)
    np.testing.assert_array_equal(draws.take(table, index), table[index])
    weights = source.integers(0, 11, len(index)).astype(np.int16)
    np.testing.assert_array_equal(draws.sum_by(index, weights, 301),
                                  np.bincount(index, weights=weights, minlength=301))
    with pytest.raises(IndexError):
        draws.take(table[:10], index)
    with pytest.raises(ValueError):
        draws.sum_by(index, weights, 200)
