"""What the test processes share."""

from __future__ import annotations

import pytest


def pytest_configure(config):
    """Before pytest-xdist starts the test processes, compile the model's
    kernels once into numba's cache (or load them, when it is there).

    On a fresh checkout the cache is empty: each test process, and each
    subprocess, notebook kernel or Dask worker started before the kernels
    are cached, would compile the same kernels (seconds each) at the same
    time. With one process (``-n 0``) the first run compiles them anyway.
    """
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    from model import runs
    from model.scenario import load_scenario

    scenario = load_scenario()
    runs.prepare_kernels(scenario, runs.registry_for(scenario))


@pytest.fixture
def cores(monkeypatch):
    """``cores(k)``: kernels run from then on as on ``k`` cores, ``k``
    pieces a pass, with a pool of the pretended size (this test's own; the
    old one afterwards)."""
    from model.engine import threads

    def pretend(k: int) -> None:
        monkeypatch.setattr(threads, "_most", lambda: k)
        monkeypatch.setattr(threads, "_threads", None)
        monkeypatch.setattr(threads, "_pool", None)

    return pretend


@pytest.fixture
def four_threads(cores):
    """Kernels run as on four cores (:func:`cores`)."""
    cores(4)
