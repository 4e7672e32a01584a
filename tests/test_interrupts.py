"""Ctrl-C held across a step that must not be cut short
(model.interrupts): a netCDF write, the start of the kernels' threads."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from model.interrupts import interrupts_held

HELD = "the block is over"


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler while the test runs, as in a command
    started from a terminal (a process started in the background of a
    shell, as a CI job may be, inherits SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_is_held_until_the_block_ends(python_sigint, capsys):
    done = []
    with pytest.raises(KeyboardInterrupt), interrupts_held(HELD):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the signal has arrived: the block goes on
        os.kill(os.getpid(), signal.SIGINT)  # a second one too
        time.sleep(0.05)
        done.append(True)
    assert done == [True]
    said = capsys.readouterr().err
    assert said.count("povsim: Ctrl-C: stopping once the block is over") == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with interrupts_held(HELD):  # no signal: nothing raised
        pass
    with pytest.raises(ValueError), interrupts_held(HELD):  # the block's own error wins
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        raise ValueError("in the block")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_is_left_alone_in_other_threads_and_under_a_handler_of_ones_own(
        python_sigint, monkeypatch):
    installed = []
    monkeypatch.setattr(signal, "signal", lambda *args: installed.append(args))

    def in_a_thread():
        with interrupts_held(HELD):
            pass

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join()
    assert installed == []
    with interrupts_held(HELD):  # the main thread, Python's own handler: held
        pass
    assert len(installed) == 2  # the holding handler, then Python's again
    installed.clear()
    monkeypatch.setattr(signal, "getsignal", lambda signum: print)  # someone else's handler
    with interrupts_held(HELD):
        pass
    assert installed == []


def test_ctrl_c_during_a_results_file_write_leaves_no_file(python_sigint, tmp_path, monkeypatch):
    """A SIGINT in the middle of the netCDF write is raised once the write
    is over, and the atomic write then removes its temporary file."""
    import xarray as xr

    from model.results import write_netcdf

    calls = []
    to_netcdf = xr.Dataset.to_netcdf

    def interrupted(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        calls.append(to_netcdf(self, *args, **kwargs))  # reached: the write goes on

    monkeypatch.setattr(xr.Dataset, "to_netcdf", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_netcdf(xr.Dataset({"x": ("year", [1.0, 2.0])}), tmp_path / "results.nc")
    assert len(calls) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_kernel_threads_start_whole_under_ctrl_c(python_sigint, four_threads):
    """A SIGINT just after the pool starts a thread is raised only once
    every thread has started and is registered for the exit's join (a
    thread left out made the exit wait for ever)."""
    from concurrent.futures import thread as pool_threads

    from model.engine import threads

    started = []
    start = threading.Thread.start

    def start_then_interrupt(thread):
        start(thread)
        started.append(thread)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs here, as it did inside start()

    with pytest.MonkeyPatch.context() as m:
        m.setattr(threading.Thread, "start", start_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            threads._executor()
    assert len(started) == 3
    assert all(t in pool_threads._threads_queues for t in started)
