"""Counter-based random numbers: a draw is a hash of (seed, stream, id, year).

There is no generator state. A draw for household ``h`` in year ``t`` of
stream ``s`` under seed ``k`` is ``mix64(key(k, s, t) + h * GOLDEN)`` where
``key`` itself hashes (seed, stream, year) once per year outside the household
loop. Consequences:

- results are bit-identical for any thread count, chunking or loop order;
- a household's draws do not depend on which other households exist or on the
  scenario (common random numbers), so differences between scenarios are
  policy, not noise;
- every kind of draw has its own fixed stream id (:class:`Stream`), so adding
  a new kind of draw never shifts the others.

The hash is the splitmix64 finaliser (Steele, Lea and Flood 2014), which passes
BigCrush when used as a counter-based generator. One 64-bit hash gives two
32-bit uniforms; :func:`normal_pair` turns them into two standard normals by
Box-Muller with polynomial log, sine and cosine that vectorise (the numba here
has no SVML; see shared PERFORMANCE.md). Their maximum error against numpy's
exact functions is below 1e-4 absolute over the whole range of draws, about
1e-5 relative (tested).

The polynomials are evaluated by Horner's rule in fused multiply-adds
(:func:`fma`): one rounding a step instead of two, and half the latency of
a multiply followed by an add, which is what limits the household kernels.
The fusion is written out, not left to the compiler, so the vectorised body
of a loop and its scalar remainder round alike.

Every numba function here has a numpy twin (suffix ``_np``) used by the numpy
reference implementation and the tests.
"""

from __future__ import annotations

import functools
from enum import IntEnum

import numpy as np
from numba import njit, types
from numba.extending import intrinsic

from model.kernel_cache import prefer_wide_vectors

# before numba sets up its compiler, which the functions below do: every
# module with kernels imports this one, whichever a program imports first
prefer_wide_vectors()

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_MASK32 = np.uint64(0xFFFFFFFF)
_TWO_M32 = np.float32(2.0**-32)
_HALF = np.float32(0.5)
_LN2 = np.float32(0.6931471805599453)
_TWO_PI = 2.0 * np.pi

# a compiled function of the model: cached, and called from Python or from
# compiled code, never passed to compiled code as a function value, so
# numba compiles no C entry point (cfunc wrapper) for it
CACHED = {"cache": True, "no_cfunc_wrapper": True}
# the small functions kernels call: compiled once, then inlined by LLVM into
# each kernel (so the kernel's loop still vectorises); no zero-division
# checks, whose branches would stop the vectorisation. Only compiled code
# calls them: numba compiles no Python entry point for them either (the two
# entry points were a tenth of the first run's compilation). Python calls
# ``f.py_func``; a call of ``f`` would crash the interpreter, not raise
# (tests/test_compile_options.py checks that no Python code makes one).
_HELPER = {"forceinline": True, "error_model": "numpy", "no_cpython_wrapper": True,
           "no_cfunc_wrapper": True}
INLINE = {**_HELPER, "cache": True}
# the same, not cached, for a small function kernels call with two types:
# only a function cached under one signature lets the kernels calling it be
# compiled by the first run's two processes side by side (model.precompile);
# it is compiled into each kernel that calls it
INLINE_EACH = _HELPER
# a helper a kernel calls with constant flags (a loop compiled for each case):
# inlined into the kernel's code before the kernel is typed, so that each
# case is compiled once, in the kernel, rather than on its own as well (the
# first run's compile time). Measure a loop's body before inlining it so:
# the income update's, which takes arrays in tuples, ran 4x slower (the
# enrolment rule's did not)
INLINE_SOURCE = {"inline": "always"}


class Stream(IntEnum):
    """Fixed stream ids, one per kind of draw. Never renumber; only append.

    Values stay below 16: per-programme streams are ``stream + 16 * k`` with
    the programme's own number ``k``.
    """

    INCOME = 1          # persistent and transitory market-income shocks (a normal pair)
    COUNTY = 2          # county-wide yearly shock (id = county index)
    ILLNESS = 3         # illness event and its cost (two uniforms)
    VERIFICATION = 4    # assessment error at the year-end verification
    TARGETING = 5       # random tie-breaks and random targeting order
    SYNTH = 6           # synthetic registry generation
    FAILURE = 7         # a programme enrolment stops (per programme)
    DELIVERY = 8        # in-year delivery times (per programme)
    DROPOUT = 9         # schooling events
    DELIVERY_ORDER = 10  # where in a county a delayed delivery starts (per programme)
    RETURN = 11         # whether an exited household's fall below the line is found (返贫)
    DIBAO = 12          # where a county's dibao standard sits in its spread (id = county)
    TAKE_UP = 13        # a household below the dibao standard is taken into dibao (per programme)


@njit(**INLINE)
def mix64(z):
    """splitmix64 finaliser of a uint64 (wrap-around arithmetic)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def mix64_np(z: np.ndarray) -> np.ndarray:
    """numpy twin of :func:`mix64` (uint64 arrays wrap around silently)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@functools.lru_cache(maxsize=4096)
