"""Compiled kernels are kept per version of their code: a change to a module a
kernel inlines compiles it afresh, where numba alone would load the old one."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numba
import pytest

from model import kernel_cache

PACKAGE = Path(kernel_cache.__file__).parent


@pytest.fixture
def clean_env(monkeypatch):
    """Whatever configure() sets is put back after the test."""
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    return monkeypatch


def _package_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "src" / "model"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_digest_follows_the_numba_modules_only(tmp_path):
    copy = _package_copy(tmp_path)
    first = kernel_cache.source_digest(copy)
    assert first == kernel_cache.source_digest(PACKAGE)
    errors_py = copy / "errors.py"
    assert b"numba" not in errors_py.read_bytes()
    errors_py.write_text(errors_py.read_text() + "\n# a comment\n")
    assert kernel_cache.source_digest(copy) == first
    random_py = copy / "random.py"
    random_py.write_text(random_py.read_text() + "\n# a comment\n")
    assert kernel_cache.source_digest(copy) != first


def test_configure_names_a_folder_by_the_digest(clean_env, tmp_path):
    clean_env.setenv("POVSIM_CACHE", str(tmp_path))
    folder = kernel_cache.configure()
    assert folder == tmp_path / "numba" / kernel_cache.source_digest()
    assert os.environ["NUMBA_CACHE_DIR"] == str(folder)
    assert numba.config.CACHE_DIR == str(folder)


def test_configure_leaves_a_chosen_folder_and_an_off_cache(clean_env, tmp_path):
    clean_env.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert kernel_cache.configure() is None
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "mine")
    clean_env.delenv("NUMBA_CACHE_DIR")
    clean_env.setenv("POVSIM_CACHE", "off")
    assert kernel_cache.configure() is None
    assert "NUMBA_CACHE_DIR" not in os.environ


def test_folders_of_other_versions_go_once_unused(clean_env, tmp_path):
    clean_env.setenv("POVSIM_CACHE", str(tmp_path))
    old, recent = tmp_path / "numba" / "old", tmp_path / "numba" / "recent"
    for folder in (old, recent):
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "kernels.nbi").write_bytes(b"")
    long_ago = time.time() - (kernel_cache.KEEP_DAYS + 1) * 86400
    for path in (old / "model" / "kernels.nbi", old / "model", old):
        os.utime(path, (long_ago, long_ago))
    kernel_cache.configure()
    assert not old.exists() and recent.exists()


_KERNEL_RUN = """
import numpy as np
from model.engine.kernels import income_update
n = 1000
rng = np.random.default_rng(0)
f = np.float32
inputs = (np.arange(n, dtype=np.int64), np.zeros(n, np.int16), np.full(n, 3, np.int8),
          np.ones(n, np.int8), rng.uniform(500, 5000, n).astype(f), np.ones(1, f),
          np.zeros(n, f), np.zeros(n, f), np.zeros(n, f), np.zeros(n, f), np.zeros(n, np.uint8),
          np.uint64(1), np.uint64(2), f(0.7), f(0.2), f(0.15), f(-0.04), f(0.5), f(0.2), f(8000),
          f(0.5), f(0.3), f(3000))
out = [np.zeros(n, f) for _ in range(3)]  # z, top-up, income
income_update.kernel(*inputs, *out)
print(repr(float(out[2].sum())))
"""


def test_a_change_to_an_inlined_module_compiles_the_kernel_again(tmp_path):
    """The income kernel inlines the log of ``model/random.py``; a changed
    log changes its medical costs, and so the incomes, on the next run, with
    the cache kept."""
    copy = _package_copy(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(copy.parent), POVSIM_CACHE=str(tmp_path / "cache"))
    env.pop("NUMBA_CACHE_DIR", None)

    def income_total():
        return subprocess.run([sys.executable, "-c", _KERNEL_RUN], env=env, cwd=tmp_path,
                              capture_output=True, text=True, check=True).stdout.strip()

    before = income_total()
    assert income_total() == before  # loaded from the cache: the same
    random_py = copy / "random.py"
    text = random_py.read_text()
    series = "    p = fma(p, s2, np.float32(1.0 / 3.0))\n"  # the log's s**3 term
    assert series in text
    random_py.write_text(text.replace(series, series.replace("3.0", "2.0"), 1))
    assert income_total() != before
    assert len(list((tmp_path / "cache" / "numba").iterdir())) == 2  # one folder a version


def _features_in_fresh_process(env: dict) -> str:
    """NUMBA_CPU_FEATURES and numba's CPU_FEATURES once the engine's kernels
    are imported, in a new interpreter with ``env``."""
    code = ("import os, model.engine.threads, numba.core.config as c; "
            "print(os.environ.get('NUMBA_CPU_FEATURES')); print(c.CPU_FEATURES)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True, cwd=PACKAGE.parent)
    return done.stdout


def _host_has_avx512() -> bool:
    from llvmlite import binding

    return bool(binding.get_host_cpu_features().get("avx512f"))


@pytest.mark.skipif(not _host_has_avx512(), reason="the host has no AVX-512")
def test_on_an_avx512_cpu_numba_may_use_512_bit_vectors():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CPU_FEATURES"}
    env_line, config_line = _features_in_fresh_process(env).splitlines()
    assert env_line == config_line
    assert env_line.endswith(",-prefer-256-bit") and "+avx512f" in env_line.split(",")


def test_a_users_cpu_features_are_left_alone():
    env = dict(os.environ, NUMBA_CPU_FEATURES="+sse2")
    assert _features_in_fresh_process(env).splitlines() == ["+sse2", "+sse2"]
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CPU_FEATURES"}
    env["NUMBA_CPU_NAME"] = "generic"  # a portable cache: numba's own choice of features
    numba_alone = subprocess.run(
        [sys.executable, "-c", "import numba.core.config as c; print(repr(c.CPU_FEATURES))"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    env_line, config_line = _features_in_fresh_process(env).splitlines()
    assert env_line == "None" and repr(config_line) == numba_alone


def _has_avx512() -> bool:
    from llvmlite import binding
    try:
        return bool(binding.get_host_cpu_features().get("avx512f"))
    except RuntimeError:
        return False


@pytest.mark.skipif(not _has_avx512(), reason="512-bit vectors: an AVX-512 CPU")
@pytest.mark.parametrize("module", ["model.random", "model.engine.tally",
                                    "model.engine.one_pass", "model.programmes.means_test",
                                    "model.registry.draws"])
def test_kernels_get_512_bit_vectors_whichever_module_is_imported_first(module):
    """prefer_wide_vectors must run before numba sets up its compiler: a
    module imported first that set it up (model.random once did, through
    threads.py importing it) left every kernel of the process on 256-bit
    vectors, about a quarter slower, with the same results."""
    code = (f"import {module}\n"
            "import numpy as np\n"
            "from numba import njit\n"
            "@njit\n"
            "def twice(a):\n"
            "    for i in range(a.shape[0]):\n"
            "        a[i] = a[i] * np.float32(2.0)\n"
            "twice(np.ones(64, np.float32))\n"
            "print('zmm' in next(iter(twice.inspect_asm().values())))\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CPU_FEATURES", "NUMBA_CPU_NAME")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "True"
