"""The helper process of ``povsim run`` (:mod:`model.helper_process`): the
call is made in a child where that is safe and in this process otherwise, with
the same value or the same error; a child with nothing to do is ended."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from model.helper_process import HelperProcess, fork_is_safe

ROOT = Path(__file__).parents[1]


class Unrebuildable(Exception):
    """An exception that pickles but cannot be rebuilt (its constructor
    takes other arguments than it stores)."""

    def __init__(self, a, b):
        super().__init__(f"{a}-{b}")


def raise_unrebuildable():
    raise Unrebuildable(1, 2)


def slow_pid() -> int:
    """This process's id, half a second later."""
    time.sleep(0.5)
    return os.getpid()


def in_fresh_process(code: str) -> subprocess.CompletedProcess:
    """``code`` in a new interpreter (one thread, so the helper forks)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "tests"),
                                                      env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_in_this_process_the_call_gives_its_value_and_its_error():
    with HelperProcess(["json"], fork=False) as helper:
        assert not helper.forked
        helper.submit(divmod, 17, 5)
        assert helper.result() == (3, 2)
    with HelperProcess([], fork=False) as helper:
        helper.submit(int, "x")
        with pytest.raises(ValueError, match="invalid literal"):
            helper.result()


def test_one_call_only_and_none_before_submit():
    with HelperProcess([], fork=False) as helper:
        with pytest.raises(RuntimeError, match="nothing was submitted"):
            helper.result()
        helper.submit(abs, -1)
        with pytest.raises(RuntimeError, match="one call"):
            helper.submit(abs, -2)


@pytest.mark.skipif(sys.platform != "linux", reason="the helper forks on Linux only")
def test_in_a_child_the_call_runs_there_with_the_same_value_and_errors():
    proc = in_fresh_process("""
        import os, sys
        from model.helper_process import HelperProcess, fork_is_safe
        import test_helper_process as t

        assert fork_is_safe()
        with HelperProcess(["json"]) as helper:
            assert helper.forked
            helper.submit(os.getpid)
            child = helper.result()
        assert child != os.getpid(), "the call ran in this process"
        with HelperProcess([]) as helper:
            helper.submit(int, "x")
            try:
                helper.result()
            except ValueError as err:
                print("ValueError:", err)
        with HelperProcess([]) as helper:
            helper.submit(t.raise_unrebuildable)
            try:
                helper.result()
            except RuntimeError as err:
                print("RuntimeError:", str(err).splitlines()[-1])
        with HelperProcess(["no_such_module_here"]) as helper:
            helper.submit(abs, -1)
            try:
                helper.result()
            except ImportError as err:
                print("ImportError:", err)
        print("done")
    """)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines == ["ValueError: invalid literal for int() with base 10: 'x'",
                     "RuntimeError: test_helper_process.Unrebuildable: 1-2",
                     "ImportError: No module named 'no_such_module_here'",
                     "done"], proc.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="the helper forks on Linux only")
def test_a_call_whose_child_has_died_is_made_here():
    proc = in_fresh_process("""
        import os, signal
        from model.helper_process import HelperProcess
        import test_helper_process as t

        for when in ("before", "after"):
            with HelperProcess(["json"]) as helper:
                if when == "before":
                    os.kill(helper._pid, signal.SIGKILL)
                    os.waitpid(helper._pid, 0)
                helper.submit(t.slow_pid)
                if when == "after":   # while the child sleeps
                    os.kill(helper._pid, signal.SIGKILL)
                    os.waitpid(helper._pid, 0)
                print(when, helper.result() == os.getpid(), helper.forked)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["before True False", "after True False"]


@pytest.mark.skipif(sys.platform != "linux", reason="the helper forks on Linux only")
def test_a_child_without_a_call_is_ended_and_leaves_nothing_running():
    proc = in_fresh_process("""
        import os
        from model.helper_process import HelperProcess

        helper = HelperProcess(["json"])
        pid = helper._pid
        helper.close()
        try:
            os.kill(pid, 0)
            print("still running")
        except ProcessLookupError:
            print("gone")
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["gone"]


def test_no_fork_with_a_second_thread():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not fork_is_safe()
        assert not HelperProcess([]).forked
    finally:
        stop.set()
        thread.join()


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (an ended child not yet collected, a
    zombie, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: PR_SET_PDEATHSIG")
def test_a_child_ends_when_its_parent_is_killed():
    """A run killed outright (SIGKILL: nothing of it runs after) takes its
    forked child with it, rather than leave it working: the chart helper
    wrote into a staging folder that the next run's recovery removed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    parent = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import time
            from model.helper_process import fork_child

            print(fork_child(lambda: time.sleep(60), quiet=True), flush=True)
            time.sleep(60)
        """)], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        assert _running(child)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _running(child)