def year_key(seed: int, stream: int, year: int) -> np.uint64:
    """The per-(seed, stream, year) key hashed once outside household loops
    (remembered: a run asks for the same few hundred keys in every year's
    steps)."""
    with np.errstate(over="ignore"):
        k = mix64_np(np.uint64(seed) * GOLDEN + np.uint64(stream))
        k = mix64_np(k + np.uint64(year) * GOLDEN)
    return np.uint64(k)


@njit(**INLINE_EACH)  # called with int32 household ids and int64 indices
def hash_id(key, ident):
    """64 random bits for entity ``ident`` (an integer >= 0, of any type:
    a number draws the same bits as an int32 or an int64) under ``key``."""
    return mix64(key + np.uint64(ident) * GOLDEN)


def hash_id_np(key: np.uint64, ident: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return mix64_np(np.uint64(key) + np.asarray(ident).astype(np.uint64) * GOLDEN)


def hash_ids(key: np.uint64, ident) -> np.ndarray:
    """:func:`hash_id` of every id of a 1-d int array, in one pass: the same
    bits as :func:`hash_id_np`, without its temporaries."""
    return _hash_ids(np.uint64(key), np.asarray(ident))


@njit(**CACHED)
def _hash_ids(key, ident):
    out = np.empty(ident.shape[0], np.uint64)
    for i in range(ident.shape[0]):
        out[i] = hash_id(key, ident[i])
    return out


def first_uniforms(key: np.uint64, ident) -> np.ndarray:
    """The first uniform (float32) of :func:`hash_id` of every id, in one
    pass: ``uniforms_np(hash_id_np(key, ident))[0]`` bit for bit."""
    # int64 ids: one compiled version serves county (int16) and household ids alike
    return _first_uniforms(np.uint64(key), np.asarray(ident).astype(np.int64, copy=False))


@njit(**CACHED)
def _first_uniforms(key, ident):
    out = np.empty(ident.shape[0], np.float32)
    for i in range(ident.shape[0]):
        out[i], _ = uniforms(hash_id(key, ident[i]))
    return out


@njit(**INLINE)
def uniforms(h):
    """Two float32 uniforms in (0, 1) from the high and low 32 bits of ``h``."""
    u1 = (np.float32(h >> _S32) + _HALF) * _TWO_M32
    u2 = (np.float32(h & _MASK32) + _HALF) * _TWO_M32
    return u1, u2


def uniforms_np(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u1 = ((h >> _S32).astype(np.float32) + _HALF) * _TWO_M32
    u2 = ((h & _MASK32).astype(np.float32) + _HALF) * _TWO_M32
    return u1, u2


@intrinsic
def bits_of(typingctx, x):
    """The bits of a float32 as an int32, of a float64 as an int64 (a
    bitcast, free in a vector)."""
    bits = {types.float32: types.int32, types.float64: types.int64}.get(x)
    if bits is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(bits))

    return bits(x), codegen


@intrinsic
def _float_of(typingctx, bits):
    """The float32 whose bits are the low 32 bits of an integer (the inverse
    of :func:`bits_of`; numba's integer arithmetic widens int32 to int64)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(types.int32), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` of three float32 with a single rounding (IEEE 754 fused
    multiply-add: one instruction on a processor that has it, such as x86-64
    with FMA3 or any ARM64; elsewhere the C library's ``fmaf``, slower, with
    the same result)."""
    if not (a == b == c == types.float32):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return types.float32(types.float32, types.float32, types.float32), codegen


_SQRT2 = np.float32(2.0) * np.float32(0.7071067811865476)  # twice float32(sqrt(1/2)): exact


@njit(**INLINE)
def log_unit(x):
    """Natural log of a float32 ``x`` in [2**-40, 1], branch-free.

    Range reduction to ``x = m 2**k`` with ``m`` in [sqrt(1/2), sqrt(2)),
    read from the float's exponent and mantissa bits, then the atanh series
    ``2 (s + s^3/3 + ... + s^9/9)`` with ``s = (m-1)/(m+1)``, ``|s| <= 0.172``.
    (``m`` and ``k`` are exact, so this gives bit for bit what any exact
    reduction gives; :func:`log_unit_by_halving` is the one it replaced.)
    """
    bits = bits_of(x)
    exponent = (bits >> np.int32(23)) - np.int32(127)
    m = _float_of((bits & np.int32(0x7FFFFF)) | np.int32(0x3F800000))  # in [1, 2)
    high = m >= _SQRT2
    m = m * _HALF if high else m
    k = np.float32(exponent + np.int32(1)) if high else np.float32(exponent)
    return _log_series(m, k)


@njit(**INLINE)
def _log_series(m, k):
    """``log(m) + k log 2`` for ``m`` in [sqrt(1/2), sqrt(2)) (float32)."""
    s = (m - np.float32(1.0)) / (m + np.float32(1.0))
    s2 = s * s
    p = np.float32(1.0 / 9.0)
    p = fma(p, s2, np.float32(1.0 / 7.0))
    p = fma(p, s2, np.float32(1.0 / 5.0))
    p = fma(p, s2, np.float32(1.0 / 3.0))
    p = fma(p, s2, np.float32(1.0))
    return fma(np.float32(2.0) * s, p, k * _LN2)


@njit(**INLINE)
def log_unit_by_halving(x):
    """:func:`log_unit` with its range reduced by a chain of selects that
    double ``x`` into [sqrt(1/2), sqrt(2)): the earlier form, kept as the
    reference the tests compare :func:`log_unit` with, bit for bit."""
    k = np.float32(0.0)
    for step in (20.0, 10.0, 5.0, 3.0, 1.0, 1.0):
        m = x < np.float32(2.0**-step)
        x = x * np.float32(2.0**step) if m else x
        k = k - np.float32(step) if m else k
    m = x < np.float32(0.7071067811865476)
    x = x * np.float32(2.0) if m else x
    k = k - np.float32(1.0) if m else k
    return _log_series(x, k)


@njit(**INLINE)
def _sincos_quarter(phi):
    """(cos, sin) of phi in [0, pi/2] by Taylor polynomials (error < 1e-8)."""
    p2 = phi * phi
    c = np.float32(1.0 / 479001600.0)
    c = fma(c, p2, np.float32(-1.0 / 3628800.0))
    c = fma(c, p2, np.float32(1.0 / 40320.0))
    c = fma(c, p2, np.float32(-1.0 / 720.0))
    c = fma(c, p2, np.float32(1.0 / 24.0))
    c = fma(c, p2, np.float32(-0.5))
    c = fma(c, p2, np.float32(1.0))
    s = np.float32(1.0 / 6227020800.0)
    s = fma(s, p2, np.float32(-1.0 / 39916800.0))
    s = fma(s, p2, np.float32(1.0 / 362880.0))
    s = fma(s, p2, np.float32(-1.0 / 5040.0))
    s = fma(s, p2, np.float32(1.0 / 120.0))
    s = fma(s, p2, np.float32(-1.0 / 6.0))
    s = fma(s, p2, np.float32(1.0))
    return c, s * phi


@njit(**INLINE)
def normal_pair(h):
    """Two independent standard normals (float32) from 64 random bits.

    Box-Muller: radius from the high 32 bits, angle from the low 32 bits. The
    angle's quadrant is its top two bits (``b1 b0``) and the rest a phase in
    [0, pi/2); the quadrant rotation is done with float selects and exact
    multiplications by +-1, which vectorise (integer select chains did not).
    """
    u1 = (np.float32(h >> _S32) + _HALF) * _TWO_M32
    low = h & _MASK32
    b1 = np.float32(low >> np.uint64(31))
    b0 = np.float32((low >> np.uint64(30)) & np.uint64(1))
    frac = (np.float32(low & np.uint64(0x3FFFFFFF)) + _HALF) * np.float32(2.0**-30)
    c, s = _sincos_quarter(frac * np.float32(np.pi / 2.0))
    odd = b0 > _HALF
    a = s if odd else c
    b = c if odd else s
    # quadrant q = 2 b1 + b0: cos is negative in q 1, 2; sin in q 2, 3
    sign_cos = np.float32(1.0) - np.float32(2.0) * (b0 + b1 - np.float32(2.0) * b0 * b1)
    sign_sin = np.float32(1.0) - np.float32(2.0) * b1
    r = np.sqrt(np.float32(-2.0) * log_unit(u1))
    return r * sign_cos * a, r * sign_sin * b


def normal_pair_np(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy twin of :func:`normal_pair` using exact log, cos and sin (float64)."""
    h = np.asarray(h, dtype=np.uint64)
    u1 = ((h >> _S32).astype(np.float64) + 0.5) * 2.0**-32
    low = h & _MASK32
    quadrant = (low >> np.uint64(30)).astype(np.float64)
    frac = ((low & np.uint64(0x3FFFFFFF)).astype(np.float64) + 0.5) * 2.0**-30
    theta = (quadrant + frac) * (np.pi / 2.0)
    r = np.sqrt(-2.0 * np.log(u1))
    return r * np.cos(theta), r * np.sin(theta)


@njit(**INLINE)
def exp_small(x):
    """exp of a float32 ``x`` clipped to [-10, 10], branch-free.

    ``exp(x) = p(x / 32) ** 32`` with a degree-7 Taylor polynomial ``p``;
    relative error below 5e-6 on the clipped range (tested; the five
    squarings multiply float32 rounding by 32). The clip is far
    outside any shock the model draws (more than 15 standard deviations).
    """
    x = min(max(x, np.float32(-10.0)), np.float32(10.0))
    y = x * np.float32(1.0 / 32.0)
    p = np.float32(1.0 / 5040.0)
    p = fma(p, y, np.float32(1.0 / 720.0))
    p = fma(p, y, np.float32(1.0 / 120.0))
    p = fma(p, y, np.float32(1.0 / 24.0))
    p = fma(p, y, np.float32(1.0 / 6.0))
    p = fma(p, y, np.float32(0.5))
    p = fma(p, y, np.float32(1.0))
    p = fma(p, y, np.float32(1.0))
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return p * p
